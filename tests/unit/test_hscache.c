/* The Hyperscan cache (core/hscache.c): a database is compiled once and read back after, and
 * one read back finds what the compiled one finds; a different pattern set, flag or kind of
 * compile is another database; a damaged, truncated, foreign or linked file, a folder others
 * may write to, or no folder at all means compiling again, never an error or another
 * database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hscache.h"

static const char *const LITS[] = {"net.exe", "share", "/delete"};
static const size_t LENS[] = {7, 5, 7};
static const unsigned IDS[] = {0, 1, 2};
static const unsigned CASELESS[] = {HS_FLAG_CASELESS, HS_FLAG_CASELESS, HS_FLAG_CASELESS};
static const unsigned EXACT[] = {0, 0, 0};

static char dir[64];

static int setup(void **state) {
    (void)state;
    strcpy(dir, "/tmp/esc-hscache-XXXXXX");
    assert_non_null(mkdtemp(dir));
    esc_hs_cache_use(dir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    esc_hs_cache_use(NULL);
    return 0;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx) {
    (void)from, (void)to, (void)flags;
    *(unsigned *)ctx |= 1u << id;
    return 0;
}

/* The literals db finds in s, as bits. */
static unsigned found(const hs_database_t *db, const char *s) {
    hs_scratch_t *scratch = NULL;
    unsigned bits = 0;
    assert_int_equal(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
    assert_int_equal(hs_scan(db, s, (unsigned)strlen(s), 0, scratch, on_match, &bits), HS_SUCCESS);
    hs_free_scratch(scratch);
    return bits;
}

static hs_database_t *compile(const unsigned *flags, const size_t *lens) {
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    assert_int_equal(esc_hs_compile(LITS, flags, IDS, lens, 3, &db, &cerr), HS_SUCCESS);
    assert_null(cerr);
    return db;
}

/* The path of the only file in dir into out (fails with none or several). */
static void only_file(char *out, size_t cap) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') {
            snprintf(out, cap, "%s/%s", dir, e->d_name);
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
}

static void expect(esc_hs_cache_stats before, uint64_t hits, uint64_t compiled, uint64_t stored) {
    esc_hs_cache_stats now = esc_hs_cache_stats_get();
    assert_int_equal(now.hits - before.hits, hits);
    assert_int_equal(now.compiled - before.compiled, compiled);
    assert_int_equal(now.stored - before.stored, stored);
}

static void test_compiled_once(void **state) {
    (void)state;
    esc_hs_cache_stats s0 = esc_hs_cache_stats_get();
    hs_database_t *a = compile(CASELESS, LENS);
    expect(s0, 0, 1, 1);
    hs_database_t *b = compile(CASELESS, LENS);
    expect(s0, 1, 1, 1);
    const char *text = "C:\\Windows\\System32\\NET.EXE share x /DELETE";
    assert_int_equal(found(a, text), 7u);
    assert_int_equal(found(b, text), 7u);
    assert_int_equal(found(b, "net1.exe sh"), 0u);
    char path[512];
    only_file(path, sizeof path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    hs_free_database(a);
    hs_free_database(b);
}

static void test_other_sets(void **state) {
    (void)state;
    esc_hs_cache_stats s0 = esc_hs_cache_stats_get();
    hs_free_database(compile(CASELESS, LENS));
    hs_database_t *exact = compile(EXACT, LENS); /* another flag: another database */
    hs_database_t *regex = compile(EXACT, NULL); /* hs_compile_multi of the same text */
    expect(s0, 0, 3, 3);
    assert_int_equal(found(exact, "NET.EXE share"), 2u);
    assert_int_equal(found(regex, "net.exe"), 1u);
    assert_int_equal(found(regex, "netXexe"), 1u); /* '.' is any byte there */
    hs_free_database(exact);
    hs_free_database(regex);
}

/* A cached file changed by f is not read: the database is compiled and filed again. */
static void damaged(void (*f)(const char *path)) {
    hs_free_database(compile(CASELESS, LENS));
    char path[512];
    only_file(path, sizeof path);
    f(path);
    esc_hs_cache_stats s0 = esc_hs_cache_stats_get();
    hs_database_t *db = compile(CASELESS, LENS);
    expect(s0, 0, 1, 1);
    assert_int_equal(found(db, "net.exe share"), 3u);
    hs_free_database(db);
    s0 = esc_hs_cache_stats_get();
    hs_free_database(compile(CASELESS, LENS));
    expect(s0, 1, 0, 0); /* filed right again */
}

static void flip_last(const char *path) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, -1, SEEK_END), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, -1, SEEK_END), 0);
    fputc(c ^ 1, f);
    fclose(f);
}

