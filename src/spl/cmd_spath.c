/* spath [input=F] [output=O] [path=P | P]: fields from the JSON or XML text of a field.
 *
 * Splunk's reference: Search Reference, "spath" (help.splunk.com/splunk-enterprise/
 * spl-search-reference/9.0/search-commands/spath): input defaults to _raw; with a path the value
 * at the path goes to output (default: a field named as the path); "a location path is composed
 * of one or more location steps, separated by periods ... a field name and an optional index
 * surrounded by curly brackets. The index can be an integer, to refer to the position of the
 * data in an array (this differs between JSON and XML), or a string, to refer to an XML
 * attribute" (`{@attr}`); `{}` is every element of a JSON array (`commits{}.author.name`).
 * Without a path spath auto-extracts: every leaf becomes a field named by its path, "subject to
 * any character read limits. The default limit is 5000 characters" (limits.conf [spath]
 * extraction_cutoff).
 *
 * Invariants: JSON array elements are steps `name{}` in auto-extracted names; a JSON index is
 * 0-based (the reference's example: `cooperative{1}` is the second game), an XML one 1-based
 * among same-named siblings (XPath's convention, docs/decisions.md); values repeated under one
 * name make a multivalue in document order; a path that names an object, array or element with
 * children gives its text as written; a path that is not there leaves output as it was. Only
 * columns the plan knows are written in auto-extract mode (the schema is static: the columns a
 * later command names, directly or through a later wildcard rename), never the input field.
 * Deliberately not done: namespaces (prefixes are kept in names), CDATA, comments inside
 * values, the input's second and later values (its first is read). Nesting deeper than
 * ESC_SPL_MAX_NEST stops the walk (the entries so far are kept). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "spl/cmd.h"

#define SPATH_CUTOFF 5000 /* auto-extract reads this many bytes (Splunk's extraction_cutoff) */
#define SPATH_MAX_ENTRIES 10000 /* entries of one document */

typedef struct spath_opts {
    const char *input, *output, *path;
} spath_opts;

/* One value found in a document: its indexed path ("a{0}.b", "Event.Data[2]{@Name}"), its value
 * (decoded), whether it is a leaf. */
typedef struct entry {
    char *path;
    char *val;
    bool leaf;
} entry;

typedef struct doc {
    entry *e;
    size_t n, cap;
    bool full;
} doc;

/* ---- parse ---- */

static bool parse_spath(spl_parser *P, stage *st) {
    spath_opts *o = spl_alloc0(P, sizeof *o);
    if (!o)
        return false;
    o->input = "_raw";
    st->opts = o;
    while (!spl_at_end(P)) {
        size_t at = P->pos;
        size_t wl = spl_bare(P, "=\"");
        if (spl_peek(P) == '=' && wl) {
            P->pos++;
            size_t vl, vs;
            const char *v = spl_word(P, "", &vl, &vs);
            if (!v)
                return spl_fail(P, at, "missing value for spath option '%.*s'", (int)wl,
                                P->s + at) != NULL;
            if (wl == 5 && !strncmp(P->s + at, "input", 5))
                o->input = v;
            else if (wl == 6 && !strncmp(P->s + at, "output", 6))
                o->output = v;
            else if (wl == 4 && !strncmp(P->s + at, "path", 4))
                o->path = v;
            else
                return spl_fail(P, at, "unsupported spath option '%.*s'", (int)wl, P->s + at) !=
                       NULL;
            continue;
        }
        P->pos = at;
        size_t vl, vs;
        const char *v = spl_word(P, "", &vl, &vs);
        if (!v || o->path)
            return spl_fail(P, at, "unexpected text in spath") != NULL;
        o->path = v; /* the first unlabeled argument is the path */
    }
    if (o->output && !o->path)
        return spl_fail(P, st->start, "spath output= needs a path") != NULL;
    return true;
}

/* ---- plan ---- */

static bool word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == ':' || c == '@' || c == '{' || c == '}';
}

