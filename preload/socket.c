/*
 * socket.c — sockets and descriptor bookkeeping: socket, socketpair, accept, accept4,
 * connect, the recv and send families, sendfile, splice, close, dup*, fcntl, ioctl,
 * setsockopt, pipe, pipe2, eventfd.
 *
 * recv and send take MSG_DONTWAIT per call.  Error-queue reads (MSG_ERRQUEUE) never block
 * in the kernel, so they go straight to it.  accept, connect and sendfile have no per-call
 * flag, so they set O_NONBLOCK on the open file for the duration of one call and put it
 * back before anything else can run (never across a switch): another green thread, or a
 * child process sharing the socket, never sees the program's mode changed.
 *
 * Descriptor bookkeeping: close (and dup2/dup3 over an open number) first moves the open
 * file of every call blocked on the number to a hidden number, where the call goes on as
 * the kernel's holds its file (wait_follow), and wakes the other waiters with EBADF; then
 * it forgets what the fd table knew, then closes: the number can be reused at once.
 * shutdown needs no hook: a waiter on the socket is woken by the readiness it causes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"

/* ------------------------------------------------------------ recv family */

static ssize_t call_recvfrom(struct green__op *op, int nowait)
{
    return REAL(recvfrom)(op->fd, op->buf, op->len, op->flags | (nowait ? MSG_DONTWAIT : 0),
                          op->addr, op->addrlen);
}

static ssize_t call_sendto(struct green__op *op, int nowait)
{
    return REAL(sendto)(op->fd, op->buf, op->len,
                        op->flags | (nowait ? MSG_DONTWAIT : 0),
                        op->addr, op->addrlen ? *op->addrlen : 0);
}

/* recvmsg and sendmsg: the first call uses the program's msghdr; after a partial transfer
 * (MSG_WAITALL, or a stream send), the rest goes through a copy that points at the
 * remaining iovecs and carries no name or control data, which went with the first part. */
static ssize_t call_msg(struct green__op *op, int nowait)
{
    struct msghdr *m = op->msg, rest;
    int flags = op->flags | (nowait ? MSG_DONTWAIT : 0);
    ssize_t r;

    if (op->iov != m->msg_iov || op->iovcnt != (int)m->msg_iovlen) {
        memset(&rest, 0, sizeof rest);
        rest.msg_iov = (struct iovec *)op->iov;
        rest.msg_iovlen = (size_t)op->iovcnt;
        m = &rest;
    }
    if (op->events == GREEN_WRITE)
        return REAL(sendmsg)(op->fd, m, flags);
    r = REAL(recvmsg)(op->fd, m, flags);
    if (r >= 0 && m == &rest)
        ((struct msghdr *)op->msg)->msg_flags |= rest.msg_flags;
    return r;
}

/* A zero-length recv on TCP returns 0 at once, data or not, though with MSG_DONTWAIT it
 * says EAGAIN; on other sockets it waits for data like any recv. */
static int tcp(int fd)
{
    int proto = 0;
    socklen_t len = sizeof proto;

    return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 && proto == IPPROTO_TCP;
}

GREEN_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                              socklen_t *addrlen)
{
    if (green__bypass(GREEN_F_SOCKET) || (flags & (MSG_DONTWAIT | MSG_ERRQUEUE)))
        return REAL(recvfrom)(fd, buf, n, flags, addr, addrlen);
    if (n == 0 && tcp(fd))
        return REAL(recvfrom)(fd, buf, n, flags, addr, addrlen);
    /* The fast path inline, with the raw system call (glibc's wrapper is a cancellation
     * point and costs more).  MSG_WAITALL needs the loop's accounting from the start. */
    struct green__op op = {.call = call_recvfrom, .fd = fd, .events = GREEN_READ,
                           .flags = flags, .buf = buf, .len = n, .addr = addr,
                           .addrlen = addrlen};
    if (!(flags & MSG_WAITALL)) {
        int caller_errno = errno;
        ssize_t r = syscall(SYS_recvfrom, fd, buf, n, flags | MSG_DONTWAIT, addr, addrlen);
        if (GREEN_LIKELY(r >= 0) || errno != EAGAIN)
            return r;
        return green__io_slow(&op, r, caller_errno);
    }
    return green__io(&op);
}

GREEN_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    return recvfrom(fd, buf, n, flags, NULL, NULL);
}

/* The shim reads the msghdr before the kernel does: an unreadable one goes to the kernel,
 * which says EFAULT. */
