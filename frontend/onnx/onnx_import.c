/* ONNX graph -> kiln IR: initializers, graph inputs, nodes in order (each
 * through its op converter), graph outputs by name. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_import.h"

static const ox_converter *const tables[] = {ox_elementwise_ops, ox_reduce_ops, ox_shape_ops, ox_nn_ops, ox_more_ops, ox_conv_ops, ox_resize_ops, ox_scatter_ops, ox_quant_ops, ox_misc_ops, ox_rnn_ops, ox_loop_ops, ox_dft_ops, ox_gridsample_ops};

static const ox_converter *find_converter(const char *op_type) {
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const ox_converter *cv = tables[t]; cv->op_type; cv++)
            if (strcmp(cv->op_type, op_type) == 0) return cv;
    return NULL;
}

static ox_convert_fn find_domain_converter(const char *domain, const char *op_type) {
    const ox_domain_converter *lists[] = {ox_domain_ops, ox_preview_ops};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (const ox_domain_converter *d = lists[l]; d->domain; d++)
            if (!strcmp(d->domain, domain) && !strcmp(d->op_type, op_type)) return d->fn;
    return NULL;
}

int onnx_op_supported(const char *domain, const char *op_type) {
    if (domain && *domain && strcmp(domain, "ai.onnx") != 0) return find_domain_converter(domain, op_type) != NULL;
    return find_converter(op_type) != NULL;
}

void onnx_list_ops(void (*fn)(const char *op_type, void *ctx), void *ctx) {
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const ox_converter *cv = tables[t]; cv->op_type; cv++) fn(cv->op_type, ctx);
}

/* A value that exists but cannot be used: using it reports why. */
static kiln_status bad_value(ox_ctx *c, const char *name, kiln_status why, ox_id *out) {
    kiln_status s = ox_scalar(c, KILN_F32, 0, out);
    if (s) {
        kiln_status_free(why);
        return s;
    }
    OV(c, *out)->known = 0;
    OV(c, *out)->bad = strdup(kiln_status_message(why));
    kiln_status_free(why);
    if (!OV(c, *out)->bad) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    return ox_bind_name(c, name, *out);
}

/* Symbol names must be identifiers in the IR text. */
static kiln_dim symbol_for(ox_ctx *c, const char *raw, const char *input, int axis) {
    char buf[128];
    size_t k = 0;
    if (raw && *raw) {
        for (const char *p = raw; *p && k + 1 < sizeof buf; p++)
            buf[k++] = isalnum((unsigned char)*p) || *p == '_' ? *p : '_';
    } else {
        k = (size_t)snprintf(buf, sizeof buf, "%s_dim%d", input, axis);
        if (k >= sizeof buf) k = sizeof buf - 1;
        for (size_t i = 0; i < k; i++)
            if (!isalnum((unsigned char)buf[i]) && buf[i] != '_') buf[i] = '_';
    }
    buf[k] = 0;
    if (k == 0 || isdigit((unsigned char)buf[0])) {
        memmove(buf + 1, buf, k + 1 < sizeof buf - 1 ? k + 1 : sizeof buf - 2);
        buf[0] = 's';
        buf[sizeof buf - 1] = 0;
    }
    return kiln_dim_symbol(c->g, buf);
}

/* A graph input fixed to a given value: it becomes known data. */
static kiln_status bind_graph_input(ox_ctx *c, const onnx_value_info *vi, const kiln_tensor *t) {
    kiln_dtype dt;
    kiln_status s = onnx_to_kiln_dtype(vi->elem_type, &dt);
    if (s) return kiln_error_wrap(s, "graph input '%s'", vi->name);
    if (kiln_dtype_is_float(dt) != kiln_dtype_is_float(t->dtype) || (dt == KILN_BOOL) != (t->dtype == KILN_BOOL))
        return kiln_error(KILN_ERR_TYPE, "graph input '%s' is %s, the bound value %s", vi->name, kiln_dtype_name(dt),
                          kiln_dtype_name(t->dtype));
    if (vi->has_shape && vi->ndims != t->rank)
        return kiln_error(KILN_ERR_SHAPE, "graph input '%s' has rank %d, the bound value %d", vi->name, vi->ndims, t->rank);
    kiln_tensor copy;
    KILN_TRY(kiln_tensor_convert(t, dt, &copy));
    ox_id id;
    KILN_TRY(ox_from_tensor(c, &copy, &id));
    return ox_bind_name(c, vi->name, id);
}

