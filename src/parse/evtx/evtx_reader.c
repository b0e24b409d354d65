/* The EVTX reader: file header, the sequence of 64 KiB chunks, and the ordered hand-over of
 * decoded chunks (parse/event.h contract).
 *
 * The input is read forward only (gzip and stdin work): the 4096-byte file header, then one
 * chunk at a time into a ring of slots; a regular file's whole chunks are read by the thread
 * that decodes them (positioned reads), so that copying them out of the page cache scales.
 * Chunk q is decoded by thread q % threads (0 is the calling thread, which also yields the
 * items), always into the same slots, so that a thread's decoding scratch (names, templates,
 * arenas) stays in its own core's cache; a thread with none of its own chunks to decode takes
 * anyone's (in a hunt, whose detections are slower than decoding, the workers then decode
 * everything). Threads wait for each other spinning briefly before they sleep: a chunk takes
 * tens of microseconds, a sleep and wake-up costs system calls and, in a virtual machine, an
 * interrupt between cores (docs/benchmarks.md, "Two threads"). Items are
 * yielded strictly in chunk order, so the sequence of events and warnings is the same for any
 * thread count. Memory is the ring (a fixed number of slots, each with capped buffers). Every
 * chunk present in the file is read, also past the header's chunk count (a dirty file's header
 * lags behind); all-zero chunks past that count are unused space and are skipped silently.
 * With runs (dump), the consecutive records of a chunk whose renderings were made on the
 * decoding threads come as one event holding all their lines, which the caller writes without
 * reading them: lines made on another core are not copied through this one's cache.
 * With --recover, a recovered record identical to an event yielded before it in the file is
 * folded (fold()); the key set costs 16 bytes per record, only then.
 * Deliberately not done: seeking, the header's "oldest chunk" ordering of a wrapped
 * log (chunks are read in file order, as evtxexport does). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/crc32.h"
#include "parse/evtx/evtx_chunk.h"
#include "parse/reader.h"

#define EVTX_FILE_HEADER 4096u
#define MAX_PENDING 4
#define MAX_THREADS 16
#define SLOTS_PER_THREAD 4 /* fewer: a thread finding no chunk to decode sleeps more often */
#define SPIN_MAX 4096      /* pause instructions a waiting thread spins before it sleeps */

/* A slot's chunk: FREE (the calling thread may read the next chunk into it), READY (read, or
 * left in the file for its decoder), BUSY (a thread took it), DONE (decoded; its items are the
 * calling thread's). A thread takes a READY slot with one compare-and-swap. */
enum { S_FREE = 0, S_READY, S_BUSY, S_DONE };

/* What one thread writes while another reads or writes beside it is kept LINE_PAD bytes apart
 * (two cache lines: AMD and Intel cores fetch lines in pairs): a slot's fields, written while
 * it is decoded, the next slot's, another thread's, and the states every thread polls. */
#define LINE_PAD 128

typedef struct slot {
    _Atomic int state;
    _Atomic uint64_t seq; /* its chunk's number (c.index), readable while another thread takes it */
    esc_status st;
    bool read_at; /* its bytes are still in the file: read by the thread that decodes it */
    char pad0[LINE_PAD];
    evtx_chunk c;
    char pad1[LINE_PAD];
} slot;

typedef struct pending {
    uint64_t offset;
    char msg[160];
} pending;

typedef struct worker {
    struct evtx_reader *r;
    int id; /* 1 .. nworkers */
} worker;

