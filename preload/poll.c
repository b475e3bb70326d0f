/*
 * poll.c — poll, ppoll, select, pselect, epoll_wait, epoll_pwait, epoll_pwait2 and their
 * _FORTIFY_SOURCE entry points.
 *
 * Each asks the kernel first with a zero timeout; only when nothing is ready and the
 * program allowed a wait does the green thread wait on the hub for any of the descriptors
 * (an epoll descriptor is itself readable while it has events), and then ask the kernel
 * again with a zero timeout, so the result — revents, the fd sets, the epoll events,
 * POLLHUP and POLLERR included — is always the kernel's own.  A program with its own event
 * loop (nginx-, redis-, libevent-style) thus keeps its loop; only its blocking waits
 * become switches.
 *
 * Signal masks (ppoll, pselect, epoll_pwait): the zero-timeout call is made with the
 * program's mask, so signals it unblocks and that are already pending are delivered (EINTR)
 * as before; a signal arriving later, during the green wait, stays blocked until the next
 * call.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "hook.h"

static const struct timespec zero;

static int64_t deadline_ms(int timeout_ms)
{
    return timeout_ms < 0 ? GREEN_NO_DEADLINE : green_now() + (int64_t)timeout_ms * 1000000;
}

static int64_t deadline_ts(const struct timespec *ts)
{
    if (!ts)
        return GREEN_NO_DEADLINE;
    return green__deadline_after(ts->tv_sec, ts->tv_nsec);
}

/* The kernel's answer now, without waiting. */
static int poll_now(struct pollfd *fds, nfds_t n, const sigset_t *mask)
{
    return mask ? REAL(ppoll)(fds, n, &zero, mask) : REAL(poll)(fds, n, 0);
}

/* The fds of a wait, copied: the wait follows one closed under it to the hidden number its
 * file moved to (close's green__fd_park_waiters), as the kernel's poll holds the files it
 * waits on, and the file stays open until the kernel has been asked once more: the caller
 * calls unfollow right after that. */
struct follow {
    int small[64], *fd;
    nfds_t n;
    struct green__intr_span span; /* the call's waits */
};

static void unfollow(struct follow *f, const struct pollfd *fds)
{
    for (nfds_t i = 0; i < f->n; i++)
        green__fd_unpark(fds[i].fd, f->fd[i]);
    if (f->fd != f->small)
        free(f->fd);
    f->fd = f->small;
    f->n = 0;
}

/* Wait on the hub for fds; 0 to ask again, -1 with errno set when the wait failed, 1 at the
 * deadline, 2 when a signal handler ended it: the kernel, too, looks at the fds once more
 * before it says EINTR, and reports them instead if one is ready (one closed meanwhile,
 * which wakes nobody, is POLLNVAL then).  mask, if any, is the signal mask the program
 * asked for during the wait (ppoll, pselect, epoll_pwait): it is the OS thread's, so the
 * other green threads run under it meanwhile.  f: see struct follow. */
static int wait_pollfds(const struct pollfd *fds, nfds_t n, int64_t deadline,
                        const sigset_t *mask, const char *what, struct follow *f)
{
    sigset_t old;
    int w;

    f->fd = n <= 64 ? f->small : malloc(n * sizeof *f->fd);
    f->n = f->fd ? n : 0;
    for (nfds_t i = 0; i < f->n; i++)
        f->fd[i] = fds[i].fd;
    if (mask)
        sigprocmask(SIG_SETMASK, mask, &old);
    if (green__intr_span_begin(&f->span, GREEN_INTR_ALWAYS)) {
        w = -EINTR; /* a handler ran between this call's waits (a wake another took) */
    } else {
        w = green__hub_wait_pollfds(fds, n, f->n ? f->fd : NULL, deadline, what);
        green__intr_end();
    }
    if (mask)
        sigprocmask(SIG_SETMASK, &old, NULL);
    /* Closed under the wait with no file to follow (no memory for the copies): the
     * kernel's answer (POLLNVAL) is asked for. */
    if (w >= 0 || w == -EBADF)
        return 0;
    if (w == -ETIMEDOUT)
        return 1;
    if (w == -EINTR)
        return 2;
    if (w == -ECANCELED)
        green__api_result(w);
    errno = -w;
    return -1;
}

