/* One small JSON object read whole: its top-level members, decoded.
 *
 * The JSON lines reader (parse/reader.h) streams events and decodes only the few values it
 * needs. This is the other use of the same tokenizer: an object that is read back rather than
 * streamed, such as a risk event or a notable that escudo's actions wrote, whose members a
 * caller compares with what it expected (`escudo test` does). The object is validated
 * completely, with the reader's limits (docs/json.md): nesting at most 64 deep, at most 65536
 * values recorded, 64 MiB of decoded text.
 *
 * What a member holds:
 *  - a string: its text decoded byte for byte: escapes resolved (\uXXXX with surrogate pairs;
 *    \u0000 and a lone surrogate become U+FFFD), every other byte kept as written, invalid
 *    UTF-8 included, so that text a writer copied through reads back unchanged;
 *  - a number, true, false, null: its text as written (numbers are not converted);
 *  - an object: its text as written, from '{' through '}'; its members are not read;
 *  - an array: its text as written, and its elements as items, each as a member's text above
 *    (strings decoded, anything else as written).
 * Duplicate keys are all kept, in order; esc_json_object_get finds the first.
 *
 * Ownership: esc_json_object_read returns an object that owns every string in it, freed in
 * one call by esc_json_object_free; members and their strings are valid until then. */
#ifndef ESC_PARSE_JSON_VALUE_H
#define ESC_PARSE_JSON_VALUE_H

#include <stddef.h>

#include "core/error.h"

/* The type of a JSON value (also the tokenizer's, parse/json/json.h). */
typedef enum esc_json_type {
    ESC_JT_STR = 1,
    ESC_JT_NUM,
    ESC_JT_TRUE,
    ESC_JT_FALSE,
    ESC_JT_NULL,
    ESC_JT_OBJ,
    ESC_JT_ARR,
} esc_json_type;

typedef struct esc_json_member {
    const char *key; /* decoded (escapes resolved, invalid UTF-8 as U+FFFD) */
    esc_json_type type;
    const char *text;         /* NUL-terminated, see above */
    size_t len;               /* bytes in text */
    const char *const *items; /* an array's elements' text; NULL for any other type */
    size_t nitems;
} esc_json_member;

typedef struct esc_json_object esc_json_object;

/* Read the one JSON object in s[0, n): whitespace may surround it, nothing else. *out is the
 * caller's, freed with esc_json_object_free. ESC_EMALFORMED with err->msg saying what is wrong
 * and err->offset where (a byte offset into s); ESC_ELIMIT when the decoded text would pass
 * 64 MiB; ESC_ENOMEM. */
esc_status esc_json_object_read(const char *s, size_t n, esc_json_object **out, esc_error *err);

/* NULL is a no-op. */
void esc_json_object_free(esc_json_object *o);

/* Members in the order of the text. */
size_t esc_json_object_count(const esc_json_object *o);
const esc_json_member *esc_json_object_member(const esc_json_object *o, size_t i);

/* The first member named key (exact, case-sensitive) whose type is `type`, or of any type when
 * type is 0; NULL when there is none. */
const esc_json_member *esc_json_object_get(const esc_json_object *o, const char *key,
                                           esc_json_type type);

#endif
