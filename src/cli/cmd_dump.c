/* `escudo dump`: print every record of every input as XmlWinEventLog or JSON lines.
 *
 * Reads any format the reader dispatcher knows (EVTX, XML, JSON lines; gzip; directories;
 * "-" for stdin) with an interest set that wants everything, and writes one line per record to
 * standard output, in input order. Warnings about broken records go to standard error with the
 * file and byte offset; the records around them are still printed. Exit codes (SPEC section 5):
 * 0 ran, 1 warnings under --strict, 2 usage, 3 I/O or internal error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "fields/fields.h"
#include "ingest/input.h"
#include "parse/reader.h"
#include "parse/render.h"

int esc_cmd_dump(int argc, char **argv);

/* Options are parsed by hand below; this table makes --help, the man page and completions. */
static const esc_opt dump_opts[] = {
    {"format", "xml|json|none",
     "XmlWinEventLog lines (default), escudo's JSON dump lines, or\n                           "
     "nothing (decode only: the benchmarks' floor)"},
    {"data-object", NULL, "JSON: \"data\" as an object (a repeated name: an array of values)"},
    {"system", NULL,
     "JSON: also every System element and attribute (\"system\"), so that\n"
     "                           a hunt over the dump sees what one over its source sees"},
    {"fields", NULL, "each event as Splunk's search-time fields (JSON lines; docs/fields.md)"},
    {"native", NULL, "with --fields: the log's own values where an add-on bends them"},
    {"at", "PATH:OFFSET",
     "print only the record at this byte offset of PATH (an evidence\n"
     "                           reference of hunt --evidence or the timeline); repeat it\n"
     "                           for more records of the same PATH, printed in file order"},
    {"recover", NULL, "EVTX: also print deleted records found in slack space"},
    {"threads", "N", "EVTX: decode chunks on N threads (default 2; output is the same)"},
    {"strict", NULL, "exit 1 when any warning was printed"},
    {"help", NULL, "show this help"},
};
const esc_cmd_doc esc_doc_dump = {"[OPTIONS] FILE...", dump_opts,
                                  sizeof dump_opts / sizeof dump_opts[0]};

static void usage(FILE *f) {
    esc_usage(f, "dump", esc_doc_dump.synopsis, "Print every record of every input, one per line.",
              dump_opts, esc_doc_dump.nopts);
    fputs("\nFILE may be a directory (read recursively) or - for standard input; gzip is read\n"
          "transparently.\n",
          f);
}

static void print_folded(uint64_t folded) {
    if (folded)
        fprintf(stderr,
                "escudo dump: %llu recovered records folded into identical events (same "
                "computer, channel, record id and time)\n",
                (unsigned long long)folded);
}

static void print_warning(const esc_error *e) {
    if (e->path && e->has_offset)
        esc_say(stderr, "escudo: warning: %s: offset %llu: %s", e->path,
                (unsigned long long)e->offset, e->msg);
    else if (e->path)
        esc_say(stderr, "escudo: warning: %s: %s", e->path, e->msg);
    else
        esc_say(stderr, "escudo: warning: %s", e->msg);
}

/* One event after search-time extraction, appended to line: {"_time":..,"field":"v" or
 * ["v1","v2"],...}, fields in the order they were first extracted, multivalue fields as arrays. */
static esc_status render_fields(const esc_event *ev, bool native, esc_arena *a, esc_buf *line) {
    esc_fields fs;
    esc_arena_reset(a);
    esc_status st = esc_fields_extract(ev, native, a, &fs, NULL);
    if (!st)
        st = esc_buf_putc(line, '{');
    bool first = true;
    if (!st && fs.has_time) {
        if (!(st = esc_buf_append_c(line, "\"_time\":\"")) &&
            !(st = esc_render_time(fs.time_us, line)))
            st = esc_buf_putc(line, '"');
        first = false;
    }
    for (size_t i = 0; !st && i < fs.n; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = esc_str_eq(fs.f[j].name, fs.f[i].name);
        if (dup)
            continue;
        size_t nv = 0;
        for (size_t j = i; j < fs.n; j++)
            nv += esc_str_eq(fs.f[j].name, fs.f[i].name);
        if (!first)
            st = esc_buf_putc(line, ',');
        first = false;
        if (!st && !(st = esc_render_json_str(line, fs.f[i].name)))
            st = esc_buf_append_c(line, nv > 1 ? ":[" : ":");
        for (size_t j = i, k = 0; !st && j < fs.n; j++) {
            if (!esc_str_eq(fs.f[j].name, fs.f[i].name))
                continue;
            if (k++ && (st = esc_buf_putc(line, ',')))
                break;
            st = esc_render_json_str(line, fs.f[j].value);
        }
        if (!st && nv > 1)
            st = esc_buf_putc(line, ']');
    }
    if (!st)
        st = esc_buf_append_c(line, "}\n");
    return st;
}

