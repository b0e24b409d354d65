/* Byte streams: plain files, standard input, gzip (transparent, multi-member), memory.
 *
 * Invariants: offsets count uncompressed bytes handed out by esc_input_read (from the base of a
 * memory input); peeked bytes are kept in a small look-ahead buffer and handed out first (a
 * memory input peeks at its own bytes). Reads are streaming: memory per input is the look-ahead
 * (64 KiB) plus zlib's window and a 256 KiB compressed-input buffer; a memory input copies
 * nothing.
 * Not here: format parsing (parse/), directory policy beyond expansion. */
#include "ingest/input.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"

#define PEEK_MAX (64 * 1024)
#define ZIN_SIZE (256 * 1024)

struct esc_input {
    char *path;
    int fd;
    bool owns_fd;
    bool gzip;
    bool eof; /* underlying stream exhausted */
    uint64_t size;
    uint64_t raw;       /* bytes read from fd */
    uint64_t off;       /* uncompressed bytes consumed */
    unsigned char *zin; /* compressed input buffer */
    z_stream zs;
    bool zinit;
    unsigned char *pk; /* look-ahead of uncompressed bytes */
    size_t pk_len, pk_pos;
    const unsigned char *mem; /* a memory input: its bytes (borrowed), or NULL */
    size_t mem_len, mem_pos;
    uint64_t skipped; /* esc_input_skip'ped past the file position: sought before a read */
};

static esc_status read_fd(esc_input *in, void *buf, size_t cap, size_t *got, esc_error *err) {
    if (in->skipped) {
        if (lseek(in->fd, (off_t)in->skipped, SEEK_CUR) < 0)
            return esc_error_at(err, ESC_EIO, in->path, in->raw, "seek failed: %s",
                                strerror(errno));
        in->skipped = 0;
    }
    for (;;) {
        ssize_t n = read(in->fd, buf, cap);
        if (n >= 0) {
            *got = (size_t)n;
            in->raw += (uint64_t)n;
            return ESC_OK;
        }
        if (errno == EINTR)
            continue;
        return esc_error_at(err, ESC_EIO, in->path, in->raw, "read failed: %s", strerror(errno));
    }
}

/* Uncompressed bytes from the underlying stream (no look-ahead). */
/* zlib allocates through esc_malloc, like the rest of the program. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    return esc_malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    esc_free(p);
}

static esc_status read_raw(esc_input *in, void *buf, size_t cap, size_t *got, esc_error *err) {
    *got = 0;
    if (in->eof || cap == 0)
        return ESC_OK;
    if (!in->gzip) {
        esc_status st = read_fd(in, buf, cap, got, err);
        if (!st && *got == 0)
            in->eof = true;
        return st;
    }
    in->zs.next_out = buf;
    in->zs.avail_out = (uInt)(cap > 0x40000000 ? 0x40000000 : cap);
    while (in->zs.avail_out == (uInt)(cap > 0x40000000 ? 0x40000000 : cap)) {
        if (in->zs.avail_in == 0) {
            size_t n;
            esc_status st = read_fd(in, in->zin, ZIN_SIZE, &n, err);
            if (st)
                return st;
            if (n == 0) {
                in->eof = true;
                /* a truncated member: report once the bytes we have are handed out */
                if (in->zinit)
                    return esc_error_at(err, ESC_EMALFORMED, in->path, in->off,
                                        "gzip stream truncated");
                break;
            }
            in->zs.next_in = in->zin;
            in->zs.avail_in = (uInt)n;
        }
        if (!in->zinit) {
            in->zs.zalloc = z_alloc;
            in->zs.zfree = z_free;
            if (inflateInit2(&in->zs, 15 + 32) != Z_OK)
                return esc_error_set(err, ESC_ENOMEM, "zlib init failed");
            in->zinit = true;
        }
        int rc = inflate(&in->zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            inflateEnd(&in->zs);
            in->zinit = false; /* another member may follow */
            continue;
        }
        if (rc == Z_BUF_ERROR && in->zs.avail_in == 0)
            continue;
        if (rc == Z_MEM_ERROR)
            return esc_error_set(err, ESC_ENOMEM, "out of memory decompressing %s", in->path);
        if (rc != Z_OK) {
            in->eof = true;
            *got = (size_t)((unsigned char *)in->zs.next_out - (unsigned char *)buf);
            return esc_error_at(err, ESC_EMALFORMED, in->path, in->off + *got,
                                "gzip data corrupt: %s", in->zs.msg ? in->zs.msg : "error");
        }
    }
    *got = (size_t)((unsigned char *)in->zs.next_out - (unsigned char *)buf);
    return ESC_OK;
}

