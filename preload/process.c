/*
 * process.c — fork, vfork, the wait family, system, popen/pclose, posix_spawn.
 *
 * fork: the child keeps only the forking green thread, which becomes its main, with a
 * fresh hub and pool (green__fork_child), as a real fork keeps only the forking thread.
 * vfork is run as fork: a vfork child shares the parent's memory, and the hooks it would
 * run (close, dup2) would change the parent's hub under it.
 *
 * The wait family asks the kernel with WNOHANG; while nothing is there it waits on pidfds
 * (Linux 5.3+; a pidfd becomes readable when its process exits): the child's for a pid,
 * or every current child's, listed from /proc/self/task/<tid>/children, for "any child"
 * and process groups.  A child forked or spawned meanwhile is announced on an eventfd the
 * waiters also watch, so they list the children again.  pidfds report exits only: a wait
 * for a stopped or continued child (WUNTRACED, WCONTINUED) sees it when the child next
 * exits.  Where pidfd_open is missing (older kernels; valgrind 3.19 does not implement
 * it) the waiters ask the kernel again every CHILD_POLL_NS instead.  Waits end with EINTR
 * for a handler without SA_RESTART, as the kernel's do.
 *
 * system and popen/pclose: glibc waits for their children inside libc, where no hook can
 * reach, so they are rebuilt here on posix_spawn and the cooperative wait, with the same
 * signal handling (system ignores SIGINT and SIGQUIT and blocks SIGCHLD while it waits;
 * the shell gets the defaults back) and the same results (127 when the shell cannot run).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook.h"

extern char **environ;

#define CHILD_POLL_NS 10000000

static int fork_efd = -1; /* written when a child is made; waiters for "any child" watch it */
static int no_pidfds;     /* pidfd_open said ENOSYS: waiters poll */

static void announce_child(void)
{
    uint64_t one = 1;

    if (fork_efd >= 0)
        (void)!REAL(write)(fork_efd, &one, sizeof one);
}

/* Does child c match waitpid's pid argument? */
static int matches(pid_t pid, pid_t c)
{
    if (pid == -1)
        return 1;
    if (pid == 0)
        return getpgid(c) == getpgrp();
    return getpgid(c) == -pid;
}

/* The shim's descriptors here (pidfds, the announcement eventfd) go to the top of the
 * range (GREEN_FD_CALL_SPAN): at the lowest free number they would shift the numbers the
 * program's next calls get, and the eventfd would hold one for good. */
/* A pidfd for child c, or -1. */
static int pidfd(pid_t c)
{
    int fd = (int)syscall(SYS_pidfd_open, c, 0);

    if (fd < 0 && errno == ENOSYS)
        __atomic_store_n(&no_pidfds, 1, __ATOMIC_RELAXED);
    return green__fd_high(fd, GREEN_FD_CALL_SPAN);
}

/* pidfds of the children pid may name, plus the announcement eventfd; returns the count
 * (the caller closes all but the last). */
