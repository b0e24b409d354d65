/* Detection tests with contentctl semantics (see ctest.h, docs/testing.md).
 *
 * Static validation plans the search through the engine (exactly as hunt does) and reads the
 * final columns from an execution over zero records (the result schema of a pipeline is static,
 * so no accessor on the plan is needed).
 * Unit and integration tests replay the attack data through the same hunt driver and actions
 * the `hunt` command uses, over all time ([0, +Infinity)), and capture the actions' events in
 * memory through a sink of our own.
 *
 * Invariants: every result owns its strings; at most ESC_CTEST_MAX_REASONS reasons are kept per
 * result; YAML files read by the scan are capped at SCAN_MAX_FILE bytes and SCAN_MAX_DEPTH
 * folder levels. Deliberately not done: downloading attack data (a missing file is a skip),
 * Splunk's own replay (files are read as files, with their original timestamps), checks that
 * need Splunk apps (lookups' contents, data model acceleration). Nothing here prints. */
#include "detect/ctest.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "act/act.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "detect/engine.h"
#include "content/yaml_tree.h"
#include "parse/json/json.h"
#include "sink/sink.h"
#include "spl/spl.h"

#define SCAN_MAX_FILE (4u << 20)
#define SCAN_MAX_DEPTH 16
#define SCAN_MAX_FILES 100000
#define REASON_MAX 2048
#define CAPTURE_MAX_EVENTS 1000000
#define LFS_MAGIC "version https://git-lfs.github.com/spec/"

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- report ------------------------------------------------------------------------------- */

void esc_ctest_report_init(esc_ctest_report *rep) {
    memset(rep, 0, sizeof *rep);
}

static void result_fini(esc_ctest_result *r) {
    esc_free(r->detection);
    esc_free(r->id);
    esc_free(r->path);
    esc_free(r->test_name);
    for (size_t i = 0; i < r->nreasons; i++)
        esc_free(r->reasons[i]);
    esc_free(r->reasons);
    memset(r, 0, sizeof *r);
}

void esc_ctest_report_fini(esc_ctest_report *rep) {
    if (!rep)
        return;
    for (size_t i = 0; i < rep->n; i++)
        result_fini(&rep->r[i]);
    esc_free(rep->r);
    memset(rep, 0, sizeof *rep);
}

