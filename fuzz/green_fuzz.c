/*
 * green_fuzz.c — a libFuzzer target: random sequences of hooked calls, run unpatched and
 * patched in one process, must leave identical transcripts.
 *
 * The input is a little program.  The interpreter below decodes it into at most MAX_OPS
 * operations on a handful of descriptor slots (socketpairs, pipes, eventfds, epoll fds, TCP
 * sockets on 127.0.0.1 and AF_UNIX ones in the abstract namespace, listening or not):
 * read/write/readv/writev/recv/send/recvmsg/sendmsg with sizes from 0 to 1 MiB and
 * MSG_DONTWAIT/MSG_PEEK/MSG_WAITALL/MSG_TRUNC, connect/accept/accept4/listen, shutdown,
 * close, dup/dup2/dup3 onto the slots' numbers, O_NONBLOCK by fcntl and FIONBIO, FIONREAD,
 * SO_RCVTIMEO/SO_SNDTIMEO, poll/ppoll/select/epoll_ctl/epoll_wait, the sleep family, an
 * errorcheck mutex, a condition variable and a semaphore, and a helper pthread that, after
 * a delay, writes to, reads from, closes, shuts down or dup2s over a slot, or signals the
 * cond or posts the semaphore.  Every result goes into a transcript: return value, errno
 * name, and for reads the count and a hash of the bytes (GREEN_FUZZ_SHOW=1 prints them).
 *
 * One input runs twice: with green__patched (preload/init.c) at 0, where every hook passes
 * through to libc — the unpatched program — and with every family on, where the calling
 * thread becomes the main green thread (green__local() on its first hook) and the helper a
 * green thread.  A difference aborts with both transcripts, and libFuzzer keeps the input.
 * This is in-process on purpose: coverage then sees the shim and the runtime, which a
 * target that runs a legacy program twice (plain and LD_PRELOAD) would not.  libFuzzer's
 * own calls go through the hooks too, but none is made while the family mask is on (run
 * it with -rss_limit_mb=0: that option's thread would otherwise sleep through a hook and
 * get a hub of its own); -jobs workers are separate processes.
 *
 * Determinism, so a difference is a bug and never the scheduler's doing:
 *  - a call that can block forever (a read of an empty pipe, poll(-1), ...) is ended by a
 *    watchdog signal, a no-op handler without SA_RESTART aimed at this thread
 *    (SIGEV_THREAD_ID) after WATCH_MS, so it returns EINTR (or its partial count) in both
 *    runs; calls with their own bounded timeout are not watched, and a socket with
 *    SO_RCVTIMEO or SO_SNDTIMEO gets WATCH_TIMEO_MS, far beyond the SHORT_MS it can hold;
 *  - the timeouts the program picks are SHORT_MS or 0, the helper acts HELPER_MS after it
 *    starts, and the watchdog waits much longer while it is pending (a sem or cond wait the
 *    helper will end waits up to WAKE_MS), so "the timeout came first" and "the helper came
 *    first" each hold by a wide margin;
 *  - a loaded machine can still stretch a margin (a thread not scheduled for 300 ms): an
 *    input whose transcripts differ is run again, and only a difference in all of CONFIRM
 *    tries counts;
 *  - the helper is joined right after the next operation of main (a second helper asked
 *    for meanwhile is refused); its calls never block (poll with timeout 0 before a read or
 *    write), except on the mutex, which main lets go before the join;
 *  - what depends on time is left out: select's remaining timeout, nanosleep's remainder.
 * Everything the run created is closed and destroyed at its end, so the next run starts
 * from the same descriptor numbers.
 *
 * Rejected: AFL++ driving a legacy program plain and under LD_PRELOAD (two processes per
 * input: simpler, but coverage would not see libgreen and every input costs two execs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

#define MAX_OPS 40
#define NSLOT 8
#define MAX_FD 1024
#define BIG (1 << 20)
#define SHORT_MS 1   /* a timeout meant to expire */
#define HELPER_MS 30 /* the helper acts this long after it starts */
#define WATCH_MS 15  /* a call blocked this long with no helper pending blocks forever */
#define WATCH_TIMEO_MS 100 /* the same for a socket with SO_RCVTIMEO or SO_SNDTIMEO set */
#define WATCH_HELPER_MS 300
#define WAKE_MS 2000 /* sem/cond_timedwait's timeout when the pending helper will wake it */
#define CONFIRM 3    /* runs of a differing input before it counts as a difference */
#define TRANSCRIPT 65536

