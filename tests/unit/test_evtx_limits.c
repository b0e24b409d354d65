/* The EVTX chunk decoder's per-chunk and per-record caps (docs/limits.md), each hit by a chunk
 * built byte by byte.
 *
 * Every test puts a normal event first and another after the record that hits the cap: a cap is
 * a warning about the one record that hit it, and the records around it still come out. Where it
 * is cheap the largest accepted input is decoded too (64 levels, 8,192 fields, 1,024 templates,
 * 262,144 fields in a chunk). MAX_SUBST cannot be reached by any chunk (see evtx_chunk.c): the
 * test shows the most substitutions a chunk can hold decode, and that larger counts get the
 * bounds-check warning. The arena caps are reached by amplification, as an attacker would: one
 * BinXML value (type 0x21) referenced many times is parsed again at each reference; the chunk's
 * 16 MiB of text by two records that each render one binary value 280 times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "parse/evtx/evtx_chunk.h"

#include "evtx_build.h"

/* A normal event: Provider Test-Provider, EventID 4688, one field Keep=ok. With def 0 its
 * template is defined inline and the definition's offset is returned; otherwise def is used. */
static uint32_t normal_record(bld *w, uint64_t rid, uint32_t def) {
    uint32_t rec = rec_begin(w, rid);
    frag(w);
    if (def) {
        tmpl_ref(w, def);
    } else {
        tmpl_begin(w, &def);
        frag(w);
        open_el(w, "Event", 0);
        u8(w, 0x02);
        open_el(w, "System", 0);
        u8(w, 0x02);
        provider(w, "Test-Provider");
        el_subst(w, "EventID", 0, 0x06);
        u8(w, 0x04); /* </System> */
        open_el(w, "EventData", 0);
        u8(w, 0x02);
        data_el(w, "Keep", 1, 0x01);
        u8(w, 0x04); /* </EventData> */
        u8(w, 0x04); /* </Event> */
        u8(w, 0x00);
        tmpl_end(w, def);
    }
    u32(w, 2);
    val_desc(w, 2, 0x06);
    val_desc(w, 4, 0x01);
    u16(w, 4688);
    utf16(w, "ok");
    u8(w, 0x00);
    rec_end(w, rec);
    return def;
}

/* Finish the header (records 1..last) and decode the whole chunk. */
static void decode(evtx_chunk *c, const bld *w, uint64_t last, uint32_t last_rec) {
    assert_true(w->pos <= EVTX_CHUNK_SIZE);
    chunk_header(c->data, 1, last, last_rec, w->pos);
    c->len = EVTX_CHUNK_SIZE;
    c->in_use = true;
    assert_int_equal(evtx_chunk_decode(c), ESC_OK);
    assert_int_equal(c->records, last);
}

static esc_str msg(const evtx_chunk *c, size_t i) {
    return esc_str_make(c->text.ptr + c->items[i].msg.off, c->items[i].msg.len);
}

/* Item i is an event from record rid, not a warning. */
static const evtx_item *expect_event(const evtx_chunk *c, size_t i, uint64_t rid) {
    assert_true(i < c->nitems);
    const evtx_item *it = &c->items[i];
    if (it->is_error)
        fail_msg("item %zu: warning %.*s", i, ESC_STR_FMT(msg(c, i)));
    assert_int_equal(it->record_id, rid);
    return it;
}

/* Item i is the normal event (normal_record) of record rid, its one field intact. */
static void expect_normal(const evtx_chunk *c, size_t i, uint64_t rid) {
    const evtx_item *it = expect_event(c, i, rid);
    assert_true(esc_str_eq_c(evtx_chunk_str(c, it->provider), "Test-Provider"));
    assert_true(it->has_event_id);
    assert_int_equal(it->event_id, 4688);
    assert_int_equal(it->nkv, 1);
    assert_true(esc_str_eq_c(evtx_chunk_str(c, c->kvs[it->kv_first].name), "Keep"));
    assert_true(esc_str_eq_c(evtx_chunk_str(c, c->kvs[it->kv_first].value), "ok"));
}

