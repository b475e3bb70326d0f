/*
 * hook.h — what every hook shares: the passthrough test, the per-fd facts, and the one
 * try / wait / retry loop of the I/O family.
 *
 * The shape of a hook (DESIGN.md):
 *   1. green__bypass(family): the caller is not a program green thread (the hub, a pool
 *      worker, the runtime calling libc for itself, code running before the constructor)
 *      or the family is switched off -> return real_<name>(...) and touch nothing else.
 *   2. try the call without blocking: MSG_DONTWAIT for the socket calls, RWF_NOWAIT
 *      (preadv2/pwritev2) for read/write, so the open file's O_NONBLOCK flag, which
 *      other processes share, is never touched.
 *   3. it would block and the program asked for blocking: wait on the hub for readiness
 *      until the deadline (SO_RCVTIMEO / SO_SNDTIMEO), then retry from 2.
 *   4. return exactly what the kernel would have: value, errno, partial count.
 * Errno is set once, at the end, by the hook.
 */
#ifndef GREEN_HOOK_H
#define GREEN_HOOK_H

#include "internal.h"
#include "real.h"

/* Families, as GREEN_PATCH names them. */
enum {
    GREEN_F_SOCKET = 1 << 0,  /* descriptor and socket I/O */
    GREEN_F_SELECT = 1 << 1,  /* poll, select, epoll_wait */
    GREEN_F_TIME = 1 << 2,    /* sleep family */
    GREEN_F_THREAD = 1 << 3,  /* pthreads become green threads */
    GREEN_F_PROCESS = 1 << 4, /* fork, wait family, system, popen, posix_spawn */
    GREEN_F_DNS = 1 << 5,     /* getaddrinfo and friends */
    GREEN_F_STDIO = 1 << 6,   /* stdio on sockets and stdin */
    GREEN_F_ALL = (1 << 7) - 1
};

/* The families switched on; 0 until the constructor has run, so that everything before it
 * passes through. */
extern unsigned green__patched;

/* The family is on (the constructor has run and GREEN_PATCH includes it). */
static inline int green__family_on(unsigned family)
{
    return (__atomic_load_n(&green__patched, __ATOMIC_RELAXED) & family) != 0;
}

static inline int green__bypass(unsigned family)
{
    struct green__local *l;

    if (GREEN_UNLIKELY(!(green__patched & family)) || GREEN_UNLIKELY(green__tls_real))
        return 1;
    l = green__tls;
    if (l && (l->in_runtime || l->sched.current == l->sched.hub))
        return 1;
    green__family = family; /* GREEN_STATS counts this hook's waits under its family */
    return 0;
}

/* ---------------------------------------------------------------------- fd.c
 *
 * What the shim knows of a descriptor, read on the slow path only (a call that would
 * block; the fast path needs nothing): the kind of file, whether the open file is
 * non-blocking, the socket timeouts.  These are read from the kernel each time, never
 * cached: the O_NONBLOCK flag and the timeouts belong to the open file, which dup'd
 * descriptors, raw system calls and other processes change behind any cache.  What the
 * kernel cannot tell is kept per number, with the identity (device, inode) of the file it
 * was learned on, so a number reused for another file starts afresh.
 */
enum { GREEN_FD_OTHER = 0, GREEN_FD_SOCKET, GREEN_FD_PIPE, GREEN_FD_CHAR, GREEN_FD_FILE };

struct green__fd {
    int kind;
    int nonblock;             /* O_NONBLOCK on the open file */
    int64_t rcvtimeo, sndtimeo; /* SO_RCVTIMEO / SO_SNDTIMEO in ns; 0 none, < 0 "never wait"
                               * (a negative timeout was set: the kernel then does not
                               * block, though getsockopt reports it as none) */
    int no_nowait;            /* RWF_NOWAIT refused: wait for readiness, then the plain call */
};

/* A hint for the fast path only: set by the hooks that make sockets, cleared by close.  A
 * stale hint costs one ENOTSOCK and clears itself, so no result ever depends on it. */
