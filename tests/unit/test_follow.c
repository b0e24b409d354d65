/* Reading a growing input in pieces: how each format is followed and where its records end
 * (esc_follow_*, parse/reader.h), and the readers over a piece in memory (esc_input_open_mem),
 * whose event offsets are offsets in the whole input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "parse/reader.h"

#define U(s) ((const unsigned char *)(s))

static esc_follow kind(const char *s, bool gz) {
    return esc_follow_kind(U(s), strlen(s), gz);
}

static void test_kind(void **state) {
    (void)state;
    assert_int_equal(kind("<Event xmlns='x'>", false), ESC_FOLLOW_XML);
    assert_int_equal(kind("\n  {\"a\":1}\n", false), ESC_FOLLOW_JSONL);
    assert_int_equal(kind("[{\"a\":1},\n", false), ESC_FOLLOW_WHOLE); /* a JSON array */
    assert_int_equal(kind("<Event>", true), ESC_FOLLOW_WHOLE);        /* gzip */
    assert_int_equal(esc_follow_kind(U("ElfFile\0"), 8, false), ESC_FOLLOW_WHOLE);
    assert_int_equal(esc_follow_kind(U("\xFF\xFE<\0"), 4, false), ESC_FOLLOW_WHOLE); /* UTF-16 */
    assert_int_equal(kind("hello", false), ESC_FOLLOW_UNKNOWN);
    assert_int_equal(esc_follow_kind(U(""), 0, true), ESC_FOLLOW_UNKNOWN);
    /* standard input: the text formats only */
    assert_int_equal(esc_follow_kind_text(U("[{}]"), 4), ESC_FOLLOW_JSONL);
    assert_int_equal(esc_follow_kind_text(U("<Event>"), 7), ESC_FOLLOW_XML);
    assert_int_equal(esc_follow_kind_text(U("ElfFile\0"), 8), ESC_FOLLOW_UNKNOWN);
}

static void test_last_end(void **state) {
    (void)state;
    const char *x = "<Event>a</Event>\r\n<Event>b</Eve";
    assert_int_equal(esc_follow_last_end(ESC_FOLLOW_XML, U(x), strlen(x)), 18);
    const char *x2 = "<Event>a</Event><Event>b</Event>";
    assert_int_equal(esc_follow_last_end(ESC_FOLLOW_XML, U(x2), strlen(x2)), strlen(x2));
    assert_int_equal(esc_follow_last_end(ESC_FOLLOW_XML, U("<Event>a</Ev"), 12), 0);
    const char *j = "{\"a\":1}\n{\"b\":";
    assert_int_equal(esc_follow_last_end(ESC_FOLLOW_JSONL, U(j), strlen(j)), 8);
    assert_int_equal(esc_follow_last_end(ESC_FOLLOW_JSONL, U("{\"a\":1}"), 7), 0);
    assert_int_equal(esc_follow_last_end(ESC_FOLLOW_WHOLE, U("a\n"), 2), 0);
}

/* The first record end found through windows of w bytes, as a caller reading a file does. */
static size_t first_end_in_windows(esc_follow k, const char *s, size_t w) {
    size_t n = strlen(s), from = 0;
    while (from < n) {
        size_t len = n - from < w ? n - from : w, end, resume;
        if (esc_follow_first_end(k, U(s + from), len, &end, &resume))
            return from + end;
        if (from + len >= n)
            return 0;
        assert_true(resume > 0);
        from += resume;
    }
    return 0;
}

static void test_first_end(void **state) {
    (void)state;
    const char *x = "xxxxxxxxxxxxxxxxxxxxxx</Event>\n\n<Event>y</Event>";
    /* a tag cut by a window's end is still found (its line end, when the window holds it), in
     * windows longer than the tag */
    for (size_t w = 9; w <= strlen(x); w++)
        assert_in_range(first_end_in_windows(ESC_FOLLOW_XML, x, w), 30, 32);
    assert_int_equal(first_end_in_windows(ESC_FOLLOW_XML, x, strlen(x)), 32);
    assert_int_equal(first_end_in_windows(ESC_FOLLOW_XML, "no end here at all", 5), 0);
    const char *j = "aaaaaaaaaaaaa\nb\n";
    for (size_t w = 1; w <= strlen(j); w++)
        assert_int_equal(first_end_in_windows(ESC_FOLLOW_JSONL, j, w), 14);
}

#define XEV(id)                                                                                    \
    "<Event><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"               \
    "<TimeCreated SystemTime='2024-03-06T00:00:00.000000Z'/><EventRecordID>" id                    \
    "</EventRecordID><Computer>H</Computer></System><EventData><Data Name='Image'>C:\\a.exe"       \
    "</Data></EventData></Event>\n"

/* Offsets and names of the events of a piece read from memory. */
static void read_piece(const char *text, uint64_t base, uint64_t *off, size_t *n) {
    esc_input *in = NULL;
    esc_reader *rd = NULL;
    esc_error err = {0};
    esc_interest all = {.everything = true};
    assert_int_equal(esc_input_open_mem(text, strlen(text), "some/file", base, &in, &err), ESC_OK);
    assert_int_equal(esc_input_offset(in), base);
    assert_int_equal(esc_reader_open(in, &all, NULL, &rd, &err), ESC_OK);
    esc_event ev;
    esc_status st;
    *n = 0;
    while ((st = esc_reader_next(rd, &ev, &err)) == ESC_OK) {
        assert_string_equal(ev.path, "some/file");
        off[(*n)++] = ev.offset;
    }
    assert_int_equal(st, ESC_EOF);
    assert_int_equal(esc_input_offset(in), base + strlen(text));
    esc_reader_free(rd);
    esc_input_free(in);
}

static void test_memory_piece(void **state) {
    (void)state;
    uint64_t off[4];
    size_t n;
    const char *x = XEV("1") XEV("2");
    read_piece(x, 1000, off, &n);
    assert_int_equal(n, 2);
    assert_int_equal(off[0], 1000);
    assert_int_equal(off[1], 1000 + strlen(XEV("1")));
    const char *j = "{\"aid\":\"1\",\"ComputerName\":\"H\",\"event_simpleName\":\"AidMaster\"}\n"
                    "{\"x\":2}\n";
    read_piece(j, 77, off, &n);
    assert_int_equal(n, 2);
    assert_int_equal(off[0], 77);
    assert_int_equal(off[1], 77 + strlen(j) - strlen("{\"x\":2}\n"));
    /* a broken record's message gives its offset in the whole input */
    esc_input *in = NULL;
    esc_reader *rd = NULL;
    esc_error err = {0};
    esc_interest all = {.everything = true};
    const char *bad = "{\"a\":1}\n{\"b\":\n";
    assert_int_equal(esc_input_open_mem(bad, strlen(bad), "f", 500, &in, &err), ESC_OK);
    assert_int_equal(esc_reader_open(in, &all, NULL, &rd, &err), ESC_OK);
    esc_event ev;
    assert_int_equal(esc_reader_next(rd, &ev, &err), ESC_OK);
    assert_int_equal(esc_reader_next(rd, &ev, &err), ESC_EMALFORMED);
    assert_true(err.has_offset);
    assert_true(err.offset >= 508);
    esc_reader_free(rd);
    esc_input_free(in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_last_end),
        cmocka_unit_test(test_first_end),
        cmocka_unit_test(test_memory_piece),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