/* Item i is the warning about record rid at chunk offset rec, for reason; with at != 0 the
 * whole text is compared, otherwise everything up to the offset of the problem. */
static void expect_warning(const evtx_chunk *c, size_t i, uint64_t rid, uint32_t rec,
                           const char *reason, uint32_t at) {
    assert_true(i < c->nitems);
    assert_true(c->items[i].is_error);
    assert_int_equal(c->items[i].offset, rec);
    char want[256];
    int n = at ? snprintf(want, sizeof want, "event record %llu at chunk offset 0x%x: %s (at 0x%x)",
                          (unsigned long long)rid, rec, reason, at)
               : snprintf(want, sizeof want, "event record %llu at chunk offset 0x%x: %s (at 0x",
                          (unsigned long long)rid, rec, reason);
    assert_true(n > 0 && (size_t)n < sizeof want);
    esc_str m = msg(c, i);
    bool ok = at ? esc_str_eq_c(m, want) : m.len > (size_t)n && !memcmp(m.ptr, want, (size_t)n);
    if (!ok)
        fail_msg("item %zu: got \"%.*s\", want \"%s%s\"", i, ESC_STR_FMT(m), want, at ? "" : "...");
}

/* ---- MAX_ELEM_DEPTH ------------------------------------------------------------------- */

/* A record whose inline template nests `levels` elements (Event counts): UserData, then Deep
 * elements, the innermost holding text (a UserData leaf: a field). *deepest is the offset of
 * the innermost element's token. */
static uint32_t deep_record(bld *w, uint64_t rid, int levels, uint32_t *deepest) {
    uint32_t rec = rec_begin(w, rid), def;
    frag(w);
    tmpl_begin(w, &def);
    open_el(w, "Event", 0);
    u8(w, 0x02);
    uint32_t deep_name = 0;
    for (int i = 1; i < levels; i++) {
        *deepest = w->pos;
        if (i == 1) {
            open_el(w, "UserData", 0);
        } else if (!deep_name) {
            deep_name = w->pos + 11;
            open_el(w, "Deep", 0);
        } else {
            el_ref(w, deep_name, 0);
        }
        u8(w, 0x02);
    }
    text(w, "bottom");
    for (int i = 0; i < levels; i++)
        u8(w, 0x04);
    u8(w, 0x00);
    tmpl_end(w, def);
    u32(w, 0);
    u8(w, 0x00);
    rec_end(w, rec);
    return rec;
}

/* 64 levels decode; 65 are the warning "elements nested too deeply" at the 65th element. */
static void test_elem_depth(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t t1 = normal_record(&w, 1, 0);
    uint32_t at64, at65;
    deep_record(&w, 2, 64, &at64);
    uint32_t r3 = deep_record(&w, 3, 65, &at65);
    uint32_t r4 = w.pos;
    normal_record(&w, 4, t1);
    decode(&c, &w, 4, r4);
    assert_int_equal(c.nitems, 4);
    expect_normal(&c, 0, 1);
    const evtx_item *it = expect_event(&c, 1, 2);
    assert_int_equal(it->nkv, 1); /* the innermost element is the one leaf field */
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, c.kvs[it->kv_first].name), "Deep"));
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, c.kvs[it->kv_first].value), "bottom"));
    expect_warning(&c, 2, 3, r3, "elements nested too deeply", at65);
    expect_normal(&c, 3, 4);
    evtx_chunk_fini(&c);
}

/* ---- MAX_SUBST ------------------------------------------------------------------------ */

/* A record using template def whose substitution array claims n values and holds none. */
static uint32_t claim_record(bld *w, uint64_t rid, uint32_t def, uint32_t n) {
    uint32_t rec = rec_begin(w, rid);
    frag(w);
    tmpl_ref(w, def);
    u32(w, n);
    u8(w, 0x00);
    rec_end(w, rec);
    return rec;
}

/* MAX_SUBST (65,535) cannot be reached: n descriptors take 4n bytes of a 64 KiB chunk. The most
 * substitutions that fit decode, the last one rendered; a count of 65,535 or 65,536 with no room
 * for its descriptors is the warning "substitution count N out of range". */