/* The result of the last look after a wait that ended with why (wait_pollfds): the
 * kernel's answer, or EINTR if a handler ended the wait and nothing is ready. */
static int interrupted(int r, int why)
{
    if (r != 0 || why != 2)
        return r;
    errno = EINTR;
    return -1;
}

static int green_ppoll(struct pollfd *fds, nfds_t n, int64_t deadline, const sigset_t *mask,
                       const char *what)
{
    struct follow f = {.n = 0};

    for (;;) {
        int r = poll_now(fds, n, mask);
        unfollow(&f, fds);
        if (r != 0 || deadline <= green_now())
            return r;
        r = wait_pollfds(fds, n, deadline, mask, what, &f);
        if (r < 0) {
            unfollow(&f, fds);
            return r;
        }
        if (r > 0) {
            r = interrupted(poll_now(fds, n, mask), r);
            unfollow(&f, fds);
            return r;
        }
    }
}

GREEN_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    if (green__bypass(GREEN_F_SELECT) || timeout_ms == 0)
        return REAL(poll)(fds, n, timeout_ms);
    return green_ppoll(fds, n, deadline_ms(timeout_ms), NULL, "poll");
}

/* A timeout the kernel would refuse (or cannot read) goes to the kernel, which says so;
 * a zero one needs no wait.  Otherwise *t holds the program's timeout. */
static int needs_wait(const struct timespec *ts, struct timespec *t)
{
    if (!ts)
        return 1;
    if (green__copy_in(t, ts, sizeof *t) < 0 || t->tv_sec < 0 || t->tv_nsec < 0 ||
        t->tv_nsec > 999999999)
        return 0;
    return t->tv_sec || t->tv_nsec;
}

GREEN_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                       const sigset_t *mask)
{
    struct timespec t;

    if (green__bypass(GREEN_F_SELECT) || !needs_wait(ts, &t))
        return REAL(ppoll)(fds, n, ts, mask);
    return green_ppoll(fds, n, deadline_ts(ts ? &t : NULL), mask, "ppoll");
}

extern void __chk_fail(void) __attribute__((noreturn));

GREEN_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen)
{
    if (fdslen / sizeof *fds < n)
        __chk_fail();
    return poll(fds, n, timeout_ms);
}

GREEN_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                             const sigset_t *mask, size_t fdslen)
{
    if (fdslen / sizeof *fds < n)
        __chk_fail();
    return ppoll(fds, n, ts, mask);
}

/* ------------------------------------------------------------------ select */

/* A descriptor of the sets closed during the wait: the kernel's select, rescanning, reports
 * it in the read and write sets it was asked for, and the call succeeds; the zero-timeout
 * select the shim would make now says EBADF instead.  Returns how many bits are set, 0 if
 * nothing was closed (the sets are then untouched). */
static int closed_meanwhile(const struct pollfd *pfds, nfds_t n, fd_set *r, fd_set *w,
                            size_t bytes)
{
    int closed = 0, bits = 0, saved = errno;

    for (nfds_t i = 0; i < n; i++)
        closed |= fcntl(pfds[i].fd, F_GETFD) < 0;
    errno = saved;
    if (!closed)
        return 0;
    if (r)
        memset(r, 0, bytes);
    if (w)
        memset(w, 0, bytes);
    for (nfds_t i = 0; i < n; i++) {
        if (fcntl(pfds[i].fd, F_GETFD) >= 0)
            continue;
        if (r && (pfds[i].events & POLLIN))
            FD_SET(pfds[i].fd, r), bits++;
        if (w && (pfds[i].events & POLLOUT))
            FD_SET(pfds[i].fd, w), bits++;
    }
    errno = saved;
    return bits;
}