static size_t watch_children(pid_t pid, struct pollfd **pfds, size_t *cap)
{
    size_t n = 0;
    DIR *tasks;
    struct dirent *e;

    if (pid > 0) {
        int fd = pidfd(pid);
        if (fd >= 0)
            (*pfds)[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    } else if ((tasks = opendir("/proc/self/task"))) {
        while ((e = readdir(tasks))) {
            char path[300], buf[4096];
            ssize_t len;
            int fd;
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
            fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            len = REAL(read)(fd, buf, sizeof buf - 1);
            REAL(close)(fd);
            buf[len > 0 ? len : 0] = 0;
            for (char *p = buf, *end; *p; p = end) {
                pid_t c = (pid_t)strtol(p, &end, 10);
                if (end == p)
                    break;
                if (!matches(pid, c))
                    continue;
                if (n + 2 > *cap) {
                    struct pollfd *q = realloc(*pfds, (*cap * 2) * sizeof *q);
                    if (!q)
                        break;
                    *pfds = q;
                    *cap *= 2;
                }
                fd = pidfd(c);
                if (fd >= 0)
                    (*pfds)[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
            }
        }
        closedir(tasks);
    }
    if (fork_efd < 0)
        fork_efd = green__fd_high(REAL(eventfd)(0, EFD_CLOEXEC | EFD_NONBLOCK), GREEN_FD_CALL_SPAN);
    if (fork_efd >= 0)
        (*pfds)[n++] = (struct pollfd){.fd = fork_efd, .events = POLLIN};
    return n;
}

/* Wait until a child pid may name has changed state.  0, or -1 with errno set.  span: the
 * call's waits (a handler that runs between two of them ends it too). */
static int wait_children(pid_t pid, struct green__intr_span *span)
{
    size_t cap = 16, n;
    struct pollfd *pfds;
    uint64_t drain;
    int w;

    if (green__intr_span_begin(span, GREEN_INTR_RESTARTABLE)) {
        errno = EINTR;
        return -1;
    }
    pfds = malloc(cap * sizeof *pfds);
    if (!pfds) {
        green__intr_end();
        errno = ENOMEM;
        return -1;
    }
    n = watch_children(pid, &pfds, &cap);
    w = green__hub_wait_pollfds(pfds, n, NULL,
                                __atomic_load_n(&no_pidfds, __ATOMIC_RELAXED)
                                    ? green_now() + CHILD_POLL_NS : GREEN_NO_DEADLINE,
                                "a child (wait family)");
    green__intr_end();
    for (size_t i = 0; i < n; i++)
        if (pfds[i].fd != fork_efd)
            REAL(close)(pfds[i].fd);
    if (fork_efd >= 0)
        (void)!REAL(read)(fork_efd, &drain, sizeof drain);
    free(pfds);
    if (w >= 0 || w == -ETIMEDOUT)
        return 0;
    if (w == -ECANCELED)
        green__api_result(w);
    errno = -w;
    return -1;
}

GREEN_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
    struct green__intr_span span = {0};
    pid_t r;
    int caller_errno = errno;

    if (green__bypass(GREEN_F_PROCESS) || (options & WNOHANG))
        return REAL(wait4)(pid, status, options, ru);
    for (;;) {
        r = REAL(wait4)(pid, status, options | WNOHANG, ru);
        if (r > 0)
            errno = caller_errno; /* listing the children may have set it */
        if (r != 0)
            return r;
        if (wait_children(pid, &span) < 0)
            return -1;
    }
}

GREEN_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
    return wait4(pid, status, options, NULL);
}

GREEN_EXPORT pid_t wait(int *status)
{
    return wait4(-1, status, 0, NULL);
}

GREEN_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
    return wait4(-1, status, options, ru);
}

GREEN_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
    struct green__intr_span span = {0};
    pid_t pid;
    int r;

    if (green__bypass(GREEN_F_PROCESS) || (options & WNOHANG) || !info ||
        (type != P_PID && type != P_PGID && type != P_ALL))
        return REAL(waitid)(type, id, info, options);
    pid = type == P_PID ? (pid_t)id : type == P_ALL ? -1 : -(pid_t)id;
    int caller_errno = errno;
    for (;;) {
        info->si_pid = 0;
        r = REAL(waitid)(type, id, info, options | WNOHANG);
        if (r == 0 && info->si_pid != 0)
            errno = caller_errno;
        if (r < 0 || info->si_pid != 0)
            return r;
        if (wait_children(pid, &span) < 0)
            return -1;
    }
}

/* ------------------------------------------------------------ fork, spawn */

GREEN_EXPORT pid_t fork(void)
{
    pid_t pid;

    if (green__bypass(GREEN_F_PROCESS))
        return REAL(fork)();
    pid = REAL(fork)();
    if (pid == 0) {
        green__fork_child();
        if (fork_efd >= 0) {
            REAL(close)(fork_efd); /* the parent's counter, not the child's */
            fork_efd = -1;
        }
    } else if (pid > 0) {
        announce_child();
    }
    return pid;
}

GREEN_EXPORT pid_t vfork(void)
{
    return fork();
}

GREEN_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[],
                             char *const envp[])
{
    int r = REAL(posix_spawn)(pid, path, fa, attr, argv, envp);

    if (r == 0)
        announce_child();
    return r;
}

GREEN_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                              const posix_spawnattr_t *attr, char *const argv[],
                              char *const envp[])
{
    int r = REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);

    if (r == 0)
        announce_child();
    return r;
}

