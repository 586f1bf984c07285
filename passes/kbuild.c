/* The kernel builder (kbuild.h). */
#include <stdlib.h>
#include <string.h>

#include "kbuild.h"

void kb_init(kbuilder *b) {
    memset(b, 0, sizeof *b);
    b->k.out_buf = -1;
    b->k.out_expr = -1;
    b->k.scale_dim = -1;
    b->k.root = KILN_NONE;
}

void kb_free(kbuilder *b) {
    kiln_kernel_release(&b->k);
    free(b->ht);
    kiln_status_free(b->s);
    memset(b, 0, sizeof *b);
}

kiln_status kb_finish(kbuilder *b, kiln_kernel *out) {
    kiln_status s = b->s;
    b->s = KILN_OK;
    if (s) {
        kb_free(b);
        return s;
    }
    *out = b->k;
    memset(&b->k, 0, sizeof b->k);
    kb_free(b);
    return KILN_OK;
}

static int grow(kbuilder *b, void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int c = *cap ? *cap * 2 : 16;
    while (c < need) c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) {
        if (!b->s) b->s = kiln_error(KILN_ERR_NOMEM, "out of memory building a kernel");
        return 0;
    }
    *p = q;
    *cap = c;
    return 1;
}

int32_t kb_dim(kbuilder *b, kiln_dim d) {
    if (b->s) return -1;
    for (int i = 0; i < b->k.ndims; i++)
        if (b->k.dims[i] == d) return i;
    if (!grow(b, (void **)&b->k.dims, &b->capd, b->k.ndims + 1, sizeof *b->k.dims)) return -1;
    b->k.dims[b->k.ndims] = d;
    return b->k.ndims++;
}

int32_t kb_buf(kbuilder *b, int tensor, kiln_dtype t, kiln_kbuf_access a) {
    if (b->s) return -1;
    for (int i = 0; i < b->k.nbufs; i++)
        if (b->k.bufs[i].tensor == tensor) {
            b->k.bufs[i].access |= a;
            return i;
        }
    if (!grow(b, (void **)&b->k.bufs, &b->capb, b->k.nbufs + 1, sizeof *b->k.bufs)) return -1;
    b->k.bufs[b->k.nbufs] = (kiln_kbuf){tensor, t, a, 0};
    return b->k.nbufs++;
}

static uint64_t expr_hash(const kiln_kexpr *e) {
    uint64_t h = 1469598103934665603ull;
    int64_t parts[8];
    memcpy(&parts[0], &e->f, sizeof e->f);
    parts[1] = e->i;
    parts[2] = e->kind;
    parts[3] = e->type;
    parts[4] = e->op;
    parts[5] = (int64_t)(((uint64_t)(uint32_t)e->a << 32) ^ (uint32_t)e->b);
    parts[6] = (int64_t)(((uint64_t)(uint32_t)e->c << 32) ^ (uint32_t)e->slot);
    parts[7] = 0;
    for (int i = 0; i < 7; i++) h = (h ^ (uint64_t)parts[i]) * 1099511628211ull;
    return h;
}

static int expr_equal(const kiln_kexpr *x, const kiln_kexpr *y) {
    return x->kind == y->kind && x->type == y->type && x->op == y->op && x->a == y->a && x->b == y->b &&
           x->c == y->c && x->slot == y->slot && x->i == y->i && memcmp(&x->f, &y->f, sizeof x->f) == 0;
}

static int rehash(kbuilder *b) {
    int cap = b->htcap ? b->htcap * 2 : 256;
    int32_t *t = malloc((size_t)cap * sizeof *t);
    if (!t) {
        if (!b->s) b->s = kiln_error(KILN_ERR_NOMEM, "out of memory building a kernel");
        return 0;
    }
    for (int i = 0; i < cap; i++) t[i] = -1;
    for (int e = 0; e < b->k.nexprs; e++) {
        int i = (int)(expr_hash(&b->k.exprs[e]) & (uint64_t)(cap - 1));
        while (t[i] >= 0) i = (i + 1) & (cap - 1);
        t[i] = e;
    }
    free(b->ht);
    b->ht = t;
    b->htcap = cap;
    return 1;
}