typedef struct evtx_reader {
    /* read by every thread, written only while opening */
    esc_input *in;
    bool read_at;        /* whole chunks inside size are read by the decoding threads (pread) */
    bool rendering_only; /* esc_reader_opts.rendering_only */
    bool runs;           /* esc_reader_opts.runs, when it applies (take_run()) */
    slot *slots;
    size_t nslots;
    int nthreads; /* chunk q is decoded by thread q % nthreads, 0 being the calling thread */
    int nworkers;
    bool locks;
    pthread_t workers[MAX_THREADS];
    worker wargs[MAX_THREADS];
    char pad0[LINE_PAD];
    /* shared and written: only to wait (the slots' states are atomic) */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    _Atomic int worker_sleeps; /* workers asleep on work_cv */
    _Atomic int main_sleeps;   /* the calling thread is asleep on done_cv */
    _Atomic bool stop;
    char pad1[LINE_PAD];
    /* the calling thread's */
    int main_spin; /* its spin budget, halved by each wait that ends asleep */
    uint64_t size; /* the file's size when opened */
    const char *path;
    esc_reader_stats *stats;
    uint16_t header_chunks;
    pending warn[MAX_PENDING];
    size_t nwarn, warn_pos;
    bool has_last;
    pending last; /* the input's own damage (a truncated gzip stream): said after its chunks */
    uint64_t next_index; /* next chunk number to read */
    bool eof;
    esc_status fatal;
    uint64_t head, tail; /* chunk sequence numbers: [head, tail) are in slots */
    size_t item_pos;     /* next item of the head slot */
    esc_kv *kv;
    size_t kv_cap;
    /* --recover: keys of the events yielded so far (open addressing, 0 = empty) */
    bool recover;
    uint64_t *keys;
    size_t nkeys, keys_cap;
} evtx_reader;

static esc_status read_full(esc_input *in, unsigned char *buf, size_t cap, size_t *got,
                            esc_error *err) {
    size_t n = 0;
    esc_status st = ESC_OK;
    while (n < cap) {
        size_t g = 0;
        st = esc_input_read(in, buf + n, cap - n, &g, err);
        n += g;
        if (st || !g)
            break;
    }
    *got = n; /* also on an error: what was read before it */
    return st;
}

static void add_warning(evtx_reader *r, uint64_t off, const char *msg) {
    if (r->nwarn == MAX_PENDING)
        return;
    r->warn[r->nwarn].offset = off;
    snprintf(r->warn[r->nwarn].msg, sizeof r->warn[r->nwarn].msg, "%s", msg);
    r->nwarn++;
}

/* Decode a slot's chunk, reading its bytes first when fill() left them in the file: the
 * copies out of the page cache then run on every decoding thread, not only the reading one.
 * The slot is DONE afterwards; the calling thread is woken if it sleeps on it. */
static void decode_slot(evtx_reader *r, slot *s) {
    esc_status st = ESC_OK;
    if (s->read_at) {
        size_t got = 0;
        st = esc_input_read_at(r->in, s->c.file_off, s->c.data, EVTX_CHUNK_SIZE, &got, NULL);
        s->c.len = got; /* shorter when the file was truncated since it was opened */
    }
    s->st = st ? st : evtx_chunk_decode(&s->c);
    atomic_store(&s->state, S_DONE); /* then main_sleeps is read: see await_head() */
    if (atomic_load(&r->main_sleeps)) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_signal(&r->done_cv);
        pthread_mutex_unlock(&r->mu);
    }
}

/* Take and decode the first READY chunk of thread id's slots (those whose index is id modulo
 * nthreads: the same slots every time, so its scratch stays in its core's cache), else, when
 * steal, of anyone's; false when there was none. */