static esc_status add_col(esc_plan *p, schema *s, const char *name, size_t len, esc_error *err) {
    char tmp[256];
    if (!len || len >= sizeof tmp)
        return ESC_OK;
    memcpy(tmp, name, len);
    tmp[len] = 0;
    if (spl_schema_find(s, tmp) >= 0)
        return ESC_OK;
    if (s->n >= ESC_SPL_MAX_COLUMNS)
        return esc_error_set(err, ESC_ELIMIT, "spath: more than %d columns", ESC_SPL_MAX_COLUMNS);
    const char *d = esc_arena_dup(&p->arena, esc_str_make(tmp, len)).ptr;
    if (!d)
        return spl_plan_oom(err);
    spl_schema_add(s, d);
    return ESC_OK;
}

/* The star text of pat (one '*') in w, or false. */
static bool star_match(const char *pat, const char *w, size_t wl, size_t *b, size_t *l) {
    const char *star = strchr(pat, '*');
    if (!star || strchr(star + 1, '*'))
        return false;
    size_t pre = (size_t)(star - pat), suf = strlen(star + 1);
    if (wl < pre + suf || memcmp(w, pat, pre) || memcmp(w + wl - suf, star + 1, suf))
        return false;
    *b = pre;
    *l = wl - pre - suf;
    return true;
}

/* Auto-extract: a column for each name-like word of the later commands, and for each one a
 * later wildcard rename makes (`rename RuleAndFileData.* as *`: RuleAndFileData.W for W) unless
 * W is already a column: the static rename would replace W by the extracted column even in rows
 * where spath found nothing, where Splunk's rename (of a field the event lacks) leaves W alone. */
static esc_status plan_auto(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    const char *s = p->expanded;
    size_t n = strlen(s), at = st->end;
    esc_status rc = ESC_OK;
    while (!rc && at < n) {
        while (at < n && !word_char(s[at]))
            at++;
        size_t b = at;
        while (at < n && word_char(s[at]))
            at++;
        if (at == b || (s[b] >= '0' && s[b] <= '9'))
            continue;
        char w[256];
        bool had = false; /* W is a column before spath: a rename onto it would replace it */
        if (at - b < sizeof w) {
            memcpy(w, s + b, at - b);
            w[at - b] = 0;
            had = spl_schema_find(in, w) >= 0;
        }
        rc = add_col(p, &st->out, s + b, at - b, err);
        for (size_t k = (size_t)(st - p->stages) + 1; !rc && k < p->nstages; k++) {
            const stage *r = &p->stages[k];
            if (r->cmd != &spl_cmd_rename)
                continue;
            for (size_t i = 0; !rc && i < r->npairs; i++) {
                size_t sb, sl;
                const char *fs = strchr(r->pairs[i].from, '*');
                if (had || !fs || !star_match(r->pairs[i].to, s + b, at - b, &sb, &sl))
                    continue;
                char name[256];
                int m = snprintf(name, sizeof name, "%.*s%.*s%s", (int)(fs - r->pairs[i].from),
                                 r->pairs[i].from, (int)sl, s + b + sb, fs + 1);
                if (m > 0 && (size_t)m < sizeof name)
                    rc = add_col(p, &st->out, name, (size_t)m, err);
            }
        }
    }
    return rc;
}

static esc_status plan_spath(esc_plan *p, stage *st, const schema *in, esc_error *err) {
    const spath_opts *o = st->opts;
    if (!spl_schema_copy(p, &st->out, in, ESC_SPL_MAX_COLUMNS) ||
        !(st->cols = esc_arena_alloc(&p->arena, 2 * sizeof *st->cols)))
        return spl_plan_oom(err);
    esc_status rc = ESC_OK;
    if (o->path) {
        const char *out = o->output ? o->output : o->path;
        rc = add_col(p, &st->out, out, strlen(out), err);
        st->cols[1] = spl_schema_find(&st->out, out);
    } else {
        rc = plan_auto(p, st, in, err);
        st->cols[1] = -1;
    }
    if (rc)
        return rc;
    st->cols[0] = spl_schema_find(in, o->input);
    for (size_t c = 0; c < st->out.n; c++)
        if ((int)c != st->cols[0] && (o->path ? (int)c == st->cols[1] : true)) {
            st->out.origin[c] = -1;
            if (o->path)
                st->out.mv[c] = false;
        }
    return ESC_OK;
}

/* ---- documents ---- */

