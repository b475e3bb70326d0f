/*
 * io.c — the retry loop every blocking I/O hook runs (green__io), and the read/write family.
 *
 * read and write try preadv2/pwritev2 with RWF_NOWAIT at the current file position (offset
 * -1): a per-call "don't block" that works on sockets, pipes and eventfds without touching
 * the O_NONBLOCK flag of the open file, which other processes (a shell, an exec'd child)
 * share.  Where RWF_NOWAIT is refused (terminals, old kernels, some special files), the
 * loop waits for readiness and then makes the plain call.
 *
 * Regular files are always "ready" for epoll; RWF_NOWAIT says EAGAIN when the data is not
 * in the page cache, and the plain (blocking) call then runs on the pool (file_io).
 *
 * Writes to a blocking descriptor are completed as the kernel completes them: a blocking
 * write or send returns only once every byte is queued (or on error or timeout, with the
 * count so far), so a partial non-blocking write waits for room and continues.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"

/* A call refused RWF_NOWAIT (EOPNOTSUPP from preadv2/pwritev2): not the program's error. */
#define NOWAIT_UNSUPPORTED (-2)

/* Move a vectored op past n bytes already transferred.  The first time, the program's iovec
 * is copied (it must not change) into space of the caller's frame. */
static void advance(struct green__op *op, size_t n, struct iovec *copy)
{
    if (!op->iov) {
        op->buf = (char *)op->buf + n;
        op->len -= n;
        return;
    }
    if (op->iov != copy) {
        memcpy(copy, op->iov, (size_t)op->iovcnt * sizeof *copy);
        op->iov = copy;
    }
    while (n > 0 && op->iovcnt > 0) {
        if (n >= copy->iov_len) {
            n -= copy->iov_len;
            copy++;
            op->iovcnt--;
        } else {
            copy->iov_base = (char *)copy->iov_base + n;
            copy->iov_len -= n;
            n = 0;
        }
    }
    op->iov = copy;
}

static size_t op_len(const struct green__op *op)
{
    size_t n = 0;

    if (!op->iov)
        return op->len;
    for (int i = 0; i < op->iovcnt; i++)
        n += op->iov[i].iov_len;
    return n;
}

/* A file's data is not in the page cache: the plain call would wait for the disk with the
 * whole OS thread, so it runs on the pool while the green thread waits there (falling back
 * to inline if no pool thread can be had).  Data in the page cache never gets here:
 * RWF_NOWAIT returned it at once. */
struct file_job {
    struct green__op *op;
    ssize_t r;
    int err;
};

static void file_call(void *arg)
{
    struct file_job *j = arg;

    j->r = j->op->call(j->op, 0);
    j->err = errno;
}

static ssize_t file_io(struct green__op *op)
{
    struct file_job j = {.op = op};

    if (green__pool_run(file_call, &j) < 0)
        return op->call(op, 0);
    errno = j.err;
    return j.r;
}