static int readable_msg(const struct msghdr *msg)
{
    struct msghdr m;

    return green__copy_in(&m, msg, sizeof m) == 0;
}

GREEN_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (green__bypass(GREEN_F_SOCKET) || (flags & (MSG_DONTWAIT | MSG_ERRQUEUE)) ||
        !readable_msg(msg))
        return REAL(recvmsg)(fd, msg, flags);
    struct green__op op = {.call = call_msg, .fd = fd, .events = GREEN_READ, .flags = flags,
                           .iov = msg->msg_iov, .iovcnt = (int)msg->msg_iovlen, .msg = msg};
    return green__io(&op);
}

GREEN_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
                            const struct sockaddr *addr, socklen_t addrlen)
{
    if (green__bypass(GREEN_F_SOCKET) || (flags & MSG_DONTWAIT))
        return REAL(sendto)(fd, buf, n, flags, addr, addrlen);
    struct green__op op = {.call = call_sendto, .fd = fd, .events = GREEN_WRITE,
                           .flags = flags, .buf = (void *)buf, .len = n,
                           .addr = (void *)addr, .addrlen = &addrlen};
    int caller_errno = errno;
    /* The fast path inline, with the raw system call; a short count or EAGAIN continues in
     * the loop, which completes the rest as the blocking call would. */
    ssize_t r = syscall(SYS_sendto, fd, buf, n, flags | MSG_DONTWAIT, addr, addrlen);
    if (GREEN_LIKELY((size_t)r == n) || (r < 0 && errno != EAGAIN) || n == 0)
        return r;
    return green__io_slow(&op, r, caller_errno);
}

GREEN_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    return sendto(fd, buf, n, flags, NULL, 0);
}

GREEN_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (green__bypass(GREEN_F_SOCKET) || (flags & MSG_DONTWAIT) || !readable_msg(msg))
        return REAL(sendmsg)(fd, msg, flags);
    struct green__op op = {.call = call_msg, .fd = fd, .events = GREEN_WRITE, .flags = flags,
                           .iov = msg->msg_iov, .iovcnt = (int)msg->msg_iovlen,
                           .msg = (void *)msg};
    return green__io(&op);
}

extern void __chk_fail(void) __attribute__((noreturn));

GREEN_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    if (n > buflen)
        __chk_fail();
    return recvfrom(fd, buf, n, flags, NULL, NULL);
}

GREEN_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                    struct sockaddr *addr, socklen_t *addrlen)
{
    if (n > buflen)
        __chk_fail();
    return recvfrom(fd, buf, n, flags, addr, addrlen);
}

/* A call that succeeds after the hook's own attempts leaves errno as the caller had it. */
static ssize_t ok(int caller_errno, ssize_t r)
{
    errno = caller_errno;
    return r;
}

/* The hub's result of a wait as the kernel's: 0 when ready, or -1 with errno set (timeout
 * gives timeout_errno). */
static int ready_result(int w, int timeout_errno)
{
    if (w >= 0)
        return 0;
    if (w == -ECANCELED)
        green__api_result(w);
    errno = w == -ETIMEDOUT ? timeout_errno : -w;
    return -1;
}

/* A wait for *fdp inside a hook: 0 when ready, or -1 with errno set (ready_result).  The
 * call goes on with its files when another thread closes a number under it, as the
 * kernel's holds them: *fdp, and *held (or NULL: another file the call uses, not waited
 * on), follow their files to the hidden numbers they move to (green__fd_park_waiters),
 * which the caller gives back at the end (green__fd_unpark).  span: the call's waits
 * (a handler between two of them ends it too); moved: the call has transferred data, so
 * any handler ends it, with the count. */
static int wait_follow(struct green__intr_span *span, size_t moved, int *fdp, int *held,
                       int events, int64_t deadline, int timeout_errno)
{
    int intr = deadline != GREEN_NO_DEADLINE || moved ? GREEN_INTR_ALWAYS
                                                      : GREEN_INTR_RESTARTABLE;

    return ready_result(green__hub_wait_io_span(span, intr, fdp, held, events, deadline),
                        timeout_errno);
}

/* The program made the open file non-blocking: the plain call's EAGAIN stands. */
static int user_nonblock(int fd)
{
    struct green__fd f;

    return green__fd_get(fd, 0, &f) == 0 && f.nonblock;
}

/* After a wait for room, a sender blocked in the kernel would report a pending socket error
 * (a reset) first: 0, or that error, consumed as the kernel consumes it. */
