/* Text repair and transcoding to UTF-8.
 *
 * SPEC section 2: invalid UTF-8, lone UTF-16 surrogates and NUL characters inside a value are
 * replaced by U+FFFD (EF BF BD); the value is kept and the caller counts a warning. These
 * functions append to an esc_buf and report how many replacements they made. */
#ifndef ESC_CORE_UTF8_H
#define ESC_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* True when s is valid UTF-8 with no NUL byte (the common fast path: no copy needed). */
bool esc_utf8_clean(const char *s, size_t n);
/* Append s to out, replacing each invalid sequence and each NUL by U+FFFD. */
esc_status esc_utf8_repair(esc_buf *out, const char *s, size_t n, size_t *replaced);
/* Append the UTF-16LE code units u (n units) as UTF-8; lone surrogates and NUL become U+FFFD.
 * Decoding stops at nothing: trailing NULs are the caller's to strip. */
esc_status esc_utf16le_to_utf8(esc_buf *out, const unsigned char *u, size_t n, size_t *replaced);
/* The code point at s[*i] (s holds n bytes, *i < n), advancing *i past it; an invalid sequence
 * (a maximal subpart) or a NUL gives U+FFFD, as esc_utf8_repair would write it. */
uint32_t esc_utf8_next(const char *s, size_t n, size_t *i);
/* Append one code point as UTF-8 (invalid code points and surrogates become U+FFFD). */
esc_status esc_utf8_put(esc_buf *out, uint32_t cp);

#endif
