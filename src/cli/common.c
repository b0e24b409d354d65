/* Shared CLI plumbing: loading content and selecting detections.
 *
 * Content: the shipped base layer (content/base: the CIM macros ESCU relies on but does not
 * ship, and the ATT&CK tactic table) comes first, then --content folders (default: the shipped
 * content), then --local folders, then the detection files named with --detection FILE; each
 * later one shadows the earlier. The shipped content is the source tree's content/ the build
 * names, or, when that is gone (an installed escudo), PREFIX/share/escudo/content beside the
 * binary's PREFIX/bin.
 *
 * Selection: every command that takes detections (hunt, explain, run, test) resolves its
 * selectors here, so a name, id, file, glob or tag means the same everywhere and an unknown
 * name gets the same message and the same suggestions (edit distance, case-insensitive).
 * Selection does not plan searches (esc_cli_check_searches does, for the commands that refuse
 * a detection named exactly that does not plan) and does not drop the duplicates of names given
 * twice (a glob adds each detection once). */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "act/act.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "detect/engine.h"
#include "sink/sink.h"

#ifndef ESC_CONTENT_DIR
#define ESC_CONTENT_DIR "content"
#endif

static bool is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

void esc_cli_content_dir(char *out, size_t cap) {
    snprintf(out, cap, "%s", ESC_CONTENT_DIR);
    if (is_dir(out))
        return;
    char exe[ESC_CLI_PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0'; /* PREFIX/bin */
    char installed[ESC_CLI_PATH_MAX + 32];
    snprintf(installed, sizeof installed, "%s/../share/escudo/content", exe);
    if (is_dir(installed))
        snprintf(out, cap, "%s", installed);
}

bool esc_cli_user_content_dir(char *out, size_t cap) {
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int n = xdg && xdg[0] == '/' ? snprintf(out, cap, "%s/escudo/content", xdg)
            : home && home[0]    ? snprintf(out, cap, "%s/.local/share/escudo/content", home)
                                 : -1;
    return n > 0 && (size_t)n < cap;
}

bool esc_cli_cache_dir(char *out, size_t cap) {
    const char *own = getenv("ESCUDO_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    int n = own                    ? (own[0] ? snprintf(out, cap, "%s", own) : -1)
            : xdg && xdg[0] == '/' ? snprintf(out, cap, "%s/escudo", xdg)
            : home && home[0]      ? snprintf(out, cap, "%s/.cache/escudo", home)
                                   : -1;
    return n > 0 && (size_t)n < cap;
}

bool esc_cli_default_content(char *out, size_t cap) {
    char det[ESC_CLI_PATH_MAX + 16];
    if (esc_cli_user_content_dir(out, cap)) {
        snprintf(det, sizeof det, "%s/detections", out);
        if (is_dir(det))
            return true;
    }
    esc_cli_content_dir(out, cap);
    return false;
}

esc_status esc_cli_load_content(const esc_args *a, esc_content **out) {
    const char **content = NULL, **local = NULL, **det = NULL;
    size_t nc = esc_args_all(a, "content", &content);
    size_t nl = esc_args_all(a, "local", &local);
    size_t nd = esc_args_all(a, "detection", &det);
    const char **dirs = esc_calloc(nc + nl + nd + 2, sizeof *dirs);
    if (!dirs) {
        fprintf(stderr, "escudo: out of memory\n");
        return ESC_ENOMEM;
    }
    size_t n = 0;
    char shipped[ESC_CLI_PATH_MAX], base[ESC_CLI_PATH_MAX + 8], deflt[ESC_CLI_PATH_MAX];
    esc_cli_content_dir(shipped, sizeof shipped);
    snprintf(base, sizeof base, "%s/base", shipped);
    dirs[n++] = base; /* CIM macros and tactics, under any content */
    if (nc == 0) {
        esc_cli_default_content(deflt, sizeof deflt);
        dirs[n++] = deflt;
    }
    for (size_t i = 0; i < nc; i++)
        dirs[n++] = content[i];
    for (size_t i = 0; i < nl; i++)
        dirs[n++] = local[i];
    for (size_t i = 0; i < nd; i++) {
        struct stat sb;
        if (stat(det[i], &sb) == 0 && S_ISREG(sb.st_mode))
            dirs[n++] = det[i];
    }
    esc_error err = {0};
    esc_status st = esc_content_load(dirs, n, out, &err);
    esc_free(dirs);
    if (st) {
        esc_report("error", &err);
        return st;
    }
    if (esc_args_has(a, "verbose"))
        for (size_t i = 0; i < (*out)->warnings.n; i++)
            esc_say(stderr, "escudo: content warning: %s", (*out)->warnings.v[i]);
    return ESC_OK;
}

esc_cli_selectors esc_cli_option(const esc_args *a, const char *name) {
    const char **v = NULL;
    size_t n = esc_args_all(a, name, &v);
    return (esc_cli_selectors){v, n, false, ESC_SEL_DETECTION};
}

esc_cli_selectors esc_cli_positional(const esc_args *a) {
    return (esc_cli_selectors){a->pos, a->npos, true, ESC_SEL_DETECTION};
}

size_t esc_cli_tag_selectors(const esc_args *a, esc_cli_selectors out[4]) {
    static const struct {
        const char *opt;
        esc_cli_sel_kind kind;
    } tags[] = {{"mitre", ESC_SEL_MITRE},
                {"story", ESC_SEL_STORY},
                {"severity", ESC_SEL_SEVERITY},
                {"min-risk", ESC_SEL_MIN_RISK}};
    size_t k = 0;
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        esc_cli_selectors s = esc_cli_option(a, tags[i].opt);
        if (s.n) {
            s.kind = tags[i].kind;
            out[k++] = s;
        }
    }
    return k;
}

/* `*` any run, `?` one byte, ASCII case-insensitive, the whole of s. */
static bool glob_imatch(const char *p, const char *s) {
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = ++p;
            resume = s;
        } else if (*p && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
        } else if (star) {
            p = star;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool has_glob(const char *s) {
    return strpbrk(s, "*?") != NULL;
}

size_t esc_cli_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 255 || lb > 255)
        return SIZE_MAX;
    size_t row[256];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static bool icontains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* After "no detection named w": the nearest names (edit distance within a third of w, on the
 * name or the id), else the names that contain w, at most 5 of them. */
static void suggest(const char *cmd, const esc_content *c, const char *w) {
    enum { MAXS = 5 };
    const esc_detection *best[MAXS];
    size_t dist[MAXS], nb = 0, ncontain = 0, wl = strlen(w);
    size_t limit = wl / 3 > 2 ? wl / 3 : 2;
    for (size_t i = 0; i < c->ndetections; i++) {
        const esc_detection *d = &c->detections[i];
        size_t dn = esc_cli_distance(w, d->name), di = d->id ? esc_cli_distance(w, d->id) : dn;
        size_t dd = di < dn ? di : dn;
        if (dd > limit) {
            if (wl < 3 || !icontains(d->name, w))
                continue;
            ncontain++;
            dd = limit + 1 + strlen(d->name); /* after every near miss, shorter names first */
        }
        size_t k;
        if (nb < MAXS)
            k = nb++;
        else if (dd >= dist[MAXS - 1])
            continue;
        else
            k = MAXS - 1;
        while (k > 0 && dist[k - 1] > dd) {
            best[k] = best[k - 1];
            dist[k] = dist[k - 1];
            k--;
        }
        best[k] = d;
        dist[k] = dd;
    }
    if (nb == 0)
        return;
    fprintf(stderr, "escudo %s: did you mean:\n", cmd);
    for (size_t i = 0; i < nb; i++)
        esc_say(stderr, "    %s", best[i]->name);
    if (ncontain > 1)
        esc_say(stderr, "escudo %s: %zu names contain \"%s\"; a glob selects them all: '*%s*'", cmd,
                ncontain, w, w);
}

/* The detections of the DETECTION-kind sources into out (room for every detection and every
 * value): exact ones in order, glob ones once each. */
static int select_named(const char *cmd, const esc_content *c, const esc_cli_selectors *src,
                        size_t nsrc, const esc_detection **out, size_t *n, bool *mark,
                        bool *globbed) {
    for (size_t s = 0; s < nsrc; s++) {
        if (src[s].kind != ESC_SEL_DETECTION)
            continue;
        for (size_t i = 0; i < src[s].n; i++) {
            const char *w = src[s].v[i];
            const esc_detection *d = esc_content_find(c, w);
            if (d) {
                out[(*n)++] = d;
                if (d >= c->detections && d < c->detections + c->ndetections)
                    mark[d - c->detections] = true;
                continue;
            }
            if (!has_glob(w)) {
                esc_say(stderr, "escudo %s: no detection named %s in the content%s", cmd, w,
                        src[s].positional ? " (a YAML file elsewhere loads with --detection FILE)"
                                          : "");
                suggest(cmd, c, w);
                return ESC_EXIT_USAGE;
            }
            size_t matched = 0;
            for (size_t k = 0; k < c->ndetections; k++) {
                const esc_detection *e = &c->detections[k];
                if (!glob_imatch(w, e->name) && !(e->id && glob_imatch(w, e->id)))
                    continue;
                matched++;
                if (!mark[k]) {
                    mark[k] = true;
                    out[(*n)++] = e;
                }
            }
            if (!matched) {
                esc_say(stderr, "escudo %s: no detection matches %s", cmd, w);
                return ESC_EXIT_USAGE;
            }
            *globbed = true;
        }
    }
    return ESC_EXIT_OK;
}

static const char *const severities[] = {"informational", "low", "medium", "high", "critical"};

/* --severity LEVEL or LEVEL+ -> level index, *plus; -1 when not a level. */
static int severity_parse(const char *v, bool *plus) {
    size_t len = strlen(v);
    *plus = len && v[len - 1] == '+';
    len -= *plus;
    for (int i = 0; i < 5; i++)
        if (strlen(severities[i]) == len && strncasecmp(severities[i], v, len) == 0)
            return i;
    return -1;
}

static bool tag_value_ok(const char *cmd, esc_cli_sel_kind kind, const char *v) {
    bool plus;
    char *end = NULL;
    if (kind == ESC_SEL_SEVERITY && severity_parse(v, &plus) < 0) {
        esc_say(stderr,
                "escudo %s: --severity %s: must be informational, low, medium, high or critical "
                "(LEVEL+ for that level and above)",
                cmd, v);
        return false;
    }
    if (kind == ESC_SEL_MIN_RISK) {
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 0 || n > 1000000) {
            esc_say(stderr, "escudo %s: --min-risk %s: must be a whole number from 0", cmd, v);
            return false;
        }
    }
    return true;
}

