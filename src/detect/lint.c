/* Support verdicts for loaded content (see lint.h for the rules and their order).
 *
 * The planner verdict is the engine's own: esc_engine_check plans each detection as
 * esc_engine_new does (macros and the content's lookups), so lint says "supported" exactly when
 * hunt would run it, and names the text its error offset points into. The data model
 * check is a scan of the expanded search for `datamodel=NAME` / `datamodel:NAME` (the dataset is
 * NAME's first two dotted parts); the span of a planner error is its offset plus the length of
 * the token esc_spl_caret underlines.
 *
 * Deliberately does not: print, run searches over data, or second-guess the planner (a search
 * that plans is taken to be implemented; its semantics are the SPL tests' business). */
#include "detect/lint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "detect/engine.h"
#include "spl/spl.h"

static const char *const mapped_sources[] = {
    "Sysmon EventID 1",
    "Windows Event Log Security 4688",
    "CrowdStrike ProcessRollup2",
};

bool esc_lint_source_mapped(const char *name) {
    if (!name)
        return false;
    while (isspace((unsigned char)*name))
        name++;
    size_t n = strlen(name);
    while (n && isspace((unsigned char)name[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof mapped_sources / sizeof mapped_sources[0]; i++)
        if (strlen(mapped_sources[i]) == n && strncasecmp(mapped_sources[i], name, n) == 0)
            return true;
    return false;
}

bool esc_lint_source_windows(const char *name) {
    static const char *const pre[] = {"Sysmon EventID", "Windows ", "Powershell", "CrowdStrike",
                                      "NTLM Operational"};
    if (!name)
        return false;
    while (isspace((unsigned char)*name))
        name++;
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        if (strncasecmp(name, pre[i], strlen(pre[i])) == 0)
            return true;
    return false;
}

static bool ident_char(char c) {
    return isalnum((unsigned char)c) || c == '_';
}

/* First data model other than Endpoint.Processes named in s: its [start, end) or false. */
static bool other_data_model(const char *s, bool supported_only, size_t *start, size_t *end) {
    static const char kw[] = "datamodel";
    size_t n = strlen(s), k = sizeof kw - 1;
    for (size_t i = 0; i + k <= n; i++) {
        if (strncasecmp(s + i, kw, k) != 0 || (i > 0 && ident_char(s[i - 1])))
            continue;
        size_t j = i + k;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j >= n || (s[j] != '=' && s[j] != ':'))
            continue;
        j++;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j < n && s[j] == '"')
            j++;
        size_t b = j, dots = 0, two = 0;
        while (j < n && (ident_char(s[j]) || s[j] == '.')) {
            if (s[j] == '.' && ++dots == 2)
                two = j;
            j++;
        }
        size_t e = two ? two : j;
        if (e == b)
            continue;
        static const char procs[] = "Endpoint.Processes";
        if (e - b == sizeof procs - 1 && strncasecmp(s + b, procs, e - b) == 0)
            continue;
        if (supported_only && esc_dm_lookup(esc_str_make(s + b, e - b)) >= 0)
            continue;
        *start = b;
        *end = e;
        return true;
    }
    return false;
}

static void verdict_fini(esc_lint_verdict *v) {
    esc_free(v->reason);
    esc_free(v->category);
    esc_free(v->text);
    esc_free(v->caret);
}

/* Span [off, end) of text (end 0: the token esc_spl_caret underlines at off) and its caret
 * rendering: the line holding off, then spaces and ^ under the span (cut at the line's end). */
static esc_status set_span(esc_lint_verdict *v, size_t off, size_t end) {
    const char *t = v->text ? v->text : "";
    size_t n = strlen(t);
    if (off > n)
        off = n;
    if (end <= off) {
        esc_error at = {0};
        at.has_offset = 1;
        at.offset = off;
        esc_buf cb;
        esc_buf_init(&cb, 0);
        if (esc_spl_caret(t, &at, &cb) != ESC_OK) {
            esc_buf_fini(&cb);
            return ESC_ENOMEM;
        }
        size_t carets = 0;
        for (size_t i = 0; i < cb.len; i++)
            carets += cb.ptr[i] == '^';
        esc_buf_fini(&cb);
        end = off + (carets ? carets : 1);
    }
    if (end > n)
        end = n > off ? n : off;
    v->has_span = true;
    v->span_start = off;
    v->span_end = end;
    size_t ls = off, le = off;
    while (ls > 0 && t[ls - 1] != '\n')
        ls--;
    while (le < n && t[le] != '\n')
        le++;
    esc_buf b;
    esc_buf_init(&b, 0);
    esc_buf_append(&b, t + ls, le - ls);
    esc_buf_putc(&b, '\n');
    for (size_t i = ls; i < off; i++)
        esc_buf_putc(&b, t[i] == '\t' ? '\t' : ' ');
    size_t stop = end < le ? end : le;
    for (size_t i = off; i < stop || i == off; i++)
        esc_buf_putc(&b, '^');
    esc_buf_putc(&b, '\n');
    v->caret = esc_buf_take(&b);
    return v->caret ? ESC_OK : ESC_ENOMEM;
}

