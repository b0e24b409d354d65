/* EVTX value rendering and BinXML structure, on a chunk built byte by byte.
 *
 * One record, one inline template: System (literal provider and channel, substituted EventID,
 * SystemTime, EventRecordID and Computer) and EventData with one Data element per value type
 * Windows can store, plus arrays, an empty optional substitution, an unnamed Data, character
 * and entity references. The expected texts were checked by hand against Windows' rendering
 * rules (docs/evtx.md) and are pinned here. The event is then rendered as XML and JSON and the
 * XML is read back by the XML reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "parse/evtx/evtx_chunk.h"
#include "parse/reader.h"
#include "parse/render.h"

#include "evtx_build.h"

typedef struct value {
    unsigned type;
    const unsigned char *bytes;
    unsigned size;
} value;

#define V(t, ...)                                                                                  \
    { t, (const unsigned char[]){__VA_ARGS__}, sizeof((const unsigned char[]){__VA_ARGS__}) }

/* substitution values, by index */
static const value values[] = {
    V(0x06, 0x01, 0x00),                                     /* 0 EventID 1 */
    V(0x11, 0xff, 0x8d, 0x96, 0x0e, 0x58, 0xce, 0xd6, 0x01), /* 1 FILETIME */
    V(0x0a, 0x39, 0x30, 0, 0, 0, 0, 0, 0),                   /* 2 record id 12345 */
    V(0x01, 'W', 0, 'S', 0, '1', 0, 0, 0),                   /* 3 computer "WS1" + NUL */
    V(0x03, 0xfb),                                           /* 4 int8 -5 */
    V(0x04, 0xfa),                                           /* 5 uint8 250 */
    V(0x05, 0xd4, 0xfe),                                     /* 6 int16 -300 */
    V(0x06, 0xe8, 0xfd),                                     /* 7 uint16 65000 */
    V(0x07, 0x90, 0xee, 0xfe, 0xff),                         /* 8 int32 -70000 */
    V(0x08, 0x00, 0x28, 0x6b, 0xee),                         /* 9 uint32 4000000000 */
    V(0x09, 0x00, 0x0e, 0xfa, 0xd5, 0xfe, 0xff, 0xff, 0xff), /* 10 int64 -5000000000 */
    V(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), /* 11 uint64 max */
    V(0x0b, 0x00, 0x00, 0xc0, 0x3f),                         /* 12 real32 1.5 */
    V(0x0c, 0, 0, 0, 0, 0, 0, 0xd0, 0x3f),                   /* 13 real64 0.25 */
    V(0x0d, 0x01, 0, 0, 0),                                  /* 14 bool */
    V(0x0e, 0x01, 0xab, 0xff),                               /* 15 binary */
    V(0x0f, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
      0xee, 0xff),                                           /* 16 GUID */
    V(0x10, 0x34, 0x12, 0, 0, 0, 0, 0, 0),                   /* 17 SizeT */
    V(0x11, 0xff, 0x8d, 0x96, 0x0e, 0x58, 0xce, 0xd6, 0x01), /* 18 FILETIME */
    V(0x12, 0xe3, 0x07, 0x02, 0x00, 0x03, 0x00, 0x0d, 0x00, 0x0f, 0x00, 0x0e, 0x00, 0x34, 0x00,
      0x99, 0x01), /* 19 SYSTEMTIME */
    V(0x13, 0x01, 0x04, 0, 0, 0, 0, 0, 0x05, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0xe8, 0x03, 0,
      0),                                  /* 20 SID */
    V(0x14, 0xd4, 0x01, 0, 0),             /* 21 HexInt32 */
    V(0x15, 0xe7, 0x03, 0, 0, 0, 0, 0, 0), /* 22 HexInt64 */
    V(0x02, 'a', 'b', 'c', 0),             /* 23 ANSI string */
    /* 24 string: a & b < > ' " LF CR TAB e-acute U+1F600 (pair) lone-surrogate NUL(trailing) */
    V(0x01, 'a', 0, '&', 0, 'b', 0, '<', 0, '>', 0, '\'', 0, '"', 0, '\n', 0, '\r', 0, '\t', 0,
      0xe9, 0x00, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8, 'z', 0, 0, 0),
    V(0x81, 'o', 0, 'n', 0, 'e', 0, 0, 0, 't', 0, 'w', 0, 'o', 0, 0, 0), /* 25 string array */
    V(0x86, 1, 0, 2, 0, 3, 0),                                           /* 26 uint16 array */
    {0x00, NULL, 0},                                                     /* 27 empty (optional) */
};
#define NVALUES (sizeof values / sizeof values[0])