static char *dup_or_null(const char *s, bool *oom) {
    if (!s)
        return NULL;
    char *d = esc_strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* A fresh result (outcome PASS until a reason is added). */
static esc_status result_begin(esc_ctest_result *r, const char *detection, const char *id,
                               const char *path, esc_ctest_kind kind, const char *test_name,
                               esc_error *err) {
    bool oom = false;
    memset(r, 0, sizeof *r);
    r->detection = dup_or_null(detection ? detection : "?", &oom);
    r->id = dup_or_null(id, &oom);
    r->path = dup_or_null(path, &oom);
    r->test_name = dup_or_null(test_name, &oom);
    r->kind = kind;
    r->outcome = ESC_CTEST_PASS;
    if (oom) {
        result_fini(r);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    return ESC_OK;
}

static esc_status reason_add(esc_ctest_result *r, esc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static esc_status reason_add(esc_ctest_result *r, esc_error *err, const char *fmt, ...) {
    if (r->nreasons == ESC_CTEST_MAX_REASONS) {
        r->more_reasons++;
        return ESC_OK;
    }
    char buf[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!r->reasons && !(r->reasons = esc_calloc(ESC_CTEST_MAX_REASONS, sizeof *r->reasons)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (!(r->reasons[r->nreasons] = esc_strdup(buf)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->nreasons++;
    return ESC_OK;
}

/* Move r into the report (r is left empty). */
static esc_status report_add(esc_ctest_report *rep, esc_ctest_result *r, esc_error *err) {
    size_t max = rep->max ? rep->max : ESC_CTEST_MAX_RESULTS;
    if (rep->n >= max) {
        result_fini(r);
        return esc_error_set(err, ESC_ELIMIT, "more than %zu test results", max);
    }
    if (rep->n == rep->cap) {
        size_t nc = rep->cap ? rep->cap * 2 : 64;
        esc_ctest_result *p = esc_realloc(rep->r, nc * sizeof *p);
        if (!p) {
            result_fini(r);
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        }
        rep->r = p;
        rep->cap = nc;
    }
    if (r->outcome == ESC_CTEST_PASS && r->nreasons)
        r->outcome = ESC_CTEST_FAIL;
    rep->r[rep->n++] = *r;
    rep->count[r->kind][r->outcome]++;
    memset(r, 0, sizeof *r);
    return ESC_OK;
}

const char *esc_ctest_kind_name(esc_ctest_kind k) {
    switch (k) {
    case ESC_CTEST_STATIC:
        return "static";
    case ESC_CTEST_UNIT:
        return "unit";
    case ESC_CTEST_INTEGRATION:
        return "integration";
    }
    return "?";
}

const char *esc_ctest_outcome_name(esc_ctest_outcome o) {
    switch (o) {
    case ESC_CTEST_PASS:
        return "pass";
    case ESC_CTEST_FAIL:
        return "fail";
    case ESC_CTEST_SKIP:
        return "skip";
    }
    return "?";
}

/* ---- helpers ------------------------------------------------------------------------------ */

static bool is_blank(const char *s) {
    if (!s)
        return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

static bool is_uuid(const char *s) {
    static const int groups[5] = {8, 4, 4, 4, 12};
    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, s++) {
            char c = *s;
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                return false;
        }
        if (g < 4 && *s++ != '-')
            return false;
    }
    return *s == 0;
}

static bool is_tok_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* Next $token$ in s from *pos: its name in [*start, *start + *len). */
static bool next_token(const char *s, size_t *pos, size_t *start, size_t *len) {
    for (size_t i = *pos; s[i]; i++) {
        if (s[i] != '$')
            continue;
        size_t j = i + 1;
        while (s[j] && is_tok_char(s[j]))
            j++;
        if (s[j] == '$' && j > i + 1) {
            *start = i + 1;
            *len = j - i - 1;
            *pos = j + 1;
            return true;
        }
    }
    return false;
}

static int table_col_n(const esc_table *t, const char *name, size_t n) {
    for (size_t i = 0; i < t->ncols; i++)
        if (strlen(t->cols[i]) == n && memcmp(t->cols[i], name, n) == 0)
            return (int)i;
    return -1;
}

/* The columns as "a, b, c" (truncated) for messages. */
static void cols_text(const esc_table *t, char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < t->ncols && n + 8 < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i ? ", " : "", t->cols[i]);
        if (w < 0 || (size_t)w >= cap - n) {
            snprintf(out + (cap > 5 ? cap - 5 : 0), cap > 5 ? 5 : cap, "...");
            return;
        }
        n += (size_t)w;
    }
}

static bool has_role(const esc_observable *o, const char *role) {
    for (size_t i = 0; i < o->roles.n; i++)
        if (strcasecmp(o->roles.v[i], role) == 0)
            return true;
    return false;
}

static int expected_score(const esc_detection *d) {
    if (d->impact >= 0 && d->confidence >= 0)
        return (int)lround((double)d->impact * (double)d->confidence / 100.0);
    return d->risk_score >= 0 ? d->risk_score : 0;
}

/* Planner messages that mean "escudo does not implement this" rather than "this is wrong". */
static bool unsupported_msg(const char *msg) {
    return strstr(msg, "unsupported") || strstr(msg, "not supported") ||
           strstr(msg, "not implemented");
}

/* Plan d's search the way the engine does (so lookups and whatever else the engine hands the
 * planner are the same as for hunt). On failure *engine is NULL and exactly one of *broken (the
 * content's fault: expansion failed, or a search escudo understands but rejects) or
 * *unsupported is filled. */
static esc_status plan_search(const esc_content *c, const esc_detection *d, esc_engine **engine,
                              char *broken, char *unsupported, size_t cap, esc_error *err) {
    *engine = NULL;
    broken[0] = unsupported[0] = 0;
    if (!d->search) {
        snprintf(broken, cap, "the detection has no search");
        return ESC_OK;
    }
    char *expanded = NULL;
    esc_error e = {0};
    esc_status st = esc_spl_expand(d->search, &c->macros, &expanded, &e);
    esc_free(expanded);
    if (st == ESC_ENOMEM)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    if (st != ESC_OK) {
        if (e.has_offset)
            snprintf(broken, cap, "search: %s (at byte %llu of the search)", e.msg,
                     (unsigned long long)e.offset);
        else
            snprintf(broken, cap, "search: %s", e.msg);
        return ESC_OK;
    }
    esc_error_clear(&e);
    st = esc_engine_new(c, &d, 1, true, engine, &e);
    if (st == ESC_OK)
        return ESC_OK;
    *engine = NULL;
    if (st == ESC_ENOMEM)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    /* the strict engine prefixes the detection's name */
    const char *msg = e.msg;
    size_t nl = d->name ? strlen(d->name) : 0;
    if (nl && strncmp(msg, d->name, nl) == 0 && msg[nl] == ':' && msg[nl + 1] == ' ')
        msg += nl + 2;
    char where[160] = "";
    if (e.has_offset)
        snprintf(where, sizeof where, " (at byte %llu of the expanded search)",
                 (unsigned long long)e.offset);
    bool ours = unsupported_msg(msg);
    /* a lookup that Splunk Enterprise Security provides (its asset and identity framework, the
     * CIM app's settings) is missing from escudo, not from the content */
    static const char *const es_lookups[] = {
        "asset_lookup_by_str", "asset_lookup_by_cidr", "identity_lookup_expanded",
        "cim_corporate_email_domain_lookup", "cim_corporate_web_domain_lookup"};
    const char *lk = "unknown lookup '";
    if (!ours && strncmp(msg, lk, strlen(lk)) == 0) {
        const char *nm = msg + strlen(lk), *q = strchr(nm, '\'');
        for (size_t i = 0; q && i < sizeof es_lookups / sizeof es_lookups[0] && !ours; i++)
            ours = strlen(es_lookups[i]) == (size_t)(q - nm) &&
                   memcmp(es_lookups[i], nm, (size_t)(q - nm)) == 0;
        if (ours)
            snprintf(where + strlen(where), sizeof where - strlen(where),
                     "; an Enterprise Security lookup escudo does not have");
    }
    snprintf(ours ? unsupported : broken, cap, "%s%s", msg, where);
    return ESC_OK;
}

/* The final columns: an execution over zero records. */
static esc_status final_columns(const esc_plan *p, esc_table **out, esc_error *err) {
    *out = NULL;
    esc_exec *x = esc_exec_new(p, 0, ESC_TIME_MAX, err);
    if (!x)
        return err && err->code ? err->code : ESC_ENOMEM;
    esc_status st = esc_exec_finish(x, out, err);
    esc_exec_free(x);
    return st;
}

/* ---- content scan: unloadable files, duplicate ids ----------------------------------------- */

typedef struct scan_item {
    char *path, *id, *name;
    bool deep; /* a folder below SCAN_MAX_DEPTH levels: not read (as loading does not) */
} scan_item;

typedef struct scan_list {
    scan_item *v;
    size_t n, cap;
    bool oom, limit;
} scan_list;

static bool has_yaml_ext(const char *n) {
    size_t l = strlen(n);
    return (l > 4 && strcmp(n + l - 4, ".yml") == 0) || (l > 5 && strcmp(n + l - 5, ".yaml") == 0);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool item_add(scan_list *L, char *p, bool deep) {
    if (L->n == SCAN_MAX_FILES) {
        L->limit = true;
        esc_free(p);
        return false;
    }
    if (L->n == L->cap) {
        size_t nc = L->cap ? L->cap * 2 : 256;
        scan_item *v = esc_realloc(L->v, nc * sizeof *v);
        if (!v) {
            L->oom = true;
            esc_free(p);
            return false;
        }
        L->v = v;
        L->cap = nc;
    }
    L->v[L->n++] = (scan_item){p, NULL, NULL, deep};
    return true;
}

static void list_yaml(scan_list *L, const char *dir, int depth) {
    if (L->oom || L->limit)
        return;
    if (depth > SCAN_MAX_DEPTH) {
        char *p = esc_strdup(dir);
        if (!p)
            L->oom = true;
        else
            item_add(L, p, true);
        return;
    }
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **p = esc_realloc(names, nc * sizeof *p);
            if (!p) {
                L->oom = true;
                break;
            }
            names = p;
            cap = nc;
        }
        if (!(names[n] = esc_strdup(de->d_name))) {
            L->oom = true;
            break;
        }
        n++;
    }
    closedir(dh);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + 1 + strlen(names[i]) + 1;
        char *p = esc_malloc(len);
        if (!p) {
            L->oom = true;
            break;
        }
        snprintf(p, len, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            list_yaml(L, p, depth + 1);
            esc_free(p);
        } else if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && has_yaml_ext(names[i])) {
            if (!item_add(L, p, false))
                break;
        } else {
            esc_free(p);
        }
    }
    for (size_t i = 0; i < n; i++)
        esc_free(names[i]);
    esc_free(names);
}

static void scan_list_fini(scan_list *L) {
    for (size_t i = 0; i < L->n; i++) {
        esc_free(L->v[i].path);
        esc_free(L->v[i].id);
        esc_free(L->v[i].name);
    }
    esc_free(L->v);
    memset(L, 0, sizeof *L);
}

/* Read and parse one file; a problem becomes a reason in r. */
static esc_status scan_file(scan_item *it, esc_ctest_result *r, esc_error *err) {
    esc_status st = ESC_OK;
    char *data = NULL;
    esc_arena a;
    esc_arena_init(&a, 64 * 1024, 64u << 20);
    FILE *f = fopen(it->path, "rb");
    if (!f) {
        st = reason_add(r, err, "cannot read: %s", strerror(errno));
        goto out;
    }
    data = esc_malloc(SCAN_MAX_FILE + 1);
    if (!data) {
        fclose(f);
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = fread(data, 1, SCAN_MAX_FILE + 1, f);
    fclose(f);
    if (n > SCAN_MAX_FILE) {
        st = reason_add(r, err, "larger than %u bytes; not loaded", SCAN_MAX_FILE);
        goto out;
    }
    esc_ynode *root = NULL;
    esc_error ye = {0};
    esc_status pst = esc_yaml_parse(data, n, &a, 64, &root, &ye);
    if (pst == ESC_ENOMEM) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    if (pst != ESC_OK) {
        if (ye.line)
            st = reason_add(r, err, "YAML, line %llu: %s; not loaded", (unsigned long long)ye.line,
                            ye.msg);
        else
            st = reason_add(r, err, "YAML: %s; not loaded", ye.msg);
        goto out;
    }
    if (!root || root->kind != ESC_Y_MAP) {
        st = reason_add(r, err, "not a YAML mapping; not loaded");
        goto out;
    }
    const char *id = esc_ynode_str(esc_ymap_get(root, "id"));
    const char *name = esc_ynode_str(esc_ymap_get(root, "name"));
    const char *search = esc_ynode_str(esc_ymap_get(root, "search"));
    bool oom = false;
    it->id = dup_or_null(id, &oom);
    it->name = dup_or_null(name, &oom);
    if (oom) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    if (is_blank(name))
        st = reason_add(r, err, "required field name is missing; not loaded");
    if (st == ESC_OK && is_blank(id))
        st = reason_add(r, err, "required field id is missing; not loaded");
    if (st == ESC_OK && is_blank(search))
        st = reason_add(r, err, "required field search is missing; not loaded");
out:
    esc_free(data);
    esc_arena_fini(&a);
    return st;
}

static int cmp_item_id(const void *a, const void *b) {
    const scan_item *x = *(scan_item *const *)a, *y = *(scan_item *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->path, y->path);
}

static esc_status scan_folder(esc_ctest_report *rep, const char *dir, esc_error *err) {
    scan_list L = {0};
    scan_item **byid = NULL;
    esc_status st = ESC_OK;
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISREG(sb.st_mode)) {
        L.v = esc_calloc(1, sizeof *L.v);
        if (!L.v || !(L.v[0].path = esc_strdup(dir)))
            L.oom = true;
        else
            L.n = L.cap = 1;
    } else {
        size_t len = strlen(dir) + sizeof "/detections";
        char *p = esc_malloc(len);
        if (!p)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        snprintf(p, len, "%s/detections", dir);
        list_yaml(&L, p, 0);
        esc_free(p);
    }
    if (L.oom) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    if (L.limit) {
        st = esc_error_set(err, ESC_ELIMIT, "%s: more than %u detection files", dir,
                           (unsigned)SCAN_MAX_FILES);
        goto out;
    }
    size_t nid = 0;
    byid = esc_calloc(L.n ? L.n : 1, sizeof *byid);
    if (!byid) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < L.n; i++) {
        esc_ctest_result r;
        if ((st = result_begin(&r, L.v[i].path, NULL, L.v[i].path, ESC_CTEST_STATIC, NULL, err)) !=
            ESC_OK)
            goto out;
        if (L.v[i].deep)
            st = reason_add(&r, err, "folders nested deeper than %d; not read", SCAN_MAX_DEPTH);
        else
            st = scan_file(&L.v[i], &r, err);
        if (st == ESC_OK && r.nreasons)
            st = report_add(rep, &r, err);
        result_fini(&r);
        if (st != ESC_OK)
            goto out;
        if (!is_blank(L.v[i].id))
            byid[nid++] = &L.v[i];
    }
    if (nid)
        qsort(byid, nid, sizeof *byid, cmp_item_id);
    for (size_t i = 1; i < nid; i++) {
        if (strcmp(byid[i]->id, byid[i - 1]->id) != 0)
            continue;
        esc_ctest_result r;
        const scan_item *it = byid[i];
        if ((st = result_begin(&r, it->name ? it->name : it->path, it->id, it->path,
                               ESC_CTEST_STATIC, it->path, err)) != ESC_OK)
            goto out;
        st = reason_add(&r, err,
                        "id %s is also the id of %s in the same folder (ids must be unique; "
                        "loading keeps only one of them)",
                        it->id, byid[i - 1]->path);
        if (st == ESC_OK)
            st = report_add(rep, &r, err);
        result_fini(&r);
        if (st != ESC_OK)
            goto out;
    }
out:
    esc_free(byid);
    scan_list_fini(&L);
    return st;
}