static bool put(doc *d, const char *path, size_t pl, const char *v, size_t vl, bool leaf) {
    if (d->n == SPATH_MAX_ENTRIES) {
        d->full = true;
        return true;
    }
    if (d->n == d->cap && !ESC_VEC_GROW(d->e, d->cap, d->n + 1, 32))
        return false;
    entry *e = &d->e[d->n];
    e->path = esc_strndup(path, pl);
    e->val = esc_strndup(v, vl);
    e->leaf = leaf;
    if (!e->path || !e->val) {
        esc_free(e->path);
        esc_free(e->val);
        return false;
    }
    d->n++;
    return true;
}

static void doc_free(doc *d) {
    for (size_t i = 0; i < d->n; i++) {
        esc_free(d->e[i].path);
        esc_free(d->e[i].val);
    }
    esc_free(d->e);
}

typedef struct jp {
    const char *s;
    size_t n, i;
    doc *d;
    esc_buf path, val;
    bool oom;
} jp;

static void jws(jp *J) {
    while (J->i < J->n && spl_is_ws(J->s[J->i]))
        J->i++;
}

/* A JSON string at J->i into b (decoded; \u escapes of the BMP as UTF-8). */
static bool jstr(jp *J, esc_buf *b) {
    esc_buf_clear(b);
    if (J->i >= J->n || J->s[J->i] != '"')
        return false;
    for (J->i++; J->i < J->n; J->i++) {
        char c = J->s[J->i];
        if (c == '"') {
            J->i++;
            return true;
        }
        if (c == '\\' && J->i + 1 < J->n) {
            char e = J->s[++J->i];
            const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", e);
            if (e == 'u' && J->i + 4 < J->n) {
                unsigned cp = 0;
                if (sscanf(J->s + J->i + 1, "%4x", &cp) != 1)
                    return false;
                J->i += 4;
                char u[4];
                size_t k = 0;
                if (cp < 0x80)
                    u[k++] = (char)cp;
                else if (cp < 0x800)
                    u[k++] = (char)(0xC0 | cp >> 6), u[k++] = (char)(0x80 | (cp & 63));
                else
                    u[k++] = (char)(0xE0 | cp >> 12), u[k++] = (char)(0x80 | ((cp >> 6) & 63)),
                    u[k++] = (char)(0x80 | (cp & 63));
                if (esc_buf_append(b, u, k))
                    J->oom = true;
                continue;
            }
            if (!map || (map - "\"\"\\\\//b\bf\fn\nr\rt\t") % 2)
                return false;
            c = map[1];
        }
        if (esc_buf_putc(b, c))
            J->oom = true;
    }
    return false;
}

static bool jvalue(jp *J, int depth);

/* The members or elements of an object or array, J->path holding the container's path. */
static bool jcontainer(jp *J, int depth, bool arr) {
    size_t base = J->path.len;
    char close = arr ? ']' : '}';
    J->i++;
    jws(J);
    if (J->i < J->n && J->s[J->i] == close) {
        J->i++;
        return true;
    }
    for (size_t k = 0;; k++) {
        J->path.len = base;
        jws(J);
        if (arr) {
            char idx[24];
            int m = snprintf(idx, sizeof idx, "{%zu}", k);
            if (esc_buf_append(&J->path, idx, (size_t)m))
                J->oom = true;
        } else {
            esc_buf key = {0};
            bool ok = jstr(J, &key);
            if (ok && base && esc_buf_putc(&J->path, '.'))
                J->oom = true;
            if (ok && key.len && esc_buf_append(&J->path, key.ptr, key.len))
                J->oom = true;
            esc_buf_fini(&key);
            jws(J);
            if (!ok || J->i >= J->n || J->s[J->i] != ':')
                return false;
            J->i++;
        }
        if (!jvalue(J, depth + 1))
            return false;
        jws(J);
        if (J->i < J->n && J->s[J->i] == ',') {
            J->i++;
            continue;
        }
        J->path.len = base;
        if (J->i < J->n && J->s[J->i] == close) {
            J->i++;
            return true;
        }
        return false;
    }
}

