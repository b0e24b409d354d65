/* Macro expansion: `name` and `name(a, b)` calls replaced by their definitions, recursively.
 *
 * Invariants: arguments are split on top-level commas (parentheses, brackets and double quotes
 * respected) and trimmed, and an argument that is one double-quoted string loses its quotes
 * (ESCU writes both `drop_dm_object_name(Processes)` and `drop_dm_object_name("Processes")`); a
 * macro's $arg$ tokens are replaced textually by the argument text before the result is expanded
 * again; the identity of a macro is (name, arity). Errors carry the byte offset of the outermost
 * call in the text given to esc_spl_expand (a nested failure points at the top-level call that led
 * to it, and the message names the chain). Limits: nesting depth ESC_SPL_MACRO_DEPTH, output
 * ESC_SPL_EXPAND_MAX bytes. Backticks inside double-quoted strings are text, not calls (ESCU writes
 * split(process,"`")). Three backticks open a comment up to the next three, replaced by one
 * space (Splunk's rule). Deliberately not done: Splunk's eval-based macros (iseval=1) and argument
 * validation expressions; a `<name>_filter` macro missing from the set is the caller's business. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "spl/spl.h"

#define MAX_ARGS 32

typedef struct frame {
    const char *name;
    size_t len;
    size_t nargs;
} frame;

typedef struct expander {
    const esc_macro_set *set;
    esc_buf out;
    frame stack[ESC_SPL_MACRO_DEPTH + 1];
    size_t depth;
    size_t top_off; /* offset of the current top-level call in the original text */
    esc_error *err;
} expander;

static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
}

static esc_status out_append(expander *e, const char *p, size_t n) {
    esc_status st = esc_buf_append(&e->out, p, n);
    if (st == ESC_ELIMIT)
        return esc_error_at(e->err, ESC_ELIMIT, NULL, e->top_off,
                            "macro expansion exceeds %d bytes", ESC_SPL_EXPAND_MAX);
    if (st != ESC_OK)
        return esc_error_set(e->err, st, "out of memory expanding macros");
    return ESC_OK;
}

static void chain(expander *e, char *dst, size_t cap) {
    size_t k = 0;
    dst[0] = 0;
    for (size_t i = 0; i < e->depth && k + 4 < cap; i++) {
        int n = snprintf(dst + k, cap - k, "%s%.*s", i ? " -> " : "", (int)e->stack[i].len,
                         e->stack[i].name);
        if (n < 0)
            break;
        k += (size_t)n;
        if (k >= cap) {
            k = cap - 1;
            break;
        }
    }
}

static esc_status expand_text(expander *e, const char *s, size_t n, bool top);

/* Substitute $arg$ in def with the given arguments into a fresh buffer. */
static esc_status substitute(expander *e, const esc_macro *m, const esc_str *args, esc_buf *dst) {
    const char *d = m->definition ? m->definition : "";
    size_t n = strlen(d);
    for (size_t i = 0; i < n;) {
        if (d[i] == '$') {
            size_t j = i + 1;
            while (j < n && d[j] != '$' && is_name_char(d[j]))
                j++;
            if (j < n && d[j] == '$' && j > i + 1) {
                size_t k;
                for (k = 0; k < m->nargs; k++) {
                    const char *an = m->args[k] ? m->args[k] : "";
                    if (strlen(an) == j - i - 1 && memcmp(an, d + i + 1, j - i - 1) == 0)
                        break;
                }
                if (k < m->nargs) {
                    if (esc_buf_append_str(dst, args[k]) != ESC_OK)
                        goto toolong;
                    i = j + 1;
                    continue;
                }
            }
        }
        if (esc_buf_putc(dst, d[i]) != ESC_OK)
            goto toolong;
        i++;
    }
    return ESC_OK;
toolong:
    return esc_error_at(e->err, ESC_ELIMIT, NULL, e->top_off, "macro expansion exceeds %d bytes",
                        ESC_SPL_EXPAND_MAX);
}

