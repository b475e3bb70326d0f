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
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

/* Copy a timespec the program passed, reporting EFAULT as the kernel would instead of
 * faulting in the shim. */
static int copy_in(struct timespec *dst, const struct timespec *src)
{
    struct iovec local = {dst, sizeof *dst}, remote = {(void *)src, sizeof *dst};

    if (!src)
        return -EFAULT;
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof *dst)
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

/* Sleep until deadline; the thread ends here if it is cancelled. */
static void sleep_until(int64_t deadline)
{
    if (deadline > green_now())
        green_sleep_until(deadline);
    else
        green_yield();
}

GREEN_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    struct timespec ts;
    int r;

    if (green__bypass(GREEN_F_TIME))
        return REAL(nanosleep)(req, rem);
    if ((r = copy_in(&ts, req)) < 0) {
        errno = -r;
        return -1;
    }
    sleep_until(green_now() + ns_of(&ts));
    return 0;
}

GREEN_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                                 struct timespec *rem)
{
    struct timespec ts, now;
    int r;

    if (green__bypass(GREEN_F_TIME) ||
        (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
         clock != CLOCK_TAI))
        return REAL(clock_nanosleep)(clock, flags, req, rem);
    if ((r = copy_in(&ts, req)) < 0)
        return -r;
    if (!(flags & TIMER_ABSTIME)) {
        sleep_until(green_now() + ns_of(&ts));
        return 0;
    }
    /* An absolute time on clock: the distance from clock's now, onto the monotonic clock.
     * (A realtime clock set while sleeping is not followed.) */
    clock_gettime(clock, &now);
    sleep_until(green_now() + (ns_of(&ts) - ns_of(&now)));
    return 0;
}

GREEN_EXPORT unsigned sleep(unsigned seconds)
{
    if (green__bypass(GREEN_F_TIME))
        return REAL(sleep)(seconds);
    sleep_until(green_now() + (int64_t)seconds * 1000000000);
    return 0;
}

GREEN_EXPORT int usleep(useconds_t usec)
{
    if (green__bypass(GREEN_F_TIME))
        return REAL(usleep)(usec);
    sleep_until(green_now() + (int64_t)usec * 1000);
    return 0;
}