static bool tag_match(esc_cli_sel_kind kind, const char *v, const esc_detection *d) {
    const esc_strlist *l = kind == ESC_SEL_MITRE ? &d->mitre_attack_id : &d->analytic_story;
    bool plus;
    switch (kind) {
    case ESC_SEL_MITRE:
    case ESC_SEL_STORY:
        for (size_t i = 0; i < l->n; i++) {
            if (glob_imatch(v, l->v[i]))
                return true;
            size_t vl = strlen(v); /* T1003 also takes T1003.001 */
            if (kind == ESC_SEL_MITRE && !has_glob(v) && strncasecmp(l->v[i], v, vl) == 0 &&
                l->v[i][vl] == '.')
                return true;
        }
        return false;
    case ESC_SEL_SEVERITY: {
        int want = severity_parse(v, &plus), have = 0;
        const char *sev = esc_act_severity(esc_act_score(d));
        while (have < 4 && strcmp(severities[have], sev) != 0)
            have++;
        return plus ? have >= want : have == want;
    }
    case ESC_SEL_MIN_RISK:
        return esc_act_score(d) >= atoi(v);
    default:
        return true;
    }
}

/* Keep the detections of out[0..*n) that every tag kind given matches (one value of it). */
static void select_tags(const esc_cli_selectors *src, size_t nsrc, const esc_detection **out,
                        size_t *n) {
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        bool keep = true;
        for (size_t s = 0; s < nsrc && keep; s++) {
            if (src[s].kind == ESC_SEL_DETECTION)
                continue;
            bool any = false;
            for (size_t k = 0; k < src[s].n && !any; k++)
                any = tag_match(src[s].kind, src[s].v[k], out[i]);
            keep = any;
        }
        if (keep)
            out[kept++] = out[i];
    }
    *n = kept;
}

