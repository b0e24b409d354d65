/* JSON-lines sink: notables to one file, risk events to another, one object a line.
 *
 * Invariants: files are opened for appending (a second hunt adds lines; the event_id tells
 * repeats apart); "-" is standard output; each line goes to the kernel in one writev. One writev
 * is not enough against kill -9: Linux stops a write to a file between pages when the process
 * gets SIGKILL, so a line longer than a page can end torn at a 4 KiB multiple. Opening a regular
 * file therefore repairs it first: a last line without its newline (what such a kill leaves) is
 * cut off, so every line in the file is whole before a new one is appended. Deliberately not
 * done: deduplication (that is the SQLite store's job), rotation, fsync (a crash of the machine,
 * not the process, is the caller's: escudo run cuts the files back to its last checkpoint). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/alloc.h"
#include "sink/sink.h"

typedef struct jsonl_sink {
    esc_sink base;
    int notables, risk; /* file descriptors, -1 when not written */
    bool notables_own, risk_own;
} jsonl_sink;

/* One event, one writev: the object and its newline go down together, so a process killed
 * between events never leaves a torn line (what a stdio buffer flushed half-way would do). */
static esc_status write_line(int fd, const char *json, size_t len, esc_error *err) {
    struct iovec iov[2] = {{(void *)json, len}, {"\n", 1}};
    int n = 2;
    while (n > 0) {
        ssize_t w = writev(fd, iov + (2 - n), n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return esc_error_set(err, ESC_EIO, "writing JSON lines: %s", strerror(errno));
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= iov[2 - n].iov_len) {
            left -= iov[2 - n].iov_len;
            n--;
        }
        if (n > 0) {
            iov[2 - n].iov_base = (char *)iov[2 - n].iov_base + left;
            iov[2 - n].iov_len -= left;
        }
    }
    return ESC_OK;
}

static esc_status jsonl_put(esc_sink *s, const esc_sink_event *ev, esc_error *err) {
    jsonl_sink *j = (jsonl_sink *)s;
    int fd = ev->kind == ESC_SINK_RISK ? j->risk : j->notables;
    if (fd < 0)
        return ESC_OK;
    return write_line(fd, ev->json, ev->json_len, err);
}

static esc_status jsonl_flush(esc_sink *s, esc_error *err) {
    (void)s;
    (void)err;
    return ESC_OK; /* every line is already in the kernel; durability is the caller's fsync */
}

static void jsonl_close(esc_sink *s) {
    jsonl_sink *j = (jsonl_sink *)s;
    if (j->notables >= 0 && j->notables_own)
        close(j->notables);
    if (j->risk >= 0 && j->risk_own && j->risk != j->notables)
        close(j->risk);
    esc_free(j);
}

static const esc_sink_ops jsonl_ops = {
    .name = "jsonl",
    .put = jsonl_put,
    .flush = jsonl_flush,
    .close = jsonl_close,
    .history = NULL,
};

/* A regular file whose last byte is not a newline ends in a torn line: truncate the file after
 * its last newline (to nothing when it has none). */
static esc_status cut_torn_line(int fd, const char *path, esc_error *err) {
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
        return ESC_OK;
    char buf[4096];
    off_t end = sb.st_size, keep = 0;
    bool last = true;
    while (end > 0) {
        size_t n = end < (off_t)sizeof buf ? (size_t)end : sizeof buf;
        ssize_t r = pread(fd, buf, n, end - (off_t)n);
        if (r != (ssize_t)n)
            return esc_error_set(err, ESC_EIO, "%s: reading its end: %s", path,
                                 r < 0 ? strerror(errno) : "short read");
        if (last && buf[n - 1] == '\n')
            return ESC_OK; /* whole lines only */
        last = false;
        const char *nl = memrchr(buf, '\n', n);
        if (nl) {
            keep = end - (off_t)n + (nl - buf) + 1;
            break;
        }
        end -= (off_t)n;
    }
    if (ftruncate(fd, keep) != 0)
        return esc_error_set(err, ESC_EIO, "%s: cutting a torn last line: %s", path,
                             strerror(errno));
    return ESC_OK;
}

static esc_status open_one(const char *path, int *fd, bool *own, esc_error *err) {
    if (!path)
        return ESC_OK;
    if (strcmp(path, "-") == 0) {
        fflush(stdout); /* whatever the caller printed comes first */
        *fd = 1;
        *own = false;
        return ESC_OK;
    }
    bool can_read = true;
    *fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (*fd < 0 && errno == EACCES) {
        can_read = false; /* a write-only file: appended to, not repaired */
        *fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    if (*fd < 0)
        return esc_error_set(err, ESC_EIO, "%s: %s", path, strerror(errno));
    *own = true;
    return can_read ? cut_torn_line(*fd, path, err) : ESC_OK;
}

esc_status esc_sink_jsonl_open(const char *notables_path, const char *risk_path, esc_sink **out,
                               esc_error *err) {
    *out = NULL;
    jsonl_sink *j = esc_calloc(1, sizeof *j);
    if (!j)
        return esc_error_set(err, ESC_ENOMEM, "out of memory");
    j->base.ops = &jsonl_ops;
    j->notables = j->risk = -1;
    esc_status st = open_one(notables_path, &j->notables, &j->notables_own, err);
    if (st == ESC_OK) {
        if (risk_path && notables_path && strcmp(risk_path, notables_path) == 0) {
            j->risk = j->notables;
            j->risk_own = j->notables_own;
        } else
            st = open_one(risk_path, &j->risk, &j->risk_own, err);
    }
    if (st != ESC_OK) {
        jsonl_close(&j->base);
        return st;
    }
    *out = &j->base;
    return ESC_OK;
}
