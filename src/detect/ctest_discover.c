/* Discovery for `escudo test`: which detection files exist, and which attack data files a
 * test replays.
 *
 * The content scan (esc_ctest_scan) reads every YAML file under each folder's detections/
 * again, independently of content loading, so that what loading silently drops becomes a
 * static failure: a file it skipped (bad YAML, no name, id or search, over CTEST_YAML_MAX
 * bytes), a folder nested deeper than it reads, an id duplicated inside one folder (loading
 * keeps one of them). Attack data: an attack_data `data` value resolves to a local file
 * (esc_ctest_resolve: a data root for URLs, the detection's and the content's folders for
 * relative paths); esc_ctest_attack_files gathers the files of one test, leaving out
 * sourcetypes escudo does not map and turning a test that cannot run into a skip reason. A URL
 * never opens a file outside the data root: a path that climbs above it with `..`, or a file
 * whose real path (symbolic links followed) is not under the root's, is refused (the test
 * fails: its data is not an attack_data dataset).
 *
 * Invariants: folders are walked in name order, each entered once (device + inode, however many
 * symbolic links lead to it), at most SCAN_MAX_DEPTH levels and SCAN_MAX_FILES files; a test
 * replays at most ESC_CTEST_MAX_FILES files. Deliberately not done: downloading attack data (a
 * missing file is a skip), fetching Git LFS objects (a pointer file is a skip), reading the data
 * (replay is the engine's, through esc_hunt in ctest_replay.c), shadowing across folders (a local
 * override is not a duplicate). */
#include "detect/ctest_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "content/yaml_tree.h"
#include "ingest/input.h"

#define SCAN_MAX_DEPTH 16
#define SCAN_MAX_FILES 100000
#define LFS_MAGIC "version https://git-lfs.github.com/spec/"

/* ---- content scan: unloadable files, duplicate ids ----------------------------------------- */

typedef struct scan_item {
    char *path, *id, *name;
    bool deep; /* a folder below SCAN_MAX_DEPTH levels: not read (as loading does not) */
} scan_item;

