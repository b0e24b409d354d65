/* Files one run keeps for later runs in a cache folder of the user's own (the Hyperscan
 * databases of core/hscache.c, the parsed content of content/ycache.c).
 *
 * A file is DIR/<key><ext>, key 64 hex digits (a SHA-256 of everything that makes the payload).
 * It holds a header, a magic line naming its format followed by the key, the payload's CRC-32
 * as 8 lower-case hex digits and a newline, then the payload. Invariants: a file is read only
 * from a folder of this user's that no one else may write to, only when it is a regular file
 * (no symbolic link is followed) whose header names the format and its own key (a file copied
 * or renamed under another key is not read) and whose payload has the CRC-32 it gives; files are
 * written under a temporary name (mode 0600) and renamed into place, so that two processes filing
 * the same payload, or a reader, never see half of one. Every failure is silent: a cache only saves
 * time. */
#ifndef ESC_CORE_BLOBCACHE_H
#define ESC_CORE_BLOBCACHE_H

#include <stdbool.h>
#include <stddef.h>

/* The payload filed in dir under key (64 hex digits) and ext with magic (a line ending in
 * '\n'), esc_malloc'd, its length in *len; NULL when there is none, or the folder, the file or
 * its header is not as above, or the payload is over max bytes. */
char *esc_blob_read(const char *dir, const char *key, const char *ext, const char *magic,
                    size_t max, size_t *len);
/* One piece of a payload to write. */
typedef struct esc_blob_part {
    const void *p;
    size_t len;
} esc_blob_part;

/* The payload made of the n parts, in order, filed in dir under key and ext; dir is made (mode
 * 0700, and its parent) when missing. False when it was not filed. */
bool esc_blob_write(const char *dir, const char *key, const char *ext, const char *magic,
                    const esc_blob_part *parts, size_t n);

#endif