static const size_t sizes[] = {0, 1, 7, 64, 4096, 65536, 200000, BIG};

enum { H_NONE, H_WRITE, H_READ, H_CLOSE, H_SHUTDOWN, H_COND, H_SLEEP, H_DUP2, H_SEM, H_NKINDS };

struct helper {
    pthread_t t;
    int kind, fd, fd2;
    size_t n;
    pthread_mutex_t *mutex;
    pthread_cond_t *cond;
    sem_t *sem;
    long ret;
    int err;
    unsigned char buf[64];
};

struct run {
    const uint8_t *in;
    size_t len, pos;
    int slot[NSLOT];
    unsigned next_slot;
    unsigned char owned[MAX_FD];
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    sem_t sem;
    int locked; /* main holds mutex */
    int helping;
    unsigned names; /* abstract AF_UNIX names made */
    struct helper h;
    char *out;
    size_t outlen;
};

static unsigned char *wbuf, *rbuf;
static timer_t watchdog;

/* ------------------------------------------------------------------ helpers */

static unsigned take(struct run *r)
{
    return r->pos < r->len ? r->in[r->pos++] : 0;
}

static void say(struct run *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->outlen >= TRANSCRIPT - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(r->out + r->outlen, TRANSCRIPT - r->outlen, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->outlen += (size_t)n < TRANSCRIPT - r->outlen ? (size_t)n : TRANSCRIPT - 1 - r->outlen;
}

/* The result of a call returning -1 and errno: the value, and errno's name when it failed. */
static void result(struct run *r, long ret, int err)
{
    if (ret < 0)
        say(r, " = %ld %s\n", ret, strerrorname_np(err) ? strerrorname_np(err) : "?");
    else
        say(r, " = %ld\n", ret);
}

static uint32_t hash(const unsigned char *p, long n)
{
    uint32_t h = 2166136261u;

    for (long i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int pick(struct run *r)
{
    return r->slot[take(r) % NSLOT];
}

static void own(struct run *r, int fd, int on)
{
    if (fd >= 0 && fd < MAX_FD)
        r->owned[fd] = (unsigned char)on;
}

static void add_slot(struct run *r, int fd)
{
    r->slot[r->next_slot++ % NSLOT] = fd;
    own(r, fd, 1);
}

/* Arm (ms > 0) or disarm the watchdog aimed at this thread.  It fires again every
 * WATCH_MS: on a loaded machine the first signal can come before the call has begun to
 * wait, and would then leave it waiting for good. */
static void watch(int ms)
{
    struct itimerspec it = {.it_value = {ms / 1000, (ms % 1000) * 1000000L},
                            .it_interval = {0, ms ? WATCH_MS * 1000000L : 0}};

    timer_settime(watchdog, 0, &it, NULL);
}

/* Arm the watchdog for a call on fd that may block.  getsockopt is not hooked, so asking
 * whether the socket has a timeout changes nothing in the shim. */
static void watch_fd(struct run *r, int fd)
{
    struct timeval rcv = {0, 0}, snd = {0, 0};
    socklen_t len = sizeof rcv;

    if (r->helping) {
        watch(WATCH_HELPER_MS);
        return;
    }
    getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, &len);
    len = sizeof snd;
    getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, &len);
    watch(rcv.tv_sec || rcv.tv_usec || snd.tv_sec || snd.tv_usec ? WATCH_TIMEO_MS : WATCH_MS);
}

static void on_watchdog(int sig)
{
    (void)sig;
}

static void abs_in(struct timespec *ts, clockid_t clock, int ms)
{
    clock_gettime(clock, ts);
    ts->tv_nsec += (ms % 1000) * 1000000L;
    ts->tv_sec += ms / 1000 + ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

/* ------------------------------------------------------------------ helper thread */

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    struct timespec d = {0, HELPER_MS * 1000000L};
    struct pollfd p = {.fd = h->fd};
    uint64_t one = 1;

    nanosleep(&d, NULL);
    errno = 0;
    switch (h->kind) {
    case H_WRITE:
        p.events = POLLOUT;
        h->ret = poll(&p, 1, 0);
        /* n 8 writes the counter an eventfd takes; anything else takes it too. */
        if (h->ret == 1 && (p.revents & POLLOUT))
            h->ret = h->n == 8 ? write(h->fd, &one, 8) : write(h->fd, wbuf, h->n);
        break;
    case H_READ:
        p.events = POLLIN;
        h->ret = poll(&p, 1, 0);
        if (h->ret == 1 && (p.revents & POLLIN))
            h->ret = read(h->fd, h->buf, h->n);
        break;
    case H_CLOSE:
        h->ret = close(h->fd);
        break;
    case H_SHUTDOWN:
        h->ret = shutdown(h->fd, SHUT_RDWR);
        break;
    case H_COND:
        h->ret = pthread_mutex_lock(h->mutex);
        if (h->ret == 0) {
            h->ret = pthread_cond_signal(h->cond);
            pthread_mutex_unlock(h->mutex);
        }
        break;
    case H_DUP2:
        h->ret = dup2(h->fd2, h->fd);
        break;
    case H_SEM:
        h->ret = sem_post(h->sem);
        break;
    default:
        h->ret = 0;
        break;
    }
    h->err = errno;
    return NULL;
}

static void helper_start(struct run *r)
{
    static const char *const names[] = {"none", "write", "read",  "close", "shutdown",
                                        "cond", "sleep", "dup2", "sem"};
    int kind = 1 + take(r) % (H_NKINDS - 1), e;
    unsigned s = take(r) % NSLOT;

    if (r->helping) {
        say(r, "helper busy\n");
        return;
    }
    unsigned a = take(r);

    r->h = (struct helper){.kind = kind, .fd = r->slot[s], .fd2 = r->slot[(a >> 1) % NSLOT],
                           .n = (a & 1) ? 8 : 64, .mutex = &r->mutex, .cond = &r->cond,
                           .sem = &r->sem};
    say(r, "helper %s slot%u(fd %d) fd2 %d n=%zu", names[kind], s, r->h.fd, r->h.fd2, r->h.n);
    e = pthread_create(&r->h.t, NULL, helper_main, &r->h);
    say(r, " = %d\n", e);
    r->helping = e == 0;
}

/* After main's next operation: the helper has acted; join it and note what it did. */
static void helper_end(struct run *r)
{
    int e;

    if (!r->helping)
        return;
    r->helping = 0;
    if (r->h.kind == H_COND && r->locked) {
        /* The helper waits for the mutex main holds: let it go, or the join never ends. */
        say(r, "unlock for join = %d\n", pthread_mutex_unlock(&r->mutex));
        r->locked = 0;
    }
    e = pthread_join(r->h.t, NULL);
    say(r, "join = %d; helper", e);
    result(r, r->h.ret, r->h.err);
    if (r->h.kind == H_CLOSE && r->h.ret == 0)
        own(r, r->h.fd, 0);
    if (r->h.kind == H_DUP2 && r->h.ret >= 0)
        own(r, (int)r->h.ret, 1);
}

/* ------------------------------------------------------------------ operations */

/* TCP buffers of a fixed size: the kernel's autotuning, which follows measured round
 * trips, would make how much a blocking send moves before the watchdog depend on timing.
 * Accepted sockets inherit the listener's. */
static void fixed_buffers(int fd)
{
    int size = 65536;

    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
}

/* A listening socket: TCP on 127.0.0.1, port 0, with a backlog no run can fill (a
 * connection the kernel drops is retried a second later: timing would leak into the
 * transcript), or AF_UNIX in the abstract namespace, named by process and count (the same
 * names in both runs), whose full backlog blocks connect at once.  -1 with errno set. */
static int listener(struct run *r, int inet, unsigned a)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int fd = socket(inet ? AF_INET : AF_UNIX, SOCK_STREAM | ((a & 1) ? SOCK_NONBLOCK : 0), 0);
    int e, n = snprintf(un.sun_path + 1, sizeof un.sun_path - 1, "green_fuzz.%d.%u",
                        (int)getpid(), r->names++);
    socklen_t len = inet ? sizeof in : offsetof(struct sockaddr_un, sun_path) + 1 + n;

    if (fd < 0)
        return -1;
    fixed_buffers(fd);
    if (bind(fd, inet ? (struct sockaddr *)&in : (struct sockaddr *)&un, len) ||
        listen(fd, inet ? 2 * MAX_OPS : (int)(a >> 1) % 3)) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void op_create(struct run *r, unsigned what)
{
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    unsigned a = take(r);
    int sv[2] = {-1, -1}, ret, e;

    switch (what % 8) {
    case 0:
        ret = socketpair(AF_UNIX, types[a % 3] | ((a & 4) ? SOCK_NONBLOCK : 0), 0, sv);
        e = errno;
        say(r, "socketpair(type %u, nonblock %u)", a % 3, (a >> 2) & 1);
        break;
    case 1:
        ret = pipe2(sv, (a & 1) ? O_NONBLOCK : 0);
        e = errno;
        say(r, "pipe2(%u)", a & 1);
        break;
    case 2:
        ret = sv[0] = eventfd(a & 2, ((a & 1) ? EFD_NONBLOCK : 0) | ((a & 4) ? EFD_SEMAPHORE : 0));
        e = errno;
        say(r, "eventfd(%u)", a & 7);
        break;
    case 3:
        ret = sv[0] = epoll_create1(0);
        e = errno;
        say(r, "epoll_create1");
        break;
    case 4:
    case 5:
        ret = sv[0] = socket(what % 8 == 4 ? AF_INET : AF_UNIX,
                             SOCK_STREAM | ((a & 1) ? SOCK_NONBLOCK : 0), 0);
        e = errno;
        say(r, "socket(%s, %u)", what % 8 == 4 ? "inet" : "unix", a & 1);
        fixed_buffers(ret);
        break;
    default:
        ret = sv[0] = listener(r, what % 8 == 6, a);
        e = errno;
        say(r, "listener(%s, %u)", what % 8 == 6 ? "inet" : "unix", a & 7);
        break;
    }
    result(r, ret, e);
    if (ret < 0)
        return;
    say(r, "  fds %d %d\n", sv[0], sv[1]);
    add_slot(r, sv[0]);
    if (sv[1] >= 0)
        add_slot(r, sv[1]);
}

/* n iovecs laid end to end from base; returns their total length. */
static size_t fill_iov(struct run *r, struct iovec *iov, int n, unsigned char *base)
{
    size_t off = 0;

    for (int i = 0; i < n; i++) {
        size_t len = sizes[take(r) % 6]; /* up to 65536 each: the iovecs stay within BIG */
        iov[i].iov_base = base + off;
        iov[i].iov_len = len;
        off += len;
    }
    return off;
}

static void said_read(struct run *r, long ret, int e, unsigned char *buf, size_t max)
{
    result(r, ret, e);
    if (ret > 0) /* MSG_TRUNC reports a datagram's full length, more than was copied */
        say(r, "  hash %08x\n", hash(buf, ret < (long)max ? ret : (long)max));
}

static void op_io(struct run *r, unsigned what)
{
    static const int rflags[] = {0, MSG_DONTWAIT, MSG_PEEK, MSG_PEEK | MSG_DONTWAIT,
                                 MSG_WAITALL, MSG_TRUNC | MSG_DONTWAIT};
    static const int sflags[] = {0, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_MORE | MSG_DONTWAIT};
    int fd = pick(r), e, niov;
    unsigned a = take(r);
    size_t n = sizes[a % 8];
    struct iovec iov[4];
    struct msghdr m = {.msg_iov = iov};
    long ret;

    watch_fd(r, fd);
    switch (what % 8) {
    case 0:
        ret = read(fd, rbuf, n);
        e = errno;
        watch(0);
        say(r, "read(%d, %zu)", fd, n);
        said_read(r, ret, e, rbuf, n);
        return;
    case 1:
        ret = write(fd, wbuf, n);
        e = errno;
        say(r, "write(%d, %zu)", fd, n);
        break;
    case 2:
        niov = 1 + (a >> 3) % 4;
        n = fill_iov(r, iov, niov, rbuf);
        ret = readv(fd, iov, niov);
        e = errno;
        watch(0);
        say(r, "readv(%d, %d)", fd, niov);
        said_read(r, ret, e, rbuf, n);
        return;
    case 3:
        niov = 1 + (a >> 3) % 4;
        fill_iov(r, iov, niov, wbuf);
        ret = writev(fd, iov, niov);
        e = errno;
        say(r, "writev(%d, %d)", fd, niov);
        break;
    case 4:
        ret = recv(fd, rbuf, n, rflags[(a >> 3) % 6]);
        e = errno;
        watch(0);
        say(r, "recv(%d, %zu, %#x)", fd, n, rflags[(a >> 3) % 6]);
        said_read(r, ret, e, rbuf, n);
        return;
    case 5:
        ret = send(fd, wbuf, n, sflags[(a >> 3) % 4]);
        e = errno;
        say(r, "send(%d, %zu, %#x)", fd, n, sflags[(a >> 3) % 4]);
        break;
    case 6:
        m.msg_iovlen = 1 + (a >> 3) % 4;
        n = fill_iov(r, iov, (int)m.msg_iovlen, rbuf);
        ret = recvmsg(fd, &m, rflags[(a >> 5) % 6]);
        e = errno;
        watch(0);
        say(r, "recvmsg(%d, %zu, %#x)", fd, m.msg_iovlen, rflags[(a >> 5) % 6]);
        said_read(r, ret, e, rbuf, n);
        if (ret >= 0)
            say(r, "  msg_flags %#x\n", m.msg_flags);
        return;
    default:
        m.msg_iovlen = 1 + (a >> 3) % 4;
        fill_iov(r, iov, (int)m.msg_iovlen, wbuf);
        ret = sendmsg(fd, &m, sflags[(a >> 5) % 4]);
        e = errno;
        say(r, "sendmsg(%d, %zu, %#x)", fd, m.msg_iovlen, sflags[(a >> 5) % 4]);
        break;
    }
    watch(0);
    result(r, ret, e);
}

static void op_conn(struct run *r, unsigned what)
{
    int fd = pick(r), l = pick(r), ret, e;
    unsigned a = take(r);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    switch (what % 4) {
    case 0:
        /* To the address of slot l, whatever it is: a listener, or anything else. */
        if (getsockname(l, (struct sockaddr *)&ss, &len))
            len = 0;
        watch_fd(r, fd);
        ret = connect(fd, (struct sockaddr *)&ss, len);
        e = errno;
        watch(0);
        say(r, "connect(%d, address of %d)", fd, l);
        break;
    case 1:
    case 2:
        watch_fd(r, fd);
        ret = what % 4 == 1 ? accept(fd, (struct sockaddr *)&ss, &len)
                            : accept4(fd, (struct sockaddr *)&ss, &len,
                                      ((a & 1) ? SOCK_NONBLOCK : 0) | SOCK_CLOEXEC);
        e = errno;
        watch(0);
        say(r, "accept%s(%d)", what % 4 == 1 ? "" : "4", fd);
        result(r, ret, e);
        if (ret >= 0) {
            say(r, "  addrlen %u\n", (unsigned)len);
            add_slot(r, ret);
        }
        return;
    default:
        /* A TCP backlog stays out of reach, as in listener(). */
        len = sizeof e;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &e, &len) || e != AF_INET)
            e = (int)a % 3;
        else
            e = 2 * MAX_OPS;
        ret = listen(fd, e);
        e = errno;
        say(r, "listen(%d, %u)", fd, a % 3);
        break;
    }
    result(r, ret, e);
}