static void cut_half(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
}

/* The file's key: its name without the folder and ".hsdb". */
static const char *key_of_path(const char *path) {
    static char key[65];
    const char *slash = strrchr(path, '/');
    snprintf(key, sizeof key, "%s", slash ? slash + 1 : path);
    return key;
}

/* A payload whose header and digest are right but which is no database. */
static void not_a_database(const char *path) {
    const char *key = key_of_path(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    /* "escudo-hsdb 2\n", the key, crc32("hello") (zlib's), "\n", "hello" */
    fprintf(f, "escudo-hsdb 2\n%s3610a686\nhello", key);
    fclose(f);
}

/* Another database's whole file under this one's name (copied or renamed): its header names
 * another key (here: the key with its first digit changed). */
static void other_file(const char *path) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    char c;
    assert_int_equal(fseek(f, 14, SEEK_SET), 0); /* after "escudo-hsdb 2\n" */
    assert_int_equal(fread(&c, 1, 1, f), 1);
    assert_int_equal(fseek(f, 14, SEEK_SET), 0);
    fputc(c == '0' ? '1' : '0', f);
    fclose(f);
}

/* The header kept, the payload another database's (case-sensitive): read, it would find less. */
static void other_payload(const char *path) {
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    assert_int_equal(
        hs_compile_lit_multi(LITS, EXACT, IDS, LENS, 3, HS_MODE_BLOCK, NULL, &db, &cerr),
        HS_SUCCESS);
    char *bytes = NULL, head[88];
    size_t len = 0;
    assert_int_equal(hs_serialize_database(db, &bytes, &len), HS_SUCCESS);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fread(head, 1, 87, f), 87); /* the header: magic, key, CRC-32, newline */
    fclose(f);
    assert_non_null(f = fopen(path, "wb"));
    fwrite(head, 1, 87, f);
    fwrite(bytes, 1, len, f);
    fclose(f);
    free(bytes);
    hs_free_database(db);
}

static void empty(const char *path) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
}

static void test_damaged(void **state) {
    (void)state;
    damaged(flip_last);
    damaged(cut_half);
    damaged(not_a_database);
    damaged(other_payload);
    damaged(other_file);
    damaged(empty);
}

/* A symbolic link in the key's place is not followed; the database filed replaces the link. */
static void test_link(void **state) {
    (void)state;
    hs_free_database(compile(CASELESS, LENS));
    char path[512], moved[600];
    only_file(path, sizeof path);
    snprintf(moved, sizeof moved, "%s/.moved", dir);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(symlink(moved, path), 0);
    esc_hs_cache_stats s0 = esc_hs_cache_stats_get();
    hs_free_database(compile(CASELESS, LENS));
    expect(s0, 0, 1, 1);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
}

/* A folder others may write to is neither read nor written. */
static void test_open_folder(void **state) {
    (void)state;
    hs_free_database(compile(CASELESS, LENS));
    assert_int_equal(chmod(dir, 0777), 0);
    esc_hs_cache_stats s0 = esc_hs_cache_stats_get();
    hs_free_database(compile(CASELESS, LENS));
    hs_free_database(compile(EXACT, LENS));
    expect(s0, 0, 2, 0);
    assert_int_equal(chmod(dir, 0700), 0);
}

/* No cache, or a folder that cannot be made: compiled each time, nothing written. */
static void test_no_folder(void **state) {
    (void)state;
    esc_hs_cache_use(NULL);
    esc_hs_cache_stats s0 = esc_hs_cache_stats_get();
    hs_free_database(compile(CASELESS, LENS));
    hs_free_database(compile(CASELESS, LENS));
    expect(s0, 0, 2, 0);
    char file[128], below[160];
    snprintf(file, sizeof file, "%s/file", dir);
    empty(file);
    snprintf(below, sizeof below, "%s/cache", file); /* under a plain file */
    esc_hs_cache_use(below);
    s0 = esc_hs_cache_stats_get();
    hs_free_database(compile(CASELESS, LENS));
    expect(s0, 0, 1, 0);
}

/* A missing folder is made, with a missing parent, both private. */
static void test_made(void **state) {
    (void)state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/cache/escudo", dir);
    esc_hs_cache_use(sub);
    esc_hs_cache_stats s0 = esc_hs_cache_stats_get();
    hs_free_database(compile(CASELESS, LENS));
    hs_free_database(compile(CASELESS, LENS));
    expect(s0, 1, 1, 1);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compiled_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_made, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