esc_status esc_ctest_scan(esc_ctest_report *rep, const char *const *dirs, size_t ndirs,
                          esc_error *err) {
    for (size_t i = 0; i < ndirs; i++) {
        esc_status st = scan_folder(rep, dirs[i], err);
        if (st != ESC_OK)
            return st;
    }
    return ESC_OK;
}

/* ---- static validation -------------------------------------------------------------------- */

static const char *const TYPES[] = {"TTP",         "Anomaly",  "Hunting",
                                    "Correlation", "Baseline", "Deprecated"};
static const char *const STATUSES[] = {"production", "experimental", "deprecated", "validation"};
static const char *const DOMAINS[] = {"endpoint", "network", "threat", "identity",
                                      "access",   "audit",   "cloud"};

static bool in_list(const char *s, const char *const *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, v[i]) == 0)
            return true;
    return false;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Whether the detection's YAML has a top-level key (an empty list counts: ESCU writes
 * `data_source: []`, which contentctl accepts). Unreadable files count as having it: loading
 * already read this one. */
static bool yaml_has_key(const char *path, const char *key) {
    bool has = true;
    esc_arena a;
    esc_arena_init(&a, 64 * 1024, 64u << 20);
    char *data = esc_malloc(SCAN_MAX_FILE + 1);
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (data && f) {
        size_t n = fread(data, 1, SCAN_MAX_FILE + 1, f);
        esc_ynode *root = NULL;
        if (n <= SCAN_MAX_FILE && esc_yaml_parse(data, n, &a, 64, &root, NULL) == ESC_OK && root &&
            root->kind == ESC_Y_MAP) {
            const esc_ynode *v = esc_ymap_get(root, key);
            has =
                v && (v->kind != ESC_Y_NULL && !(v->kind == ESC_Y_SCALAR && esc_ynode_is_null(v)));
        }
    }
    if (f)
        fclose(f);
    esc_free(data);
    esc_arena_fini(&a);
    return has;
}

/* contentctl: the file is named after the detection: spaces, '-', '.' and '/' become '_', all
 * lower-cased, plus .yml. */
static esc_status check_file_name(esc_ctest_result *r, const esc_detection *d, esc_error *err) {
    const char *base = strrchr(d->path, '/');
    base = base ? base + 1 : d->path;
    char want[512];
    size_t n = 0;
    for (const char *p = d->name; *p && n + 5 < sizeof want; p++) {
        char c = *p;
        if (c == ' ' || c == '-' || c == '.' || c == '/')
            c = '_';
        else if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        want[n++] = c;
    }
    memcpy(want + n, ".yml", 5);
    size_t bl = strlen(base);
    bool yaml = bl > 5 && strcmp(base + bl - 5, ".yaml") == 0;
    if (yaml ? (bl - 5 == n && memcmp(base, want, n) == 0) : strcmp(base, want) == 0)
        return ESC_OK;
    return reason_add(r, err, "file name %s does not follow the name (expected %s)", base, want);
}

static esc_status check_required(esc_ctest_result *r, const esc_detection *d, esc_error *err) {
    bool data_source_key = d->data_sources.n > 0 || yaml_has_key(d->path, "data_source") ||
                           yaml_has_key(d->path, "data_sources");
    struct {
        const char *name;
        bool missing;
    } req[] = {
        {"name", is_blank(d->name)},
        {"id", is_blank(d->id)},
        {"version", d->version <= 0},
        {"date", is_blank(d->date)},
        {"author", is_blank(d->author)},
        {"type", is_blank(d->type)},
        {"status", is_blank(d->status)},
        {"description", is_blank(d->description)},
        {"search", is_blank(d->search)},
        {"how_to_implement", is_blank(d->how_to_implement)},
        {"known_false_positives", is_blank(d->known_false_positives)},
        {"data_source", !data_source_key},
        {"tags.analytic_story", d->analytic_story.n == 0},
        {"tags.asset_type", is_blank(d->asset_type)},
        {"tags.product", d->product.n == 0},
        {"tags.security_domain", is_blank(d->security_domain)},
    };
    esc_status st = ESC_OK;
    for (size_t i = 0; i < NELEM(req) && st == ESC_OK; i++)
        if (req[i].missing)
            st = reason_add(r, err, "required field %s is missing or empty", req[i].name);
    if (st == ESC_OK && !is_blank(d->id) && !is_uuid(d->id))
        st = reason_add(r, err, "id '%s' is not a UUID", d->id);
    if (st == ESC_OK && !is_blank(d->type) && !in_list(d->type, TYPES, NELEM(TYPES)))
        st = reason_add(r, err,
                        "type '%s' is not one of TTP, Anomaly, Hunting, Correlation, "
                        "Baseline, Deprecated",
                        d->type);
    if (st == ESC_OK && !is_blank(d->status) && !in_list(d->status, STATUSES, NELEM(STATUSES)))
        st = reason_add(r, err,
                        "status '%s' is not one of production, experimental, deprecated, "
                        "validation",
                        d->status);
    if (st == ESC_OK && !is_blank(d->security_domain) &&
        !in_list(d->security_domain, DOMAINS, NELEM(DOMAINS)))
        st = reason_add(r, err,
                        "tags.security_domain '%s' is not one of endpoint, network, "
                        "threat, identity, access, audit, cloud",
                        d->security_domain);
    /* risk: what the actions need for TTP and Anomaly (risk-based alerting) */
    bool rba = d->type && (strcmp(d->type, "TTP") == 0 || strcmp(d->type, "Anomaly") == 0);
    if (st == ESC_OK && rba && is_blank(d->message))
        st = reason_add(r, err, "tags.message is missing (a %s detection makes risk events)",
                        d->type);
    if (st == ESC_OK && rba && d->nobservables == 0)
        st = reason_add(r, err, "tags.observable is missing (a %s detection makes risk events)",
                        d->type);
    if (st == ESC_OK && d->impact >= 0 && d->confidence >= 0 && d->risk_score >= 0) {
        int want = (int)lround((double)d->impact * (double)d->confidence / 100.0);
        if (want != d->risk_score)
            st = reason_add(r, err,
                            "tags.risk_score %d is not round(impact*confidence/100) = "
                            "round(%d*%d/100) = %d",
                            d->risk_score, d->impact, d->confidence, want);
    }
    if (st == ESC_OK && rba && d->risk_score < 0 && (d->impact < 0 || d->confidence < 0))
        st = reason_add(r, err,
                        "no risk score: tags.risk_score, or tags.impact and "
                        "tags.confidence, are missing");
    if (st == ESC_OK && !is_blank(d->name) && d->path)
        st = check_file_name(r, d, err);
    for (size_t i = 0; i < d->nobservables && st == ESC_OK; i++) {
        const esc_observable *o = &d->observables[i];
        if (is_blank(o->type))
            st = reason_add(r, err, "observable %s has no type", o->name);
        else if (o->roles.n == 0)
            st = reason_add(r, err, "observable %s has no role", o->name);
    }
    return st;
}

