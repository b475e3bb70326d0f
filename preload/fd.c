/*
 * fd.c — the per-descriptor table (hook.h).
 *
 * The table is one reservation of MAX_FDS entries (MAP_NORESERVE: untouched entries cost
 * nothing), indexed by descriptor number.  Entries are written only on slow paths: when a
 * call would block, when a hook creates or closes a descriptor, or when the program changes
 * O_NONBLOCK or a socket timeout.  A descriptor beyond the table is still served correctly,
 * by learning its facts on each slow call.
 *
 * Every system call here is the real one: these run inside hooks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"

#define MAX_FDS (1 << 20)

static struct green__fd *table;
static unsigned table_lock;

static struct green__fd *slot(int fd)
{
    struct green__fd *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);

    if (fd < 0 || fd >= MAX_FDS)
        return NULL;
    if (GREEN_UNLIKELY(!t)) {
        green__spin_lock(&table_lock);
        if (!table) {
            void *p = mmap(NULL, MAX_FDS * sizeof *t, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p != MAP_FAILED)
                __atomic_store_n(&table, (struct green__fd *)p, __ATOMIC_RELEASE);
        }
        t = table;
        green__spin_unlock(&table_lock);
        if (!t)
            return NULL;
    }
    return &t[fd];
}

static int64_t timeval_ns(const struct timeval *tv)
{
    return (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
}

static void learn(int fd, struct green__fd *f, const struct stat *st)
{
    int fl = (int)syscall(SYS_fcntl, fd, F_GETFL);

    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->no_nowait = 0;
    f->rcvtimeo = f->sndtimeo = 0;
    f->nonblock = fl >= 0 && (fl & O_NONBLOCK);
    switch (st->st_mode & S_IFMT) {
    case S_IFSOCK: {
        struct timeval tv;
        socklen_t len = sizeof tv;
        f->kind = GREEN_FD_SOCKET;
        if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0)
            f->rcvtimeo = timeval_ns(&tv);
        len = sizeof tv;
        if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0)
            f->sndtimeo = timeval_ns(&tv);
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
    f->valid = 1;
}

struct green__fd *green__fd_get(int fd)
{
    static __thread struct green__fd scratch; /* beyond the table: learned every time */
    struct green__fd *f = slot(fd);
    struct stat st;

    if (syscall(SYS_fstat, fd, &st) < 0)
        return NULL;
    if (!f)
        f = &scratch, f->valid = 0;
    if (!f->valid || f->dev != st.st_dev || f->ino != st.st_ino)
        learn(fd, f, &st);
    return f;
}

void green__fd_forget(int fd)
{
    struct green__fd *f = table ? slot(fd) : NULL;

    if (f)
        f->valid = 0;
}

void green__fd_created(int fd)
{
    green__fd_forget(fd);
    green__fd_get(fd);
}

void green__fd_set_nonblock(int fd, int on)
{
    struct green__fd *f = green__fd_get(fd);

    if (f)
        f->nonblock = on != 0;
}

void green__fd_set_timeout(int fd, int optname, int64_t ns)
{
    struct green__fd *f = green__fd_get(fd);

    if (!f)
        return;
    if (optname == SO_RCVTIMEO)
        f->rcvtimeo = ns;
    else
        f->sndtimeo = ns;
}