static int pending_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return 0;
    return err;
}

/* The deadline the socket's SO_RCVTIMEO or SO_SNDTIMEO sets for one wait from now (a
 * negative timeout: now, the kernel does not wait at all). */
static int64_t timeout_deadline(int fd, int events)
{
    struct green__fd f;
    int64_t t;

    if (green__fd_get(fd, events, &f) < 0)
        return GREEN_NO_DEADLINE;
    t = events & GREEN_READ ? f.rcvtimeo : f.sndtimeo;
    return t > 0 ? green_now() + t : t < 0 ? 0 : GREEN_NO_DEADLINE;
}

/* recvmmsg: blocking, it waits for vlen messages (or one, with MSG_WAITFORONE), each
 * receive after the first bounded by SO_RCVTIMEO, and checks its timeout argument after
 * each message as the kernel does. */
GREEN_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags,
                          struct timespec *timeout)
{
    int64_t deadline = GREEN_NO_DEADLINE;
    struct timespec t;
    struct green__intr_span span = {0};
    unsigned done = 0;
    int r, cur = fd, caller_errno = errno, woke = 0;

    /* vlen 0 asks for nothing: the kernel answers 0 at once. */
    if (green__bypass(GREEN_F_SOCKET) || (flags & (MSG_DONTWAIT | MSG_ERRQUEUE)) || !vlen)
        return REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
    if (timeout) {
        if (green__copy_in(&t, timeout, sizeof t) < 0 || t.tv_sec < 0 || t.tv_nsec < 0 ||
            t.tv_nsec > 999999999)
            return REAL(recvmmsg)(fd, vec, vlen, flags, timeout); /* EFAULT, EINVAL */
        deadline = green__deadline_after(t.tv_sec, t.tv_nsec);
    }
    for (;;) {
        r = REAL(recvmmsg)(cur, vec + done, vlen - done, flags | MSG_DONTWAIT, NULL);
        if (r > 0) {
            int ended = done == 0 && green__intr_span_moved(&span);

            done += (unsigned)r;
            if (ended || done == vlen || (flags & MSG_WAITFORONE) ||
                (timeout && green_now() >= deadline))
                break;
        } else if (r < 0 && (errno != EAGAIN || user_nonblock(cur))) {
            break;
        } else if (r < 0 && woke && green__fd_read_shut(cur)) {
            /* Shut down for reading (see green__fd_read_shut): the blocking call no
             * longer waits, and fills the slots left as the kernel's does. */
            if ((r = REAL(recvmmsg)(cur, vec + done, vlen - done, flags, NULL)) > 0)
                done += (unsigned)r;
            break;
        }
        if ((r = wait_follow(&span, done, &cur, NULL, GREEN_READ,
                             timeout_deadline(cur, GREEN_READ), EAGAIN)) < 0)
            break;
        woke = 1;
    }
    green__fd_unpark(fd, cur);
    return done ? (int)ok(caller_errno, done) : r;
}

GREEN_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags)
{
    int64_t deadline = GREEN_NO_DEADLINE;
    struct green__intr_span span = {0};
    unsigned done = 0;
    int r, cur = fd, caller_errno = errno;

    if (green__bypass(GREEN_F_SOCKET) || (flags & MSG_DONTWAIT))
        return REAL(sendmmsg)(fd, vec, vlen, flags);
    for (;;) {
        r = REAL(sendmmsg)(cur, vec + done, vlen - done, flags | MSG_DONTWAIT);
        if (r > 0) {
            int ended = done == 0 && green__intr_span_moved(&span);

            done += (unsigned)r;
            if (ended || done == vlen)
                break;
        } else if ((r < 0 && (errno != EAGAIN || user_nonblock(cur))) || r == 0) {
            break;
        }
        if (deadline == GREEN_NO_DEADLINE)
            deadline = timeout_deadline(cur, GREEN_WRITE);
        if ((r = wait_follow(&span, done, &cur, NULL, GREEN_WRITE, deadline, EAGAIN)) < 0)
            break;
        if ((r = pending_error(cur))) {
            errno = r;
            r = -1;
            break;
        }
    }
    green__fd_unpark(fd, cur);
    return done || r == 0 ? (int)ok(caller_errno, done) : r;
}

static int made_socket(int r, int *fds, int n);

/* ------------------------------------------------ calls without a per-call flag */

/* Run call with O_NONBLOCK set on fd's open file, then restore it; no switch happens in
 * between.  *was_nonblock tells whether the program had set it itself. */