/* False (with the message) when the options cannot go together or no input is given. */
static bool options_agree(size_t npaths, bool json, const char *json_opt, bool fields, bool native,
                          bool at) {
    if (npaths && !(json_opt && !json) && !(native && !fields) && !(fields && (json_opt || json)) &&
        !(at && npaths > 1))
        return true;
    if (at && npaths > 1)
        fprintf(stderr, "escudo dump: --at names its file; give no other\n");
    else if (npaths && native && !fields)
        fprintf(stderr, "escudo dump: --native needs --fields\n");
    else if (npaths && fields)
        fprintf(stderr, "escudo dump: --fields writes its own JSON lines (no --format)\n");
    else if (npaths)
        fprintf(stderr, "escudo dump: %s needs --format json\n", json_opt);
    else
        usage(stderr);
    return false;
}

/* What the reading loop prints, and what it learns. */
typedef struct printing {
    bool json, object, none; /* none: decode only, print nothing */
    bool system;             /* --system: JSON with the System pairs */
    bool fields, native;     /* --fields: search-time fields, in arena */
    esc_arena arena;
    const char *at_path; /* --at: only the records at these offsets (sorted, unique) */
    uint64_t *at_offs;
    bool *at_found;
    size_t nat;
    unsigned long warnings;
    esc_buf line;
} printing;

/* One record as its line (with the line break), appended to out: the EVTX reader's own
 * rendering when it made one on its decoding threads, else rendered here (JSON with its System
 * pairs only for --system: the readers fill them for dump's interest set). */
static esc_status render_line(const esc_event *ev, const printing *p, esc_buf *out) {
    esc_event own;
    if (ev->nsys && !p->system) {
        own = *ev;
        own.nsys = 0;
        ev = &own;
    }
    esc_status st = ev->json.len ? esc_buf_append(out, ev->json.ptr, ev->json.len)
                    : p->object  ? esc_render_json_object(ev, out)
                    : p->json    ? esc_render_json(ev, out)
                                 : esc_render_xml(ev, out);
    return st ? st : esc_buf_putc(out, '\n');
}

/* Lines are collected and written FLUSH_AT bytes at a time (one write per many records), and
 * before every warning, so standard output and standard error keep their relative order. */
#define FLUSH_AT (256u << 10)

static bool flush_out(esc_buf *out) {
    bool ok = fwrite(out->ptr, 1, out->len, stdout) == out->len && fflush(stdout) == 0;
    esc_buf_clear(out);
    return ok;
}

/* A run of lines made on the decoding threads, written as it is: what stdio holds first, then
 * the run with write(2) (fwrite would copy the ends of every run into its buffer, bytes made on
 * another core, and write them in two more calls). */
static bool write_run(esc_str run) {
    if (fflush(stdout) != 0)
        return false;
    int fd = fileno(stdout);
    while (run.len) {
        ssize_t n = write(fd, run.ptr, run.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        run.ptr += n;
        run.len -= (size_t)n;
    }
    return true;
}

/* Whether --at asked for the record at off; marks it found. */
static bool at_wanted(printing *p, uint64_t off) {
    size_t lo = 0, hi = p->nat;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->at_offs[mid] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->nat || p->at_offs[lo] != off)
        return false;
    p->at_found[lo] = true;
    return true;
}

/* Every record of r as lines into p->line (flushed as it fills, and before each warning);
 * 0, or 3 after an I/O or internal error (said). */