static void test_subst_count(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t t1 = normal_record(&w, 1, 0);
    uint32_t r2 = claim_record(&w, 2, t1, 65535);
    uint32_t r3 = claim_record(&w, 3, t1, 65536);
    /* record 4: Event/EventData/Data Name=Last, substitution n - 1, with n as large as fits */
    uint32_t r4 = rec_begin(&w, 4), def;
    frag(&w);
    tmpl_begin(&w, &def);
    open_el(&w, "Event", 0);
    u8(&w, 0x02);
    open_el(&w, "EventData", 0);
    u8(&w, 0x02);
    data_el(&w, "Last", 0, 0x08);
    uint32_t idx_at = w.pos - 4; /* the substitution's index, patched below */
    assert_int_equal(w.b[idx_at - 1], 0x0d);
    u8(&w, 0x04);
    u8(&w, 0x04);
    u8(&w, 0x00);
    tmpl_end(&w, def);
    /* leave 128 bytes for the last record; 4 for the value, 1 + 11 for the record's tail */
    uint32_t n = (EVTX_CHUNK_SIZE - 128 - w.pos - 4 - 4 - 12) / 4;
    assert_true(n > 16000 && n < 65535);
    w.b[idx_at] = (unsigned char)((n - 1) & 0xff);
    w.b[idx_at + 1] = (unsigned char)((n - 1) >> 8);
    u32(&w, n);
    for (uint32_t i = 0; i + 1 < n; i++)
        val_desc(&w, 0, 0x00);
    val_desc(&w, 4, 0x08);
    u32(&w, 3735928559u);
    u8(&w, 0x00);
    rec_end(&w, r4);
    uint32_t r5 = w.pos;
    normal_record(&w, 5, t1);
    decode(&c, &w, 5, r5);
    assert_int_equal(c.nitems, 5);
    expect_normal(&c, 0, 1);
    expect_warning(&c, 1, 2, r2, "substitution count 65535 out of range",
                   r2 + 24 + 4 + 10); /* at the count */
    expect_warning(&c, 2, 3, r3, "substitution count 65536 out of range", r3 + 24 + 4 + 10);
    const evtx_item *it = expect_event(&c, 3, 4);
    assert_int_equal(it->nkv, 1);
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, c.kvs[it->kv_first].name), "Last"));
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, c.kvs[it->kv_first].value), "3735928559"));
    expect_normal(&c, 4, 5);
    evtx_chunk_fini(&c);
}

/* ---- TCACHE_CAP ----------------------------------------------------------------------- */

/* 1,024 templates in one chunk compile (the normal one and 1,023 more in one record); the
 * 1,025th is the warning "too many templates in one chunk"; the cached ones still work. */
static void test_template_count(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t t1 = normal_record(&w, 1, 0);
    /* record 2: 1,023 template instances in a row, each with its own inline definition <E/>;
     * the first one is the event */
    uint32_t r2 = rec_begin(&w, 2), def, ename = 0;
    frag(&w);
    for (int i = 0; i < 1023; i++) {
        tmpl_begin(&w, &def);
        if (!ename) {
            ename = w.pos + 11;
            open_el(&w, "E", 0);
        } else {
            el_ref(&w, ename, 0);
        }
        u8(&w, 0x03);
        u8(&w, 0x00);
        tmpl_end(&w, def);
        u32(&w, 0);
    }
    u8(&w, 0x00);
    rec_end(&w, r2);
    /* record 3: one more */
    uint32_t r3 = rec_begin(&w, 3), def3;
    frag(&w);
    tmpl_begin(&w, &def3);
    el_ref(&w, ename, 0);
    u8(&w, 0x03);
    u8(&w, 0x00);
    tmpl_end(&w, def3);
    u32(&w, 0);
    u8(&w, 0x00);
    rec_end(&w, r3);
    /* records 4 and 5: cached templates (the normal one, the last of record 2) */
    normal_record(&w, 4, t1);
    uint32_t r5 = rec_begin(&w, 5);
    frag(&w);
    tmpl_ref(&w, def);
    u32(&w, 0);
    u8(&w, 0x00);
    rec_end(&w, r5);
    decode(&c, &w, 5, r5);
    assert_int_equal(c.nitems, 5);
    expect_normal(&c, 0, 1);
    expect_event(&c, 1, 2);
    expect_warning(&c, 2, 3, r3, "too many templates in one chunk", def3);
    expect_normal(&c, 3, 4);
    expect_event(&c, 4, 5);
    evtx_chunk_fini(&c);
}

