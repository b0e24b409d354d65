/* Byte sources: files, standard input, gzip, directories, and format sniffing.
 *
 * An esc_input is a forward-only stream of the uncompressed bytes of one input. gzip is
 * recognised by its magic and decompressed transparently (concatenated members included);
 * offsets are always offsets in the uncompressed stream. Nothing here knows about events. */
#ifndef ESC_INGEST_INPUT_H
#define ESC_INGEST_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct esc_input esc_input;

/* Open path ("-" = standard input). The name is copied. */
esc_status esc_input_open(const char *path, esc_input **out, esc_error *err);
/* An input over n bytes in memory, read as they are (no gzip): for a piece of a larger input
 * (the scheduler's chunks of a growing file). p is borrowed and must outlive the input; name
 * (copied) names it in messages and events; its offsets (esc_input_offset) start at base, the
 * piece's offset in the larger input, so readers report positions in that input. */
esc_status esc_input_open_mem(const void *p, size_t n, const char *name, uint64_t base,
                              esc_input **out, esc_error *err);
/* An input of esc_input_open_mem made over other bytes, as if opened anew (its allocations
 * reused: escudo run reads each Kafka message as an input of its own). ESC_EUSAGE when in is
 * not a memory input. */
esc_status esc_input_reopen_mem(esc_input *in, const void *p, size_t n, const char *name,
                                uint64_t base, esc_error *err);
void esc_input_free(esc_input *in);
/* Read up to cap bytes; *got == 0 means end of input. */
esc_status esc_input_read(esc_input *in, void *buf, size_t cap, size_t *got, esc_error *err);
/* Up to n bytes from the current position without consuming them (n <= 64 KiB). */
esc_status esc_input_peek(esc_input *in, size_t n, const unsigned char **p, size_t *got,
                          esc_error *err);
/* Positioned reads, for readers that let several threads read parts of one input: the bytes
 * esc_input_read would hand out between the position and esc_input_size() can also be read at
 * their offset (esc_input_read_at, from any thread, not moving the position) once the position
 * has been moved over them (esc_input_skip, which counts them as read). Only a regular file
 * that is not gzip can: false for gzip, standard input, pipes and memory inputs. */
bool esc_input_can_read_at(const esc_input *in);
/* Move the position n bytes forward, as reading them would (only when esc_input_can_read_at;
 * the file is sought before the next esc_input_read, if any). */
void esc_input_skip(esc_input *in, size_t n);
/* Up to n bytes at offset into buf (*got < n past the end of the file, e.g. truncated since). */
esc_status esc_input_read_at(esc_input *in, uint64_t offset, void *buf, size_t n, size_t *got,
                             esc_error *err);
const char *esc_input_path(const esc_input *in);
uint64_t esc_input_offset(const esc_input *in);    /* uncompressed bytes consumed */
uint64_t esc_input_raw_bytes(const esc_input *in); /* bytes read from the file itself */
uint64_t esc_input_size(const esc_input *in);      /* file size when known (regular file), else 0 */
bool esc_input_is_gzip(const esc_input *in);

typedef enum esc_format {
    ESC_FMT_UNKNOWN = 0,
    ESC_FMT_EVTX,
    ESC_FMT_XML,       /* UTF-8 (or ASCII) XmlWinEventLog */
    ESC_FMT_XML_UTF16, /* UTF-16LE with BOM */
    ESC_FMT_JSON,      /* JSON lines or a top-level array */
} esc_format;

/* Recognise the format from the first bytes of the (uncompressed) stream. */
esc_format esc_sniff(const unsigned char *p, size_t n);
const char *esc_format_name(esc_format f);

/* Expand paths: a directory is walked recursively in byte order of names, symbolic links
 * followed once (a directory already visited is not entered again). Regular files and "-" are
 * returned as given. *files is an esc_malloc'd array of esc_malloc'd strings; free with
 * esc_paths_free. Unreadable entries are reported through err only when nothing else can be
 * listed; otherwise they are skipped and counted in *skipped. More than ESC_WALK_MAX_FILES
 * files in all is ESC_ELIMIT ("more than 10000000 input files") and nothing is returned. */
#define ESC_WALK_MAX_FILES ((size_t)10000000)
esc_status esc_paths_expand(const char *const *paths, size_t npaths, char ***files, size_t *nfiles,
                            size_t *skipped, esc_error *err);
/* The same with another cap in place of ESC_WALK_MAX_FILES (tests set it low; the CLI and the
 * scheduler use esc_paths_expand). */
esc_status esc_paths_expand_max(const char *const *paths, size_t npaths, size_t max_files,
                                char ***files, size_t *nfiles, size_t *skipped, esc_error *err);
void esc_paths_free(char **files, size_t n);

/* The directories a walk has entered, by device and inode, so that each is entered once however
 * many symbolic links lead to it (link loops end). esc_paths_expand keeps one per call; the
 * content loader's folder walk uses one too. Zero-initialise; esc_dirs_seen_fini frees. */
typedef struct esc_dirs_seen {
    struct esc_dir_id *v;
    size_t n, cap;
} esc_dirs_seen;
/* ESC_OK the first time path (followed if a link) is marked; ESC_SKIP when it was entered
 * already; ESC_EIO when it cannot be stat'ed; ESC_ENOMEM. */
esc_status esc_dirs_seen_mark(esc_dirs_seen *s, const char *path);
void esc_dirs_seen_fini(esc_dirs_seen *s);

#endif
