/* esc_crc32: libdeflate_crc32 when available (ESC_HAVE_LIBDEFLATE, set by CMake), zlib's crc32
 * otherwise. Both take and return the same running value (0 to start), so the two builds
 * compute identical checksums; tests/unit/test_fmt.c pins known values. Deliberately no CRC of
 * our own: the libraries' carry-less multiply paths are what make it fast. */
#include "core/crc32.h"

#ifdef ESC_HAVE_LIBDEFLATE
#include <libdeflate.h>
#else
#include <zlib.h>
#endif

uint32_t esc_crc32(uint32_t crc, const void *p, size_t n) {
#ifdef ESC_HAVE_LIBDEFLATE
    return libdeflate_crc32(crc, p, n);
#else
    uint32_t c = crc;
    const unsigned char *b = p;
    while (n) { /* zlib takes uInt lengths */
        unsigned k = n > 0x40000000u ? 0x40000000u : (unsigned)n;
        c = (uint32_t)crc32(c, b, k);
        b += k;
        n -= k;
    }
    return c;
#endif
}
