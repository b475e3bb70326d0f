/*
 * fd.c — the facts of a descriptor for the slow path (hook.h).
 *
 * Everything the kernel can report is read afresh on each slow call: fstat for the kind,
 * F_GETFL for O_NONBLOCK, getsockopt for the timeout of the direction the call waits in.  The slow path already waits on the
 * hub (an epoll_ctl and a switch at least), and a cache would go stale whenever the open
 * file changes behind the number (a dup'd descriptor, a raw system call, another process).
 *
 * Two facts the kernel does not report are kept in a table indexed by number: that
 * RWF_NOWAIT is refused (terminals), and that a negative socket timeout was set (the
 * kernel then never waits, yet getsockopt reports "no timeout").  Each entry carries the
 * identity (device, inode) of the file it was learned on, so a number reused for another
 * file — fclose and fopen reach the kernel from inside libc, unseen — starts afresh.  The
 * table is one MAP_NORESERVE reservation; untouched entries cost nothing.
 *
 * Every system call here is the raw one: these run inside hooks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"

#define MAX_FDS GREEN_MAX_FDS

struct entry {
    unsigned long dev, ino; /* identity of the file the flags were learned on; 0 = none */
    unsigned char no_nowait, neg_rcvtimeo, neg_sndtimeo;
};

static struct entry *table;
static unsigned table_lock;

/* *where, reserved on first use (MAP_NORESERVE: untouched pages cost nothing); NULL if the
 * reservation fails. */
static void *reserve(void **where, size_t size)
{
    void *p = __atomic_load_n(where, __ATOMIC_ACQUIRE);

    if (GREEN_LIKELY(p != NULL))
        return p;
    green__spin_lock(&table_lock);
    if (!*where) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED)
            __atomic_store_n(where, p, __ATOMIC_RELEASE);
    }
    p = *where;
    green__spin_unlock(&table_lock);
    return p;
}

static struct entry *slot(int fd)
{
    struct entry *t;

    if (fd < 0 || fd >= MAX_FDS || !(t = reserve((void **)&table, MAX_FDS * sizeof *t)))
        return NULL;
    return &t[fd];
}

/* The entry for fd if it was learned on the file fd names now (st). */
static struct entry *current(int fd, const struct stat *st)
{
    struct entry *e = table ? slot(fd) : NULL;

    if (!e || e->dev != st->st_dev || e->ino != st->st_ino)
        return NULL;
    return e;
}

/* The entry for fd, claimed for the file it names now. */
static struct entry *claim(int fd)
{
    struct stat st;
    struct entry *e = slot(fd);

    if (!e || syscall(SYS_fstat, fd, &st) < 0)
        return NULL;
    if (e->dev != st.st_dev || e->ino != st.st_ino) {
        *e = (struct entry){.dev = st.st_dev, .ino = st.st_ino};
    }
    return e;
}

/* A socket timeout in nanoseconds.  The kernel keeps (and reports) any below LONG_MAX
 * jiffies, years beyond 2^63 nanoseconds: those become INT64_MAX / 2, about 146 years,
 * which still leaves room to add the current time to it for a deadline. */
