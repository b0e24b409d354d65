/* The HEC sink's spool folder: listing, durable writes, setting refused batches aside, the
 * channel file, and the index of the event_ids the spool holds (layout in hec_spool.h).
 *
 * Invariants: a file is only ever created under a temporary name and renamed into place, and the
 * folder is fsync'd after every rename or unlink this module does, so after a power loss a batch
 * is either whole or absent; no file is overwritten (set-aside names get a suffix, new batches
 * are numbered past every number in the folder); the channel written into a request header is
 * always a validated GUID. Deliberately not done: sending (sink_hec.c), locking (the sink holds
 * the flock), reading files it did not name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "sink/hec_spool.h"

char *esc_spool_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = esc_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool digits16(const char *n) {
    for (size_t i = 0; i < 16; i++)
        if (n[i] < '0' || n[i] > '9')
            return false;
    return true;
}

static bool is_batch_name(const char *n) {
    return strlen(n) == 16 + 5 && digits16(n) && strcmp(n + 16, ".json") == 0;
}

/* The number a spool file carries: NNNN.json, NNNN.json.rejected[.K], .NNNN.tmp. */
static bool number_of(const char *n, unsigned long long *seq) {
    if (n[0] == '.')
        n++;
    if (strlen(n) < 17 || !digits16(n) || n[16] != '.')
        return false;
    *seq = strtoull(n, NULL, 10);
    return true;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void esc_spool_names_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        esc_free(names[i]);
    esc_free(names);
}

esc_status esc_spool_list(const char *dir, size_t max, char ***out, size_t *n,
                          unsigned long long *last, esc_error *err) {
    *out = NULL;
    *n = 0;
    *last = 0;
    DIR *d = opendir(dir);
    if (!d)
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", dir, strerror(errno));
    size_t cap = 0;
    struct dirent *e;
    esc_status st = ESC_OK;
    while ((e = readdir(d)) != NULL) {
        unsigned long long seq;
        if (!number_of(e->d_name, &seq))
            continue;
        if (seq > *last)
            *last = seq;
        if (!is_batch_name(e->d_name) || *n >= max)
            continue;
        if (*n == cap && !ESC_VEC_GROW(*out, cap, *n + 1, 16)) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            break;
        }
        if (!((*out)[*n] = esc_strdup(e->d_name))) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_name);
    return st;
}

esc_status esc_spool_sync_dir(const char *dir, esc_error *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) /* EINVAL: a file system that cannot sync folders */
        return esc_error_set(err, ESC_EIO, "HEC spool %s: fsync: %s", dir, strerror(e));
    return ESC_OK;
}

esc_status esc_spool_write(const char *dir, const char *path, const char *tmp, const char *data,
                           size_t len, esc_error *err) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            esc_status st = esc_error_set(err, ESC_EIO, "HEC spool %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return st;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        esc_status st = esc_error_set(err, ESC_EIO, "HEC spool %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return st;
    }
    if (rename(tmp, path) != 0) {
        esc_status st = esc_error_set(err, ESC_EIO, "HEC spool %s: %s", path, strerror(errno));
        unlink(tmp);
        return st;
    }
    return esc_spool_sync_dir(dir, err);
}

esc_status esc_spool_read(const char *path, esc_buf *out, esc_error *err) {
    esc_buf_clear(out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return esc_error_set(err, ESC_EIO, "HEC spool %s: %s", path, strerror(errno));
    char tmp[65536];
    size_t n;
    esc_status st = ESC_OK;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && st == ESC_OK)
        st = esc_buf_append(out, tmp, n);
    if (st == ESC_OK && ferror(f))
        st = esc_error_set(err, ESC_EIO, "HEC spool %s: read error", path);
    else if (st != ESC_OK)
        st = esc_error_set(err, st, "HEC spool %s: batch too large", path);
    fclose(f);
    return st;
}

esc_status esc_spool_set_aside(const char *dir, const char *name, char **as, esc_error *err) {
    if (as)
        *as = NULL;
    char *from = esc_spool_path(dir, name);
    size_t cap = strlen(name) + 32;
    char *to_name = esc_malloc(cap);
    char *to = NULL;
    esc_status st = ESC_OK;
    if (!from || !to_name) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto out;
    }
    for (unsigned k = 0;; k++) {
        if (k == 0)
            snprintf(to_name, cap, "%s.rejected", name);
        else
            snprintf(to_name, cap, "%s.rejected.%u", name, k);
        esc_free(to);
        if (!(to = esc_spool_path(dir, to_name))) {
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto out;
        }
        struct stat sb;
        if (lstat(to, &sb) != 0 && errno == ENOENT)
            break;
        if (k == 1000) {
            st = esc_error_set(err, ESC_EIO, "HEC spool %s: too many set-aside copies of %s", dir,
                               name);
            goto out;
        }
    }
    if (rename(from, to) != 0) {
        st = esc_error_set(err, ESC_EIO, "HEC spool %s: setting %s aside: %s", dir, name,
                           strerror(errno));
        goto out;
    }
    if ((st = esc_spool_sync_dir(dir, err)) == ESC_OK && as) {
        *as = to_name;
        to_name = NULL;
    }