/* ---- TARENA_CAP, RARENA_CAP ----------------------------------------------------------- */

/* A template Event/System holding `refs` substitutions of value 0, a BinXML value (0x21). Each
 * reference parses the value again: its elements' nodes go to the record arena and their names
 * to the chunk's template arena. System ignores elements it does not know, so no text is made. */
static uint32_t amp_template(bld *w, unsigned refs) {
    uint32_t def;
    tmpl_begin(w, &def);
    open_el(w, "Event", 0);
    u8(w, 0x02);
    open_el(w, "System", 0);
    u8(w, 0x02);
    for (unsigned i = 0; i < refs; i++)
        subst(w, 0, 0x21);
    u8(w, 0x04);
    u8(w, 0x04);
    u8(w, 0x00);
    tmpl_end(w, def);
    return def;
}

/* A record instantiating amp_template (inline when *def is 0, then *def is set) with a BinXML
 * value of `elems` elements named name_len times 'N' (the first one holds the name and `ents`
 * entity references to that name, &NNN...;, the others are empty). */
static uint32_t amp_record(bld *w, uint64_t rid, uint32_t *def, unsigned refs, unsigned elems,
                           unsigned name_len, unsigned ents) {
    uint32_t rec = rec_begin(w, rid);
    frag(w);
    if (*def)
        tmpl_ref(w, *def);
    else
        *def = amp_template(w, refs);
    u32(w, 1);
    uint32_t desc = w->pos;
    val_desc(w, 0, 0x21);
    uint32_t start = w->pos, nm = 0;
    frag(w);
    for (unsigned i = 0; i < elems; i++) {
        if (!nm) {
            nm = long_name_el(w, name_len);
            if (ents) {
                u8(w, 0x02);
                for (unsigned k = 0; k < ents; k++) {
                    u8(w, 0x09);
                    u32(w, nm);
                }
                u8(w, 0x04);
                continue;
            }
        } else {
            el_ref(w, nm, 0);
        }
        u8(w, 0x03);
    }
    u8(w, 0x00);
    uint32_t size = w->pos - start;
    assert_true(size < 65536);
    w->b[desc] = (unsigned char)(size & 0xff);
    w->b[desc + 1] = (unsigned char)(size >> 8);
    u8(w, 0x00);
    rec_end(w, rec);
    return rec;
}

/* The template arena (TARENA_CAP, 4 MiB per chunk) holds compiled templates, the names the
 * chunk's records use (each decoded once per chunk) and the text of entity references, made
 * again at each parse. An entity reference to a name of 4,093 characters takes 4,096 bytes
 * (&name;), 16 to a 64 KiB block, so the arena ends exactly full: record 2 parses its value 40
 * times with 15 of them (600, 2.4 MiB), record 3 another 600 and gets the warning "chunk needs
 * too much memory for names". From then on a new template is the warning "chunk needs too much
 * memory for templates", while records using templates already compiled still decode. */
static void test_template_memory(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t t1 = normal_record(&w, 1, 0), t2 = 0;
    amp_record(&w, 2, &t2, 40, 1, 4093, 15);
    uint32_t r3 = amp_record(&w, 3, &t2, 40, 1, 4093, 15);
    /* record 4: a new template (the normal one again, defined inline) */
    uint32_t r4 = w.pos;
    normal_record(&w, 4, 0);
    uint32_t t4 = r4 + 24 + 4 + 10;
    uint32_t r5 = w.pos;
    normal_record(&w, 5, t1);
    decode(&c, &w, 5, r5);
    assert_int_equal(c.nitems, 5);
    expect_normal(&c, 0, 1);
    expect_event(&c, 1, 2);
    expect_warning(&c, 2, 3, r3, "chunk needs too much memory for names", 0);
    expect_warning(&c, 3, 4, r4, "chunk needs too much memory for templates", t4);
    expect_normal(&c, 4, 5);
    assert_int_equal(c.tarena.used, 4u << 20); /* every 64 KiB block of the cap is full */
    evtx_chunk_fini(&c);
}

