/* Lexing and parsing of the expanded search text into stages with byte-spanned AST nodes.
 *
 * The pipeline is split on '|' outside double quotes and square brackets; each command's word
 * is looked up in the registry (cmd.h) and its own parse hook reads the rest with the small
 * character-level lexer here (SPL's tokens depend on the command: `a=*b*` is one term in
 * `search`, `a=b` an assignment in `eval`). This file holds the lexer, the two expression
 * parsers every command shares (search terms, eval expressions) and the pipeline split.
 * Invariants: every node's span lies inside the expanded text; every string is unescaped into
 * the plan's arena (`\\` -> `\`, `\"` -> `"`, any other backslash kept); nesting is capped at
 * ESC_SPL_MAX_NEST and the pipeline at ESC_SPL_MAX_STAGES. Errors are ESC_ECONTENT with
 * err->offset at the culprit. Deliberately not done here: any command's own syntax
 * (cmd_*.c), name resolution against columns (plan.c) and any evaluation. Unsupported commands
 * and functions are errors that name them, for lint. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

/* ---- character helpers ---- */

void spl_skip_ws(spl_parser *P) {
    while (P->pos < P->end && spl_is_ws(P->s[P->pos]))
        P->pos++;
}

bool spl_at_end(spl_parser *P) {
    spl_skip_ws(P);
    return P->pos >= P->end;
}

