/* Where records end, for reading an input that is still being written (see reader.h).
 *
 * A text input being appended to is read in pieces that end at a record's end, so a record still
 * being written is left for the next read: in UTF-8 XmlWinEventLog a record ends after its
 * "</Event>" tag (and the line end that follows it), in JSON lines after a line end.
 * Invariants: pure functions of the bytes given; a piece that ends where these say holds only
 * whole records. Not done here: reading files, deciding how large a piece may be (the caller's
 * limit), UTF-16 text or JSON arrays (those are read as one stream from their start). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "parse/reader.h"

#include <string.h>

static const char END_TAG[] = "</Event>";
#define END_TAG_LEN (sizeof END_TAG - 1)

static bool line_end(unsigned char c) {
    return c == '\r' || c == '\n';
}

esc_follow esc_follow_kind(const unsigned char *head, size_t n, bool gzip) {
    if (n == 0)
        return ESC_FOLLOW_UNKNOWN;
    esc_format f = esc_sniff(head, n);
    size_t i = 0;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || line_end(head[i])))
        i++;
    if (!gzip && f == ESC_FMT_XML)
        return ESC_FOLLOW_XML;
    if (!gzip && f == ESC_FMT_JSON && i < n && head[i] == '{')
        return ESC_FOLLOW_JSONL;
    if (f != ESC_FMT_UNKNOWN || gzip)
        return ESC_FOLLOW_WHOLE;
    return ESC_FOLLOW_UNKNOWN;
}

esc_follow esc_follow_kind_text(const unsigned char *head, size_t n) {
    esc_format f = esc_sniff(head, n);
    return f == ESC_FMT_XML    ? ESC_FOLLOW_XML
           : f == ESC_FMT_JSON ? ESC_FOLLOW_JSONL
                               : ESC_FOLLOW_UNKNOWN;
}

size_t esc_follow_last_end(esc_follow k, const unsigned char *p, size_t n) {
    if (k == ESC_FOLLOW_JSONL) {
        for (size_t i = n; i > 0; i--)
            if (p[i - 1] == '\n')
                return i;
        return 0;
    }
    if (k != ESC_FOLLOW_XML)
        return 0;
    for (size_t i = n; i >= END_TAG_LEN; i--) {
        if (p[i - 1] == '>' && memcmp(p + i - END_TAG_LEN, END_TAG, END_TAG_LEN) == 0) {
            while (i < n && line_end(p[i]))
                i++; /* the line end belongs to the record */
            return i;
        }
    }
    return 0;
}

bool esc_follow_first_end(esc_follow k, const unsigned char *p, size_t n, size_t *end,
                          size_t *resume) {
    const unsigned char *e;
    if (k == ESC_FOLLOW_JSONL) {
        if ((e = memchr(p, '\n', n))) {
            *end = (size_t)(e - p) + 1;
            return true;
        }
        *resume = n;
        return false;
    }
    if (k == ESC_FOLLOW_XML && (e = memmem(p, n, END_TAG, END_TAG_LEN))) {
        size_t i = (size_t)(e - p) + END_TAG_LEN;
        while (i < n && line_end(p[i]))
            i++; /* the line end belongs to the record */
        *end = i;
        return true;
    }
    /* a tag cut by the window's end is found again from its first bytes */
    *resume = n > END_TAG_LEN ? n - END_TAG_LEN : n;
    return false;
}
