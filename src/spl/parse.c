/* Lexing and parsing of the expanded search text into stages with byte-spanned AST nodes.
 *
 * The pipeline is split on '|' outside double quotes and square brackets; each command is
 * parsed by its own function with a small character-level lexer (SPL's tokens depend on the
 * command: `a=*b*` is one term in `search`, `a=b` an assignment in `eval`). Invariants: every
 * node's span lies inside the expanded text; every string is unescaped into the plan's arena
 * (`\\` -> `\`, `\"` -> `"`, any other backslash kept); nesting is capped at ESC_SPL_MAX_NEST
 * and the pipeline at ESC_SPL_MAX_STAGES. Errors are ESC_ECONTENT with err->offset at the
 * culprit. Deliberately not done here: name resolution against columns (plan.c) and any
 * evaluation. Unsupported commands and functions are errors that name them, for lint. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timeutil.h"
#include "spl/ast.h"

typedef struct parser {
    esc_plan *p;
    const char *s;
    size_t pos, end; /* current command segment */
    int depth;
    esc_error *err;
    bool failed;
    esc_status st;
    size_t nodes; /* expression nodes so far (left-deep OR chains recurse per node) */
} parser;

/* ---- character helpers ---- */

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void skip_ws(parser *P) {
    while (P->pos < P->end && is_ws(P->s[P->pos]))
        P->pos++;
}

static bool at_end(parser *P) {
    skip_ws(P);
    return P->pos >= P->end;
}

static char peek(parser *P) {
    return P->pos < P->end ? P->s[P->pos] : 0;
}

static void *fail_at(parser *P, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void *fail_at(parser *P, size_t off, const char *fmt, ...) {
    if (!P->failed && P->err) {
        char msg[ESC_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        esc_error_at(P->err, ESC_ECONTENT, NULL, off, "%s", msg);
    }
    if (!P->failed)
        P->st = ESC_ECONTENT;
    P->failed = true;
    return NULL;
}

static void *nomem(parser *P) {
    if (!P->failed) {
        esc_error_set(P->err, ESC_ENOMEM, "out of memory parsing the search");
        P->st = ESC_ENOMEM;
    }
    P->failed = true;
    return NULL;
}

static void *alloc0(parser *P, size_t n) {
    void *m = esc_arena_alloc(&P->p->arena, n);
    if (!m)
        return nomem(P);
    memset(m, 0, n);
    return m;
}

static const char *dup_n(parser *P, const char *s, size_t n) {
    esc_str d = esc_arena_dup(&P->p->arena, esc_str_make(s, n));
    if (!d.ptr)
        return nomem(P);
    return d.ptr;
}

/* Unescape s[0..n): \\ -> \, \" -> ", other backslashes kept. *out_len gets the length. */
static const char *unescape(parser *P, const char *s, size_t n, size_t *out_len) {
    char *d = esc_arena_alloc(&P->p->arena, n + 1);
    if (!d)
        return nomem(P);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '\\' || s[i + 1] == '"'))
            i++;
        d[k++] = s[i];
    }
    d[k] = 0;
    if (out_len)
        *out_len = k;
    return d;
}

/* A double-quoted string at P->pos. */
static const char *quoted(parser *P, size_t *len) {
    size_t start = P->pos;
    size_t i = P->pos + 1;
    while (i < P->end && P->s[i] != '"') {
        if (P->s[i] == '\\' && i + 1 < P->end)
            i++;
        i++;
    }
    if (i >= P->end)
        return fail_at(P, start, "unterminated string");
    P->pos = i + 1;
    return unescape(P, P->s + start + 1, i - start - 1, len);
}

static bool is_delim(char c, const char *stops) {
    return c == 0 || is_ws(c) || strchr(stops, c) != NULL;
}

/* A bare run of characters up to whitespace or one of stops. Returns its length. */
static size_t run(parser *P, const char *stops) {
    size_t start = P->pos;
    while (P->pos < P->end && !is_delim(P->s[P->pos], stops))
        P->pos++;
    return P->pos - start;
}

/* Does the text at pos start with keyword kw (ASCII case-insensitive when ci) followed by a
 * delimiter? */
static bool kw_at(parser *P, const char *kw, bool ci) {
    size_t n = strlen(kw);
    if (P->pos + n > P->end)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = P->s[P->pos + i];
        if (ci ? esc_lower((unsigned char)c) != esc_lower((unsigned char)kw[i]) : c != kw[i])
            return false;
    }
    char after = P->pos + n < P->end ? P->s[P->pos + n] : 0;
    return after == 0 || is_ws(after) || after == '(' || after == ')' || after == ',' ||
           after == '"';
}

static bool accept_kw(parser *P, const char *kw, bool ci) {
    skip_ws(P);
    if (!kw_at(P, kw, ci))
        return false;
    P->pos += strlen(kw);
    return true;
}

/* A field name or value word: quoted or bare (stops at stops). */
static const char *word(parser *P, const char *stops, size_t *len, size_t *start) {
    skip_ws(P);
    *start = P->pos;
    if (peek(P) == '"')
        return quoted(P, len);
    size_t n = run(P, stops);
    if (n == 0)
        return NULL;
    return unescape(P, P->s + *start, n, len);
}

/* ---- search expressions ---- */

typedef struct sctx {
    bool tstats; /* stop at the `by` keyword */
} sctx;

static snode *s_and(parser *P, const sctx *c);

static snode *snew(parser *P, snode_kind k, size_t start, size_t end) {
    if (++P->nodes > ESC_SPL_MAX_NODES)
        return fail_at(P, start, "expression has more than %d terms", ESC_SPL_MAX_NODES);
    snode *n = alloc0(P, sizeof *n);
    if (n) {
        n->kind = k;
        n->start = start;
        n->end = end;
        n->ref = FIELD_ABSENT;
    }
    return n;
}

static bool s_stop(parser *P, const sctx *c) {
    if (at_end(P) || peek(P) == ')')
        return true;
    if (c->tstats && (kw_at(P, "by", true) || kw_at(P, "groupby", true)))
        return true;
    return false;
}

#define FIELD_STOPS "=!<>()\","

static snode *s_value_term(parser *P, const char *field, size_t fstart, sop op, bool in_list) {
    size_t vlen = 0, vstart;
    skip_ws(P);
    vstart = P->pos;
    const char *v;
    if (peek(P) == '"') {
        v = quoted(P, &vlen);
    } else {
        /* balanced parentheses inside a bare value belong to it: *GetCurrent()* */
        int depth = 0;
        while (P->pos < P->end) {
            char ch = P->s[P->pos];
            if (is_ws(ch) || (in_list && ch == ',' && depth == 0))
                break;
            if (ch == '(')
                depth++;
            else if (ch == ')' && depth-- == 0)
                break;
            P->pos++;
        }
        size_t n = P->pos - vstart;
        if (n == 0)
            return fail_at(P, vstart, "missing value after '%s'", field);
        v = unescape(P, P->s + vstart, n, &vlen);
    }
    if (!v)
        return NULL;
    snode *t = snew(P, SN_CMP, in_list ? vstart : fstart, P->pos);
    if (!t)
        return NULL;
    t->field = field;
    t->op = op;
    t->val = v;
    t->val_len = vlen;
    return t;
}

