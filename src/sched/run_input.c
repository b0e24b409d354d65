/* Following the run's inputs: files (and the files appearing in directories) as they grow, and
 * standard input (docs/run.md).
 *
 * Each file has a checkpointed offset and identity (inode, a hash of its first bytes); a file
 * whose identity changed was rotated or truncated and is read again from its start. How a file
 * is read comes from parse/ (esc_follow_kind): a text format (UTF-8 XmlWinEventLog, JSON lines)
 * is read in chunks of at most CHUNK bytes that end where parse/ says the last complete record
 * ends (esc_follow_last_end), so a record still being written is left for the next poll; each
 * chunk is read from memory by the ordinary readers (esc_input_open_mem with the chunk's offset).
 * Other inputs (EVTX, gzip, UTF-16, JSON arrays) are streamed whole, skipping the records before
 * the saved offset. Every record goes through the engine's feeder (detect/engine.h).
 * Invariants: an input's offset only moves past records handed to the feeder, or past a record
 * reported as skipped; at most one chunk (or STEP_EVENTS records of a stream) per input per pass.
 * Not done here: any knowledge of a format (parse/ has it), mapping or keeping records (the
 * feeder and run_window.c), the checkpoint transaction (run.c), resuming standard input. */
#include "sched/run_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

#define CHUNK (4u << 20) /* text bytes read per input per pass */
#define CHUNK_MAX RUN_CHUNK_MAX
#define STEP_EVENTS 20000 /* records per whole-file input per pass */

/* Every record of an opened reader, at most max of them, through the feeder. */
static esc_status drain(esc_runner *r, esc_reader *rd, const char *path, uint64_t skip_before,
                        size_t max, uint64_t *next_off, esc_error *err) {
    const esc_feeder_stats *fs = esc_feeder_stats_get(r->feed);
    uint64_t start = fs->pulled;
    for (;;) {
        size_t left = max - (size_t)(fs->pulled - start);
        if (left == 0)
            return ESC_OK;
        esc_error e = {0};
        bool failed = false;
        esc_status st = esc_feeder_pull(r->feed, rd, skip_before, left, next_off, &failed, &e);
        if (st == ESC_OK || st == ESC_EOF)
            return st;
        if (failed) {
            esc_run_msg_err(r, path, &e);
            return st == ESC_ENOMEM ? esc_error_set(err, st, "out of memory") : ESC_EIO;
        }
        if (st == ESC_EMALFORMED) {
            r->stats.malformed++;
            esc_run_msg_err(r, path, &e);
            continue;
        }
        if (st == ESC_SKIP) /* a record kept with a repaired value */
            continue;
        *err = e;
        return st;
    }
}

/* Read n bytes of text, the input's bytes from offset base, as an input of their own. */
esc_status esc_run_read_text(esc_runner *r, const char *path, const unsigned char *p, size_t n,
                             uint64_t base, esc_error *err) {
    /* the last text's input, made over these bytes (one per Kafka message, as the reader) */
    esc_status st = r->text_in ? esc_input_reopen_mem(r->text_in, p, n, path, base, err)
                               : esc_input_open_mem(p, n, path, base, &r->text_in, err);
    if (st)
        return st;
    esc_input *in = r->text_in;
    esc_error e = {0};
    /* the last text's reader when it can read this one (opening one per Kafka message was a
     * tenth of a worker's CPU) */
    if (!r->text_rd || !esc_reader_restart(r->text_rd, in)) {
        esc_reader_free(r->text_rd);
        r->text_rd = NULL;
        st = esc_reader_open(in, esc_engine_interest(r->o.engine), &(esc_reader_opts){0},
                             &r->text_rd, &e);
    }
    if (st == ESC_SKIP) { /* no record in this chunk (blank lines, a closing tag) */
        st = ESC_OK;
        goto done;
    }
    if (st) {
        esc_run_msg_err(r, path, &e);
        goto done;
    }
    st = drain(r, r->text_rd, path, 0, SIZE_MAX, NULL, err);
    if (st == ESC_EOF)
        st = ESC_OK;
done:
    return st;
}

static void close_whole(run_in *in) {
    esc_reader_free(in->rd);
    esc_input_free(in->in);
    in->rd = NULL;
    in->in = NULL;
}