static bool jvalue(jp *J, int depth) {
    jws(J);
    if (J->i >= J->n || depth > ESC_SPL_MAX_NEST || J->oom || J->d->full)
        return false;
    size_t start = J->i;
    char c = J->s[J->i];
    if (c == '{' || c == '[') {
        if (!jcontainer(J, depth, c == '['))
            return false;
        return put(J->d, J->path.ptr ? J->path.ptr : "", J->path.len, J->s + start, J->i - start,
                   false) ||
               (J->oom = true, false);
    }
    if (c == '"') {
        if (!jstr(J, &J->val))
            return false;
        return put(J->d, J->path.ptr ? J->path.ptr : "", J->path.len, J->val.ptr ? J->val.ptr : "",
                   J->val.len, true) ||
               (J->oom = true, false);
    }
    while (J->i < J->n && !strchr(",]} \t\r\n", J->s[J->i]))
        J->i++;
    if (J->i == start)
        return false;
    return put(J->d, J->path.ptr ? J->path.ptr : "", J->path.len, J->s + start, J->i - start,
               true) ||
           (J->oom = true, false);
}

/* XML: elements as path steps, a repeated name's Nth sibling step "name[N]", attributes
 * "{@a}"; an element holding only text is a leaf, one with children gives its inner text. */
typedef struct xp {
    const char *s;
    size_t n, i;
    doc *d;
    esc_buf path, val;
    bool oom;
} xp;

static bool xdecode(const char *s, size_t n, esc_buf *b) {
    static const char *const ent[][2] = {
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
    esc_buf_clear(b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '&') {
            const char *semi = memchr(s + i, ';', n - i);
            size_t el = semi ? (size_t)(semi - s) - i - 1 : 0;
            bool done = false;
            for (size_t k = 0; semi && !done && k < 5; k++)
                if (strlen(ent[k][0]) == el && !memcmp(s + i + 1, ent[k][0], el)) {
                    if (esc_buf_putc(b, ent[k][1][0]))
                        return false;
                    i += el + 1;
                    done = true;
                }
            if (done)
                continue;
        }
        if (esc_buf_putc(b, s[i]))
            return false;
    }
    return true;
}

static bool xelement(xp *X, int depth);

/* The children of the element whose start tag ended at X->i, up to its end tag. Returns the
 * offset of the end tag in *inner_end and whether a child element was seen. */
static bool xchildren(xp *X, int depth, const char *name, size_t nl, size_t *inner_end,
                      bool *kids) {
    size_t base = X->path.len;
    /* sibling counts per name: small linear table */
    const char *seen[64];
    size_t seen_l[64], seen_c[64], nseen = 0;
    for (;;) {
        while (X->i < X->n && X->s[X->i] != '<')
            X->i++;
        if (X->i + 1 >= X->n)
            return false;
        if (X->s[X->i + 1] == '/') {
            *inner_end = X->i;
            size_t e = X->i + 2;
            if (e + nl > X->n || memcmp(X->s + e, name, nl))
                return false;
            const char *gt = memchr(X->s + e, '>', X->n - e);
            if (!gt)
                return false;
            X->i = (size_t)(gt - X->s) + 1;
            X->path.len = base;
            return true;
        }
        if (X->s[X->i + 1] == '!' || X->s[X->i + 1] == '?') {
            const char *gt = memchr(X->s + X->i, '>', X->n - X->i);
            if (!gt)
                return false;
            X->i = (size_t)(gt - X->s) + 1;
            continue;
        }
        size_t ns = X->i + 1, ne = ns;
        while (ne < X->n && !strchr(" \t\r\n/>", X->s[ne]))
            ne++;
        size_t idx = 1, k;
        for (k = 0; k < nseen; k++)
            if (seen_l[k] == ne - ns && !memcmp(seen[k], X->s + ns, ne - ns))
                break;
        if (k < nseen)
            idx = ++seen_c[k];
        else if (nseen < 64) {
            seen[nseen] = X->s + ns, seen_l[nseen] = ne - ns, seen_c[nseen] = 1;
            nseen++;
        }
        X->path.len = base;
        char ix[24];
        int m = snprintf(ix, sizeof ix, "[%zu]", idx);
        if ((base && esc_buf_putc(&X->path, '.')) || esc_buf_append(&X->path, X->s + ns, ne - ns) ||
            esc_buf_append(&X->path, ix, (size_t)m))
            X->oom = true;
        *kids = true;
        if (!xelement(X, depth + 1))
            return false;
    }
}

