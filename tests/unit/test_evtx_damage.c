/* EVTX reader: damaged files (SPEC section 3) and thread-count independence.
 *
 * Each case damages a copy of a real 16-chunk sample (bits_openvpn.evtx) in one chunk and
 * checks that the reader warns, does not crash, stays within a fixed memory bound, and still
 * yields exactly the records of every intact chunk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "parse/reader.h"
#include "parse/render.h"

#include "evtx_build.h"

#define SAMPLE ESC_SHARED_DATA "/evtx/Command_and_Control/bits_openvpn.evtx"
#define CHUNK 65536u
#define HDR 4096u
#define MAXCH 32

typedef struct run {
    uint64_t per_chunk[MAXCH];
    uint64_t events, warnings, recovered;
    uint64_t hash; /* FNV-1a over the JSON rendering of every event, in order */
    char first_warning[ESC_ERROR_MSG_MAX];
    char all_warnings[4096];
    esc_reader_stats stats;
} run;

static unsigned char *orig;
static size_t orig_len;

static unsigned char *load(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void run_bytes(const unsigned char *b, size_t n, int threads, bool recover, run *r) {
    char path[] = "/tmp/escudo-evtx-damage-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    close(fd);
    memset(r, 0, sizeof *r);
    r->hash = 1469598103934665603ull;
    esc_interest everything;
    memset(&everything, 0, sizeof everything);
    everything.everything = true;
    esc_reader_opts opts = {.recover = recover, .threads = threads};
    esc_input *in = NULL;
    esc_error err;
    assert_int_equal(esc_input_open(path, &in, &err), ESC_OK);
    void *impl = NULL;
    esc_status st = esc_evtx_reader_ops.open(in, &everything, &opts, &r->stats, &impl, &err);
    assert_int_equal(st, ESC_OK);
    esc_buf line;
    esc_buf_init(&line, 0);
    for (;;) {
        esc_event ev;
        st = esc_evtx_reader_ops.next(impl, &ev, &err);
        if (st == ESC_EOF)
            break;
        if (st == ESC_EMALFORMED) {
            if (!r->warnings++)
                snprintf(r->first_warning, sizeof r->first_warning, "%s", err.msg);
            size_t l = strlen(r->all_warnings);
            snprintf(r->all_warnings + l, sizeof r->all_warnings - l, "%s\n", err.msg);
            assert_true(err.has_offset);
            assert_true(err.offset <= n);
            continue;
        }
        assert_int_equal(st, ESC_OK);
        r->events++;
        r->recovered += ev.recovered;
        uint64_t c = (ev.offset - HDR) / CHUNK;
        if (c < MAXCH)
            r->per_chunk[c]++;
        esc_buf_clear(&line);
        assert_int_equal(esc_render_json(&ev, &line), ESC_OK);
        for (size_t i = 0; i < line.len; i++)
            r->hash = (r->hash ^ (unsigned char)line.ptr[i]) * 1099511628211ull;
    }
    esc_buf_fini(&line);
    esc_evtx_reader_ops.free(impl);
    esc_input_free(in);
    unlink(path);
}

static unsigned char *copy_orig(void) {
    unsigned char *b = malloc(orig_len);
    assert_non_null(b);
    memcpy(b, orig, orig_len);
    return b;
}

static void assert_intact_except(const run *good, const run *bad, int skip) {
    for (int c = 0; c < MAXCH; c++)
        if (c != skip)
            assert_int_equal(bad->per_chunk[c], good->per_chunk[c]);
}

static void check_memory(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
#if defined(__SANITIZE_ADDRESS__)
    assert_true(ru.ru_maxrss < 1024 * 1024); /* KiB; ASan's shadow and quarantine count too */
#else
    assert_true(ru.ru_maxrss < 64 * 1024); /* KiB */
#endif
}

static run good;

static void test_intact(void **state) {
    (void)state;
    run_bytes(orig, orig_len, 0, false, &good);
    assert_int_equal(good.warnings, 0);
    assert_int_equal(good.events, 1537); /* MANIFEST.tsv, evtxexport's count */
    assert_int_equal(good.stats.records, 1537);
    for (int c = 0; c < 16; c++)
        assert_true(good.per_chunk[c] > 0);
}

static void test_threads_same_output(void **state) {
    (void)state;
    for (int t = 1; t <= 4; t++) {
        run r;
        run_bytes(orig, orig_len, t, false, &r);
        assert_int_equal(r.events, good.events);
        assert_true(r.hash == good.hash);
    }
}

static void test_truncated(void **state) {
    (void)state;
    size_t cut = HDR + 5 * CHUNK + 30000;
    run r;
    run_bytes(orig, cut, 2, false, &r);
    assert_true(r.warnings >= 1);
    assert_non_null(strstr(r.all_warnings, "truncated"));
    for (int c = 0; c < 5; c++)
        assert_int_equal(r.per_chunk[c], good.per_chunk[c]);
    assert_true(r.per_chunk[5] > 0 && r.per_chunk[5] < good.per_chunk[5]);
    /* a file cut inside its header */
    run_bytes(orig, 100, 0, false, &r);
    assert_int_equal(r.events, 0);
    assert_true(r.warnings >= 1);
    check_memory();
}

static void test_zeroed_chunk(void **state) {
    (void)state;
    unsigned char *b = copy_orig();
    memset(b + HDR + 4 * CHUNK, 0, CHUNK);
    run r;
    run_bytes(b, orig_len, 2, false, &r);
    assert_int_equal(r.warnings, 1);
    assert_non_null(strstr(r.first_warning, "all zero"));
    assert_int_equal(r.per_chunk[4], 0);
    assert_intact_except(&good, &r, 4);
    free(b);
}

static void test_random_flips(void **state) {
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int iter = 0; iter < 40; iter++) {
        unsigned char *b = copy_orig();
        int target = 1 + iter % 14;
        for (int k = 0; k < 1 + iter * 3; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t off = HDR + (size_t)target * CHUNK + x % CHUNK;
            b[off] ^= (unsigned char)(1u << (x >> 32) % 8);
        }
        run r;
        run_bytes(b, orig_len, iter % 3, iter % 2, &r);
        assert_true(r.warnings >= 1); /* at least the checksum */
        assert_intact_except(&good, &r, target);
        free(b);
    }
    /* flips anywhere, header included: only "no crash, bounded memory" */
    for (int iter = 0; iter < 40; iter++) {
        unsigned char *b = copy_orig();
        for (int k = 0; k < 200; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[x % orig_len] = (unsigned char)(x >> 40);
        }
        run r;
        run_bytes(b, orig_len, 2, true, &r);
        free(b);
    }
    check_memory();
}