static void op_fd(struct run *r, unsigned what)
{
    int fd = pick(r), to = pick(r), ret, e, on;
    unsigned a = take(r);

    switch (what % 8) {
    case 0:
        ret = close(fd);
        e = errno;
        say(r, "close(%d)", fd);
        if (ret == 0)
            own(r, fd, 0);
        break;
    case 1:
        ret = dup(fd);
        e = errno;
        say(r, "dup(%d)", fd);
        if (ret >= 0)
            add_slot(r, ret);
        break;
    case 2:
        ret = (a & 1) ? dup3(fd, to, O_CLOEXEC) : dup2(fd, to);
        e = errno;
        say(r, "dup%c(%d, %d)", (a & 1) ? '3' : '2', fd, to);
        if (ret >= 0)
            own(r, ret, 1);
        break;
    case 3:
        on = fcntl(fd, F_GETFL);
        ret = on < 0 ? on : fcntl(fd, F_SETFL, (a & 1) ? on | O_NONBLOCK : on & ~O_NONBLOCK);
        e = errno;
        say(r, "fcntl(%d, O_NONBLOCK %d)", fd, a & 1);
        break;
    case 4:
        on = a & 1;
        ret = ioctl(fd, FIONBIO, &on);
        e = errno;
        say(r, "ioctl(%d, FIONBIO %d)", fd, a & 1);
        break;
    case 5:
        ret = fcntl(fd, F_GETFL);
        e = errno;
        say(r, "F_GETFL(%d)", fd);
        if (ret > 0)
            ret &= O_ACCMODE | O_NONBLOCK;
        break;
    case 6:
        ret = shutdown(fd, a % 3);
        e = errno;
        say(r, "shutdown(%d, %u)", fd, a % 3);
        break;
    default:
        ret = ioctl(fd, FIONREAD, &on);
        e = errno;
        say(r, "FIONREAD(%d)", fd);
        if (ret == 0)
            ret = on;
        break;
    }
    result(r, ret, e);
}