int esc_cli_select(const char *cmd, const esc_content *c, const esc_cli_selectors *src, size_t nsrc,
                   const esc_detection ***out, size_t *n, bool *exact) {
    size_t named = 0, tags = 0;
    for (size_t s = 0; s < nsrc; s++) {
        if (src[s].kind == ESC_SEL_DETECTION) {
            named += src[s].n;
            continue;
        }
        tags += src[s].n;
        for (size_t i = 0; i < src[s].n; i++)
            if (!tag_value_ok(cmd, src[s].kind, src[s].v[i]))
                return ESC_EXIT_USAGE;
    }
    *n = 0;
    *out = NULL;
    if (exact)
        *exact = tags == 0;
    if (named + tags == 0)
        return ESC_EXIT_OK;
    bool *mark = esc_calloc(c->ndetections + 1, sizeof *mark);
    if (!mark || !(*out = esc_calloc(c->ndetections + named + 1, sizeof **out))) {
        esc_free(mark);
        fprintf(stderr, "escudo: error: out of memory\n");
        return ESC_EXIT_IO;
    }
    bool globbed = false;
    int rc = select_named(cmd, c, src, nsrc, *out, n, mark, &globbed);
    esc_free(mark);
    if (rc == ESC_EXIT_OK && named == 0) /* tag selectors alone: from every detection */
        for (size_t i = 0; i < c->ndetections; i++)
            (*out)[(*n)++] = &c->detections[i];
    if (rc == ESC_EXIT_OK && tags) {
        select_tags(src, nsrc, *out, n);
        if (*n == 0) {
            fprintf(stderr, "escudo %s: no detection matches the selection\n", cmd);
            rc = ESC_EXIT_USAGE;
        }
    }
    if (exact)
        *exact = *exact && !globbed;
    if (rc != ESC_EXIT_OK) {
        esc_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

bool esc_cli_number(const char *cmd, const esc_args *a, const char *name, long min, long max,
                    long *out) {
    const char *v = esc_args_get(a, name);
    if (!v)
        return true;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < min || n > max) {
        esc_say(stderr, "escudo %s: --%s %s: must be a whole number from %ld to %ld", cmd, name, v,
                min, max);
        return false;
    }
    if (out)
        *out = n;
    return true;
}

bool esc_cli_paths_exist(const char *cmd, const esc_args *a, const char *name, bool dir) {
    const char **v = NULL;
    size_t n = esc_args_all(a, name, &v);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (stat(v[i], &sb) != 0) {
            esc_say(stderr, "escudo %s: --%s %s: %s", cmd, name, v[i], strerror(errno));
            return false;
        }
        if (dir && !S_ISDIR(sb.st_mode)) {
            esc_say(stderr, "escudo %s: --%s %s: not a folder", cmd, name, v[i]);
            return false;
        }
    }
    return true;
}