static bool decode_one(evtx_reader *r, int id, bool steal) {
    slot *best = NULL;
    size_t step = steal ? 1 : (size_t)r->nthreads;
    for (size_t i = steal ? 0 : (size_t)id; i < r->nslots; i += step) {
        slot *t = &r->slots[i];
        if (atomic_load_explicit(&t->state, memory_order_acquire) == S_READY &&
            (!best || atomic_load_explicit(&t->seq, memory_order_relaxed) <
                          atomic_load_explicit(&best->seq, memory_order_relaxed)))
            best = t;
    }
    int ready = S_READY;
    if (!best || !atomic_compare_exchange_strong(&best->state, &ready, S_BUSY))
        return false;
    decode_slot(r, best);
    return true;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Whether any chunk waits for a thread. */
static bool any_ready(const evtx_reader *r) {
    for (size_t i = 0; i < r->nslots; i++)
        if (atomic_load_explicit(&r->slots[i].state, memory_order_acquire) == S_READY)
            return true;
    return false;
}

/* Wait, spinning up to *budget times before sleeping on cv, until done(r, s) or stop. The
 * budget adapts: doubled when the spin was enough, halved when it was not, so a thread that
 * mostly waits long (the decoder of a hunt slower than decoding) stops burning a core on it. */
static void await(evtx_reader *r, slot *s, bool (*done)(const evtx_reader *, slot *),
                  _Atomic int *sleeps, pthread_cond_t *cv, int *budget) {
    for (int i = 0; i < *budget; i++) {
        if (done(r, s) || atomic_load_explicit(&r->stop, memory_order_relaxed)) {
            *budget = *budget * 2 > SPIN_MAX ? SPIN_MAX : *budget * 2;
            return;
        }
        cpu_relax();
    }
    *budget = *budget / 2 > 16 ? *budget / 2 : 16;
    pthread_mutex_lock(&r->mu);
    atomic_fetch_add(sleeps, 1); /* then the state is read: the waker reads sleeps after it */
    atomic_thread_fence(memory_order_seq_cst);
    while (!done(r, s) && !atomic_load(&r->stop))
        pthread_cond_wait(cv, &r->mu);
    atomic_fetch_sub(sleeps, 1);
    pthread_mutex_unlock(&r->mu);
}

static bool work_waits(const evtx_reader *r, slot *s) {
    (void)s;
    return any_ready(r);
}

static bool slot_done(const evtx_reader *r, slot *s) {
    (void)r;
    return atomic_load_explicit(&s->state, memory_order_acquire) == S_DONE;
}

/* A worker decodes its own slots' chunks; when it has none to do it takes anyone's (in a hunt,
 * whose detections are slower than decoding, the calling thread then decodes nothing). */
static void *worker_main(void *arg) {
    worker *w = arg;
    evtx_reader *r = w->r;
    int budget = SPIN_MAX;
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        if (!decode_one(r, w->id, false) && !decode_one(r, w->id, true))
            await(r, NULL, work_waits, &r->worker_sleeps, &r->work_cv, &budget);
    }
    return NULL;
}

static void stop_workers(evtx_reader *r) {
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stop, true);
    pthread_cond_broadcast(&r->work_cv);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->nworkers; i++)
        pthread_join(r->workers[i], NULL);
    r->nworkers = 0;
    r->nthreads = 1;
}

static void evtx_free(void *impl) {
    evtx_reader *r = impl;
    if (!r)
        return;
    if (r->locks) {
        stop_workers(r);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->work_cv);
        pthread_cond_destroy(&r->done_cv);
    }
    for (size_t i = 0; r->slots && i < r->nslots; i++)
        evtx_chunk_fini(&r->slots[i].c);
    esc_free(r->slots);
    esc_free(r->kv);
    esc_free(r->keys);
    esc_free(r);
}