static esc_status judge(const esc_content *c, const esc_detection *d, esc_lint_verdict *v) {
    esc_status st = ESC_OK;
    v->det = d;
    if (!d->search || !*d->search) {
        v->kind = ESC_LINT_NO_SEARCH;
        v->reason = esc_strdup("detection has no search");
        v->category = esc_strdup("detection has no search");
        return v->reason && v->category ? ESC_OK : ESC_ENOMEM;
    }
    esc_error xerr = {0};
    char *expanded = NULL;
    bool expanded_ok = esc_spl_expand(d->search, &c->macros, &expanded, &xerr) == ESC_OK;
    if (!expanded_ok) {
        esc_free(expanded);
        expanded = NULL;
        if (xerr.code == ESC_ENOMEM)
            return ESC_ENOMEM;
    }
    v->text = esc_strdup(expanded_ok ? expanded : d->search);
    esc_free(expanded);
    if (!v->text)
        return ESC_ENOMEM;

    /* 2. data model */
    size_t b, e;
    bool other_dm = other_data_model(v->text, false, &b, &e);
    bool unknown_dm = other_data_model(v->text, true, &b, &e);
    /* 3. sources */
    bool mapped = false, windows = d->data_sources.n > 0;
    for (size_t i = 0; i < d->data_sources.n; i++)
        mapped |= esc_lint_source_mapped(d->data_sources.v[i]);
    windows = windows && esc_lint_sources_ok(d);
    v->windows_processes = mapped && !other_dm;
    v->windows = windows;

    if (unknown_dm) {
        v->kind = ESC_LINT_DATA_MODEL;
        esc_buf r;
        esc_buf_init(&r, 0);
        esc_buf_printf(&r, "unsupported data model '%.*s'", (int)(e - b), v->text + b);
        v->reason = esc_buf_take(&r);
        v->category = v->reason ? esc_strdup(v->reason) : NULL;
        if (!v->reason || !v->category)
            return ESC_ENOMEM;
        return set_span(v, b, e);
    }
    if (!esc_lint_sources_ok(d)) {
        v->kind = ESC_LINT_UNMAPPED_SOURCE;
        esc_buf r;
        esc_buf_init(&r, 0);
        esc_buf_append_c(&r, "unmapped source: ");
        if (!d->data_sources.n)
            esc_buf_append_c(&r, "(no data_source)");
        for (size_t i = 0; i < d->data_sources.n; i++)
            esc_buf_printf(&r, "%s%s", i ? ", " : "", d->data_sources.v[i]);
        v->reason = esc_buf_take(&r);
        v->category = esc_strdup("unmapped source");
        return v->reason && v->category ? ESC_OK : ESC_ENOMEM;
    }

    /* 4. the engine's own verdict */
    esc_error perr = {0};
    char *err_text = NULL;
    st = esc_engine_check(c, d, &err_text, &perr);
    if (st == ESC_OK) {
        v->kind = ESC_LINT_SUPPORTED;
        v->supported = true;
        return ESC_OK;
    }
    if (st == ESC_ENOMEM) {
        esc_free(err_text);
        return st;
    }
    if (err_text) { /* the text the planner's offset points into */
        esc_free(v->text);
        v->text = err_text;
    }
    v->kind = ESC_LINT_UNSUPPORTED;
    const char *msg = perr.msg;
    size_t nl = d->name ? strlen(d->name) : 0;
    if (nl && strncmp(msg, d->name, nl) == 0 && strncmp(msg + nl, ": ", 2) == 0)
        msg += nl + 2;
    v->reason = esc_strdup(msg);
    /* The category drops a position the message may end with (" at offset N"). */
    size_t cl = strlen(msg);
    const char *p = strstr(msg, " at offset");
    if (p)
        cl = (size_t)(p - msg);
    v->category = esc_strndup(msg, cl);
    if (!v->reason || !v->category)
        return ESC_ENOMEM;
    if (perr.has_offset)
        return set_span(v, (size_t)perr.offset, 0);
    return ESC_OK;
}