static int isset(const void *set, int fd)
{
    const unsigned long *l = set;

    return (int)(l[fd / (8 * sizeof *l)] >> (fd % (8 * sizeof *l)) & 1);
}

/* select as poll: the sets are read once into pollfds for the wait, and the kernel's
 * select with a zero timeout fills them in on the way out.  The sets are as long as the
 * kernel reads them, whole longs for nfds bits, which may be less than an fd_set (a
 * program may allocate just that) or more (nfds above FD_SETSIZE); nfds beyond the shim's
 * descriptor range only adds bits no descriptor can have. */
/* The caller's sets as they came in (in: the three copies, bytes each), back in place. */
static void put_sets(fd_set *r, fd_set *w, fd_set *e, const unsigned char *in, size_t bytes)
{
    if (r)
        memcpy(r, in, bytes);
    if (w)
        memcpy(w, in + bytes, bytes);
    if (e)
        memcpy(e, in + 2 * bytes, bytes);
}

static int green_pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, int64_t deadline,
                         const sigset_t *mask, const char *what)
{
    int top = nfds < GREEN_MAX_FDS ? nfds : GREEN_MAX_FDS;
    size_t bytes = ((size_t)(top > 0 ? top : 0) + 63) / 64 * 8;
    fd_set small_sets[3];
    unsigned char *in = (unsigned char *)small_sets, *in_r, *in_w, *in_e;
    struct pollfd small[64], *pfds = small;
    struct follow f = {.n = 0};
    nfds_t n = 0;
    int res;

    if (nfds >= 0 && 3 * bytes > sizeof small_sets && !(in = malloc(3 * bytes))) {
        errno = ENOMEM;
        return -1;
    }
    in_r = in;
    in_w = in + bytes;
    in_e = in + 2 * bytes;
    /* An invalid count or an unreadable set: the kernel's EINVAL or EFAULT. */
    if (nfds < 0 || (r && green__copy_in(in_r, r, bytes) < 0) ||
        (w && green__copy_in(in_w, w, bytes) < 0) || (e && green__copy_in(in_e, e, bytes) < 0)) {
        res = REAL(pselect)(nfds, r, w, e, &zero, mask);
        goto out;
    }
    for (int fd = 0; fd < top; fd++)
        n += (r && isset(r, fd)) || (w && isset(w, fd)) || (e && isset(e, fd));
    if (n > 64 && !(pfds = malloc(n * sizeof *pfds))) {
        errno = ENOMEM;
        res = -1;
        goto out;
    }
    n = 0;
    for (int fd = 0; fd < top; fd++) {
        short ev = (r && isset(r, fd) ? POLLIN : 0) | (w && isset(w, fd) ? POLLOUT : 0) |
                   (e && isset(e, fd) ? POLLPRI : 0);
        if (ev)
            pfds[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    for (;;) {
        res = REAL(pselect)(nfds, r, w, e, &zero, mask);
        unfollow(&f, pfds);
        if (res != 0 || deadline <= green_now())
            break;
        put_sets(r, w, e, in, bytes);
        res = wait_pollfds(pfds, n, deadline, mask, what, &f);
        if (res < 0)
            break;
        if (res > 0) {
            int why = res;
            if ((res = closed_meanwhile(pfds, n, r, w, bytes)) == 0)
                res = interrupted(REAL(pselect)(nfds, r, w, e, &zero, mask), why);
            if (res < 0 && why == 2) /* Linux's select leaves the sets as they were */
                put_sets(r, w, e, in, bytes);
            break;
        }
        if (res == 0 && (res = closed_meanwhile(pfds, n, r, w, bytes)) != 0)
            break;
    }
    unfollow(&f, pfds);
    if (pfds != small)
        free(pfds);
out:
    if (in != (unsigned char *)small_sets)
        free(in);
    return res;
}

GREEN_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    struct timeval t;
    int64_t deadline, start = green_now(), slept;
    int res;

    if (green__bypass(GREEN_F_SELECT) ||
        (tv && (green__copy_in(&t, tv, sizeof t) < 0 || t.tv_sec < 0 || t.tv_usec < 0 ||
                (!t.tv_sec && !t.tv_usec))))
        return REAL(select)(nfds, r, w, e, tv); /* no wait, or the kernel's EFAULT, EINVAL */
    if (tv && t.tv_usec >= 1000000) {
        /* glibc carries whole seconds of tv_usec into tv_sec (the kernel would refuse). */
        t.tv_sec = t.tv_sec > LONG_MAX - t.tv_usec / 1000000 ? LONG_MAX
                                                             : t.tv_sec + t.tv_usec / 1000000;
        t.tv_usec %= 1000000;
    }
    deadline = tv ? green__deadline_after(t.tv_sec, (int64_t)t.tv_usec * 1000) : GREEN_NO_DEADLINE;
    res = green_pselect(nfds, r, w, e, deadline, NULL, "select");
    if (tv) {
        /* Linux's select leaves the time not slept in *tv: the timeout less the time
         * slept, counted from the timeout (not the deadline, which may have saturated). */
        slept = green_now() - start;
        t.tv_sec -= slept / 1000000000;
        t.tv_usec -= slept % 1000000000 / 1000;
        if (t.tv_usec < 0)
            t.tv_sec--, t.tv_usec += 1000000;
        if (t.tv_sec < 0)
            t = (struct timeval){0, 0};
        *tv = t;
    }
    return res;
}

GREEN_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
                         const sigset_t *mask)
{
    struct timespec t;

    if (green__bypass(GREEN_F_SELECT) || !needs_wait(ts, &t))
        return REAL(pselect)(nfds, r, w, e, ts, mask);
    return green_pselect(nfds, r, w, e, deadline_ts(ts ? &t : NULL), mask, "pselect");
}

