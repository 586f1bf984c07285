/* The protobuf wire reader (frontend/onnx/pb.c) and the ONNX message
 * decoders on hand-made bytes: every encoding below is worked out from the
 * protobuf wire format (key = field << 3 | wire type; varints 7 bits per
 * byte, low first). */
#include <string.h>

#include "frontend/onnx/onnx_proto.h"
#include "frontend/onnx/pb.h"
#include "harness.h"
#include "test_onnx_util.h"

/* First field of bytes b as read by pb_next. */
static kiln_status first_field(const unsigned char *b, size_t n, pb_field *f) {
    pb_msg m = pb_msg_root(b, n, 100, "Test");
    int done;
    kiln_status s = pb_next(&m, f, &done);
    if (!s && done) s = kiln_error(KILN_ERR_INTERNAL, "no field");
    return s;
}

static void test_scalars(void) {
    pb_field f;
    /* 08 96 01: field 1, varint 150 (0x16 + 1 << 7) */
    const unsigned char v150[] = {0x08, 0x96, 0x01};
    CHECK_OK(first_field(v150, sizeof v150, &f));
    CHECK(f.num == 1 && f.wire == PB_VARINT && f.v == 150 && f.off == 100);
    /* the largest varint: nine 0xff bytes and 0x01 = 2^64 - 1 */
    const unsigned char vmax[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK_OK(first_field(vmax, sizeof vmax, &f));
    CHECK(f.v == UINT64_MAX);
    /* a 10th byte above 1 would need more than 64 bits */
    const unsigned char vbig[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    CHECK_ERR(first_field(vbig, sizeof vbig, &f), "longer than 64 bits");
    /* continuation bit set on the last byte: truncated at byte 101 */
    const unsigned char vtrunc[] = {0x08, 0x96};
    CHECK_ERR(first_field(vtrunc, sizeof vtrunc, &f), "byte 101: Test: truncated varint");
    /* 15 00 00 c0 3f: field 2, fixed32 0x3fc00000 (1.5f) */
    const unsigned char f32[] = {0x15, 0x00, 0x00, 0xc0, 0x3f};
    CHECK_OK(first_field(f32, sizeof f32, &f));
    CHECK(f.num == 2 && f.wire == PB_I32 && f.v == 0x3fc00000u);
    /* 19 + 8 bytes: field 3, fixed64 0x0102030405060708 */
    const unsigned char f64[] = {0x19, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    CHECK_OK(first_field(f64, sizeof f64, &f));
    CHECK(f.num == 3 && f.v == UINT64_C(0x0102030405060708));
    const unsigned char f64short[] = {0x19, 0x08, 0x07};
    CHECK_ERR(first_field(f64short, sizeof f64short, &f), "truncated fixed-width field");
}

static void test_length_and_wire(void) {
    pb_field f;
    /* 22 03 'a' 'b' 'c': field 4, three bytes */
    const unsigned char ok[] = {0x22, 0x03, 'a', 'b', 'c'};
    CHECK_OK(first_field(ok, sizeof ok, &f));
    CHECK(f.num == 4 && f.len == 3 && memcmp(f.p, "abc", 3) == 0 && f.data_off == 102);
    /* a length of 5 with 3 bytes left */
    const unsigned char over[] = {0x22, 0x05, 'a', 'b', 'c'};
    CHECK_ERR(first_field(over, sizeof over, &f), "length runs past the end of the message (field 4: length 5, 3 bytes left)");
    /* a huge length must not wrap around */
    const unsigned char huge[] = {0x22, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'x'};
    CHECK_ERR(first_field(huge, sizeof huge, &f), "length runs past");
    /* wire type 3 (start group) is not accepted */
    const unsigned char group[] = {0x0b};
    CHECK_ERR(first_field(group, sizeof group, &f), "unsupported wire type start-group (field 1)");
    /* field number 0 is invalid */
    const unsigned char zero[] = {0x00, 0x01};
    CHECK_ERR(first_field(zero, sizeof zero, &f), "invalid field number");
}

static void test_packed(void) {
    /* packed varints 1, 300 (ac 02), -1 (ten bytes) in field 5 */
    pbw b = {0};
    const int64_t vals[3] = {1, 300, -1};
    pbw_packed(&b, 5, 3, vals);
    pb_msg m = pb_msg_root(b.p, b.len, 0, "Test");
    pb_field f;
    int done;
    CHECK_OK(pb_next(&m, &f, &done));
    size_t count = 0;
    CHECK_OK(pb_packed_count(&m, &f, PB_VARINT, "v", &count));
    CHECK(count == 3 && f.len == 1 + 2 + 10);
    pb_packed it;
    CHECK_OK(pb_packed_begin(&m, &f, PB_VARINT, "v", &it));
    uint64_t got[4];
    int k = 0;
    for (;;) {
        uint64_t v;
        CHECK_OK(pb_packed_next(&it, &v, &done));
        if (done || k == 4) break;
        got[k++] = v;
    }
    CHECK(k == 3 && got[0] == 1 && got[1] == 300 && (int64_t)got[2] == -1);
    free(b.p);
    /* a single unpacked value iterates once */
    const unsigned char one[] = {0x28, 0x07};
    m = pb_msg_root(one, sizeof one, 0, "Test");
    CHECK_OK(pb_next(&m, &f, &done));
    CHECK_OK(pb_packed_begin(&m, &f, PB_VARINT, "v", &it));
    uint64_t v;
    CHECK_OK(pb_packed_next(&it, &v, &done));
    CHECK(!done && v == 7);
    CHECK_OK(pb_packed_next(&it, &v, &done));
    CHECK(done);
    /* packed fixed32 whose length is not a multiple of 4 */
    const unsigned char odd[] = {0x2a, 0x03, 1, 2, 3};
    m = pb_msg_root(odd, sizeof odd, 0, "Test");
    CHECK_OK(pb_next(&m, &f, &done));
    CHECK_ERR(pb_packed_count(&m, &f, PB_I32, "floats", &count), "not a multiple of 4");
    /* packed varints ending mid-value */
    const unsigned char cut[] = {0x2a, 0x02, 0x01, 0x80};
    m = pb_msg_root(cut, sizeof cut, 0, "Test");
    CHECK_OK(pb_next(&m, &f, &done));
    CHECK_ERR(pb_packed_count(&m, &f, PB_VARINT, "ints", &count), "end mid-value");
}

static void test_depth(void) {
    const unsigned char inner[] = {0x0a, 0x00};
    pb_msg m = pb_msg_root(inner, sizeof inner, 0, "Outer"), sub;
    pb_field f;
    int done;
    CHECK_OK(pb_next(&m, &f, &done));
    m.depth = PB_MAX_DEPTH - 1;
    CHECK_OK(pb_msg_sub(&m, &f, "Inner", &sub));
    m.depth = PB_MAX_DEPTH;
    CHECK_ERR(pb_msg_sub(&m, &f, "Inner", &sub), "nested more than");
}

/* Unknown fields are skipped; a known field with the wrong wire type is
 * an error naming the message and field. */
static void test_model_fields(void) {
    pbw g = {0}, m = {0};
    pbw_str(&g, G_NAME, "g");
    pbw_int(&m, 99, 5);         /* unknown varint */
    pbw_str(&m, 100, "ignored"); /* unknown bytes */
    pbw_int(&m, 1, 9);
    pbw_msg(&m, 7, &g);
    onnx_arena *a = onnx_arena_new();
    onnx_model om;
    CHECK_OK(onnx_decode_model(a, m.p, m.len, &om));
    CHECK(om.ir_version == 9 && om.has_graph && strcmp(om.graph.name, "g") == 0);
    free(m.p);
    memset(&m, 0, sizeof m);
    pbw_int(&m, 7, 1); /* graph as a varint */
    CHECK_ERR(onnx_decode_model(a, m.p, m.len, &om), "ModelProto.graph (field 7): expected a length-delimited value, found varint");
    free(m.p);
    memset(&m, 0, sizeof m);
    pbw_int(&m, 1, 9);
    CHECK_ERR(onnx_decode_model(a, m.p, m.len, &om), "no graph");
    free(m.p);
    onnx_arena_free(a);
}

/* NodeProto with two inputs (one omitted), attributes of several types. */
static void test_node(void) {
    pbw n = node("Clip", "clip0", STRS("x", ""), STRS("y")), g = {0};
    node_attr_int(&n, "axis", -2);
    const int64_t ints[3] = {1, -1, 5};
    node_attr_ints(&n, "perm", 3, ints);
    pbw_msg(&g, G_NODE, &n);
    pbw m = model(17, &g);
    onnx_arena *a = onnx_arena_new();
    onnx_model om;
    CHECK_OK(onnx_decode_model(a, m.p, m.len, &om));
    CHECK(om.nopsets == 1 && om.opsets[0].version == 17);
    CHECK(om.graph.nnodes == 1);
    const onnx_node *nd = &om.graph.nodes[0];
    CHECK(strcmp(nd->op_type, "Clip") == 0 && strcmp(nd->name, "clip0") == 0);
    CHECK(nd->ninputs == 2 && strcmp(nd->inputs[1], "") == 0 && nd->noutputs == 1);
    const onnx_attr *ax = onnx_node_attr(nd, "axis"), *pm = onnx_node_attr(nd, "perm");
    CHECK(ax && ax->type == ONNX_ATTR_INT && ax->i == -2);
    CHECK(pm && pm->n_ints == 3 && pm->ints[0] == 1 && pm->ints[1] == -1 && pm->ints[2] == 5);
    CHECK(onnx_node_attr(nd, "missing") == NULL);
    free(m.p);
    onnx_arena_free(a);
}

int main(void) {
    test_scalars();
    test_length_and_wire();
    test_packed();
    test_depth();
    test_model_fields();
    test_node();
    return test_finish("test_onnx_pb");
}