static snode *s_prim(parser *P, const sctx *c) {
    skip_ws(P);
    size_t start = P->pos;
    if (P->depth > ESC_SPL_MAX_NEST)
        return fail_at(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
    if (peek(P) == '(') {
        P->pos++;
        P->depth++;
        snode *in = s_and(P, c);
        P->depth--;
        if (!in)
            return NULL;
        skip_ws(P);
        if (peek(P) != ')')
            return fail_at(P, start, "unbalanced parenthesis: '(' is not closed");
        P->pos++;
        return in;
    }
    if (peek(P) == '*' && is_delim(P->pos + 1 < P->end ? P->s[P->pos + 1] : 0, "()")) {
        P->pos++;
        return snew(P, SN_ALL, start, P->pos);
    }
    if (peek(P) == '[')
        return fail_at(P, start, "subsearches ([...]) are not supported");
    size_t flen, fstart;
    const char *field = word(P, FIELD_STOPS, &flen, &fstart);
    if (!field) {
        if (P->failed)
            return NULL;
        if (peek(P) == ')')
            return fail_at(P, start, "unbalanced parenthesis: ')' without '('");
        return fail_at(P, start, "expected a search term");
    }
    skip_ws(P);
    sop op;
    char ch = peek(P), ch2 = P->pos + 1 < P->end ? P->s[P->pos + 1] : 0;
    if (ch == '=') {
        op = SOP_EQ;
        P->pos += (ch2 == '=') ? 2 : 1;
    } else if (ch == '!' && ch2 == '=') {
        op = SOP_NE;
        P->pos += 2;
    } else if (ch == '<') {
        op = ch2 == '=' ? SOP_LE : SOP_LT;
        P->pos += ch2 == '=' ? 2 : 1;
    } else if (ch == '>') {
        op = ch2 == '=' ? SOP_GE : SOP_GT;
        P->pos += ch2 == '=' ? 2 : 1;
    } else if (kw_at(P, "IN", true)) {
        size_t in_at = P->pos;
        P->pos += 2;
        skip_ws(P);
        if (peek(P) != '(')
            return fail_at(P, in_at, "expected '(' after IN");
        P->pos++;
        snode *acc = NULL;
        for (;;) {
            skip_ws(P);
            if (peek(P) == ')') {
                P->pos++;
                break;
            }
            if (P->pos >= P->end)
                return fail_at(P, in_at, "unbalanced parenthesis: IN list is not closed");
            if (peek(P) == ',') {
                P->pos++; /* an empty item: ("a",, "b") */
                continue;
            }
            snode *t = s_value_term(P, field, fstart, SOP_EQ, true);
            if (!t)
                return NULL;
            if (!acc) {
                acc = t;
            } else {
                snode *o = snew(P, SN_OR, fstart, P->pos);
                if (!o)
                    return NULL;
                o->l = acc;
                o->r = t;
                acc = o;
            }
            skip_ws(P);
            if (peek(P) == ',')
                P->pos++;
        }
        if (!acc)
            return fail_at(P, in_at, "empty IN list");
        /* the span of every IN branch covers the whole term */
        return acc;
    } else {
        if (strcmp(field, "*") == 0)
            return snew(P, SN_ALL, start, P->pos);
        return fail_at(P, start,
                       "search term '%s' has no field: only field=value terms are supported",
                       field);
    }
    return s_value_term(P, field, fstart, op, false);
}

static snode *s_not(parser *P, const sctx *c) {
    skip_ws(P);
    size_t start = P->pos;
    if (kw_at(P, "NOT", false)) {
        P->pos += 3;
        if (++P->depth > ESC_SPL_MAX_NEST)
            return fail_at(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
        if (s_stop(P, c))
            return fail_at(P, start, "NOT without an operand");
        snode *in = s_not(P, c);
        P->depth--;
        if (!in)
            return NULL;
        snode *n = snew(P, SN_NOT, start, in->end);
        if (n)
            n->l = in;
        return n;
    }
    return s_prim(P, c);
}

static snode *s_or(parser *P, const sctx *c) {
    snode *l = s_not(P, c);
    while (l) {
        if (!accept_kw(P, "OR", false))
            break;
        if (s_stop(P, c))
            return fail_at(P, P->pos, "OR without a right operand");
        snode *r = s_not(P, c);
        if (!r)
            return NULL;
        snode *o = snew(P, SN_OR, l->start, r->end);
        if (!o)
            return NULL;
        o->l = l;
        o->r = r;
        l = o;
    }
    return l;
}

static snode *s_and(parser *P, const sctx *c) {
    snode *l = s_or(P, c);
    while (l && !s_stop(P, c)) {
        size_t at = P->pos;
        if (accept_kw(P, "AND", false) && s_stop(P, c))
            return fail_at(P, at, "AND without a right operand");
        if (kw_at(P, "OR", false))
            return fail_at(P, P->pos, "OR without a left operand");
        snode *r = s_or(P, c);
        if (!r)
            return NULL;
        snode *a = snew(P, SN_AND, l->start, r->end);
        if (!a)
            return NULL;
        a->l = l;
        a->r = r;
        l = a;
    }
    return l;
}

/* ---- eval expressions ---- */

static enode *e_or(parser *P);

static enode *enew(parser *P, enode_kind k, size_t start, size_t end) {
    if (++P->nodes > ESC_SPL_MAX_NODES)
        return fail_at(P, start, "expression has more than %d terms", ESC_SPL_MAX_NODES);
    enode *n = alloc0(P, sizeof *n);
    if (n) {
        n->kind = k;
        n->start = start;
        n->end = end;
        n->col = -1;
        n->fn = -1;
    }
    return n;
}

static enode *ebin(parser *P, eop op, enode *l, enode *r) {
    if (!l || !r)
        return NULL;
    enode *n = enew(P, EN_BIN, l->start, r->end);
    if (!n)
        return NULL;
    n->op = op;
    n->args = alloc0(P, 2 * sizeof *n->args);
    if (!n->args)
        return NULL;
    n->args[0] = l;
    n->args[1] = r;
    n->nargs = 2;
    return n;
}

static bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static enode *e_prim(parser *P) {
    skip_ws(P);
    size_t start = P->pos;
    char c = peek(P);
    if (P->depth > ESC_SPL_MAX_NEST)
        return fail_at(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
    if (c == '(') {
        P->pos++;
        P->depth++;
        enode *in = e_or(P);
        P->depth--;
        if (!in)
            return NULL;
        skip_ws(P);
        if (peek(P) != ')')
            return fail_at(P, start, "unbalanced parenthesis: '(' is not closed");
        P->pos++;
        return in;
    }
    if (c == '"') {
        size_t len;
        const char *s = quoted(P, &len);
        if (!s)
            return NULL;
        enode *n = enew(P, EN_STR, start, P->pos);
        if (n) {
            n->str = s;
            n->str_len = len;
        }
        return n;
    }
    if (c == '\'') {
        size_t i = P->pos + 1;
        while (i < P->end && P->s[i] != '\'')
            i++;
        if (i >= P->end)
            return fail_at(P, start, "unterminated field name");
        enode *n = enew(P, EN_FIELD, start, i + 1);
        if (!n)
            return NULL;
        n->str = dup_n(P, P->s + start + 1, i - start - 1);
        n->str_len = i - start - 1;
        P->pos = i + 1;
        return n->str ? n : NULL;
    }
    if ((c >= '0' && c <= '9') || (c == '.' && P->pos + 1 < P->end && P->s[P->pos + 1] >= '0' &&
                                   P->s[P->pos + 1] <= '9')) {
        size_t i = P->pos;
        while (i < P->end && ((P->s[i] >= '0' && P->s[i] <= '9') || P->s[i] == '.' ||
                              P->s[i] == 'e' || P->s[i] == 'E' ||
                              ((P->s[i] == '+' || P->s[i] == '-') &&
                               (P->s[i - 1] == 'e' || P->s[i - 1] == 'E'))))
            i++;
        double v;
        if (!spl_parse_num(P->s + start, i - start, &v))
            return fail_at(P, start, "bad number");
        enode *n = enew(P, EN_NUM, start, i);
        if (n)
            n->num = v;
        P->pos = i;
        return n;
    }
    if (is_ident_start(c)) {
        size_t i = P->pos;
        while (i < P->end &&
               (is_ident(P->s[i]) || ((P->s[i] == '.' || P->s[i] == ':') && i + 1 < P->end &&
                                      is_ident(P->s[i + 1]))))
            i++;
        size_t nlen = i - start;
        P->pos = i;
        const char *name = dup_n(P, P->s + start, nlen);
        if (!name)
            return NULL;
        skip_ws(P);
        if (peek(P) == '(') {
            P->pos++;
            enode *n = enew(P, EN_CALL, start, P->pos);
            if (!n)
                return NULL;
            n->str = name;
            n->str_len = nlen;
            enode *args[64];
            size_t na = 0;
            skip_ws(P);
            if (peek(P) != ')') {
                for (;;) {
                    if (na == 64)
                        return fail_at(P, start, "too many function arguments");
                    P->depth++;
                    enode *a = e_or(P);
                    P->depth--;
                    if (!a)
                        return NULL;
                    args[na++] = a;
                    skip_ws(P);
                    if (peek(P) == ',') {
                        P->pos++;
                        continue;
                    }
                    break;
                }
            }
            skip_ws(P);
            if (peek(P) != ')')
                return fail_at(P, start, "unbalanced parenthesis: call of %s() is not closed",
                               name);
            P->pos++;
            n->end = P->pos;
            n->nargs = na;
            if (na) {
                n->args = alloc0(P, na * sizeof *n->args);
                if (!n->args)
                    return NULL;
                memcpy(n->args, args, na * sizeof *args);
            }
            return n;
        }
        if ((nlen == 4 && strncmp(name, "true", 4) == 0) ||
            (nlen == 5 && strncmp(name, "false", 5) == 0)) {
            enode *n = enew(P, EN_BOOL, start, start + nlen);
            if (n)
                n->num = nlen == 4;
            return n;
        }
        enode *n = enew(P, EN_FIELD, start, start + nlen);
        if (n) {
            n->str = name;
            n->str_len = nlen;
        }
        return n;
    }
    if (c == 0)
        return fail_at(P, start, "expression ends too early");
    if (c == ')')
        return fail_at(P, start, "unbalanced parenthesis: ')' without '('");
    return fail_at(P, start, "unexpected '%c' in expression", c);
}

static enode *e_unary(parser *P) {
    skip_ws(P);
    size_t start = P->pos;
    if (peek(P) == '-') {
        P->pos++;
        if (++P->depth > ESC_SPL_MAX_NEST)
            return fail_at(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
        enode *in = e_unary(P);
        P->depth--;
        if (!in)
            return NULL;
        enode *n = enew(P, EN_UN, start, in->end);
        if (!n)
            return NULL;
        n->op = EOP_NEG;
        n->args = alloc0(P, sizeof *n->args);
        if (!n->args)
            return NULL;
        n->args[0] = in;
        n->nargs = 1;
        return n;
    }
    return e_prim(P);
}

static enode *e_mul(parser *P) {
    enode *l = e_unary(P);
    for (;;) {
        if (!l)
            return NULL;
        skip_ws(P);
        char c = peek(P);
        eop op;
        if (c == '*')
            op = EOP_MUL;
        else if (c == '/')
            op = EOP_DIV;
        else if (c == '%')
            op = EOP_MOD;
        else
            return l;
        P->pos++;
        l = ebin(P, op, l, e_unary(P));
    }
}

static enode *e_add(parser *P) {
    enode *l = e_mul(P);
    for (;;) {
        if (!l)
            return NULL;
        skip_ws(P);
        char c = peek(P);
        eop op;
        if (c == '+')
            op = EOP_ADD;
        else if (c == '-')
            op = EOP_SUB;
        else if (c == '.')
            op = EOP_CONCAT;
        else
            return l;
        P->pos++;
        l = ebin(P, op, l, e_mul(P));
    }
}

static enode *e_cmp(parser *P) {
    enode *l = e_add(P);
    if (!l)
        return NULL;
    skip_ws(P);
    char c = peek(P), c2 = P->pos + 1 < P->end ? P->s[P->pos + 1] : 0;
    eop op;
    size_t n = 1;
    if (c == '=')
        op = EOP_EQ, n = c2 == '=' ? 2 : 1;
    else if (c == '!' && c2 == '=')
        op = EOP_NE, n = 2;
    else if (c == '<')
        op = c2 == '=' ? EOP_LE : EOP_LT, n = c2 == '=' ? 2 : 1;
    else if (c == '>')
        op = c2 == '=' ? EOP_GE : EOP_GT, n = c2 == '=' ? 2 : 1;
    else if (kw_at(P, "LIKE", true))
        op = EOP_LIKE, n = 4;
    else if (kw_at(P, "IN", true)) {
        /* x IN (a, b) == x=a OR x=b */
        size_t at = P->pos;
        P->pos += 2;
        skip_ws(P);
        if (peek(P) != '(')
            return fail_at(P, at, "expected '(' after IN");
        P->pos++;
        enode *acc = NULL;
        for (;;) {
            skip_ws(P);
            if (peek(P) == ')') {
                P->pos++;
                break;
            }
            if (P->pos >= P->end)
                return fail_at(P, at, "unbalanced parenthesis: IN list is not closed");
            enode *v = e_add(P);
            if (!v)
                return NULL;
            enode *eq = ebin(P, EOP_EQ, l, v);
            acc = acc ? ebin(P, EOP_OR, acc, eq) : eq;
            if (!acc)
                return NULL;
            skip_ws(P);
            if (peek(P) == ',')
                P->pos++;
        }
        if (!acc)
            return fail_at(P, at, "empty IN list");
        return acc;
    } else
        return l;
    P->pos += n;
    return ebin(P, op, l, e_add(P));
}

static enode *e_not(parser *P) {
    skip_ws(P);
    size_t start = P->pos;
    if (kw_at(P, "NOT", true)) {
        P->pos += 3;
        if (++P->depth > ESC_SPL_MAX_NEST)
            return fail_at(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
        enode *in = e_not(P);
        P->depth--;
        if (!in)
            return NULL;
        enode *n = enew(P, EN_UN, start, in->end);
        if (!n)
            return NULL;
        n->op = EOP_NOT;
        n->args = alloc0(P, sizeof *n->args);
        if (!n->args)
            return NULL;
        n->args[0] = in;
        n->nargs = 1;
        return n;
    }
    return e_cmp(P);
}

static enode *e_and(parser *P) {
    enode *l = e_not(P);
    while (l && accept_kw(P, "AND", true))
        l = ebin(P, EOP_AND, l, e_not(P));
    return l;
}

static enode *e_xor(parser *P) {
    enode *l = e_and(P);
    while (l && accept_kw(P, "XOR", true))
        l = ebin(P, EOP_XOR, l, e_and(P));
    return l;
}

static enode *e_or(parser *P) {
    enode *l = e_xor(P);
    while (l && accept_kw(P, "OR", true))
        l = ebin(P, EOP_OR, l, e_xor(P));
    return l;
}

/* ---- commands ---- */

static bool expect_end(parser *P, const char *cmd) {
    if (at_end(P))
        return true;
    fail_at(P, P->pos, "unexpected text in %s", cmd);
    return false;
}

static const struct {
    const char *name;
    aggfn fn;
} agg_names[] = {
    {"count", AGG_COUNT},   {"c", AGG_COUNT},          {"values", AGG_VALUES},
    {"list", AGG_LIST},     {"dc", AGG_DC},            {"distinct_count", AGG_DC},
    {"min", AGG_MIN},       {"max", AGG_MAX},          {"sum", AGG_SUM},
    {"avg", AGG_AVG},       {"mean", AGG_AVG},         {"earliest", AGG_EARLIEST},
    {"latest", AGG_LATEST},
};

static const char *const tstats_opts[] = {
    "summariesonly", "allow_old_summaries", "fillnull_value", "prestats", "local", "append",
    "chunk_size", "include_reduced_buckets", NULL,
};

/* Aggregates up to `from` (tstats) or `by`/end (stats). */
static bool parse_aggs(parser *P, stage *st, bool tstats) {
    aggspec tmp[64];
    size_t n = 0;
    for (;;) {
        skip_ws(P);
        if (at_end(P) || (tstats && kw_at(P, "from", true)) || kw_at(P, "by", true))
            break;
        size_t start = P->pos;
        size_t wl = run(P, "(=,\"");
        if (wl == 0) {
            fail_at(P, start, "expected an aggregate function");
            return false;
        }
        const char *w = P->s + start;
        if (peek(P) == '=') {
            if (!tstats) {
                fail_at(P, start, "unsupported stats option '%.*s'", (int)wl, w);
                return false;
            }
            size_t k;
            for (k = 0; tstats_opts[k]; k++)
                if (strlen(tstats_opts[k]) == wl && strncmp(tstats_opts[k], w, wl) == 0)
                    break;
            if (!tstats_opts[k]) {
                fail_at(P, start, "unsupported tstats option '%.*s'", (int)wl, w);
                return false;
            }
            P->pos++;
            size_t vl, vs;
            const char *v = word(P, "", &vl, &vs);
            if (!v) {
                if (!P->failed)
                    fail_at(P, start, "missing value for option '%.*s'", (int)wl, w);
                return false;
            }
            if (k == 2) {
                st->fillnull = (char *)v;
                st->fill = true;
            }
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof agg_names / sizeof agg_names[0]; k++)
            if (strlen(agg_names[k].name) == wl && strncmp(agg_names[k].name, w, wl) == 0)
                break;
        if (k == sizeof agg_names / sizeof agg_names[0]) {
            fail_at(P, start, "unsupported %s function '%.*s'", tstats ? "tstats" : "stats",
                    (int)wl, w);
            return false;
        }
        if (n == 64) {
            fail_at(P, start, "too many aggregates");
            return false;
        }
        aggspec *a = &tmp[n++];
        memset(a, 0, sizeof *a);
        a->fn = agg_names[k].fn;
        a->start = start;
        a->ref = FIELD_ABSENT;
        if (peek(P) == '(') {
            P->pos++;
            size_t fl, fs;
            const char *f = word(P, "()", &fl, &fs);
            skip_ws(P);
            if (!f || peek(P) != ')') {
                if (!P->failed)
                    fail_at(P, start, "expected %.*s(FIELD)", (int)wl, w);
                return false;
            }
            P->pos++;
            a->field = f;
            if (a->fn == AGG_COUNT)
                a->fn = AGG_COUNT_FIELD;
        } else if (a->fn != AGG_COUNT) {
            fail_at(P, start, "%.*s needs a field: %.*s(FIELD)", (int)wl, w, (int)wl, w);
            return false;
        }
        a->end = P->pos;
        char dname[300];
        snprintf(dname, sizeof dname, "%.*s", (int)(a->end - start), w);
        const char *as = NULL;
        if (accept_kw(P, "as", true)) {
            size_t al, as_;
            as = word(P, ",", &al, &as_);
            if (!as) {
                if (!P->failed)
                    fail_at(P, P->pos, "expected a name after 'as'");
                return false;
            }
        } else {
            as = dup_n(P, dname, strlen(dname));
            if (!as)
                return false;
        }
        a->as = as;
        skip_ws(P);
        if (peek(P) == ',')
            P->pos++;
    }
    if (n == 0 && !tstats) {
        fail_at(P, P->pos, "stats needs at least one aggregate");
        return false;
    }
    st->naggs = n;
    if (n) {
        st->aggs = alloc0(P, n * sizeof *st->aggs);
        if (!st->aggs)
            return false;
        memcpy(st->aggs, tmp, n * sizeof *tmp);
    }
    return true;
}

/* "10m", "1h", "30s", "1d", "2w", "5" (seconds). */
static bool parse_span(const char *v, int64_t *out) {
    int64_t n = 0;
    size_t i = 0;
    while (v[i] >= '0' && v[i] <= '9' && n < INT64_C(1000000000)) {
        n = n * 10 + (v[i] - '0');
        i++;
    }
    if (i == 0 || n == 0)
        return false;
    const char *u = v + i;
    int64_t mul;
    if (!*u || !strcmp(u, "s") || !strcmp(u, "sec") || !strcmp(u, "secs"))
        mul = 1;
    else if (!strcmp(u, "m") || !strcmp(u, "min") || !strcmp(u, "mins"))
        mul = 60;
    else if (!strcmp(u, "h") || !strcmp(u, "hr") || !strcmp(u, "hrs"))
        mul = 3600;
    else if (!strcmp(u, "d") || !strcmp(u, "day") || !strcmp(u, "days"))
        mul = 86400;
    else if (!strcmp(u, "w") || !strcmp(u, "week") || !strcmp(u, "weeks"))
        mul = 7 * 86400;
    else
        return false;
    *out = n * mul * ESC_US_PER_SEC;
    return true;
}

static bool parse_by(parser *P, stage *st) {
    byspec tmp[64];
    size_t n = 0;
    while (!at_end(P)) {
        if (n == 64) {
            fail_at(P, P->pos, "too many BY fields");
            return false;
        }
        size_t fl, fs;
        const char *f = word(P, ",=", &fl, &fs);
        if (!f) {
            if (!P->failed)
                fail_at(P, P->pos, "expected a field name");
            return false;
        }
        if (peek(P) == '=') {
            if (strcmp(f, "span") != 0) {
                fail_at(P, fs, "unsupported BY option '%s'", f);
                return false;
            }
            P->pos++;
            size_t vl, vs;
            const char *v = word(P, ",", &vl, &vs);
            if (!v || !parse_span(v, &st->span_us)) {
                if (!P->failed)
                    fail_at(P, v ? vs : fs, "bad span '%s' (expected N followed by s, m, h, d "
                            "or w)", v ? v : "");
                return false;
            }
            skip_ws(P);
            if (peek(P) == ',')
                P->pos++;
            continue;
        }
        tmp[n++] = (byspec){f, fs, P->pos, FIELD_ABSENT};
        skip_ws(P);
        if (peek(P) == ',')
            P->pos++;
    }
    if (n == 0) {
        fail_at(P, P->pos, "BY needs at least one field");
        return false;
    }
    st->by = alloc0(P, n * sizeof *st->by);
    if (!st->by)
        return false;
    memcpy(st->by, tmp, n * sizeof *tmp);
    st->nby = n;
    return true;
}

static bool parse_tstats(parser *P, stage *st) {
    if (!parse_aggs(P, st, true))
        return false;
    if (!accept_kw(P, "from", true)) {
        fail_at(P, st->start, "tstats needs 'from datamodel=Endpoint.Processes'");
        return false;
    }
    skip_ws(P);
    size_t at = P->pos;
    size_t wl = run(P, "=");
    if (!(wl == 9 && strncmp(P->s + at, "datamodel", 9) == 0) || peek(P) != '=') {
        fail_at(P, at, "expected datamodel=NAME after 'from'");
        return false;
    }
    P->pos++;
    size_t dl, ds;
    const char *dm = word(P, "", &dl, &ds);
    if (!dm) {
        if (!P->failed)
            fail_at(P, at, "expected datamodel=NAME after 'from'");
        return false;
    }
    if (strcmp(dm, "Endpoint.Processes") != 0) {
        fail_at(P, ds, "unsupported data model '%s' (only Endpoint.Processes)", dm);
        return false;
    }
    if (accept_kw(P, "where", true)) {
        sctx c = {true};
        st->where = s_and(P, &c);
        if (!st->where)
            return false;
    }
    if (accept_kw(P, "by", true) || accept_kw(P, "groupby", true)) {
        if (!parse_by(P, st))
            return false;
    }
    return expect_end(P, "tstats");
}

static bool parse_stats(parser *P, stage *st) {
    if (!parse_aggs(P, st, false))
        return false;
    if (accept_kw(P, "by", true) && !parse_by(P, st))
        return false;
    return expect_end(P, "stats");
}

static bool parse_rename(parser *P, stage *st) {
    rename_pair tmp[128];
    size_t n = 0;
    while (!at_end(P)) {
        if (n == 128) {
            fail_at(P, P->pos, "too many renames");
            return false;
        }
        size_t l1, s1, l2, s2;
        const char *from = word(P, ",", &l1, &s1);
        if (!from) {
            if (!P->failed)
                fail_at(P, P->pos, "expected a field name");
            return false;
        }
        if (!accept_kw(P, "as", true)) {
            fail_at(P, P->pos, "expected 'as' in rename");
            return false;
        }
        const char *to = word(P, ",", &l2, &s2);
        if (!to) {
            if (!P->failed)
                fail_at(P, P->pos, "expected a new name after 'as'");
            return false;
        }
        size_t sf = 0, st2 = 0;
        for (const char *c = from; *c; c++)
            sf += *c == '*';
        for (const char *c = to; *c; c++)
            st2 += *c == '*';
        if (st2 && st2 != sf) {
            fail_at(P, s1, "rename: wildcards of '%s' and '%s' do not correspond", from, to);
            return false;
        }
        tmp[n++] = (rename_pair){from, to, s1, P->pos};
        skip_ws(P);
        if (peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        fail_at(P, st->start, "rename needs 'FIELD as NAME'");
        return false;
    }
    st->pairs = alloc0(P, n * sizeof *tmp);
    if (!st->pairs)
        return false;
    memcpy(st->pairs, tmp, n * sizeof *tmp);
    st->npairs = n;
    return true;
}

static bool parse_convert(parser *P, stage *st) {
    convert_item tmp[64];
    size_t n = 0;
    st->timeformat = "%m/%d/%Y %H:%M:%S";
    while (!at_end(P)) {
        size_t start = P->pos;
        size_t wl = run(P, "=(");
        const char *w = P->s + start;
        if (peek(P) == '=') {
            if (!(wl == 10 && strncmp(w, "timeformat", 10) == 0)) {
                fail_at(P, start, "unsupported convert option '%.*s'", (int)wl, w);
                return false;
            }
            P->pos++;
            size_t vl, vs;
            st->timeformat = word(P, "", &vl, &vs);
            if (!st->timeformat) {
                if (!P->failed)
                    fail_at(P, start, "missing value for timeformat");
                return false;
            }
            continue;
        }
        if (!(wl == 5 && strncmp(w, "ctime", 5) == 0) || peek(P) != '(') {
            fail_at(P, start, "unsupported convert function '%.*s'", (int)wl, w);
            return false;
        }
        P->pos++;
        size_t fl, fs;
        const char *f = word(P, "()", &fl, &fs);
        skip_ws(P);
        if (!f || peek(P) != ')') {
            if (!P->failed)
                fail_at(P, start, "expected ctime(FIELD)");
            return false;
        }
        P->pos++;
        if (n == 64) {
            fail_at(P, start, "too many conversions");
            return false;
        }
        convert_item *ci = &tmp[n++];
        ci->field = f;
        ci->as = NULL;
        ci->start = start;
        if (accept_kw(P, "as", true)) {
            size_t al, as_;
            ci->as = word(P, ",", &al, &as_);
            if (!ci->as) {
                if (!P->failed)
                    fail_at(P, P->pos, "expected a name after 'as'");
                return false;
            }
        }
        ci->end = P->pos;
        skip_ws(P);
        if (peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        fail_at(P, st->start, "convert needs ctime(FIELD)");
        return false;
    }
    st->conv = alloc0(P, n * sizeof *tmp);
    if (!st->conv)
        return false;
    memcpy(st->conv, tmp, n * sizeof *tmp);
    st->nconv = n;
    return true;
}

static bool parse_names(parser *P, stage *st, bool allow_sign) {
    const char *tmp[256];
    size_t n = 0;
    skip_ws(P);
    if (allow_sign && (peek(P) == '-' || peek(P) == '+') && P->pos + 1 < P->end &&
        is_ws(P->s[P->pos + 1])) {
        st->remove = peek(P) == '-';
        P->pos++;
    }
    while (!at_end(P)) {
        if (n == 256) {
            fail_at(P, P->pos, "too many fields");
            return false;
        }
        size_t l, s;
        const char *f = word(P, ",=", &l, &s);
        if (!f) {
            if (!P->failed)
                fail_at(P, P->pos, "expected a field name");
            return false;
        }
        if (peek(P) == '=') {
            fail_at(P, s, "unsupported %s option '%s'", st->name, f);
            return false;
        }
        tmp[n++] = f;
        skip_ws(P);
        if (peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        fail_at(P, st->start, "%s needs at least one field", st->name);
        return false;
    }
    st->names = alloc0(P, n * sizeof *tmp);
    if (!st->names)
        return false;
    memcpy(st->names, tmp, n * sizeof *tmp);
    st->nnames = n;
    return true;
}

static bool parse_eval(parser *P, stage *st) {
    eval_item tmp[64];
    size_t n = 0;
    while (!at_end(P)) {
        if (n == 64) {
            fail_at(P, P->pos, "too many assignments");
            return false;
        }
        size_t start = P->pos, l, s;
        const char *name;
        if (peek(P) == '\'') {
            size_t i = P->pos + 1;
            while (i < P->end && P->s[i] != '\'')
                i++;
            if (i >= P->end) {
                fail_at(P, start, "unterminated field name");
                return false;
            }
            name = dup_n(P, P->s + start + 1, i - start - 1);
            P->pos = i + 1;
        } else {
            name = word(P, "=,()", &l, &s);
        }
        if (!name) {
            if (!P->failed)
                fail_at(P, start, "expected FIELD=EXPRESSION");
            return false;
        }
        skip_ws(P);
        if (peek(P) != '=' || (P->pos + 1 < P->end && P->s[P->pos + 1] == '=')) {
            fail_at(P, start, "expected FIELD=EXPRESSION");
            return false;
        }
        P->pos++;
        enode *e = e_or(P);
        if (!e)
            return false;
        tmp[n++] = (eval_item){name, -1, e, start, P->pos};
        skip_ws(P);
        if (peek(P) == ',')
            P->pos++;
        else if (!at_end(P)) {
            fail_at(P, P->pos, "unexpected text in eval");
            return false;
        }
    }
    if (!n) {
        fail_at(P, st->start, "eval needs FIELD=EXPRESSION");
        return false;
    }
    st->evals = alloc0(P, n * sizeof *tmp);
    if (!st->evals)
        return false;
    memcpy(st->evals, tmp, n * sizeof *tmp);
    st->nevals = n;
    return true;
}

static bool set_pattern(parser *P, stage *st, const char *v) {
    st->names = alloc0(P, sizeof *st->names);
    if (!st->names)
        return false;
    st->names[0] = v;
    st->nnames = 1;
    return true;
}

/* regex FIELD="PCRE" | regex FIELD!="PCRE". The string has the usual escapes (\\ and \"). */
static bool parse_regex(parser *P, stage *st) {
    skip_ws(P);
    size_t start = P->pos;
    if (peek(P) == '"') {
        fail_at(P, start, "regex without a field matches _raw, which tstats rows do not have");
        return false;
    }
    size_t fl = run(P, "!=");
    if (fl == 0 || (peek(P) != '=' && peek(P) != '!')) {
        fail_at(P, start, "expected FIELD=\"REGEX\"");
        return false;
    }
    st->regex_field = dup_n(P, P->s + start, fl);
    if (peek(P) == '!') {
        if (P->pos + 1 >= P->end || P->s[P->pos + 1] != '=') {
            fail_at(P, P->pos, "expected != or =");
            return false;
        }
        st->regex_neg = true;
        P->pos++;
    }
    P->pos++;
    size_t vl, vs;
    const char *v = word(P, "", &vl, &vs);
    if (!v) {
        if (!P->failed)
            fail_at(P, P->pos, "expected a regular expression");
        return false;
    }
    if (!set_pattern(P, st, v))
        return false;
    return expect_end(P, "regex");
}

/* rex [field=F] [max_match=1] "PCRE with (?<name>...) groups" */
static bool parse_rex(parser *P, stage *st) {
    st->regex_field = "_raw";
    const char *pat = NULL;
    while (!at_end(P)) {
        size_t start = P->pos;
        if (peek(P) == '"') {
            size_t vl;
            pat = quoted(P, &vl);
            if (!pat)
                return false;
            continue;
        }
        size_t wl = run(P, "=");
        if (peek(P) != '=') {
            fail_at(P, start, "expected option=value or a quoted regular expression");
            return false;
        }
        const char *w = P->s + start;
        P->pos++;
        size_t vl, vs;
        const char *v = word(P, "", &vl, &vs);
        if (!v) {
            if (!P->failed)
                fail_at(P, start, "missing value for option '%.*s'", (int)wl, w);
            return false;
        }
        if (wl == 5 && strncmp(w, "field", 5) == 0)
            st->regex_field = v;
        else if (wl == 9 && strncmp(w, "max_match", 9) == 0 && strcmp(v, "1") == 0)
            ;
        else {
            fail_at(P, start, "unsupported rex option '%.*s=%s'", (int)wl, w, v);
            return false;
        }
    }
    if (!pat) {
        fail_at(P, st->start, "rex needs a quoted regular expression");
        return false;
    }
    if (strcmp(st->regex_field, "_raw") == 0) {
        fail_at(P, st->start, "rex without field= reads _raw, which tstats rows do not have");
        return false;
    }
    return set_pattern(P, st, pat);
}

/* FIELD [AS NAME] lists of lookup, up to OUTPUT/OUTPUTNEW or the end. */
static bool lookup_fields(parser *P, lk_field **out, size_t *nout, bool inputs) {
    lk_field tmp[64];
    size_t n = 0;
    while (!at_end(P)) {
        if (inputs && (kw_at(P, "OUTPUT", true) || kw_at(P, "OUTPUTNEW", true)))
            break;
        if (n == 64) {
            fail_at(P, P->pos, "too many lookup fields");
            return false;
        }
        size_t l, s;
        const char *f = word(P, ",", &l, &s);
        if (!f) {
            if (!P->failed)
                fail_at(P, P->pos, "expected a field name");
            return false;
        }
        const char *as = f;
        if (accept_kw(P, "as", true)) {
            size_t l2, s2;
            as = word(P, ",", &l2, &s2);
            if (!as) {
                if (!P->failed)
                    fail_at(P, P->pos, "expected a name after 'as'");
                return false;
            }
        }
        tmp[n++] = (lk_field){f, as, -1, -1, s};
        skip_ws(P);
        if (peek(P) == ',')
            P->pos++;
    }
    if (n) {
        *out = alloc0(P, n * sizeof *tmp);
        if (!*out)
            return false;
        memcpy(*out, tmp, n * sizeof *tmp);
    }
    *nout = n;
    return true;
}

/* lookup [update=..] [local=..] NAME FIELD [AS F], ... [OUTPUT|OUTPUTNEW FIELD [AS F], ...] */
static bool parse_lookup(parser *P, stage *st) {
    for (;;) {
        skip_ws(P);
        size_t start = P->pos;
        size_t wl = run(P, "=,");
        if (wl == 0) {
            fail_at(P, start, "lookup needs a lookup name");
            return false;
        }
        if (peek(P) == '=') {
            const char *w = P->s + start;
            if (!((wl == 6 && strncmp(w, "update", 6) == 0) ||
                  (wl == 5 && strncmp(w, "local", 5) == 0))) {
                fail_at(P, start, "unsupported lookup option '%.*s'", (int)wl, w);
                return false;
            }
            P->pos++;
            size_t vl, vs;
            if (!word(P, "", &vl, &vs)) {
                if (!P->failed)
                    fail_at(P, start, "missing option value");
                return false;
            }
            continue;
        }
        st->lookup_name = dup_n(P, P->s + start, wl);
        st->lookup_start = start;
        if (!st->lookup_name)
            return false;
        break;
    }
    if (!lookup_fields(P, &st->lin, &st->nlin, true))
        return false;
    if (!st->nlin) {
        fail_at(P, st->lookup_start, "lookup needs an input field");
        return false;
    }
    if (accept_kw(P, "OUTPUTNEW", true))
        st->outputnew = true;
    else if (!accept_kw(P, "OUTPUT", true))
        return true;
    if (!lookup_fields(P, &st->lout, &st->nlout, false))
        return false;
    if (!st->nlout) {
        fail_at(P, P->pos, "OUTPUT needs a field");
        return false;
    }
    return true;
}

/* join [type=inner|left|outer] [max=N] [overwrite=BOOL] FIELD[, FIELD...] [SUBSEARCH] */
static bool parse_join(parser *P, stage *st) {
    const char *tmp[64];
    size_t n = 0;
    st->join_max = 1;
    st->join_overwrite = true;
    for (;;) {
        skip_ws(P);
        if (peek(P) == '[' || P->pos >= P->end)
            break;
        size_t start = P->pos;
        size_t wl = run(P, "=,[");
        if (wl == 0) {
            fail_at(P, start, "expected a join field");
            return false;
        }
        const char *w = P->s + start;
        if (peek(P) == '=') {
            P->pos++;
            size_t vl, vs;
            const char *v = word(P, "[", &vl, &vs);
            if (!v) {
                if (!P->failed)
                    fail_at(P, start, "missing option value");
                return false;
            }
            if (wl == 4 && strncmp(w, "type", 4) == 0 && strcmp(v, "inner") == 0)
                st->join_type = 0;
            else if (wl == 4 && strncmp(w, "type", 4) == 0 &&
                     (strcmp(v, "left") == 0 || strcmp(v, "outer") == 0))
                st->join_type = 1;
            else if (wl == 3 && strncmp(w, "max", 3) == 0 && v[0] >= '0' && v[0] <= '9' &&
                     strlen(v) < 9)
                st->join_max = (size_t)strtoul(v, NULL, 10);
            else if (wl == 9 && strncmp(w, "overwrite", 9) == 0 &&
                     (strcmp(v, "true") == 0 || strcmp(v, "false") == 0 ||
                      strcmp(v, "t") == 0 || strcmp(v, "f") == 0 || strcmp(v, "1") == 0 ||
                      strcmp(v, "0") == 0))
                st->join_overwrite = v[0] == 't' || v[0] == '1';
            else {
                fail_at(P, start, "unsupported join option '%.*s=%s'", (int)wl, w, v);
                return false;
            }
            continue;
        }
        if (n == 64) {
            fail_at(P, start, "too many join fields");
            return false;
        }
        tmp[n] = dup_n(P, w, wl);
        if (!tmp[n++])
            return false;
        skip_ws(P);
        if (peek(P) == ',')
            P->pos++;
    }
    if (!n) {
        fail_at(P, st->start, "join needs at least one field (joining on every field is not "
                              "supported)");
        return false;
    }
    if (peek(P) != '[') {
        fail_at(P, P->pos, "join needs a subsearch [...]");
        return false;
    }
    size_t open_at = P->pos;
    int depth = 0;
    bool q = false;
    size_t i = P->pos;
    for (; i < P->end; i++) {
        char c = P->s[i];
        if (q) {
            if (c == '\\' && i + 1 < P->end)
                i++;
            else if (c == '"')
                q = false;
            continue;
        }
        if (c == '"')
            q = true;
        else if (c == '[')
            depth++;
        else if (c == ']' && --depth == 0)
            break;
    }
    if (i >= P->end) {
        fail_at(P, open_at, "unbalanced bracket: '[' is not closed");
        return false;
    }
    st->sub_start = open_at + 1;
    st->sub_text = P->s + open_at + 1;
    st->sub_len = i - open_at - 1;
    P->pos = i + 1;
    st->names = alloc0(P, n * sizeof *tmp);
    if (!st->names)
        return false;
    memcpy(st->names, tmp, n * sizeof *tmp);
    st->nnames = n;
    if (!expect_end(P, "join"))
        return false;
    esc_status rc = spl_subplan(P->p, st, P->err);
    if (rc != ESC_OK) {
        P->failed = true;
        P->st = rc;
        return false;
    }
    return true;
}

static const struct {
    const char *name;
    stage_kind kind;
} commands[] = {
    {"tstats", ST_TSTATS}, {"rename", ST_RENAME}, {"convert", ST_CONVERT},
    {"search", ST_SEARCH}, {"where", ST_WHERE},   {"eval", ST_EVAL},
    {"fields", ST_FIELDS}, {"table", ST_TABLE},   {"dedup", ST_DEDUP},
    {"stats", ST_STATS},   {"regex", ST_REGEX},   {"rex", ST_REX},
    {"eventstats", ST_EVENTSTATS}, {"lookup", ST_LOOKUP},   {"join", ST_JOIN},
};

static bool parse_command(parser *P, stage *st, size_t index) {
    skip_ws(P);
    size_t start = P->pos;
    size_t wl = run(P, "(=\",");
    st->start = start;
    st->end = P->end;
    if (wl == 0) {
        fail_at(P, start, index ? "empty command after '|'" : "empty search");
        return false;
    }
    st->name = dup_n(P, P->s + start, wl);
    if (!st->name)
        return false;
    size_t k;
    for (k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strlen(commands[k].name) == wl && strncmp(commands[k].name, P->s + start, wl) == 0)
            break;
    if (k == sizeof commands / sizeof commands[0]) {
        fail_at(P, start, "unsupported command '%s'", st->name);
        return false;
    }
    st->kind = commands[k].kind;
    if (index == 0 && st->kind != ST_TSTATS) {
        fail_at(P, start, "unsupported search: it must start with '| tstats'");
        return false;
    }
    if (index > 0 && st->kind == ST_TSTATS) {
        fail_at(P, start, "tstats must be the first command");
        return false;
    }
    switch (st->kind) {
    case ST_TSTATS: return parse_tstats(P, st);
    case ST_STATS: return parse_stats(P, st);
    case ST_RENAME: return parse_rename(P, st);
    case ST_CONVERT: return parse_convert(P, st);
    case ST_SEARCH: {
        if (at_end(P))
            return true;
        sctx c = {false};
        st->where = s_and(P, &c);
        if (!st->where)
            return false;
        if (peek(P) == ')') {
            fail_at(P, P->pos, "unbalanced parenthesis: ')' without '('");
            return false;
        }
        return expect_end(P, "search");
    }
    case ST_WHERE:
        if (at_end(P)) {
            fail_at(P, start, "where needs an expression");
            return false;
        }
        st->cond = e_or(P);
        if (!st->cond)
            return false;
        if (peek(P) == ')') {
            fail_at(P, P->pos, "unbalanced parenthesis: ')' without '('");
            return false;
        }
        return expect_end(P, "where");
    case ST_EVAL: return parse_eval(P, st);
    case ST_FIELDS: return parse_names(P, st, true);
    case ST_TABLE: return parse_names(P, st, false);
    case ST_DEDUP: {
        skip_ws(P);
        if (peek(P) >= '0' && peek(P) <= '9') {
            fail_at(P, P->pos, "dedup with a count is not supported");
            return false;
        }
        return parse_names(P, st, false);
    }
    case ST_REGEX: return parse_regex(P, st);
    case ST_REX: return parse_rex(P, st);
    case ST_EVENTSTATS: return parse_stats(P, st);
    case ST_LOOKUP: return parse_lookup(P, st);
    case ST_JOIN: return parse_join(P, st);
    }
    return false;
}

esc_status spl_parse(esc_plan *p, esc_error *err) {
    parser P;
    memset(&P, 0, sizeof P);
    P.p = p;
    P.s = p->expanded;
    P.err = err;
    size_t n = strlen(P.s);
    size_t cuts[ESC_SPL_MAX_STAGES + 1];
    size_t ncut = 0;
    /* split on '|' outside quotes and brackets; a leading '|' is optional */
    size_t i = 0;
    while (i < n && is_ws(P.s[i]))
        i++;
    if (i < n && P.s[i] == '|')
        i++;
    cuts[ncut++] = i;
    bool quote = false;
    int bracket = 0;
    for (; i < n; i++) {
        char c = P.s[i];
        if (quote) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '"')
                quote = false;
            continue;
        }
        if (c == '"')
            quote = true;
        else if (c == '[')
            bracket++;
        else if (c == ']' && bracket > 0)
            bracket--;
        else if (c == '|' && bracket == 0) {
            if (ncut == ESC_SPL_MAX_STAGES)
                return esc_error_at(err, ESC_ELIMIT, NULL, i, "more than %d commands",
                                    ESC_SPL_MAX_STAGES);
            cuts[ncut++] = i + 1;
        }
    }
    if (quote) {
        /* find the opening quote for the caret */
        size_t q = 0;
        bool in = false;
        for (size_t j = 0; j < n; j++) {
            if (in && P.s[j] == '\\' && j + 1 < n) {
                j++;
                continue;
            }
            if (P.s[j] == '"') {
                if (!in)
                    q = j;
                in = !in;
            }
        }
        return esc_error_at(err, ESC_ECONTENT, NULL, q, "unterminated string");
    }
    p->stages = esc_arena_alloc(&p->arena, ncut * sizeof *p->stages);
    if (!p->stages)
        return esc_error_set(err, ESC_ENOMEM, "out of memory parsing the search");
    memset(p->stages, 0, ncut * sizeof *p->stages);
    for (size_t k = 0; k < ncut; k++) {
        P.pos = cuts[k];
        P.end = k + 1 < ncut ? cuts[k + 1] - 1 : n;
        P.depth = 0;
        if (!parse_command(&P, &p->stages[k], k))
            return P.st ? P.st : ESC_ECONTENT;
        p->nstages = k + 1;
    }
    return ESC_OK;
}