#define GREEN_MAX_FDS (1 << 20)
extern unsigned char *green__sockets;
static inline int green__fd_is_socket(int fd)
{
    unsigned char *s = green__sockets;
    return s && (unsigned)fd < GREEN_MAX_FDS && s[fd];
}
void green__fd_socket(int fd, int on);
/* The lowest of the top span descriptor numbers (soft limit; 0 if none): where the shim
 * keeps descriptors of its own, out of the program's way. */
int green__fd_top(int span);
/* fd, a descriptor of the shim's or the runtime's own, moved among the top span numbers
 * (close-on-exec), so the program gets the numbers it gets without the shim: many
 * programs, and their tests, expect the lowest free one.  Returns the new number, or fd
 * if there is no room. */
int green__fd_high(int fd, int span);
/* The span for descriptors the shim opens for one call or one child (pidfds, sigtimedwait's
 * signalfd): above the hub's (16, socket.c) and the hidden ones (64, fd.c). */
#define GREEN_FD_CALL_SPAN (16 + 64 + 256)

/* The facts of fd now, into *f; -1 with errno set (EBADF) if fd is not open.  want: the
 * directions (GREEN_READ, GREEN_WRITE) whose socket timeout to read, a system call each;
 * the other stays 0. */
int green__fd_get(int fd, int want, struct green__fd *f);
/* The number no longer names what it did (close, dup2 over it). */
void green__fd_forget(int fd);
/* Remember what the kernel will not report. */
void green__fd_no_nowait(int fd);
void green__fd_negative_timeout(int fd, int optname, int on);

/* close() and dup2() over a number with blocked I/O on it: the open file moves to a hidden
 * high number so those calls go on (the kernel keeps a file alive while a call uses it),
 * and the number is freed.  Returns 0 (nothing to move) or the hidden number. */
int green__fd_park_waiters(int fd);
/* The end of a hook whose wait followed its file from fd to cur (a hidden number, or fd
 * itself if the file did not move): done with it (the last user closes it); errno is
 * left as the call set it. */
void green__fd_unpark(int fd, int cur);

/* Is fd's socket shut down for reading where its non-blocking call cannot say so?  A
 * datagram socket's receive, and a Unix listener's accept, then say EAGAIN while the
 * socket polls readable; the kernel's blocking calls say 0 and EINVAL.  The hooks ask after
 * a wake that found nothing (so nothing is spent on the common path): POLLRDHUP is set on
 * such sockets only by that shutdown.  errno is kept. */
int green__fd_read_shut(int fd);

/* Robust mutexes (sync.c) held by the calling green pthread (thread.c keeps the list). */
void green__robust_held(green_mutex_t *m, int held);
/* The calling green pthread ends: its robust mutexes are released with "owner died". */
void green__robust_owner_died(green_mutex_t *m);
void green__robust_release_all(void);

/* fcntl's F_SETLKW and F_OFD_SETLKW (lock.c). */
int green__fcntl_lock(int fd, int cmd, void *arg);

/* Copy n bytes the program passed, as the kernel would: -EFAULT for an unreadable
 * address instead of a fault inside the shim (process_vm_readv on ourselves). */
int green__copy_in(void *dst, const void *src, size_t n);
/* The other way: n bytes to the program's dst, -EFAULT if it cannot be written. */
int green__copy_out(void *dst, const void *src, size_t n);

/* signal.c: lets the runtime run the program's handlers of its reserved signals. */
void green__signal_init(void);

/* ---------------------------------------------------------------------- io.c
 *
 * One blocking call described for the retry loop: call(op, nowait) performs it, without
 * blocking when nowait is set; events is GREEN_READ or GREEN_WRITE.
 */
struct green__op {
    ssize_t (*call)(struct green__op *op, int nowait);
    int fd;
    int events;
    int flags;
    void *buf;
    size_t len;
    const struct iovec *iov;
    int iovcnt;
    void *addr;
    socklen_t *addrlen;
    void *msg;
};

/* Run op as the blocking call it stands for would run, letting other green threads run
 * while it would block.  Returns the call's result; errno is set on -1. */
ssize_t green__io(struct green__op *op);
/* The same, after the hook made the first non-blocking attempt itself: r is its result (a
 * short count, or -1 with errno EAGAIN), caller_errno the program's errno before it. */
ssize_t green__io_slow(struct green__op *op, ssize_t r, int caller_errno);

#endif