/* The element at X->i ('<' of its start tag); X->path holds its step. */
static bool xelement(xp *X, int depth) {
    if (depth > ESC_SPL_MAX_NEST || X->oom || X->d->full)
        return false;
    size_t ns = X->i + 1, ne = ns;
    while (ne < X->n && !strchr(" \t\r\n/>", X->s[ne]))
        ne++;
    size_t at = ne, base = X->path.len;
    while (at < X->n && X->s[at] != '>' &&
           !(X->s[at] == '/' && at + 1 < X->n && X->s[at + 1] == '>')) {
        if (spl_is_ws(X->s[at])) {
            at++;
            continue;
        }
        size_t as = at;
        while (at < X->n && X->s[at] != '=' && !spl_is_ws(X->s[at]) && X->s[at] != '>')
            at++;
        size_t al = at - as;
        while (at < X->n && spl_is_ws(X->s[at]))
            at++;
        if (at >= X->n || X->s[at] != '=')
            continue;
        at++;
        while (at < X->n && spl_is_ws(X->s[at]))
            at++;
        if (at >= X->n || (X->s[at] != '"' && X->s[at] != '\''))
            return false;
        char q = X->s[at++];
        const char *end = memchr(X->s + at, q, X->n - at);
        if (!end)
            return false;
        X->path.len = base;
        if (esc_buf_append(&X->path, "{@", 2) || esc_buf_append(&X->path, X->s + as, al) ||
            esc_buf_putc(&X->path, '}') ||
            !xdecode(X->s + at, (size_t)(end - X->s) - at, &X->val) ||
            !put(X->d, X->path.ptr, X->path.len, X->val.ptr ? X->val.ptr : "", X->val.len, true))
            X->oom = true;
        at = (size_t)(end - X->s) + 1;
    }
    X->path.len = base;
    if (at >= X->n)
        return false;
    if (X->s[at] == '/') { /* empty element: no value */
        X->i = at + 2;
        return true;
    }
    X->i = at + 1;
    size_t inner = X->i, inner_end = 0;
    bool kids = false;
    if (!xchildren(X, depth, X->s + ns, ne - ns, &inner_end, &kids))
        return false;
    X->path.len = base;
    if (!kids && !xdecode(X->s + inner, inner_end - inner, &X->val))
        X->oom = true;
    const char *v = kids ? X->s + inner : X->val.ptr ? X->val.ptr : "";
    size_t vl = kids ? inner_end - inner : X->val.len;
    if (!X->oom && !put(X->d, X->path.ptr ? X->path.ptr : "", X->path.len, v, vl, !kids))
        X->oom = true;
    return !X->oom;
}

/* Fill d from text s[0..n); false only when out of memory (a malformed document keeps what was
 * read before the fault). */
static bool read_doc(const char *s, size_t n, doc *d) {
    size_t i = 0;
    while (i < n && spl_is_ws(s[i]))
        i++;
    bool ok = true;
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        jp J = {.s = s, .n = n, .i = i, .d = d};
        (void)jvalue(&J, 0);
        ok = !J.oom;
        esc_buf_fini(&J.path);
        esc_buf_fini(&J.val);
    } else if (i < n && s[i] == '<') {
        xp X = {.s = s, .n = n, .i = i, .d = d};
        while (X.i < n && !X.oom) { /* skip the prolog, comments; then the root element */
            while (X.i < n && s[X.i] != '<')
                X.i++;
            if (X.i + 1 >= n)
                break;
            if (s[X.i + 1] == '?' || s[X.i + 1] == '!') {
                const char *gt = memchr(s + X.i, '>', n - X.i);
                X.i = gt ? (size_t)(gt - s) + 1 : n;
                continue;
            }
            size_t ns = X.i + 1, ne = ns;
            while (ne < n && !strchr(" \t\r\n/>", s[ne]))
                ne++;
            if (esc_buf_append(&X.path, s + ns, ne - ns))
                X.oom = true;
            (void)xelement(&X, 0);
            break;
        }
        ok = !X.oom;
        esc_buf_fini(&X.path);
        esc_buf_fini(&X.val);
    }
    return ok;
}