/* The record arena (RARENA_CAP, 4 MiB) holds one record's nodes and is reset for each record:
 * records 2 and 3 parse 30,000 nodes each (together past the cap), record 4 parses 100,000 and
 * gets the warning "BinXML needs more than the per-chunk memory cap". */
static void test_record_memory(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t t1 = normal_record(&w, 1, 0), t2 = 0;
    amp_record(&w, 2, &t2, 200, 150, 1, 0);
    amp_record(&w, 3, &t2, 200, 150, 1, 0);
    uint32_t r4 = amp_record(&w, 4, &t2, 200, 500, 1, 0);
    uint32_t r5 = w.pos;
    normal_record(&w, 5, t1);
    decode(&c, &w, 5, r5);
    assert_int_equal(c.nitems, 5);
    expect_normal(&c, 0, 1);
    expect_event(&c, 1, 2);
    expect_event(&c, 2, 3);
    expect_warning(&c, 3, 4, r4, "BinXML needs more than the per-chunk memory cap", 0);
    expect_normal(&c, 4, 5);
    evtx_chunk_fini(&c);
}

/* ---- MAX_KV_PER_RECORD, MAX_KV_PER_CHUNK ---------------------------------------------- */

/* A template Event/EventData with `copies` Data elements named B showing substitution 0 and
 * one named C showing substitution 1: uint8 arrays, one field per byte. */
static uint32_t kv_template(bld *w, unsigned copies) {
    uint32_t def;
    tmpl_begin(w, &def);
    open_el(w, "Event", 0);
    u8(w, 0x02);
    open_el(w, "EventData", 0);
    u8(w, 0x02);
    for (unsigned i = 0; i < copies; i++)
        data_el(w, "B", 0, 0x84);
    data_el(w, "C", 1, 0x84);
    u8(w, 0x04);
    u8(w, 0x04);
    u8(w, 0x00);
    tmpl_end(w, def);
    return def;
}

/* A record with copies * nb + nc fields (see kv_template); byte k of each array is k % 256. */
static uint32_t kv_record(bld *w, uint64_t rid, uint32_t *def, unsigned copies, unsigned nb,
                          unsigned nc) {
    uint32_t rec = rec_begin(w, rid);
    frag(w);
    if (*def)
        tmpl_ref(w, *def);
    else
        *def = kv_template(w, copies);
    u32(w, 2);
    val_desc(w, nb, 0x84);
    val_desc(w, nc, 0x84);
    for (unsigned k = 0; k < nb; k++)
        u8(w, k & 0xff);
    for (unsigned k = 0; k < nc; k++)
        u8(w, k & 0xff);
    u8(w, 0x00);
    rec_end(w, rec);
    return rec;
}

/* 8,192 fields in a record are kept; 8,193 are the warning "record has too many data fields". */
static void test_fields_per_record(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t t1 = normal_record(&w, 1, 0), t2 = 0;
    kv_record(&w, 2, &t2, 1, 8000, 192);
    uint32_t r3 = kv_record(&w, 3, &t2, 1, 8000, 193);
    uint32_t r4 = w.pos;
    normal_record(&w, 4, t1);
    decode(&c, &w, 4, r4);
    assert_int_equal(c.nitems, 4);
    expect_normal(&c, 0, 1);
    const evtx_item *it = expect_event(&c, 1, 2);
    assert_int_equal(it->nkv, 8192);
    const evtx_kvspan *kv = &c.kvs[it->kv_first];
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv[7999].name), "B"));
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv[7999].value), "63")); /* 7999 % 256 */
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv[8191].name), "C"));
    assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv[8191].value), "191"));
    expect_warning(&c, 2, 3, r3, "record has too many data fields", r3);
    expect_normal(&c, 3, 4);
    assert_int_equal(c.nkv, 8194); /* record 3's fields were taken back */
    evtx_chunk_fini(&c);
}

