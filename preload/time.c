/*
 * time.c — sleep, usleep, nanosleep, clock_nanosleep.
 *
 * Each is hooked by its own name: glibc's sleep and usleep call the kernel's
 * clock_nanosleep directly, not through the nanosleep symbol, so hooking one would not
 * catch the others.  Arguments are checked as the kernel checks them (EINVAL for a
 * nanosecond field outside [0, 999999999] or a negative second, EFAULT for an unreadable
 * timespec) before any green sleep.
 */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

/* The program's timespec, checked as the kernel checks it. */
static int copy_in(struct timespec *dst, const struct timespec *src)
{
    if (green__copy_in(dst, src, sizeof *dst) < 0)
        return -EFAULT;
    if (dst->tv_sec < 0 || dst->tv_nsec < 0 || dst->tv_nsec > 999999999)
        return -EINVAL;
    return 0;
}

static int64_t ns_of(const struct timespec *ts)
{
    if (ts->tv_sec > INT64_MAX / 1000000000 - 1)
        return INT64_MAX / 2;
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* Sleep until deadline; 0, or the time left (> 0) when a signal handler interrupted it
 * (the sleep family is never restarted, signal(7)).  A cancelled thread ends here. */
static int64_t sleep_until(int64_t deadline)
{
    int64_t left;
    int r;

    if (deadline <= green_now()) {
        green_yield();
        return 0;
    }
    green__intr_begin(GREEN_INTR_ALWAYS);
    r = green_sleep_until(deadline);
    green__intr_end();
    if (r != EINTR)
        return 0;
    left = deadline - green_now();
    return left > 0 ? left : 1;
}

/* The time left, into the program's rem: 0, or -EFAULT (the kernel's answer for an
 * interrupted sleep whose rem it cannot write). */
static int to_timespec(int64_t ns, struct timespec *rem)
{
    struct timespec ts = {ns / 1000000000, ns % 1000000000};

    return green__copy_out(rem, &ts, sizeof ts);
}

GREEN_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    struct timespec ts;
    int64_t left;
    int r;

    if (green__bypass(GREEN_F_TIME))
        return REAL(nanosleep)(req, rem);
    if ((r = copy_in(&ts, req)) < 0) {
        errno = -r;
        return -1;
    }
    left = sleep_until(green_now() + ns_of(&ts));
    if (!left)
        return 0;
    errno = rem && to_timespec(left, rem) < 0 ? EFAULT : EINTR;
    return -1;
}

GREEN_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                                 struct timespec *rem)
{
    struct timespec ts, now;
    int64_t left;
    int r;

    if (green__bypass(GREEN_F_TIME) ||
        (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
         clock != CLOCK_TAI))
        return REAL(clock_nanosleep)(clock, flags, req, rem);
    if ((r = copy_in(&ts, req)) < 0)
        return -r;
    if (!(flags & TIMER_ABSTIME)) {
        left = sleep_until(green_now() + ns_of(&ts));
        if (left && rem && to_timespec(left, rem) < 0)
            return EFAULT;
        return left ? EINTR : 0;
    }
    /* An absolute time on clock: the distance from clock's now, onto the monotonic clock.
     * (A realtime clock set while sleeping is not followed.)  rem is left alone. */
    clock_gettime(clock, &now);
    return sleep_until(green_now() + (ns_of(&ts) - ns_of(&now))) ? EINTR : 0;
}

GREEN_EXPORT unsigned sleep(unsigned seconds)
{
    int64_t left;

    if (green__bypass(GREEN_F_TIME))
        return REAL(sleep)(seconds);
    left = sleep_until(green_now() + (int64_t)seconds * 1000000000);
    if (!left)
        return 0;
    /* As glibc's: errno says EINTR, and the whole seconds left are returned. */
    errno = EINTR;
    return (unsigned)(left / 1000000000);
}

GREEN_EXPORT int usleep(useconds_t usec)
{
    if (green__bypass(GREEN_F_TIME))
        return REAL(usleep)(usec);
    if (sleep_until(green_now() + (int64_t)usec * 1000)) {
        errno = EINTR;
        return -1;
    }
    return 0;
}
