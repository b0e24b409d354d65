/* Result rows as JSON lines, CSV (RFC 4180) or a table for people (SPEC section 5).
 *
 * JSON matches Python's json.dumps(ensure_ascii=False) byte for byte: ", " and ": "
 * separators, UTF-8 as is, control characters as \uXXXX (lower-case hex) except the short
 * escapes. Columns made by values() are always arrays; a null cell is left out. CSV joins
 * multivalue cells with newlines, as Splunk exports do; the table joins them with ", ".
 *
 * Text for people (tables, messages on stderr) never carries a control character to the
 * terminal: esc_out_human shows each visibly (\n, \r, \t, else \xHH; C1 controls U+0080-U+009F
 * as \u00HH), so a value or a file name cannot move the cursor, set the window title, ring the
 * bell or forge a line of its own. JSON and CSV keep the exact values under their own escaping. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/fmt.h"
#include "core/utf8.h"

bool esc_out_format_parse(const char *s, esc_out_format *f) {
    if (strcmp(s, "table") == 0)
        *f = ESC_OUT_TABLE;
    else if (strcmp(s, "json") == 0)
        *f = ESC_OUT_JSON;
    else if (strcmp(s, "csv") == 0)
        *f = ESC_OUT_CSV;
    else
        return false;
    return true;
}

/* Bytes of the visible escape for s[i] (0: the byte is printed as is); *len: bytes it stands
 * for (2 for a C1 control in UTF-8). */
static inline size_t human_escape(const unsigned char *s, size_t n, size_t i, char out[8],
                                  size_t *len) {
    unsigned char c = s[i];
    *len = 1;
    if (c >= 0x20 && c != 0x7f && c != 0xc2) /* the common case: printed as is */
        return 0;
    if (c == '\n' || c == '\r' || c == '\t') {
        out[0] = '\\';
        out[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        return 2;
    }
    if (c < 0x20 || c == 0x7f)
        return (size_t)snprintf(out, 8, "\\x%02x", c);
    if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
        *len = 2;
        return (size_t)snprintf(out, 8, "\\u%04x", s[i + 1]);
    }
    return 0;
}

void esc_out_human(FILE *f, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        char e[8];
        size_t len, el = human_escape(u, n, i, e, &len);
        if (!el) {
            i++;
            continue;
        }
        fwrite(s + run, 1, i - run, f);
        fwrite(e, 1, el, f);
        i += len;
        run = i;
    }
    fwrite(s + run, 1, n - run, f);
}

char *esc_out_human_dup(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), run = 0;
    esc_buf b;
    esc_buf_init(&b, 0);
    /* room for the text as it is (most need no escape), so it is not grown a piece at a time */
    esc_status st = esc_buf_reserve(&b, n + 1);
    for (size_t i = 0; i < n && !st;) {
        char e[8];
        size_t len, el = human_escape(u, n, i, e, &len);
        if (!el) {
            i++;
            continue;
        }
        if (!(st = esc_buf_append(&b, s + run, i - run)))
            st = esc_buf_append(&b, e, el);
        i += len;
        run = i;
    }
    if (!st && !(st = esc_buf_append(&b, s + run, n - run)))
        st = esc_buf_reserve(&b, 1); /* an empty text still has its pointer */
    if (st) {
        esc_buf_fini(&b);
        return NULL;
    }
    return esc_buf_take(&b);
}

size_t esc_out_human_width(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), w = 0;
    for (size_t i = 0; i < n;) {
        char e[8];
        size_t len, el = human_escape(u, n, i, e, &len);
        if (el) {
            w += el;
            i += len;
        } else {
            w += (u[i] & 0xC0) != 0x80; /* a UTF-8 sequence is one column */
            i++;
        }
    }
    return w;
}

void esc_out_human_pad(FILE *f, const char *s, size_t width) {
    esc_out_human(f, s, strlen(s));
    for (size_t w = esc_out_human_width(s); w < width; w++)
        fputc(' ', f);
}