static void op_sockopt(struct run *r, unsigned what)
{
    static const struct timeval tvs[] = {{0, 0}, {0, SHORT_MS * 1000}, {-1, 0}, {0, 1}};
    int fd = pick(r), name = (what & 1) ? SO_SNDTIMEO : SO_RCVTIMEO, ret, e;
    unsigned a = take(r);
    struct timeval tv = tvs[a % 4];
    socklen_t len = sizeof tv;

    if (a & 4) {
        ret = getsockopt(fd, SOL_SOCKET, name, &tv, &len);
        e = errno;
        say(r, "getsockopt(%d, %s)", fd, (what & 1) ? "SNDTIMEO" : "RCVTIMEO");
        result(r, ret, e);
        if (ret == 0)
            say(r, "  %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
        return;
    }
    ret = setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv);
    e = errno;
    say(r, "setsockopt(%d, %s, %ld.%06ld)", fd, (what & 1) ? "SNDTIMEO" : "RCVTIMEO",
        (long)tv.tv_sec, (long)tv.tv_usec);
    result(r, ret, e);
}

/* A wait's timeout in ms: 0, SHORT_MS, or none (the watchdog ends it). */
static int timeout_ms(unsigned a)
{
    return (a % 3 == 0) ? 0 : (a % 3 == 1) ? SHORT_MS : -1;
}