static const char *const expected[][2] = {
    {"I8", "-5"},
    {"U8", "250"},
    {"I16", "-300"},
    {"U16", "65000"},
    {"I32", "-70000"},
    {"U32", "4000000000"},
    {"I64", "-5000000000"},
    {"U64", "18446744073709551615"},
    {"R32", "1.5"},
    {"R64", "0.25"},
    {"Bool", "true"},
    {"Bin", "01ABFF"},
    {"Guid", "{33221100-5544-7766-8899-AABBCCDDEEFF}"},
    {"SizeT", "0x1234"},
    {"FileTime", "2020-12-09T18:21:05.1199999Z"},
    {"SystemTime", "2019-02-13T15:14:52.4090000Z"},
    {"Sid", "S-1-5-21-1-2-1000"},
    {"Hex32", "0x1d4"},
    {"Hex64", "0x3e7"},
    {"Ansi", "abc"},
    {"Str", "a&b<>'\"\n\r\t\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdz"},
    {"StrArr", "one"},
    {"StrArr", "two"},
    {"U16Arr", "1"},
    {"U16Arr", "2"},
    {"U16Arr", "3"},
    {"", "lit"},
    {"Refs", "x\xe2\x98\xba&y"},
};
#define NEXPECTED (sizeof expected / sizeof expected[0])

static const char *const dnames[] = {"I8",    "U8",    "I16",      "U16",        "I32",   "U32",
                                     "I64",   "U64",   "R32",      "R64",        "Bool",  "Bin",
                                     "Guid",  "SizeT", "FileTime", "SystemTime", "Sid",   "Hex32",
                                     "Hex64", "Ansi",  "Str",      "StrArr",     "U16Arr"};

/* Build the chunk (a whole chunk). */
static void build_chunk(unsigned char *ch) {
    memset(ch, 0, EVTX_CHUNK_SIZE);
    bld w = {ch, EVTX_CHUNK_HEADER};
    uint32_t rec = rec_begin(&w, 777), def;
    frag(&w);
    tmpl_begin(&w, &def);
    frag(&w);
    open_el(&w, "Event", 0);
    u8(&w, 0x02);
    open_el(&w, "System", 0);
    u8(&w, 0x02);
    provider(&w, "Test-Provider");
    el_subst(&w, "EventID", 0, 0x06);
    open_el(&w, "TimeCreated", 1);
    attr(&w, "SystemTime");
    subst(&w, 1, 0x11);
    u8(&w, 0x03);
    el_subst(&w, "EventRecordID", 2, 0x0a);
    el_text(&w, "Channel", "Test/Channel");
    el_subst(&w, "Computer", 3, 0x01);
    u8(&w, 0x04); /* </System> */
    open_el(&w, "EventData", 0);
    u8(&w, 0x02);
    for (unsigned i = 0; i < sizeof dnames / sizeof dnames[0]; i++)
        data_el(&w, dnames[i], 4 + i, values[4 + i].type);
    /* an empty optional substitution: not rendered */
    open_el(&w, "Binary", 0);
    u8(&w, 0x02);
    opt_subst(&w, (unsigned)NVALUES - 1, 0x0e);
    u8(&w, 0x04);
    /* a Data element without a Name attribute */
    el_text(&w, "Data", "lit");
    /* text, a character reference and an entity reference */
    open_el(&w, "Data", 1);
    attr(&w, "Name");
    text(&w, "Refs");
    u8(&w, 0x02);
    text(&w, "x");
    u8(&w, 0x08);
    u16(&w, 0x263a);
    u8(&w, 0x09);
    name(&w, "amp");
    text(&w, "y");
    u8(&w, 0x04);
    u8(&w, 0x04); /* </EventData> */
    u8(&w, 0x04); /* </Event> */
    u8(&w, 0x00);
    tmpl_end(&w, def);
    u32(&w, (uint32_t)NVALUES);
    for (unsigned i = 0; i < NVALUES; i++)
        val_desc(&w, values[i].size, values[i].type);
    for (unsigned i = 0; i < NVALUES; i++)
        for (unsigned k = 0; k < values[i].size; k++)
            u8(&w, values[i].bytes[k]);
    u8(&w, 0x00); /* end of fragment */
    rec_end(&w, rec);
    chunk_header(ch, 777, 777, rec, w.pos); /* records 777..777 */
}

static esc_interest everything = {.everything = true};