/* One call: text between the backticks is call[0..n). */
static esc_status expand_call(expander *e, const char *call, size_t n) {
    esc_str body = esc_str_trim(esc_str_make(call, n));
    size_t i = 0;
    while (i < body.len && body.ptr[i] != '(')
        i++;
    esc_str name = esc_str_trim(esc_str_make(body.ptr, i));
    esc_str args[MAX_ARGS];
    size_t nargs = 0;
    if (name.len == 0)
        return esc_error_at(e->err, ESC_ECONTENT, NULL, e->top_off, "empty macro call");
    if (i < body.len) {
        /* arguments: up to the matching ')' which must end the call */
        if (body.ptr[body.len - 1] != ')')
            return esc_error_at(e->err, ESC_ECONTENT, NULL, e->top_off,
                                "malformed call of macro '%.*s': text after ')'",
                                ESC_STR_FMT(name));
        const char *a = body.ptr + i + 1;
        size_t alen = body.len - i - 2, start = 0;
        int paren = 0, bracket = 0;
        bool quote = false;
        bool any = esc_str_trim(esc_str_make(a, alen)).len > 0;
        for (size_t k = 0; any && k <= alen; k++) {
            char c = k < alen ? a[k] : ',';
            if (quote) {
                if (c == '\\' && k + 1 < alen)
                    k++;
                else if (c == '"')
                    quote = false;
                continue;
            }
            if (c == '"')
                quote = true;
            else if (c == '(')
                paren++;
            else if (c == ')')
                paren--;
            else if (c == '[')
                bracket++;
            else if (c == ']')
                bracket--;
            else if (c == ',' && paren <= 0 && bracket <= 0) {
                if (nargs == MAX_ARGS)
                    return esc_error_at(e->err, ESC_ELIMIT, NULL, e->top_off,
                                        "macro '%.*s' called with more than %d arguments",
                                        ESC_STR_FMT(name), MAX_ARGS);
                esc_str arg = esc_str_trim(esc_str_make(a + start, k - start));
                /* `m("x")` passes x: one pair of enclosing quotes is dropped */
                if (arg.len >= 2 && arg.ptr[0] == '"' && arg.ptr[arg.len - 1] == '"' &&
                    !memchr(arg.ptr + 1, '"', arg.len - 2))
                    arg = esc_str_make(arg.ptr + 1, arg.len - 2);
                args[nargs++] = arg;
                start = k + 1;
            }
        }
    }
    const esc_macro *m = esc_macro_find(e->set, name.ptr, name.len, nargs);
    if (!m) {
        /* a definition with another arity makes a better message */
        if (e->set)
            for (size_t k = e->set->n; k > 0; k--) {
                const esc_macro *o = &e->set->items[k - 1];
                if (strlen(o->name) == name.len && memcmp(o->name, name.ptr, name.len) == 0)
                    return esc_error_at(e->err, ESC_ECONTENT, NULL, e->top_off,
                                        "macro '%.*s' takes %zu argument%s, called with %zu",
                                        ESC_STR_FMT(name), o->nargs, o->nargs == 1 ? "" : "s",
                                        nargs);
            }
        if (nargs)
            return esc_error_at(e->err, ESC_ECONTENT, NULL, e->top_off, "unknown macro '%.*s(%zu)'",
                                ESC_STR_FMT(name), nargs);
        return esc_error_at(e->err, ESC_ECONTENT, NULL, e->top_off, "unknown macro '%.*s'",
                            ESC_STR_FMT(name));
    }
    for (size_t k = 0; k < e->depth; k++) {
        if (e->stack[k].nargs == nargs && e->stack[k].len == name.len &&
            memcmp(e->stack[k].name, name.ptr, name.len) == 0) {
            char buf[300];
            chain(e, buf, sizeof buf);
            return esc_error_at(e->err, ESC_ECONTENT, NULL, e->top_off, "macro cycle: %s -> %.*s",
                                buf, ESC_STR_FMT(name));
        }
    }
    if (e->depth >= ESC_SPL_MACRO_DEPTH)
        return esc_error_at(e->err, ESC_ELIMIT, NULL, e->top_off,
                            "macro expansion nested deeper than %d", ESC_SPL_MACRO_DEPTH);
    esc_buf sub;
    esc_buf_init(&sub, ESC_SPL_EXPAND_MAX);
    esc_status st = substitute(e, m, args, &sub);
    if (st == ESC_OK) {
        e->stack[e->depth++] = (frame){name.ptr, name.len, nargs};
        st = expand_text(e, sub.ptr ? sub.ptr : "", sub.len, false);
        e->depth--;
    }
    esc_buf_fini(&sub);
    return st;
}

/* A ```comment``` at s[*i]: Splunk's Search Manual, "Add comments to searches": "The search
 * processor replaces comments with a space when the search is run". *i and *lit move past it. */
static esc_status comment(expander *e, const char *s, size_t n, size_t *i, size_t *lit, bool top) {
    if (top)
        e->top_off = *i;
    const char *end = memmem(s + *i + 3, n - *i - 3, "```", 3);
    if (!end)
        return esc_error_at(e->err, ESC_ECONTENT, NULL, e->top_off,
                            "unterminated comment (no closing ```)");
    esc_status st = out_append(e, s + *lit, *i - *lit);
    if (st == ESC_OK)
        st = out_append(e, " ", 1);
    *i = *lit = (size_t)(end - s) + 3;
    return st;
}

static esc_status expand_text(expander *e, const char *s, size_t n, bool top) {
    size_t i = 0, lit = 0;
    bool quote = false;
    while (i < n) {
        char c = s[i];
        if (quote) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '"')
                quote = false;
            i++;
            continue;
        }
        if (c == '"') {
            quote = true;
            i++;
            continue;
        }
        if (c != '`') {
            i++;
            continue;
        }
        if (n - i >= 3 && memcmp(s + i, "```", 3) == 0) {
            esc_status st = comment(e, s, n, &i, &lit, top);
            if (st != ESC_OK)
                return st;
            continue;
        }
        const char *close = memchr(s + i + 1, '`', n - i - 1);
        if (top)
            e->top_off = i;
        if (!close)
            return esc_error_at(e->err, ESC_ECONTENT, NULL, e->top_off,
                                "unterminated macro call (no closing backtick)");
        esc_status st = out_append(e, s + lit, i - lit);
        if (st != ESC_OK)
            return st;
        st = expand_call(e, s + i + 1, (size_t)(close - s) - i - 1);
        if (st != ESC_OK)
            return st;
        i = (size_t)(close - s) + 1;
        lit = i;
    }
    return out_append(e, s + lit, n - lit);
}

esc_status esc_spl_expand(const char *search, const esc_macro_set *macros, char **out,
                          esc_error *err) {
    expander e;
    memset(&e, 0, sizeof e);
    e.set = macros;
    e.err = err;
    *out = NULL;
    esc_buf_init(&e.out, ESC_SPL_EXPAND_MAX);
    esc_status st = expand_text(&e, search ? search : "", search ? strlen(search) : 0, true);
    if (st != ESC_OK)
        goto fail;
    if (!e.out.ptr && esc_buf_reserve(&e.out, 1) != ESC_OK) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory expanding macros");
        goto fail;
    }
    *out = esc_buf_take(&e.out);
    return ESC_OK;
fail:
    esc_buf_fini(&e.out);
    return st;
}
