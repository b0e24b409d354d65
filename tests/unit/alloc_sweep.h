/* The allocation-failure sweep of test_spl_alloc.c and test_content_alloc.c (curl's idea): run
 * once(ctx) in a child process with the Nth allocation failing (ESCUDO_FAIL_ALLOC; the countdown
 * is process-wide), for N = 1, 2, ... until `clean` runs in a row succeed (the Nth allocation was
 * never made, or its failure was harmless: every failure point has been tried) or N reaches
 * max_n. once() returns 0 (success, the right result), 1 (a clean out-of-memory error) or more
 * (wrong: `what` says what each code means); a child that exits above 1 or dies of a signal fails
 * the test. Returns the runs that ended in a clean error. */
#ifndef ESC_TESTS_ALLOC_SWEEP_H
#define ESC_TESTS_ALLOC_SWEEP_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"

static int alloc_sweep(int (*once)(void *ctx), void *ctx, int max_n, int clean, const char *what) {
    int n, clean_runs = 0, points = 0;
    for (n = 1; n < max_n && clean_runs < clean; n++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char v[32];
            snprintf(v, sizeof v, "%d", n);
            setenv("ESCUDO_FAIL_ALLOC", v, 1);
            esc_alloc_init();
            _exit(once(ctx));
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
            fail_msg("failing allocation %d: %s %d", n, WIFEXITED(status) ? what : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        clean_runs = WEXITSTATUS(status) == 0 ? clean_runs + 1 : 0;
        points += WEXITSTATUS(status) == 1;
    }
    print_message("%d runs, %d ended in a clean error\n", n - 1, points);
    return points;
}

#endif