static int64_t timeval_ns(const struct timeval *tv)
{
    if (tv->tv_sec >= INT64_MAX / 2 / 1000000000)
        return INT64_MAX / 2;
    return (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
}

unsigned char *green__sockets;

void green__fd_socket(int fd, int on)
{
    unsigned char *s = __atomic_load_n(&green__sockets, __ATOMIC_ACQUIRE);

    if (fd < 0 || fd >= MAX_FDS || (!s && !on))
        return;
    if (!s && !(s = reserve((void **)&green__sockets, MAX_FDS)))
        return;
    s[fd] = (unsigned char)on;
}

/* The lowest number of the top `span` descriptors the soft limit allows (capped at
 * MAX_FDS), where the shim keeps descriptors of its own; 0 if there is no such room or the
 * limit can't be read. */
int green__fd_top(int span)
{
    struct rlimit rl;
    int top;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    top = (int)(rl.rlim_cur > MAX_FDS ? MAX_FDS : rl.rlim_cur) - span;
    return top > 0 ? top : 0;
}

int green__fd_high(int fd, int span)
{
    int moved, floor = green__fd_top(span);

    if (fd < 0 || floor < 48 || fd >= floor) /* 48: a soft limit under 64 keeps its order */
        return fd;
    moved = REAL(fcntl64)(fd, F_DUPFD_CLOEXEC, floor);
    if (moved < 0)
        return fd;
    REAL(close)(fd);
    return moved;
}

int green__fd_get(int fd, int want, struct green__fd *f)
{
    struct stat st;
    struct entry *e;
    int fl;

    if (syscall(SYS_fstat, fd, &st) < 0)
        return -1;
    fl = (int)syscall(SYS_fcntl, fd, F_GETFL);
    e = current(fd, &st);
    *f = (struct green__fd){.nonblock = fl >= 0 && (fl & O_NONBLOCK),
                            .no_nowait = e && e->no_nowait};
    switch (st.st_mode & S_IFMT) {
    case S_IFSOCK: {
        struct timeval tv;
        socklen_t len = sizeof tv;
        f->kind = GREEN_FD_SOCKET;
        if ((want & GREEN_READ) &&
            syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0)
            f->rcvtimeo = timeval_ns(&tv);
        len = sizeof tv;
        if ((want & GREEN_WRITE) &&
            syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0)
            f->sndtimeo = timeval_ns(&tv);
        if ((want & GREEN_READ) && e && e->neg_rcvtimeo && !f->rcvtimeo)
            f->rcvtimeo = -1;
        if ((want & GREEN_WRITE) && e && e->neg_sndtimeo && !f->sndtimeo)
            f->sndtimeo = -1;
        break;
    }
    case S_IFIFO:
        f->kind = GREEN_FD_PIPE;
        break;
    case S_IFCHR:
        f->kind = GREEN_FD_CHAR;
        break;
    case S_IFREG:
    case S_IFBLK:
    case S_IFDIR:
        f->kind = GREEN_FD_FILE;
        break;
    default:
        f->kind = GREEN_FD_OTHER; /* eventfd, timerfd, signalfd, epoll, inotify, ... */
        break;
    }
    return 0;
}

void green__fd_forget(int fd)
{
    struct entry *e = table ? slot(fd) : NULL;

    if (e && (e->dev || e->ino)) /* only then: close_range forgets thousands of numbers */
        e->dev = e->ino = 0;
    if (green__fd_is_socket(fd))
        green__sockets[fd] = 0;
}

void green__fd_no_nowait(int fd)
{
    struct entry *e = claim(fd);

    if (e)
        e->no_nowait = 1;
}

void green__fd_negative_timeout(int fd, int optname, int on)
{
    struct entry *e = claim(fd);

    if (!e)
        return;
    if (optname == SO_RCVTIMEO)
        e->neg_rcvtimeo = (unsigned char)on;
    else
        e->neg_sndtimeo = (unsigned char)on;
}

int green__copy_in(void *dst, const void *src, size_t n)
{
    struct iovec local = {dst, n}, remote = {(void *)src, n};
    int saved = errno;
    ssize_t r;

    if (!src)
        return -EFAULT;
    r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    errno = saved;
    return r == (ssize_t)n ? 0 : -EFAULT;
}

int green__copy_out(void *dst, const void *src, size_t n)
{
    struct iovec local = {(void *)src, n}, remote = {dst, n};
    int saved = errno;
    ssize_t r;

    if (!dst)
        return -EFAULT;
    r = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
    errno = saved;
    return r == (ssize_t)n ? 0 : -EFAULT;
}

/* Hidden descriptors that carry open files closed under blocked calls: how many calls still
 * use each. */
#define HIDDEN_MAX 64
static struct {
    int fd;
    size_t users;
} hidden[HIDDEN_MAX];

int green__fd_park_waiters(int fd)
{
    int h, floor;
    size_t moved;

    if (!green__hub_fd_followed(fd))
        return 0;
    floor = green__fd_top(16 + HIDDEN_MAX);
    h = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor > fd ? floor : fd + 1);
    if (h < 0)
        return 0;
    moved = green__hub_fd_move(fd, h);
    for (int i = 0; moved && i < HIDDEN_MAX; i++) {
        if (hidden[i].users == 0) {
            hidden[i].fd = h;
            hidden[i].users = moved;
            return h;
        }
    }
    /* Nobody to carry, or no room to remember it: the waiters that moved keep using h,
     * which then stays open (bounded: HIDDEN_MAX at once). */
    if (!moved)
        syscall(SYS_close, h);
    return moved ? h : 0;
}

void green__fd_unpark(int fd, int cur)
{
    int e = errno;

    if (cur == fd)
        return;
    for (int i = 0; i < HIDDEN_MAX; i++) {
        if (hidden[i].users && hidden[i].fd == cur) {
            if (--hidden[i].users == 0)
                syscall(SYS_close, cur);
            break;
        }
    }
    errno = e;
}

int green__fd_read_shut(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    int e = errno, r = REAL(poll)(&p, 1, 0) == 1 && (p.revents & POLLRDHUP);

    errno = e;
    return r;
}
