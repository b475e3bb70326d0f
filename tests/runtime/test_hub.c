/*
 * test_hub.c — the hub: sleeps on the monotonic clock, fd readiness with deadlines, close
 * while waiting, child processes, and wake-ups posted from other OS threads
 * (runtime/hub.c, runtime/wait.c).
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "common.h"

TestSuite(hub, .timeout = 20);

/* ----------------------------------------------------------------- sleep */

static struct tlog wake_log;

static void *sleep_and_log(void *arg)
{
    double s = (double)(intptr_t)arg / 10;

    cr_expect_eq(green_sleep(s), 0);
    tlog_add(&wake_log, "%.1f ", s);
    return NULL;
}

Test(hub, sleepers_wake_in_deadline_order)
{
    green_t t[3] = {green_spawn(sleep_and_log, (void *)3), green_spawn(sleep_and_log, (void *)1),
                    green_spawn(sleep_and_log, (void *)2)};
    int64_t t0 = green_now();

    cr_assert_eq(green_joinall(t, 3, NULL, -1), 0);
    cr_assert_str_eq(wake_log.buf, "0.1 0.2 0.3 ");
    cr_assert_geq(secs_since(t0), 0.3);
    cr_assert_lt(secs_since(t0), 3.0, "the sleeps overlap");
}

static void *set_flag(void *arg)
{
    *(int *)arg = 1;
    return NULL;
}

Test(hub, sleep_zero_yields)
{
    int flag = 0;
    green_t t = green_spawn(set_flag, &flag);

    cr_assert_eq(green_sleep(0), 0);
    cr_assert_eq(flag, 1);
    flag = 0;
    green_join(t, NULL);
    t = green_spawn(set_flag, &flag);
    cr_assert_eq(green_sleep(-1), 0, "a negative time yields too");
    cr_assert_eq(flag, 1);
    green_join(t, NULL);
}

Test(hub, sleep_of_nan_gives_einval)
{
    cr_assert_eq(green_sleep(0.0 / 0.0), EINVAL);
}

Test(hub, sleeps_never_end_early)
{
    static const double lens[] = {0.0001, 0.0015, 0.003, 0.01, 0.0205, 0.05};

    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
            int64_t t0 = green_now(), want = (int64_t)(lens[i] * 1e9);
            cr_assert_eq(green_sleep(lens[i]), 0);
            cr_assert_geq(green_now() - t0, want, "sleep(%g) ended after %lld ns", lens[i],
                          (long long)(green_now() - t0));
        }
    }
    int64_t deadline = green_now() + 20000000;
    cr_assert_eq(green_sleep_until(deadline), 0);
    cr_assert_geq(green_now(), deadline);
}

Test(hub, deadline_converts_realtime_to_monotonic)
{
    struct timespec rt;
    int64_t d, t0 = green_now();

    clock_gettime(CLOCK_REALTIME, &rt);
    rt.tv_nsec += 50000000;
    if (rt.tv_nsec >= 1000000000) {
        rt.tv_sec++;
        rt.tv_nsec -= 1000000000;
    }
    d = green_deadline(CLOCK_REALTIME, &rt);
    cr_assert_geq(d - t0, 40000000);
    cr_assert_leq(d - t0, 1000000000);
}

/* ------------------------------------------------------------------- fds */

struct pipe_writer {
    int fd;
    double after;
};

static void *write_later(void *arg)
{
    struct pipe_writer *w = arg;

    green_sleep(w->after);
    cr_expect_eq(write(w->fd, "hello", 5), 5);
    return NULL;
}

Test(hub, wait_fd_returns_when_the_pipe_is_written)
{
    int p[2];
    char buf[8];

    cr_assert_eq(pipe(p), 0);
    struct pipe_writer w = {p[1], 0.05};
    green_t t = green_spawn(write_later, &w);
    int64_t t0 = green_now();
    cr_assert_eq(green_wait_fd(p[0], GREEN_READ, green_now() + 5000000000LL), 0);
    cr_assert_geq(secs_since(t0), 0.05);
    cr_assert_eq(read(p[0], buf, sizeof buf), 5);
    cr_assert_eq(green_wait_fd(p[1], GREEN_WRITE, GREEN_NO_DEADLINE), 0, "a pipe is writable");
    cr_assert_eq(green_join(t, NULL), 0);
    close(p[0]);
    close(p[1]);
}

