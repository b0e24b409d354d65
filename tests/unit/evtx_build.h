/* A byte-by-byte EVTX chunk builder for the unit tests (test_evtx_values.c, test_evtx_limits.c;
 * test_evtx_damage.c uses its checksums).
 *
 * Little-endian writers, the BinXML tokens the decoder reads (elements, attributes, text,
 * substitutions, template instances), records and the chunk header with its checksums. Names
 * are written inline (name()) or referenced by chunk offset (el_ref()); text is ASCII only.
 * Writes past EVTX_CHUNK_SIZE are dropped but still advance pos, so a test can check
 * pos <= EVTX_CHUNK_SIZE once instead of every call. */
#ifndef ESC_TESTS_EVTX_BUILD_H
#define ESC_TESTS_EVTX_BUILD_H

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "parse/evtx/evtx_chunk.h"

typedef struct bld {
    unsigned char *b; /* EVTX_CHUNK_SIZE bytes */
    uint32_t pos;
} bld;

static inline void u8(bld *w, unsigned v) {
    if (w->pos < EVTX_CHUNK_SIZE)
        w->b[w->pos] = (unsigned char)v;
    w->pos++;
}
static inline void u16(bld *w, unsigned v) {
    u8(w, v & 0xff);
    u8(w, (v >> 8) & 0xff);
}
static inline void u32(bld *w, uint32_t v) {
    u16(w, v & 0xffff);
    u16(w, v >> 16);
}
static inline void u64(bld *w, uint64_t v) {
    u32(w, (uint32_t)v);
    u32(w, (uint32_t)(v >> 32));
}
static inline void utf16(bld *w, const char *s) { /* ASCII only */
    for (; *s; s++)
        u16(w, (unsigned char)*s);
}
static inline void name(bld *w, const char *s) { /* an inline name: offset = here */
    u32(w, w->pos + 4);
    u32(w, 0); /* next */
    u16(w, 0); /* hash */
    u16(w, (unsigned)strlen(s));
    utf16(w, s);
    u16(w, 0);
}
/* An element start with an inline name; the name structure is at (start offset + 11). */
static inline void open_el(bld *w, const char *n, int attrs) {
    u8(w, attrs ? 0x41 : 0x01);
    u16(w, 0xffff);
    u32(w, 0);
    name(w, n);
    if (attrs)
        u32(w, 0);
}
/* An element start whose name is the name structure at chunk offset name_off. */
static inline void el_ref(bld *w, uint32_t name_off, int attrs) {
    u8(w, attrs ? 0x41 : 0x01);
    u16(w, 0xffff);
    u32(w, 0);
    u32(w, name_off);
    if (attrs)
        u32(w, 0);
}
/* An element start as written outside template definitions (directly in a record or in a
 * BinXML substitution value): no dependency identifier. */
static inline void open_el_direct(bld *w, const char *n, int attrs) {
    u8(w, attrs ? 0x41 : 0x01);
    u32(w, 0);
    name(w, n);
    if (attrs)
        u32(w, 0);
}
static inline void attr(bld *w, const char *n) {
    u8(w, 0x06);
    name(w, n);
}
static inline void text(bld *w, const char *s) {
    u8(w, 0x05);
    u8(w, 0x01);
    u16(w, (unsigned)strlen(s));
    utf16(w, s);
}
static inline void subst(bld *w, unsigned idx, unsigned type) {
    u8(w, 0x0d);
    u16(w, idx);
    u8(w, type);
}
static inline void opt_subst(bld *w, unsigned idx, unsigned type) {
    u8(w, 0x0e);
    u16(w, idx);
    u8(w, type);
}
static inline void data_el(bld *w, const char *n, unsigned idx, unsigned type) {
    open_el(w, "Data", 1);
    attr(w, "Name");
    text(w, n);
    u8(w, 0x02);
    subst(w, idx, type);
    u8(w, 0x04);
}
/* <name>$idx</name>: an element whose content is substitution idx of type. */
static inline void el_subst(bld *w, const char *n, unsigned idx, unsigned type) {
    open_el(w, n, 0);
    u8(w, 0x02);
    subst(w, idx, type);
    u8(w, 0x04);
}
/* <name>text</name>. */
static inline void el_text(bld *w, const char *n, const char *s) {
    open_el(w, n, 0);
    u8(w, 0x02);
    text(w, s);
    u8(w, 0x04);
}
/* <Provider Name='name'/>. */
static inline void provider(bld *w, const char *n) {
    open_el(w, "Provider", 1);
    attr(w, "Name");
    text(w, n);
    u8(w, 0x03);
}
/* An element start (no attributes) with an inline name of len 'N's; returns the chunk offset
 * of its name structure, for el_ref() and entity references. */