esc_status esc_ctest_validate(esc_ctest_report *rep, const esc_content *c, const esc_detection *d,
                              esc_error *err) {
    esc_ctest_result r;
    esc_engine *engine = NULL;
    esc_table *cols = NULL;
    char broken[1024], unsupported[1024];
    esc_status st = result_begin(&r, d->name, d->id, d->path, ESC_CTEST_STATIC, NULL, err);
    if (st != ESC_OK)
        return st;
    if ((st = check_required(&r, d, err)) != ESC_OK)
        goto fail;
    if ((st = plan_search(c, d, &engine, broken, unsupported, sizeof broken, err)) != ESC_OK)
        goto fail;
    if (broken[0]) {
        if ((st = reason_add(&r, err, "%s", broken)) != ESC_OK)
            goto fail;
    } else if (unsupported[0]) {
        /* never a pass: a skip, or a failure that also says why the rest was not checked */
        if ((st = reason_add(&r, err, "not validated: %s", unsupported)) != ESC_OK)
            goto fail;
        if (r.nreasons == 1)
            r.outcome = ESC_CTEST_SKIP;
    } else {
        esc_error xe = {0};
        st = final_columns(esc_engine_plan(engine, 0), &cols, &xe);
        if (st == ESC_ENOMEM) {
            if (err)
                *err = xe;
            goto fail;
        }
        if (st != ESC_OK) {
            st = reason_add(&r, err, "search: %s", xe.msg);
            if (st != ESC_OK)
                goto fail;
        } else {
            char have[1024];
            cols_text(cols, have, sizeof have);
            for (size_t i = 0; i < d->nobservables && st == ESC_OK; i++) {
                const char *nm = d->observables[i].name;
                if (table_col_n(cols, nm, strlen(nm)) < 0)
                    st = reason_add(&r, err,
                                    "observable %s is not among the search's output fields (%s)",
                                    nm, have);
            }
            size_t pos = 0, s0, n;
            while (st == ESC_OK && d->message && next_token(d->message, &pos, &s0, &n))
                if (table_col_n(cols, d->message + s0, n) < 0)
                    st = reason_add(&r, err,
                                    "tags.message token $%.*s$ is not among the search's output "
                                    "fields (%s)",
                                    (int)n, d->message + s0, have);
            if (st != ESC_OK)
                goto fail;
        }
    }
    st = report_add(rep, &r, err);
fail:
    result_fini(&r);
    esc_table_free(cols);
    esc_engine_free(engine);
    return st;
}

/* ---- attack data ---------------------------------------------------------------------------- */

static bool is_readable_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *join2(const char *dir, const char *rel) {
    size_t len = strlen(dir) + 1 + strlen(rel) + 1;
    char *p = esc_malloc(len);
    if (p)
        snprintf(p, len, "%s%s%s", dir, (dir[0] && dir[strlen(dir) - 1] == '/') ? "" : "/", rel);
    return p;
}

esc_status esc_ctest_resolve(const char *data, const char *detection_path, const char *data_root,
                             char **out, esc_error *err) {
    *out = NULL;
    if (is_blank(data))
        return esc_error_set(err, ESC_EOF, "empty attack_data entry");
    if (strncasecmp(data, "http://", 7) == 0 || strncasecmp(data, "https://", 8) == 0) {
        const char *rel = strstr(data, "attack_data/master/");
        if (rel) {
            rel += strlen("attack_data/master/");
        } else {
            rel = strchr(strstr(data, "://") + 3, '/');
            rel = rel ? rel + 1 : "";
        }
        if (!data_root)
            return esc_error_set(err, ESC_EOF,
                                 "attack data not available: %s (give --data-root DIR, a "
                                 "splunk/attack_data checkout, where it is DIR/%s)",
                                 data, rel);
        char *p = join2(data_root, rel);
        if (!p)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        if (!is_readable_file(p)) {
            esc_error_set(err, ESC_EOF, "attack data not found: %s (from %s)", p, data);
            esc_free(p);
            return ESC_EOF;
        }
        *out = p;
        return ESC_OK;
    }
    if (data[0] == '/') {
        if (!is_readable_file(data))
            return esc_error_set(err, ESC_EOF, "attack data not found: %s", data);
        *out = esc_strdup(data);
        return *out ? ESC_OK : esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    /* relative: the detection's folder, the content folder's parent, the current directory */
    char *cand[3] = {NULL, NULL, NULL};
    char *real = detection_path ? realpath(detection_path, NULL) : NULL;
    if (real) {
        char *slash = strrchr(real, '/');
        if (slash) {
            *slash = 0;
            cand[0] = join2(real[0] ? real : "/", data);
            *slash = '/';
        }
        char *det = NULL;
        for (char *p = strstr(real, "/detections/"); p; p = strstr(p + 1, "/detections/"))
            det = p;
        if (det) {
            *det = 0; /* real is now the content folder */
            char *up = strrchr(real, '/');
            if (up) {
                *up = 0;
                cand[1] = join2(real[0] ? real : "/", data);
            }
        }
        free(real);
    }
    esc_status st = ESC_EOF;
    for (int i = 0; i < 2 && st == ESC_EOF; i++)
        if (cand[i] && is_readable_file(cand[i])) {
            *out = cand[i];
            cand[i] = NULL;
            st = ESC_OK;
        }
    if (st == ESC_EOF && is_readable_file(data)) {
        *out = esc_strdup(data);
        st = *out ? ESC_OK : ESC_ENOMEM;
    }
    if (st == ESC_EOF)
        esc_error_set(err, ESC_EOF,
                      "attack data not found: %s (looked in %s, %s and the current directory)",
                      data, cand[0] ? cand[0] : "-", cand[1] ? cand[1] : "-");
    else if (st == ESC_ENOMEM)
        esc_error_set(err, ESC_ENOMEM, "out of memory");
    esc_free(cand[0]);
    esc_free(cand[1]);
    return st;
}

bool esc_ctest_sourcetype_ok(const char *source, const char *sourcetype, const char **why) {
    *why = NULL;
    if (!sourcetype || !*sourcetype)
        return true; /* the readers recognise the format from the content */
    if (strcasecmp(sourcetype, "xmlwineventlog") == 0 ||
        strncasecmp(sourcetype, "xmlwineventlog:", 15) == 0) {
        if (source && *source && strncasecmp(source, "XmlWinEventLog:", 15) == 0 &&
            strcasecmp(source + 15, "Microsoft-Windows-Sysmon/Operational") != 0 &&
            strcasecmp(source + 15, "Security") != 0) {
            *why = "no Endpoint.Processes mapping for this channel (escudo maps Sysmon "
                   "Operational and Security)";
            return false;
        }
        return true;
    }
    if (strcasecmp(sourcetype, "crowdstrike:events:sensor") == 0 ||
        strcasecmp(sourcetype, "_json") == 0 || strcasecmp(sourcetype, "json") == 0 ||
        strcasecmp(sourcetype, "winlogbeat") == 0 || strcasecmp(sourcetype, "evtx") == 0)
        return true;
    if (strcasecmp(sourcetype, "sysmon:linux") == 0) {
        *why = "Sysmon for Linux has no mapping in escudo (Windows sources only)";
        return false;
    }
    if (strcasecmp(sourcetype, "wineventlog") == 0 ||
        strncasecmp(sourcetype, "wineventlog:", 12) == 0) {
        *why = "the classic WinEventLog text format is not read (XmlWinEventLog, EVTX and "
               "JSON are)";
        return false;
    }
    *why = "no parser or CIM mapping for this sourcetype";
    return false;
}

static bool is_lfs_pointer(const char *path) {
    char buf[64];
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strncmp(buf, LFS_MAGIC, strlen(LFS_MAGIC)) == 0;
}

/* ---- in-memory capture of the actions' events ---------------------------------------------- */

typedef struct cap_event {
    esc_sink_kind kind;
    char *json;
    size_t len;
} cap_event;

typedef struct capture {
    esc_sink base;
    const char *search_name; /* the detection's; other notables are risk incidents */
    cap_event *v;
    size_t n, cap;
    size_t max; /* CAPTURE_MAX_EVENTS unless the options lower it */
    size_t incidents;
} capture;

static esc_status cap_put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    capture *c = (capture *)s;
    if (ev->kind == ESC_SINK_NOTABLE &&
        (!ev->search_name || strcmp(ev->search_name, c->search_name) != 0)) {
        c->incidents++; /* the risk incident rule's notables are not the detection's */
        return ESC_OK;
    }
    if (c->n == c->max)
        return esc_error_set(err, ESC_ELIMIT, "more than %zu events from one test", c->max);
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        cap_event *v = esc_realloc(c->v, nc * sizeof *v);
        if (!v)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        c->v = v;
        c->cap = nc;
    }
    char *j = esc_strndup(ev->json, ev->json_len);
    if (!j)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    c->v[c->n++] = (cap_event){ev->kind, j, ev->json_len};
    return ESC_OK;
}