static kiln_status add_graph_input(ox_ctx *c, const onnx_value_info *vi) {
    ox_id id;
    if (!*vi->name) return kiln_error(KILN_ERR_FORMAT, "a graph input has no name");
    if (vi->type_kind != ONNX_TYPE_TENSOR)
        return kiln_error(KILN_ERR_UNSUPPORTED, "graph input '%s' is not a tensor (sequences, maps and optionals are not supported)",
                          vi->name);
    kiln_dtype dt;
    kiln_status s = onnx_to_kiln_dtype(vi->elem_type, &dt);
    if (s) return kiln_error_wrap(s, "graph input '%s'", vi->name);
    if (!vi->has_shape) return kiln_error(KILN_ERR_UNSUPPORTED, "graph input '%s' has no shape (its rank is unknown)", vi->name);
    if (vi->ndims > KILN_MAX_RANK)
        return kiln_error(KILN_ERR_UNSUPPORTED, "graph input '%s' has rank %d (kiln supports up to %d)", vi->name,
                          vi->ndims, KILN_MAX_RANK);
    kiln_shape sh = {vi->ndims, {0}};
    for (int i = 0; i < vi->ndims; i++) {
        const onnx_dim *d = &vi->dims[i];
        if (d->kind == 1) {
            if (d->value < 0 || d->value > OX_MAX_DIM)
                return kiln_error(KILN_ERR_FORMAT, "graph input '%s': dimension %d is %lld", vi->name, i,
                                  (long long)d->value);
            sh.dims[i] = d->value;
        } else {
            sh.dims[i] = symbol_for(c, d->kind == 2 ? d->param : NULL, vi->name, i);
        }
    }
    uint64_t numel = 1; /* of the constant dims: must stay far from overflow */
    for (int i = 0; i < sh.rank; i++)
        if (kiln_dim_is_const(sh.dims[i]) && sh.dims[i] && (numel *= (uint64_t)sh.dims[i]) > (UINT64_C(1) << 48))
            return kiln_error(KILN_ERR_LIMIT, "graph input '%s' is too large", vi->name);
    kiln_value v;
    KILN_TRY(kiln_graph_add_input(c->g, vi->name, dt, &sh, &v));
    KILN_TRY(ox_from_ir(c, v, &id));
    return ox_bind_name(c, vi->name, id);
}

static kiln_status add_initializer(ox_ctx *c, const onnx_tensor_proto *t, const char *base_dir, onnx_ext_files **ext,
                                   int copy) {
    ox_id id;
    if (!t->name || !*t->name) return kiln_error(KILN_ERR_FORMAT, "an initializer has no name");
    if (kiln_tensor_map_get(c->weights, t->name))
        return kiln_error(KILN_ERR_FORMAT, "initializer '%s' appears more than once", t->name);
    kiln_tensor data;
    kiln_status s = onnx_tensor_data(t, base_dir, ext, &data);
    if (s && kiln_status_code(s) == KILN_ERR_UNSUPPORTED) return bad_value(c, t->name, s, &id);
    KILN_TRY(s);
    if (copy && !data.owns_data) {
        kiln_tensor own;
        KILN_TRY(kiln_tensor_convert(&data, data.dtype, &own));
        data = own;
    }
    KILN_TRY(kiln_tensor_map_put(c->weights, t->name, data));
    KILN_TRY(ox_from_view(c, kiln_tensor_map_get(c->weights, t->name), &id));
    OV(c, id)->param = t->name;
    return ox_bind_name(c, t->name, id);
}

static kiln_status wrap_node(kiln_status s, ox_ctx *c, const onnx_node *n) {
    if (*n->name)
        return kiln_error_wrap(s, "node %d '%s' (%s%s%s, opset %lld)", c->node_index, n->name, *n->domain ? n->domain : "",
                               *n->domain ? "." : "", n->op_type, (long long)c->opset);
    return kiln_error_wrap(s, "node %d (%s%s%s, opset %lld)", c->node_index, *n->domain ? n->domain : "",
                           *n->domain ? "." : "", n->op_type, (long long)c->opset);
}

#define MAX_NODE_IO 4096

/* Unrolled loops could otherwise multiply without bound. */
#define MAX_CONVERTED (1 << 20)