static void event_from_item(const evtx_chunk *c, const evtx_item *it, esc_kv *kv, esc_event *ev) {
    for (uint32_t k = 0; k < it->nkv; k++) {
        kv[k].name = evtx_chunk_str(c, c->kvs[it->kv_first + k].name);
        kv[k].value = evtx_chunk_str(c, c->kvs[it->kv_first + k].value);
    }
    memset(ev, 0, sizeof *ev);
    ev->kind = ESC_EV_WINDOWS;
    ev->provider = evtx_chunk_str(c, it->provider);
    ev->channel = evtx_chunk_str(c, it->channel);
    ev->computer = evtx_chunk_str(c, it->computer);
    ev->event_id = it->event_id;
    ev->has_event_id = it->has_event_id;
    ev->time_us = it->time_us;
    ev->has_time = it->has_time;
    ev->record_id = it->record_id;
    ev->data = kv;
    ev->ndata = it->nkv;
    ev->repaired = it->repaired;
}

/* The XML reader reads a rendering back into the same event. */
static void read_back(const esc_buf *rendered, const esc_event *evp) {
    const esc_buf *o = rendered;
    const esc_event ev = *evp;
    char path[] = "/tmp/escudo-evtx-values-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, o->ptr, o->len), (ssize_t)o->len);
    close(fd);
    esc_input *in = NULL;
    esc_error err;
    assert_int_equal(esc_input_open(path, &in, &err), ESC_OK);
    esc_reader *r = NULL;
    assert_int_equal(esc_reader_open(in, &everything, NULL, &r, &err), ESC_OK);
    esc_event back;
    assert_int_equal(esc_reader_next(r, &back, &err), ESC_OK);
    assert_true(esc_str_eq(back.provider, ev.provider));
    assert_true(esc_str_eq(back.channel, ev.channel));
    assert_true(esc_str_eq(back.computer, ev.computer));
    assert_int_equal(back.event_id, ev.event_id);
    assert_int_equal(back.time_us, ev.time_us);
    assert_int_equal(back.record_id, ev.record_id);
    /* every value comes back, unnamed <Data> (classic events) included */
    assert_int_equal(back.ndata, ev.ndata);
    for (size_t i = 0; i < ev.ndata; i++) {
        assert_true(esc_str_eq(back.data[i].name, ev.data[i].name));
        assert_true(esc_str_eq(back.data[i].value, ev.data[i].value));
    }
    esc_reader_free(r);
    esc_input_free(in);
    unlink(path);
}

static void test_values(void **state) {
    (void)state;
    evtx_chunk c;
    assert_int_equal(evtx_chunk_init(&c, &everything, false, 0), ESC_OK);
    build_chunk(c.data);
    c.len = EVTX_CHUNK_SIZE;
    c.file_off = 4096;
    c.in_use = true;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.nitems, 1);
    const evtx_item *it = &c.items[0];
    if (it->is_error)
        fail_msg("warning: %.*s", (int)it->msg.len, c.text.ptr + it->msg.off);
    assert_int_equal(it->offset, 4096 + 512);
    assert_int_equal(it->record_id, 12345); /* System/EventRecordID wins over the header's 777 */
    assert_true(it->has_event_id);
    assert_int_equal(it->event_id, 1);
    assert_true(it->has_time);
    assert_int_equal(it->time_us, INT64_C(1607538065119999)); /* 2020-12-09T18:21:05.119999Z */
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, it->provider), "Test-Provider"));
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, it->channel), "Test/Channel"));
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, it->computer), "WS1"));
    assert_int_equal(it->repaired, 1);
    assert_int_equal(it->nkv, NEXPECTED);
    for (size_t i = 0; i < NEXPECTED; i++) {
        esc_str n = evtx_chunk_str(&c, c.kvs[it->kv_first + i].name);
        esc_str v = evtx_chunk_str(&c, c.kvs[it->kv_first + i].value);
        if (!esc_str_eq_c(n, expected[i][0]) || !esc_str_eq_c(v, expected[i][1]))
            fail_msg("field %zu: got %.*s=%.*s, want %s=%s", i, ESC_STR_FMT(n), ESC_STR_FMT(v),
                     expected[i][0], expected[i][1]);
    }

    /* renderings, pinned */
    esc_kv kv[NEXPECTED];
    esc_event ev;
    event_from_item(&c, it, kv, &ev);
    esc_buf out;
    esc_buf_init(&out, 0);
    assert_int_equal(esc_render_json(&ev, &out), ESC_OK);
    assert_non_null(strstr(out.ptr,
                           "{\"escudo_dump\":1,\"kind\":\"windows\",\"provider\":\"Test-"
                           "Provider\",\"channel\":\"Test/Channel\",\"computer\":\"WS1\","
                           "\"event_id\":1,\"record_id\":12345,\"time\":\"2020-12-09T18:21:"
                           "05.119999Z\",\"data\":[[\"I8\",\"-5\"],"));
    assert_non_null(strstr(out.ptr, "[\"Str\",\"a&b<>'\\\"\\n\\r\\t\xc3\xa9\xf0\x9f\x98\x80\xef\xbf"
                                    "\xbdz\"],[\"StrArr\",\"one\"],[\"StrArr\",\"two\"],"));
    assert_non_null(strstr(out.ptr, "[\"\",\"lit\"],[\"Refs\",\"x\xe2\x98\xba&y\"]]}"));
    esc_buf_clear(&out);
    assert_int_equal(esc_render_xml(&ev, &out), ESC_OK);
    assert_null(strchr(out.ptr, '\n'));
    assert_non_null(strstr(out.ptr, "<Data Name='Str'>a&amp;b&lt;&gt;&apos;&quot;&#10;&#13;&#9;"));
    assert_non_null(strstr(out.ptr, "<Data>lit</Data>"));

    /* the XML reader reads the rendering back into the same event */
    read_back(&out, &ev);

    /* the record's own rendering (dump --format xml): the same values, element by element */
    c.want_xml = true;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    it = &c.items[0];
    event_from_item(&c, it, kv, &ev);
    ev.xml = evtx_item_xml(&c, it);
    esc_buf_clear(&out);
    assert_int_equal(esc_render_xml(&ev, &out), ESC_OK);
    assert_null(strchr(out.ptr, '\n'));
    assert_non_null(strstr(out.ptr, "<Event><System><Provider Name='Test-Provider'/><EventID>1"
                                    "</EventID><TimeCreated SystemTime='2020-12-09T18:21:05."
                                    "1199999Z'/><EventRecordID>12345</EventRecordID>"));
    assert_non_null(strstr(out.ptr, "<Data Name='Str'>a&amp;b&lt;&gt;&apos;&quot;&#10;&#13;&#9;"));
    assert_non_null(
        strstr(out.ptr, "<Data Name='StrArr'>one</Data><Data Name='StrArr'>two</Data>"));
    assert_non_null(strstr(out.ptr, "<Data>lit</Data>"));
    assert_null(strstr(out.ptr, "<Binary")); /* empty optional substitution: not rendered */
    read_back(&out, &ev);
    esc_buf_fini(&out);
    evtx_chunk_fini(&c);
}

