/* CRC-32 (the zlib / IEEE 802.3 polynomial, as EVTX checksums use).
 *
 * esc_crc32(0, p, n) starts a checksum; esc_crc32(crc, p2, n2) continues it over more bytes,
 * exactly as zlib's crc32(). Built with libdeflate (its PCLMULQDQ folding, several times
 * zlib 1.2.13's speed on 64 KiB chunks) when the build found it, else with zlib. */
#ifndef ESC_CORE_CRC32_H
#define ESC_CORE_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t esc_crc32(uint32_t crc, const void *p, size_t n);

#endif