/* 262,144 fields in a chunk are kept (the normal event's one and 32 records of 63 x 128 + 128,
 * the last with one less); one more field is the warning "chunk has too many data fields", and
 * a later record without fields still decodes. */
static void test_fields_per_chunk(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t t1 = normal_record(&w, 1, 0), t2 = 0;
    uint64_t rid = 2;
    for (int i = 0; i < 32; i++, rid++)
        kv_record(&w, rid, &t2, 63, 128, i == 31 ? 127 : 128);
    uint32_t r34 = w.pos;
    normal_record(&w, rid++, t1);
    uint32_t r35 = kv_record(&w, rid, &t2, 63, 0, 0);
    decode(&c, &w, rid, r35);
    assert_int_equal(c.nitems, 35);
    expect_normal(&c, 0, 1);
    size_t total = 1;
    for (size_t i = 1; i <= 32; i++) {
        const evtx_item *it = expect_event(&c, i, i + 1);
        assert_int_equal(it->nkv, i == 32 ? 8191 : 8192);
        total += it->nkv;
    }
    assert_int_equal(total, 262144);
    expect_warning(&c, 33, 34, r34, "chunk has too many data fields", r34);
    const evtx_item *it = expect_event(&c, 34, 35);
    assert_int_equal(it->nkv, 0);
    assert_int_equal(c.nkv, 262144);
    evtx_chunk_fini(&c);
}

/* ---- NCACHE_CAP ----------------------------------------------------------------------- */

/* Names are decoded once per chunk and cached by offset (NCACHE_CAP 1,024 entries, 16 probes):
 * a template with 1,100 UserData leaves of distinct names (F0000..F1099, each holding the
 * text x) fills the table, and the names that find no free slot within 16 probes are decoded
 * at each reference instead; the record used twice comes out whole and the same both times. */
static void test_name_cache(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t def = 0;
    for (uint64_t rid = 1; rid <= 2; rid++) {
        uint32_t rec = rec_begin(&w, rid);
        frag(&w);
        if (def) {
            tmpl_ref(&w, def);
        } else {
            tmpl_begin(&w, &def);
            frag(&w);
            open_el(&w, "Event", 0);
            u8(&w, 0x02);
            open_el(&w, "System", 0);
            u8(&w, 0x02);
            open_el(&w, "Provider", 1);
            attr(&w, "Name");
            text(&w, "Test-Provider");
            u8(&w, 0x03);
            u8(&w, 0x04); /* </System> */
            open_el(&w, "UserData", 0);
            u8(&w, 0x02);
            for (int i = 0; i < 1100; i++) {
                char n[8];
                snprintf(n, sizeof n, "F%04d", i);
                open_el(&w, n, 0);
                u8(&w, 0x02);
                text(&w, "x");
                u8(&w, 0x04);
            }
            u8(&w, 0x04); /* </UserData> */
            u8(&w, 0x04); /* </Event> */
            u8(&w, 0x00);
            tmpl_end(&w, def);
        }
        u32(&w, 0);
        u8(&w, 0x00);
        rec_end(&w, rec);
        if (rid == 2)
            decode(&c, &w, 2, rec);
    }
    assert_int_equal(c.nitems, 2);
    for (size_t r = 0; r < 2; r++) {
        const evtx_item *it = expect_event(&c, r, r + 1);
        assert_int_equal(it->nkv, 1100);
        for (unsigned i = 0; i < 1100; i++) {
            char n[8];
            snprintf(n, sizeof n, "F%04u", i);
            const evtx_kvspan *kv = &c.kvs[it->kv_first + i];
            assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv->name), n));
            assert_true(esc_str_eq_c(evtx_chunk_str(&c, kv->value), "x"));
        }
    }
    /* 1,105 distinct names: the table holds at most 1,024 (fewer: 16 probes), the rest went
     * uncached */
    assert_true(c.nnames > 900 && c.nnames <= 1024);
    evtx_chunk_fini(&c);
}