/* The interest set: a record of another provider is counted and skipped; with a field list,
 * only those fields are decoded. */
static void test_interest(void **state) {
    (void)state;
    static const char *const fields[] = {"Hex32", "Str", NULL};
    esc_interest other = {.nwin = 1};
    other.win[0].provider = "Microsoft-Windows-Sysmon";
    other.win[0].event_id = 1;
    evtx_chunk c;
    assert_int_equal(evtx_chunk_init(&c, &other, false, 0), ESC_OK);
    build_chunk(c.data);
    c.len = EVTX_CHUNK_SIZE;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.prefiltered, 1);
    assert_int_equal(c.nitems, 0);
    evtx_chunk_fini(&c);

    esc_interest mine = {.nwin = 1, .fields = fields};
    mine.win[0].provider = "test-provider"; /* compared case-insensitively */
    mine.win[0].event_id = 1;
    assert_int_equal(evtx_chunk_init(&c, &mine, false, 0), ESC_OK);
    build_chunk(c.data);
    c.len = EVTX_CHUNK_SIZE;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.nitems, 1);
    assert_int_equal(c.prefiltered, 0);
    assert_int_equal(c.items[0].nkv, 2);
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, c.kvs[0].name), "Hex32"));
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, c.kvs[0].value), "0x1d4"));
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, c.kvs[1].name), "Str"));
    evtx_chunk_fini(&c);
}

/* A deleted record left after the free-space offset: the same event, using the template by
 * offset (its definition is not repeated). Returns the slack record's chunk offset. */
static uint32_t place_slack_copy(unsigned char *ch) {
    uint32_t fso, size, dsize;
    memcpy(&fso, ch + 48, 4);
    memcpy(&size, ch + 512 + 4, 4);
    const unsigned char *src = ch + 512;
    uint32_t def = 512 + 24 + 14; /* fragment header (4) + template instance token (10) */
    memcpy(&dsize, ch + def + 20, 4);
    uint32_t head = 24 + 14, skip = 24 + dsize;
    uint32_t rest = size - head - skip - 4; /* values and end of fragment, without the size */
    uint32_t at = fso + 64, nsize = head + rest + 4;
    unsigned char *dst = ch + at;
    memcpy(dst, src, head);
    memcpy(dst + head, src + head + skip, rest);
    memcpy(dst + 4, &nsize, 4);
    memcpy(dst + nsize - 4, &nsize, 4);
    return at;
}