static int count_cmp(const void *a, const void *b) {
    const esc_lint_count *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->category, y->category);
}

bool esc_lint_sources_ok(const esc_detection *d) {
    for (size_t i = 0; i < d->data_sources.n; i++)
        if (!esc_lint_source_windows(d->data_sources.v[i]))
            return false;
    return true;
}

esc_status esc_lint_run(const esc_content *c, esc_lint_report **out, esc_error *err) {
    esc_status st = ESC_ENOMEM;
    esc_lint_report *r = esc_calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        goto fail;
    r->v = esc_calloc(c->ndetections ? c->ndetections : 1, sizeof *r->v);
    r->by_reason = esc_calloc(c->ndetections ? c->ndetections : 1, sizeof *r->by_reason);
    if (!r->v || !r->by_reason)
        goto fail;
    for (size_t i = 0; i < c->ndetections; i++) {
        esc_lint_verdict *v = &r->v[i];
        r->n++;
        if ((st = judge(c, &c->detections[i], v)) != ESC_OK)
            goto fail;
        r->supported += v->supported;
        r->windows_processes += v->windows_processes;
        r->windows_processes_supported += v->windows_processes && v->supported;
        r->windows += v->windows;
        r->windows_supported += v->windows && v->supported;
        if (v->supported)
            continue;
        size_t k = 0;
        while (k < r->nby_reason && strcmp(r->by_reason[k].category, v->category) != 0)
            k++;
        if (k == r->nby_reason) {
            if (!(r->by_reason[k].category = esc_strdup(v->category))) {
                st = ESC_ENOMEM;
                goto fail;
            }
            r->nby_reason++;
        }
        r->by_reason[k].n++;
    }
    qsort(r->by_reason, r->nby_reason, sizeof *r->by_reason, count_cmp);
    *out = r;
    return ESC_OK;
fail:
    esc_lint_report_free(r);
    return esc_error_set(err, st ? st : ESC_ENOMEM, "lint: out of memory");
}

void esc_lint_report_free(esc_lint_report *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        verdict_fini(&r->v[i]);
    for (size_t i = 0; i < r->nby_reason; i++)
        esc_free(r->by_reason[i].category);
    esc_free(r->v);
    esc_free(r->by_reason);
    esc_free(r);
}

/* ---- partition locality ------------------------------------------------------------------ */