static int stream_socket(int fd)
{
    int type = 0;
    socklen_t len = sizeof type;

    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* The slow path: the first non-blocking attempt gave r (a count short of what the call
 * must deliver, EAGAIN with r == -1, or NOWAIT_UNSUPPORTED); caller_errno is errno as the
 * program had it before the call. */
ssize_t green__io_slow(struct green__op *op, ssize_t r, int caller_errno)
{
    struct iovec copy[op->iov && op->iovcnt > 0 && op->iovcnt <= IOV_MAX ? op->iovcnt : 1];
    int all = op->events == GREEN_WRITE || (op->flags & MSG_WAITALL);
    int fd = op->fd; /* op->fd follows the open file if the number is closed */
    size_t done = 0, want;
    struct green__fd f;
    int64_t deadline = GREEN_NO_DEADLINE, timeo;
    struct green__intr_span span = {0};
    int e, plain, file, woke = 0;

    e = errno;
    if (green__fd_get(op->fd, op->events, &f) < 0) {
        if (r < 0)
            return -1; /* closed meanwhile: errno is fstat's EBADF */
        errno = caller_errno;
        return r;
    }
    /* MSG_WAITALL is for stream sockets: a datagram (or seqpacket) one returns a message. */
    if (all && op->events == GREEN_READ && !stream_socket(op->fd))
        all = 0;
    want = all ? op_len(op) : 0;
    if (r == NOWAIT_UNSUPPORTED) {
        f.no_nowait = 1;
        green__fd_no_nowait(op->fd);
    }
    timeo = op->events & GREEN_READ ? f.rcvtimeo : f.sndtimeo;
    if (f.nonblock || timeo < 0) {
        /* The open file is non-blocking (or a negative timeout says never wait): exactly
         * the plain call's result. */
        if (r == NOWAIT_UNSUPPORTED) {
            errno = caller_errno;
            return op->call(op, 0);
        }
        errno = r < 0 ? e : caller_errno;
        return r;
    }
    plain = f.no_nowait;
    file = f.kind == GREEN_FD_FILE;
    if (timeo > 0)
        deadline = green_now() + timeo;

    for (;;) {
        if (r >= 0) {
            int ended = r > 0 && done == 0 && green__intr_span_moved(&span);

            done += (size_t)r;
            if (ended || !all || r == 0 || (size_t)r >= want)
                break;
            want -= (size_t)r;
            advance(op, (size_t)r, copy);
        } else if (r != NOWAIT_UNSUPPORTED && errno != EAGAIN) {
            e = errno;
            break;
        } else if (woke && op->events == GREEN_READ && f.kind == GREEN_FD_SOCKET &&
                   green__fd_read_shut(op->fd)) {
            /* A datagram socket shut down for reading: the blocking call no longer waits,
             * and says 0 (with the message fields) as the kernel's does. */
            if ((r = op->call(op, 0)) >= 0)
                done += (size_t)r;
            e = errno;
            break;
        }
        /* After a part moved, the kernel's call copies on while there is room (or data):
         * so does this one, waiting only when the non-blocking call said EAGAIN (POLLOUT
         * comes only when a third of a socket's buffer is free). */
        if (!file && (r < 0 || plain)) {
            /* A socket timeout makes the call one that signals always interrupt; so does
             * a transfer already under way (the kernel returns the count so far even
             * with SA_RESTART).  Handlers count from the first wait (of the transfer). */
            int w = green__hub_wait_io_span(&span, timeo > 0 || done > 0
                                                       ? GREEN_INTR_ALWAYS
                                                       : GREEN_INTR_RESTARTABLE,
                                            &op->fd, NULL, op->events, deadline);

            woke = 1;
            if (w < 0) {
                if (w == -ECANCELED)
                    green__api_result(w);
                e = w == -ETIMEDOUT ? EAGAIN : -w;
                break;
            }
            /* A writer blocked in the kernel reports a pending socket error (a reset by
             * the peer) before it sees the shutdown a fresh call would report first. */
            if (op->events == GREEN_WRITE && f.kind == GREEN_FD_SOCKET) {
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
                    e = err;
                    break;
                }
            }
        }
        r = file ? file_io(op) : op->call(op, !plain);
        if (r == NOWAIT_UNSUPPORTED) {
            plain = 1;
            green__fd_no_nowait(op->fd);
            r = op->call(op, 0);
        }
    }
    green__fd_unpark(fd, op->fd);
    if (done > 0 || r >= 0) {
        errno = caller_errno;
        return (ssize_t)done;
    }
    errno = e;
    return -1;
}

ssize_t green__io(struct green__op *op)
{
    int caller_errno = errno; /* a call that succeeds leaves errno as it found it */
    ssize_t r = op->call(op, 1);

    /* Fast path: done, or a real error (EWOULDBLOCK is EAGAIN on Linux). */
    if (GREEN_LIKELY(r >= 0)) {
        if (!(op->events == GREEN_WRITE || (op->flags & MSG_WAITALL)) || r == 0 ||
            (size_t)r >= op_len(op))
            return r;
    } else if (r != NOWAIT_UNSUPPORTED && errno != EAGAIN) {
        return r;
    }
    return green__io_slow(op, r, caller_errno);
}

/* ------------------------------------------------------------- read, write */

static ssize_t call_readv(struct green__op *op, int nowait)
{
    struct iovec one = {op->buf, op->len};
    const struct iovec *iov = op->iov ? op->iov : &one;
    int n = op->iov ? op->iovcnt : 1;
    ssize_t r;

    if (!nowait)
        return op->iov ? REAL(readv)(op->fd, iov, n) : REAL(read)(op->fd, op->buf, op->len);
    r = preadv2(op->fd, iov, n, -1, RWF_NOWAIT);
    return r < 0 && errno == EOPNOTSUPP ? NOWAIT_UNSUPPORTED : r;
}

static ssize_t call_writev(struct green__op *op, int nowait)
{
    struct iovec one = {op->buf, op->len};
    const struct iovec *iov = op->iov ? op->iov : &one;
    int n = op->iov ? op->iovcnt : 1;
    ssize_t r;

    if (!nowait)
        return op->iov ? REAL(writev)(op->fd, iov, n) : REAL(write)(op->fd, op->buf, op->len);
    r = pwritev2(op->fd, iov, n, -1, RWF_NOWAIT);
    return r < 0 && errno == EOPNOTSUPP ? NOWAIT_UNSUPPORTED : r;
}

/* The fast path of read and write, inline: one non-blocking attempt with the raw system
 * call (glibc's preadv2 wrapper is a cancellation point and costs more), recv/send with
 * MSG_DONTWAIT on a descriptor the hint says is a socket (cheaper in the kernel than the
 * vectored path).  A count, a real error (-1, errno set: returned as is), or
 * NOWAIT_WANTED: the slow path must take over with errno EAGAIN or NOWAIT_UNSUPPORTED. */
#define NOWAIT_WANTED (-3)