/* Slack space: a deleted record after the free-space offset is found only with recover. */
static void test_recover(void **state) {
    (void)state;
    evtx_chunk c;
    assert_int_equal(evtx_chunk_init(&c, &everything, true, 0), ESC_OK);
    build_chunk(c.data);
    uint32_t slack = place_slack_copy(c.data);
    c.len = EVTX_CHUNK_SIZE;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.nitems, 2);
    assert_false(c.items[0].recovered);
    assert_true(c.items[1].recovered);
    assert_int_equal(c.items[1].offset, slack);
    evtx_chunk_fini(&c);

    assert_int_equal(evtx_chunk_init(&c, &everything, false, 0), ESC_OK);
    build_chunk(c.data);
    place_slack_copy(c.data);
    c.len = EVTX_CHUNK_SIZE;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.nitems, 1);
    evtx_chunk_fini(&c);
}

/* An expansion bomb: a template with 2000 elements that each render the same 30000-byte binary
 * value (120 MB of text) must stop at the per-record cap with a warning, not allocate it. */
static void test_expansion_cap(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    unsigned char *ch = c.data;
    memcpy(ch, "ElfChnk", 8);
    uint32_t rec = rec_begin(&w, 1), def;
    frag(&w);
    tmpl_begin(&w, &def);
    open_el(&w, "Event", 0);
    u8(&w, 0x02);
    open_el(&w, "EventData", 0);
    u8(&w, 0x02);
    uint32_t data_name = w.pos + 11;
    for (int i = 0; i < 2000; i++) {
        if (i == 0)
            open_el(&w, "Data", 0);
        else /* the same name, by offset */
            el_ref(&w, data_name, 0);
        u8(&w, 0x02);
        subst(&w, 0, 0x0e);
        u8(&w, 0x04);
    }
    u8(&w, 0x04);
    u8(&w, 0x04);
    u8(&w, 0x00);
    tmpl_end(&w, def);
    u32(&w, 1);
    val_desc(&w, 30000, 0x0e);
    for (int i = 0; i < 30000; i++)
        u8(&w, 0x5a);
    u8(&w, 0x00);
    rec_end(&w, rec);
    memcpy(ch + 48, &w.pos, 4);
    c.len = EVTX_CHUNK_SIZE;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.records, 1);
    int warnings = 0;
    for (size_t i = 0; i < c.nitems; i++) {
        assert_true(c.items[i].is_error);
        if (memmem(c.text.ptr + c.items[i].msg.off, c.items[i].msg.len,
                   "record expands to more than", 27))
            warnings++;
    }
    assert_int_equal(warnings, 1);
    assert_true(c.text.cap <= (32u << 20)); /* the buffer never grew past the cap */
    evtx_chunk_fini(&c);
}

/* UserData held in a BinXML substitution value (type 0x21), as CAPI2 writes it: elements
 * without dependency identifiers, a processing instruction, an entity reference, names both
 * inline and referenced by offset. The Rust evtx crate's CAPI2 sample (record 28) has this
 * shape; before, every such record failed with "name offset 0x0 out of range". */