/* Wait for one child as system and pclose do: through EINTR, to the end. */
static int reap(pid_t pid)
{
    int status;

    while (wait4(pid, &status, 0, NULL) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

/* --------------------------------------------------------------- system */

static unsigned system_users; /* concurrent system() calls share one signal set-up */
static struct sigaction saved_int, saved_quit;
static sigset_t saved_mask;

GREEN_EXPORT int system(const char *cmd)
{
    struct sigaction ign;
    posix_spawnattr_t attr;
    sigset_t block, dfl;
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int status, r, e;

    if (green__bypass(GREEN_F_PROCESS))
        return REAL(system)(cmd);
    if (!cmd)
        return access("/bin/sh", X_OK) == 0;
    if (system_users++ == 0) {
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        REAL(sigaction)(SIGINT, &ign, &saved_int);
        REAL(sigaction)(SIGQUIT, &ign, &saved_quit);
        sigemptyset(&block);
        sigaddset(&block, SIGCHLD);
        sigprocmask(SIG_BLOCK, &block, &saved_mask);
    }
    posix_spawnattr_init(&attr);
    sigemptyset(&dfl);
    if (saved_int.sa_handler != SIG_IGN)
        sigaddset(&dfl, SIGINT);
    if (saved_quit.sa_handler != SIG_IGN)
        sigaddset(&dfl, SIGQUIT);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setsigmask(&attr, &saved_mask);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    r = REAL(posix_spawn)(&pid, "/bin/sh", NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    status = r == 0 ? reap(pid) : 127 << 8;
    e = errno;
    if (--system_users == 0) {
        REAL(sigaction)(SIGINT, &saved_int, NULL);
        REAL(sigaction)(SIGQUIT, &saved_quit, NULL);
        sigprocmask(SIG_SETMASK, &saved_mask, NULL);
    }
    errno = e;
    return status;
}

/* ------------------------------------------------------------ popen, pclose */

struct piped {
    FILE *f;
    pid_t pid;
    int fd;
    struct piped *next;
};
static struct piped *pipes;

GREEN_EXPORT FILE *popen(const char *cmd, const char *mode)
{
    posix_spawn_file_actions_t fa;
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    int fds[2], reading, writing, cloexec, bad, mine, theirs, r;
    struct piped *p;
    pid_t pid;
    FILE *f;

    if (green__bypass(GREEN_F_PROCESS))
        return REAL(popen)(cmd, mode);
    /* glibc's reading of mode: any sequence of r, w and e, with one of r and w. */
    reading = writing = cloexec = bad = 0;
    for (const char *m = mode; *m; m++) {
        switch (*m) {
        case 'r': reading = 1; break;
        case 'w': writing = 1; break;
        case 'e': cloexec = 1; break;
        default: bad = 1;
        }
    }
    if (bad || reading == writing) {
        errno = EINVAL;
        return NULL;
    }
    if (!(p = malloc(sizeof *p)))
        return NULL;
    if (REAL(pipe2)(fds, O_CLOEXEC) < 0) {
        free(p);
        return NULL;
    }
    mine = fds[reading ? 0 : 1];
    theirs = fds[reading ? 1 : 0];
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, theirs, reading ? STDOUT_FILENO : STDIN_FILENO);
    for (struct piped *q = pipes; q; q = q->next) /* POSIX: earlier popen streams close */
        posix_spawn_file_actions_addclose(&fa, q->fd);
    r = REAL(posix_spawn)(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    REAL(close)(theirs);
    if (r != 0) {
        REAL(close)(mine);
        free(p);
        errno = r;
        return NULL;
    }
    announce_child();
    if (!cloexec)
        REAL(fcntl64)(mine, F_SETFD, 0);
    f = fdopen(mine, reading ? "r" : "w");
    if (!f) {
        REAL(close)(mine);
        reap(pid);
        free(p);
        return NULL;
    }
    *p = (struct piped){.f = f, .pid = pid, .fd = mine, .next = pipes};
    pipes = p;
    return f;
}

GREEN_EXPORT int pclose(FILE *f)
{
    struct piped **pp, *p;
    pid_t pid;

    for (pp = &pipes; *pp && (*pp)->f != f; pp = &(*pp)->next)
        ;
    if (!(p = *pp))
        return REAL(pclose)(f); /* opened before the constructor, or with the family off */
    *pp = p->next;
    pid = p->pid;
    free(p);
    fclose(f);
    return reap(pid);
}