Test(hub, wait_fd_times_out_at_the_deadline)
{
    int p[2];

    cr_assert_eq(pipe(p), 0);
    int64_t t0 = green_now(), deadline = t0 + 100000000;
    cr_assert_eq(green_wait_fd(p[0], GREEN_READ, deadline), ETIMEDOUT);
    cr_assert_geq(green_now(), deadline);
    cr_assert_lt(secs_since(t0), 3.0);
    cr_assert_eq(green_wait_fd(p[0], GREEN_READ, green_now() - 1), ETIMEDOUT,
                 "a past deadline on a silent fd times out");
    close(p[0]);
    close(p[1]);
}

Test(hub, wait_fd_on_a_bad_fd_gives_ebadf)
{
    int p[2];

    cr_assert_eq(green_wait_fd(-1, GREEN_READ, GREEN_NO_DEADLINE), EBADF);
    cr_assert_eq(pipe(p), 0);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(green_wait_fd(p[0], GREEN_READ, green_now() + 2000000000LL), EBADF);
}

Test(hub, wait_fd_without_events_gives_einval)
{
    int p[2];

    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(green_wait_fd(p[0], 0, GREEN_NO_DEADLINE), EINVAL);
    close(p[0]);
    close(p[1]);
}

Test(hub, wait_fd_on_a_regular_file_is_ready_at_once)
{
    char path[] = "/tmp/green-test-file-XXXXXX";
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    unlink(path);
    /* epoll refuses regular files (EPERM); they are always ready, as poll says. */
    cr_assert_eq(green_wait_fd(fd, GREEN_READ, green_now() + 2000000000LL), 0);
    cr_assert_eq(green_wait_fd(fd, GREEN_WRITE, green_now() + 2000000000LL), 0);
    close(fd);
}

struct fd_waiter {
    int fd;
    int result;
    int returned;
};

static void *wait_on_fd(void *arg)
{
    struct fd_waiter *w = arg;

    w->result = green_wait_fd(w->fd, GREEN_READ, GREEN_NO_DEADLINE);
    w->returned = 1;
    return NULL;
}

Test(hub, close_fd_wakes_every_waiter_with_ebadf)
{
    int p[2];
    struct fd_waiter w[3];
    green_t t[3];

    cr_assert_eq(pipe(p), 0);
    for (int i = 0; i < 3; i++) {
        w[i] = (struct fd_waiter){.fd = p[0]};
        t[i] = green_spawn(wait_on_fd, &w[i]);
    }
    green_yield(); /* all three wait now */
    green_close_fd(p[0]);
    close(p[0]);
    cr_assert_eq(green_joinall(t, 3, NULL, 5.0), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert(w[i].returned);
        cr_assert_eq(w[i].result, EBADF);
    }
    /* The number may be reused at once without waking anyone stale. */
    int q[2];
    cr_assert_eq(pipe(q), 0);
    cr_assert_eq(green_wait_fd(q[1], GREEN_WRITE, green_now() + 1000000000LL), 0);
    close(q[0]);
    close(q[1]);
    close(p[1]);
}