static void test_binxml_userdata(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    unsigned char *ch = c.data;
    uint32_t rec = rec_begin(&w, 28), def;
    frag(&w);
    tmpl_begin(&w, &def);
    frag(&w);
    open_el(&w, "Event", 0);
    u8(&w, 0x02);
    open_el(&w, "System", 0);
    u8(&w, 0x02);
    provider(&w, "Microsoft-Windows-CAPI2");
    el_text(&w, "EventID", "53");
    u8(&w, 0x04); /* </System> */
    open_el(&w, "UserData", 0);
    u8(&w, 0x02);
    opt_subst(&w, 0, 0x21);
    u8(&w, 0x04);
    u8(&w, 0x04); /* </Event> */
    u8(&w, 0x00);
    tmpl_end(&w, def);
    u32(&w, 1);
    uint32_t desc = w.pos;
    val_desc(&w, 0, 0x21);
    uint32_t v0 = w.pos;
    u8(&w, 0x0a); /* <?xml-stylesheet?> processing instruction target and data */
    name(&w, "xml-stylesheet");
    u8(&w, 0x0b);
    u16(&w, 4);
    utf16(&w, "a=b;");
    open_el_direct(&w, "CryptRetrieveObjectByUrlWire", 0);
    u8(&w, 0x02);
    open_el_direct(&w, "Timeout", 0);
    u8(&w, 0x02);
    text(&w, "PT9.984S");
    u8(&w, 0x04);
    open_el_direct(&w, "EventAuxInfo", 1);
    attr(&w, "ProcessName");
    text(&w, "Setup.exe");
    u8(&w, 0x03);
    uint32_t hdr_name = w.pos + 1 + 4 + 4; /* the first Header's inline name */
    open_el_direct(&w, "Header", 0);
    u8(&w, 0x02);
    text(&w, "If-None-Match: ");
    u8(&w, 0x09);
    name(&w, "quot");
    text(&w, "x");
    u8(&w, 0x49);
    name(&w, "quot");
    u8(&w, 0x04);
    u8(&w, 0x01); /* the second Header names the first one's name structure */
    u32(&w, 0);
    u32(&w, hdr_name);
    u8(&w, 0x02);
    text(&w, "Accept: */*");
    u8(&w, 0x04);
    u8(&w, 0x04); /* </CryptRetrieveObjectByUrlWire> */
    u8(&w, 0x00);
    uint16_t vsize = (uint16_t)(w.pos - v0);
    memcpy(ch + desc, &vsize, 2);
    u8(&w, 0x00);
    rec_end(&w, rec);
    chunk_header(ch, 28, 28, rec, w.pos);
    c.len = EVTX_CHUNK_SIZE;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.nitems, 1);
    assert_false(c.items[0].is_error);
    static const char *want[][2] = {{"Timeout", "PT9.984S"},
                                    {"EventAuxInfo", ""},
                                    {"Header", "If-None-Match: \"x\""},
                                    {"Header", "Accept: */*"}};
    assert_int_equal(c.items[0].nkv, 4);
    for (unsigned i = 0; i < 4; i++) {
        const evtx_kvspan *kv = &c.kvs[c.items[0].kv_first + i];
        assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv->name), want[i][0]));
        assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv->value), want[i][1]));
    }
    assert_int_equal(evtx_item_xml(&c, &c.items[0]).len, 0); /* rendered only when asked */
    /* the XML rendering: UserData as written, attributes included, the PI left out */
    c.want_xml = true;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.nitems, 1);
    const char *xml =
        "<Event><System><Provider Name='Microsoft-Windows-CAPI2'/><EventID>53</EventID>"
        "</System><UserData><CryptRetrieveObjectByUrlWire><Timeout>PT9.984S</Timeout>"
        "<EventAuxInfo ProcessName='Setup.exe'/><Header>If-None-Match: "
        "&quot;x&quot;</Header><Header>Accept: */*</Header>"
        "</CryptRetrieveObjectByUrlWire></UserData></Event>";
    esc_str got = evtx_item_xml(&c, &c.items[0]);
    if (!esc_str_eq_c(got, xml))
        fprintf(stderr, "got %.*s\n", (int)got.len, got.ptr);
    assert_true(esc_str_eq_c(got, xml));
    evtx_chunk_fini(&c);
}

/* One record with an Event/EventData holding Data A and a <Binary> whose content is `bin`,
 * a ProcessingErrorData section, and a section of no schema name (as a recovered record's
 * damaged template has) holding leaf X. */
static uint32_t non_field_rec(bld *w, uint64_t rid, bool bad_binary) {
    uint32_t rec = rec_begin(w, rid), def;
    frag(w);
    tmpl_begin(w, &def);
    frag(w);
    open_el(w, "Event", 0);
    u8(w, 0x02);
    open_el(w, "System", 0);
    u8(w, 0x02);
    provider(w, "Service Control Manager");
    el_text(w, "EventID", "7036");
    u8(w, 0x04); /* </System> */
    open_el(w, "EventData", 0);
    u8(w, 0x02);
    open_el(w, "Data", 1);
    attr(w, "Name");
    text(w, "A");
    u8(w, 0x02);
    text(w, "a");
    u8(w, 0x04);
    open_el(w, "Binary", 0);
    u8(w, 0x02);
    if (bad_binary)
        subst(w, 0, 0x21); /* an embedded BinXML value, which does not decode */
    else
        text(w, "00FF");
    u8(w, 0x04);
    u8(w, 0x04); /* </EventData> */
    open_el(w, "ProcessingErrorData", 0);
    u8(w, 0x02);
    el_text(w, "ErrorCode", "15005");
    u8(w, 0x04);
    open_el(w, "Damaged", 0);
    u8(w, 0x02);
    el_text(w, "X", "x");
    u8(w, 0x04);
    u8(w, 0x04); /* </Event> */
    u8(w, 0x00);
    tmpl_end(w, def);
    u32(w, bad_binary ? 1 : 0);
    if (bad_binary) {
        val_desc(w, 2, 0x21);
        u8(w, 0x55); /* no such token */
        u8(w, 0x55);
    }
    u8(w, 0x00);
    rec_end(w, rec);
    return rec;
}