out:
    esc_free(from);
    esc_free(to);
    esc_free(to_name);
    return st;
}

static bool is_guid(const char *s) {
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return s[36] == 0;
}

esc_status esc_spool_channel(const char *dir, char out[37], esc_error *err) {
    char *p = esc_spool_path(dir, "channel"), *t = esc_spool_path(dir, ".channel.tmp");
    esc_status st = ESC_OK;
    if (!p || !t) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto done;
    }
    FILE *f = fopen(p, "rb");
    if (f) {
        char b[38];
        size_t n = fread(b, 1, sizeof b, f);
        fclose(f);
        if (n == 36 || (n == 37 && b[36] == '\n')) {
            b[36] = 0;
            if (is_guid(b)) {
                memcpy(out, b, 37);
                goto done;
            }
        }
        /* anything else is not a channel this sink wrote: replace it rather than send it */
    }
    unsigned char r[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
        if (fd >= 0)
            close(fd);
        st = esc_error_set(err, ESC_EIO, "cannot read /dev/urandom for the HEC channel");
        goto done;
    }
    close(fd);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
    st = esc_spool_write(dir, p, t, out, 36, err);
done:
    esc_free(p);
    esc_free(t);
    return st;
}

/* ---- event_id set -------------------------------------------------------------------------- */

static bool key_of(const char *id, size_t len, unsigned char key[16]) {
    if (len != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        char c = id[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i < 32)
            key[i / 2] = (unsigned char)(i % 2 ? (key[i / 2] | v) : v << 4);
    }
    return true;
}

static size_t slot_of(const esc_idset *s, const unsigned char key[16]) {
    size_t h;
    memcpy(&h, key, sizeof h); /* a SHA-256 prefix: already uniform */
    size_t i = h & (s->cap - 1);
    static const unsigned char zero[16];
    while (memcmp(s->slots[i], zero, 16) != 0 && memcmp(s->slots[i], key, 16) != 0)
        i = (i + 1) & (s->cap - 1);
    return i;
}

void esc_idset_init(esc_idset *s, size_t max) {
    memset(s, 0, sizeof *s);
    s->max = max;
}

void esc_idset_fini(esc_idset *s) {
    esc_free(s->slots);
    memset(s, 0, sizeof *s);
}

bool esc_idset_has(const esc_idset *s, const char *id, size_t len) {
    unsigned char key[16];
    static const unsigned char zero[16];
    if (!s->cap || !key_of(id, len, key))
        return false;
    return memcmp(s->slots[slot_of(s, key)], zero, 16) != 0;
}

static esc_status grow(esc_idset *s) {
    size_t nc = s->cap ? s->cap * 2 : 1024;
    unsigned char(*old)[16] = s->slots;
    size_t oc = s->cap;
    s->slots = esc_calloc(nc, 16);
    if (!s->slots) {
        s->slots = old;
        return ESC_ENOMEM;
    }
    s->cap = nc;
    static const unsigned char zero[16];
    for (size_t i = 0; i < oc; i++)
        if (memcmp(old[i], zero, 16) != 0)
            memcpy(s->slots[slot_of(s, old[i])], old[i], 16);
    esc_free(old);
    return ESC_OK;
}

esc_status esc_idset_add(esc_idset *s, const char *id, size_t len) {
    unsigned char key[16];
    static const unsigned char zero[16];
    if (!key_of(id, len, key) || memcmp(key, zero, 16) == 0)
        return ESC_OK;
    if (s->n >= s->max) {
        s->full = true;
        return ESC_OK;
    }
    if ((s->n + 1) * 2 > s->cap && grow(s) != ESC_OK)
        return ESC_ENOMEM;
    size_t i = slot_of(s, key);
    if (memcmp(s->slots[i], zero, 16) == 0) {
        memcpy(s->slots[i], key, 16);
        s->n++;
    }
    return ESC_OK;
}

esc_status esc_idset_add_batch(esc_idset *s, const char *body, size_t len) {
    static const char ev[] = ",\"event\":{", key[] = "\"event_id\":\"";
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        /* the envelope's metadata values are escaped strings, so the first ,"event":{ is the
         * envelope's own key, and the event object starts with _time then event_id */
        const char *e = memmem(p, (size_t)(le - p), ev, sizeof ev - 1);
        const char *k = e ? memmem(e, (size_t)(le - e), key, sizeof key - 1) : NULL;
        if (k && le - (k + sizeof key - 1) >= 64 &&
            esc_idset_add(s, k + sizeof key - 1, 64) != ESC_OK)
            return ESC_ENOMEM;
        p = le + 1;
    }
    return ESC_OK;
}
