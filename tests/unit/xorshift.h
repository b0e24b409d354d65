/* The fixed-seed pseudo-random sweep of the unit tests that compare a function with a reference
 * over many inputs (test_fmt.c, test_utf8.c): xorshift64, one sequence per test program. */
#ifndef ESC_TESTS_XORSHIFT_H
#define ESC_TESTS_XORSHIFT_H

#include <stdint.h>

static uint64_t rng = 0x9E3779B97F4A7C15u;
static inline uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#endif
