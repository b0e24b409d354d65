/* SHA-256 (FIPS 180-4): event identities (act.c), the Hyperscan cache's file names
 * (hscache.c). */
#ifndef ESC_CORE_SHA256_H
#define ESC_CORE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hex SHA-256 of data into out[65]. */
void esc_sha256_hex(const void *data, size_t len, char out[65]);
/* The same fed in pieces: init, update any number of times, final_hex once. A state may be
 * copied (struct assignment) to hash several messages that share a prefix. */
typedef struct esc_sha256 {
    uint32_t h[8];
    unsigned char buf[64]; /* the last block's bytes so far */
    size_t n;              /* bytes in buf */
    uint64_t len;          /* bytes fed in all */
} esc_sha256;
void esc_sha256_init(esc_sha256 *s);
void esc_sha256_update(esc_sha256 *s, const void *data, size_t len);
void esc_sha256_final_hex(esc_sha256 *s, char out[65]);
/* Compress with the CPU's SHA extensions when on and it has them (the default), else with the
 * portable code (the same digests); whether the extensions are used now. Not thread-safe: for
 * tests and benchmarks, before any hashing starts. */
bool esc_sha256_hw(bool on);

#endif