typedef struct scan_list {
    scan_item *v;
    size_t n, cap;
    bool oom, limit;
    esc_dirs_seen seen; /* folders entered (device + inode): each once, so link loops end */
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
    if (L->n == L->cap && !ESC_VEC_GROW(L->v, L->cap, L->n + 1, 256)) {
        L->oom = true;
        esc_free(p);
        return false;
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
    /* each folder once, however many symbolic links lead to it (as the content loader) */
    esc_status mst = esc_dirs_seen_mark(&L->seen, dir);
    if (mst == ESC_ENOMEM)
        L->oom = true;
    if (mst != ESC_OK)
        return;
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap && !ESC_VEC_GROW(names, cap, n + 1, 64)) {
            L->oom = true;
            break;
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
    esc_dirs_seen_fini(&L->seen);
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
        st = esc_ctest_reason(r, err, "cannot read: %s", strerror(errno));
        goto out;
    }
    data = esc_malloc(CTEST_YAML_MAX + 1);
    if (!data) {
        fclose(f);
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = fread(data, 1, CTEST_YAML_MAX + 1, f);
    fclose(f);
    if (n > CTEST_YAML_MAX) {
        st = esc_ctest_reason(r, err, "larger than %u bytes; not loaded", CTEST_YAML_MAX);
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
            st = esc_ctest_reason(r, err, "YAML, line %llu: %s; not loaded",
                                  (unsigned long long)ye.line, ye.msg);
        else
            st = esc_ctest_reason(r, err, "YAML: %s; not loaded", ye.msg);
        goto out;
    }
    if (!root || root->kind != ESC_Y_MAP) {
        st = esc_ctest_reason(r, err, "not a YAML mapping; not loaded");
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
        st = esc_ctest_reason(r, err, "required field name is missing; not loaded");
    if (st == ESC_OK && is_blank(id))
        st = esc_ctest_reason(r, err, "required field id is missing; not loaded");
    if (st == ESC_OK && is_blank(search))
        st = esc_ctest_reason(r, err, "required field search is missing; not loaded");
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
        if ((st = esc_ctest_result_begin(&r, L.v[i].path, NULL, L.v[i].path, ESC_CTEST_STATIC, NULL,
                                         err)) != ESC_OK)
            goto out;
        if (L.v[i].deep)
            st = esc_ctest_reason(&r, err, "folders nested deeper than %d; not read",
                                  SCAN_MAX_DEPTH);
        else
            st = scan_file(&L.v[i], &r, err);
        if (st == ESC_OK && r.nreasons)
            st = esc_ctest_report_add(rep, &r, err);
        esc_ctest_result_fini(&r);
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
        if ((st = esc_ctest_result_begin(&r, it->name ? it->name : it->path, it->id, it->path,
                                         ESC_CTEST_STATIC, it->path, err)) != ESC_OK)
            goto out;
        st = esc_ctest_reason(&r, err,
                              "id %s is also the id of %s in the same folder (ids must be unique; "
                              "loading keeps only one of them)",
                              it->id, byid[i - 1]->path);
        if (st == ESC_OK)
            st = esc_ctest_report_add(rep, &r, err);
        esc_ctest_result_fini(&r);
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

/* Whether a relative path climbs above its starting folder: a `..` segment more than the
 * segments before it (`a/../../b`, `../x`). Empty and `.` segments do not count. */
static bool escapes_lexically(const char *rel) {
    long depth = 0;
    for (const char *s = rel; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (--depth < 0)
                return true;
        } else if (n > 0 && !(n == 1 && s[0] == '.')) {
            depth++;
        }
        s += n;
        while (*s == '/')
            s++;
    }
    return false;
}

/* ESC_OK when the file p, all symbolic links followed, is inside the folder root (also
 * resolved); ESC_ECONTENT when it is not or either cannot be resolved; ESC_ENOMEM. */
static esc_status inside_root(const char *p, const char *root) {
    errno = 0;
    char *rp = realpath(p, NULL);
    char *rr = realpath(root, NULL);
    esc_status st = ESC_ECONTENT;
    if ((!rp || !rr) && errno == ENOMEM)
        st = ESC_ENOMEM;
    else if (rp && rr) {
        size_t n = strlen(rr);
        if (n == 1 || (strncmp(rp, rr, n) == 0 && rp[n] == '/'))
            st = ESC_OK; /* n == 1: the root is / itself */
    }
    free(rp);
    free(rr);
    return st;
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
        if (escapes_lexically(rel))
            return esc_error_set(err, ESC_ECONTENT,
                                 "attack data URL %s leads outside --data-root (its path climbs "
                                 "above the root with ..); not opened",
                                 data);
        char *p = join2(data_root, rel);
        if (!p)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        if (!is_readable_file(p)) {
            esc_error_set(err, ESC_EOF, "attack data not found: %s (from %s)", p, data);
            esc_free(p);
            return ESC_EOF;
        }
        esc_status in = inside_root(p, data_root);
        if (in != ESC_OK) {
            if (in == ESC_ECONTENT)
                esc_error_set(err, in,
                              "attack data %s (from %s) is a symbolic link to a file outside "
                              "--data-root; not opened",
                              p, data);
            else
                esc_error_set(err, in, "out of memory");
            esc_free(p);
            return in;
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

/* XmlWinEventLog of any channel is read (parse/: the XML reader; fields/: every event's
 * search-time fields, whatever its channel), as are the JSON shapes and EVTX; the classic
 * WinEventLog text format and non-Windows sourcetypes are not. */
bool esc_ctest_sourcetype_ok(const char *source, const char *sourcetype, const char **why) {
    (void)source;
    *why = NULL;
    if (!sourcetype || !*sourcetype)
        return true; /* the readers recognise the format from the content */
    if (strcasecmp(sourcetype, "xmlwineventlog") == 0 ||
        strncasecmp(sourcetype, "xmlwineventlog:", 15) == 0)
        return true;
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

/* ---- the attack data files of one test ------------------------------------------------------ */

esc_status esc_ctest_attack_files(const esc_detection *d, const esc_detection_test *tc,
                                  const char *data_root, char **files, size_t *nfiles, bool *broken,
                                  char *why, size_t cap, esc_error *err) {
    esc_status st = ESC_OK;
    bool unmapped = false;
    *nfiles = 0;
    *broken = false;
    why[0] = 0;
    if (tc->nattack_data == 0) {
        snprintf(why, cap, "the test has no attack_data");
        return ESC_OK;
    }
    for (size_t i = 0; i < tc->nattack_data; i++) {
        const esc_attack_data *ad = &tc->attack_data[i];
        const char *reason;
        if (!esc_ctest_sourcetype_ok(ad->source, ad->sourcetype, &reason)) {
            /* the last unmapped entry is the reason, when nothing else is replayed */
            snprintf(why, cap, "sourcetype %s (source %s): %s", ad->sourcetype,
                     ad->source ? ad->source : "-", reason);
            unmapped = true;
            continue;
        }
        if (*nfiles == ESC_CTEST_MAX_FILES) {
            st = esc_error_set(err, ESC_ELIMIT, "%s: more than %u attack_data files in a test",
                               d->name, (unsigned)ESC_CTEST_MAX_FILES);
            goto fail;
        }
        char *path = NULL;
        esc_error re = {0};
        esc_status rs = esc_ctest_resolve(ad->data, d->path, data_root, &path, &re);
        if (rs == ESC_ENOMEM) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto fail;
        }
        if (rs != ESC_OK) {
            snprintf(why, cap, "%s", re.msg);
            *broken = rs == ESC_ECONTENT;
            goto fail;
        }
        if (is_lfs_pointer(path)) {
            snprintf(why, cap,
                     "attack data %s is a Git LFS pointer, not the data (run git lfs pull in "
                     "the attack_data checkout)",
                     path);
            esc_free(path);
            goto fail;
        }
        files[(*nfiles)++] = path;
    }
    if (*nfiles == 0 && !unmapped)
        snprintf(why, cap, "no attack data");
    return ESC_OK;
fail:
    for (size_t i = 0; i < *nfiles; i++)
        esc_free(files[i]);
    *nfiles = 0;
    return st;
}