/* no flush or close: the capture is owned by the test, which frees it after the sinks */
static const esc_sink_ops CAPTURE_OPS = {"capture", cap_put, NULL, NULL, NULL};

static void capture_fini(capture *c) {
    for (size_t i = 0; i < c->n; i++)
        esc_free(c->v[i].json);
    esc_free(c->v);
}

/* ---- reading a captured risk event ------------------------------------------------------- */

static bool want_arrays(const esc_json_doc *d, const esc_json_tok *t) {
    (void)d;
    return t->type == ESC_JT_ARR && t->depth == 1;
}

static void put_utf8(esc_buf *b, unsigned long cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    esc_buf_append(b, u, n);
}

static unsigned long hex4(const char *p, const char *e) {
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        if (p + i >= e)
            return 0xFFFD;
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned long)(c - 'A' + 10);
        else
            return 0xFFFD;
    }
    return v;
}

/* Decoded text of a JSON string token, NUL-terminated, esc_malloc'd (NULL on OOM). */
static char *tok_text(const esc_json_tok *t) {
    esc_buf b;
    esc_buf_init(&b, 16u << 20);
    const char *p = t->raw, *e = t->raw + t->rawlen;
    while (p < e) {
        if (*p != '\\' || !t->esc) {
            esc_buf_putc(&b, *p++);
            continue;
        }
        if (++p >= e)
            break;
        char c = *p++;
        switch (c) {
        case 'n':
            esc_buf_putc(&b, '\n');
            break;
        case 't':
            esc_buf_putc(&b, '\t');
            break;
        case 'r':
            esc_buf_putc(&b, '\r');
            break;
        case 'b':
            esc_buf_putc(&b, '\b');
            break;
        case 'f':
            esc_buf_putc(&b, '\f');
            break;
        case 'u': {
            unsigned long cp = hex4(p, e);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p + 6 <= e && p[0] == '\\' && p[1] == 'u') {
                unsigned long lo = hex4(p + 2, e);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000)
                cp = 0xFFFD;
            put_utf8(&b, cp);
            break;
        }
        default:
            esc_buf_putc(&b, c);
            break;
        }
    }
    if (esc_buf_putc(&b, 0) != ESC_OK) {
        esc_buf_fini(&b);
        return NULL;
    }
    return esc_buf_take(&b);
}

typedef struct risk_view {
    char *search_name, *risk_object, *risk_object_type, *risk_message;
    long risk_score;
    bool has_score;
    esc_strlist stories, mitre; /* v[] esc_malloc'd strings */
    bool has_stories, has_mitre;
} risk_view;

static void strlist_free(esc_strlist *l) {
    for (size_t i = 0; i < l->n; i++)
        esc_free((void *)l->v[i]);
    esc_free((void *)l->v);
    l->v = NULL;
    l->n = 0;
}

static void risk_view_fini(risk_view *v) {
    esc_free(v->search_name);
    esc_free(v->risk_object);
    esc_free(v->risk_object_type);
    esc_free(v->risk_message);
    strlist_free(&v->stories);
    strlist_free(&v->mitre);
}

static bool array_of(const esc_json_doc *doc, size_t at, esc_strlist *out) {
    size_t n = 0;
    for (size_t k = at + 1; k < doc->ntok; k++)
        if (doc->tok[k].parent == (int32_t)at)
            n++;
    const char **v = esc_calloc(n ? n : 1, sizeof *v);
    if (!v)
        return false;
    size_t m = 0;
    for (size_t k = at + 1; k < doc->ntok && m < n; k++) {
        const esc_json_tok *t = &doc->tok[k];
        if (t->parent != (int32_t)at)
            continue;
        char *s = t->type == ESC_JT_STR ? tok_text(t) : esc_strndup(t->raw, t->rawlen);
        if (!s) {
            out->v = v;
            out->n = m;
            return false;
        }
        v[m++] = s;
    }
    out->v = v;
    out->n = m;
    return true;
}

/* Fields of one risk event's JSON (the first occurrence of each key). */
static esc_status risk_read(const char *json, size_t len, risk_view *v, esc_error *err) {
    memset(v, 0, sizeof *v);
    esc_json_doc doc;
    esc_json_doc_init(&doc);
    doc.want = want_arrays;
    esc_arena a;
    esc_arena_init(&a, 16 * 1024, 64u << 20);
    const char *end = NULL;
    esc_status st = esc_json_tokenize(&doc, json, json + len, &end, &a);
    if (st != ESC_OK) {
        st = esc_error_set(err, st == ESC_ENOMEM ? ESC_ENOMEM : ESC_EINTERNAL,
                           "risk event is not valid JSON: %s", doc.what ? doc.what : "?");
        goto out;
    }
    bool ok = true;
    for (size_t i = 0; i < doc.ntok && ok; i++) {
        const esc_json_tok *t = &doc.tok[i];
        if (t->depth != 1 || !t->key.ptr)
            continue;
        char **dst = NULL;
        if (esc_str_eq_c(t->key, "search_name"))
            dst = &v->search_name;
        else if (esc_str_eq_c(t->key, "risk_object"))
            dst = &v->risk_object;
        else if (esc_str_eq_c(t->key, "risk_object_type"))
            dst = &v->risk_object_type;
        else if (esc_str_eq_c(t->key, "risk_message"))
            dst = &v->risk_message;
        if (dst && !*dst && t->type == ESC_JT_STR) {
            ok = (*dst = tok_text(t)) != NULL;
        } else if (esc_str_eq_c(t->key, "risk_score") && !v->has_score && t->type == ESC_JT_NUM) {
            char num[32];
            size_t n = t->rawlen < sizeof num - 1 ? t->rawlen : sizeof num - 1;
            memcpy(num, t->raw, n);
            num[n] = 0;
            v->risk_score = strtol(num, NULL, 10);
            v->has_score = true;
        } else if (esc_str_eq_c(t->key, "analyticstories") && !v->has_stories &&
                   t->type == ESC_JT_ARR) {
            v->has_stories = true;
            ok = array_of(&doc, i, &v->stories);
        } else if (esc_str_eq_c(t->key, "annotations.mitre_attack") && !v->has_mitre &&
                   t->type == ESC_JT_ARR) {
            v->has_mitre = true;
            ok = array_of(&doc, i, &v->mitre);
        }
    }
    if (!ok)
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
out:
    esc_json_doc_fini(&doc);
    esc_arena_fini(&a);
    if (st != ESC_OK)
        risk_view_fini(v);
    return st;
}

