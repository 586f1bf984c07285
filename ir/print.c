/* Textual IR: printing. The grammar is in docs/ir.md; ir/parse.c reads it back. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

static void print_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void print_float(FILE *f, double v, int digits) {
    if (isnan(v)) fputs("nan", f);
    else if (isinf(v)) fputs(v < 0 ? "-inf" : "inf", f);
    else fprintf(f, "%.*g", digits, v);
}

static void print_attr(const kiln_graph *g, FILE *f, const kiln_attr *a) {
    char buf[256];
    switch (a->kind) {
    case KILN_ATTR_INT: fprintf(f, "%" PRId64, a->i); break;
    case KILN_ATTR_BOOL: fputs(a->i ? "true" : "false", f); break;
    case KILN_ATTR_FLOAT: print_float(f, a->f, 17); break;
    case KILN_ATTR_DIM: fputs(kiln_dim_str(g, a->i, buf, sizeof buf), f); break;
    case KILN_ATTR_DTYPE: fputs(kiln_dtype_name((kiln_dtype)a->i), f); break;
    case KILN_ATTR_STR: print_string(f, a->s); break;
    case KILN_ATTR_INTS:
    case KILN_ATTR_DIMS:
        fputc('[', f);
        for (int i = 0; i < a->n; i++) {
            if (i) fputs(", ", f);
            if (a->kind == KILN_ATTR_INTS) fprintf(f, "%" PRId64, a->list[i]);
            else fputs(kiln_dim_str(g, a->list[i], buf, sizeof buf), f);
        }
        fputc(']', f);
        break;
    case KILN_ATTR_NONE: break;
    }
}

static void print_type(const kiln_graph *g, FILE *f, kiln_dtype t, const kiln_shape *s) {
    char buf[1024];
    fprintf(f, "%s%s", kiln_dtype_name(t), kiln_shape_str(g, s, buf, sizeof buf));
}

static void print_const_data(FILE *f, const kiln_tensor *t) {
    size_t n = (size_t)kiln_tensor_numel(t);
    fputs(" = [", f);
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(i % 16 ? ", " : ",\n    ", f);
        if (kiln_dtype_is_float(t->dtype))
            print_float(f, kiln_load_f64(t->data, t->dtype, i), t->dtype == KILN_F64 ? 17 : 9);
        else if (t->dtype == KILN_U64)
            fprintf(f, "%" PRIu64, ((const uint64_t *)t->data)[i]);
        else
            fprintf(f, "%" PRId64, kiln_load_i64(t->data, t->dtype, i));
    }
    fputc(']', f);
}

kiln_status kiln_graph_print(const kiln_graph *g, FILE *f) {
    fprintf(f, "graph ");
    print_string(f, g->name);
    fprintf(f, " {\n");
    if (g->nsyms) {
        fprintf(f, "  symbols ");
        for (int i = 0; i < g->nsyms; i++) fprintf(f, "%s%s", i ? ", " : "", g->syms[i]);
        fprintf(f, "\n");
    }
    for (int v = 0; v < g->nnodes; v++) {
        const kiln_node *n = &g->nodes[v];
        const kiln_op_def *d = kiln_op_get(n->op);
        fprintf(f, "  %%%d = %s", v, d->name);
        if (n->op == KILN_OP_INPUT || n->op == KILN_OP_PARAM) {
            fputc(' ', f);
            print_string(f, n->name);
        } else if (n->op != KILN_OP_CONST) {
            fputc('(', f);
            for (int i = 0; i < n->ninputs; i++) {
                if (i) fputs(", ", f);
                if (n->inputs[i] == KILN_NONE) fputc('_', f);
                else fprintf(f, "%%%d", n->inputs[i]);
            }
            fputc(')', f);
        }
        int first = 1;
        for (int i = 0; i < d->nattrs; i++) {
            if (n->attrs[i].kind == KILN_ATTR_NONE) continue;
            fputs(first ? " {" : ", ", f);
            first = 0;
            fprintf(f, "%s = ", d->attrs[i].name);
            print_attr(g, f, &n->attrs[i]);
        }
        if (!first) fputc('}', f);
        fputs(" : ", f);
        print_type(g, f, n->dtype, &n->shape);
        if (n->op == KILN_OP_CONST) print_const_data(f, &n->value);
        if (n->loc.file) {
            fputs("  @ ", f);
            print_string(f, n->loc.file);
            fprintf(f, ":%d:%d", n->loc.line, n->loc.col);
        }
        fputc('\n', f);
    }
    for (int i = 0; i < g->noutputs; i++) {
        fputs("  output ", f);
        print_string(f, g->outputs[i].name);
        fprintf(f, " = %%%d\n", g->outputs[i].v);
    }
    fputs("}\n", f);
    return ferror(f) ? kiln_error(KILN_ERR_IO, "write error while printing graph") : KILN_OK;
}

kiln_status kiln_graph_to_string(const kiln_graph *g, char **out) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return kiln_error(KILN_ERR_NOMEM, "out of memory");
    kiln_status s = kiln_graph_print(g, f);
    fclose(f);
    if (s) {
        free(buf);
        return s;
    }
    *out = buf;
    return KILN_OK;
}