void esc_say(FILE *f, const char *fmt, ...) {
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    char *text = small;
    if (n >= (int)sizeof small && (text = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (!text)
        text = small;
    if (n > 0)
        esc_out_human(f, text, strlen(text));
    fputc('\n', f);
    if (text != small)
        free(text);
}

void esc_out_json_string(FILE *f, const char *s, size_t n) {
    if (!esc_utf8_clean(s, n)) { /* e.g. a path or message quoting input bytes */
        esc_buf b;
        esc_buf_init(&b, 0);
        if (esc_utf8_repair(&b, s, n, NULL) == ESC_OK)
            esc_out_json_string(f, b.ptr, b.len);
        esc_buf_fini(&b);
        return;
    }
    fputc('"', f);
    size_t i = 0;
    for (;;) { /* runs between bytes to escape in one fwrite; the escapes of core/fmt */
        size_t k = i + esc_fmt_json_scan(s + i, n - i);
        fwrite(s + i, 1, k - i, f);
        if (k == n)
            break;
        char e[6];
        fwrite(e, 1, esc_fmt_json_escape_byte(e, (unsigned char)s[k]), f);
        i = k + 1;
    }
    fputc('"', f);
}

void esc_out_json_cell(FILE *f, const esc_cell *c, bool mv) {
    if (mv || c->n > 1) {
        fputc('[', f);
        for (size_t i = 0; i < c->n; i++) {
            if (i)
                fputs(", ", f);
            esc_out_json_string(f, c->v[i], strlen(c->v[i]));
        }
        fputc(']', f);
    } else if (c->is_num) {
        fputs(c->v[0], f);
    } else {
        esc_out_json_string(f, c->v[0], strlen(c->v[0]));
    }
}

void esc_out_csv_field(FILE *f, const char *s, size_t n) {
    if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n)) {
        fwrite(s, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

/* Cell text with multivalues joined by sep; NULL-safe. Returns esc_malloc'd text. */
char *esc_out_cell_text(const esc_cell *c, const char *sep) {
    esc_buf b;
    esc_buf_init(&b, 0);
    for (size_t i = 0; i < c->n; i++) {
        if (i)
            esc_buf_append_c(&b, sep);
        esc_buf_append_c(&b, c->v[i]);
    }
    return esc_buf_take(&b);
}

static void table_text(FILE *f, const char *s, size_t pad) {
    esc_out_human(f, s, strlen(s));
    for (size_t i = 0; i < pad; i++)
        fputc(' ', f);
}

static void out_table(FILE *f, const esc_table *t, const char *search_name, bool header) {
    size_t nc = t->ncols + (search_name ? 1 : 0);
    size_t *w = esc_calloc(nc ? nc : 1, sizeof *w);
    char **text = esc_calloc(t->nrows * nc + 1, sizeof *text);
    if (!w || !text)
        goto done;
    for (size_t c = 0; c < nc; c++)
        w[c] = esc_out_human_width(search_name && c == 0 ? "search_name"
                                                         : t->cols[c - (search_name ? 1 : 0)]);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < nc; c++) {
            char *s =
                search_name && c == 0
                    ? esc_strdup(search_name)
                    : esc_out_cell_text(esc_table_cell(t, r, c - (search_name ? 1 : 0)), ", ");
            text[r * nc + c] = s;
            if (s && esc_out_human_width(s) > w[c])
                w[c] = esc_out_human_width(s);
        }
    if (header) {
        for (size_t c = 0; c < nc; c++) {
            const char *h =
                search_name && c == 0 ? "search_name" : t->cols[c - (search_name ? 1 : 0)];
            table_text(f, h, c + 1 < nc ? w[c] - esc_out_human_width(h) + 2 : 0);
        }
        fputc('\n', f);
        for (size_t c = 0; c < nc; c++) {
            for (size_t i = 0; i < w[c]; i++)
                fputc('-', f);
            if (c + 1 < nc)
                fputs("  ", f);
        }
        fputc('\n', f);
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < nc; c++) {
            const char *s = text[r * nc + c] ? text[r * nc + c] : "";
            table_text(f, s, c + 1 < nc ? w[c] - esc_out_human_width(s) + 2 : 0);
        }
        fputc('\n', f);
    }
done:
    for (size_t i = 0; text && i < t->nrows * nc; i++)
        esc_free(text[i]);
    esc_free(text);
    esc_free(w);
}

void esc_out_rows(FILE *f, esc_out_format fmt, const esc_table *t, const char *search_name,
                  bool header) {
    if (fmt == ESC_OUT_TABLE) {
        out_table(f, t, search_name, header);
        return;
    }
    if (fmt == ESC_OUT_CSV && header) {
        if (search_name)
            fputs("search_name,", f);
        for (size_t c = 0; c < t->ncols; c++) {
            if (c)
                fputc(',', f);
            esc_out_csv_field(f, t->cols[c], strlen(t->cols[c]));
        }
        fputs("\r\n", f);
    }
    for (size_t r = 0; r < t->nrows; r++) {
        if (fmt == ESC_OUT_JSON) {
            fputc('{', f);
            bool first = true;
            if (search_name) {
                fputs("\"search_name\": ", f);
                esc_out_json_string(f, search_name, strlen(search_name));
                first = false;
            }
            for (size_t c = 0; c < t->ncols; c++) {
                const esc_cell *cell = esc_table_cell(t, r, c);
                if (cell->n == 0 && !t->mv_col[c])
                    continue;
                if (!first)
                    fputs(", ", f);
                first = false;
                esc_out_json_string(f, t->cols[c], strlen(t->cols[c]));
                fputs(": ", f);
                esc_out_json_cell(f, cell, t->mv_col[c]);
            }
            fputs("}\n", f);
        } else {
            if (search_name) {
                esc_out_csv_field(f, search_name, strlen(search_name));
                fputc(',', f);
            }
            for (size_t c = 0; c < t->ncols; c++) {
                if (c)
                    fputc(',', f);
                char *s = esc_out_cell_text(esc_table_cell(t, r, c), "\n");
                if (s)
                    esc_out_csv_field(f, s, strlen(s));
                esc_free(s);
            }
            fputs("\r\n", f);
        }
    }
}