static bool list_eq(const esc_strlist *a, const esc_strlist *b) {
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

static void list_text(const esc_strlist *l, char *out, size_t cap) {
    size_t n = 0;
    int w = snprintf(out, cap, "[");
    n = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < l->n && n < cap; i++) {
        w = snprintf(out + n, cap - n, "%s\"%s\"", i ? ", " : "", l->v[i]);
        if (w < 0)
            return;
        n += (size_t)w;
    }
    if (n < cap)
        snprintf(out + n, cap - n, "]");
}

/* ---- unit and integration ------------------------------------------------------------------ */

/* A cell counts as present when it has a value other than "null" (contentctl's rule; CIM's
 * "unknown" counts as present). */
static bool cell_present(const esc_cell *c) {
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] && strcmp(c->v[i], "null") != 0)
            return true;
    return false;
}

static esc_status unit_check(esc_ctest_result *r, const esc_detection *d, const esc_table *t,
                             const esc_hunt_stats *hs, size_t nfiles, esc_error *err) {
    r->rows = t->nrows;
    if (t->nrows == 0)
        return reason_add(r, err,
                          "the search returned no rows (%zu file%s: %llu events, %llu process "
                          "events)",
                          nfiles, nfiles == 1 ? "" : "s", (unsigned long long)hs->events,
                          (unsigned long long)hs->process_events);
    if (d->nobservables == 0)
        return ESC_OK;
    int col[64];
    size_t nf = d->nobservables < 64 ? d->nobservables : 64;
    for (size_t i = 0; i < nf; i++) {
        const char *nm = d->observables[i].name;
        col[i] = table_col_n(t, nm, strlen(nm));
    }
    for (size_t row = 0; row < t->nrows; row++) {
        bool all = true;
        for (size_t i = 0; i < nf && all; i++)
            all = col[i] >= 0 && cell_present(esc_table_cell(t, row, (size_t)col[i]));
        if (all)
            return ESC_OK;
    }
    /* say which fields are to blame */
    char detail[1024];
    size_t n = 0;
    detail[0] = 0;
    for (size_t i = 0; i < nf && n < sizeof detail; i++) {
        const char *nm = d->observables[i].name;
        int w;
        if (col[i] < 0) {
            w = snprintf(detail + n, sizeof detail - n, "%s%s: not in the search's output",
                         n ? "; " : "", nm);
        } else {
            size_t have = 0;
            for (size_t row = 0; row < t->nrows; row++)
                have += cell_present(esc_table_cell(t, row, (size_t)col[i]));
            if (have == t->nrows)
                continue;
            w = snprintf(detail + n, sizeof detail - n, "%s%s: null in %zu of %zu rows",
                         n ? "; " : "", nm, t->nrows - have, t->nrows);
        }
        if (w < 0)
            break;
        n += (size_t)w;
    }
    return reason_add(r, err,
                      "none of the %zu rows has every observable field present and not "
                      "\"null\" (%s)",
                      t->nrows, detail);
}

/* The first event the action step could not make (over the size cap) fails the test. */
static void first_skip(void *first, const esc_error *e) {
    esc_error *f = first;
    if (f->code == ESC_OK) {
        *f = *e;
        f->code = ESC_SKIP;
    }
}

static esc_status integration_check(esc_ctest_result *r, const esc_content *c,
                                    const esc_detection *d, const esc_table *t,
                                    const esc_ctest_opts *o, esc_error *err) {
    esc_status st = ESC_OK;
    char search_name[1024];
    snprintf(search_name, sizeof search_name, "ESCU - %s - Rule", d->name);
    capture cap = {.base = {&CAPTURE_OPS},
                   .search_name = search_name,
                   .max = o->max_capture ? o->max_capture : CAPTURE_MAX_EVENTS};
    esc_sinks *sinks = NULL;
    esc_act *act = NULL;
    esc_error ae = {0};
    const esc_deployment *dep = d->deployment;
    if (!dep)
        return reason_add(r, err,
                          "no deployment of type %s in the content: no notable or risk "
                          "event can be made",
                          d->type ? d->type : "(none)");
    if (!dep->notable && !dep->rba)
        return reason_add(r, err, "deployment %s makes neither notables nor risk events",
                          dep->name ? dep->name : "?");
    if ((st = esc_sinks_open(NULL, &sinks, err)) != ESC_OK)
        return st;
    if ((st = esc_sinks_add(sinks, &cap.base, err)) != ESC_OK)
        goto out;
    if (!(act = esc_act_new(c, sinks, &ae))) {
        st = ae.code ? ae.code : ESC_ENOMEM;
        if (err)
            *err = ae;
        goto out;
    }
    esc_act_input in = {.detection = d, .rows = t, .window = {0, ESC_ACT_INFINITY, o->search_time}};
    esc_error skipped = {0};
    esc_status ast = esc_act_step(act, &in, 1, first_skip, &skipped, &ae);
    if (ast == ESC_OK && skipped.code != ESC_OK) {
        ast = skipped.code;
        ae = skipped;
    }
    if (ast == ESC_ENOMEM) {
        st = ast;
        if (err)
            *err = ae;
        goto out;
    }
    if (ast != ESC_OK && (st = reason_add(r, err, "actions failed: %s", ae.msg)) != ESC_OK)
        goto out;

    int score = expected_score(d);
    size_t nnotable = 0, nrisk = 0;
    for (size_t i = 0; i < cap.n; i++)
        *(cap.v[i].kind == ESC_SINK_NOTABLE ? &nnotable : &nrisk) += 1;
    r->notables = nnotable;
    r->risk_events = nrisk;
    r->incidents = cap.incidents;
    if (dep->notable && nnotable == 0 &&
        (st = reason_add(r, err, "no notable (%zu result rows)", t->nrows)) != ESC_OK)
        goto out;
    if (!dep->rba)
        goto out;
    if (nrisk == 0 && (st = reason_add(r, err, "no risk event (%zu result rows)", t->nrows)))
        goto out;

    /* message tokens the rows do not have render empty: a misspelt token */
    size_t pos = 0, s0, tn;
    while (d->message && next_token(d->message, &pos, &s0, &tn) && st == ESC_OK)
        if (table_col_n(t, d->message + s0, tn) < 0)
            st = reason_add(r, err,
                            "risk_message: $%.*s$ is not a field of the result rows, so it "
                            "renders empty",
                            (int)tn, d->message + s0);
    if (st != ESC_OK)
        goto out;

    /* per risk event; each kind of mismatch reported once */
    bool seen_name = false, seen_story = false, seen_mitre = false, seen_type = false,
         seen_score = false, seen_token = false;
    risk_view *views = esc_calloc(cap.n ? cap.n : 1, sizeof *views);
    if (!views) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    size_t nviews = 0;
    for (size_t i = 0; i < cap.n && st == ESC_OK; i++) {
        if (cap.v[i].kind != ESC_SINK_RISK)
            continue;
        risk_view *v = &views[nviews];
        if ((st = risk_read(cap.v[i].json, cap.v[i].len, v, err)) != ESC_OK)
            break;
        nviews++;
        if (!seen_name && (!v->search_name || strcmp(v->search_name, search_name) != 0)) {
            seen_name = true;
            st = reason_add(r, err, "risk event search_name '%s', expected '%s'",
                            v->search_name ? v->search_name : "(absent)", search_name);
        }
        if (st == ESC_OK && !seen_story && !list_eq(&v->stories, &d->analytic_story)) {
            char got[512], want[512];
            list_text(&v->stories, got, sizeof got);
            list_text(&d->analytic_story, want, sizeof want);
            seen_story = true;
            st = reason_add(r, err, "risk event analyticstories %s, expected %s", got, want);
        }
        if (st == ESC_OK && !seen_mitre && !list_eq(&v->mitre, &d->mitre_attack_id)) {
            char got[512], want[512];
            list_text(&v->mitre, got, sizeof got);
            list_text(&d->mitre_attack_id, want, sizeof want);
            seen_mitre = true;
            st = reason_add(r, err, "risk event annotations.mitre_attack %s, expected %s", got,
                            want);
        }
        if (st == ESC_OK && !seen_type) {
            bool ok = false;
            for (size_t k = 0; k < d->nobservables && !ok; k++) {
                const esc_observable *ob = &d->observables[k];
                const char *ty = esc_act_object_type(ob->type);
                ok = has_role(ob, "Victim") && ty && v->risk_object_type &&
                     strcmp(ty, v->risk_object_type) == 0;
            }
            if (!ok) {
                seen_type = true;
                st = reason_add(r, err,
                                "risk event risk_object_type '%s' is not the type of a Victim "
                                "observable",
                                v->risk_object_type ? v->risk_object_type : "(absent)");
            }
        }
        if (st == ESC_OK && !seen_score && (!v->has_score || v->risk_score != score)) {
            seen_score = true;
            st = reason_add(r, err, "risk event risk_score %ld, expected %d", v->risk_score, score);
        }
        if (st == ESC_OK && !seen_token && v->risk_message) {
            size_t p2 = 0, a0, an;
            if (next_token(v->risk_message, &p2, &a0, &an)) {
                seen_token = true;
                st = reason_add(r, err, "risk_message has an unreplaced token $%.*s$: %s", (int)an,
                                v->risk_message + a0, v->risk_message);
            }
        }
    }
    /* every declared risk object (Victim observables of type user or system) covered */
    for (size_t k = 0; k < d->nobservables && st == ESC_OK; k++) {
        const esc_observable *ob = &d->observables[k];
        const char *ty = esc_act_object_type(ob->type);
        if (!has_role(ob, "Victim") || !ty)
            continue;
        int col = table_col_n(t, ob->name, strlen(ob->name));
        if (col < 0) {
            st = reason_add(r, err,
                            "declared risk object %s (%s) is not covered: the search does not "
                            "output %s",
                            ob->name, ty, ob->name);
            continue;
        }
        bool covered = false, any_value = false;
        for (size_t row = 0; row < t->nrows && !covered; row++) {
            const esc_cell *cell = esc_table_cell(t, row, (size_t)col);
            for (size_t j = 0; j < cell->n && !covered; j++) {
                if (strcmp(cell->v[j], "unknown") == 0)
                    continue;
                any_value = true;
                for (size_t q = 0; q < nviews && !covered; q++)
                    covered = views[q].risk_object && views[q].risk_object_type &&
                              strcmp(views[q].risk_object_type, ty) == 0 &&
                              strcmp(views[q].risk_object, cell->v[j]) == 0;
            }
        }
        if (!covered)
            st = reason_add(r, err,
                            any_value ? "declared risk object %s (%s) is not covered by any risk "
                                        "event"
                                      : "declared risk object %s (%s) is not covered: no row has "
                                        "a value for it other than unknown",
                            ob->name, ty);
    }
    for (size_t i = 0; i < nviews; i++)
        risk_view_fini(&views[i]);
    esc_free(views);
out:
    esc_act_free(act);
    esc_sinks_close(sinks, NULL);
    capture_fini(&cap);
    return st;
}