/* The commands of a search: [start, end) of each, split at the top-level pipes. */
static size_t split_commands(const char *s, size_t starts[], size_t ends[], size_t cap) {
    size_t n = 0, begin = 0, depth = 0;
    char quote = 0;
    for (size_t i = 0;; i++) {
        char c = s[i];
        if (c && quote) {
            if (c == '\\' && s[i + 1])
                i++;
            else if (c == quote)
                quote = 0;
            continue;
        }
        if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[' || c == '(') {
            depth++;
        } else if ((c == ']' || c == ')') && depth) {
            depth--;
        } else if (!c || (c == '|' && depth == 0)) {
            if (n < cap) {
                starts[n] = begin;
                ends[n++] = i;
            }
            begin = i + 1;
            if (!c)
                return n;
        }
    }
}

/* A word of [p, end) (letters, digits, _ . * -), from *i; false at the end. */
static bool next_word(const char *p, size_t end, size_t *i, size_t *ws, size_t *we) {
    while (*i < end && (isspace((unsigned char)p[*i]) || p[*i] == ','))
        (*i)++;
    if (*i >= end)
        return false;
    *ws = *i;
    char quote = 0;
    while (*i < end && (quote || !(isspace((unsigned char)p[*i]) || p[*i] == ','))) {
        if (quote && p[*i] == quote)
            quote = 0;
        else if (!quote && (p[*i] == '"' || p[*i] == '(' || p[*i] == '['))
            quote = p[*i] == '"' ? '"' : p[*i] == '(' ? ')' : ']';
        (*i)++;
    }
    *we = *i;
    return true;
}

static bool word_is(const char *p, size_t ws, size_t we, const char *w) {
    return we - ws == strlen(w) && strncasecmp(p + ws, w, we - ws) == 0;
}

/* The field names the key can have: KEY, or anything ending in ".KEY" (Processes.dest). */
static bool is_key(const char *p, size_t ws, size_t we, const char *key) {
    size_t k = strlen(key), n = we - ws;
    if (n == k)
        return strncmp(p + ws, key, k) == 0;
    return n > k && p[we - k - 1] == '.' && strncmp(p + we - k, key, k) == 0;
}

/* Whether the fields after "by" (or all the fields, for dedup and transaction) include key;
 * *grouped whether there is a grouping at all. */
static bool groups_by_key(const char *p, size_t i, size_t end, bool all_fields, const char *key,
                          bool *grouped) {
    size_t ws, we;
    bool in_by = all_fields;
    *grouped = false;
    while (next_word(p, end, &i, &ws, &we)) {
        if (!all_fields && word_is(p, ws, we, "by")) {
            in_by = true;
            continue;
        }
        if (!in_by || memchr(p + ws, '=', we - ws))
            continue;
        if (all_fields && (word_is(p, ws, we, "sortby") || word_is(p, ws, we, "keepevents")))
            break;
        if (!all_fields && (word_is(p, ws, we, "where") || word_is(p, ws, we, "from")))
            break;
        if ((p[ws] >= '0' && p[ws] <= '9') && all_fields)
            continue; /* dedup N fields */
        *grouped = true;
        if (is_key(p, ws, we, key))
            return true;
    }
    return false;
}

esc_status esc_lint_partition_local(const char *search, const char *key, bool *local, char **why) {
    static const char *const by_cmds[] = {
        "tstats", "stats", "eventstats", "streamstats", "sistats", "mstats", "chart",   "timechart",
        "top",    "rare",  "geostats",   "sitimechart", "sichart", "sitop",  "cluster", "xyseries"};
    static const char *const field_cmds[] = {"dedup", "transaction"};
    static const char *const global_cmds[] = {
        "head",       "tail",        "join",     "append",           "appendcols",
        "appendpipe", "inputlookup", "map",      "multisearch",      "union",
        "set",        "localize",    "selfjoin", "anomalydetection", "outlier"};
    size_t starts[256], ends[256];
    size_t n = split_commands(search, starts, ends, 256);
    *local = true;
    *why = NULL;
    char msg[512] = "";
    for (size_t c = 0; c < n && *local; c++) {
        size_t i = starts[c], ws, we;
        if (!next_word(search, ends[c], &i, &ws, &we))
            continue;
        int wl = (int)(we - ws);
        bool grouped = false;
        for (size_t k = 0; k < sizeof by_cmds / sizeof by_cmds[0] && *local; k++)
            if (word_is(search, ws, we, by_cmds[k]) &&
                !groups_by_key(search, i, ends[c], false, key, &grouped)) {
                *local = false;
                snprintf(msg, sizeof msg, "%.*s %s", wl, search + ws,
                         grouped ? "groups by fields without the key" : "has no by clause");
            }
        for (size_t k = 0; k < sizeof field_cmds / sizeof field_cmds[0] && *local; k++)
            if (word_is(search, ws, we, field_cmds[k]) &&
                !groups_by_key(search, i, ends[c], true, key, &grouped)) {
                *local = false;
                snprintf(msg, sizeof msg, "%.*s is not by the key", wl, search + ws);
            }
        for (size_t k = 0; k < sizeof global_cmds / sizeof global_cmds[0] && *local; k++)
            if (word_is(search, ws, we, global_cmds[k])) {
                *local = false;
                snprintf(msg, sizeof msg, "%.*s works over all the rows", wl, search + ws);
            }
        if (*local && word_is(search, ws, we, "sort")) { /* sort N / sort limit=N */
            size_t j = i, a, b;
            if (next_word(search, ends[c], &j, &a, &b) &&
                ((search[a] >= '0' && search[a] <= '9') || !strncasecmp(search + a, "limit=", 6))) {
                *local = false;
                snprintf(msg, sizeof msg, "sort with a limit keeps rows over all the hosts");
            }
        }
        if (!*local) {
            size_t l = strlen(msg);
            snprintf(msg + l, sizeof msg - l, " (command %zu)", c + 1);
        }
    }
    if (!*local && !(*why = esc_strdup(msg)))
        return ESC_ENOMEM;
    return ESC_OK;
}