#define WITH_NONBLOCK(fd, was_nonblock, result, call)                                       \
    do {                                                                                    \
        int fl_ = REAL(fcntl64)(fd, F_GETFL);                                               \
        if (fl_ < 0) {                                                                      \
            (result) = -1;                                                                  \
            break;                                                                          \
        }                                                                                   \
        (was_nonblock) = (fl_ & O_NONBLOCK) != 0;                                           \
        if (was_nonblock) {                                                                 \
            (result) = (call);                                                              \
            break;                                                                          \
        }                                                                                   \
        REAL(fcntl64)(fd, F_SETFL, fl_ | O_NONBLOCK);                                       \
        (result) = (call);                                                                  \
        int e_ = errno;                                                                     \
        REAL(fcntl64)(fd, F_SETFL, fl_);                                                    \
        errno = e_;                                                                         \
    } while (0)

/* accept follows its listener when another thread closes it (wait_follow): the kernel's
 * accept goes on waiting on the socket it holds. */
GREEN_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
    int64_t deadline = GREEN_NO_DEADLINE;
    struct green__intr_span span = {0};
    int r, nb = 0, caller_errno = errno, cur = fd, woke = 0;

    if (green__bypass(GREEN_F_SOCKET))
        return REAL(accept4)(fd, addr, addrlen, flags);
    for (;;) {
        WITH_NONBLOCK(cur, nb, r, REAL(accept4)(cur, addr, addrlen, flags));
        if (r >= 0) {
            made_socket(r, NULL, 1);
            r = (int)ok(caller_errno, r);
            break;
        }
        if (nb || errno != EAGAIN)
            break;
        if (woke && green__fd_read_shut(cur)) {
            errno = EINVAL;
            break;
        }
        if (deadline == GREEN_NO_DEADLINE)
            deadline = timeout_deadline(cur, GREEN_READ);
        if ((r = wait_follow(&span, 0, &cur, NULL, GREEN_READ, deadline, EAGAIN)) < 0)
            break;
        woke = 1;
    }
    green__fd_unpark(fd, cur);
    return r;
}

GREEN_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    return accept4(fd, addr, addrlen, 0);
}

/* connect: a non-blocking attempt; EINPROGRESS waits for the socket to become writable
 * and then asks connect again, which is how the kernel finishes a connection started
 * without blocking (the socket stays "connecting" until then: a later connect would
 * return 0 instead of EISCONN) and reports its error.  A Unix socket whose listener's
 * backlog is full says EAGAIN and offers nothing to wait on: the blocking call sleeps in
 * the kernel until there is room, so the hook tries again after growing pauses.  The
 * waits and the pauses follow the socket when another thread closes the number
 * (wait_follow), as the kernel's connect holds it. */
GREEN_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int r, w, nb = 0, caller_errno = errno, cur = fd;
    int64_t deadline = GREEN_NO_DEADLINE, pause = 1000000;
    struct green__intr_span span = {0};

    if (green__bypass(GREEN_F_SOCKET))
        return REAL(connect)(fd, addr, len);
    WITH_NONBLOCK(fd, nb, r, REAL(connect)(fd, addr, len));
    if (r == 0)
        return ok(caller_errno, 0);
    if (nb)
        return r;
    while (r < 0 && errno == EAGAIN) {
        if (deadline == GREEN_NO_DEADLINE)
            deadline = timeout_deadline(cur, GREEN_WRITE);
        if (deadline <= green_now()) {
            errno = EAGAIN;
            break;
        }
        w = green__hub_wait_io_span(&span, deadline != GREEN_NO_DEADLINE
                                               ? GREEN_INTR_ALWAYS
                                               : GREEN_INTR_RESTARTABLE,
                                    &cur, NULL, 0,
                                    green_now() + pause < deadline ? green_now() + pause
                                                                   : deadline);
        if (w < 0 && w != -ETIMEDOUT) {
            green__api_result(w);
            errno = -w;
            break;
        }
        if (pause < 64000000)
            pause *= 2;
        WITH_NONBLOCK(cur, nb, r, REAL(connect)(cur, addr, len));
    }
    while (r < 0 && errno == EINPROGRESS) {
        /* SO_SNDTIMEO expiry leaves it in progress, as the kernel reports. */
        if (wait_follow(&span, 0, &cur, NULL, GREEN_WRITE, timeout_deadline(cur, GREEN_WRITE),
                        EINPROGRESS) < 0)
            break;
        WITH_NONBLOCK(cur, nb, r, REAL(connect)(cur, addr, len));
        if (r < 0 && errno == EISCONN)
            r = 0;
        else if (r < 0 && errno == EALREADY)
            errno = EINPROGRESS; /* still connecting: wait again */
    }
    green__fd_unpark(fd, cur);
    return r == 0 ? (int)ok(caller_errno, 0) : -1;
}