void *spl_fail(spl_parser *P, size_t off, const char *fmt, ...) {
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

static void *nomem(spl_parser *P) {
    if (!P->failed) {
        esc_error_set(P->err, ESC_ENOMEM, "out of memory parsing the search");
        P->st = ESC_ENOMEM;
    }
    P->failed = true;
    return NULL;
}

void *spl_alloc0(spl_parser *P, size_t n) {
    void *m = esc_arena_alloc(&P->p->arena, n);
    if (!m)
        return nomem(P);
    memset(m, 0, n);
    return m;
}

const char *spl_dup(spl_parser *P, const char *s, size_t n) {
    esc_str d = esc_arena_dup(&P->p->arena, esc_str_make(s, n));
    if (!d.ptr)
        return nomem(P);
    return d.ptr;
}

/* Unescape s[0..n): \\ -> \, \" -> ", other backslashes kept. *out_len gets the length. */
static const char *unescape(spl_parser *P, const char *s, size_t n, size_t *out_len) {
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
const char *spl_quoted(spl_parser *P, size_t *len) {
    size_t start = P->pos;
    size_t i = P->pos + 1;
    while (i < P->end && P->s[i] != '"') {
        if (P->s[i] == '\\' && i + 1 < P->end)
            i++;
        i++;
    }
    if (i >= P->end)
        return spl_fail(P, start, "unterminated string");
    P->pos = i + 1;
    return unescape(P, P->s + start + 1, i - start - 1, len);
}

static bool is_delim(char c, const char *stops) {
    return c == 0 || spl_is_ws(c) || strchr(stops, c) != NULL;
}

/* A bare run of characters up to whitespace or one of stops. Returns its length. */
size_t spl_bare(spl_parser *P, const char *stops) {
    size_t start = P->pos;
    while (P->pos < P->end && !is_delim(P->s[P->pos], stops))
        P->pos++;
    return P->pos - start;
}

/* Does the text at pos start with keyword kw (ASCII case-insensitive when ci) followed by a
 * delimiter? */
bool spl_kw_at(spl_parser *P, const char *kw, bool ci) {
    size_t n = strlen(kw);
    if (P->pos + n > P->end)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = P->s[P->pos + i];
        if (ci ? esc_lower((unsigned char)c) != esc_lower((unsigned char)kw[i]) : c != kw[i])
            return false;
    }
    char after = P->pos + n < P->end ? P->s[P->pos + n] : 0;
    return after == 0 || spl_is_ws(after) || after == '(' || after == ')' || after == ',' ||
           after == '"';
}

bool spl_accept_kw(spl_parser *P, const char *kw, bool ci) {
    spl_skip_ws(P);
    if (!spl_kw_at(P, kw, ci))
        return false;
    P->pos += strlen(kw);
    return true;
}

/* A field name or value word: quoted or bare (stops at stops). */
const char *spl_word(spl_parser *P, const char *stops, size_t *len, size_t *start) {
    spl_skip_ws(P);
    *start = P->pos;
    if (spl_peek(P) == '"')
        return spl_quoted(P, len);
    size_t n = spl_bare(P, stops);
    if (n == 0)
        return NULL;
    return unescape(P, P->s + *start, n, len);
}

bool spl_expect_end(spl_parser *P, const char *cmd) {
    if (spl_at_end(P))
        return true;
    spl_fail(P, P->pos, "unexpected text in %s", cmd);
    return false;
}

/* ---- search expressions ---- */

typedef struct sctx {
    bool tstats; /* stop at the `by` keyword */
    bool raw;    /* a raw-event search: bare terms, TERM() and CASE() */
} sctx;

static snode *s_and(spl_parser *P, const sctx *c);

static snode *snew(spl_parser *P, snode_kind k, size_t start, size_t end) {
    if (++P->nodes > ESC_SPL_MAX_NODES)
        return spl_fail(P, start, "expression has more than %d terms", ESC_SPL_MAX_NODES);
    snode *n = spl_alloc0(P, sizeof *n);
    if (n) {
        n->kind = k;
        n->start = start;
        n->end = end;
        n->ref = FIELD_ABSENT;
    }
    return n;
}

static bool s_stop(spl_parser *P, const sctx *c) {
    if (spl_at_end(P) || spl_peek(P) == ')')
        return true;
    if (c->tstats && (spl_kw_at(P, "by", true) || spl_kw_at(P, "groupby", true)))
        return true;
    return false;
}

#define FIELD_STOPS "=!<>()\","

static snode *s_value_term(spl_parser *P, const char *field, size_t fstart, sop op, bool in_list) {
    size_t vlen = 0, vstart;
    spl_skip_ws(P);
    vstart = P->pos;
    const char *v;
    if (spl_peek(P) == '"') {
        v = spl_quoted(P, &vlen);
    } else {
        /* balanced parentheses inside a bare value belong to it: *GetCurrent()* */
        int depth = 0;
        while (P->pos < P->end) {
            char ch = P->s[P->pos];
            if (spl_is_ws(ch) || (in_list && ch == ',' && depth == 0))
                break;
            if (ch == '(')
                depth++;
            else if (ch == ')' && depth-- == 0)
                break;
            P->pos++;
        }
        size_t n = P->pos - vstart;
        if (n == 0)
            return spl_fail(P, vstart, "missing value after '%s'", field);
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

/* A bare term of a raw-event search: matched against _raw (match.c). */
static snode *s_term(spl_parser *P, const char *v, size_t len, size_t start) {
    snode *t = snew(P, SN_TERM, start, P->pos);
    if (t) {
        t->val = v;
        t->val_len = len;
    }
    return t;
}

/* TERM(x) / CASE(x): P->pos at '('. */
static snode *s_wrapped_term(spl_parser *P, const char *kw, size_t start) {
    size_t at = ++P->pos;
    while (P->pos < P->end && P->s[P->pos] != ')')
        P->pos++;
    if (P->pos >= P->end)
        return spl_fail(P, start, "unbalanced parenthesis: '%s(' is not closed", kw);
    size_t vlen;
    const char *v = unescape(P, P->s + at, P->pos - at, &vlen);
    P->pos++;
    if (!v)
        return NULL;
    if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
        v++, vlen -= 2;
    snode *t = s_term(P, v, vlen, start);
    if (t) {
        t->term_major = kw[0] == 'T';
        t->term_case = kw[0] == 'C';
    }
    return t;
}

static snode *s_join(spl_parser *P, snode_kind k, snode *l, snode *r, size_t start) {
    snode *n = snew(P, k, start, P->pos);
    if (n) {
        n->l = l;
        n->r = r;
    }
    return n;
}

/* One subsearch row as Splunk's format command writes it: (f1="v1" AND f2="v2"), a multivalue
 * cell an OR of its values, null cells left out; NULL (no error) for a row of nulls. */
static snode *s_sub_row(spl_parser *P, const esc_table *t, size_t r, size_t start) {
    snode *acc = NULL;
    for (size_t c = 0; c < t->ncols; c++) {
        const esc_cell *cell = esc_table_cell(t, r, c);
        snode *any = NULL;
        for (size_t i = 0; i < cell->n; i++) {
            snode *n = snew(P, SN_CMP, start, P->pos);
            if (!n)
                return NULL;
            n->field = spl_dup(P, t->cols[c], strlen(t->cols[c]));
            n->val = spl_dup(P, cell->v[i], strlen(cell->v[i]));
            n->val_len = strlen(cell->v[i]);
            n->op = SOP_EQ;
            if (!n->field || !n->val)
                return NULL;
            any = any ? s_join(P, SN_OR, any, n, start) : n;
            if (!any)
                return NULL;
        }
        if (any && !(acc = acc ? s_join(P, SN_AND, acc, any, start) : any))
            return NULL;
    }
    return acc;
}

/* A subsearch in a search expression that reads no records (`[| inputlookup ...]`): run while
 * the search is planned, its rows (at most ESC_SPL_SUBSEARCH_ROWS, Splunk's maxout) an OR of
 * one AND per row, as Splunk's implicit `format` writes them; no row matches nothing (format's
 * `NOT ()`). A subsearch that reads events is only supported as a `search`'s whole expression
 * (cmd_search.c runs it after the records). */
static snode *s_subsearch_now(spl_parser *P, size_t start) {
    stage tmp;
    memset(&tmp, 0, sizeof tmp);
    if (!spl_parse_subsearch(P, &tmp) || !spl_parse_subplan(P, &tmp))
        return NULL;
    esc_status rc = ESC_OK;
    snode *acc = NULL;
    esc_table *t = NULL;
    esc_exec *x = NULL;
    if (esc_plan_datasets(tmp.sub)) {
        spl_fail(P, start,
                 "a subsearch that reads events is supported only as the whole expression of "
                 "'| search [...]'");
        goto out;
    }
    if (!(x = esc_exec_new(tmp.sub, 0, ESC_TIME_MAX, P->err)) ||
        (rc = esc_exec_finish(x, &t, P->err)) != ESC_OK) {
        P->failed = true;
        P->st = rc ? rc : ESC_ENOMEM;
        goto out;
    }
    for (size_t r = 0; r < t->nrows && r < ESC_SPL_SUBSEARCH_ROWS && !P->failed; r++) {
        snode *row = s_sub_row(P, t, r, start);
        if (row)
            acc = acc ? s_join(P, SN_OR, acc, row, start) : row;
    }
    if (!acc && !P->failed && (acc = snew(P, SN_ALL, start, P->pos)) != NULL) {
        snode *no = snew(P, SN_NOT, start, P->pos);
        if (no)
            no->l = acc;
        acc = no;
    }
out:
    esc_table_free(t);
    esc_exec_free(x);
    esc_plan_free(tmp.sub);
    return P->failed ? NULL : acc;
}

/* At "in (" in any case (the search term's operator position). */
static bool in_list_at(spl_parser *P) {
    if (!spl_kw_at(P, "IN", true))
        return false;
    size_t i = P->pos + 2;
    while (i < P->end && spl_is_ws(P->s[i]))
        i++;
    return i < P->end && P->s[i] == '(';
}

static snode *s_prim(spl_parser *P, const sctx *c) {
    spl_skip_ws(P);
    size_t start = P->pos;
    if (P->depth > ESC_SPL_MAX_NEST)
        return spl_fail(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
    if (spl_peek(P) == '(') {
        P->pos++;
        P->depth++;
        snode *in = s_and(P, c);
        P->depth--;
        if (!in)
            return NULL;
        spl_skip_ws(P);
        if (spl_peek(P) != ')')
            return spl_fail(P, start, "unbalanced parenthesis: '(' is not closed");
        P->pos++;
        return in;
    }
    if (spl_peek(P) == '*' && is_delim(P->pos + 1 < P->end ? P->s[P->pos + 1] : 0, "()")) {
        P->pos++;
        return snew(P, SN_ALL, start, P->pos);
    }
    if (spl_peek(P) == '[')
        return s_subsearch_now(P, start);
    size_t flen, fstart;
    bool quoted = spl_peek(P) == '"';
    const char *field = spl_word(P, FIELD_STOPS, &flen, &fstart);
    if (field && c->raw && !quoted && (!strcmp(field, "TERM") || !strcmp(field, "CASE")) &&
        spl_peek(P) == '(')
        return s_wrapped_term(P, field, start);
    if (!field) {
        if (P->failed)
            return NULL;
        if (spl_peek(P) == ')')
            return spl_fail(P, start, "unbalanced parenthesis: ')' without '('");
        return spl_fail(P, start, "expected a search term");
    }
    spl_skip_ws(P);
    sop op;
    char ch = spl_peek(P), ch2 = P->pos + 1 < P->end ? P->s[P->pos + 1] : 0;
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
    } else if (spl_kw_at(P, "IN", false)) {
        size_t in_at = P->pos;
        P->pos += 2;
        spl_skip_ws(P);
        if (spl_peek(P) != '(')
            return spl_fail(P, in_at, "expected '(' after IN");
        P->pos++;
        snode *acc = NULL;
        for (;;) {
            spl_skip_ws(P);
            if (spl_peek(P) == ')') {
                P->pos++;
                break;
            }
            if (P->pos >= P->end)
                return spl_fail(P, in_at, "unbalanced parenthesis: IN list is not closed");
            if (spl_peek(P) == ',') {
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
            spl_skip_ws(P);
            if (spl_peek(P) == ',')
                P->pos++;
        }
        if (!acc)
            return spl_fail(P, in_at, "empty IN list");
        /* the span of every IN branch covers the whole term */
        return acc;
    } else if (in_list_at(P)) {
        /* "The IN operator must be in uppercase" (Splunk blog, "Smooth operator | Searching for
         * multiple field values"); a lower-case one before a list is a search term, refused here
         * rather than read as terms no event is likely to hold */
        return spl_fail(P, P->pos,
                        "'%.2s' is not an operator: the IN operator must be in upper case",
                        P->s + P->pos);
    } else {
        if (strcmp(field, "*") == 0)
            return snew(P, SN_ALL, start, P->pos);
        if (c->raw)
            return s_term(P, field, flen, start);
        return spl_fail(
            P, start, "search term '%s' has no field: only field=value terms are supported", field);
    }
    return s_value_term(P, field, fstart, op, false);
}

static snode *s_not(spl_parser *P, const sctx *c) {
    spl_skip_ws(P);
    size_t start = P->pos;
    if (spl_kw_at(P, "NOT", false)) {
        P->pos += 3;
        if (++P->depth > ESC_SPL_MAX_NEST)
            return spl_fail(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
        if (s_stop(P, c))
            return spl_fail(P, start, "NOT without an operand");
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

static snode *s_or(spl_parser *P, const sctx *c) {
    snode *l = s_not(P, c);
    while (l) {
        if (!spl_accept_kw(P, "OR", false))
            break;
        if (s_stop(P, c))
            return spl_fail(P, P->pos, "OR without a right operand");
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

static snode *s_and(spl_parser *P, const sctx *c) {
    snode *l = s_or(P, c);
    while (l && !s_stop(P, c)) {
        size_t at = P->pos;
        if (spl_accept_kw(P, "AND", false) && s_stop(P, c))
            return spl_fail(P, at, "AND without a right operand");
        if (spl_kw_at(P, "OR", false))
            return spl_fail(P, P->pos, "OR without a left operand");
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

static enode *e_or(spl_parser *P);

static enode *enew(spl_parser *P, enode_kind k, size_t start, size_t end) {
    if (++P->nodes > ESC_SPL_MAX_NODES)
        return spl_fail(P, start, "expression has more than %d terms", ESC_SPL_MAX_NODES);
    enode *n = spl_alloc0(P, sizeof *n);
    if (n) {
        n->kind = k;
        n->start = start;
        n->end = end;
        n->col = -1;
    }
    return n;
}

static enode *ebin(spl_parser *P, eop op, enode *l, enode *r) {
    if (!l || !r)
        return NULL;
    enode *n = enew(P, EN_BIN, l->start, r->end);
    if (!n)
        return NULL;
    n->op = op;
    n->args = spl_alloc0(P, 2 * sizeof *n->args);
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

/* A call name(args...): P->pos is at the '('. */
static enode *e_call(spl_parser *P, size_t start, const char *name, size_t nlen) {
    P->pos++;
    enode *n = enew(P, EN_CALL, start, P->pos);
    if (!n)
        return NULL;
    n->str = name;
    n->str_len = nlen;
    enode *args[ESC_SPL_MAX_ARGS];
    size_t na = 0;
    spl_skip_ws(P);
    if (spl_peek(P) != ')') {
        for (;;) {
            if (na == ESC_SPL_MAX_ARGS)
                return spl_fail(P, start, "too many function arguments");
            P->depth++;
            enode *a = e_or(P);
            P->depth--;
            if (!a)
                return NULL;
            args[na++] = a;
            spl_skip_ws(P);
            if (spl_peek(P) == ',') {
                P->pos++;
                continue;
            }
            break;
        }
    }
    spl_skip_ws(P);
    if (spl_peek(P) != ')')
        return spl_fail(P, start, "unbalanced parenthesis: call of %s() is not closed", name);
    P->pos++;
    n->end = P->pos;
    n->nargs = na;
    if (na) {
        n->args = spl_alloc0(P, na * sizeof *n->args);
        if (!n->args)
            return NULL;
        memcpy(n->args, args, na * sizeof *args);
    }
    return n;
}

static enode *e_prim(spl_parser *P) {
    spl_skip_ws(P);
    size_t start = P->pos;
    char c = spl_peek(P);
    if (P->depth > ESC_SPL_MAX_NEST)
        return spl_fail(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
    if (c == '(') {
        P->pos++;
        P->depth++;
        enode *in = e_or(P);
        P->depth--;
        if (!in)
            return NULL;
        spl_skip_ws(P);
        if (spl_peek(P) != ')')
            return spl_fail(P, start, "unbalanced parenthesis: '(' is not closed");
        P->pos++;
        return in;
    }
    if (c == '"') {
        size_t len;
        const char *s = spl_quoted(P, &len);
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
            return spl_fail(P, start, "unterminated field name");
        enode *n = enew(P, EN_FIELD, start, i + 1);
        if (!n)
            return NULL;
        n->str = spl_dup(P, P->s + start + 1, i - start - 1);
        n->str_len = i - start - 1;
        P->pos = i + 1;
        return n->str ? n : NULL;
    }
    if ((c >= '0' && c <= '9') ||
        (c == '.' && P->pos + 1 < P->end && P->s[P->pos + 1] >= '0' && P->s[P->pos + 1] <= '9')) {
        size_t i = P->pos;
        while (i < P->end &&
               ((P->s[i] >= '0' && P->s[i] <= '9') || P->s[i] == '.' || P->s[i] == 'e' ||
                P->s[i] == 'E' ||
                ((P->s[i] == '+' || P->s[i] == '-') && (P->s[i - 1] == 'e' || P->s[i - 1] == 'E'))))
            i++;
        double v;
        if (!spl_parse_num(P->s + start, i - start, &v))
            return spl_fail(P, start, "bad number");
        enode *n = enew(P, EN_NUM, start, i);
        if (n)
            n->num = v;
        P->pos = i;
        return n;
    }
    if (is_ident_start(c)) {
        size_t i = P->pos;
        /* '.' is the concatenation operator: a name holding one is written in single quotes
         * (Search Reference, "eval": "If the expression references a field name that contains
         * non-alphanumeric characters, ... surrounded by single quotation marks"). */
        while (i < P->end &&
               (is_ident(P->s[i]) || (P->s[i] == ':' && i + 1 < P->end && is_ident(P->s[i + 1]))))
            i++;
        size_t nlen = i - start;
        P->pos = i;
        const char *name = spl_dup(P, P->s + start, nlen);
        if (!name)
            return NULL;
        spl_skip_ws(P);
        if (spl_peek(P) == '(')
            return e_call(P, start, name, nlen);
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
        return spl_fail(P, start, "expression ends too early");
    if (c == ')')
        return spl_fail(P, start, "unbalanced parenthesis: ')' without '('");
    return spl_fail(P, start, "unexpected '%c' in expression", c);
}

/* The unary op (its operator read from start) applied to operand(P), one level deeper. */
static enode *e_prefixed(spl_parser *P, size_t start, eop op, enode *(*operand)(spl_parser *)) {
    if (++P->depth > ESC_SPL_MAX_NEST)
        return spl_fail(P, start, "expression nested deeper than %d", ESC_SPL_MAX_NEST);
    enode *in = operand(P);
    P->depth--;
    if (!in)
        return NULL;
    enode *n = enew(P, EN_UN, start, in->end);
    if (!n || !(n->args = spl_alloc0(P, sizeof *n->args)))
        return NULL;
    n->op = op;
    n->args[0] = in;
    n->nargs = 1;
    return n;
}

static enode *e_unary(spl_parser *P) {
    spl_skip_ws(P);
    size_t start = P->pos;
    if (spl_peek(P) == '-') {
        P->pos++;
        return e_prefixed(P, start, EOP_NEG, e_unary);
    }
    return e_prim(P);
}

/* A left-associative chain of operand(P) joined by one-character operators: ops[i] makes
 * codes[i]. */
static enode *e_chain(spl_parser *P, enode *(*operand)(spl_parser *), const char *ops,
                      const eop *codes) {
    enode *l = operand(P);
    for (;;) {
        if (!l)
            return NULL;
        spl_skip_ws(P);
        char c = spl_peek(P);
        const char *at = c ? strchr(ops, c) : NULL;
        if (!at)
            return l;
        P->pos++;
        l = ebin(P, codes[at - ops], l, operand(P));
    }
}

static enode *e_mul(spl_parser *P) {
    static const eop codes[] = {EOP_MUL, EOP_DIV, EOP_MOD};
    return e_chain(P, e_unary, "*/%", codes);
}

static enode *e_add(spl_parser *P) {
    static const eop codes[] = {EOP_ADD, EOP_SUB, EOP_CONCAT};
    return e_chain(P, e_mul, "+-.", codes);
}

static enode *e_cmp(spl_parser *P) {
    enode *l = e_add(P);
    if (!l)
        return NULL;
    spl_skip_ws(P);
    char c = spl_peek(P), c2 = P->pos + 1 < P->end ? P->s[P->pos + 1] : 0;
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
    else if (spl_kw_at(P, "LIKE", true))
        op = EOP_LIKE, n = 4;
    else if (spl_kw_at(P, "IN", true)) {
        /* x IN (a, b) == x=a OR x=b */
        size_t at = P->pos;
        P->pos += 2;
        spl_skip_ws(P);
        if (spl_peek(P) != '(')
            return spl_fail(P, at, "expected '(' after IN");
        P->pos++;
        enode *acc = NULL;
        for (;;) {
            spl_skip_ws(P);
            if (spl_peek(P) == ')') {
                P->pos++;
                break;
            }
            if (P->pos >= P->end)
                return spl_fail(P, at, "unbalanced parenthesis: IN list is not closed");
            enode *v = e_add(P);
            if (!v)
                return NULL;
            enode *eq = ebin(P, EOP_EQ, l, v);
            acc = acc ? ebin(P, EOP_OR, acc, eq) : eq;
            if (!acc)
                return NULL;
            spl_skip_ws(P);
            if (spl_peek(P) == ',')
                P->pos++;
        }
        if (!acc)
            return spl_fail(P, at, "empty IN list");
        return acc;
    } else
        return l;
    P->pos += n;
    return ebin(P, op, l, e_add(P));
}

static enode *e_not(spl_parser *P) {
    spl_skip_ws(P);
    size_t start = P->pos;
    if (spl_kw_at(P, "NOT", true)) {
        P->pos += 3;
        return e_prefixed(P, start, EOP_NOT, e_not);
    }
    return e_cmp(P);
}

/* A left-associative chain of operand(P) joined by the keyword kw, making op. */
static enode *e_kw_chain(spl_parser *P, enode *(*operand)(spl_parser *), const char *kw, eop op) {
    enode *l = operand(P);
    while (l && spl_accept_kw(P, kw, true))
        l = ebin(P, op, l, operand(P));
    return l;
}

static enode *e_and(spl_parser *P) {
    return e_kw_chain(P, e_not, "AND", EOP_AND);
}

static enode *e_xor(spl_parser *P) {
    return e_kw_chain(P, e_and, "XOR", EOP_XOR);
}

static enode *e_or(spl_parser *P) {
    return e_kw_chain(P, e_xor, "OR", EOP_OR);
}

snode *spl_parse_search(spl_parser *P, bool tstats) {
    sctx c = {tstats, false};
    return s_and(P, &c);
}

snode *spl_parse_search_raw(spl_parser *P) {
    sctx c = {false, true};
    return s_and(P, &c);
}

enode *spl_parse_expr(spl_parser *P) {
    return e_or(P);
}

bool spl_parse_subsearch(spl_parser *P, stage *st) {
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
        spl_fail(P, open_at, "unbalanced bracket: '[' is not closed");
        return false;
    }
    st->sub_start = open_at + 1;
    st->sub_text = P->s + open_at + 1;
    st->sub_len = i - open_at - 1;
    P->pos = i + 1;
    return true;
}

bool spl_parse_subplan(spl_parser *P, stage *st) {
    esc_status rc = spl_subplan(P->p, st, P->err);
    if (rc != ESC_OK) {
        P->failed = true;
        P->st = rc;
        return false;
    }
    return true;
}

/* ---- the pipeline ---- */

/* The commands of the bracketed subsearches in P->s[from, P->end) that escudo lacks too, as
 * " (its subsearch also uses 'map')", so that lint names everything missing at once. */
static void inner_unsupported(const spl_parser *P, size_t from, char *out, size_t cap) {
    bool q = false;
    int depth = 0;
    size_t n = 0, o = 0;
    for (size_t i = from; i < P->end && n < 4; i++) {
        char c = P->s[i];
        if (q) {
            q = !(c == '"' && P->s[i - 1] != '\\');
            continue;
        }
        if (c == '"' || c == '[' || c == ']') {
            q = c == '"';
            depth += c == '[' ? 1 : c == ']' ? -1 : 0;
            continue;
        }
        if (c != '|' || depth <= 0)
            continue;
        size_t b = i + 1;
        while (b < P->end && spl_is_ws(P->s[b]))
            b++;
        size_t e = b;
        while (e < P->end && ((P->s[e] >= 'a' && P->s[e] <= 'z') || P->s[e] == '_'))
            e++;
        if (e == b || spl_cmd_find(P->s + b, e - b))
            continue;
        int m = snprintf(out + o, cap - o, "%s'%.*s'", n ? ", " : " (its subsearch also uses ",
                         (int)(e - b), P->s + b);
        if (m < 0 || (size_t)m >= cap - o)
            break;
        o += (size_t)m;
        n++;
    }
    if (n && o + 2 < cap) {
        out[o++] = ')';
        out[o] = 0;
    } else {
        out[0] = 0;
    }
}

static bool parse_command(spl_parser *P, stage *st, size_t index, bool piped) {
    spl_skip_ws(P);
    size_t start = P->pos;
    size_t wl = spl_bare(P, "(=\",");
    if (index == 0 && (!piped || (wl == 6 && strncmp(P->s + start, "search", 6) == 0))) {
        /* a search that does not start with '|': a raw-event search (an explicit `search`
         * command word first is the same) */
        if (!(wl == 6 && strncmp(P->s + start, "search", 6) == 0))
            P->pos = start;
        st->start = start;
        st->end = P->end;
        st->name = "search";
        st->cmd = &spl_cmd_raw;
        return st->cmd->parse(P, st);
    }
    st->start = start;
    st->end = P->end;
    if (wl == 0) {
        spl_fail(P, start, index ? "empty command after '|'" : "empty search");
        return false;
    }
    st->name = spl_dup(P, P->s + start, wl);
    if (!st->name)
        return false;
    st->cmd = spl_cmd_find(P->s + start, wl);
    if (!st->cmd) {
        /* the first word of a search that is no command: a raw-event search ("sourcetype=x") */
        static const char *const ml[] = {"apply", "fit", "score", "summary", NULL};
        const char *why = "";
        for (size_t k = 0; ml[k]; k++)
            if (strcmp(ml[k], st->name) == 0)
                why = ": Machine Learning Toolkit models are not supported";
        char also[160] = "";
        if (!*why)
            inner_unsupported(P, start + wl, also, sizeof also);
        spl_fail(P, start, "unsupported command '%s'%s%s", st->name, why, also);
        return false;
    }
    bool source = st->cmd->flags & SPL_CMD_SOURCE;
    if (index == 0 && !source) {
        spl_fail(P, start, "unsupported search: it must start with '| tstats'");
        return false;
    }
    if (index > 0 && source) {
        spl_fail(P, start, "%s must be the first command", st->cmd->name);
        return false;
    }
    return st->cmd->parse(P, st);
}

esc_status spl_parse(esc_plan *p, esc_error *err) {
    spl_parser P;
    memset(&P, 0, sizeof P);
    P.p = p;
    P.s = p->expanded;
    P.err = err;
    size_t n = strlen(P.s);
    size_t cuts[ESC_SPL_MAX_STAGES + 1];
    size_t ncut = 0;
    /* split on '|' outside quotes and brackets; a leading '|' is optional */
    size_t i = 0;
    while (i < n && spl_is_ws(P.s[i]))
        i++;
    bool piped = i < n && P.s[i] == '|';
    if (piped)
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
    size_t first = p->pipe_in ? 1 : 0; /* a subpipeline: stage 0 is the results so far */
    p->stages = esc_arena_alloc(&p->arena, (ncut + first) * sizeof *p->stages);
    if (!p->stages)
        return esc_error_set(err, ESC_ENOMEM, "out of memory parsing the search");
    memset(p->stages, 0, (ncut + first) * sizeof *p->stages);
    if (first) {
        p->stages[0].cmd = &spl_cmd_pipein;
        p->stages[0].name = "appendpipe";
        p->nstages = 1;
    }
    for (size_t k = 0; k < ncut; k++) {
        P.pos = cuts[k];
        P.end = k + 1 < ncut ? cuts[k + 1] - 1 : n;
        P.depth = 0;
        if (!parse_command(&P, &p->stages[k + first], k + first, piped))
            return P.st ? P.st : ESC_ECONTENT;
        p->nstages = k + first + 1;
    }
    return ESC_OK;
}