/* Data fields are EventData's Data by Name and the leaves of UserData (src/parse/event.h), as
 * the XML reader yields them: <Binary> and ProcessingErrorData make none (Splunk's field list
 * of a System 7036 event with a <Binary>, escu-full's data_sources/
 * windows_event_log_system_7036.yml, has no Binary). A section of no schema name keeps its
 * leaves. The rendering shows everything, and a <Binary> that does not decode still makes the
 * record a warning: what makes no field is decoded all the same. */
static void test_non_fields(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    unsigned char *ch = c.data;
    non_field_rec(&w, 1, false);
    uint32_t last = non_field_rec(&w, 2, true);
    chunk_header(ch, 1, 2, last, w.pos);
    c.len = EVTX_CHUNK_SIZE;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.nitems, 2);
    const evtx_item *it = &c.items[0];
    assert_false(it->is_error);
    assert_true(c.items[1].is_error);
    static const char *want[][2] = {{"A", "a"}, {"X", "x"}};
    assert_int_equal(it->nkv, 2);
    for (unsigned i = 0; i < 2; i++) {
        const evtx_kvspan *kv = &c.kvs[it->kv_first + i];
        assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv->name), want[i][0]));
        assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv->value), want[i][1]));
    }
    const char *xml = "<Event><System><Provider Name='Service Control Manager'/>"
                      "<EventID>7036</EventID></System><EventData><Data Name='A'>a</Data>"
                      "<Binary>00FF</Binary></EventData><ProcessingErrorData><ErrorCode>15005"
                      "</ErrorCode></ProcessingErrorData><Damaged><X>x</X></Damaged></Event>";
    c.want_xml = true;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_true(esc_str_eq_c(evtx_item_xml(&c, &c.items[0]), xml));
    evtx_chunk_fini(&c);
}

/* A small event record: Provider, EventID and SystemTime by substitution, Computer literal.
 * The first call defines the template inline (*def is 0), later ones reference it. */
static uint32_t small_rec(bld *w, uint64_t rid, uint32_t *def) {
    uint32_t rec = rec_begin(w, rid);
    frag(w);
    if (*def) {
        tmpl_ref(w, *def);
    } else {
        tmpl_begin(w, def);
        frag(w);
        open_el(w, "Event", 0);
        u8(w, 0x02);
        open_el(w, "System", 0);
        u8(w, 0x02);
        provider(w, "P");
        el_subst(w, "EventID", 0, 0x06);
        open_el(w, "TimeCreated", 1);
        attr(w, "SystemTime");
        subst(w, 1, 0x11);
        u8(w, 0x03);
        el_text(w, "Computer", "C");
        u8(w, 0x04);
        u8(w, 0x04);
        u8(w, 0x00);
        tmpl_end(w, *def);
    }
    u32(w, 2);
    val_desc(w, 2, 0x06);
    val_desc(w, 8, 0x11);
    u16(w, (unsigned)rid);
    u64(w, UINT64_C(132000000000000000) + rid);
    u8(w, 0x00);
    rec_end(w, rec);
    return rec;
}

/* A damaged chunk (records checksum wrong) holding records 10..14 by its header: record 12's
 * trailing size copy is zero (its tail never written), garbage follows it, then a record 999
 * (another chunk's data: outside 10..14, not following 12), then 13 and 14. The record chain
 * runs 10, 11, 12 (12 decoded: its id is the next expected and nothing starts inside it) and
 * ends at the garbage, where libevtx and the evtx crate stop too: 999, 13 and 14 lie past it,
 * are read only with recover, as recovered, and without it are one warning. */
static void test_stale_and_unsized(void **state) {
    (void)state;
    for (int recover = 0; recover <= 1; recover++) {
        evtx_chunk c;
        bld w;
        assert_int_equal(chunk_start(&c, &w, recover), ESC_OK);
        unsigned char *ch = c.data;
        uint32_t def = 0;
        small_rec(&w, 10, &def);
        small_rec(&w, 11, &def);
        uint32_t r12 = small_rec(&w, 12, &def);
        memset(ch + w.pos - 4, 0, 4); /* 12's size copy */
        uint32_t garbage = w.pos;
        for (int i = 0; i < 16; i++)
            u8(&w, 0x55);
        small_rec(&w, 999, &def);
        small_rec(&w, 13, &def);
        uint32_t last = small_rec(&w, 14, &def);
        chunk_header(ch, 10, 14, last, w.pos);
        ch[52] ^= 1; /* records checksum; the header's own checksum stays right */
        header_checksum(ch);
        c.len = EVTX_CHUNK_SIZE;
        assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
        uint64_t want[] = {10, 11, 12, 999, 13, 14};
        size_t k = 0, warnings = 0;
        bool past_note = false;
        for (size_t i = 0; i < c.nitems; i++) {
            const evtx_item *it = &c.items[i];
            if (it->is_error) {
                warnings++;
                char note[200];
                snprintf(note, sizeof note,
                         "chunk 0: 3 records (ids 13..999) past the end of its record chain at "
                         "chunk offset 0x%x are read only with --recover (the header's records "
                         "are 10..14)",
                         garbage);
                if (esc_str_eq_c(evtx_chunk_str(&c, it->msg), note))
                    past_note = it->offset == garbage;
                continue;
            }
            assert_true(k < (recover ? 6u : 3u));
            assert_int_equal(it->record_id, want[k]);
            assert_int_equal(it->recovered, k >= 3);
            if (want[k] == 12)
                assert_int_equal(it->offset, r12);
            k++;
        }
        assert_int_equal(k, recover ? 6 : 3);
        /* checksum, 12's size copy, the garbage, and (without recover) the records past it */
        assert_int_equal(warnings, recover ? 3 : 4);
        assert_int_equal(past_note, !recover);
        evtx_chunk_fini(&c);
    }
}