static int32_t intern(kbuilder *b, kiln_kexpr e) {
    if (b->s) return -1;
    if ((e.a < -1 || e.a >= b->k.nexprs) || (e.b < -1 || e.b >= b->k.nexprs) || (e.c < -1 || e.c >= b->k.nexprs)) {
        b->s = kiln_error(KILN_ERR_INTERNAL, "kernel builder: operand out of range");
        return -1;
    }
    if (2 * (b->k.nexprs + 1) > b->htcap && !rehash(b)) return -1;
    uint64_t h = expr_hash(&e);
    int i = (int)(h & (uint64_t)(b->htcap - 1));
    for (; b->ht[i] >= 0; i = (i + 1) & (b->htcap - 1))
        if (expr_equal(&b->k.exprs[b->ht[i]], &e)) return b->ht[i];
    if (!grow(b, (void **)&b->k.exprs, &b->cape, b->k.nexprs + 1, sizeof *b->k.exprs)) return -1;
    b->k.exprs[b->k.nexprs] = e;
    b->ht[i] = b->k.nexprs;
    return b->k.nexprs++;
}

static kiln_kexpr blank(kiln_kx_kind kind, kiln_dtype t) {
    kiln_kexpr e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.type = t;
    e.a = e.b = e.c = e.slot = -1;
    return e;
}

int32_t kb_const_i(kbuilder *b, kiln_dtype t, int64_t v) {
    kiln_kexpr e = blank(KILN_KX_CONST, t);
    e.i = v;
    return intern(b, e);
}

int32_t kb_const_f(kbuilder *b, kiln_dtype t, double v) {
    kiln_kexpr e = blank(KILN_KX_CONST, t);
    e.f = v;
    return intern(b, e);
}

int32_t kb_coord(kbuilder *b, int i) {
    kiln_kexpr e = blank(KILN_KX_COORD, KILN_I64);
    e.slot = i;
    return intern(b, e);
}

int32_t kb_dimx(kbuilder *b, kiln_dim d) {
    if (kiln_dim_is_const(d)) return kb_const_i(b, KILN_I64, d);
    kiln_kexpr e = blank(KILN_KX_DIM, KILN_I64);
    e.slot = kb_dim(b, d);
    return e.slot < 0 ? -1 : intern(b, e);
}

int32_t kb_load(kbuilder *b, int32_t slot, int32_t index, int32_t guard) {
    if (b->s || slot < 0 || index < 0) return -1;
    kiln_kexpr e = blank(KILN_KX_LOAD, b->k.bufs[slot].dtype);
    e.slot = slot;
    e.a = index;
    e.b = guard;
    return intern(b, e);
}

int32_t kb_math(kbuilder *b, kiln_op op, kiln_dtype t, int32_t a, int32_t c) {
    if (a < 0) return -1;
    kiln_kexpr e = blank(KILN_KX_MATH, t);
    e.op = op;
    e.a = a;
    e.b = c;
    return intern(b, e);
}

int32_t kb_select(kbuilder *b, int32_t cond, int32_t a, int32_t c) {
    if (cond < 0 || a < 0 || c < 0) return -1;
    if (a == c) return a;
    int64_t v;
    if (kb_is_const(b, cond, &v)) return v ? a : c;
    kiln_kexpr e = blank(KILN_KX_SELECT, b->k.exprs[a].type);
    e.a = cond;
    e.b = a;
    e.c = c;
    return intern(b, e);
}

int32_t kb_cast(kbuilder *b, kiln_dtype t, int32_t a) {
    if (a < 0) return -1;
    if (b->k.exprs[a].type == t) return a;
    kiln_kexpr e = blank(KILN_KX_CAST, t);
    e.a = a;
    return intern(b, e);
}

int32_t kb_bitcast(kbuilder *b, kiln_dtype t, int32_t a) {
    if (a < 0) return -1;
    if (b->k.exprs[a].type == t) return a;
    kiln_kexpr e = blank(KILN_KX_BITCAST, t);
    e.a = a;
    return intern(b, e);
}

int32_t kb_value(kbuilder *b, int slot, kiln_dtype t) {
    kiln_kexpr e = blank(KILN_KX_VALUE, t);
    e.slot = slot;
    return intern(b, e);
}