void esc_run_inputs_free(esc_runner *r) {
    esc_reader_free(r->text_rd);
    r->text_rd = NULL;
    esc_input_free(r->text_in);
    r->text_in = NULL;
    for (size_t i = 0; i < r->nin; i++) {
        close_whole(&r->in[i]);
        esc_buf_fini(&r->in[i].pend);
        esc_free(r->in[i].path);
    }
    esc_free(r->in);
    for (size_t i = 0; i < r->ndirs; i++)
        esc_free(r->dirs[i]);
    esc_free(r->dirs);
}

/* Look at a file: identity, rotation/truncation, how to read it. False when nothing to do. */
static bool look(esc_runner *r, run_in *in, const struct stat *sb) {
    esc_input *x = NULL;
    esc_error e = {0};
    if (esc_input_open(in->path, &x, &e)) {
        esc_run_msg_err(r, in->path, &e);
        return false;
    }
    const unsigned char *head;
    size_t n = 0;
    if (esc_input_peek(x, ESC_CKPT_HEAD_MAX, &head, &n, &e)) {
        esc_run_msg_err(r, in->path, &e);
        esc_input_free(x);
        return false;
    }
    bool gz = esc_input_is_gzip(x);
    if (in->have) {
        esc_ckpt_input saved = {in->path, in->inode, in->offset, in->head_len, in->head_hash};
        esc_ckpt_decision d = esc_ckpt_input_decide(
            &saved, (uint64_t)sb->st_ino, gz ? UINT64_MAX : (uint64_t)sb->st_size, head, n);
        if (d != ESC_CKPT_RESUME) {
            esc_run_msg(r, "%s: %s: reading it from the start", in->path,
                        d == ESC_CKPT_ROTATED ? "rotated" : "truncated");
            in->offset = 0;
            in->resync = false;
            in->mode = ESC_FOLLOW_UNKNOWN;
            close_whole(in);
        }
    }
    in->have = true;
    in->inode = (uint64_t)sb->st_ino;
    in->head_len = (uint32_t)n;
    in->head_hash = esc_ckpt_head_hash(head, n);
    in->dirty = true;
    if (in->mode == ESC_FOLLOW_UNKNOWN)
        in->mode = esc_follow_kind(head, n, gz);
    esc_input_free(x);
    return in->mode != ESC_FOLLOW_UNKNOWN;
}

/* Offset just past the first record end at or after from, or 0 when none is written before
 * size. Reads through r->chunk, CHUNK bytes at a time. */
static uint64_t record_end(esc_runner *r, int fd, uint64_t from, uint64_t size, esc_follow k) {
    while (from < size) {
        size_t want = size - from > CHUNK ? CHUNK : (size_t)(size - from);
        ssize_t got = pread(fd, r->chunk, want, (off_t)from);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        size_t n = (size_t)got, end, resume;
        if (esc_follow_first_end(k, r->chunk, n, &end, &resume))
            return from + end;
        if (from + n >= size)
            return 0;
        from += resume;
    }
    return 0;
}

/* Past the rest of a record already reported as skipped (or to size while it goes on). */
static void skip_record(esc_runner *r, run_in *in, int fd, uint64_t from, uint64_t size,
                        bool *progress) {
    uint64_t end = record_end(r, fd, from, size, in->mode);
    in->resync = !end;
    in->offset = end ? end : size;
    in->dirty = true;
    in->pending = in->offset < size;
    *progress = true;
}

/* Up to CHUNK bytes from the input's offset into r->chunk, more (up to CHUNK_MAX) while no
 * record ends in them. *b: where the last record in them ends (0: none). */