static kiln_status convert_node(ox_ctx *c, const onnx_node *n) {
    const ox_converter *cv = NULL;
    if (++c->converted > MAX_CONVERTED)
        return kiln_error(KILN_ERR_LIMIT, "the model unrolls to more than %d nodes", MAX_CONVERTED);
    int default_domain = !*n->domain || strcmp(n->domain, "ai.onnx") == 0;
    if (default_domain) cv = find_converter(n->op_type);
    ox_convert_fn fn = cv ? cv->fn : default_domain ? NULL : find_domain_converter(n->domain, n->op_type);
    if (!fn) {
        if (default_domain)
            return ox_unsupported(c, "unsupported op %s (domain ai.onnx, opset %lld)", n->op_type, (long long)c->opset);
        int64_t ver = 0;
        for (int i = 0; i < c->model->nopsets; i++)
            if (strcmp(c->model->opsets[i].domain, n->domain) == 0) ver = c->model->opsets[i].version;
        return ox_unsupported(c, "unsupported op %s (domain %s, opset %lld)", n->op_type, n->domain, (long long)ver);
    }
    if (default_domain && c->opset <= 0) return ox_unsupported(c, "the model imports no opset of the default domain");
    if (n->ninputs > MAX_NODE_IO || n->noutputs > MAX_NODE_IO) return ox_unsupported(c, "too many inputs or outputs");
    ox_id in[MAX_NODE_IO], out[MAX_NODE_IO];
    for (int i = 0; i < n->ninputs; i++) {
        in[i] = OX_NONE;
        if (!*n->inputs[i]) continue;
        in[i] = ox_lookup(c, n->inputs[i]);
        if (in[i] == OX_NONE)
            return kiln_error(KILN_ERR_FORMAT, "input '%s' is not produced by an earlier node, a graph input or an initializer",
                              n->inputs[i]);
        if (OV(c, in[i])->bad) return ox_unsupported(c, "input '%s': %s", n->inputs[i], OV(c, in[i])->bad);
    }
    for (int i = 0; i < n->noutputs; i++) out[i] = OX_NONE;
    for (int i = 0; i < n->nattrs; i++) {
        const onnx_attr *a = &n->attrs[i];
        if (a->ref_attr_name) return ox_unsupported(c, "attribute '%s' refers to a function attribute", a->name);
        int takes_graph = !strcmp(n->op_type, "If") || !strcmp(n->op_type, "Scan") || !strcmp(n->op_type, "Loop") ||
                          !strcmp(n->op_type, "FlexAttention");
        if ((a->type == ONNX_ATTR_GRAPH && !takes_graph) || a->type == ONNX_ATTR_GRAPHS)
            return ox_unsupported(c, "attribute '%s' is a subgraph (control flow is not supported)", a->name);
        if (a->type == ONNX_ATTR_SPARSE_TENSOR || a->type == ONNX_ATTR_SPARSE_TENSORS || a->type == ONNX_ATTR_TYPE_PROTO ||
            a->type == ONNX_ATTR_TYPE_PROTOS)
            return ox_unsupported(c, "attribute '%s' has an unsupported type", a->name);
    }
    KILN_TRY(fn(c, n, in, n->ninputs, out, n->noutputs));
    for (int i = 0; i < n->noutputs; i++) {
        if (!*n->outputs[i]) continue;
        if (out[i] == OX_NONE) return ox_unsupported(c, "output %d ('%s') is not supported", i, n->outputs[i]);
        KILN_TRY(ox_bind_name(c, n->outputs[i], out[i]));
    }
    return KILN_OK;
}

kiln_status ox_inline_graph(ox_ctx *c, const onnx_graph *g, int nin, const ox_id *ins, ox_id *outs, int nouts) {
    if (g->ninputs != nin) return ox_invalid(c, "the subgraph takes %d inputs, %d are given", g->ninputs, nin);
    if (g->noutputs != nouts) return ox_invalid(c, "the subgraph has %d outputs, the node %d", g->noutputs, nouts);
    for (int i = 0; i < nin; i++) KILN_TRY(ox_bind_name(c, g->inputs[i].name, ins[i]));
    if (g->nsparse_inits) return ox_unsupported(c, "sparse initializers");
    const onnx_node *saved = c->node;
    int saved_index = c->node_index;
    kiln_status s = KILN_OK;
    for (int i = 0; i < g->ninits && !s; i++) {
        kiln_tensor t;
        ox_id id;
        s = onnx_tensor_data(&g->inits[i], NULL, NULL, &t);
        if (!s) s = ox_from_tensor(c, &t, &id);
        if (!s) s = ox_bind_name(c, g->inits[i].name ? g->inits[i].name : "", id);
    }
    for (int i = 0; i < g->nnodes && !s; i++) {
        c->node = &g->nodes[i];
        c->node_index = i;
        s = convert_node(c, &g->nodes[i]);
        if (s) s = wrap_node(s, c, &g->nodes[i]);
    }
    c->node = saved;
    c->node_index = saved_index;
    if (s) return kiln_error_wrap(s, "subgraph '%s'", g->name);
    for (int i = 0; i < nouts; i++) {
        outs[i] = ox_lookup(c, g->outputs[i].name);
        if (outs[i] == OX_NONE) return ox_invalid(c, "subgraph output '%s' is never produced", g->outputs[i].name);
        if (OV(c, outs[i])->bad) return ox_unsupported(c, "subgraph output '%s': %s", g->outputs[i].name, OV(c, outs[i])->bad);
    }
    return KILN_OK;
}