/* A damaged chunk whose header says its records are 10..11 but whose chain goes on to a
 * record 12 before the free-space offset: the chain ends after the record with the header's
 * last record id (where the evtx crate stops), so 12 is read only with recover. */
static void test_past_last_id(void **state) {
    (void)state;
    for (int recover = 0; recover <= 1; recover++) {
        evtx_chunk c;
        bld w;
        assert_int_equal(chunk_start(&c, &w, recover), ESC_OK);
        unsigned char *ch = c.data;
        uint32_t def = 0;
        small_rec(&w, 10, &def);
        uint32_t r11 = small_rec(&w, 11, &def);
        uint32_t r12 = small_rec(&w, 12, &def);
        chunk_header(ch, 10, 11, r11, w.pos);
        ch[52] ^= 1; /* records checksum */
        header_checksum(ch);
        c.len = EVTX_CHUNK_SIZE;
        assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
        size_t k = 0, warnings = 0;
        for (size_t i = 0; i < c.nitems; i++) {
            const evtx_item *it = &c.items[i];
            if (it->is_error) {
                warnings++;
                continue;
            }
            assert_int_equal(it->record_id, 10 + k);
            assert_int_equal(it->recovered, k == 2);
            if (k == 2)
                assert_int_equal(it->offset, r12);
            k++;
        }
        assert_int_equal(k, recover ? 3 : 2);
        assert_int_equal(warnings, recover ? 1 : 2); /* checksum, and record 12 past the chain */
        evtx_chunk_fini(&c);
    }
}

/* --recover: slack-space candidates that fail give their template and name memory back. Four
 * candidates each make 300 entity references to a name of 4,093 characters (1.2 MiB of the
 * chunk's 4 MiB TARENA_CAP each) and then break (an unknown token); a good record after them
 * still decodes and is recovered, as it would be with no broken candidate before it. */
static void test_recover_rollback(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, true), ESC_OK);
    unsigned char *ch = c.data;
    uint32_t def = 0;
    uint32_t last = small_rec(&w, 1, &def);
    uint32_t fso = w.pos;
    for (int r = 0; r < 4; r++) {
        uint32_t rec = rec_begin(&w, 100 + (uint64_t)r);
        frag(&w);
        uint32_t nm = long_name_el(&w, 4093);
        u8(&w, 0x02);
        for (int k = 0; k < 300; k++) {
            u8(&w, 0x09);
            u32(&w, nm);
        }
        u8(&w, 0xee); /* unknown token */
        rec_end(&w, rec);
    }
    uint32_t good_def = 0, good = small_rec(&w, 200, &good_def);
    assert_true(w.pos <= EVTX_CHUNK_SIZE);
    chunk_header(ch, 1, 1, last, fso);
    c.len = EVTX_CHUNK_SIZE;
    assert_int_equal(evtx_chunk_decode(&c), ESC_OK);
    assert_int_equal(c.nitems, 2);
    assert_false(c.items[0].is_error);
    assert_int_equal(c.items[0].record_id, 1);
    assert_false(c.items[1].is_error);
    assert_true(c.items[1].recovered);
    assert_int_equal(c.items[1].record_id, 200);
    assert_int_equal(c.items[1].offset, good);
    assert_true(c.tarena.used < (1u << 20));
    evtx_chunk_fini(&c);
}

int main(void) {
    esc_alloc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),          cmocka_unit_test(test_interest),
        cmocka_unit_test(test_recover),         cmocka_unit_test(test_expansion_cap),
        cmocka_unit_test(test_binxml_userdata), cmocka_unit_test(test_stale_and_unsized),
        cmocka_unit_test(test_past_last_id),    cmocka_unit_test(test_recover_rollback),
        cmocka_unit_test(test_non_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