Test(hub, a_closed_fd_number_reused_at_once_serves_a_new_waiter)
{
    int p[2], q[2];
    struct fd_waiter old = {0}, fresh = {0};
    green_t t_old, t_fresh;
    char c;

    cr_assert_eq(pipe(p), 0);
    old.fd = p[0];
    t_old = green_spawn(wait_on_fd, &old);
    green_yield(); /* old waits on p[0] */
    green_close_fd(p[0]);
    close(p[0]);
    cr_assert_eq(pipe(q), 0);
    cr_assert_eq(q[0], p[0], "the lowest free number comes back");
    fresh.fd = q[0];
    t_fresh = green_spawn(wait_on_fd, &fresh); /* queued before old has even run */
    green_yield();
    cr_assert_eq(write(q[1], "x", 1), 1);
    cr_assert_eq(green_join(t_old, NULL), 0);
    cr_assert_eq(old.result, EBADF);
    cr_assert_eq(green_timedjoin(t_fresh, NULL, green_now() + 5000000000LL), 0);
    cr_assert_eq(fresh.result, 0);
    cr_assert_eq(read(q[0], &c, 1), 1);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

static void *yield_until_set(void *arg)
{
    long yields = 0;

    while (!__atomic_load_n((int *)arg, __ATOMIC_RELAXED)) {
        green_yield();
        yields++;
    }
    return (void *)yields;
}

static void *set_after_sleep(void *arg)
{
    green_sleep(0.05);
    *(int *)arg = 1;
    return NULL;
}

Test(hub, a_thread_that_keeps_yielding_does_not_starve_timers_or_fds)
{
    int flag = 0, p[2];
    struct pipe_writer w;
    void *yields;

    /* A timer. */
    green_t spinner = green_spawn(yield_until_set, &flag);
    green_t setter = green_spawn(set_after_sleep, &flag);
    cr_assert_eq(green_timedjoin(spinner, &yields, green_now() + 5000000000LL), 0);
    cr_assert_gt((long)yields, 0);
    cr_assert_eq(green_join(setter, NULL), 0);
    /* An fd: main itself keeps yielding while a thread waits for a pipe written by
     * another after a sleep. */
    cr_assert_eq(pipe(p), 0);
    struct fd_waiter r = {.fd = p[0]};
    w = (struct pipe_writer){p[1], 0.02};
    green_t reader = green_spawn(wait_on_fd, &r);
    green_t writer = green_spawn(write_later, &w);
    int64_t t0 = green_now();
    while (!r.returned && secs_since(t0) < 5.0)
        green_yield();
    cr_assert(r.returned, "the fd wait never ended while main kept yielding");
    cr_assert_eq(r.result, 0);
    green_join(reader, NULL);
    green_join(writer, NULL);
    close(p[0]);
    close(p[1]);
}

#define NPAIRS 200

struct pair_reader {
    int fd;
    int index;
    int got;
};

static void *read_pair(void *arg)
{
    struct pair_reader *r = arg;
    int v = -1;

    cr_expect_eq(green_wait_fd(r->fd, GREEN_READ, green_now() + 10000000000LL), 0);
    cr_expect_eq(read(r->fd, &v, sizeof v), (ssize_t)sizeof v);
    r->got = v;
    return NULL;
}

Test(hub, many_fds_are_waited_on_at_once)
{
    static int sv[NPAIRS][2];
    static struct pair_reader r[NPAIRS];
    static green_t t[NPAIRS];

    for (int i = 0; i < NPAIRS; i++) {
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0, "socketpair %d", i);
        r[i] = (struct pair_reader){.fd = sv[i][0], .index = i, .got = -1};
        t[i] = green_spawn(read_pair, &r[i]);
    }
    green_yield(); /* all of them wait */
    for (int i = NPAIRS; i-- > 0;)
        cr_assert_eq(write(sv[i][1], &i, sizeof i), (ssize_t)sizeof i);
    cr_assert_eq(green_joinall(t, NPAIRS, NULL, 10.0), 0);
    for (int i = 0; i < NPAIRS; i++) {
        cr_assert_eq(r[i].got, i);
        close(sv[i][0]);
        close(sv[i][1]);
    }
}

/* -------------------------------------------------------------- children */

/* Fork a child that sleeps, then exits with code. */
static pid_t fork_sleeper(useconds_t usec, int code)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (usec)
            usleep(usec);
        _exit(code);
    }
    return pid;
}

Test(hub, wait_child_returns_when_the_child_exits)
{
    int ticks = 0, status = 0;
    green_t ticker = ticker_start(&ticks);
    pid_t pid = fork_sleeper(200000, 7);
    int64_t t0 = green_now();

    cr_assert_eq(green_wait_child(pid, green_now() + 10000000000LL), 0);
    cr_assert_geq(secs_since(t0), 0.15);
    cr_assert_gt(ticks, 3, "other green threads run while main waits for the child");
    cr_assert_eq(waitpid(pid, &status, WNOHANG), pid);
    cr_assert_exited(status, 7, "");
    ticker_stop(ticker);
}

Test(hub, wait_child_of_a_child_that_already_exited_returns_at_once)
{
    int status = 0;
    pid_t pid = fork_sleeper(0, 3);

    green_sleep(0.1);
    cr_assert_eq(green_wait_child(pid, green_now()), 0, "no wait needed");
    cr_assert_eq(waitpid(pid, &status, WNOHANG), pid);
    cr_assert_exited(status, 3, "");
    cr_assert_eq(green_wait_child(pid, GREEN_NO_DEADLINE), ECHILD, "reaped: no longer a child");
}

Test(hub, wait_child_of_a_non_child_gives_echild)
{
    cr_assert_eq(green_wait_child(1, GREEN_NO_DEADLINE), ECHILD);
}

