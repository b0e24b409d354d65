/* Byte-string views: comparisons and searches. ASCII case folding only. */
#include "core/str.h"

bool esc_str_ieq(esc_str a, esc_str b) {
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (esc_lower((unsigned char)a.ptr[i]) != esc_lower((unsigned char)b.ptr[i]))
            return false;
    return true;
}

bool esc_str_ieq_c(esc_str a, const char *b) {
    return esc_str_ieq(a, esc_str_c(b));
}

int esc_str_cmp(esc_str a, esc_str b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

long esc_str_find(esc_str hay, esc_str needle) {
    if (needle.len == 0)
        return 0;
    if (needle.len > hay.len)
        return -1;
    const char *p = memmem(hay.ptr, hay.len, needle.ptr, needle.len);
    return p ? (long)(p - hay.ptr) : -1;
}

long esc_str_ifind(esc_str hay, esc_str needle) {
    if (needle.len == 0)
        return 0;
    if (needle.len > hay.len)
        return -1;
    unsigned char f = esc_lower((unsigned char)needle.ptr[0]);
    for (size_t i = 0; i + needle.len <= hay.len; i++) {
        if (esc_lower((unsigned char)hay.ptr[i]) != f)
            continue;
        size_t j = 1;
        while (j < needle.len &&
               esc_lower((unsigned char)hay.ptr[i + j]) == esc_lower((unsigned char)needle.ptr[j]))
            j++;
        if (j == needle.len)
            return (long)i;
    }
    return -1;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

esc_str esc_str_trim(esc_str s) {
    while (s.len && is_space(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && is_space(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

esc_str esc_str_basename(esc_str s) {
    for (size_t i = s.len; i > 0; i--)
        if (s.ptr[i - 1] == '\\' || s.ptr[i - 1] == '/')
            return esc_str_make(s.ptr + i, s.len - i);
    return s;
}

uint64_t esc_str_hash(esc_str s) {
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t k = 0;
    uint64_t h = esc_hash_mix(0xcbf29ce484222325ULL, s.len);
    for (; k + 8 <= s.len; k += 8) {
        uint64_t w;
        memcpy(&w, p + k, 8);
        h = esc_hash_mix(h, w);
    }
    if (k < s.len) {
        uint64_t w = 0;
        memcpy(&w, p + k, s.len - k);
        h = esc_hash_mix(h, w);
    }
    return h;
}

uint64_t esc_str_ihash(esc_str s, uint64_t h) {
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ esc_lower((unsigned char)s.ptr[i])) * 0x100000001b3ULL;
    return h;
}
