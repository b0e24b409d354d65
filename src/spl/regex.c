/* Regular expressions for regex, rex, and eval's match(), like() and replace(): the one place
 * that calls PCRE2, so that every pattern is compiled and matched the same way.
 *
 * Invariants: PCRE2 allocates through esc_malloc (so the allocation-failure mode covers it);
 * every match runs under Splunk's limits.conf defaults for regular expressions (match_limit
 * 100000, depth_limit 1000); a match that a limit stops counts as no match and adds one to the
 * calling thread's counter, which esc_exec_finish hands to its caller as a warning count. The
 * contexts are made on first use and kept for the life of the process. A subject of at least
 * RE_JIT_MIN bytes is matched by PCRE2's JIT, compiled for the pattern the first time one comes
 * (patterns are matched on the thread that runs the searches, one at a time); shorter ones by
 * the interpreter. The interpreter's time grows with the square of the subject for a pattern
 * such as `[^\\]+$` that it must try at every start and that reads to the end each time (4 s
 * for one 20,000-byte value ending in a backslash, 52 s for 70,000, under the match limit); the
 * JIT takes under a millisecond for either. The JIT counts the match limit its own way (pcre2api,
 * pcre2_set_match_limit), so a long value may stop at another point. Deliberately not done: JIT
 * for every pattern (compiling costs more than the few short values per row most detections
 * match). */
#include <pthread.h>
#include <stdatomic.h>

#include "core/alloc.h"
#include "spl/ast.h"

#define RE_JIT_MIN 256 /* bytes of a subject from which the JIT matches it (docs/limits.md) */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool ready;
static pcre2_general_context *gctx;
static pcre2_compile_context *cctx;
static pcre2_match_context *mctx;
static _Thread_local uint64_t limited;

static void *re_alloc(PCRE2_SIZE n, void *data) {
    (void)data;
    return esc_malloc(n);
}

static void re_free(void *p, void *data) {
    (void)data;
    esc_free(p);
}

/* Made once; a failed attempt (out of memory) is tried again on the next call. */
static bool contexts(void) {
    if (atomic_load_explicit(&ready, memory_order_acquire))
        return true;
    pthread_mutex_lock(&lock);
    if (!gctx)
        gctx = pcre2_general_context_create(re_alloc, re_free, NULL);
    if (gctx && !cctx)
        cctx = pcre2_compile_context_create(gctx);
    if (gctx && !mctx && (mctx = pcre2_match_context_create(gctx)) != NULL) {
        pcre2_set_match_limit(mctx, ESC_SPL_RE_MATCH_LIMIT);
        pcre2_set_depth_limit(mctx, ESC_SPL_RE_DEPTH_LIMIT);
    }
    bool ok = cctx && mctx;
    atomic_store_explicit(&ready, ok, memory_order_release);
    pthread_mutex_unlock(&lock);
    return ok;
}

pcre2_code *spl_re_compile(const char *pat, size_t len, uint32_t opts, int *code, size_t *off) {
    PCRE2_SIZE o = 0;
    if (!contexts()) {
        *code = PCRE2_ERROR_HEAP_FAILED;
        *off = 0;
        return NULL;
    }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(pat ? pat : ""), len, opts, code, &o, cctx);
    *off = o;
    return re;
}

pcre2_match_data *spl_re_data(const pcre2_code *re) {
    return pcre2_match_data_create_from_pattern(re, gctx);
}

static int counted(int rc) {
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        limited++;
        return PCRE2_ERROR_NOMATCH;
    }
    return rc;
}

/* The option that picks the matcher for a subject of n bytes: none (the JIT) when it is long
 * and re has JIT code, made now if need be; else PCRE2_NO_JIT (a pattern whose JIT compile
 * failed, for want of memory, is matched by the interpreter). */
static uint32_t matcher(const pcre2_code *re, size_t n) {
    if (n < RE_JIT_MIN)
        return PCRE2_NO_JIT;
    /* compiling adds the JIT code to the pattern (and does nothing once it is there) */
    return pcre2_jit_compile((pcre2_code *)re, PCRE2_JIT_COMPLETE) == 0 ? 0 : PCRE2_NO_JIT;
}

int spl_re_match(const pcre2_code *re, const char *s, size_t n, pcre2_match_data *md) {
    return counted(pcre2_match(re, (PCRE2_SPTR)s, n, 0, matcher(re, n), md, mctx));
}

int spl_re_match_at(const pcre2_code *re, const char *s, size_t n, size_t start,
                    pcre2_match_data *md) {
    /* the match from 0 that came first checked the subject's UTF-8 once; checking it again at
     * every later start would make repeated matching quadratic in the subject's length */
    return counted(pcre2_match(re, (PCRE2_SPTR)s, n, start,
                               matcher(re, n) | (start ? PCRE2_NO_UTF_CHECK : 0), md, mctx));
}

int spl_re_substitute(const pcre2_code *re, const char *s, size_t n, uint32_t opts, const char *rep,
                      size_t rlen, char *out, size_t *outlen) {
    PCRE2_SIZE o = *outlen;
    int rc = pcre2_substitute(re, (PCRE2_SPTR)s, n, 0, opts | matcher(re, n), NULL, mctx,
                              (PCRE2_SPTR)rep, rlen, (PCRE2_UCHAR *)out, &o);
    *outlen = o;
    return counted(rc);
}

/* A plain pattern is a row of single characters with no choices, so PCRE2 tries it at each
 * start in turn and the first start where every position matches is its match; on an ASCII
 * subject each character is one byte. A subject of fewer than ESC_RE_PLAIN_MAX bytes gives
 * PCRE2 fewer start positions than its match limit (ESC_SPL_RE_MATCH_LIMIT), so no limit can
 * stop it: the answer is the same. */
static bool plain_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
           c == '_' || c == '-' || c == '.';
}

bool spl_re_plain(const char *p, size_t m) {
    for (size_t i = 0; i < m; i++)
        if (!plain_char(p[i]))
            return false;
    return true;
}

int spl_re_plain_find(const char *p, size_t m, const char *s, size_t n) {
    if (n >= ESC_RE_PLAIN_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) /* line breaks to any newline convention, and non-ASCII */
        if ((unsigned char)s[i] >= 0x80 || (s[i] >= '\n' && s[i] <= '\r'))
            return -1;
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && (p[j] == '.' || p[j] == s[i + j]))
            j++;
        if (j == m)
            return 1;
    }
    return 0;
}

uint64_t spl_re_limited(void) {
    return limited;
}

void spl_re_limited_set(uint64_t n) {
    limited = n;
}