static void op_mux(struct run *r, unsigned what)
{
    unsigned a = take(r), n = 1 + take(r) % 4;
    int t = timeout_ms(a), ret, e;
    struct pollfd p[4];

    switch (what % 4) {
    case 0:
    case 3:
        for (unsigned i = 0; i < n; i++) {
            unsigned ev = take(r);
            p[i] = (struct pollfd){.fd = pick(r),
                                   .events = (short)(((ev & 1) ? POLLIN : 0) |
                                                     ((ev & 2) ? POLLOUT : 0) |
                                                     ((ev & 4) ? POLLPRI : 0))};
        }
        if (t < 0)
            watch(r->helping ? WATCH_HELPER_MS : WATCH_MS);
        if (what % 4 == 3) {
            struct timespec ts = {0, t * 1000000L};
            ret = ppoll(p, n, t < 0 ? NULL : &ts, NULL);
        } else {
            ret = poll(p, n, t);
        }
        e = errno;
        watch(0);
        say(r, "%s(%u, %d)", what % 4 == 3 ? "ppoll" : "poll", n, t);
        result(r, ret, e);
        for (unsigned i = 0; ret > 0 && i < n; i++)
            say(r, "  %d: %#x\n", p[i].fd, p[i].revents);
        return;
    case 1: {
        fd_set rs, ws;
        int max = -1;
        struct timeval tv = {0, t * 1000};

        FD_ZERO(&rs);
        FD_ZERO(&ws);
        for (unsigned i = 0; i < n; i++) {
            unsigned ev = take(r);
            int fd = pick(r);
            if (fd < 0)
                continue;
            if (ev & 1)
                FD_SET(fd, &rs);
            if (ev & 2)
                FD_SET(fd, &ws);
            max = fd > max ? fd : max;
        }
        if (t < 0)
            watch(r->helping ? WATCH_HELPER_MS : WATCH_MS);
        ret = select(max + 1, &rs, &ws, NULL, t < 0 ? NULL : &tv);
        e = errno;
        watch(0);
        say(r, "select(%d, %d)", max + 1, t);
        result(r, ret, e);
        for (int fd = 0; ret > 0 && fd <= max; fd++)
            if (FD_ISSET(fd, &rs) || FD_ISSET(fd, &ws))
                say(r, "  %d: %d%d\n", fd, FD_ISSET(fd, &rs) != 0, FD_ISSET(fd, &ws) != 0);
        return;
    }
    default: {
        int ep = pick(r), fd = pick(r), op = 1 + take(r) % 3;
        struct epoll_event ev = {.events = ((a & 8) ? EPOLLIN : 0) | ((a & 16) ? EPOLLOUT : 0) |
                                           ((a & 32) ? EPOLLET : 0) |
                                           ((a & 64) ? EPOLLONESHOT : 0),
                                 .data.fd = fd},
                           out[4];

        if (a & 128) {
            ret = epoll_ctl(ep, op, fd, &ev);
            e = errno;
            say(r, "epoll_ctl(%d, %d, %d, %#x)", ep, op, fd, ev.events);
            result(r, ret, e);
            return;
        }
        if (t < 0)
            watch(r->helping ? WATCH_HELPER_MS : WATCH_MS);
        ret = epoll_wait(ep, out, (int)n, t);
        e = errno;
        watch(0);
        say(r, "epoll_wait(%d, %u, %d)", ep, n, t);
        result(r, ret, e);
        for (int i = 0; i < ret; i++)
            say(r, "  %d: %#x\n", out[i].data.fd, out[i].events);
        return;
    }
    }
}