static void test_template_self_reference(void **state) {
    (void)state;
    unsigned char *b = copy_orig();
    unsigned char *ch = b + HDR + 2 * CHUNK;
    /* first record: fragment header, then a template instance with its definition inline */
    assert_int_equal(ch[512 + 24 + 4], 0x0c);
    uint32_t def = (uint32_t)ch[546] | (uint32_t)ch[547] << 8 | (uint32_t)ch[548] << 16 |
                   (uint32_t)ch[549] << 24;
    assert_int_equal(def, 550);
    /* the template body (after its own fragment header) becomes an instance of itself */
    unsigned char *body = ch + def + 24 + 4;
    body[0] = 0x0c;
    body[1] = 0x01;
    memset(body + 2, 0, 4);
    memcpy(body + 6, &def, 4);
    chunk_checksums(ch);
    run r;
    run_bytes(b, orig_len, 0, false, &r);
    assert_true(r.warnings >= 1);
    assert_non_null(strstr(r.first_warning, "template"));
    assert_true(r.per_chunk[2] < good.per_chunk[2]);
    assert_intact_except(&good, &r, 2);
    free(b);
}

static void test_huge_lengths(void **state) {
    (void)state;
    unsigned char *b = copy_orig();
    unsigned char *ch = b + HDR + 3 * CHUNK;
    /* second record of chunk 3: a 4 GiB size field */
    uint32_t first = (uint32_t)ch[516] | (uint32_t)ch[517] << 8 | (uint32_t)ch[518] << 16 |
                     (uint32_t)ch[519] << 24;
    unsigned char *rec = ch + 512 + first;
    assert_int_equal(rec[0], 0x2a);
    memset(rec + 4, 0xff, 4);
    chunk_checksums(ch);
    run r;
    run_bytes(b, orig_len, 2, false, &r);
    assert_int_equal(r.warnings, 1);
    assert_non_null(strstr(r.first_warning, "bad size"));
    assert_int_equal(r.per_chunk[3], good.per_chunk[3] - 1);
    assert_intact_except(&good, &r, 3);
    free(b);

    /* the first record's inline template claims a 4 GiB body */
    b = copy_orig();
    ch = b + HDR + 5 * CHUNK;
    memset(ch + 550 + 20, 0xff, 4);
    chunk_checksums(ch);
    run_bytes(b, orig_len, 0, false, &r);
    assert_true(r.warnings >= 1);
    assert_intact_except(&good, &r, 5);
    free(b);

    /* a huge substitution count on the first record of chunk 6 */
    b = copy_orig();
    ch = b + HDR + 6 * CHUNK;
    uint32_t dsize = (uint32_t)ch[550 + 20] | (uint32_t)ch[550 + 21] << 8 |
                     (uint32_t)ch[550 + 22] << 16 | (uint32_t)ch[550 + 23] << 24;
    memset(ch + 550 + 24 + dsize, 0xff, 4);
    chunk_checksums(ch);
    run_bytes(b, orig_len, 0, false, &r);
    assert_int_equal(r.warnings, 1);
    assert_non_null(strstr(r.first_warning, "substitution count"));
    assert_int_equal(r.per_chunk[6], good.per_chunk[6] - 1);
    assert_intact_except(&good, &r, 6);
    free(b);
    check_memory();
}

static void test_bad_checksums_still_read(void **state) {
    (void)state;
    unsigned char *b = copy_orig();
    b[124] ^= 1;                   /* file header */
    b[HDR + 7 * CHUNK + 124] ^= 1; /* chunk header */
    b[HDR + 8 * CHUNK + 52] ^= 1;  /* records checksum */
    run r;
    run_bytes(b, orig_len, 2, false, &r);
    assert_int_equal(r.warnings, 4); /* the records checksum is covered by the header checksum */
    assert_non_null(strstr(r.all_warnings, "file header checksum"));
    assert_non_null(strstr(r.all_warnings, "chunk 7 header checksum"));
    assert_non_null(strstr(r.all_warnings, "chunk 8 event records checksum"));
    assert_int_equal(r.events, good.events);
    assert_true(r.hash == good.hash);
    free(b);
}

static int setup(void **state) {
    (void)state;
    esc_alloc_init();
    orig = load(SAMPLE, &orig_len);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(orig);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intact),       cmocka_unit_test(test_threads_same_output),
        cmocka_unit_test(test_truncated),    cmocka_unit_test(test_zeroed_chunk),
        cmocka_unit_test(test_random_flips), cmocka_unit_test(test_template_self_reference),
        cmocka_unit_test(test_huge_lengths), cmocka_unit_test(test_bad_checksums_still_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