static int print_events(esc_reader *r, const char *file, printing *p) {
    for (;;) {
        esc_event ev;
        esc_error err;
        esc_error_clear(&err);
        esc_status st = esc_reader_next(r, &ev, &err);
        if (st == ESC_EOF)
            return 0;
        if (st && p->line.len && !flush_out(&p->line)) {
            fprintf(stderr, "escudo dump: write error\n");
            return 3;
        }
        if (st == ESC_EMALFORMED) {
            print_warning(&err);
            p->warnings++;
            continue;
        }
        if (st) {
            esc_say(stderr, "escudo dump: %s: %s", file, err.msg);
            return 3;
        }
        if (p->at_path && !at_wanted(p, ev.offset))
            continue;
        if (p->none) /* every record decoded whole, nothing written: benchmarks' floor */
            continue;
        if (ev.lines.len) { /* a run of lines made on the decoding threads: written as it is */
            if ((p->line.len && !flush_out(&p->line)) || !write_run(ev.lines)) {
                fprintf(stderr, "escudo dump: write error\n");
                return 3;
            }
            continue;
        }
        if (p->fields ? render_fields(&ev, p->native, &p->arena, &p->line)
                      : render_line(&ev, p, &p->line)) {
            fprintf(stderr, "escudo dump: out of memory\n");
            return 3;
        }
        if (p->line.len >= FLUSH_AT && !flush_out(&p->line)) {
            fprintf(stderr, "escudo dump: write error\n");
            return 3;
        }
    }
}

/* One input: its records printed through p, its warnings counted in p->warnings; 0, or 3 after
 * an I/O or internal error (said). */
static int dump_file(const char *file, const esc_interest *everything, const esc_reader_opts *opts,
                     printing *p, uint64_t *folded) {
    esc_input *in = NULL;
    esc_reader *r = NULL;
    esc_error err;
    esc_error_clear(&err);
    esc_status st = esc_input_open(file, &in, &err);
    if (st) {
        esc_say(stderr, "escudo dump: %s: %s", file, err.msg);
        return 3;
    }
    st = esc_reader_open(in, everything, opts, &r, &err);
    if (st == ESC_SKIP || st == ESC_EMALFORMED) {
        print_warning(&err);
        p->warnings++;
        esc_input_free(in);
        return 0;
    }
    if (st) {
        esc_say(stderr, "escudo dump: %s: %s", file, err.msg);
        esc_input_free(in);
        return 3;
    }
    int rc = print_events(r, file, p) != 0 ? 3 : 0;
    if (p->line.len && !flush_out(&p->line) && rc != 3) {
        fprintf(stderr, "escudo dump: write error\n");
        rc = 3;
    }
    *folded += esc_reader_stats_get(r)->folded;
    esc_reader_free(r);
    esc_input_free(in);
    return rc;
}

/* --at PATH:OFFSET, repeatable for one PATH, at most MAX_AT times (docs/limits.md). */
#define MAX_AT 100000

typedef struct at_list {
    char *path;
    uint64_t *offs;
    size_t n, cap;
} at_list;

