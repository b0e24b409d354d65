/* libFuzzer target for the XmlWinEventLog readers: esc_xml_event_parse on the whole input, then
 * the stream reader (esc_xml_reader_ops) over the same bytes read back through esc_input.
 *
 * Input layout: byte 0 picks how the stream is delivered, byte 1 the interest set and options,
 * the rest is the text.
 * - byte 0 < 192: the text is cut into pieces of (byte 0 % 64) + 1 bytes (at least size/512),
 *   each written as its own gzip member (stored blocks, written by hand). esc_input hands out at
 *   most one member per read, so the reader's refills see the stream in small pieces and block
 *   boundaries fall everywhere (the reader's own block is 1 MiB and has no knob).
 * - byte 0 >= 192: the text is one plain memory file (the common path).
 * - byte 1: bits 0-1 the interest set (everything / Sysmon+4688 with literal clauses /
 *   CrowdStrike only, i.e. no Windows events wanted / everything with the whole-element
 *   parts), bit 6 widens every byte to UTF-16LE behind a byte-order mark (the transcoding
 *   path), bit 7 a 256-byte record cap (else 64 KiB).
 * Every event's views are touched so that ASan sees a view pointing outside live memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "core/arena.h"
#include "parse/reader.h"
#include "parse/xml/xml.h"

static const char *const fields[] = {"CommandLine",      "Image",       "User",
                                     "OriginalFileName", "ParentImage", NULL};

static void init_interest(esc_interest *in, unsigned sel) {
    memset(in, 0, sizeof *in);
    switch (sel % 4) {
    case 0:
        in->everything = true;
        break;
    case 3:
        in->everything = true;
        in->parts = true;
        break;
    case 1:
        in->win[0] = (esc_win_source){"Microsoft-Windows-Sysmon", 1};
        in->win[1] = (esc_win_source){"Microsoft-Windows-Security-Auditing", 4688};
        in->nwin = 2;
        in->fields = fields;
        in->clause[0].lit[0] = "net.exe";
        in->clause[0].lit[1] = "net1.exe";
        in->clause[0].nlit = 2;
        in->clause[1].lit[0] = "share";
        in->clause[1].nlit = 1;
        in->nclauses = 2;
        break;
    default:
        in->crowdstrike = true;
        in->clause[0].lit[0] = "a";
        in->clause[0].nlit = 1;
        in->nclauses = 1;
        break;
    }
}

static unsigned touch(esc_str s) {
    unsigned h = 0;
    for (size_t i = 0; i < s.len; i++)
        h = h * 31 + (unsigned char)s.ptr[i];
    return h;
}

static unsigned touch_event(const esc_event *ev) {
    unsigned h =
        touch(ev->provider) + touch(ev->channel) + touch(ev->computer) + touch(ev->warning);
    for (int k = 0; k < ESC_XML_NPARTS; k++)
        h += touch(ev->parts[k]);
    for (size_t i = 0; i < ev->ndata; i++)
        h += touch(ev->data[i].name) + touch(ev->data[i].value);
    return h;
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* One gzip member holding `n` bytes (n <= 65535) in a single stored deflate block. */
static size_t gzip_member(unsigned char *out, const unsigned char *p, size_t n) {
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    size_t k = 0;
    memcpy(out, hdr, 10);
    k = 10;
    out[k++] = 0x01; /* BFINAL, stored */
    out[k++] = (unsigned char)n;
    out[k++] = (unsigned char)(n >> 8);
    out[k++] = (unsigned char)~n;
    out[k++] = (unsigned char)(~n >> 8);
    memcpy(out + k, p, n);
    k += n;
    put32(out + k, (uint32_t)crc32(0L, p, (uInt)n));
    put32(out + k + 4, (uint32_t)n);
    return k + 8;
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void run_stream(const unsigned char *text, size_t n, unsigned mode, unsigned sel) {
    int fd = memfd_create("fuzz_xml", 0);
    if (fd < 0)
        return;
    if (mode < 192 && n > 0) {
        size_t piece = (size_t)(mode % 64) + 1;
        if (piece < n / 512)
            piece = n / 512;
        unsigned char *m = malloc(piece + 32);
        int bad = !m;
        for (size_t at = 0; !bad && at < n; at += piece) {
            size_t k = n - at < piece ? n - at : piece;
            size_t len = gzip_member(m, text + at, k);
            bad = write_all(fd, m, len) != 0;
        }
        free(m);
        if (bad) {
            close(fd);
            return;
        }
    } else if (n && write_all(fd, text, n) != 0) {
        close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    esc_input *in = NULL;
    esc_error err;
    if (esc_input_open(path, &in, &err) != ESC_OK) {
        close(fd);
        return;
    }
    esc_interest interest;
    init_interest(&interest, sel);
    esc_reader_opts opts = {0};
    /* 256 bytes runs the over-long path; 64 KiB instead of the 16 MiB default keeps the
     * per-input buffer (1 MiB block + cap) cheap under ASan: inputs are shorter anyway */
    opts.max_record_bytes = (sel & 0x80) ? 256 : 65536;
    esc_reader_stats stats = {0};
    void *impl = NULL;
    volatile unsigned sink = 0;
    if (esc_xml_reader_ops.open(in, &interest, &opts, &stats, &impl, &err) == ESC_OK) {
        uint64_t last_ok = 0;
        for (int guard = 0; guard < 1000000; guard++) {
            esc_event ev;
            esc_status st = esc_xml_reader_ops.next(impl, &ev, &err);
            if (st == ESC_EOF || st == ESC_EIO || st == ESC_ENOMEM || st == ESC_EINTERNAL)
                break;
            if (st == ESC_EMALFORMED) {
                if (!err.has_offset)
                    __builtin_trap(); /* every warning names its byte offset */
                continue;
            }
            if (st != ESC_OK)
                __builtin_trap();
            /* events come out in stream order and inside the stream */
            if (ev.offset < last_ok || ev.offset >= esc_input_offset(in) + 1)
                __builtin_trap();
            last_ok = ev.offset;
            sink += touch_event(&ev);
        }
        esc_xml_reader_ops.free(impl);
    }
    (void)sink;
    esc_input_free(in);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    unsigned mode = data[0], sel = data[1];
    data += 2;
    size -= 2;

    /* one element, parsed directly */
    esc_interest interest;
    init_interest(&interest, sel);
    esc_arena arena;
    esc_arena_init(&arena, 64 * 1024, 64u << 20);
    esc_event ev;
    esc_error err;
    memset(&ev, 0, sizeof ev);
    memset(&err, 0, sizeof err);
    volatile unsigned sink = 0;
    esc_status st = esc_xml_event_parse((const char *)data, size, &interest, &arena, &ev, &err);
    if (st == ESC_OK)
        sink += touch_event(&ev);
    else if ((st == ESC_EMALFORMED || st == ESC_ELIMIT) && err.offset > size)
        __builtin_trap(); /* the offset points inside the element */
    (void)sink;
    esc_arena_fini(&arena);

    /* the stream reader */
    if (sel & 0x40) {
        unsigned char *w = malloc(2 * size + 2);
        if (!w)
            return 0;
        w[0] = 0xFF;
        w[1] = 0xFE;
        for (size_t i = 0; i < size; i++) {
            w[2 + 2 * i] = data[i];
            w[3 + 2 * i] = 0;
        }
        run_stream(w, 2 * size + 2, mode, sel);
        free(w);
    } else {
        run_stream(data, size, mode, sel);
    }
    return 0;
}
