/* Injected clocks: where the scheduler gets "now" and how it waits.
 *
 * Contract:
 * - Nothing in src/sched reads the system clock except the real clock below; everything else is
 *   handed an esc_clock. Times are int64 microseconds since the Unix epoch (UTC).
 * - Three kinds:
 *   real      the system's wall clock (CLOCK_REALTIME); waiting sleeps.
 *   simulated start + speed * (base now - base now at creation): `--clock-start T
 *             --clock-speed N` replays at N times real speed. The base is another clock (the real
 *             clock in the CLI, a manual clock in tests), borrowed: it must outlive this one.
 *             Waiting waits on the base for the scaled duration.
 *   manual    only moves when told (esc_clock_advance / esc_clock_set) or when waited on:
 *             waiting jumps straight to the deadline, so tests never sleep.
 * - A clock never goes backwards: manual clocks refuse to be set back, and the simulated clock
 *   inherits the monotony of its base (the real wall clock can jump when the system's is set;
 *   the run loop treats a backwards jump as "no time passed").
 * - One clock per thread; no internal locking. */
#ifndef ESC_SCHED_CLOCK_H
#define ESC_SCHED_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

typedef struct esc_clock esc_clock;

/* Constructors return NULL when out of memory. */
esc_clock *esc_clock_new_real(void);
/* speed > 0 and finite, at most ESC_CLOCK_MAX_SPEED; returns NULL (with err) otherwise. */
#define ESC_CLOCK_MAX_SPEED 1e6
esc_clock *esc_clock_new_sim(esc_clock *base, int64_t start_us, double speed, esc_error *err);
esc_clock *esc_clock_new_manual(int64_t start_us);
void esc_clock_free(esc_clock *c);

int64_t esc_clock_now_us(esc_clock *c);
static inline int64_t esc_clock_now_sec(esc_clock *c) {
    int64_t us = esc_clock_now_us(c);
    return us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
}

/* Wait until the clock reads at least until_us, or until interrupted. max_wait_us (> 0) caps
 * one call's wait in the clock's own time so a caller can poll inputs and signals between
 * waits. Returns ESC_OK when the deadline was reached, ESC_SKIP when the wait ended early (cap
 * reached or a signal arrived: look at the clock again). */
esc_status esc_clock_wait_until(esc_clock *c, int64_t until_us, int64_t max_wait_us);

/* Manual clocks only: move forward by delta_us (>= 0) / set to t_us (>= now). ESC_EUSAGE for
 * other clocks or backwards moves. */
esc_status esc_clock_advance(esc_clock *c, int64_t delta_us);
esc_status esc_clock_set(esc_clock *c, int64_t t_us);

/* Parse a --clock-speed value ("10", "0.5", "3600"). */
esc_status esc_clock_parse_speed(const char *s, double *out, esc_error *err);

#endif