static esc_status skip_both(esc_ctest_report *rep, esc_ctest_result *u, esc_ctest_result *i,
                            esc_ctest_outcome outcome, const char *why, esc_error *err) {
    esc_status st = reason_add(u, err, "%s", why);
    if (st == ESC_OK)
        st = reason_add(i, err, "%s", why);
    u->outcome = i->outcome = outcome;
    if (st == ESC_OK)
        st = report_add(rep, u, err);
    if (st == ESC_OK)
        st = report_add(rep, i, err);
    return st;
}

static esc_status run_test(esc_ctest_report *rep, const esc_content *c, const esc_detection *d,
                           const esc_engine *engine, const esc_detection_test *tc, size_t idx,
                           const char *broken, const char *unsupported, const esc_ctest_opts *o,
                           esc_error *err) {
    esc_ctest_result u, in;
    char tname[256], why[2048];
    char *files[ESC_CTEST_MAX_FILES];
    size_t nfiles = 0;
    esc_hunt *hunt = NULL;
    esc_status st;
    memset(&in, 0, sizeof in);
    if (tc->name && *tc->name)
        snprintf(tname, sizeof tname, "%s", tc->name);
    else
        snprintf(tname, sizeof tname, "test %zu", idx + 1);
    if ((st = result_begin(&u, d->name, d->id, d->path, ESC_CTEST_UNIT, tname, err)) != ESC_OK)
        return st;
    if ((st = result_begin(&in, d->name, d->id, d->path, ESC_CTEST_INTEGRATION, tname, err)))
        goto out;
    if (broken[0]) {
        snprintf(why, sizeof why, "the search does not compile: %s", broken);
        st = skip_both(rep, &u, &in, ESC_CTEST_FAIL, why, err);
        goto out;
    }
    if (unsupported[0]) {
        snprintf(why, sizeof why, "not run: search not validated: %s", unsupported);
        st = skip_both(rep, &u, &in, ESC_CTEST_SKIP, why, err);
        goto out;
    }
    if (tc->nattack_data == 0) {
        st = skip_both(rep, &u, &in, ESC_CTEST_SKIP, "the test has no attack_data", err);
        goto out;
    }
    const char *unmapped = NULL;
    for (size_t i = 0; i < tc->nattack_data; i++) {
        const esc_attack_data *ad = &tc->attack_data[i];
        const char *reason;
        if (!esc_ctest_sourcetype_ok(ad->source, ad->sourcetype, &reason)) {
            snprintf(why, sizeof why, "sourcetype %s (source %s): %s", ad->sourcetype,
                     ad->source ? ad->source : "-", reason);
            if (!unmapped)
                unmapped = why;
            continue;
        }
        if (nfiles == ESC_CTEST_MAX_FILES) {
            st = esc_error_set(err, ESC_ELIMIT, "%s: more than %u attack_data files in a test",
                               d->name, (unsigned)ESC_CTEST_MAX_FILES);
            goto out;
        }
        char *path = NULL;
        esc_error re = {0};
        esc_status rs = esc_ctest_resolve(ad->data, d->path, o->data_root, &path, &re);
        if (rs == ESC_ENOMEM) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto out;
        }
        if (rs != ESC_OK) {
            st = skip_both(rep, &u, &in, ESC_CTEST_SKIP, re.msg, err);
            goto out;
        }
        if (is_lfs_pointer(path)) {
            snprintf(why, sizeof why,
                     "attack data %s is a Git LFS pointer, not the data (run git lfs pull in "
                     "the attack_data checkout)",
                     path);
            esc_free(path);
            st = skip_both(rep, &u, &in, ESC_CTEST_SKIP, why, err);
            goto out;
        }
        files[nfiles++] = path;
    }
    if (nfiles == 0) {
        st = skip_both(rep, &u, &in, ESC_CTEST_SKIP, unmapped ? unmapped : "no attack data", err);
        goto out;
    }

    double t0 = now_mono();
    esc_error ee = {0};
    esc_hunt_opts ho = {.profile = o->profile, .earliest_us = 0, .latest_us = ESC_TIME_MAX};
    ho.reader.threads = o->threads;
    if ((st = esc_hunt_new(engine, &ho, (const char *const *)files, nfiles, &hunt, &ee))) {
        if (st == ESC_ENOMEM || st == ESC_ELIMIT) {
            if (err)
                *err = ee;
            goto out;
        }
        snprintf(why, sizeof why, "cannot replay the attack data: %s", ee.msg);
        st = skip_both(rep, &u, &in, ESC_CTEST_FAIL, why, err);
        goto out;
    }
    char first_warning[1024] = "";
    for (;;) {
        esc_error_clear(&ee);
        esc_status hs = esc_hunt_step(hunt, &ee);
        if (hs == ESC_EOF)
            break;
        if (hs == ESC_ENOMEM) {
            st = hs;
            if (err)
                *err = ee;
            goto out;
        }
        if (hs != ESC_OK && !first_warning[0])
            snprintf(first_warning, sizeof first_warning, "%s%s%s", ee.path ? ee.path : "",
                     ee.path ? ": " : "", ee.msg);
    }
    if ((st = esc_hunt_finish(hunt, &ee)) != ESC_OK) {
        if (err)
            *err = ee;
        goto out;
    }
    const esc_hunt_stats *hst = esc_hunt_stats_get(hunt);
    const esc_table *t = esc_hunt_table(hunt, 0);
    u.events = in.events = hst->events;
    u.process_events = in.process_events = hst->process_events;
    if (hst->inputs_unknown || hst->inputs_failed)
        st = reason_add(&u, err, "%llu of %zu attack data files could not be read (%s)",
                        (unsigned long long)(hst->inputs_unknown + hst->inputs_failed), nfiles,
                        first_warning[0] ? first_warning : "unknown format");
    if (st == ESC_OK)
        st = unit_check(&u, d, t, hst, nfiles, err);
    u.seconds = now_mono() - t0;
    if (st != ESC_OK)
        goto out;
    double t1 = now_mono();
    in.rows = t->nrows;
    if ((st = integration_check(&in, c, d, t, o, err)) != ESC_OK)
        goto out;
    in.seconds = now_mono() - t1;
    if ((st = report_add(rep, &u, err)) == ESC_OK)
        st = report_add(rep, &in, err);