/* ---- TEXT_CAP ------------------------------------------------------------------------- */

/* A record whose template renders one 16,000-byte binary value (32,000 hex characters) in 280
 * Data elements of one name: about 9 MB of text. With def 0 the template is defined inline. */
static uint32_t text_record(bld *w, uint64_t rid, uint32_t *def) {
    uint32_t rec = rec_begin(w, rid);
    frag(w);
    if (*def) {
        tmpl_ref(w, *def);
    } else {
        tmpl_begin(w, def);
        frag(w);
        open_el(w, "Event", 0);
        u8(w, 0x02);
        open_el(w, "EventData", 0);
        u8(w, 0x02);
        uint32_t data_name = w->pos + 11;
        for (int i = 0; i < 280; i++) {
            if (i == 0)
                open_el(w, "Data", 0);
            else
                el_ref(w, data_name, 0);
            u8(w, 0x02);
            subst(w, 0, 0x0e);
            u8(w, 0x04);
        }
        u8(w, 0x04);
        u8(w, 0x04);
        u8(w, 0x00);
        tmpl_end(w, *def);
    }
    u32(w, 1);
    val_desc(w, 16000, 0x0e);
    for (int i = 0; i < 16000; i++)
        u8(w, 0x5a);
    u8(w, 0x00);
    rec_end(w, rec);
    return rec;
}

/* Two records of about 9 MB of text each pass the chunk's 16 MiB: the first is kept, the
 * second is the warning, and the small record after it still comes out. */
static void test_chunk_text(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    uint32_t t1 = normal_record(&w, 1, 0), t2 = 0;
    text_record(&w, 2, &t2);
    uint32_t r3 = text_record(&w, 3, &t2);
    uint32_t r4 = w.pos;
    normal_record(&w, 4, t1);
    decode(&c, &w, 4, r4);
    assert_int_equal(c.nitems, 4);
    expect_normal(&c, 0, 1);
    const evtx_item *it = expect_event(&c, 1, 2);
    assert_int_equal(it->nkv, 280);
    assert_int_equal(c.kvs[it->kv_first + 279].value.len, 32000);
    expect_warning(&c, 2, 3, r3, "chunk expands to too much text", 0);
    expect_normal(&c, 3, 4);
    assert_true(c.text.cap <= (16u << 20) + 1); /* the buffer never grew past the cap */
    evtx_chunk_fini(&c);
}

/* want_json: each event's dump JSON line goes into c->lines, up to its cap (LINES_CAP, 64 MiB;
 * set small here); an event past the cap gets no line (dump renders it on the reading thread,
 * same bytes), and the events after it still get theirs when they fit. */
static void test_json_lines_cap(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    c.want_json = 1;
    uint32_t t1 = normal_record(&w, 1, 0), t2 = 0;
    text_record(&w, 2, &t2); /* 280 values of 32,000 bytes: a JSON line of 9 MB */
    uint32_t r3 = w.pos;
    normal_record(&w, 3, t1);
    c.lines.max = 1u << 20;
    decode(&c, &w, 3, r3);
    assert_int_equal(c.nitems, 3);
    const char *want = "{\"escudo_dump\":1,\"kind\":\"windows\",\"provider\":\"Test-Provider\"";
    for (size_t i = 0; i < 3; i += 2) {
        const evtx_item *it = &c.items[i];
        expect_normal(&c, i, i + 1);
        assert_true(it->line.len > strlen(want));
        assert_memory_equal(c.lines.ptr + it->line.off, want, strlen(want));
        assert_memory_equal(c.lines.ptr + it->line.off + it->line.len - 16, "[[\"Keep\",\"ok\"]]}",
                            16);
        assert_int_equal(c.lines.ptr[it->line.off + it->line.len], '\n');
    }
    assert_int_equal(expect_event(&c, 1, 2)->line.len, 0); /* past the cap: no line */
    /* the third line follows the first: the second left nothing behind */
    assert_int_equal(c.items[2].line.off, c.items[0].line.len + 1);
    assert_true(c.lines.cap <= (1u << 20) + 1);
    evtx_chunk_fini(&c);
}