esc_status esc_input_open(const char *path, esc_input **out, esc_error *err) {
    esc_input *in = esc_calloc(1, sizeof *in);
    if (!in)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    in->path = esc_strdup(path);
    in->pk = esc_malloc(PEEK_MAX);
    if (!in->path || !in->pk) {
        esc_input_free(in);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    if (strcmp(path, "-") == 0) {
        in->fd = 0;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            esc_status st = esc_error_at(err, ESC_EIO, path, 0, "cannot open: %s", strerror(errno));
            esc_input_free(in);
            return st;
        }
        in->owns_fd = true;
        struct stat sb;
        if (fstat(in->fd, &sb) == 0 && S_ISREG(sb.st_mode))
            in->size = (uint64_t)sb.st_size;
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    /* sniff gzip from the first two raw bytes */
    size_t n = 0;
    esc_status st = ESC_OK;
    while (n < 2) {
        size_t got;
        st = read_fd(in, in->pk + n, PEEK_MAX - n, &got, err);
        if (st || got == 0)
            break;
        n += got;
    }
    if (st) {
        esc_input_free(in);
        return st;
    }
    if (n >= 2 && in->pk[0] == 0x1f && in->pk[1] == 0x8b) {
        in->gzip = true;
        in->zin = esc_malloc(ZIN_SIZE);
        if (!in->zin) {
            esc_input_free(in);
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        }
        memcpy(in->zin, in->pk, n);
        in->zs.next_in = in->zin;
        in->zs.avail_in = (uInt)n;
    } else {
        in->pk_len = n;
        if (n == 0)
            in->eof = true;
    }
    *out = in;
    return ESC_OK;
}

/* in reads p[0..n) from its start, offsets counted from base, as if nothing was read yet. */
static void over_mem(esc_input *in, const void *p, size_t n, uint64_t base) {
    in->mem = n ? p : (const unsigned char *)"";
    in->mem_len = n;
    in->mem_pos = 0;
    in->size = n;
    in->off = base;
    in->raw = 0;
    in->pk_len = in->pk_pos = 0;
    in->skipped = 0;
    in->eof = true;
}

esc_status esc_input_open_mem(const void *p, size_t n, const char *name, uint64_t base,
                              esc_input **out, esc_error *err) {
    esc_input *in = esc_calloc(1, sizeof *in);
    if (!in || !(in->path = esc_strdup(name))) {
        esc_free(in);
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    }
    in->fd = -1;
    over_mem(in, p, n, base);
    *out = in;
    return ESC_OK;
}

esc_status esc_input_reopen_mem(esc_input *in, const void *p, size_t n, const char *name,
                                uint64_t base, esc_error *err) {
    if (!in->mem)
        return esc_error_set(err, ESC_EUSAGE, "not a memory input");
    size_t l = strlen(name);
    if (l > strlen(in->path)) {
        char *c = esc_strdup(name);
        if (!c)
            return esc_error_set(err, ESC_ENOMEM, "out of memory");
        esc_free(in->path);
        in->path = c;
    } else {
        memcpy(in->path, name, l + 1);
    }
    over_mem(in, p, n, base);
    return ESC_OK;
}

void esc_input_free(esc_input *in) {
    if (!in)
        return;
    if (in->zinit)
        inflateEnd(&in->zs);
    if (in->owns_fd)
        close(in->fd);
    esc_free(in->zin);
    esc_free(in->pk);
    esc_free(in->path);
    esc_free(in);
}

esc_status esc_input_peek(esc_input *in, size_t n, const unsigned char **p, size_t *got,
                          esc_error *err) {
    if (n > PEEK_MAX)
        n = PEEK_MAX;
    if (in->mem) {
        size_t left = in->mem_len - in->mem_pos;
        *p = in->mem + in->mem_pos;
        *got = left < n ? left : n;
        return ESC_OK;
    }
    if (in->pk_pos > 0) {
        memmove(in->pk, in->pk + in->pk_pos, in->pk_len - in->pk_pos);
        in->pk_len -= in->pk_pos;
        in->pk_pos = 0;
    }
    while (in->pk_len < n && !in->eof) {
        size_t g;
        esc_status st = read_raw(in, in->pk + in->pk_len, n - in->pk_len, &g, err);
        in->pk_len += g;
        if (st)
            return st;
    }
    *p = in->pk;
    *got = in->pk_len < n ? in->pk_len : n;
    return ESC_OK;
}

esc_status esc_input_read(esc_input *in, void *buf, size_t cap, size_t *got, esc_error *err) {
    if (in->mem) {
        size_t k = in->mem_len - in->mem_pos;
        if (k > cap)
            k = cap;
        if (k)
            memcpy(buf, in->mem + in->mem_pos, k);
        in->mem_pos += k;
        in->raw += k;
        in->off += k;
        *got = k;
        return ESC_OK;
    }
    if (in->pk_pos < in->pk_len) {
        size_t k = in->pk_len - in->pk_pos;
        if (k > cap)
            k = cap;
        memcpy(buf, in->pk + in->pk_pos, k);
        in->pk_pos += k;
        in->off += k;
        *got = k;
        return ESC_OK;
    }
    esc_status st = read_raw(in, buf, cap, got, err);
    in->off += *got;
    return st;
}

bool esc_input_can_read_at(const esc_input *in) {
    return !in->mem && !in->gzip && in->size > 0;
}

void esc_input_skip(esc_input *in, size_t n) {
    size_t k = in->pk_len - in->pk_pos; /* look-ahead bytes first */
    if (k > n)
        k = n;
    in->pk_pos += k;
    in->skipped += n - k; /* one seek before the next read, if any */
    in->raw += n - k;
    in->off += n;
}

esc_status esc_input_read_at(esc_input *in, uint64_t offset, void *buf, size_t n, size_t *got,
                             esc_error *err) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(in->fd, (char *)buf + done, n - done, (off_t)(offset + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return esc_error_at(err, ESC_EIO, in->path, offset + done, "read failed: %s",
                                strerror(errno));
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return ESC_OK;
}

const char *esc_input_path(const esc_input *in) {
    return in->path;
}
uint64_t esc_input_offset(const esc_input *in) {
    return in->off;
}
uint64_t esc_input_raw_bytes(const esc_input *in) {
    return in->raw;
}
uint64_t esc_input_size(const esc_input *in) {
    return in->size;
}
bool esc_input_is_gzip(const esc_input *in) {
    return in->gzip;
}

/* ---- sniffing ---------------------------------------------------------------------------- */

esc_format esc_sniff(const unsigned char *p, size_t n) {
    if (n >= 8 && memcmp(p, "ElfFile", 8) == 0)
        return ESC_FMT_EVTX;
    if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE)
        return ESC_FMT_XML_UTF16;
    size_t i = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    /* skip whitespace and, for text dumps, one banner line before the first '<' */
    for (; i < n; i++) {
        unsigned char c = p[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '{' || c == '[')
            return ESC_FMT_JSON;
        if (c == '<')
            return ESC_FMT_XML;
        break;
    }
    /* evtxexport prints a banner line first: accept one line of text followed by an <Event
     * element or an XML declaration */
    while (i < n && p[i] != '\n')
        i++;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i + 6 <= n && (memcmp(p + i, "<Event", 6) == 0 || memcmp(p + i, "<?xml", 5) == 0))
        return ESC_FMT_XML;
    return ESC_FMT_UNKNOWN;
}

const char *esc_format_name(esc_format f) {
    switch (f) {
    case ESC_FMT_EVTX:
        return "evtx";
    case ESC_FMT_XML:
        return "xml";
    case ESC_FMT_XML_UTF16:
        return "xml-utf16";
    case ESC_FMT_JSON:
        return "json";
    case ESC_FMT_UNKNOWN:
        break;
    }
    return "unknown";
}
