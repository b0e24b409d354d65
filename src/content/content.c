/* Content loading: folders laid out like splunk/security_content -> a frozen esc_content.
 *
 * Per folder, in this order: macros/ *.yml, deployments/ *.yml, data_sources/ *.yml,
 * lookups/ *.yml (the CSV beside each is only located, not read), mitre_tactics.yml at the
 * folder root (technique id -> tactic names), then detections/ recursively. Files are read in
 * byte order of their names, so loading is deterministic. Later folders shadow earlier ones:
 * detections by id, macros by name and arity, deployments, data sources and lookups by name,
 * techniques by id. After all folders: each detection is linked to the last deployment whose
 * type matches its own, and its `<name>_filter` macro is synthesised as `search *` when nothing
 * defines it (SPEC section 1).
 *
 * Invariants: every string and array handed out lives in content->arena; a YAML file is at
 * most ESC_CONTENT_MAX_FILE bytes, nested at most ESC_CONTENT_MAX_DEPTH deep; a file that fails
 * becomes one warning and the rest still loads. Deliberately not done: parsing lookup CSVs,
 * stories, validating searches (the SPL layer does that), following ESCU's build steps beyond
 * the filter macro. */
#include "content/content.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "content/yaml_tree.h"
#include "content/ycache.h"
#include "ingest/input.h"

#define ESC_CONTENT_MAX_FILE (4u << 20)
#define ESC_CONTENT_MAX_DEPTH 64
#define ESC_CONTENT_MAX_DIR_DEPTH 16
#define ESC_CONTENT_MAX_FILES 100000
#define ESC_CONTENT_ARENA_CAP ((size_t)1 << 30)
#define ESC_CONTENT_SCRATCH_CAP ((size_t)256 << 20)

typedef struct vec {
    void *p;
    size_t n, cap;
} vec;

static void *vec_push(vec *v, size_t elem) {
    if (v->n == v->cap && !esc_vec_grow(&v->p, &v->cap, v->n + 1, elem, 16))
        return NULL;
    void *slot = (char *)v->p + v->n * elem;
    memset(slot, 0, elem);
    v->n++;
    return slot;
}

typedef struct loader {
    esc_arena *a;
    esc_arena scratch;
    vec dets, macros, deps, dss, lookups, mitre, warnings;
    size_t *mtab;      /* macros by name and arity: index + 1 into macros, 0 = empty slot */
    size_t mcap;       /* slots in mtab, a power of two */
    size_t loaded;     /* items loaded from the current folder */
    esc_ycache *trees; /* parsed files kept between runs, or NULL */
    bool oom;
} loader;

static void warn(loader *L, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(loader *L, const char *path, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = strlen(path) + 2 + strlen(msg) + 1;
    char *s = esc_arena_alloc(L->a, n);
    const char **slot = vec_push(&L->warnings, sizeof *slot);
    if (!s || !slot) {
        L->oom = true;
        if (slot)
            L->warnings.n--;
        return;
    }
    snprintf(s, n, "%s: %s", path, msg);
    *slot = s;
}

static const char *dup(loader *L, const char *s) {
    if (!s)
        return NULL;
    char *d = esc_arena_strdup(L->a, s);
    if (!d)
        L->oom = true;
    return d;
}

/* ---- scalar helpers ------------------------------------------------------------------------ */

static const char *S(loader *L, const esc_ynode *map, const char *key) {
    return dup(L, esc_ynode_str(esc_ymap_get(map, key)));
}

static esc_strlist SL(loader *L, const esc_ynode *n) {
    esc_strlist out = {NULL, 0};
    if (!n || esc_ynode_is_null(n))
        return out;
    if (n->kind == ESC_Y_SCALAR) {
        const char **v = esc_arena_alloc(L->a, sizeof *v);
        if (!v) {
            L->oom = true;
            return out;
        }
        v[0] = dup(L, n->str);
        out.v = v;
        out.n = 1;
        return out;
    }
    if (n->kind != ESC_Y_SEQ || n->n == 0)
        return out;
    const char **v = esc_arena_alloc(L->a, n->n * sizeof *v);
    if (!v) {
        L->oom = true;
        return out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        const char *s = esc_ynode_str(n->items[i]);
        if (s)
            v[k++] = dup(L, s);
    }
    out.v = v;
    out.n = k;
    return out;
}

static esc_strlist SLk(loader *L, const esc_ynode *map, const char *key) {
    return SL(L, esc_ymap_get(map, key));
}

static bool parse_int(const char *s, long *out) {
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static int I(loader *L, const char *path, const esc_ynode *map, const char *key, int def) {
    const esc_ynode *n = esc_ymap_get(map, key);
    if (!n || esc_ynode_is_null(n))
        return def;
    /* ESCU writes some scores as 25.0: a number is rounded to the nearest integer. */
    const char *s = esc_ynode_str(n);
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || !(v >= -1e9 && v <= 1e9)) {
        warn(L, path, "line %zu: %s is not a number; ignored", n->line, key);
        return def;
    }
    return (int)lround(v);
}

static bool truthy(const char *s, bool def) {
    if (!s)
        return def;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1"))
        return true;
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcmp(s, "0"))
        return false;
    return def;
}

