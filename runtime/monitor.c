/*
 * monitor.c — looking at a running process: the list of OS threads that run green
 * threads, the dump on demand (GREEN_DUMP_SIGNAL) and the blocking monitor
 * (GREEN_BLOCK_WARN_MS).
 *
 * Dump: the signal's handler prints every green thread of the OS thread it lands on, with
 * a backtrace each (debug.c), right in the handler: a server stuck in a loop never yields,
 * so a dump that waited for a safe point would never come.  The handler reads the
 * scheduler's lists while the interrupted code may be changing them; they change only at
 * spawn and exit, and the dump is a diagnostic, so this risk is taken, as Go's SIGQUIT
 * dump takes it.  A process-directed signal may land on an OS thread without green threads
 * (a program's real thread when thread patching is off): the handler passes it on with
 * tgkill to every OS thread on the list, and those copies are not passed on again.
 *
 * Blocking monitor: a real OS thread (never green, every signal blocked) wakes every
 * quarter of the limit and looks at each OS thread's switch count.  A count that has not
 * moved for the limit while a green thread (not the hub) is current means that thread has
 * held the CPU all along.  The monitor then reads /proc/self/task/<tid>/syscall: if the OS
 * thread sits in a system call, the report names it (a call libgreen does not convert);
 * otherwise it sends GREEN_SAMPLE_SIGNAL to that OS thread, whose handler prints the
 * backtrace of the code it interrupted.  A system call is never interrupted on purpose, so
 * no program sees an EINTR it would not have had; the one window (the thread enters a
 * call between the check and the signal) is closed by SA_RESTART for restartable calls.
 * When the thread finally switches, the monitor says how long it ran.  The count is read
 * without the clock, so a switch costs no more with the monitor on; the length reported
 * is a lower bound, short by at most a quarter of the limit.
 *
 * Reserved signals: while the dump or the monitor is on, the runtime's handler stays in
 * the kernel for its signal.  The preload shim keeps a handler the program installs for
 * it and the runtime calls it (green__signal_program) for every signal that was not the
 * monitor's own, so the program's handler still runs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct green__list green__locals = {&green__locals, &green__locals};
unsigned green__locals_lock;
int (*green__signal_program)(int sig, void *si, void *uc);

static unsigned init_lock;
static int init_done;
static struct sigaction before_dump, before_sample; /* dispositions we replaced */

/* ----------------------------------------------------------- OS thread list */

void green__monitor_register(struct green__local *l)
{
    l->tid = (int)syscall(SYS_gettid);
    green__spin_lock(&green__locals_lock);
    green__list_push_back(&green__locals, &l->registered);
    green__spin_unlock(&green__locals_lock);
}

void green__monitor_unregister(struct green__local *l)
{
    green__spin_lock(&green__locals_lock);
    green__list_remove(&l->registered);
    green__stats_fold(&l->stats);
    green__spin_unlock(&green__locals_lock);
}

int green__signal_reserved(int sig)
{
    const struct green__config *c = green__config();

    return sig > 0 && ((c->dump_signal && sig == c->dump_signal) ||
                       (c->block_warn_ms && sig == GREEN_SAMPLE_SIGNAL));
}

/* The program's handler, or the one that was in place before ours. */
static void forward(int sig, siginfo_t *si, void *uc, const struct sigaction *before)
{
    if (!green__signal_program || !green__signal_program(sig, si, uc))
        green__handler_chain(before, sig, si, uc);
}

/* ------------------------------------------------------------------- dump */

static void on_dump(int sig, siginfo_t *si, void *uc)
{
    int saved = errno, copy = si->si_code == SI_TKILL && si->si_pid == getpid();
    struct green__local *l = green__tls;

    if (l) {
        /* OS threads that got the signal passed on dump one after the other, not
         * interleaved.  The signal is blocked while its handler runs, so the holder is
         * never code this handler interrupted. */
        static unsigned dump_lock;
        char head[160];
        green__spin_lock(&dump_lock);
        l->in_runtime++;
        snprintf(head, sizeof head, "dump on SIG%s: the green threads of OS thread %d (pid %d)",
                 sigabbrev_np(sig), l->tid, (int)getpid());
        green__report_threads(head, uc);
        l->in_runtime--;
        green__spin_unlock(&dump_lock);
    }
    if (!copy && green__spin_trylock(&green__locals_lock)) {
        for (struct green__list *n = green__locals.next; n != &green__locals; n = n->next) {
            struct green__local *o = green__container_of(n, struct green__local, registered);
            if (o != l)
                syscall(SYS_tgkill, getpid(), o->tid, sig);
        }
        green__spin_unlock(&green__locals_lock);
    }
    if (!copy)
        forward(sig, si, uc, &before_dump);
    errno = saved;
}

/* ------------------------------------------------------- blocking monitor */

static void on_sample(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    struct green__local *l = green__tls;

    if (l && __atomic_exchange_n(&l->sample_pending, 0, __ATOMIC_ACQ_REL)) {
        void *ips[GREEN_BT_MAX];
        l->in_runtime++;
        green__bt_print(ips, green__bt_signal(uc, ips, GREEN_BT_MAX), 1, "    ");
        l->in_runtime--;
    } else {
        forward(sig, si, uc, &before_sample);
    }
    errno = saved;
}

/* The system call an OS thread is in, or -1 if it runs user code (/proc's "running"). */
static long in_syscall(int tid)
{
    char path[64], buf[256];
    long nr = -1;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0 && buf[0] >= '0' && buf[0] <= '9')
        nr = strtol(buf, NULL, 10);
    return nr;
}

