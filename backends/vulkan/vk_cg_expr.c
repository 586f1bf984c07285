/* Kernel-IR expressions as GLSL: one local per expression, in array order
 * (operands first), inside a function per coordinate space. Guarded loads
 * become `if` statements, so a guarded-off load reads nothing. */
#include <string.h>

#include "vk_cg_internal.h"

/* Float unary ops: GLSL spelling (a k_* helper of k_prelude.glsl, or a
 * builtin whose semantics already match), NULL when not a float op. */
static const char *float_unary(kiln_op op) {
    switch (op) {
    case KILN_OP_ABS: return "abs";
    case KILN_OP_SIGN: return "k_sign";
    case KILN_OP_EXP: return "exp";
    case KILN_OP_LOG: return "k_log";
    case KILN_OP_SQRT: return "k_sqrt";
    case KILN_OP_RSQRT: return "k_rsqrt";
    case KILN_OP_RECIP: return "k_recip";
    case KILN_OP_TANH: return "k_tanh";
    case KILN_OP_SIGMOID: return "k_sigmoid";
    case KILN_OP_ERF: return "k_erf";
    case KILN_OP_SIN: return "sin";
    case KILN_OP_COS: return "cos";
    case KILN_OP_FLOOR: return "floor";
    case KILN_OP_CEIL: return "ceil";
    case KILN_OP_ROUND: return "roundEven";
    case KILN_OP_RELU: return "k_relu";
    case KILN_OP_GELU: return "k_gelu";
    case KILN_OP_GELU_TANH: return "k_gelu_tanh";
    case KILN_OP_SILU: return "k_silu";
    case KILN_OP_TAN: return "tan";
    case KILN_OP_ASIN: return "k_asin";
    case KILN_OP_ACOS: return "k_acos";
    case KILN_OP_ATAN: return "atan";
    case KILN_OP_SINH: return "sinh";
    case KILN_OP_COSH: return "cosh";
    case KILN_OP_ASINH: return "asinh";
    case KILN_OP_ACOSH: return "k_acosh";
    case KILN_OP_ATANH: return "k_atanh";
    default: return NULL;
    }
}

/* Ops GLSL (or the prelude) provides for double directly; the rest are
 * computed in float, which is as far as GLSL's double support goes. */
static int double_native(kiln_op op) {
    return op == KILN_OP_ABS || op == KILN_OP_SIGN || op == KILN_OP_FLOOR || op == KILN_OP_CEIL ||
           op == KILN_OP_ROUND || op == KILN_OP_RELU || op == KILN_OP_SQRT || op == KILN_OP_RSQRT ||
           op == KILN_OP_RECIP;
}

static const char *compare_op(kiln_op op) {
    switch (op) {
    case KILN_OP_EQ: return "==";
    case KILN_OP_NE: return "!=";
    case KILN_OP_LT: return "<";
    case KILN_OP_LE: return "<=";
    case KILN_OP_GT: return ">";
    case KILN_OP_GE: return ">=";
    default: return NULL;
    }
}

static const char *zero(const kvk_cg *c, kiln_dtype t) {
    if (t == KILN_F64) return "0.0lf";
    if (kcg_is_float(t)) return "0.0";
    if (t == KILN_U32) return "0u";
    if (t == KILN_U64) return "0ul";
    if (t == KILN_I64 && c->v->wide) return "0l";
    if (t == KILN_BOOL) return "false";
    return "0";
}

/* a as bool ("a" for bools, "(a != 0)" otherwise) */
static void truth(kvk_cg *c, kiln_dtype t, const char *a) {
    if (t == KILN_BOOL) kvk_str_addf(c->s, "%s", a);
    else kvk_str_addf(c->s, "(%s != %s)", a, zero(c, t));
}