static void op_time(struct run *r, unsigned what)
{
    unsigned a = take(r);
    struct timespec d = {0, (a & 1) ? SHORT_MS * 1000000L : 0};
    int ret, e;

    switch (what % 4) {
    case 0:
        ret = nanosleep(&d, NULL);
        e = errno;
        say(r, "nanosleep(%ld)", d.tv_nsec);
        break;
    case 1:
        ret = usleep((a & 1) ? SHORT_MS * 1000 : 0);
        e = errno;
        say(r, "usleep(%d)", (a & 1) ? SHORT_MS * 1000 : 0);
        break;
    case 3:
        ret = clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL);
        e = ret; /* the error number is the result, errno untouched */
        say(r, "clock_nanosleep(%ld)", d.tv_nsec);
        break;
    default:
        ret = sched_yield();
        e = errno;
        say(r, "sched_yield");
        break;
    }
    result(r, ret, e);
}

static void op_sync(struct run *r, unsigned what)
{
    struct timespec ts;
    int ret, e, ms;

    switch (what % 8) {
    case 0:
        ret = pthread_mutex_lock(&r->mutex);
        say(r, "mutex_lock = %d\n", ret);
        r->locked |= ret == 0;
        break;
    case 1:
        ret = pthread_mutex_trylock(&r->mutex);
        say(r, "mutex_trylock = %d\n", ret);
        r->locked |= ret == 0;
        break;
    case 2:
        ret = pthread_mutex_unlock(&r->mutex);
        say(r, "mutex_unlock = %d\n", ret);
        r->locked &= ret != 0;
        break;
    case 4:
        ret = sem_trywait(&r->sem);
        e = errno;
        say(r, "sem_trywait");
        result(r, ret, e);
        break;
    case 5:
        ret = sem_post(&r->sem);
        e = errno;
        say(r, "sem_post");
        result(r, ret, e);
        break;
    case 6:
        /* As cond_timedwait below: the timeout is far from the helper's moment. */
        ms = r->helping && r->h.kind == H_SEM ? WAKE_MS : SHORT_MS;
        abs_in(&ts, CLOCK_REALTIME, ms);
        ret = sem_timedwait(&r->sem, &ts);
        e = errno;
        say(r, "sem_timedwait(%d)", ms);
        result(r, ret, e);
        break;
    default:
        /* Waiting needs the mutex held; a helper that signals must find main waiting well
         * before the timeout, one that does not must see it expire well after it acts. */
        if (!r->locked)
            return;
        ms = r->helping && r->h.kind == H_COND ? WAKE_MS : SHORT_MS;
        abs_in(&ts, CLOCK_REALTIME, ms);
        ret = pthread_cond_timedwait(&r->cond, &r->mutex, &ts);
        say(r, "cond_timedwait(%d) = %d\n", ms, ret);
        break;
    }
}