GREEN_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
    int64_t deadline = GREEN_NO_DEADLINE;
    struct green__intr_span span = {0};
    size_t done = 0;
    ssize_t r;
    int nb = 0, caller_errno = errno, cur_out = out, cur_in = in;

    if (green__bypass(GREEN_F_SOCKET))
        return REAL(sendfile64)(out, in, off, count);
    /* The wait for room follows both files when another thread closes a number. */
    for (;;) {
        WITH_NONBLOCK(cur_out, nb, r, REAL(sendfile64)(cur_out, cur_in, off, count - done));
        if (nb)
            break;
        if (r > 0) {
            int ended = done == 0 && green__intr_span_moved(&span);

            done += (size_t)r;
            if (ended || done == count)
                break;
        } else if (r == 0 || errno != EAGAIN) {
            break; /* r == 0: the end of the input file */
        }
        if (deadline == GREEN_NO_DEADLINE)
            deadline = timeout_deadline(cur_out, GREEN_WRITE);
        if ((r = wait_follow(&span, done, &cur_out, &cur_in, GREEN_WRITE, deadline, EAGAIN)) <
            0)
            break;
    }
    green__fd_unpark(out, cur_out);
    green__fd_unpark(in, cur_in);
    return nb ? r : done || r == 0 ? ok(caller_errno, (ssize_t)done) : r;
}
GREEN_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
    __attribute__((alias("sendfile64")));

/* One splice attempt that cannot block: SPLICE_F_NONBLOCK covers the pipe end only, and
 * a blocking socket at the other end would still block the OS thread (a TCP splice_read
 * waits for data), so the output's open file is made non-blocking too, and the input's by
 * the caller (WITH_NONBLOCK, no switch in between). */
static ssize_t splice_once(int in, off_t *inoff, int out, off_t *outoff, size_t len,
                           unsigned flags)
{
    ssize_t r;
    int nb;

    WITH_NONBLOCK(out, nb, r, REAL(splice)(in, inoff, out, outoff, len,
                                           flags | SPLICE_F_NONBLOCK));
    return r;
}

/* splice: after each EAGAIN it waits for one end, the input and the output in turn, and
 * tries again (a wait comes right after the call said EAGAIN, so both numbers are open).
 * Each wait follows both files when another thread closes a number. */
GREEN_EXPORT ssize_t splice(int in, off_t *inoff, int out, off_t *outoff, size_t len,
                            unsigned flags)
{
    struct green__intr_span span = {0};
    ssize_t r;
    int caller_errno = errno, cur_in = in, cur_out = out, nb;

    if (green__bypass(GREEN_F_SOCKET) || (flags & SPLICE_F_NONBLOCK))
        return REAL(splice)(in, inoff, out, outoff, len, flags);
    for (int output = 0;; output ^= 1) {
        WITH_NONBLOCK(cur_in, nb, r, splice_once(cur_in, inoff, cur_out, outoff, len, flags));
        if (r >= 0) {
            r = ok(caller_errno, r);
            break;
        }
        if (errno != EAGAIN || user_nonblock(cur_in) || user_nonblock(cur_out))
            break;
        if ((r = wait_follow(&span, 0, output ? &cur_out : &cur_in, output ? &cur_in : &cur_out,
                             output ? GREEN_WRITE : GREEN_READ, GREEN_NO_DEADLINE, EAGAIN)) < 0)
            break;
    }
    green__fd_unpark(in, cur_in);
    green__fd_unpark(out, cur_out);
    return r;
}

/* ------------------------------------------------------ descriptor lifetime */

/* The number is about to name nothing (close) or something else (dup2 over it): blocked
 * I/O on it goes on with the open file under a hidden number; poll-family waiters wake and
 * find the number closed (POLLNVAL), as the kernel's rescan would. */
static void number_closing(int fd)
{
    int saved = errno;

    green__fd_park_waiters(fd);
    green__hub_fd_closing(fd);
    errno = saved;
}

GREEN_EXPORT int close(int fd)
{
    if (!green__bypass(GREEN_F_SOCKET))
        number_closing(fd);
    green__fd_forget(fd);
    return REAL(close)(fd);
}