static inline uint32_t long_name_el(bld *w, unsigned len) {
    u8(w, 0x01);
    u16(w, 0xffff);
    u32(w, 0);
    uint32_t nm = w->pos + 4;
    u32(w, nm);
    u32(w, 0);
    u16(w, 0);
    u16(w, len);
    for (unsigned k = 0; k < len; k++)
        u16(w, 'N');
    u16(w, 0);
    return nm;
}
static inline void frag(bld *w) { /* fragment header */
    u8(w, 0x0f), u8(w, 1), u8(w, 1), u8(w, 0);
}

/* A template instance whose definition follows inline: writes the instance token and the
 * definition header, stores the definition's chunk offset in *def; the body comes next and
 * tmpl_end() patches its size. The substitution array follows tmpl_end(). */
static inline void tmpl_begin(bld *w, uint32_t *def) {
    u8(w, 0x0c);
    u8(w, 1);
    u32(w, 7);          /* template id */
    u32(w, w->pos + 4); /* definition offset: right here */
    *def = w->pos;
    u32(w, 0); /* next definition */
    for (int i = 0; i < 16; i++)
        u8(w, 0xaa); /* GUID */
    u32(w, 0);       /* body size, patched */
}
static inline void tmpl_end(bld *w, uint32_t def) {
    uint32_t dsize = w->pos - (def + 24);
    if (def + 24 <= EVTX_CHUNK_SIZE)
        memcpy(w->b + def + 20, &dsize, 4);
}
/* A template instance using the definition at chunk offset def. */
static inline void tmpl_ref(bld *w, uint32_t def) {
    u8(w, 0x0c);
    u8(w, 1);
    u32(w, 7);
    u32(w, def);
}
/* One substitution value descriptor (the values themselves follow all descriptors). */
static inline void val_desc(bld *w, unsigned size, unsigned type) {
    u16(w, size);
    u8(w, type);
    u8(w, 0);
}

/* A record header with event record id rid; returns the record's offset for rec_end(). */
static inline uint32_t rec_begin(bld *w, uint64_t rid) {
    uint32_t rec = w->pos;
    u32(w, 0x2a2a);
    u32(w, 0); /* size, patched */
    u64(w, rid);
    u64(w, 0); /* written time */
    return rec;
}
/* Pad the record to 8 bytes and write its size at both ends. */
static inline void rec_end(bld *w, uint32_t rec) {
    while ((w->pos - rec + 4) % 8)
        u8(w, 0);
    uint32_t size = w->pos - rec + 4;
    u32(w, size);
    if (rec + 8 <= EVTX_CHUNK_SIZE)
        memcpy(w->b + rec + 4, &size, 4);
}

/* The header checksum (bytes 0..120 and 128..512) after editing the header. */
static inline void header_checksum(unsigned char *ch) {
    uint32_t hc = (uint32_t)crc32(0, ch, 120);
    hc = (uint32_t)crc32(hc, ch + 128, EVTX_CHUNK_HEADER - 128);
    memcpy(ch + 124, &hc, 4);
}
/* Both checksums after editing a chunk: the records' (up to the free space offset in the
 * header), then the header's. */
static inline void chunk_checksums(unsigned char *ch) {
    uint32_t fso;
    memcpy(&fso, ch + 48, 4);
    uint32_t rc = (uint32_t)crc32(0, ch + EVTX_CHUNK_HEADER, fso - EVTX_CHUNK_HEADER);
    memcpy(ch + 52, &rc, 4);
    header_checksum(ch);
}

/* A chunk header: signature, record ids first..last, the last record's offset, the free space
 * offset fso and both checksums. */
static inline void chunk_header(unsigned char *ch, uint64_t first, uint64_t last, uint32_t last_rec,
                                uint32_t fso) {
    memcpy(ch, "ElfChnk", 8);
    memcpy(ch + 8, &first, 8), memcpy(ch + 16, &last, 8), memcpy(ch + 24, &first, 8),
        memcpy(ch + 32, &last, 8);
    uint32_t v = 128;
    memcpy(ch + 40, &v, 4);
    memcpy(ch + 44, &last_rec, 4);
    memcpy(ch + 48, &fso, 4);
    chunk_checksums(ch);
}

/* c made for every event (recover as given) with a zeroed chunk, w at its first record. */
static inline esc_status chunk_start(evtx_chunk *c, bld *w, bool recover) {
    static const esc_interest everything = {.everything = true};
    *w = (bld){NULL, EVTX_CHUNK_HEADER};
    esc_status st = evtx_chunk_init(c, &everything, recover, 0);
    if (st)
        return st;
    memset(c->data, 0, EVTX_CHUNK_SIZE);
    w->b = c->data;
    return ESC_OK;
}

#endif