static esc_status read_chunk(esc_runner *r, run_in *in, int fd, uint64_t size, size_t *got,
                             size_t *b) {
    size_t want = size - in->offset > CHUNK ? CHUNK : (size_t)(size - in->offset);
    *got = *b = 0;
    for (;;) {
        ssize_t k = pread(fd, r->chunk + *got, want - *got, (off_t)(in->offset + *got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            esc_run_msg(r, "%s: read failed: %s", in->path, strerror(errno));
            return ESC_EIO;
        }
        *got += (size_t)k;
        if (k > 0 && *got < want)
            continue;
        *b = esc_follow_last_end(in->mode, r->chunk, *got);
        if (*b || *got < want || want == CHUNK_MAX || size - in->offset <= want)
            return ESC_OK;
        want = size - in->offset > CHUNK_MAX ? CHUNK_MAX : (size_t)(size - in->offset);
    }
}

/* One chunk of a text file. *progress set when bytes were consumed. */
static esc_status poll_text(esc_runner *r, run_in *in, uint64_t size, bool *progress,
                            esc_error *err) {
    if (in->offset >= size) {
        in->pending = false;
        return ESC_OK;
    }
    int fd = open(in->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        esc_run_msg(r, "%s: cannot open: %s", in->path, strerror(errno));
        return ESC_OK;
    }
    esc_status st = ESC_OK;
    size_t got, b;
    if (in->resync) { /* the rest of a record already reported as skipped */
        skip_record(r, in, fd, in->offset, size, progress);
    } else if (read_chunk(r, in, fd, size, &got, &b) == ESC_OK) { /* else tried at next poll */
        if (!b && got == CHUNK_MAX) {
            /* the whole record is skipped, up to its end (or what is written of it): what
             * follows it starts a record, so the next chunk is read as records again */
            r->stats.malformed++;
            esc_run_msg(r, "%s: offset %llu: no record end within %u bytes: skipped", in->path,
                        (unsigned long long)in->offset, CHUNK_MAX);
            skip_record(r, in, fd, in->offset + got, size, progress);
        } else if (!b) {
            in->pending = false; /* a record still being written */
        } else if ((st = esc_run_read_text(r, in->path, r->chunk, b, in->offset, err)) == ESC_OK) {
            in->offset += b;
            in->dirty = true;
            in->pending = in->offset < size;
            *progress = true;
        }
    }
    close(fd);
    return st;
}

static esc_status poll_whole(esc_runner *r, run_in *in, bool *progress, esc_error *err) {
    esc_error e = {0};
    if (!in->rd) {
        esc_status st = esc_input_open(in->path, &in->in, &e);
        if (!st)
            st = esc_reader_open(in->in, esc_engine_interest(r->o.engine), &(esc_reader_opts){0},
                                 &in->rd, &e);
        if (st) {
            if (st != ESC_SKIP)
                esc_run_msg_err(r, in->path, &e);
            close_whole(in);
            in->pending = false;
            return ESC_OK;
        }
        in->skip_before = in->offset;
    }
    uint64_t next = in->offset;
    esc_status st = drain(r, in->rd, in->path, in->skip_before, STEP_EVENTS, &next, err);
    if (next > in->offset) {
        in->offset = next;
        in->dirty = true;
        *progress = true;
    }
    if (st == ESC_EOF) {
        uint64_t end = esc_input_offset(in->in);
        if (end > in->offset) {
            in->offset = end;
            in->dirty = true;
        }
        close_whole(in);
        in->pending = false;
        return ESC_OK;
    }
    if (st) {
        close_whole(in);
        in->pending = false;
        return st == ESC_EIO ? ESC_OK : st;
    }
    in->pending = true;
    return ESC_OK;
}

/* More bytes of standard input into in->pend, without waiting (a second with stdin_replay). */
static esc_status read_stdin(esc_runner *r, run_in *in, bool *progress, esc_error *err) {
    struct pollfd pf = {0, POLLIN, 0};
    int ready = poll(&pf, 1, r->o.stdin_replay ? 1000 : 0);
    if (ready <= 0 && r->o.stdin_replay)
        *progress = true; /* not caught up before its end */
    if (ready <= 0)
        return ESC_OK;
    if (esc_buf_reserve(&in->pend, CHUNK - in->pend.len))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    ssize_t k = read(0, in->pend.ptr + in->pend.len, CHUNK - in->pend.len);
    if (k <= 0 && !(k < 0 && errno == EINTR))
        in->stdin_eof = true;
    else if (k > 0)
        in->pend.len += (size_t)k;
    return ESC_OK;
}

static esc_status poll_stdin(esc_runner *r, run_in *in, bool *progress, esc_error *err) {
    if (in->stdin_eof && in->pend.len == 0)
        return ESC_OK;
    esc_status st;
    if (!in->stdin_eof && in->pend.len < CHUNK && (st = read_stdin(r, in, progress, err)))
        return st;
    if (in->pend.len == 0)
        return ESC_OK;
    const unsigned char *p = (const unsigned char *)in->pend.ptr;
    if (in->mode == ESC_FOLLOW_UNKNOWN) {
        in->mode = esc_follow_kind_text(p, in->pend.len);
        if (in->mode == ESC_FOLLOW_UNKNOWN) {
            if (in->stdin_eof || in->pend.len >= 64) {
                esc_run_msg(r,
                            "-: standard input is followed only as XmlWinEventLog or JSON lines");
                in->stdin_eof = true;
                in->pend.len = 0;
            }
            return ESC_OK;
        }
    }
    size_t b = esc_follow_last_end(in->mode, p, in->pend.len);
    if (!b && (in->stdin_eof || in->pend.len >= CHUNK))
        b = in->pend.len; /* the last record, or one too large to wait for */
    if (!b)
        return ESC_OK;
    st = esc_run_read_text(r, "-", p, b, in->stdin_off, err);
    memmove(in->pend.ptr, in->pend.ptr + b, in->pend.len - b);
    in->pend.len -= b;
    in->stdin_off += b;
    *progress = true;
    return st;
}

esc_status esc_run_add_input(esc_runner *r, const char *path, esc_error *err) {
    for (size_t i = 0; i < r->nin; i++)
        if (strcmp(r->in[i].path, path) == 0)
            return ESC_OK;
    if (r->nin >= ESC_RUN_MAX_INPUTS)
        return esc_error_set(err, ESC_ELIMIT, "more than %d inputs", ESC_RUN_MAX_INPUTS);
    run_in *p = esc_realloc(r->in, (r->nin + 1) * sizeof *p);
    if (!p)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    r->in = p;
    run_in *in = &r->in[r->nin];
    memset(in, 0, sizeof *in);
    if (!(in->path = esc_strdup(path)))
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    in->is_stdin = strcmp(path, "-") == 0;
    esc_buf_init(&in->pend, CHUNK);
    in->pending = true;
    r->nin++;
    if (!in->is_stdin) {
        esc_ckpt_input saved;
        esc_status st = esc_ckpt_get_input(r->ck, path, &saved, err);
        if (st == ESC_OK) {
            in->have = true;
            in->inode = saved.inode;
            in->offset = saved.offset;
            in->head_len = saved.head_len;
            in->head_hash = saved.head_hash;
        } else if (st != ESC_EOF) {
            return st;
        }
        r->meta_dirty = true;
    }
    return ESC_OK;
}

static esc_status expand_dirs(esc_runner *r, esc_error *err) {
    for (size_t i = 0; i < r->ndirs; i++) {
        char **f = NULL;
        size_t n = 0, sk = 0;
        esc_error e = {0};
        const char *d = r->dirs[i];
        if (esc_paths_expand(&d, 1, &f, &n, &sk, &e) != ESC_OK)
            continue;
        esc_status st = ESC_OK;
        for (size_t k = 0; k < n && !st; k++)
            st = esc_run_add_input(r, f[k], err);
        esc_paths_free(f, n);
        if (st)
            return st;
    }
    return ESC_OK;
}

esc_status esc_run_read_pass(esc_runner *r, bool *progress, esc_error *err) {
    esc_status st = expand_dirs(r, err);
    for (size_t i = 0; !st && i < r->nin; i++) {
        run_in *in = &r->in[i];
        if (in->is_kafka)
            continue; /* run_kafka.c reads them */
        if (in->is_stdin) {
            st = poll_stdin(r, in, progress, err);
            continue;
        }
        struct stat sb;
        if (stat(in->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            if (!in->missing)
                esc_run_msg(r, "%s: not readable now: %s", in->path, strerror(errno));
            in->missing = true;
            close_whole(in);
            continue;
        }
        in->missing = false;
        bool changed =
            !in->have || (uint64_t)sb.st_ino != in->inode || (uint64_t)sb.st_size != in->seen_size;
        if (!changed && !in->pending)
            continue;
        if (changed && !in->rd && !look(r, in, &sb))
            continue;
        in->seen_size = (uint64_t)sb.st_size;
        if (in->mode == ESC_FOLLOW_WHOLE)
            st = poll_whole(r, in, progress, err);
        else if (in->mode != ESC_FOLLOW_UNKNOWN)
            st = poll_text(r, in, (uint64_t)sb.st_size, progress, err);
    }
    if (!st && r->kafka)
        st = esc_run_kafka_pass(r, progress, err);
    return st;
}