/* close_range and closefrom: what close does, for each number of the range up to the
 * soft limit.  (CLOSE_RANGE_CLOEXEC closes nothing.) */
static void range_closing(unsigned first, unsigned last)
{
    unsigned top = (unsigned)green__fd_top(0);

    for (unsigned fd = first; fd <= last && fd < top; fd++) {
        number_closing((int)fd);
        green__fd_forget((int)fd);
    }
}

GREEN_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    if (!green__bypass(GREEN_F_SOCKET) && !(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
        range_closing(first, last);
    return REAL(close_range)(first, last, flags);
}

GREEN_EXPORT void closefrom(int lowfd)
{
    if (!green__bypass(GREEN_F_SOCKET) && lowfd >= 0)
        range_closing((unsigned)lowfd, ~0U);
    REAL(closefrom)(lowfd);
}

static int made(int r, int *fds, int n)
{
    if (r >= 0)
        for (int i = 0; i < n; i++)
            green__fd_forget(fds ? fds[i] : r);
    return r;
}

/* New sockets: forgotten as any new number, and marked for the read/write fast path. */
static int made_socket(int r, int *fds, int n)
{
    made(r, fds, n);
    if (r >= 0)
        for (int i = 0; i < n; i++)
            green__fd_socket(fds ? fds[i] : r, 1);
    return r;
}

GREEN_EXPORT int socket(int domain, int type, int proto)
{
    return made_socket(REAL(socket)(domain, type, proto), NULL, 1);
}

GREEN_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
    return made_socket(REAL(socketpair)(domain, type, proto, sv), sv, 2);
}

GREEN_EXPORT int pipe(int fds[2])
{
    return made(REAL(pipe)(fds), fds, 2);
}

GREEN_EXPORT int pipe2(int fds[2], int flags)
{
    return made(REAL(pipe2)(fds, flags), fds, 2);
}

GREEN_EXPORT int dup(int fd)
{
    return made(REAL(dup)(fd), NULL, 1);
}

/* dup2 and dup3 close newfd first when it is open: its waiters learn it as from close. */
GREEN_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    if (oldfd != newfd && !green__bypass(GREEN_F_SOCKET) && green__hub_fd_followed(newfd) &&
        syscall(SYS_fcntl, oldfd, F_GETFD) >= 0)
        number_closing(newfd);
    return made(REAL(dup3)(oldfd, newfd, flags), NULL, 1);
}

GREEN_EXPORT int dup2(int oldfd, int newfd)
{
    if (oldfd != newfd && !green__bypass(GREEN_F_SOCKET) && green__hub_fd_followed(newfd) &&
        syscall(SYS_fcntl, oldfd, F_GETFD) >= 0)
        number_closing(newfd);
    return made(REAL(dup2)(oldfd, newfd), NULL, 1);
}

GREEN_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;
    int r;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    if ((cmd == F_SETLKW || cmd == F_OFD_SETLKW) && !green__bypass(GREEN_F_SOCKET))
        return green__fcntl_lock(fd, cmd, arg);
    r = REAL(fcntl64)(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        green__fd_forget(r);
    return r;
}
GREEN_EXPORT int fcntl(int fd, int cmd, ...) __attribute__((alias("fcntl64")));

/* A call the runtime makes for itself, or libev makes from the hub: libev makes a new
 * epoll set from inside ev_run when it finds a number reused under one of its registrations
 * (its fork path, taken on a generation mismatch). */
static int runtime_call(void)
{
    struct green__local *l = green__tls;

    return l && (l->in_runtime || l->sched.current == l->sched.hub);
}

GREEN_EXPORT int epoll_create1(int flags)
{
    int fd = REAL(epoll_create1)(flags);

    return runtime_call() ? green__fd_high(fd, 16) : made(fd, NULL, 1);
}

GREEN_EXPORT int eventfd(unsigned initval, int flags)
{
    int fd = REAL(eventfd)(initval, flags);

    return runtime_call() ? green__fd_high(fd, 16) : made(fd, NULL, 1);
}

GREEN_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    return REAL(ioctl)(fd, req, arg);
}

GREEN_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int r = REAL(setsockopt)(fd, level, name, val, len);

    if (r == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) &&
        len >= sizeof(struct timeval))
        green__fd_negative_timeout(fd, name, ((const struct timeval *)val)->tv_sec < 0);
    return r;
}
