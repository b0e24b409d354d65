/* SHA-256 (FIPS 180-4) for event identities and the Hyperscan cache: one-shot, or fed in pieces
 * so that a prefix many identities share (a row's notable id, for its risk events) is hashed
 * once and its state copied.
 *
 * A block is compressed with the x86 SHA extensions when the CPU has them (block_ni: the
 * sha256rnds2, sha256msg1 and sha256msg2 instructions as the Intel 64 and IA-32 Architectures
 * Software Developer's Manual defines them, two rounds per sha256rnds2 on the state held as
 * ABEF and CDGH), else by the portable code (block). The notable and risk ids of a hunt's rows
 * are 1.8% of its calling thread's instructions with the portable code over 100 MiB of XML.
 *
 * Invariants: byte-order independent (big-endian loads and stores done by hand); both ways give
 * the same digest (test_act.c compares them on random messages). Deliberately not done: other
 * digests. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA_NI 1
#endif

#include "core/sha256.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

#define S0(x) (rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22))
#define S1(x) (rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25))
#define s0(x) (rotr(x, 7) ^ rotr(x, 18) ^ ((x) >> 3))
#define s1(x) (rotr(x, 17) ^ rotr(x, 19) ^ ((x) >> 10))
/* Round i with the working variables named in their roles for it: instead of moving eight
 * values down one place each round, the names rotate (eight rounds per turn). */
#define ROUND(a, b, c, d, e, f, g, h, i)                                                           \
    do {                                                                                           \
        uint32_t t1 = h + S1(e) + ((e & f) ^ (~e & g)) + K[i] + w[i];                              \
        d += t1;                                                                                   \
        h = t1 + S0(a) + ((a & b) ^ (a & c) ^ (b & c));                                            \
    } while (0)

static void block(uint32_t hs[8], const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++)
        w[i] = w[i - 16] + s0(w[i - 15]) + w[i - 7] + s1(w[i - 2]);
    uint32_t a = hs[0], b = hs[1], c = hs[2], d = hs[3], e = hs[4], f = hs[5], g = hs[6], h = hs[7];
    for (int i = 0; i < 64; i += 8) {
        ROUND(a, b, c, d, e, f, g, h, i);
        ROUND(h, a, b, c, d, e, f, g, i + 1);
        ROUND(g, h, a, b, c, d, e, f, i + 2);
        ROUND(f, g, h, a, b, c, d, e, i + 3);
        ROUND(e, f, g, h, a, b, c, d, i + 4);
        ROUND(d, e, f, g, h, a, b, c, i + 5);
        ROUND(c, d, e, f, g, h, a, b, i + 6);
        ROUND(b, c, d, e, f, g, h, a, i + 7);
    }
    hs[0] += a;
    hs[1] += b;
    hs[2] += c;
    hs[3] += d;
    hs[4] += e;
    hs[5] += f;
    hs[6] += g;
    hs[7] += h;
}

#ifdef SHA_NI
/* block with the SHA extensions. Group g is rounds 4g..4g+3: its message words plus K in one
 * register, two rounds per sha256rnds2 (the upper pair moved down for the second); the
 * schedule's next words made with sha256msg1 (three groups ahead) and sha256msg2 (one ahead). */
__attribute__((target("sha,sse4.1,ssse3"))) static void block_ni(uint32_t hs[8],
                                                                 const unsigned char *p) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&hs[0]), 0xB1);  /* CDAB */
    __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&hs[4]), 0x1B); /* EFGH */
    __m128i s0 = _mm_alignr_epi8(t, s1, 8);                                         /* ABEF */
    s1 = _mm_blend_epi16(s1, t, 0xF0);                                              /* CDGH */
    __m128i abef = s0, cdgh = s1, m[4];
#pragma GCC unroll 16
    for (int g = 0; g < 16; g++) {
        if (g < 4)
            m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), swap);
        __m128i msg = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
        s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
        if (g >= 3 && g < 15) {
            __m128i w = _mm_add_epi32(m[(g + 1) & 3], _mm_alignr_epi8(m[g & 3], m[(g - 1) & 3], 4));
            m[(g + 1) & 3] = _mm_sha256msg2_epu32(w, m[g & 3]);
        }
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));
        if (g >= 1 && g < 13)
            m[(g - 1) & 3] = _mm_sha256msg1_epu32(m[(g - 1) & 3], m[g & 3]);
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
    t = _mm_shuffle_epi32(s0, 0x1B);                                   /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);                                  /* DCHG */
    _mm_storeu_si128((__m128i *)&hs[0], _mm_blend_epi16(t, s1, 0xF0)); /* DCBA */
    _mm_storeu_si128((__m128i *)&hs[4], _mm_alignr_epi8(s1, t, 8));    /* HGFE */
}

/* Whether the CPU has the SHA extensions and the SSSE3 and SSE4.1 block_ni uses. */
static bool cpu_has_sha(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
        return false;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#endif

static void (*compress)(uint32_t hs[8], const unsigned char *p) = block;

__attribute__((constructor)) static void pick_compress(void) {
    (void)esc_sha256_hw(true);
}

bool esc_sha256_hw(bool on) {
#ifdef SHA_NI
    compress = on && cpu_has_sha() ? block_ni : block;
#else
    (void)on;
#endif
    return compress != block;
}

void esc_sha256_init(esc_sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->n = 0;
    s->len = 0;
}

void esc_sha256_update(esc_sha256 *s, const void *data, size_t len) {
    const unsigned char *p = data;
    s->len += len;
    if (s->n) {
        size_t k = 64 - s->n < len ? 64 - s->n : len;
        memcpy(s->buf + s->n, p, k);
        s->n += k;
        p += k;
        len -= k;
        if (s->n < 64)
            return;
        compress(s->h, s->buf);
        s->n = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        compress(s->h, p);
    if (len)
        memcpy(s->buf, p, len);
    s->n = len;
}

void esc_sha256_final_hex(esc_sha256 *s, char out[65]) {
    unsigned char tail[128];
    memset(tail, 0, sizeof tail);
    memcpy(tail, s->buf, s->n);
    tail[s->n] = 0x80;
    size_t tl = s->n + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = s->len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    compress(s->h, tail);
    if (tl == 128)
        compress(s->h, tail + 64);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) {
            unsigned char byte = (unsigned char)(s->h[i] >> (24 - 8 * j));
            out[8 * i + 2 * j] = hex[byte >> 4];
            out[8 * i + 2 * j + 1] = hex[byte & 15];
        }
    out[64] = 0;
}

void esc_sha256_hex(const void *data, size_t len, char out[65]) {
    esc_sha256 s;
    esc_sha256_init(&s);
    esc_sha256_update(&s, data, len);
    esc_sha256_final_hex(&s, out);
}