/* ---- paths ---- */

/* The auto-extracted name of an indexed path: JSON indexes become {}, XML ones disappear. */
static size_t auto_name(const char *p, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; p[i] && o + 2 < cap; i++) {
        if (p[i] == '[') {
            while (p[i] && p[i] != ']')
                i++;
            if (!p[i])
                break;
            continue;
        }
        if (p[i] == '{' && p[i + 1] != '@') {
            while (p[i] && p[i] != '}')
                i++;
            out[o++] = '{';
            out[o++] = '}';
            if (!p[i])
                break;
            continue;
        }
        out[o++] = p[i];
    }
    out[o] = 0;
    return o;
}

/* Does the requested path q match the indexed path e? Step by step: names equal; `{}` any JSON
 * element, `{N}` JSON element N or XML sibling N, no index: no JSON element (any XML sibling);
 * `{@a}` the attribute. */
static bool path_match(const char *q, const char *e) {
    for (;;) {
        size_t qn = strcspn(q, ".{["), en = strcspn(e, ".{[");
        if (qn != en || memcmp(q, e, qn))
            return false;
        q += qn, e += en;
        while (*q == '{' || *e == '{' || *e == '[') {
            if (*e == '[') { /* an XML sibling index */
                size_t ix = (size_t)strtoul(e + 1, NULL, 10);
                e += strcspn(e, "]") + (strchr(e, ']') ? 1 : 0);
                if (*q == '{' && q[1] != '@' && q[1] != '}') {
                    if ((size_t)strtoul(q + 1, NULL, 10) != ix)
                        return false;
                    q += strcspn(q, "}") + (strchr(q, '}') ? 1 : 0);
                }
                continue;
            }
            if (*q != '{' || *e != '{')
                return false;
            size_t ql = strcspn(q, "}"), el = strcspn(e, "}");
            if (q[1] == '@' || e[1] == '@') {
                if (ql != el || memcmp(q, e, ql))
                    return false;
            } else if (ql > 1 && (ql != el || memcmp(q, e, ql))) {
                return false;
            }
            q += ql + (q[ql] ? 1 : 0);
            e += el + (e[el] ? 1 : 0);
        }
        if (!*q || !*e)
            return !*q && !*e;
        if (*q != '.' || *e != '.')
            return false;
        q++, e++;
    }
}

/* ---- run ---- */

static esc_status run_row(const stage *st, esc_cell *row, bool *touched, void *ctx) {
    (void)ctx;
    const spath_opts *o = st->opts;
    const char *s = row[st->cols[0]].v[0];
    size_t n = strlen(s);
    if (!o->path && n > SPATH_CUTOFF)
        n = SPATH_CUTOFF;
    doc d = {0};
    esc_status rc = read_doc(s, n, &d) ? ESC_OK : ESC_ENOMEM;
    char name[512];
    for (size_t i = 0; !rc && i < d.n; i++) {
        int c;
        if (o->path) {
            if (!path_match(o->path, d.e[i].path))
                continue;
            c = st->cols[1];
        } else {
            if (!d.e[i].leaf || !auto_name(d.e[i].path, name, sizeof name))
                continue;
            c = -1;
            for (size_t k = 0; c < 0 && k < st->out.n; k++)
                if ((int)k != st->cols[0] && !strcmp(st->out.name[k], name))
                    c = (int)k;
        }
        if (c >= 0)
            rc = spl_cell_add(&row[c], &touched[c], esc_str_c(d.e[i].val));
    }
    doc_free(&d);
    return rc;
}

static esc_status run_spath(const stage *st, spl_run *x, esc_error *err) {
    esc_table *t = x->t;
    esc_status wr = spl_table_widen(t, &st->out, err);
    if (wr != ESC_OK)
        return wr;
    return spl_run_text_rows(st, t, st->cols[0], run_row, NULL, err);
}

const spl_cmd spl_cmd_spath = {
    .name = "spath",
    .parse = parse_spath,
    .plan = plan_spath,
    .run = run_spath,
};