int kb_is_const(const kbuilder *b, int32_t e, int64_t *v) {
    if (e < 0 || e >= b->k.nexprs) return 0;
    const kiln_kexpr *x = &b->k.exprs[e];
    if (x->kind != KILN_KX_CONST || kiln_dtype_is_float(x->type)) return 0;
    *v = x->i;
    return 1;
}

int32_t kb_iadd(kbuilder *b, int32_t x, int32_t y) {
    int64_t cx = 0, cy = 0;
    int kx = kb_is_const(b, x, &cx), ky = kb_is_const(b, y, &cy);
    if (kx && ky) return kb_const_i(b, KILN_I64, (int64_t)((uint64_t)cx + (uint64_t)cy));
    if (kx && cx == 0) return y;
    if (ky && cy == 0) return x;
    return kb_math(b, KILN_OP_ADD, KILN_I64, x, y);
}

int32_t kb_isub(kbuilder *b, int32_t x, int32_t y) {
    int64_t cx = 0, cy = 0;
    int kx = kb_is_const(b, x, &cx), ky = kb_is_const(b, y, &cy);
    if (kx && ky) return kb_const_i(b, KILN_I64, (int64_t)((uint64_t)cx - (uint64_t)cy));
    if (ky && cy == 0) return x;
    if (x == y && x >= 0) return kb_const_i(b, KILN_I64, 0);
    return kb_math(b, KILN_OP_SUB, KILN_I64, x, y);
}

int32_t kb_imul(kbuilder *b, int32_t x, int32_t y) {
    int64_t cx = 0, cy = 0;
    int kx = kb_is_const(b, x, &cx), ky = kb_is_const(b, y, &cy);
    if (kx && ky) return kb_const_i(b, KILN_I64, (int64_t)((uint64_t)cx * (uint64_t)cy));
    if ((kx && cx == 0) || (ky && cy == 0)) return kb_const_i(b, KILN_I64, 0);
    if (kx && cx == 1) return y;
    if (ky && cy == 1) return x;
    return kb_math(b, KILN_OP_MUL, KILN_I64, x, y);
}

int32_t kb_idiv(kbuilder *b, int32_t x, int32_t y) {
    int64_t cx = 0, cy = 0;
    int kx = kb_is_const(b, x, &cx), ky = kb_is_const(b, y, &cy);
    if (kx && ky && cy > 0) return kb_const_i(b, KILN_I64, cx / cy);
    if (ky && cy == 1) return x;
    return kb_math(b, KILN_OP_DIV, KILN_I64, x, y);
}

int32_t kb_imod(kbuilder *b, int32_t x, int32_t y) {
    int64_t cx = 0, cy = 0;
    int kx = kb_is_const(b, x, &cx), ky = kb_is_const(b, y, &cy);
    if (kx && ky && cy > 0 && cx >= 0) return kb_const_i(b, KILN_I64, cx % cy);
    if (ky && cy == 1) return kb_const_i(b, KILN_I64, 0);
    return kb_math(b, KILN_OP_MOD, KILN_I64, x, y);
}

int32_t kb_icmp(kbuilder *b, kiln_op op, int32_t x, int32_t y) {
    int64_t cx = 0, cy = 0;
    if (kb_is_const(b, x, &cx) && kb_is_const(b, y, &cy)) {
        int r = op == KILN_OP_LT ? cx < cy : op == KILN_OP_LE ? cx <= cy : op == KILN_OP_GT ? cx > cy
              : op == KILN_OP_GE ? cx >= cy : op == KILN_OP_EQ ? cx == cy : cx != cy;
        return kb_const_i(b, KILN_BOOL, r);
    }
    if (x < 0 || y < 0) return -1;
    return kb_math(b, op, KILN_BOOL, x, y);
}

int32_t kb_and(kbuilder *b, int32_t x, int32_t y) {
    int64_t c;
    if (x == -1) return y;
    if (y == -1) return x;
    if (kb_is_const(b, x, &c)) return c ? y : x;
    if (kb_is_const(b, y, &c)) return c ? x : y;
    if (x == y) return x;
    return kb_math(b, KILN_OP_AND, KILN_BOOL, x, y);
}