kiln_status onnx_import_model(const onnx_model *m, const char *path, const char *base_dir, int copy_weights,
                              const kiln_tensor_map *bind, kiln_graph **graph, kiln_tensor_map **weights) {
    *graph = NULL;
    *weights = NULL;
    const onnx_graph *og = &m->graph;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char gname[256];
    snprintf(gname, sizeof gname, "%s", *og->name ? og->name : base);
    ox_ctx c;
    memset(&c, 0, sizeof c);
    c.model = m;
    c.path = path;
    c.g = kiln_graph_new(gname);
    c.weights = kiln_tensor_map_new();
    onnx_ext_files *ext = NULL;
    kiln_status s = KILN_OK;
    if (!c.g || !c.weights) s = kiln_error(KILN_ERR_NOMEM, "out of memory");
    if (!s) kiln_tensor_map_set_origin(c.weights, path);
    for (int i = 0; i < m->nopsets; i++)
        if (!*m->opsets[i].domain || strcmp(m->opsets[i].domain, "ai.onnx") == 0) c.opset = m->opsets[i].version;
    if (!s && og->nsparse_inits) s = kiln_error(KILN_ERR_UNSUPPORTED, "sparse initializers are not supported");
    for (int i = 0; i < og->ninits && !s; i++) s = add_initializer(&c, &og->inits[i], base_dir, &ext, copy_weights);
    if (!s) s = onnx_ext_files_hold(ext, c.weights);
    if (s) onnx_ext_files_free(ext);
    ext = NULL;
    for (int i = 0; i < og->ninputs && !s; i++) {
        const onnx_value_info *vi = &og->inputs[i];
        const kiln_tensor *bt = bind ? kiln_tensor_map_get(bind, vi->name) : NULL;
        if (bt) s = bind_graph_input(&c, vi, bt);
        else if (ox_lookup(&c, vi->name) == OX_NONE) s = add_graph_input(&c, vi);
    }
    for (int i = 0; i < og->nnodes && !s; i++) {
        const onnx_node *n = &og->nodes[i];
        char where[600];
        if (*n->name) snprintf(where, sizeof where, "%s: node %d '%s' (%s)", base, i, n->name, n->op_type);
        else snprintf(where, sizeof where, "%s: node %d (%s)", base, i, n->op_type);
        kiln_graph_set_loc(c.g, (kiln_loc){where, 0, 0});
        c.node = n;
        c.node_index = i;
        s = convert_node(&c, n);
        if (s) s = wrap_node(s, &c, n);
    }
    kiln_graph_set_loc(c.g, (kiln_loc){NULL, 0, 0});
    for (int i = 0; i < og->noutputs && !s; i++) {
        const char *name = og->outputs[i].name;
        ox_id id = ox_lookup(&c, name);
        kiln_value v;
        if (id == OX_NONE) s = kiln_error(KILN_ERR_FORMAT, "graph output '%s' is never produced", name);
        else if (OV(&c, id)->bad) s = kiln_error(KILN_ERR_UNSUPPORTED, "graph output '%s': %s", name, OV(&c, id)->bad);
        else if (!(s = ox_ir(&c, id, &v))) s = kiln_graph_add_output(c.g, name, v);
    }
    if (!s && og->noutputs == 0) s = kiln_error(KILN_ERR_FORMAT, "the graph has no outputs");
    ox_ctx_free(&c);
    if (s) {
        kiln_graph_free(c.g);
        kiln_tensor_map_free(c.weights);
        return kiln_error_wrap(s, "%s", path);
    }
    *graph = c.g;
    *weights = c.weights;
    return KILN_OK;
}