/* http(s)://host[:port][/path], no spaces or control characters. */
static bool hec_url_ok(const char *u) {
    size_t skip = strncasecmp(u, "https://", 8) == 0  ? 8
                  : strncasecmp(u, "http://", 7) == 0 ? 7
                                                      : 0;
    if (!skip)
        return false;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    const char *host = u + skip, *end = host + strcspn(host, "/?#");
    const char *colon = NULL;
    if (*host == '[') { /* [IPv6] */
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close || close == host + 1)
            return false;
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon && *colon != ':')
            return false;
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        if ((colon ? colon : end) == host || memchr(host, '@', (size_t)(end - host)))
            return false;
    }
    if (!colon)
        return true;
    long port = 0;
    const char *p = colon + 1;
    for (; p < end && *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (*p - '0');
    return p == end && p > colon + 1 && port >= 1 && port <= 65535;
}

int esc_cli_check_hec(const char *cmd, const esc_args *a, char **token) {
    static const char *const needs_hec[] = {"hec-token-file", "hec-spool",  "hec-ca",
                                            "hec-insecure",   "hec-no-ack", "hec-max-wait"};
    const char *url = esc_args_get(a, "hec");
    *token = NULL;
    if (!url) {
        for (size_t i = 0; i < sizeof needs_hec / sizeof needs_hec[0]; i++)
            if (esc_args_has(a, needs_hec[i])) {
                fprintf(stderr, "escudo %s: --%s without --hec\n", cmd, needs_hec[i]);
                return ESC_EXIT_USAGE;
            }
        return ESC_EXIT_OK;
    }
    if (!hec_url_ok(url)) {
        esc_say(stderr,
                "escudo %s: --hec %s: not an HEC URL (http:// or https://, a host and an "
                "optional port from 1 to 65535: https://splunk:8088)",
                cmd, url);
        return ESC_EXIT_USAGE;
    }
    if (!esc_cli_number(cmd, a, "hec-max-wait", 0, 86400, NULL) ||
        !esc_cli_paths_exist(cmd, a, "hec-ca", false))
        return ESC_EXIT_USAGE;
    esc_error err = {0};
    esc_status st = esc_hec_token_load(esc_args_get(a, "hec-token-file"), token, &err);
    if (st) {
        esc_report("error", &err);
        return st == ESC_ENOMEM ? ESC_EXIT_IO : ESC_EXIT_USAGE;
    }
    return ESC_EXIT_OK;
}

void esc_cli_show_search_error(const esc_content *c, const esc_detection *d) {
    esc_error err = {0};
    char *text = NULL;
    if (esc_engine_check(c, d, &text, &err) == ESC_OK)
        return;
    esc_buf b;
    esc_buf_init(&b, 0);
    if (text && err.has_offset && esc_spl_caret(text, &err, &b) == ESC_OK && b.len)
        fprintf(stderr, "%s%s", b.ptr, b.ptr[b.len - 1] == '\n' ? "" : "\n");
    esc_buf_fini(&b);
    esc_free(text);
}

bool esc_cli_check_searches(const esc_content *c, const esc_detection *const *dets, size_t n) {
    for (size_t i = 0; i < n; i++) {
        esc_error err = {0};
        if (esc_engine_check(c, dets[i], NULL, &err) == ESC_OK)
            continue;
        esc_say(stderr, "escudo: error: %s: %s", dets[i]->name, err.msg);
        esc_cli_show_search_error(c, dets[i]);
        return false;
    }
    return true;
}