static inline ssize_t fast_attempt(int fd, void *buf, size_t n, int writing, ssize_t *first)
{
    struct iovec v = {buf, n};
    ssize_t r;

    if (green__fd_is_socket(fd)) {
        r = writing ? syscall(SYS_sendto, fd, buf, n, MSG_DONTWAIT, NULL, 0)
                    : syscall(SYS_recvfrom, fd, buf, n, MSG_DONTWAIT, NULL, NULL);
        if (GREEN_LIKELY(r >= 0))
            return r;
        if (errno == ENOTSOCK) { /* a stale hint: the number names something else now */
            green__fd_socket(fd, 0);
            r = syscall(writing ? SYS_pwritev2 : SYS_preadv2, fd, &v, 1, -1L, -1L, RWF_NOWAIT);
        }
    } else {
        r = syscall(writing ? SYS_pwritev2 : SYS_preadv2, fd, &v, 1, -1L, -1L, RWF_NOWAIT);
    }
    if (GREEN_LIKELY(r >= 0))
        return r;
    if (errno == EOPNOTSUPP) {
        *first = NOWAIT_UNSUPPORTED;
        return NOWAIT_WANTED;
    }
    if (errno != EAGAIN)
        return -1;
    *first = -1;
    return NOWAIT_WANTED;
}

/* read and write refuse, with EFAULT and before anything else, a buffer that reaches past
 * the top of user space (the kernel checks the whole count), where the non-blocking
 * attempts (recvfrom, preadv2) first cut the count to 2 GiB and go ahead.  A buffer that
 * ends beyond 2^57, above the user space of every 64-bit target (x86-64 with 5-level
 * paging has 2^56), goes to the plain call, which fails at once: exact for the counts
 * programs get wrong (SIZE_MAX, SSIZE_MAX, a negative number cast to size_t).  One ending
 * between the top of a smaller address space and 2^57 is still cut and transferred. */
static inline int beyond_user_space(const void *buf, size_t n)
{
    uint64_t start = (uintptr_t)buf, end = start + n;

    return end < start || end > (uint64_t)1 << 57;
}

GREEN_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    int caller_errno = errno;
    ssize_t r, first;

    if (green__bypass(GREEN_F_SOCKET) || n == 0 || beyond_user_space(buf, n))
        return REAL(read)(fd, buf, n);
    r = fast_attempt(fd, buf, n, 0, &first);
    if (GREEN_LIKELY(r != NOWAIT_WANTED))
        return r;
    struct green__op op = {.call = call_readv, .fd = fd, .events = GREEN_READ,
                           .buf = buf, .len = n};
    return green__io_slow(&op, first, caller_errno);
}

GREEN_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    int caller_errno = errno;
    ssize_t r, first;

    if (green__bypass(GREEN_F_SOCKET) || n == 0 || beyond_user_space(buf, n))
        return REAL(write)(fd, buf, n);
    r = fast_attempt(fd, (void *)buf, n, 1, &first);
    if (GREEN_LIKELY((size_t)r == n) || r == -1)
        return r;
    if (r >= 0)
        first = r; /* part of it went: the loop completes the rest, as the blocking call */
    struct green__op op = {.call = call_writev, .fd = fd, .events = GREEN_WRITE,
                           .buf = (void *)buf, .len = n};
    return green__io_slow(&op, first, caller_errno);
}

GREEN_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    /* A NULL iov is the kernel's EFAULT, not the ops' "one buffer" (op.iov == NULL). */
    if (green__bypass(GREEN_F_SOCKET) || !iov || iovcnt <= 0 || iovcnt > IOV_MAX)
        return REAL(readv)(fd, iov, iovcnt);
    struct green__op op = {.call = call_readv, .fd = fd, .events = GREEN_READ,
                           .iov = iov, .iovcnt = iovcnt};
    return green__io(&op);
}

GREEN_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (green__bypass(GREEN_F_SOCKET) || !iov || iovcnt <= 0 || iovcnt > IOV_MAX)
        return REAL(writev)(fd, iov, iovcnt);
    struct green__op op = {.call = call_writev, .fd = fd, .events = GREEN_WRITE,
                           .iov = iov, .iovcnt = iovcnt};
    return green__io(&op);
}

/* pread and pwrite name an offset, so they only apply to seekable files, which are never
 * "not ready": the real call, inline, is what the program would have made. */
GREEN_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    return REAL(pread64)(fd, buf, n, off);
}
GREEN_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
    __attribute__((alias("pread64")));

GREEN_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return REAL(pwrite64)(fd, buf, n, off);
}
GREEN_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
    __attribute__((alias("pwrite64")));

/* _FORTIFY_SOURCE entry points: check the buffer size as glibc does, then the hook. */
extern void __chk_fail(void) __attribute__((noreturn));

GREEN_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen)
        __chk_fail();
    return read(fd, buf, n);
}

GREEN_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    if (n > buflen)
        __chk_fail();
    return pread64(fd, buf, n, off);
}
GREEN_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
    __attribute__((alias("__pread64_chk")));