/* One --at value into a: 0, or 2 after the message (3 out of memory). */
static int parse_at(const char *v, at_list *a) {
    const char *colon = v ? strrchr(v, ':') : NULL;
    char *endp = NULL;
    unsigned long long o = colon && colon[1] ? strtoull(colon + 1, &endp, 10) : 0;
    if (!colon || colon == v || !endp || *endp) {
        fprintf(stderr, "escudo dump: --at takes PATH:OFFSET (a byte offset)\n");
        return 2;
    }
    size_t plen = (size_t)(colon - v);
    if (a->path && (strlen(a->path) != plen || memcmp(a->path, v, plen))) {
        fprintf(stderr, "escudo dump: every --at names the same file\n");
        return 2;
    }
    if (a->n == MAX_AT) {
        fprintf(stderr, "escudo dump: more than %d --at references\n", MAX_AT);
        return 2;
    }
    if (!a->path && !(a->path = strndup(v, plen)))
        return 3;
    if (!ESC_VEC_GROW(a->offs, a->cap, a->n + 1, 16))
        return 3;
    a->offs[a->n++] = o;
    return 0;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The offsets sorted and unique, with a found flag each, into p: false when out of memory. */
static bool at_prepare(at_list *a, printing *p) {
    if (!a->path)
        return true;
    qsort(a->offs, a->n, sizeof *a->offs, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < a->n; i++)
        if (!w || a->offs[w - 1] != a->offs[i])
            a->offs[w++] = a->offs[i];
    a->n = w;
    p->at_path = a->path;
    p->at_offs = a->offs;
    p->nat = a->n;
    return (p->at_found = calloc(a->n, sizeof *p->at_found)) != NULL;
}

int esc_cmd_dump(int argc, char **argv) {
    bool json = false, strict = false, object = false, fields = false, native = false;
    bool none = false;
    esc_reader_opts opts = {0};
    opts.threads = 2;
    const char **paths = NULL;
    size_t npaths = 0;
    at_list at = {0}; /* --at: the records wanted */
    printing pr = {0};
    char **files = NULL;
    size_t nfiles = 0, skipped = 0;
    unsigned long warnings = 0;
    uint64_t folded = 0;
    int rc = 0;
    esc_buf_init(&pr.line, 0);
    esc_arena_init(&pr.arena, 0, 64u << 20); /* one event's fields (docs/limits.md) */
    esc_interest everything;
    memset(&everything, 0, sizeof everything);
    everything.everything = true;

    paths = calloc((size_t)argc + 1, sizeof *paths);
    if (!paths) {
        fputs("escudo: out of memory\n", stderr);
        return 3;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto done;
        } else if (!strcmp(a, "--format") || !strncmp(a, "--format=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (v && !strcmp(v, "json"))
                json = true, none = false;
            else if (v && !strcmp(v, "xml"))
                json = false, none = false;
            else if (v && !strcmp(v, "none"))
                json = false, none = true;
            else {
                fprintf(stderr, "escudo dump: --format takes xml, json or none\n");
                rc = 2;
                goto done;
            }
        } else if (!strcmp(a, "--at") || !strncmp(a, "--at=", 5)) {
            const char *v = a[4] == '=' ? a + 5 : (i + 1 < argc ? argv[++i] : NULL);
            if ((rc = parse_at(v, &at)) != 0)
                goto done;
            if (at.n == 1)
                paths[npaths++] = at.path;
        } else if (!strcmp(a, "--data-object")) {
            object = true;
        } else if (!strcmp(a, "--system")) {
            pr.system = true;
        } else if (!strcmp(a, "--fields") || !strcmp(a, "--native")) {
            *(a[2] == 'f' ? &fields : &native) = true;
        } else if (!strcmp(a, "--recover")) {
            opts.recover = true;
        } else if (!strcmp(a, "--strict")) {
            strict = true;
        } else if (!strcmp(a, "--threads") || !strncmp(a, "--threads=", 10)) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            char *endp = NULL;
            long n = v ? strtol(v, &endp, 10) : -1;
            if (!v || *endp || n < 0 || n > 64) {
                fprintf(stderr, "escudo dump: --threads takes a number from 0 to 64\n");
                rc = 2;
                goto done;
            }
            opts.threads = (int)n;
        } else if (a[0] == '-' && a[1]) {
            esc_say(stderr, "escudo dump: unknown option %s", a);
            usage(stderr);
            rc = 2;
            goto done;
        } else {
            paths[npaths++] = a;
        }
    }
    const char *json_opt = object ? "--data-object" : pr.system ? "--system" : NULL;
    if (!options_agree(npaths, json, json_opt, fields, native, at.path != NULL)) {
        rc = 2;
        goto done;
    }

    everything.parts = fields;            /* the whole-element fields (EVTX: rendered for them) */
    opts.xml = !json && !fields && !none; /* EVTX records then carry their whole rendering */
    opts.json = json && !fields ? (object ? 2 : 1) : 0; /* rendered on the decoding threads */
    opts.rendering_only = opts.xml || opts.json;        /* lines print nothing else */
    opts.keep_sys = opts.json && pr.system;
    opts.runs = opts.rendering_only && !at.path; /* --at picks records one by one */
    esc_error err;
    esc_error_clear(&err);
    if (esc_paths_expand(paths, npaths, &files, &nfiles, &skipped, &err)) {
        esc_say(stderr, "escudo dump: %s", err.msg);
        rc = 3;
        goto done;
    }
    warnings += skipped;
    pr.json = json;
    pr.object = object;
    pr.fields = fields;
    pr.none = none;
    pr.native = native;
    if (!at_prepare(&at, &pr)) {
        fputs("escudo: out of memory\n", stderr);
        rc = 3;
        goto done;
    }
    for (size_t f = 0; f < nfiles && rc != 3; f++)
        rc = dump_file(files[f], &everything, &opts, &pr, &folded);
    print_folded(folded);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "escudo dump: write error\n");
        rc = 3;
    }
    warnings += pr.warnings;
    if (rc == 0 && strict && warnings)
        rc = 1;
    bool all_found = true;
    for (size_t i = 0; rc == 0 && i < pr.nat; i++)
        if (!pr.at_found[i]) {
            esc_say(stderr, "escudo dump: %s: no record at offset %llu", at.path,
                    (unsigned long long)pr.at_offs[i]);
            all_found = false;
        }
    if (!all_found)
        rc = 1;
done:
    free(at.path);
    esc_free(at.offs);
    free(pr.at_found);
    esc_paths_free(files, nfiles);
    free(paths);
    esc_buf_fini(&pr.line);
    esc_arena_fini(&pr.arena);
    return rc;
}