static void unary(kvk_cg *c, const kiln_kexpr *x, kiln_dtype in, const char *a) {
    kiln_op op = x->op;
    if (op == KILN_OP_NOT) {
        kvk_str_add(c->s, "!");
        truth(c, in, a);
        return;
    }
    if (op == KILN_OP_NEG) {
        if (kcg_is_unsigned(in) && kcg_bits(in) >= 32) kvk_str_addf(c->s, "(%s - %s)", zero(c, in), a);
        else kvk_str_addf(c->s, "(-%s)", a);
        return;
    }
    if (kcg_is_float(in)) {
        const char *f = float_unary(op);
        if (!f) {
            kvk_str_addf(c->s, "(%s)", a);
            return;
        }
        if (in == KILN_F64 && !double_native(op)) kvk_str_addf(c->s, "double(%s(float(%s)))", f, a);
        else kvk_str_addf(c->s, "%s(%s)", f, a);
        return;
    }
    int uns = kcg_is_unsigned(in);
    switch (op) {
    case KILN_OP_ABS: kvk_str_addf(c->s, uns ? "(%s)" : "k_absi(%s)", a); break;
    case KILN_OP_SIGN: kvk_str_addf(c->s, "k_signi(%s)", a); break;
    case KILN_OP_RELU: kvk_str_addf(c->s, "max(%s, %s)", a, zero(c, in)); break;
    case KILN_OP_BITNOT: kvk_str_addf(c->s, "(~%s)", a); break;
    default: kvk_str_addf(c->s, "(%s)", a); break; /* the evaluator's identity for other ops on ints */
    }
}

static void binary(kvk_cg *c, const kiln_kexpr *x, kiln_dtype in, const char *a, const char *b) {
    kiln_op op = x->op;
    const char *cmp = compare_op(op);
    if (cmp) {
        kvk_str_addf(c->s, "(%s %s %s)", a, cmp, b);
        return;
    }
    if (op == KILN_OP_AND || op == KILN_OP_OR || op == KILN_OP_XOR) {
        kvk_str_add(c->s, "(");
        truth(c, in, a);
        kvk_str_add(c->s, op == KILN_OP_AND ? " && " : op == KILN_OP_OR ? " || " : " != ");
        truth(c, in, b);
        kvk_str_add(c->s, ")");
        return;
    }
    if (in == KILN_BOOL) { /* arithmetic on bools: as the evaluator, on 0/1 */
        kvk_str_addf(c->s, "false");
        return;
    }
    int fl = kcg_is_float(in);
    switch (op) {
    case KILN_OP_ADD: kvk_str_addf(c->s, "(%s + %s)", a, b); return;
    case KILN_OP_SUB: kvk_str_addf(c->s, "(%s - %s)", a, b); return;
    case KILN_OP_MUL: kvk_str_addf(c->s, "(%s * %s)", a, b); return;
    case KILN_OP_DIV: kvk_str_addf(c->s, fl ? "(%s / %s)" : "k_div(%s, %s)", a, b); return;
    case KILN_OP_MAX: kvk_str_addf(c->s, fl ? "k_max(%s, %s)" : "max(%s, %s)", a, b); return;
    case KILN_OP_MIN: kvk_str_addf(c->s, fl ? "k_min(%s, %s)" : "min(%s, %s)", a, b); return;
    default: break;
    }
    if (fl) {
        const char *f = op == KILN_OP_POW ? "k_pow" : op == KILN_OP_MOD ? "k_mod" : op == KILN_OP_FMOD ? "k_fmod" : NULL;
        if (!f) {
            kvk_str_addf(c->s, "%s", zero(c, in));
            return;
        }
        if (in == KILN_F64) kvk_str_addf(c->s, "double(%s(float(%s), float(%s)))", f, a, b);
        else kvk_str_addf(c->s, "%s(%s, %s)", f, a, b);
        return;
    }
    int bits = kcg_bits(in), uns = kcg_is_unsigned(in);
    switch (op) {
    case KILN_OP_POW: kvk_str_addf(c->s, "k_powi(%s, %s)", a, b); break;
    case KILN_OP_MOD: kvk_str_addf(c->s, "k_modi(%s, %s)", a, b); break;
    case KILN_OP_FMOD: kvk_str_addf(c->s, "k_fmodi(%s, %s)", a, b); break;
    case KILN_OP_BITAND: kvk_str_addf(c->s, "(%s & %s)", a, b); break;
    case KILN_OP_BITOR: kvk_str_addf(c->s, "(%s | %s)", a, b); break;
    case KILN_OP_BITXOR: kvk_str_addf(c->s, "(%s ^ %s)", a, b); break;
    case KILN_OP_SHL: kvk_str_addf(c->s, "k_shl(%s, %s, %d)", a, b, bits); break;
    case KILN_OP_SHR:
        /* u8/u16 live in ints: shift their masked value logically */
        if (uns && bits < 32) kvk_str_addf(c->s, "k_shru(%s, %s, %d)", a, b, bits);
        else kvk_str_addf(c->s, "k_shr(%s, %s, %d)", a, b, bits);
        break;
    default: kvk_str_addf(c->s, "%s", zero(c, in)); break;
    }
}

