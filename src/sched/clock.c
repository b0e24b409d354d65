/* Real, simulated and manual clocks (see clock.h).
 *
 * The real clock is the only code in src/sched that reads the system clock or sleeps. The
 * simulated clock scales elapsed base-clock time; a sub-microsecond remainder is dropped, so a
 * simulated clock is exact for integer speeds and within a microsecond otherwise. Invariant:
 * simulated time is computed from the total base elapsed time (not accumulated per call), so
 * rounding never drifts. Deliberately not done: timers, threads, signal handling (a signal simply
 * ends nanosleep early and the caller decides). */
#include "sched/clock.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "core/alloc.h"

typedef enum clock_kind { CLOCK_KIND_REAL, CLOCK_KIND_SIM, CLOCK_KIND_MANUAL } clock_kind;

struct esc_clock {
    clock_kind kind;
    int64_t now_us;     /* manual */
    esc_clock *base;    /* simulated */
    int64_t base_start; /* simulated: base reading at creation */
    int64_t start_us;   /* simulated */
    double speed;       /* simulated */
};

static esc_clock *alloc_clock(clock_kind kind) {
    esc_clock *c = esc_calloc(1, sizeof *c);
    if (c)
        c->kind = kind;
    return c;
}

esc_clock *esc_clock_new_real(void) {
    return alloc_clock(CLOCK_KIND_REAL);
}

esc_clock *esc_clock_new_manual(int64_t start_us) {
    esc_clock *c = alloc_clock(CLOCK_KIND_MANUAL);
    if (c)
        c->now_us = start_us;
    return c;
}

esc_clock *esc_clock_new_sim(esc_clock *base, int64_t start_us, double speed, esc_error *err) {
    if (!base) {
        esc_error_set(err, ESC_EUSAGE, "simulated clock: no base clock");
        return NULL;
    }
    if (!(speed > 0) || !isfinite(speed) || speed > ESC_CLOCK_MAX_SPEED) {
        esc_error_set(err, ESC_EUSAGE, "clock speed must be > 0 and at most %g",
                      ESC_CLOCK_MAX_SPEED);
        return NULL;
    }
    esc_clock *c = alloc_clock(CLOCK_KIND_SIM);
    if (!c) {
        esc_error_set(err, ESC_ENOMEM, "simulated clock: out of memory");
        return NULL;
    }
    c->base = base;
    c->base_start = esc_clock_now_us(base);
    c->start_us = start_us;
    c->speed = speed;
    return c;
}

void esc_clock_free(esc_clock *c) {
    esc_free(c);
}

static int64_t real_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t sim_now(esc_clock *c) {
    int64_t elapsed = esc_clock_now_us(c->base) - c->base_start;
    if (elapsed < 0)
        elapsed = 0;
    double scaled = (double)elapsed * c->speed;
    if (scaled > 9e18)
        scaled = 9e18;
    if (c->speed == floor(c->speed) && c->speed <= 1e6 && elapsed < INT64_MAX / 1000000)
        return c->start_us + elapsed * (int64_t)c->speed;
    return c->start_us + (int64_t)scaled;
}

int64_t esc_clock_now_us(esc_clock *c) {
    switch (c->kind) {
    case CLOCK_KIND_REAL:
        return real_now();
    case CLOCK_KIND_SIM:
        return sim_now(c);
    case CLOCK_KIND_MANUAL:
        return c->now_us;
    }
    return 0;
}

esc_status esc_clock_wait_until(esc_clock *c, int64_t until_us, int64_t max_wait_us) {
    int64_t now = esc_clock_now_us(c);
    if (now >= until_us)
        return ESC_OK;
    if (max_wait_us <= 0)
        max_wait_us = 1;
    bool capped = until_us - now > max_wait_us;
    int64_t target = capped ? now + max_wait_us : until_us;
    switch (c->kind) {
    case CLOCK_KIND_MANUAL:
        c->now_us = target;
        break;
    case CLOCK_KIND_SIM: {
        /* Wait on the base for the scaled duration, rounded up so the deadline is reached. */
        double d = (double)(target - now) / c->speed;
        int64_t base_wait = (int64_t)ceil(d);
        if (base_wait < 1)
            base_wait = 1;
        int64_t b = esc_clock_now_us(c->base);
        esc_status st = esc_clock_wait_until(c->base, b + base_wait, base_wait);
        if (st != ESC_OK)
            return ESC_SKIP;
        break;
    }
    case CLOCK_KIND_REAL: {
        int64_t d = target - now;
        struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
        if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
            return ESC_SKIP;
        break;
    }
    }
    return esc_clock_now_us(c) >= until_us ? ESC_OK : ESC_SKIP;
}

esc_status esc_clock_advance(esc_clock *c, int64_t delta_us) {
    if (c->kind != CLOCK_KIND_MANUAL || delta_us < 0 || c->now_us > INT64_MAX - delta_us)
        return ESC_EUSAGE;
    c->now_us += delta_us;
    return ESC_OK;
}

esc_status esc_clock_set(esc_clock *c, int64_t t_us) {
    if (c->kind != CLOCK_KIND_MANUAL || t_us < c->now_us)
        return ESC_EUSAGE;
    c->now_us = t_us;
    return ESC_OK;
}

esc_status esc_clock_parse_speed(const char *s, double *out, esc_error *err) {
    char *end = NULL;
    if (!s || !*s)
        return esc_error_set(err, ESC_EUSAGE, "--clock-speed: empty value");
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v > 0) || !isfinite(v) || v > ESC_CLOCK_MAX_SPEED)
        return esc_error_set(err, ESC_EUSAGE,
                             "--clock-speed '%.32s': expected a number > 0 and at most %g", s,
                             ESC_CLOCK_MAX_SPEED);
    *out = v;
    return ESC_OK;
}