static const char *syscall_name(long nr)
{
    static const struct {
        long nr;
        const char *name;
    } known[] = {
#ifdef __x86_64__
        {0, "read"}, {1, "write"}, {2, "open"}, {7, "poll"}, {17, "pread64"},
        {18, "pwrite64"}, {19, "readv"}, {20, "writev"}, {23, "select"}, {35, "nanosleep"},
        {42, "connect"}, {43, "accept"}, {44, "sendto"}, {45, "recvfrom"}, {46, "sendmsg"},
        {47, "recvmsg"}, {61, "wait4"}, {64, "semget"}, {65, "semop"}, {69, "msgsnd"},
        {70, "msgrcv"}, {72, "fcntl"}, {73, "flock"}, {74, "fsync"}, {202, "futex"},
        {230, "clock_nanosleep"}, {232, "epoll_wait"}, {240, "mq_timedsend"},
        {241, "mq_timedreceive"}, {247, "waitid"}, {257, "openat"}, {270, "pselect6"},
        {271, "ppoll"}, {281, "epoll_pwait"}, {288, "accept4"}, {318, "getrandom"},
#endif
        {-1, NULL},
    };
    for (size_t i = 0; known[i].name; i++)
        if (known[i].nr == nr)
            return known[i].name;
    return "?";
}

static void check(struct green__local *l, int64_t now, int64_t limit)
{
    uint64_t sw = __atomic_load_n(&l->stats.switches, __ATOMIC_RELAXED);
    struct green_thread *t = __atomic_load_n(&l->sched.current, __ATOMIC_RELAXED);
    char who[48];
    long nr;

    if (sw != l->wd_switches || t == l->sched.hub ||
        __atomic_load_n(&l->stats.idle, __ATOMIC_RELAXED)) {
        if (l->wd_reported)
            green__say("green thread %s switched away after running at least %.3f s without "
                       "yielding", green__label(who, sizeof who, l->wd_reported_seq,
                                                l->wd_reported_name),
                       (double)(now - l->wd_since) / 1e9);
        l->wd_switches = sw;
        l->wd_since = now;
        l->wd_reported = 0;
        return;
    }
    if (l->wd_reported || now - l->wd_since < limit)
        return;
    l->wd_reported = 1;
    l->wd_reported_seq = t->seq;
    memcpy(l->wd_reported_name, t->name, sizeof l->wd_reported_name);
    nr = in_syscall(l->tid);
    if (nr >= 0) {
        green__say("green thread %s has blocked OS thread %d for %lld ms in system call %ld "
                   "(%s), which libgreen does not turn into a wait; no other green thread, "
                   "timer or I/O runs meanwhile (GREEN_BLOCK_WARN_MS=%lld)",
                   green__label(who, sizeof who, t->seq, t->name), l->tid,
                   (long long)((now - l->wd_since) / 1000000), nr, syscall_name(nr),
                   (long long)(limit / 1000000));
        return;
    }
    green__say("green thread %s has run %lld ms without yielding on OS thread %d; no other "
               "green thread, timer or I/O runs meanwhile (GREEN_BLOCK_WARN_MS=%lld). It is at:",
               green__label(who, sizeof who, t->seq, t->name),
               (long long)((now - l->wd_since) / 1000000), l->tid,
               (long long)(limit / 1000000));
    __atomic_store_n(&l->sample_pending, 1, __ATOMIC_RELEASE);
    syscall(SYS_tgkill, getpid(), l->tid, GREEN_SAMPLE_SIGNAL);
}

static void *watchdog(void *arg)
{
    int64_t limit = (int64_t)green__config()->block_warn_ms * 1000000;
    struct timespec period = {.tv_sec = limit / 4 / 1000000000,
                              .tv_nsec = limit / 4 % 1000000000};
    sigset_t all;

    (void)arg;
    green__tls_real = 1;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &period, NULL);
        int64_t now = green_now();
        green__spin_lock(&green__locals_lock);
        for (struct green__list *n = green__locals.next; n != &green__locals; n = n->next)
            check(green__container_of(n, struct green__local, registered), now, limit);
        green__spin_unlock(&green__locals_lock);
    }
    return NULL;
}

static void start_watchdog(void)
{
    pthread_attr_t a;
    pthread_t th;

    green__runtime_enter();
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    if (pthread_create(&th, &a, watchdog, NULL) != 0)
        green__say("GREEN_BLOCK_WARN_MS: could not start the monitor's thread; no reports");
    pthread_attr_destroy(&a);
    green__runtime_leave();
}

void green__monitor_init(void)
{
    const struct green__config *c = green__config();

    if (__atomic_load_n(&init_done, __ATOMIC_ACQUIRE))
        return;
    green__spin_lock(&init_lock);
    if (!init_done) {
        if (c->stats)
            green__stats_init();
        if (c->dump_signal)
            green__handler_install(c->dump_signal, on_dump, SA_RESTART | SA_ONSTACK,
                                   &before_dump);
        if (c->block_warn_ms) {
            green__handler_install(GREEN_SAMPLE_SIGNAL, on_sample, SA_RESTART | SA_ONSTACK,
                                   &before_sample);
            start_watchdog();
        }
        __atomic_store_n(&init_done, 1, __ATOMIC_RELEASE);
    }
    green__spin_unlock(&init_lock);
}

void green__monitor_fork_child(struct green__local *l)
{
    /* The parent's other OS threads, and the monitor's, did not come along. */
    green__locals_lock = 0;
    green__list_init(&green__locals);
    green__list_push_back(&green__locals, &l->registered);
    l->tid = (int)syscall(SYS_gettid);
    green__stats_fork_child(&l->stats);
    if (green__config()->block_warn_ms)
        start_watchdog();
}