/* ------------------------------------------------------------------ one run */

static void run(struct run *r)
{
    pthread_mutexattr_t ma;

    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&r->mutex, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_cond_init(&r->cond, NULL);
    sem_init(&r->sem, 0, 0);
    for (int i = 0; i < NSLOT; i++)
        r->slot[i] = -1;

    for (int i = 0; i < MAX_OPS && r->pos < r->len; i++) {
        unsigned op = take(r);
        say(r, "%d: ", i);
        switch (op % 8) {
        case 0:
            op_create(r, op >> 3);
            break;
        case 1:
            op_io(r, op >> 3);
            break;
        case 2:
            op_conn(r, op >> 3);
            break;
        case 3:
            op_fd(r, op >> 3);
            break;
        case 4:
            op_sockopt(r, op >> 3);
            break;
        case 5:
            op_mux(r, op >> 3);
            break;
        case 6:
            op_time(r, op >> 3);
            break;
        default:
            if (op & 8)
                helper_start(r);
            else
                op_sync(r, op >> 4);
            break;
        }
        if (!((op % 8) == 7 && (op & 8)))
            helper_end(r);
    }
    helper_end(r);

    if (r->locked)
        pthread_mutex_unlock(&r->mutex);
    sem_destroy(&r->sem);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mutex);
    for (int fd = 0; fd < MAX_FD; fd++)
        if (r->owned[fd])
            close(fd);
}

