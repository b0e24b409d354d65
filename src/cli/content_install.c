/* escudo content install --from PATH: copy a security_content checkout's detections, macros,
 * lookups, stories, data sources and deployments into the user's content folder
 * (esc_cli_user_content_dir), record where it came from and its version, and say how many of
 * its detections escudo supports. Afterwards hunt, run, test, lint and content list use it when
 * no --content is given, as Hayabusa runs its installed rules.
 *
 * Invariants: only regular files and folders are copied; a symbolic link in the checkout is
 * skipped with a warning (content must not reach outside its folder, docs/limits.md); the copy is
 * made in a fresh sibling folder and swapped in with rename(2), so a failed or interrupted
 * install leaves the previous content whole; at most INSTALL_MAX_FILES files and
 * INSTALL_MAX_BYTES bytes (docs/limits.md). The version is contentctl.yml's `version:` when the
 * checkout has one. Deliberately not done: release archives (unpack them first), fetching. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "detect/lint.h"

#define INSTALL_MAX_FILES 200000
#define INSTALL_MAX_BYTES (2ull << 30)

static const char *const parts[] = {"detections", "macros",       "lookups",
                                    "stories",    "data_sources", "deployments"};

typedef struct copying {
    size_t files, skipped;
    unsigned long long bytes;
} copying;

static int mkdirs(const char *path) {
    char tmp[ESC_CLI_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int copy_file(const char *from, const char *to, copying *c) {
    int in = open(from, O_RDONLY | O_NOFOLLOW), out = -1, rc = -1;
    if (in < 0)
        return -1;
    out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0644);
    char buf[1 << 16];
    ssize_t n = 0;
    while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
        c->bytes += (unsigned long long)n;
        if (c->bytes > INSTALL_MAX_BYTES || write(out, buf, (size_t)n) != n)
            break;
    }
    if (out >= 0 && n == 0)
        rc = close(out);
    else if (out >= 0)
        close(out);
    close(in);
    return rc;
}

/* Copy folder src into dst (created), regular files and folders only. */
static int copy_tree(const char *src, const char *dst, copying *c, int depth) {
    if (depth > 32 || mkdirs(dst) != 0)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char s[ESC_CLI_PATH_MAX], t[ESC_CLI_PATH_MAX];
        if ((size_t)snprintf(s, sizeof s, "%s/%s", src, e->d_name) >= sizeof s ||
            (size_t)snprintf(t, sizeof t, "%s/%s", dst, e->d_name) >= sizeof t) {
            c->skipped++;
            continue;
        }
        struct stat sb;
        if (lstat(s, &sb) != 0)
            rc = -1;
        else if (S_ISDIR(sb.st_mode))
            rc = copy_tree(s, t, c, depth + 1);
        else if (S_ISREG(sb.st_mode) && ++c->files <= INSTALL_MAX_FILES)
            rc = copy_file(s, t, c);
        else if (S_ISREG(sb.st_mode))
            rc = -1;
        else {
            esc_say(stderr, "escudo content install: skipped %s (not a regular file or folder)", s);
            c->skipped++;
        }
    }
    closedir(d);
    return rc;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path) {
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* contentctl.yml's `version:` value, or "unknown". */
static void checkout_version(const char *from, char *out, size_t cap) {
    char path[ESC_CLI_PATH_MAX + 20], line[512];
    snprintf(out, cap, "unknown");
    snprintf(path, sizeof path, "%s/contentctl.yml", from);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "version:", 8)) {
            char *v = line + 8;
            v += strspn(v, " \t'\"");
            v[strcspn(v, "'\"\r\n \t")] = 0;
            if (*v)
                snprintf(out, cap, "%s", v);
            break;
        }
    if (f)
        fclose(f);
}

static int write_version(const char *dir, const char *from, const char *version) {
    char path[ESC_CLI_PATH_MAX + 16], when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    snprintf(path, sizeof path, "%s/VERSION", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "security_content %s (installed from %s at %s)\n", version, from, when);
    return fclose(f);
}

/* The supported count of the content now installed, or -1. */
static long supported_count(size_t *total) {
    const char *argv[] = {"content install", NULL};
    esc_args a;
    static const esc_opt none[] = {{"help", NULL, ""}};
    esc_content *content = NULL;
    esc_lint_report *r = NULL;
    esc_error err = {0};
    long n = -1;
    if (!esc_args_parse(&a, none, 1, 1, (char **)argv, "content install"))
        return -1;
    if (!esc_cli_load_content(&a, &content) && !esc_lint_run(content, &r, &err)) {
        n = (long)r->supported;
        *total = r->n;
    }
    esc_lint_report_free(r);
    esc_content_free(content);
    esc_args_free(&a);
    return n;
}

int esc_content_install(const char *from) {
    char dir[ESC_CLI_PATH_MAX], fresh[ESC_CLI_PATH_MAX + 8], old[ESC_CLI_PATH_MAX + 8];
    char src[ESC_CLI_PATH_MAX + 16], version[128];
    struct stat sb;
    snprintf(src, sizeof src, "%s/detections", from);
    if (stat(src, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        esc_say(stderr,
                "escudo content install: %s has no detections folder (give a "
                "security_content checkout)",
                from);
        return ESC_EXIT_USAGE;
    }
    if (!esc_cli_user_content_dir(dir, sizeof dir)) {
        fprintf(stderr, "escudo content install: set HOME or XDG_DATA_HOME\n");
        return ESC_EXIT_USAGE;
    }
    snprintf(fresh, sizeof fresh, "%s.new", dir);
    snprintf(old, sizeof old, "%s.old", dir);
    rm_tree(fresh);
    rm_tree(old);
    copying c = {0};
    int rc = mkdirs(fresh);
    for (size_t i = 0; rc == 0 && i < sizeof parts / sizeof *parts; i++) {
        char s[ESC_CLI_PATH_MAX + 16], t[ESC_CLI_PATH_MAX + 16];
        snprintf(s, sizeof s, "%s/%s", from, parts[i]);
        snprintf(t, sizeof t, "%s/%s", fresh, parts[i]);
        if (lstat(s, &sb) == 0 && S_ISDIR(sb.st_mode))
            rc = copy_tree(s, t, &c, 0);
    }
    checkout_version(from, version, sizeof version);
    if (rc == 0)
        rc = write_version(fresh, from, version);
    if (rc != 0 || c.files > INSTALL_MAX_FILES || c.bytes > INSTALL_MAX_BYTES) {
        esc_say(stderr, "escudo content install: copying %s into %s failed%s: %s", from, fresh,
                c.files > INSTALL_MAX_FILES || c.bytes > INSTALL_MAX_BYTES
                    ? " (more than 200,000 files or 2 GiB)"
                    : "",
                strerror(errno));
        rm_tree(fresh);
        return ESC_EXIT_IO;
    }
    if ((rename(dir, old) != 0 && errno != ENOENT) || rename(fresh, dir) != 0) {
        esc_say(stderr, "escudo content install: cannot put %s in place: %s", dir, strerror(errno));
        rm_tree(fresh);
        return ESC_EXIT_IO;
    }
    rm_tree(old);
    size_t total = 0;
    long sup = supported_count(&total);
    esc_say(stdout, "installed security_content %s from %s into %s: %zu files%s", version, from,
            dir, c.files, c.skipped ? " (some entries skipped, see above)" : "");
    if (sup >= 0)
        printf("%zu detections, %ld supported by escudo (escudo content list says which and "
               "why); hunt, run, test and lint now use them without --content\n",
               total, sup);
    return ESC_EXIT_OK;
}