out:
    esc_hunt_free(hunt);
    for (size_t i = 0; i < nfiles; i++)
        esc_free(files[i]);
    result_fini(&u);
    result_fini(&in);
    return st;
}

esc_status esc_ctest_run(esc_ctest_report *rep, const esc_content *c, const esc_detection *d,
                         const esc_ctest_opts *o, esc_error *err) {
    char broken[1024], unsupported[1024];
    esc_engine *engine = NULL;
    esc_status st = plan_search(c, d, &engine, broken, unsupported, sizeof broken, err);
    if (st != ESC_OK)
        return st;
    if (d->ntests == 0) {
        esc_ctest_result u, in;
        if ((st = result_begin(&u, d->name, d->id, d->path, ESC_CTEST_UNIT, NULL, err))) {
            esc_engine_free(engine);
            return st;
        }
        if ((st = result_begin(&in, d->name, d->id, d->path, ESC_CTEST_INTEGRATION, NULL, err))) {
            result_fini(&u);
            esc_engine_free(engine);
            return st;
        }
        st = skip_both(rep, &u, &in, ESC_CTEST_SKIP, "the detection has no tests: block", err);
        result_fini(&u);
        result_fini(&in);
        esc_engine_free(engine);
        return st;
    }
    for (size_t i = 0; i < d->ntests && st == ESC_OK; i++)
        st = run_test(rep, c, d, engine, &d->tests[i], i, broken, unsupported, o, err);
    esc_engine_free(engine);
    return st;
}

/* ---- JUnit XML ---------------------------------------------------------------------------- */

/* XML-escaped text; bytes XML 1.0 forbids (controls other than tab, LF, CR) become U+FFFD. */
static esc_status xml_text(esc_buf *b, const char *s) {
    esc_status st = ESC_OK;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && st == ESC_OK; p++) {
        switch (*p) {
        case '&':
            st = esc_buf_append_c(b, "&amp;");
            break;
        case '<':
            st = esc_buf_append_c(b, "&lt;");
            break;
        case '>':
            st = esc_buf_append_c(b, "&gt;");
            break;
        case '"':
            st = esc_buf_append_c(b, "&quot;");
            break;
        case '\'':
            st = esc_buf_append_c(b, "&apos;");
            break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
                st = esc_buf_append_c(b, "\xEF\xBF\xBD");
            else
                st = esc_buf_putc(b, (char)*p);
        }
    }
    return st;
}

static esc_status junit_case(esc_buf *b, const esc_ctest_result *r) {
    esc_status st = esc_buf_printf(b, "    <testcase classname=\"escudo.%s\" name=\"",
                                   esc_ctest_kind_name(r->kind));
    if (st == ESC_OK)
        st = xml_text(b, r->detection);
    if (st == ESC_OK && r->test_name) {
        st = esc_buf_append_c(b, ": ");
        if (st == ESC_OK)
            st = xml_text(b, r->test_name);
    }
    if (st == ESC_OK && r->path) {
        st = esc_buf_append_c(b, "\" file=\"");
        if (st == ESC_OK)
            st = xml_text(b, r->path);
    }
    if (st == ESC_OK)
        st = esc_buf_printf(b, "\" time=\"%.3f\"", r->seconds);
    if (st != ESC_OK)
        return st;
    if (r->outcome == ESC_CTEST_PASS)
        return esc_buf_append_c(b, "/>\n");
    bool fail = r->outcome == ESC_CTEST_FAIL;
    st = esc_buf_printf(b, ">\n      <%s message=\"", fail ? "failure" : "skipped");
    if (st == ESC_OK)
        st = xml_text(b, r->nreasons ? r->reasons[0] : "");
    if (st == ESC_OK && !fail)
        return esc_buf_append_c(b, "\"/>\n    </testcase>\n");
    if (st == ESC_OK)
        st = esc_buf_append_c(b, "\" type=\"failure\">");
    for (size_t i = 0; i < r->nreasons && st == ESC_OK; i++) {
        if (i)
            st = esc_buf_putc(b, '\n');
        if (st == ESC_OK)
            st = xml_text(b, r->reasons[i]);
    }
    if (st == ESC_OK && r->more_reasons)
        st = esc_buf_printf(b, "\n(%zu more)", r->more_reasons);
    if (st == ESC_OK)
        st = esc_buf_append_c(b, "</failure>\n    </testcase>\n");
    return st;
}

esc_status esc_ctest_junit(const esc_ctest_report *rep, esc_buf *out) {
    size_t tot[3] = {0, 0, 0};
    double secs = 0;
    for (int k = 0; k < 3; k++)
        for (int o = 0; o < 3; o++)
            tot[o] += rep->count[k][o];
    for (size_t i = 0; i < rep->n; i++)
        secs += rep->r[i].seconds;
    esc_status st = esc_buf_printf(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<testsuites name=\"escudo test\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" "
        "errors=\"0\" time=\"%.3f\">\n",
        tot[0] + tot[1] + tot[2], tot[ESC_CTEST_FAIL], tot[ESC_CTEST_SKIP], secs);
    for (int k = 0; k < 3 && st == ESC_OK; k++) {
        const size_t *cnt = rep->count[k];
        double ks = 0;
        for (size_t i = 0; i < rep->n; i++)
            if (rep->r[i].kind == (esc_ctest_kind)k)
                ks += rep->r[i].seconds;
        st = esc_buf_printf(out,
                            "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" "
                            "skipped=\"%zu\" errors=\"0\" time=\"%.3f\">\n",
                            esc_ctest_kind_name((esc_ctest_kind)k), cnt[0] + cnt[1] + cnt[2],
                            cnt[ESC_CTEST_FAIL], cnt[ESC_CTEST_SKIP], ks);
        for (size_t i = 0; i < rep->n && st == ESC_OK; i++)
            if (rep->r[i].kind == (esc_ctest_kind)k)
                st = junit_case(out, &rep->r[i]);
        if (st == ESC_OK)
            st = esc_buf_append_c(out, "  </testsuite>\n");
    }
    if (st == ESC_OK)
        st = esc_buf_append_c(out, "</testsuites>\n");
    return st;
}