static esc_status evtx_open(esc_input *in, const esc_interest *interest,
                            const esc_reader_opts *opts, esc_reader_stats *stats, void **impl,
                            esc_error *err) {
    static const esc_interest everything = {.everything = true};
    const char *path = esc_input_path(in);
    unsigned char hdr[EVTX_FILE_HEADER];
    size_t got;
    esc_status st;
    evtx_reader *r = esc_calloc(1, sizeof *r);
    if (!r)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->in = in;
    r->read_at = esc_input_can_read_at(in);
    r->rendering_only = opts->rendering_only && !opts->recover;
    r->runs = r->rendering_only && opts->runs && (opts->xml || opts->json);
    r->size = esc_input_size(in);
    r->path = path;
    r->stats = stats;
    r->recover = opts->recover;
    if ((st = read_full(in, hdr, sizeof hdr, &got, err)))
        goto fail;
    if (got < 8 || memcmp(hdr, "ElfFile", 8) != 0) {
        st = esc_error_at(err, ESC_EMALFORMED, path, 0, "not an EVTX file (no file signature)");
        goto fail;
    }
    if (got < 128) {
        add_warning(r, 0, "EVTX file header truncated");
        r->eof = true;
    } else {
        r->header_chunks = evtx_le16(hdr + 42);
        uint32_t crc = esc_crc32(0, hdr, 120);
        if (crc != evtx_le32(hdr + 124)) {
            char m[128];
            snprintf(m, sizeof m, "file header checksum mismatch (0x%08x, computed 0x%08x)",
                     evtx_le32(hdr + 124), crc);
            add_warning(r, 124, m);
        }
        if (got < EVTX_FILE_HEADER)
            r->eof = true;
    }

    int threads = opts->threads > MAX_THREADS ? MAX_THREADS : opts->threads;
    r->nthreads = threads > 1 ? threads : 1;
    r->nslots = r->nthreads > 1 ? (size_t)r->nthreads * SLOTS_PER_THREAD : 1;
    r->main_spin = SPIN_MAX;
    r->slots = esc_calloc(r->nslots, sizeof *r->slots);
    if (!r->slots) {
        st = esc_error_set(err, ESC_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < r->nslots; i++) {
        if (evtx_chunk_init(&r->slots[i].c, interest ? interest : &everything, opts->recover,
                            opts->max_record_bytes)) {
            r->nslots = i + 1;
            st = esc_error_set(err, ESC_ENOMEM, "out of memory");
            goto fail;
        }
        r->slots[i].c.want_xml = opts->xml;
        r->slots[i].c.want_parts = interest && interest->parts;
        r->slots[i].c.want_json = opts->json;
        r->slots[i].c.json_sys = opts->keep_sys;
        r->slots[i].c.skip_sys = r->rendering_only && !opts->keep_sys;
        r->slots[i].c.skip_data = r->rendering_only && opts->xml;
    }
    if (r->nthreads > 1) {
        if (pthread_mutex_init(&r->mu, NULL)) {
            st = esc_error_set(err, ESC_EINTERNAL, "cannot create a mutex");
            goto fail;
        }
        pthread_cond_init(&r->work_cv, NULL);
        pthread_cond_init(&r->done_cv, NULL);
        r->locks = true;
        for (int i = 0; i < r->nthreads - 1; i++) {
            r->wargs[i] = (worker){r, i + 1};
            if (pthread_create(&r->workers[i], NULL, worker_main, &r->wargs[i])) {
                stop_workers(r); /* the calling thread decodes everything */
                break;
            }
            r->nworkers++;
        }
    }
    *impl = r;
    return ESC_OK;
fail:
    evtx_free(r);
    return st;
}

/* Add key to the set of yielded events; false when it was there already. */
static esc_status key_add(evtx_reader *r, uint64_t key, bool *added) {
    key = key ? key : 1;
    if (2 * (r->nkeys + 1) > r->keys_cap) {
        size_t nc = r->keys_cap ? 2 * r->keys_cap : 4096;
        uint64_t *k = esc_calloc(nc, sizeof *k);
        if (!k)
            return ESC_ENOMEM;
        for (size_t i = 0; i < r->keys_cap; i++) {
            if (!r->keys[i])
                continue;
            size_t h = (size_t)(r->keys[i] & (nc - 1));
            while (k[h])
                h = (h + 1) & (nc - 1);
            k[h] = r->keys[i];
        }
        esc_free(r->keys);
        r->keys = k;
        r->keys_cap = nc;
    }
    size_t h = (size_t)(key & (r->keys_cap - 1));
    while (r->keys[h]) {
        if (r->keys[h] == key) {
            *added = false;
            return ESC_OK;
        }
        h = (h + 1) & (r->keys_cap - 1);
    }
    r->keys[h] = key;
    r->nkeys++;
    *added = true;
    return ESC_OK;
}

/* With --recover, a recovered record identical to an event yielded before it (same computer,
 * channel, record id and time: a slack-space copy of a live record, or a second copy of a
 * deleted one) is not a second event: it is folded, and no longer counted as a record. A copy
 * that comes before its live twin in file order is not folded (none in the shared samples:
 * slack space holds older data). */
static esc_status fold(evtx_reader *r, const evtx_item *it, bool *folded) {
    bool added = true;
    *folded = false;
    if (!r->recover)
        return ESC_OK;
    esc_status st = key_add(r, it->key, &added);
    if (st || added || !it->recovered)
        return st;
    *folded = true;
    r->stats->records--;
    r->stats->folded++;
    if (it->prefiltered)
        r->stats->prefiltered--;
    return ESC_OK;
}

/* Read chunks into free slots until the ring is full or the input ends. */
static esc_status fill(evtx_reader *r, esc_error *err) {
    esc_status st;
    while (!r->eof && r->tail - r->head < r->nslots) {
        slot *s = &r->slots[r->tail % r->nslots];
        uint64_t off = EVTX_FILE_HEADER + r->next_index * (uint64_t)EVTX_CHUNK_SIZE;
        size_t got = EVTX_CHUNK_SIZE;
        s->read_at = r->read_at && off + EVTX_CHUNK_SIZE <= r->size;
        if (s->read_at) {
            esc_input_skip(r->in, EVTX_CHUNK_SIZE);
        } else if ((st = read_full(r->in, s->c.data, EVTX_CHUNK_SIZE, &got, err))) {
            if (st != ESC_EMALFORMED)
                return st;
            /* the stream ends here: its chunks so far are decoded, then the damage is said */
            r->has_last = true;
            r->last.offset = err ? err->offset : 0;
            snprintf(r->last.msg, sizeof r->last.msg, "%.*s", (int)sizeof r->last.msg - 1,
                     err ? err->msg : esc_strerror(st));
            r->eof = true;
        }
        if (got < EVTX_CHUNK_SIZE)
            r->eof = true;
        if (!got)
            break;
        s->c.len = got;
        s->c.index = r->next_index;
        s->c.file_off = off;
        s->c.in_use = r->next_index < r->header_chunks;
        atomic_store_explicit(&s->seq, r->next_index, memory_order_relaxed);
        r->next_index++;
        atomic_store(&s->state, S_READY); /* then worker_sleeps is read: see worker_main() */
        r->tail++;
        if (atomic_load(&r->worker_sleeps)) {
            pthread_mutex_lock(&r->mu);
            pthread_cond_broadcast(&r->work_cv);
            pthread_mutex_unlock(&r->mu);
        }
    }
    return ESC_OK;
}

/* Have the head slot decoded: by this thread when nobody took it; else, while a worker is at
 * it, decode this thread's own chunks, then anyone's, and wait when there are none. */
static void await_head(evtx_reader *r, slot *s) {
    int ready = S_READY;
    if (atomic_compare_exchange_strong(&s->state, &ready, S_BUSY)) {
        decode_slot(r, s);
        return;
    }
    while (!slot_done(r, s)) {
        if (decode_one(r, 0, false) || decode_one(r, 0, true))
            continue;
        await(r, s, slot_done, &r->main_sleeps, &r->done_cv, &r->main_spin);
    }
}

/* runs: it and the records after it in c whose lines follow its own in the lines buffer, as
 * ev->lines (a record without a line, a warning or the chunk's end stops the run). */
static void take_run(evtx_reader *r, const evtx_chunk *c, const evtx_item *it, esc_event *ev) {
    size_t end = (size_t)it->line.off + it->line.len + 1;
    for (; r->item_pos < c->nitems; r->item_pos++) {
        const evtx_item *next = &c->items[r->item_pos];
        if (next->is_error || next->prefiltered || !next->line.len || next->line.off != end)
            break;
        end = (size_t)next->line.off + next->line.len + 1;
        r->stats->repaired += next->repaired;
    }
    ev->lines = esc_str_make(c->lines.ptr + it->line.off, end - it->line.off);
}

static esc_status evtx_next(void *impl, esc_event *ev, esc_error *err) {
    evtx_reader *r = impl;
    esc_status st;
    if (r->warn_pos < r->nwarn) {
        pending *w = &r->warn[r->warn_pos++];
        return esc_error_at(err, ESC_EMALFORMED, r->path, w->offset, "%s", w->msg);
    }
    if (r->fatal)
        return ESC_EOF; /* said once, when it happened */
    for (;;) {
        if (r->head < r->tail) {
            slot *s = &r->slots[r->head % r->nslots];
            await_head(r, s);
            if (s->st) {
                r->fatal = s->st;
                return esc_error_at(err, s->st, r->path, s->c.file_off, "%s", esc_strerror(s->st));
            }
            evtx_chunk *c = &s->c;
            if (r->item_pos == 0) {
                r->stats->records += c->records;
                r->stats->prefiltered += c->prefiltered;
            }
            if (r->item_pos < c->nitems) {
                const evtx_item *it = &c->items[r->item_pos++];
                if (it->is_error)
                    return esc_error_at(err, ESC_EMALFORMED, r->path, it->offset, "%.*s",
                                        (int)it->msg.len, c->text.ptr + it->msg.off);
                bool folded;
                if ((st = fold(r, it, &folded)))
                    return esc_error_set(err, st, "out of memory");
                if (folded || it->prefiltered)
                    continue;
                /* a rendered line is all a rendering-only caller reads of the fields */
                bool lean = r->rendering_only && it->line.len;
                size_t total = lean ? 0 : (size_t)it->nkv + it->nsys; /* System, then data */
                if (total > r->kv_cap) {
                    size_t nc = total < 64 ? 64 : total;
                    esc_kv *k = esc_realloc(r->kv, nc * sizeof *k);
                    if (!k)
                        return esc_error_set(err, ESC_ENOMEM, "out of memory");
                    r->kv = k;
                    r->kv_cap = nc;
                }
                for (size_t i = 0; i < total; i++) {
                    const evtx_kvspan *k = i < it->nsys ? &c->skvs[it->sys_first + i]
                                                        : &c->kvs[it->kv_first + i - it->nsys];
                    r->kv[i].name = evtx_chunk_str(c, k->name);
                    r->kv[i].value = evtx_chunk_str(c, k->value);
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
                ev->sys = r->kv;
                ev->nsys = it->nsys;
                ev->data = r->kv + it->nsys;
                ev->ndata = lean ? 0 : it->nkv;
                ev->path = r->path;
                ev->offset = it->offset;
                ev->record_id = it->record_id;
                ev->recovered = it->recovered;
                ev->repaired = it->repaired;
                for (int k = 0; k < ESC_XML_NPARTS; k++)
                    ev->parts[k] = evtx_chunk_str(c, it->parts[k]);
                if (c->want_json)
                    ev->json = evtx_item_line(c, it);
                else if (c->want_xml)
                    ev->xml = evtx_item_xml(c, it);
                r->stats->repaired += it->repaired;
                if (r->runs && it->line.len)
                    take_run(r, c, it, ev);
                return ESC_OK;
            }
            /* slot consumed */
            atomic_store_explicit(&s->state, S_FREE, memory_order_relaxed);
            r->head++;
            r->item_pos = 0;
        }
        if ((st = fill(r, err))) {
            r->fatal = st;
            return st;
        }
        if (r->head == r->tail && r->has_last) {
            r->has_last = false;
            return esc_error_at(err, ESC_EMALFORMED, r->path, r->last.offset, "%s", r->last.msg);
        }
        if (r->head == r->tail)
            return ESC_EOF;
    }
}

const esc_reader_ops esc_evtx_reader_ops = {"evtx", evtx_open, evtx_next, evtx_free, NULL};
