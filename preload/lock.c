/*
 * lock.c — file locks that wait: flock without LOCK_NB, fcntl F_SETLKW / F_OFD_SETLKW, and
 * lockf F_LOCK.
 *
 * The non-blocking form is tried first; only a contended lock waits, and it waits on the
 * pool: the kernel offers no readiness to poll for "the lock is free".  The lock ends up
 * the program's all the same — POSIX record locks belong to the process, open-file-
 * description and flock locks to the open file, neither to the thread that asked — so
 * taking it on a pool thread changes nothing the program can see, except that a signal
 * does not interrupt the wait (pool threads block all signals).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>
#include <unistd.h>

#include "hook.h"

struct lock_job {
    int kind; /* 0 flock, 1 fcntl, 2 lockf */
    int fd, cmd;
    void *arg;
    off_t len;
    int r, err;
};

static void run(void *arg)
{
    struct lock_job *j = arg;

    j->r = j->kind == 0 ? REAL(flock)(j->fd, j->cmd)
         : j->kind == 1 ? REAL(fcntl64)(j->fd, j->cmd, j->arg)
                        : REAL(lockf64)(j->fd, j->cmd, j->len);
    j->err = errno;
}

/* The contended case: wait on the pool (inline if none can be had). */
static int wait_for_lock(struct lock_job *j, int caller_errno)
{
    if (green__pool_run(run, j) < 0)
        run(j);
    errno = j->r < 0 ? j->err : caller_errno;
    return j->r;
}

GREEN_EXPORT int flock(int fd, int op)
{
    struct lock_job j = {.kind = 0, .fd = fd, .cmd = op};
    int caller_errno = errno, r;

    if (green__bypass(GREEN_F_SOCKET) || (op & LOCK_NB) || (op & ~LOCK_NB) == LOCK_UN)
        return REAL(flock)(fd, op);
    r = REAL(flock)(fd, op | LOCK_NB);
    if (r == 0 || errno != EWOULDBLOCK)
        return r;
    return wait_for_lock(&j, caller_errno);
}

/* fcntl's waiting lock commands; the rest of fcntl is in socket.c. */
int green__fcntl_lock(int fd, int cmd, void *arg)
{
    struct lock_job j = {.kind = 1, .fd = fd, .cmd = cmd, .arg = arg};
    int caller_errno = errno, r;

    r = REAL(fcntl64)(fd, cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK, arg);
    if (r == 0 || (errno != EAGAIN && errno != EACCES))
        return r;
    return wait_for_lock(&j, caller_errno);
}

GREEN_EXPORT int lockf64(int fd, int cmd, off_t len)
{
    struct lock_job j = {.kind = 2, .fd = fd, .cmd = cmd, .len = len};
    int caller_errno = errno, r;

    if (green__bypass(GREEN_F_SOCKET) || cmd != F_LOCK)
        return REAL(lockf64)(fd, cmd, len);
    r = REAL(lockf64)(fd, F_TLOCK, len);
    if (r == 0 || (errno != EAGAIN && errno != EACCES))
        return r;
    return wait_for_lock(&j, caller_errno);
}
GREEN_EXPORT int lockf(int fd, int cmd, off_t len) __attribute__((alias("lockf64")));