/* ---- files ----------------------------------------------------------------------------------- */

static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = esc_malloc(la + 1 + lb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool has_yaml_ext(const char *name) {
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the YAML files under dir (sorted; recursing when asked) to out (heap strings). The
 * listing stops at the first file past ESC_CONTENT_MAX_FILES, with one warning naming its folder;
 * that file is appended too, and list_files drops it. */
static void list_yaml(loader *L, const char *dir, bool recursive, int depth, vec *out,
                      esc_dirs_seen *seen) {
    if (depth > ESC_CONTENT_MAX_DIR_DEPTH) {
        warn(L, dir, "folders nested deeper than %d; not read", ESC_CONTENT_MAX_DIR_DEPTH);
        return;
    }
    /* each folder once, however many symbolic links lead to it (a link loop ends here) */
    esc_status mst = esc_dirs_seen_mark(seen, dir);
    if (mst == ESC_ENOMEM)
        L->oom = true;
    if (mst == ESC_ENOMEM || mst == ESC_SKIP)
        return;
    DIR *d = opendir(dir);
    if (!d) {
        warn(L, dir, "cannot open folder: %s", strerror(errno));
        return;
    }
    vec names = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char **slot = vec_push(&names, sizeof *slot);
        if (!slot || !(*slot = esc_strdup(e->d_name))) {
            if (slot)
                names.n--;
            L->oom = true;
            break;
        }
    }
    closedir(d);
    if (names.n)
        qsort(names.p, names.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < names.n && out->n <= ESC_CONTENT_MAX_FILES; i++) {
        char *name = ((char **)names.p)[i];
        char *p = join(dir, name);
        if (!p) {
            L->oom = true;
            continue;
        }
        if (recursive && is_dir(p)) {
            list_yaml(L, p, true, depth + 1, out, seen);
            esc_free(p);
        } else if (has_yaml_ext(name) && is_file(p)) {
            if (out->n == ESC_CONTENT_MAX_FILES)
                warn(L, dir, "more than %d files; the rest are not read", ESC_CONTENT_MAX_FILES);
            char **slot = vec_push(out, sizeof *slot);
            if (!slot) {
                L->oom = true;
                esc_free(p);
            } else
                *slot = p;
        } else
            esc_free(p);
    }
    for (size_t i = 0; i < names.n; i++)
        esc_free(((char **)names.p)[i]);
    esc_free(names.p);
}

/* Read and parse one YAML file into the scratch arena; a warning and NULL on failure. */
static const esc_ynode *load_yaml(loader *L, const char *path) {
    esc_arena_reset(&L->scratch);
    FILE *f = fopen(path, "rb");
    if (!f) {
        warn(L, path, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    const esc_ynode *out = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        warn(L, path, "cannot stat: %s", strerror(errno));
        goto done;
    }
    if ((unsigned long long)st.st_size > ESC_CONTENT_MAX_FILE) {
        warn(L, path, "file is larger than %u bytes; skipped", ESC_CONTENT_MAX_FILE);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    buf = esc_malloc(size + 1);
    if (!buf) {
        L->oom = true;
        goto done;
    }
    size_t got = fread(buf, 1, size + 1, f);
    if (got > size) {
        warn(L, path, "file grew while being read; skipped");
        goto done;
    }
    if (ferror(f)) {
        warn(L, path, "read error");
        goto done;
    }
    esc_ynode *root = NULL;
    char key[65];
    if (!esc_ycache_get(L->trees, buf, got, ESC_CONTENT_MAX_DEPTH, &L->scratch, &root, key)) {
        esc_error e;
        esc_error_clear(&e);
        esc_status pst = esc_yaml_parse(buf, got, &L->scratch, ESC_CONTENT_MAX_DEPTH, &root, &e);
        if (pst == ESC_ENOMEM || L->scratch.failed) { /* memory ran out: not the file's fault */
            L->oom = true;
            goto done;
        }
        if (pst != ESC_OK) {
            warn(L, path, "%s", e.msg);
            goto done;
        }
        esc_ycache_put(L->trees, key, root);
    }
    if (root->kind != ESC_Y_MAP) {
        warn(L, path, "not a YAML mapping; skipped");
        goto done;
    }
    out = root;
done:
    esc_free(buf);
    fclose(f);
    return out;
}

/* clang-format off */
/* ---- macros ------------------------------------------------------------------------------------ */
/* clang-format on */

static size_t macro_hash(const char *name, size_t nargs) {
    return esc_macro_hash(name, strlen(name), nargs);
}

static bool mtab_grow(loader *L) {
    size_t cap = L->mcap ? L->mcap * 2 : 64;
    size_t *t = esc_calloc(cap, sizeof *t);
    if (!t)
        return false;
    const esc_macro *m = L->macros.p;
    for (size_t i = 0; i < L->macros.n; i++) {
        size_t j = macro_hash(m[i].name, m[i].nargs) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = i + 1;
    }
    esc_free(L->mtab);
    L->mtab = t;
    L->mcap = cap;
    return true;
}

/* The macro called name with nargs arguments, or a new one at the end whose name the caller
 * sets at once (NULL when out of memory). The table keeps loading n macros O(n). */
static esc_macro *macro_slot(loader *L, const char *name, size_t nargs) {
    if ((L->macros.n + 1) * 2 > L->mcap && !mtab_grow(L)) {
        L->oom = true;
        return NULL;
    }
    size_t j = macro_hash(name, nargs) & (L->mcap - 1);
    for (; L->mtab[j]; j = (j + 1) & (L->mcap - 1)) {
        esc_macro *m = (esc_macro *)L->macros.p + L->mtab[j] - 1;
        if (m->nargs == nargs && strcmp(m->name, name) == 0)
            return m;
    }
    esc_macro *m = vec_push(&L->macros, sizeof *m);
    if (!m) {
        L->oom = true;
        return NULL;
    }
    L->mtab[j] = L->macros.n;
    return m;
}

static void load_macro(loader *L, const char *path) {
    const esc_ynode *root = load_yaml(L, path);
    if (!root)
        return;
    const char *name = esc_ynode_str(esc_ymap_get(root, "name"));
    const esc_ynode *defn = esc_ymap_get(root, "definition");
    if (!name || !*name) {
        warn(L, path, "macro without a name; skipped");
        return;
    }
    if (!defn || defn->kind != ESC_Y_SCALAR) {
        warn(L, path, "macro %s has no definition; skipped", name);
        return;
    }
    /* Accept "name(N)" as Splunk's macros.conf writes it. */
    size_t nlen = strcspn(name, "(");
    esc_strlist args = SLk(L, root, "arguments");
    if (name[nlen] == '(') {
        long k;
        char num[32];
        size_t dl = strlen(name + nlen + 1);
        if (dl == 0 || dl >= sizeof num || name[nlen + dl] != ')') {
            warn(L, path, "bad macro name %s; skipped", name);
            return;
        }
        memcpy(num, name + nlen + 1, dl - 1);
        num[dl - 1] = 0;
        if (!parse_int(num, &k) || k < 0 || (size_t)k != args.n) {
            warn(L, path, "macro %s declares %zu arguments; skipped", name, args.n);
            return;
        }
    }
    char *nm = esc_arena_alloc(L->a, nlen + 1);
    if (!nm) {
        L->oom = true;
        return;
    }
    memcpy(nm, name, nlen);
    nm[nlen] = 0;
    esc_macro *m = macro_slot(L, nm, args.n);
    if (!m)
        return;
    m->name = nm;
    m->nargs = args.n;
    m->args = args.v;
    m->definition = dup(L, defn->str);
    m->origin = dup(L, path);
    L->loaded++;
}

/* ---- deployments, data sources, lookups, tactics ------------------------------------------- */

static void load_deployment(loader *L, const char *path) {
    const esc_ynode *root = load_yaml(L, path);
    if (!root)
        return;
    esc_deployment d;
    memset(&d, 0, sizeof d);
    d.path = dup(L, path);
    d.name = S(L, root, "name");
    d.id = S(L, root, "id");
    d.type = S(L, root, "type");
    if (!d.name) {
        warn(L, path, "deployment without a name; skipped");
        return;
    }
    const esc_ynode *sch = esc_ymap_get(root, "scheduling");
    d.cron_schedule = S(L, sch, "cron_schedule");
    d.earliest_time = S(L, sch, "earliest_time");
    d.latest_time = S(L, sch, "latest_time");
    d.schedule_window = S(L, sch, "schedule_window");
    const esc_ynode *aa = esc_ymap_get(root, "alert_action");
    const esc_ynode *nt = esc_ymap_get(aa, "notable");
    if (nt && nt->kind == ESC_Y_MAP) {
        d.notable = true;
        d.rule_title = S(L, nt, "rule_title");
        d.rule_description = S(L, nt, "rule_description");
        d.nes_fields = SLk(L, nt, "nes_fields");
    }
    const esc_ynode *rba = esc_ymap_get(aa, "rba");
    d.rba = truthy(esc_ynode_str(esc_ymap_get(rba, "enabled")), false);
    /* ESCU ships every detection disabled; `disabled: false` (or `enabled: true`) at the top
     * level, or under scheduling, turns scheduling on. */
    d.disabled = true;
    const char *en = esc_ynode_str(esc_ymap_get(root, "enabled"));
    if (!en)
        en = esc_ynode_str(esc_ymap_get(sch, "enabled"));
    const char *dis = esc_ynode_str(esc_ymap_get(root, "disabled"));
    if (!dis)
        dis = esc_ynode_str(esc_ymap_get(sch, "disabled"));
    if (en)
        d.disabled = !truthy(en, false);
    if (dis)
        d.disabled = truthy(dis, true);

    esc_deployment *slot = NULL, *all = L->deps.p;
    for (size_t i = 0; i < L->deps.n; i++)
        if (strcmp(all[i].name, d.name) == 0)
            slot = &all[i];
    if (!slot && !(slot = vec_push(&L->deps, sizeof *slot))) {
        L->oom = true;
        return;
    }
    *slot = d;
    L->loaded++;
}

static void load_data_source(loader *L, const char *path) {
    const esc_ynode *root = load_yaml(L, path);
    if (!root)
        return;
    esc_data_source d = {dup(L, path), S(L, root, "name"), S(L, root, "source"),
                         S(L, root, "sourcetype")};
    if (!d.name) {
        warn(L, path, "data source without a name; skipped");
        return;
    }
    esc_data_source *slot = NULL, *all = L->dss.p;
    for (size_t i = 0; i < L->dss.n; i++)
        if (strcmp(all[i].name, d.name) == 0)
            slot = &all[i];
    if (!slot && !(slot = vec_push(&L->dss, sizeof *slot))) {
        L->oom = true;
        return;
    }
    *slot = d;
    L->loaded++;
}

static void load_lookup(loader *L, const char *dir, const char *path) {
    const esc_ynode *root = load_yaml(L, path);
    if (!root)
        return;
    esc_lookup d;
    memset(&d, 0, sizeof d);
    d.path = dup(L, path);
    d.name = S(L, root, "name");
    d.filename = S(L, root, "filename");
    d.case_sensitive_match =
        truthy(esc_ynode_str(esc_ymap_get(root, "case_sensitive_match")), true);
    d.match_type = S(L, root, "match_type");
    d.default_match = S(L, root, "default_match");
    const char *mn = esc_ynode_str(esc_ymap_get(root, "min_matches"));
    const char *mx = esc_ynode_str(esc_ymap_get(root, "max_matches"));
    d.min_matches = mn ? strtoul(mn, NULL, 10) : 0;
    d.max_matches = mx ? strtoul(mx, NULL, 10) : 0;
    if (!d.name) {
        warn(L, path, "lookup without a name; skipped");
        return;
    }
    if (d.filename) {
        if (strchr(d.filename, '/') || strcmp(d.filename, "..") == 0) {
            warn(L, path, "lookup filename %s is not a plain file name; ignored", d.filename);
            d.filename = NULL;
        } else {
            char *p = join(dir, d.filename);
            if (!p)
                L->oom = true;
            else if (is_file(p))
                d.csv_path = dup(L, p);
            else
                warn(L, path, "lookup file %s not found", d.filename);
            esc_free(p);
        }
    }
    esc_lookup *slot = NULL, *all = L->lookups.p;
    for (size_t i = 0; i < L->lookups.n; i++)
        if (strcmp(all[i].name, d.name) == 0)
            slot = &all[i];
    if (!slot && !(slot = vec_push(&L->lookups, sizeof *slot))) {
        L->oom = true;
        return;
    }
    *slot = d;
    L->loaded++;
}

static void load_mitre(loader *L, const char *path) {
    const esc_ynode *root = load_yaml(L, path);
    if (!root)
        return;
    const esc_ynode *t = esc_ymap_get(root, "techniques");
    if (!t || t->kind != ESC_Y_MAP) {
        warn(L, path, "no `techniques` mapping; skipped");
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        const char *tech = esc_ynode_str(t->items[2 * i]);
        if (!tech)
            continue;
        esc_mitre_tactic m = {dup(L, tech), SL(L, t->items[2 * i + 1])};
        esc_mitre_tactic *slot = NULL, *all = L->mitre.p;
        for (size_t k = 0; k < L->mitre.n; k++)
            if (strcmp(all[k].technique, tech) == 0)
                slot = &all[k];
        if (!slot && !(slot = vec_push(&L->mitre, sizeof *slot))) {
            L->oom = true;
            return;
        }
        *slot = m;
    }
    L->loaded++;
}

/* ---- detections ------------------------------------------------------------------------------ */

/* The newer ESCU risk block: rba: {message, risk_objects: [{field, type, score}],
 * threat_objects: [{field, type}]}. It replaces tags.message and tags.observable. Risk object
 * types user/system/other become observable types User/Hostname/Other (so the actions map them
 * back); threat object types are kept as written. */
static void load_rba(loader *L, const char *path, const esc_ynode *rba, esc_detection *d) {
    const esc_ynode *ro = esc_ymap_get(rba, "risk_objects");
    const esc_ynode *to = esc_ymap_get(rba, "threat_objects");
    size_t nro = ro && ro->kind == ESC_Y_SEQ ? ro->n : 0;
    size_t nto = to && to->kind == ESC_Y_SEQ ? to->n : 0;
    const char *msg = S(L, rba, "message");
    if (msg)
        d->message = msg;
    if (nro + nto == 0)
        return;
    esc_observable *v = esc_arena_alloc(L->a, (nro + nto) * sizeof *v);
    int *scores = esc_arena_alloc(L->a, (nro + nto) * sizeof *scores);
    const char **victim = esc_arena_alloc(L->a, sizeof *victim);
    const char **attacker = esc_arena_alloc(L->a, sizeof *attacker);
    if (!v || !scores || !victim || !attacker) {
        L->oom = true;
        return;
    }
    victim[0] = "Victim";
    attacker[0] = "Attacker";
    size_t k = 0;
    int best = -1;
    for (size_t pass = 0; pass < 2; pass++) {
        const esc_ynode *list = pass == 0 ? ro : to;
        size_t n = pass == 0 ? nro : nto;
        for (size_t i = 0; i < n; i++) {
            const esc_ynode *it = list->items[i];
            const char *field = esc_ynode_str(esc_ymap_get(it, "field"));
            if (!field) {
                warn(L, path, "line %zu: rba object without a field; ignored", it->line);
                continue;
            }
            const char *type = esc_ynode_str(esc_ymap_get(it, "type"));
            if (pass == 0 && type) {
                if (strcasecmp(type, "user") == 0)
                    type = "User";
                else if (strcasecmp(type, "system") == 0)
                    type = "Hostname";
                else if (strcasecmp(type, "other") == 0)
                    type = "Other";
            }
            v[k].name = dup(L, field);
            v[k].type = dup(L, type ? type : "Other");
            v[k].roles = (esc_strlist){pass == 0 ? victim : attacker, 1};
            scores[k] = pass == 0 ? I(L, path, it, "score", -1) : -1;
            if (scores[k] > best)
                best = scores[k];
            k++;
        }
    }
    d->observables = v;
    d->nobservables = k;
    d->observable_scores = scores;
    if (d->risk_score < 0)
        d->risk_score = best;
}

/* Why a detection file was not loaded: content that is not ESCU is named for what it is. */
static void not_loaded(loader *L, const char *path, const esc_ynode *root, const esc_detection *d) {
    if (!d->search && esc_ymap_get(root, "detection") && esc_ymap_get(root, "logsource"))
        warn(L, path,
             "Sigma rule, not ESCU content: escudo reads ESCU detections (name, id and "
             "an SPL search:); skipped");
    else if (!d->search)
        warn(L, path,
             "YAML without a search: not an ESCU detection (escudo reads ESCU "
             "detections: name, id and an SPL search:); skipped");
    else
        warn(L, path, "detection without %s; skipped", !d->name ? "a name" : "an id");
}

static void load_detection(loader *L, const char *path) {
    const esc_ynode *root = load_yaml(L, path);
    if (!root)
        return;
    esc_detection d;
    memset(&d, 0, sizeof d);
    d.path = dup(L, path);
    d.name = S(L, root, "name");
    d.id = S(L, root, "id");
    d.search = S(L, root, "search");
    if (!d.name || !d.id || !d.search) {
        not_loaded(L, path, root, &d);
        return;
    }
    d.type = S(L, root, "type");
    d.status = S(L, root, "status");
    d.date = S(L, root, "date");
    d.author = S(L, root, "author");
    d.version = I(L, path, root, "version", 0);
    d.description = S(L, root, "description");
    d.how_to_implement = S(L, root, "how_to_implement");
    d.known_false_positives = S(L, root, "known_false_positives");
    d.data_sources = SLk(L, root, "data_source");
    if (!d.data_sources.n)
        d.data_sources = SLk(L, root, "data_sources");
    d.references = SLk(L, root, "references");

    const esc_ynode *dd = esc_ymap_get(root, "drilldown_searches");
    if (dd && dd->kind == ESC_Y_SEQ && dd->n) {
        esc_drilldown *v = esc_arena_alloc(L->a, dd->n * sizeof *v);
        if (!v) {
            L->oom = true;
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < dd->n; i++) {
            const esc_ynode *it = dd->items[i];
            if (it->kind != ESC_Y_MAP) {
                warn(L, path, "line %zu: drilldown search is not a mapping; ignored", it->line);
                continue;
            }
            v[k].name = S(L, it, "name");
            v[k].search = S(L, it, "search");
            v[k].earliest_offset = S(L, it, "earliest_offset");
            v[k].latest_offset = S(L, it, "latest_offset");
            k++;
        }
        d.drilldowns = v;
        d.ndrilldowns = k;
    }

    const esc_ynode *tags = esc_ymap_get(root, "tags");
    d.analytic_story = SLk(L, tags, "analytic_story");
    d.mitre_attack_id = SLk(L, tags, "mitre_attack_id");
    d.product = SLk(L, tags, "product");
    d.required_fields = SLk(L, tags, "required_fields");
    d.asset_type = S(L, tags, "asset_type");
    d.security_domain = S(L, tags, "security_domain");
    d.message = S(L, tags, "message");
    d.confidence = I(L, path, tags, "confidence", -1);
    d.impact = I(L, path, tags, "impact", -1);
    d.risk_score = I(L, path, tags, "risk_score", -1);
    const esc_ynode *ob = esc_ymap_get(tags, "observable");
    if (ob && ob->kind == ESC_Y_SEQ && ob->n) {
        esc_observable *v = esc_arena_alloc(L->a, ob->n * sizeof *v);
        if (!v) {
            L->oom = true;
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < ob->n; i++) {
            const esc_ynode *it = ob->items[i];
            const char *nm = esc_ynode_str(esc_ymap_get(it, "name"));
            if (!nm) {
                warn(L, path, "line %zu: observable without a name; ignored", it->line);
                continue;
            }
            v[k].name = dup(L, nm);
            v[k].type = S(L, it, "type");
            v[k].roles = SLk(L, it, "role");
            k++;
        }
        d.observables = v;
        d.nobservables = k;
    }

    const esc_ynode *rba = esc_ymap_get(root, "rba");
    if (rba && rba->kind == ESC_Y_MAP)
        load_rba(L, path, rba, &d);

    const esc_ynode *tests = esc_ymap_get(root, "tests");
    if (tests && tests->kind == ESC_Y_SEQ && tests->n) {
        esc_detection_test *v = esc_arena_alloc(L->a, tests->n * sizeof *v);
        if (!v) {
            L->oom = true;
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < tests->n; i++) {
            const esc_ynode *it = tests->items[i];
            if (it->kind != ESC_Y_MAP)
                continue;
            v[k].name = S(L, it, "name");
            const esc_ynode *ad = esc_ymap_get(it, "attack_data");
            v[k].attack_data = NULL;
            v[k].nattack_data = 0;
            if (ad && ad->kind == ESC_Y_SEQ && ad->n) {
                esc_attack_data *a = esc_arena_alloc(L->a, ad->n * sizeof *a);
                if (!a) {
                    L->oom = true;
                    return;
                }
                size_t m = 0;
                for (size_t j = 0; j < ad->n; j++) {
                    const esc_ynode *x = ad->items[j];
                    if (x->kind != ESC_Y_MAP || !esc_ynode_str(esc_ymap_get(x, "data")))
                        continue;
                    a[m].data = S(L, x, "data");
                    a[m].source = S(L, x, "source");
                    a[m].sourcetype = S(L, x, "sourcetype");
                    m++;
                }
                v[k].attack_data = a;
                v[k].nattack_data = m;
            }
            k++;
        }
        d.tests = v;
        d.ntests = k;
    }

    esc_detection *slot = NULL, *all = L->dets.p;
    for (size_t i = 0; i < L->dets.n; i++)
        if (strcmp(all[i].id, d.id) == 0)
            slot = &all[i];
    if (!slot && !(slot = vec_push(&L->dets, sizeof *slot))) {
        L->oom = true;
        return;
    }
    *slot = d;
    L->loaded++;
}

/* The last zero-argument `..._filter` macro call in the search, else the detection name
 * lower-cased with every non-alphanumeric byte as `_` plus "_filter" (what ESCU's build
 * generates; the two agree for every ESCU detection). */
static const char *filter_name(loader *L, const esc_detection *d) {
    const char *s = d->search, *best = NULL;
    size_t best_len = 0;
    for (const char *p = strchr(s, '`'); p; p = strchr(p, '`')) {
        const char *q = strchr(p + 1, '`');
        if (!q)
            break;
        size_t n = (size_t)(q - p - 1);
        const char *nm = p + 1;
        bool ok = n > 7;
        for (size_t i = 0; ok && i < n; i++) {
            unsigned char c = (unsigned char)nm[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_';
        }
        if (ok && memcmp(nm + n - 7, "_filter", 7) == 0) {
            best = nm;
            best_len = n;
        }
        p = q + 1;
    }
    char *out;
    if (best) {
        out = esc_arena_alloc(L->a, best_len + 1);
        if (!out)
            goto oom;
        memcpy(out, best, best_len);
        out[best_len] = 0;
        return out;
    }
    size_t n = strlen(d->name);
    out = esc_arena_alloc(L->a, n + 8);
    if (!out)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d->name[i];
        out[i] = (c >= 'A' && c <= 'Z')                               ? (char)(c + 32)
                 : ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? (char)c
                                                                      : '_';
    }
    memcpy(out + n, "_filter", 8);
    return out;
oom:
    L->oom = true;
    return NULL;
}

/* ---- folders ------------------------------------------------------------------------------- */

/* The YAML files under dir, at most ESC_CONTENT_MAX_FILES of them (see list_yaml). */
static void list_files(loader *L, const char *dir, bool recursive, vec *out) {
    esc_dirs_seen seen = {0};
    list_yaml(L, dir, recursive, 0, out, &seen);
    esc_dirs_seen_fini(&seen);
    while (out->n > ESC_CONTENT_MAX_FILES)
        esc_free(((char **)out->p)[--out->n]);
}

typedef void (*load_fn)(loader *L, const char *path);

static void load_all(loader *L, const char *dir, const char *sub, bool recursive, load_fn fn) {
    char *p = join(dir, sub);
    if (!p) {
        L->oom = true;
        return;
    }
    if (is_dir(p)) {
        vec files = {0};
        list_files(L, p, recursive, &files);
        for (size_t i = 0; i < files.n; i++) {
            fn(L, ((char **)files.p)[i]);
            esc_free(((char **)files.p)[i]);
        }
        esc_free(files.p);
    }
    esc_free(p);
}

static void load_lookups(loader *L, const char *dir) {
    char *p = join(dir, "lookups");
    if (!p) {
        L->oom = true;
        return;
    }
    if (is_dir(p)) {
        vec files = {0};
        list_files(L, p, false, &files);
        for (size_t i = 0; i < files.n; i++) {
            load_lookup(L, p, ((char **)files.p)[i]);
            esc_free(((char **)files.p)[i]);
        }
        esc_free(files.p);
    }
    esc_free(p);
}

static void *freeze(loader *L, vec *v, size_t elem) {
    if (!v->n)
        return NULL;
    void *p = esc_arena_alloc(L->a, v->n * elem);
    if (!p) {
        L->oom = true;
        return NULL;
    }
    memcpy(p, v->p, v->n * elem);
    return p;
}

esc_status esc_content_load(const char *const *dirs, size_t ndirs, esc_content **out,
                            esc_error *err) {
    esc_status st = ESC_OK;
    loader L;
    memset(&L, 0, sizeof L);
    *out = NULL;
    esc_content *c = esc_calloc(1, sizeof *c);
    if (!c)
        return esc_error_set(err, ESC_ENOMEM, "out of memory loading content");
    esc_arena_init(&c->arena, 256 * 1024, ESC_CONTENT_ARENA_CAP);
    esc_arena_init(&L.scratch, 256 * 1024, ESC_CONTENT_SCRATCH_CAP);
    L.a = &c->arena;
    L.trees = esc_ycache_open(dirs, ndirs);

    for (size_t i = 0; i < ndirs; i++) {
        const char *dir = dirs[i];
        if (is_file(dir) && has_yaml_ext(dir)) { /* a single detection file */
            L.loaded = 0;
            load_detection(&L, dir);
            if (L.oom) {
                st = esc_error_set(err, ESC_ENOMEM, "out of memory loading %s", dir);
                goto fail;
            }
            if (L.loaded == 0) {
                const char *why =
                    L.warnings.n ? ((const char **)L.warnings.p)[L.warnings.n - 1] : NULL;
                if (why)
                    st = esc_error_set(err, ESC_ECONTENT, "%s", why);
                else
                    st = esc_error_set(err, ESC_ECONTENT, "%s: not a loadable detection", dir);
                goto fail;
            }
            continue;
        }
        if (!is_dir(dir)) {
            st = esc_error_set(err, ESC_EIO, "content folder %s: %s", dir,
                               errno ? strerror(errno) : "not a folder");
            goto fail;
        }
        L.loaded = 0;
        size_t nwarn = L.warnings.n;
        load_all(&L, dir, "macros", false, load_macro);
        load_all(&L, dir, "deployments", false, load_deployment);
        load_all(&L, dir, "data_sources", false, load_data_source);
        load_lookups(&L, dir);
        char *mt = join(dir, "mitre_tactics.yml");
        if (!mt) {
            L.oom = true;
        } else {
            if (is_file(mt))
                load_mitre(&L, mt);
            esc_free(mt);
        }
        load_all(&L, dir, "detections", true, load_detection);
        if (L.oom && c->arena.capped) {
            st = esc_error_set(err, ESC_ECONTENT,
                               "content needs more than %zu MiB of memory; stopped in %s",
                               ESC_CONTENT_ARENA_CAP >> 20, dir);
            goto fail;
        }
        if (L.oom) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory loading content from %s", dir);
            goto fail;
        }
        if (L.loaded == 0) {
            const char *why = L.warnings.n > nwarn ? ((const char **)L.warnings.p)[L.warnings.n - 1]
                                                   : NULL; /* the last file skipped says why */
            st = esc_error_set(err, ESC_ECONTENT, "content folder %s: nothing could be loaded%s%s",
                               dir, why ? "; " : "", why ? why : "");
            goto fail;
        }
    }

    /* Synthesise missing filter macros. */
    esc_detection *dets = L.dets.p;
    for (size_t i = 0; i < L.dets.n; i++) {
        const char *fname = filter_name(&L, &dets[i]);
        if (!fname)
            break;
        dets[i].filter_macro = fname;
        size_t before = L.macros.n;
        esc_macro *nm = macro_slot(&L, fname, 0);
        if (!nm)
            break;
        if (L.macros.n == before)
            continue; /* defined by the content */
        nm->name = fname;
        nm->nargs = 0;
        nm->args = NULL;
        nm->definition = "search *";
        nm->origin = dets[i].path;
    }

    c->detections = freeze(&L, &L.dets, sizeof(esc_detection));
    c->ndetections = L.dets.n;
    c->macros.items = freeze(&L, &L.macros, sizeof(esc_macro));
    c->macros.n = L.macros.n;
    /* the loader's index, which the searches' expansion looks every macro up in */
    vec slots = {.p = L.mtab, .n = L.mcap};
    c->macros.slot = freeze(&L, &slots, sizeof *L.mtab);
    c->macros.nslots = L.mcap;
    c->deployments = freeze(&L, &L.deps, sizeof(esc_deployment));
    c->ndeployments = L.deps.n;
    c->data_sources = freeze(&L, &L.dss, sizeof(esc_data_source));
    c->ndata_sources = L.dss.n;
    c->lookups = freeze(&L, &L.lookups, sizeof(esc_lookup));
    c->nlookups = L.lookups.n;
    c->mitre = freeze(&L, &L.mitre, sizeof(esc_mitre_tactic));
    c->nmitre = L.mitre.n;
    c->warnings.v = freeze(&L, &L.warnings, sizeof(const char *));
    c->warnings.n = L.warnings.n;
    if (L.oom) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory loading content");
        goto fail;
    }
    /* Link each detection to the last deployment of its type. */
    esc_detection *fd = (esc_detection *)c->detections;
    for (size_t i = 0; i < c->ndetections; i++) {
        fd[i].deployment = NULL;
        for (size_t k = c->ndeployments; k > 0 && fd[i].type; k--) {
            const esc_deployment *dp = &c->deployments[k - 1];
            if (dp->type && strcasecmp(dp->type, fd[i].type) == 0) {
                fd[i].deployment = dp;
                break;
            }
        }
    }
    *out = c;
    c = NULL;
fail:
    esc_free(L.dets.p);
    esc_free(L.macros.p);
    esc_free(L.mtab);
    esc_free(L.deps.p);
    esc_free(L.dss.p);
    esc_free(L.lookups.p);
    esc_free(L.mitre.p);
    esc_free(L.warnings.p);
    esc_arena_fini(&L.scratch);
    esc_ycache_close(L.trees);
    esc_content_free(c);
    return st;
}

void esc_content_free(esc_content *c) {
    if (!c)
        return;
    esc_arena_fini(&c->arena);
    esc_free(c);
}

const esc_detection *esc_content_find(const esc_content *c, const char *q) {
    if (!c || !q)
        return NULL;
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = c->ndetections; i > 0; i--) {
            const esc_detection *d = &c->detections[i - 1];
            if (pass == 0) {
                if (strcmp(d->name, q) == 0 || strcmp(d->id, q) == 0 || strcmp(d->path, q) == 0)
                    return d;
                continue;
            }
            const char *base = strrchr(d->path, '/');
            base = base ? base + 1 : d->path;
            size_t bl = strlen(base), ql = strlen(q);
            if (strcmp(base, q) == 0)
                return d;
            const char *dot = strrchr(base, '.');
            if (dot && (size_t)(dot - base) == ql && memcmp(base, q, ql) == 0)
                return d;
            /* a path given another way (./content/..., absolute): compare the tail */
            if (ql > bl && bl && strcmp(q + ql - bl, base) == 0 && q[ql - bl - 1] == '/' &&
                (strstr(d->path, q) || strstr(q, d->path)))
                return d;
        }
    }
    return NULL;
}

esc_strlist esc_content_tactics(const esc_content *c, const char *technique) {
    esc_strlist none = {NULL, 0};
    if (!c || !technique)
        return none;
    size_t tl = strlen(technique);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = c->nmitre; i > 0; i--) {
            const esc_mitre_tactic *m = &c->mitre[i - 1];
            if (strlen(m->technique) == tl && memcmp(m->technique, technique, tl) == 0)
                return m->tactics;
        }
        /* sub-technique: fall back to its parent */
        const char *dot = strchr(technique, '.');
        if (!dot)
            break;
        tl = (size_t)(dot - technique);
    }
    return none;
}