static void transcript(struct run *r, const uint8_t *in, size_t len, char *out)
{
    memset(r, 0, sizeof *r);
    r->in = in;
    r->len = len;
    r->out = out;
    run(r);
    out[r->outlen] = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 3};
    struct sigaction sa = {.sa_handler = on_watchdog}; /* no SA_RESTART: EINTR */

    (void)argc;
    (void)argv;
    wbuf = malloc(BIG);
    rbuf = malloc(BIG);
    if (!wbuf || !rbuf)
        abort();
    for (size_t i = 0; i < BIG; i++)
        wbuf[i] = (unsigned char)(i * 7 + (i >> 8));
    signal(SIGPIPE, SIG_IGN);
    /* Installed with the hooks on, so the shim wraps it and knows it lacks SA_RESTART. */
    green__patched = GREEN_F_ALL;
    sigaction(SIGRTMIN + 3, &sa, NULL);
    green__patched = 0;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    if (timer_create(CLOCK_MONOTONIC, &sev, &watchdog))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    static char plain[TRANSCRIPT], green[TRANSCRIPT];
    static struct run r;
    static int show = -1;

    if (show < 0) /* GREEN_FUZZ_SHOW=1: print both transcripts of every input */
        show = getenv("GREEN_FUZZ_SHOW") && !strcmp(getenv("GREEN_FUZZ_SHOW"), "1");

    for (int i = 0; i < CONFIRM; i++) {
        transcript(&r, in, len, plain);
        __atomic_store_n(&green__patched, GREEN_F_ALL, __ATOMIC_RELEASE);
        transcript(&r, in, len, green);
        __atomic_store_n(&green__patched, 0, __ATOMIC_RELEASE);
        if (show)
            fprintf(stderr, "--- unpatched\n%s--- patched\n%s", plain, green);
        if (!strcmp(plain, green))
            return 0;
    }
    fprintf(stderr, "green_fuzz: patched run differs\n--- unpatched\n%s--- patched\n%s", plain,
            green);
    abort();
}