/* want_xml: each record's XML is made in the lines buffer, with a line break after it; one past
 * the cap is made in the text (and the reader hands it out from there). */
static void test_xml_lines_cap(void **state) {
    (void)state;
    evtx_chunk c;
    bld w;
    assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
    c.want_xml = true;
    c.skip_data = true; /* as dump renders it: the XML alone fits one record's text */
    uint32_t t1 = normal_record(&w, 1, 0), t2 = 0;
    text_record(&w, 2, &t2); /* an XML rendering of 9 MB */
    uint32_t r3 = w.pos;
    normal_record(&w, 3, t1);
    c.lines.max = 1u << 20;
    decode(&c, &w, 3, r3);
    assert_int_equal(c.nitems, 3);
    for (size_t i = 0; i < 3; i += 2) {
        const evtx_item *it = expect_event(&c, i, i + 1);
        assert_true(esc_str_eq_c(evtx_chunk_str(&c, it->provider), "Test-Provider"));
        assert_int_equal(it->xml.len, 0);
        assert_memory_equal(c.lines.ptr + it->line.off, "<Event>", 7);
        assert_memory_equal(c.lines.ptr + it->line.off + it->line.len - 8, "</Event>\n", 9);
    }
    const evtx_item *big = expect_event(&c, 1, 2);
    assert_int_equal(big->line.len, 0);
    assert_true(big->xml.len > (1u << 20));
    assert_memory_equal(c.text.ptr + big->xml.off, "<Event>", 7);
    assert_int_equal(c.items[2].line.off, c.items[0].line.len + 1);
    evtx_chunk_fini(&c);
}

/* want_xml: the XML is made in the lines buffer, under the caps it met when it was made in the
 * text: with its fields kept (no skip_data), a record of 9 MB of fields and 9 MB of XML passes
 * the chunk's 16 MiB of text (its own cap set above that), and with max_record_bytes at 12 MB
 * its own cap;
 * the records around it keep their lines. */
static void test_xml_text_caps(void **state) {
    (void)state;
    for (int round = 0; round < 2; round++) {
        evtx_chunk c;
        bld w;
        assert_int_equal(chunk_start(&c, &w, false), ESC_OK);
        c.want_xml = true;
        c.max_record_bytes = round ? 12000000 : 32u << 20; /* 32 MiB: the chunk's cap first */
        uint32_t t1 = normal_record(&w, 1, 0), t2 = 0;
        uint32_t r2 = text_record(&w, 2, &t2);
        uint32_t r3 = w.pos;
        normal_record(&w, 3, t1);
        decode(&c, &w, 3, r3);
        assert_int_equal(c.nitems, 3);
        expect_warning(&c, 1, 2, r2,
                       round ? "record expands to more than 12000000 bytes of text"
                             : "chunk expands to too much text",
                       0);
        for (size_t i = 0; i < 3; i += 2) {
            expect_normal(&c, i, i + 1);
            const evtx_item *it = &c.items[i];
            assert_int_equal(it->xml.len, 0);
            assert_memory_equal(c.lines.ptr + it->line.off, "<Event>", 7);
            assert_memory_equal(c.lines.ptr + it->line.off + it->line.len - 8, "</Event>\n", 9);
        }
        assert_int_equal(c.items[2].line.off, c.items[0].line.len + 1);
        assert_true(c.text.cap <= (16u << 20) + 1);
        evtx_chunk_fini(&c);
    }
}

int main(void) {
    esc_alloc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elem_depth),        cmocka_unit_test(test_subst_count),
        cmocka_unit_test(test_template_count),    cmocka_unit_test(test_template_memory),
        cmocka_unit_test(test_name_cache),        cmocka_unit_test(test_record_memory),
        cmocka_unit_test(test_fields_per_record), cmocka_unit_test(test_fields_per_chunk),
        cmocka_unit_test(test_chunk_text),        cmocka_unit_test(test_json_lines_cap),
        cmocka_unit_test(test_xml_lines_cap),     cmocka_unit_test(test_xml_text_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