Test(hub, wait_child_times_out_and_the_child_stays_reapable)
{
    int status = 0;
    pid_t pid = fork_sleeper(10000000, 0);
    int64_t t0 = green_now();

    cr_assert_eq(green_wait_child(pid, t0 + 100000000), ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.1);
    cr_assert_lt(secs_since(t0), 3.0);
    kill(pid, SIGKILL);
    cr_assert_eq(green_wait_child(pid, green_now() + 5000000000LL), 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert_signalled(status, SIGKILL, "");
}

/* Make pidfd_open fail with ENOSYS in this process and its children, as it does on Linux
 * before 5.3 and under valgrind 3.19, which does not implement it. */
static void without_pidfds(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof *f, f};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
        printf("seccomp: %s\n", strerror(errno));
        _exit(3);
    }
}

static void wait_child_without_pidfds(void *arg)
{
    int status = 0, r;
    pid_t pid;
    int64_t t0;

    without_pidfds();
    pid = fork_sleeper(300000, 7);
    t0 = green_now();
    r = green_wait_child(pid, t0 + 100000000);
    printf("before the exit: %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : strerror(r));
    r = green_wait_child(pid, green_now() + 10000000000LL);
    printf("wait: %s, %s\n", r ? strerror(r) : "0", secs_since(t0) >= 0.25 ? "after" : "early");
    printf("reaped: %d\n", waitpid(pid, &status, WNOHANG) == pid ? WEXITSTATUS(status) : -1);
}

Test(hub, wait_child_works_without_pidfds)
{
    assert_child_prints(wait_child_without_pidfds, NULL,
                        "before the exit: ETIMEDOUT\nwait: 0, after\nreaped: 7\n");
}

/* --------------------------------------------------------- remote wakes */

/* A plain pthread (no green state) posts a semaphore and sets an event that green threads
 * wait on; the wakes travel through the hub's async watcher. */
struct from_pthread {
    green_sem_t sem;
    green_event_t event;
};

static void *post_from_pthread(void *arg)
{
    struct from_pthread *p = arg;

    usleep(50000);
    green_sem_post(&p->sem);
    usleep(50000);
    green_event_set(&p->event);
    return NULL;
}

static void *wait_event_10s(void *arg)
{
    return (void *)(intptr_t)green_event_timedwait(arg, green_now() + 10000000000LL);
}

Test(hub, a_wake_posted_by_a_plain_pthread_reaches_the_green_thread)
{
    struct from_pthread p = {.event = GREEN_EVENT_INIT};
    pthread_t pt;
    int ticks = 0;
    green_t ticker = ticker_start(&ticks);
    green_t waiter;
    void *v = (void *)-1;
    int64_t t0 = green_now();

    cr_assert_eq(green_sem_init(&p.sem, 0), 0);
    waiter = green_spawn(wait_event_10s, &p.event);
    cr_assert_eq(pthread_create(&pt, NULL, post_from_pthread, &p), 0);
    cr_assert_eq(green_sem_timedwait(&p.sem, green_now() + 10000000000LL), 0);
    cr_assert_geq(secs_since(t0), 0.05);
    cr_assert_eq(green_join(waiter, &v), 0);
    cr_assert_eq(v, NULL, "event wait gave %ld", (long)(intptr_t)v);
    cr_assert_geq(secs_since(t0), 0.1);
    cr_assert_lt(secs_since(t0), 5.0);
    cr_assert_gt(ticks, 3, "green threads ran while they waited for the pthread");
    cr_assert_eq(pthread_join(pt, NULL), 0);
    ticker_stop(ticker);
    green_sem_destroy(&p.sem);
    green_event_destroy(&p.event);
}

static void bump(void *arg)
{
    usleep(20000);
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
}

static void set_event(void *arg)
{
    usleep(20000);
    green_event_set(arg);
}

Test(hub, a_wake_posted_by_a_pool_worker_reaches_the_green_thread)
{
    int n = 0;
    green_event_t e = GREEN_EVENT_INIT;
    green_t waiter = green_spawn(wait_event_10s, &e);
    void *v = (void *)-1;

    /* The job's own completion, twenty times over ... */
    for (int i = 0; i < 20; i++)
        cr_assert_eq(green_pool_run(bump, &n), 0);
    cr_assert_eq(n, 20);
    /* ... and an event a job sets for another green thread. */
    cr_assert_eq(green_pool_run(set_event, &e), 0);
    cr_assert_eq(green_join(waiter, &v), 0);
    cr_assert_eq(v, NULL);
}
