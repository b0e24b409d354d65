/* Cache files between runs (see blobcache.h). The CRC-32 finds a damaged file; it is not a
 * defence against another writer, which the folder's ownership and mode rule out: its files are
 * trusted as far as the user's own. */
#include "core/blobcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/crc32.h"

/* The folder, when it is a folder of this user's that no one else may write to. */
static bool dir_ok(const char *dir) {
    struct stat st;
    return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
           !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/* The folder made when missing (and its parent, as ~/.cache may be), then checked. */
static bool make_dir(const char *dir) {
    if (mkdir(dir, 0700) != 0 && errno == ENOENT) {
        char parent[PATH_MAX];
        const char *slash = strrchr(dir, '/');
        size_t n = slash ? (size_t)(slash - dir) : 0;
        if (n && n < sizeof parent) {
            memcpy(parent, dir, n);
            parent[n] = '\0';
            (void)mkdir(parent, 0700);
            (void)mkdir(dir, 0700);
        }
    }
    return dir_ok(dir);
}

/* A CRC-32 as the header writes it: 8 lower-case hex digits into out[9]. */
static void crc_hex(uint32_t crc, char out[9]) {
    snprintf(out, 9, "%08x", (unsigned)crc);
}

#define KEY_LEN 64

/* dir/<key><ext> into path (PATH_MAX bytes); false when it does not fit or key is no key. */
static bool path_of(const char *dir, const char *key, const char *ext, char *path) {
    int k = snprintf(path, PATH_MAX, "%s/%s%s", dir, key, ext);
    return strlen(key) == KEY_LEN && k > 0 && k < PATH_MAX;
}

char *esc_blob_read(const char *dir, const char *key, const char *ext, const char *magic,
                    size_t max, size_t *len) {
    char path[PATH_MAX], hex[9];
    if (!path_of(dir, key, ext, path) || !dir_ok(dir))
        return NULL;
    size_t ml = strlen(magic), header = ml + KEY_LEN + 8 + 1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct stat st;
    char *b = NULL;
    bool ok = false;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)header &&
        (size_t)st.st_size - header <= max && (b = esc_malloc((size_t)st.st_size + 1)) != NULL &&
        fread(b, 1, (size_t)st.st_size, f) == (size_t)st.st_size && memcmp(b, magic, ml) == 0 &&
        memcmp(b + ml, key, KEY_LEN) == 0 && b[header - 1] == '\n') {
        *len = (size_t)st.st_size - header;
        crc_hex(esc_crc32(0, b + header, *len), hex);
        ok = memcmp(hex, b + ml + KEY_LEN, 8) == 0;
        if (ok)
            memmove(b, b + header, *len);
    }
    fclose(f);
    if (!ok) {
        esc_free(b);
        return NULL;
    }
    return b;
}

bool esc_blob_write(const char *dir, const char *key, const char *ext, const char *magic,
                    const esc_blob_part *parts, size_t np) {
    char path[PATH_MAX], tmp[PATH_MAX], hex[9];
    if (!path_of(dir, key, ext, path) || !make_dir(dir))
        return false;
    int n = snprintf(tmp, sizeof tmp, "%s/.blob-XXXXXX", dir);
    int fd = n > 0 && (size_t)n < sizeof tmp ? mkstemp(tmp) : -1;
    FILE *f = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return false;
    }
    uint32_t crc = 0;
    for (size_t i = 0; i < np; i++)
        crc = esc_crc32(crc, parts[i].p, parts[i].len);
    crc_hex(crc, hex);
    size_t ml = strlen(magic);
    bool ok = fwrite(magic, 1, ml, f) == ml && fwrite(key, 1, KEY_LEN, f) == KEY_LEN &&
              fwrite(hex, 1, 8, f) == 8 && fputc('\n', f) != EOF;
    for (size_t i = 0; i < np && ok; i++)
        ok = fwrite(parts[i].p, 1, parts[i].len, f) == parts[i].len;
    ok = fclose(f) == 0 && ok && rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
    return ok;
}