void kcg_math(kvk_cg *c, const kiln_kexpr *x, const char *a, const char *b) {
    const kiln_kexpr *xa = &c->k->exprs[x->a];
    kiln_dtype in = xa->type, out = x->type;
    /* the op's natural result type: bool for comparisons and logic */
    int logic = compare_op(x->op) || x->op == KILN_OP_AND || x->op == KILN_OP_OR || x->op == KILN_OP_XOR ||
                x->op == KILN_OP_NOT;
    kvk_str tmp = {0};
    kvk_str *saved = c->s;
    c->s = &tmp;
    if (x->b >= 0) binary(c, x, in, a, b);
    else unary(c, x, in, a);
    c->s = saved;
    if (tmp.oom) c->s->oom = 1;
    const char *text = tmp.p ? tmp.p : "0";
    if (logic) kcg_cast(c, KILN_BOOL, out, text);
    else if (in != out) kcg_cast(c, in, out, text);
    else {
        kcg_round_open(c, out);
        kvk_str_add(c->s, text);
        kcg_round_close(c, out);
    }
    kvk_str_free(&tmp);
}

void kcg_expr_function(kvk_cg *c, const char *name, int32_t root, int ncoords, int with_value) {
    const kiln_kernel *k = c->k;
    memset(c->mark, 0, (size_t)k->nexprs + 1);
    c->mark[root] = 1;
    for (int e = root; e >= 0; e--) {
        if (!c->mark[e]) continue;
        const kiln_kexpr *x = &k->exprs[e];
        if (x->a >= 0) c->mark[x->a] = 1;
        if (x->b >= 0) c->mark[x->b] = 1;
        if (x->c >= 0) c->mark[x->c] = 1;
    }
    kvk_str *s = c->s;
    kvk_str_addf(s, "%s %s(", kcg_vtype(c, k->exprs[root].type), name);
    for (int i = 0; i < ncoords; i++) kvk_str_addf(s, "%sIDX c%d", i ? ", " : "", i);
    if (with_value) kvk_str_addf(s, "%s%s v", ncoords ? ", " : "", kcg_vtype(c, k->value_type));
    kvk_str_add(s, ") {\n");
    for (int e = 0; e <= root; e++) {
        if (!c->mark[e]) continue;
        const kiln_kexpr *x = &k->exprs[e];
        const char *vt = kcg_vtype(c, x->type);
        char a[24], b[24], cc[24];
        snprintf(a, sizeof a, "e%d", x->a);
        snprintf(b, sizeof b, "e%d", x->b);
        snprintf(cc, sizeof cc, "e%d", x->c);
        kvk_str_addf(s, "    %s e%d = ", vt, e);
        switch (x->kind) {
        case KILN_KX_CONST: kcg_const(c, x); break;
        case KILN_KX_DIM: kcg_dim(c, x->slot); break;
        case KILN_KX_COORD: kvk_str_addf(s, "c%d", x->slot); break;
        case KILN_KX_LOAD:
            if (x->b >= 0) kvk_str_addf(s, "%s;\n    if (%s) e%d = ld%d(%s)", zero(c, x->type), b, e, x->slot, a);
            else kvk_str_addf(s, "ld%d(%s)", x->slot, a);
            break;
        case KILN_KX_MATH: kcg_math(c, x, a, b); break;
        case KILN_KX_SELECT: kvk_str_addf(s, "%s ? %s : %s", a, b, cc); break;
        case KILN_KX_CAST: kcg_cast(c, k->exprs[x->a].type, x->type, a); break;
        case KILN_KX_VALUE: kvk_str_add(s, "v"); break;
        case KILN_KX_BITCAST: kcg_bitcast(c, k->exprs[x->a].type, x->type, a); break;
        default: /* a kind newer than this emitter: the compile fails naming it */
            kvk_str_addf(s, "KILN_UNSUPPORTED_EXPRESSION_KIND_%d", (int)x->kind);
            break;
        }
        kvk_str_add(s, ";\n");
    }
    kvk_str_addf(s, "    return e%d;\n}\n", root);
}