/* ------------------------------------------------------------------- epoll */

static int green_epoll(int epfd, struct epoll_event *ev, int max, int64_t deadline,
                       const sigset_t *mask)
{
    struct pollfd p = {.fd = epfd, .events = POLLIN};
    struct follow f = {.n = 0};
    int r, w;

    /* The kernel's epoll_wait holds its epoll file for the whole call: once a wait has
     * followed it to a hidden number (epfd closed under it), every later look and wait is
     * on that file, given back at the end. */
    for (;;) {
        r = REAL(epoll_pwait)(p.fd, ev, max, 0, mask);
        if (r != 0 || deadline <= green_now())
            break;
        w = wait_pollfds(&p, 1, deadline, mask, "epoll_wait", &f);
        if (f.n)
            p.fd = f.fd[0];
        f.n = 0;
        if (w < 0) {
            r = w;
            break;
        }
        if (w > 0) {
            r = interrupted(REAL(epoll_pwait)(p.fd, ev, max, 0, mask), w);
            break;
        }
    }
    green__fd_unpark(epfd, p.fd);
    return r;
}

GREEN_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms)
{
    if (green__bypass(GREEN_F_SELECT) || timeout_ms == 0)
        return REAL(epoll_wait)(epfd, ev, max, timeout_ms);
    return green_epoll(epfd, ev, max, deadline_ms(timeout_ms), NULL);
}

GREEN_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout_ms,
                             const sigset_t *mask)
{
    if (green__bypass(GREEN_F_SELECT) || timeout_ms == 0)
        return REAL(epoll_pwait)(epfd, ev, max, timeout_ms, mask);
    return green_epoll(epfd, ev, max, deadline_ms(timeout_ms), mask);
}

GREEN_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                              const struct timespec *ts, const sigset_t *mask)
{
    struct timespec t;

    if (green__bypass(GREEN_F_SELECT) || !needs_wait(ts, &t))
        return REAL(epoll_pwait2)(epfd, ev, max, ts, mask);
    return green_epoll(epfd, ev, max, deadline_ts(ts ? &t : NULL), mask);
}
