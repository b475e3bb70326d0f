/*
 * probe_mux — differential scenarios for the multiplexing calls: poll, ppoll, select,
 * pselect, epoll_wait, epoll_pwait, epoll_pwait2.  See probe.h for the transcript.
 */
#include "probe.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>

/* --------------------------------------------------------- common cases
 *
 * What every multiplexing call meets the same way, run for each one: scenario
 * <call>_<case>.  Each waits for s[0] of a socketpair to become readable, for ms
 * milliseconds (-1: no timeout).
 */

struct mux {
    const char *text; /* the call, as the transcript shows it */
    int (*call)(int fd, int ms);
};

static struct timespec *ms_ts(int ms, struct timespec *ts)
{
    *ts = (struct timespec){ms / 1000, ms % 1000 * 1000000L};
    return ms < 0 ? NULL : ts;
}

static int poll_call(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};

    return poll(&p, 1, ms);
}

extern int __poll_chk(struct pollfd *, nfds_t, int, size_t);
extern int __ppoll_chk(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *,
                       size_t);

/* What _FORTIFY_SOURCE makes of poll and ppoll, called here directly. */
static int poll_chk_call(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};

    return __poll_chk(&p, 1, ms, sizeof p);
}

static int ppoll_chk_call(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    struct timespec ts;

    return __ppoll_chk(&p, 1, ms_ts(ms, &ts), NULL, sizeof p);
}

static int ppoll_call(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    struct timespec ts;

    return ppoll(&p, 1, ms_ts(ms, &ts), NULL);
}

static int select_call(int fd, int ms)
{
    fd_set r;
    struct timeval tv = {ms / 1000, ms % 1000 * 1000};

    FD_ZERO(&r);
    FD_SET(fd, &r);
    return select(fd + 1, &r, NULL, NULL, ms < 0 ? NULL : &tv);
}

static int pselect_call(int fd, int ms)
{
    fd_set r;
    struct timespec ts;

    FD_ZERO(&r);
    FD_SET(fd, &r);
    return pselect(fd + 1, &r, NULL, NULL, ms_ts(ms, &ts), NULL);
}

/* The epoll calls watch fd through an epoll instance made for the call. */
static int epoll_wait_call(int fd, int ms)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int ep = epoll_create1(0), r, e;

    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    r = epoll_wait(ep, &ev, 1, ms);
    e = errno;
    close(ep);
    errno = e;
    return r;
}

static int epoll_pwait2_call(int fd, int ms)
{
    struct epoll_event ev = {.events = EPOLLIN};
    struct timespec ts;
    int ep = epoll_create1(0), r, e;

    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    r = epoll_pwait2(ep, &ev, 1, ms_ts(ms, &ts), NULL);
    e = errno;
    close(ep);
    errno = e;
    return r;
}

#define MUX(name, text) static const struct mux name##_mux = {text, name##_call};
MUX(poll, "poll({fd, POLLIN}, 1, ms)")
MUX(ppoll, "ppoll({fd, POLLIN}, 1, ms, NULL)")
MUX(poll_chk, "__poll_chk({fd, POLLIN}, 1, ms, sizeof p)")
MUX(ppoll_chk, "__ppoll_chk({fd, POLLIN}, 1, ms, NULL, sizeof p)")
MUX(select, "select(fd + 1, {fd}, NULL, NULL, ms)")
MUX(pselect, "pselect(fd + 1, {fd}, NULL, NULL, ms, NULL)")
MUX(epoll_wait, "epoll_wait(ep, ev, 1, ms)")
MUX(epoll_pwait2, "epoll_pwait2(ep, ev, 1, ms, NULL)")

static long wait_on(const struct mux *m, int fd, int ms)
{
    printf("ms = %d: ", ms);
    return DO_(K_NUM, m->call(fd, ms), m->text);
}

static void waiting_timeout(const struct mux *m)
{
    int s[2];
    long long t0;

    pair(s);
    t0 = now_ms();
    wait_on(m, s[0], 100);
    waited(t0, 100);
    wait_on(m, s[0], 0);
}

static void waiting_ready(const struct mux *m)
{
    int s[2];

    pair(s);
    CALL(write(s[1], "x", 1));
    wait_on(m, s[0], -1);
    wait_on(m, s[0], 0);
}

static void waiting_waits(const struct mux *m)
{
    int s[2];
    struct later *l;

    pair(s);
    l = after_write(50, s[1], "x");
    wait_on(m, s[0], -1);
    finish(l);
}

static void waiting_eintr(const struct mux *m)
{
    int s[2];

    pair(s);
    interrupt_in(100);
    wait_on(m, s[0], -1);
    interrupt_in(50);
    wait_on(m, s[0], 1000);
}

/* The multiplexers are never restarted after a handler, SA_RESTART or not. */
static void waiting_sa_restart(const struct mux *m)
{
    int s[2];

    pair(s);
    catch_signal(SIGALRM, SA_RESTART);
    alarm_ms(100, 0);
    wait_on(m, s[0], 2000);
}

/* The descriptor is closed by another thread during the wait. */
static void waiting_closed_while_waiting(const struct mux *m)
{
    int s[2];
    struct later *l;

    pair(s);
    l = after_close(50, s[0]);
    wait_on(m, s[0], 300);
    finish(l);
}

#define WAITING(call, kase)                                                                 \
    SCENARIO(call##_##kase)                                                                 \
    {                                                                                       \
        waiting_##kase(&call##_mux);                                                        \
    }
#define WAITING_CASES(call)                                                                 \
    WAITING(call, timeout)                                                                  \
    WAITING(call, ready)                                                                    \
    WAITING(call, waits)                                                                    \
    WAITING(call, eintr)                                                                    \
    WAITING(call, sa_restart)                                                               \
    WAITING(call, closed_while_waiting)

WAITING_CASES(poll)
WAITING_CASES(ppoll)
WAITING_CASES(select)
WAITING_CASES(pselect)
WAITING_CASES(epoll_wait)
WAITING_CASES(epoll_pwait2)
WAITING(poll_chk, timeout)
WAITING(poll_chk, waits)
WAITING(poll_chk, eintr)
WAITING(ppoll_chk, timeout)
WAITING(ppoll_chk, waits)
WAITING(ppoll_chk, eintr)

/* ------------------------------------------------------------------ poll */

static void revents(struct pollfd *p, int n)
{
    for (int i = 0; i < n; i++)
        say("revents[%d] %#x", i, p[i].revents);
}

SCENARIO(poll_revents)
{
    int s[2];
    struct pollfd p[2];

    pair(s);
    CALL(write(s[1], "x", 1));
    p[0] = (struct pollfd){s[0], POLLIN | POLLOUT, 0};
    p[1] = (struct pollfd){s[1], POLLIN, 0};
    CALL(poll(p, 2, 1000));
    revents(p, 2);
}

SCENARIO(poll_hup_nval)
{
    int s[2], t[2], u[2];
    struct pollfd p[4];

    pair(s);
    pair(t);
    pair(u);
    CALL(close(s[1]));
    CALL(shutdown(t[1], SHUT_WR));
    CALL(close(u[0]));
    p[0] = (struct pollfd){s[0], POLLIN | POLLRDHUP, 0};
    p[1] = (struct pollfd){t[0], POLLIN | POLLRDHUP | POLLOUT, 0};
    p[2] = (struct pollfd){u[0], POLLIN, 0};
    p[3] = (struct pollfd){-1, POLLIN, 0x55};
    CALL(poll(p, 4, 1000));
    revents(p, 4);
}

SCENARIO(poll_pipe_err)
{
    int p[2];
    struct pollfd f;

    SETUP(pipe(p));
    CALL(close(p[0]));
    f = (struct pollfd){p[1], POLLOUT, 0};
    CALL(poll(&f, 1, 1000));
    revents(&f, 1);
}

/* An fd polled for no event still reports POLLHUP and POLLERR: the wait ends when the peer
 * hangs up (found by fuzz/green_fuzz.c). */
SCENARIO(poll_no_events_hup)
{
    int s[2];
    struct pollfd p;
    struct later *l;
    long long t0;

    pair(s);
    p = (struct pollfd){s[0], 0, 0};
    l = after_close(50, s[1]);
    t0 = now_ms();
    CALL(poll(&p, 1, 1000));
    prompt(t0, 500);
    revents(&p, 1);
    finish(l);
}

static long cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* POLLPRI, or POLLRDHUP, alone on a socket with ordinary data queued: nothing to report, so
 * the wait lasts its whole timeout, idle (found by fuzz/green_fuzz.c: the shim woke for the
 * data and asked the kernel again, round and round). */
SCENARIO(poll_pri_rdhup_idle)
{
    int s[2], t[2];
    struct pollfd p[2];
    long long t0;
    long cpu;

    pair(s);
    pair(t);
    CALL(write(s[1], "x", 1));
    CALL(write(t[1], "y", 1));
    p[0] = (struct pollfd){s[0], POLLPRI, 0};
    p[1] = (struct pollfd){t[0], POLLRDHUP, 0};
    cpu = cpu_ms();
    t0 = now_ms();
    CALL(poll(p, 2, 300));
    waited(t0, 300);
    say("cpu under 150ms: %s", cpu_ms() - cpu < 150 ? "yes" : "no");
}

/* A signal ends poll's wait, and the kernel looks at the fds once more before it says
 * EINTR: one closed meanwhile (which wakes nobody) is reported, POLLNVAL (found by
 * fuzz/green_fuzz.c). */
SCENARIO(poll_closed_then_eintr)
{
    int p[2];
    struct pollfd f;
    struct later *l;

    SETUP(pipe(p));
    f = (struct pollfd){p[0], POLLPRI, 0};
    l = after_close(50, p[0]);
    interrupt_in(150);
    CALL(poll(&f, 1, 1000));
    revents(&f, 1);
    finish(l);
}

/* The kernel's poll holds the files it waits on: a close by another thread wakes nothing
 * and frees nothing (the pipe keeps its reader, so its write end reports no POLLERR) until
 * the wait ends otherwise; the closed number is then POLLNVAL (found by fuzz/green_fuzz.c). */
SCENARIO(poll_close_holds_file)
{
    int p[2];
    struct pollfd f[2];
    struct later *l;
    long long t0;

    SETUP(pipe(p));
    f[0] = (struct pollfd){p[0], POLLIN, 0};
    f[1] = (struct pollfd){p[1], 0, 0};
    l = after_close(50, p[0]);
    t0 = now_ms();
    CALL(poll(f, 2, 300));
    waited(t0, 300);
    revents(f, 2);
    finish(l);
}

SCENARIO(poll_pollout_full)
{
    int s[2];
    struct pollfd p;
    long long t0;

    pair(s);
    fill(s[1]);
    p = (struct pollfd){s[1], POLLOUT, 0};
    t0 = now_ms();
    CALL(poll(&p, 1, 50));
    waited(t0, 50);
    CALL(drain(s[0]) > 0);
    CALL(poll(&p, 1, 1000));
    revents(&p, 1);
}

SCENARIO(poll_no_fds)
{
    long long t0 = now_ms();
    struct pollfd neg = {-1, POLLIN, 0};

    CALL(poll(NULL, 0, 100));
    waited(t0, 100);
    t0 = now_ms();
    CALL(poll(&neg, 1, 50));
    waited(t0, 50);
}

SCENARIO(poll_errors)
{
    struct rlimit rl;
    static struct pollfd many[1];

    SETUP(getrlimit(RLIMIT_NOFILE, &rl));
    CALL(poll(BAD, 1, 100));
    CALL(poll(many, (nfds_t)rl.rlim_cur + 1, 100));
}

/* poll woken by data another thread takes first, a signal before it waits again (probe.h,
 * struct taker): the kernel's poll saw the data or is interrupted, never sleeps on. */
SCENARIO(poll_signal_between_waits)
{
    int p[2], r;
    struct pollfd f;
    struct taker *k;

    SETUP(pipe(p));
    catch_signal(SIGALRM, 0);
    k = taker_start(take_byte, p[0], put_byte, (void *)(intptr_t)p[1]);
    f = (struct pollfd){p[0], POLLIN, 0};
    r = poll(&f, 1, 3000);
    taker_end(k, "poll", r, errno);
}

SCENARIO(poll_timeout_eintr)
{
    struct pollfd neg = {-1, POLLIN, 0};

    interrupt_in(50);
    CALL(poll(&neg, 1, 500));
    interrupt_in(50);
    CALL(poll(NULL, 0, 500));
}

/* ----------------------------------------------------------------- ppoll */

SCENARIO(ppoll_errors)
{
    int s[2];
    struct pollfd p;
    struct timespec big = {0, 1000000000}, neg = {-1, 0}, negn = {0, -1};

    pair(s);
    p = (struct pollfd){s[0], POLLIN, 0};
    CALL(ppoll(&p, 1, &big, NULL));
    CALL(ppoll(&p, 1, &neg, NULL));
    CALL(ppoll(&p, 1, &negn, NULL));
    CALL(ppoll(BAD, 1, NULL, NULL));
}

static void block(int sig, int how)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(how, &set, NULL);
}

/* The program blocks SIGALRM, due in 100 ms, and the wait under test unblocks it with the
 * empty mask *none (the race-free wait ppoll, pselect and epoll_pwait exist for): the
 * signal must interrupt the wait at once.  Returns the time the wait starts. */
static long long alarm_blocked_but_for_the_wait(sigset_t *none)
{
    sigemptyset(none);
    block(SIGALRM, SIG_BLOCK);
    interrupt_in(100);
    return now_ms();
}

SCENARIO(ppoll_mask_unblocks)
{
    long long t0;
    int s[2];
    struct pollfd p;
    sigset_t none;
    struct timespec ts = {1, 0};

    pair(s);
    p = (struct pollfd){s[0], POLLIN, 0};
    t0 = alarm_blocked_but_for_the_wait(&none);
    CALL(ppoll(&p, 1, &ts, &none));
    prompt(t0, 500);
}

/* ppoll's mask blocks SIGALRM during the wait: the wait times out, and the signal is
 * delivered when the program's own mask is back. */
SCENARIO(ppoll_mask_blocks)
{
    int s[2];
    struct pollfd p;
    sigset_t alrm;
    struct timespec ts = {0, 200000000};

    pair(s);
    p = (struct pollfd){s[0], POLLIN, 0};
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    interrupt_in(50);
    CALL(ppoll(&p, 1, &ts, &alrm));
}

SCENARIO(ppoll_pending_unblocked)
{
    int s[2];
    struct pollfd p;
    sigset_t none;
    struct timespec ts = {1, 0};
    long long t0;

    pair(s);
    p = (struct pollfd){s[0], POLLIN, 0};
    sigemptyset(&none);
    catch_signal(SIGUSR1, 0);
    block(SIGUSR1, SIG_BLOCK);
    raise(SIGUSR1);
    say("raised");
    t0 = now_ms();
    CALL(ppoll(&p, 1, &ts, &none));
    prompt(t0, 500);
}

/* ---------------------------------------------------------------- select */

static void fds_of(fd_set *set, int a, int b)
{
    FD_ZERO(set);
    if (a >= 0)
        FD_SET(a, set);
    if (b >= 0)
        FD_SET(b, set);
}

SCENARIO(select_tv_updated)
{
    int s[2];
    fd_set r;
    struct timeval tv = {0, 100000};
    long long t0;

    pair(s);
    fds_of(&r, s[0], -1);
    t0 = now_ms();
    CALL(select(s[0] + 1, &r, NULL, NULL, &tv));
    waited(t0, 100);
    say("set %d tv %ld.%06ld", FD_ISSET(s[0], &r), (long)tv.tv_sec, (long)tv.tv_usec);
}

SCENARIO(select_tv_left)
{
    int s[2];
    fd_set r, w;
    struct timeval tv = {5, 0};

    pair(s);
    CALL(write(s[1], "x", 1));
    fds_of(&r, s[0], s[1]);
    fds_of(&w, s[0], -1);
    CALL(select(s[1] + 1, &r, &w, NULL, &tv));
    say("read %d %d write %d tv left: %s", FD_ISSET(s[0], &r), FD_ISSET(s[1], &r),
        FD_ISSET(s[0], &w), tv.tv_sec >= 4 && tv.tv_sec < 5 ? "most" : "other");
}

SCENARIO(select_sleep)
{
    struct timeval tv = {0, 100000};
    long long t0 = now_ms();

    CALL(select(0, NULL, NULL, NULL, &tv));
    waited(t0, 100);
    say("tv %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
}

SCENARIO(select_errors)
{
    int s[2];
    fd_set r;
    struct timeval tv = {0, 100000}, neg = {0, -1}, negs = {-1, 0};

    pair(s);
    fds_of(&r, s[0], -1);
    CALL(select(-1, &r, NULL, NULL, &tv));
    CALL(select(s[0] + 1, &r, NULL, NULL, &neg));
    CALL(select(s[0] + 1, &r, NULL, NULL, &negs));
    CALL(close(s[0]));
    fds_of(&r, s[0], -1);
    CALL(select(s[0] + 1, &r, NULL, NULL, &tv));
}

SCENARIO(select_efault)
{
    int s[2];
    fd_set r;
    struct timeval tv = {0, 100000};

    pair(s);
    fds_of(&r, s[0], -1);
    CALL(select(s[0] + 1, BAD, NULL, NULL, &tv));
    CALL(select(s[0] + 1, &r, BAD, NULL, NULL));
}

SCENARIO(select_writable_and_except)
{
    int c, s;
    fd_set w, e;
    struct timeval tv = {1, 0};

    tcp_pair(&c, &s);
    CALL(send(c, "!", 1, MSG_OOB));
    usleep(20000);
    fds_of(&w, c, -1);
    fds_of(&e, s, c);
    CALL(select((c > s ? c : s) + 1, NULL, &w, &e, &tv));
    say("write %d except server %d client %d", FD_ISSET(c, &w), FD_ISSET(s, &e),
        FD_ISSET(c, &e));
}

/* --------------------------------------------------------------- pselect */

SCENARIO(pselect_ts_untouched)
{
    int s[2];
    fd_set r;
    struct timespec ts = {0, 100000000};
    long long t0;

    pair(s);
    fds_of(&r, s[0], -1);
    t0 = now_ms();
    CALL(pselect(s[0] + 1, &r, NULL, NULL, &ts, NULL));
    waited(t0, 100);
    say("set %d ts %ld.%09ld", FD_ISSET(s[0], &r), (long)ts.tv_sec, ts.tv_nsec);
}

SCENARIO(pselect_errors)
{
    int s[2];
    fd_set r;
    struct timespec big = {0, 1000000000}, neg = {-1, 0};

    pair(s);
    fds_of(&r, s[0], -1);
    CALL(pselect(s[0] + 1, &r, NULL, NULL, &big, NULL));
    CALL(pselect(s[0] + 1, &r, NULL, NULL, &neg, NULL));
    CALL(pselect(-1, &r, NULL, NULL, NULL, NULL));
    CALL(pselect(s[0] + 1, &r, NULL, BAD, NULL, NULL));
}

SCENARIO(pselect_mask_unblocks)
{
    long long t0;
    int s[2];
    fd_set r;
    sigset_t none;
    struct timespec ts = {1, 0};

    pair(s);
    fds_of(&r, s[0], -1);
    t0 = alarm_blocked_but_for_the_wait(&none);
    CALL(pselect(s[0] + 1, &r, NULL, NULL, &ts, &none));
    prompt(t0, 500);
}

/* ----------------------------------------------------------------- epoll */

static int epoll_on(int fd, unsigned events)
{
    int ep = SETUP(epoll_create1(0));
    struct epoll_event ev = {.events = events, .data.u64 = 42};

    SETUP(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
    return ep;
}

static void events(struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++)
        say("event %#x data %llu", ev[i].events, (unsigned long long)ev[i].data.u64);
}

SCENARIO(epoll_events)
{
    int s[2], ep, n;
    struct epoll_event ev[4];

    pair(s);
    ep = epoll_on(s[0], EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    CALL(write(s[1], "x", 1));
    n = (int)CALL(epoll_wait(ep, ev, 4, 1000));
    events(ev, n);
    CALL(close(s[1]));
    n = (int)CALL(epoll_wait(ep, ev, 4, 1000));
    events(ev, n);
}

SCENARIO(epoll_errors)
{
    int s[2], ep, p[2];
    struct epoll_event ev[4];
    struct timespec big = {0, 1000000000};

    pair(s);
    SETUP(pipe(p));
    ep = epoll_on(s[0], EPOLLIN);
    CALL(epoll_wait(-1, ev, 4, 100));
    CALL(epoll_wait(p[0], ev, 4, 100));
    CALL(epoll_wait(ep, ev, 0, 100));
    CALL(epoll_wait(ep, ev, minus_one, 100));
    CALL(epoll_pwait2(ep, ev, 4, &big, NULL));
    CALL(write(s[1], "x", 1));
    CALL(epoll_wait(ep, BAD, 4, 100));
}

SCENARIO(epoll_edge_oneshot)
{
    int s[2], t[2], et, one, n;
    struct epoll_event ev[4];
    struct later *l;

    pair(s);
    pair(t);
    et = epoll_on(s[0], EPOLLIN | EPOLLET);
    one = epoll_on(t[0], EPOLLIN | EPOLLONESHOT);
    CALL(write(s[1], "x", 1));
    CALL(write(t[1], "x", 1));
    n = (int)CALL(epoll_wait(et, ev, 4, 1000));
    events(ev, n);
    CALL(epoll_wait(et, ev, 4, 50));
    n = (int)CALL(epoll_wait(one, ev, 4, 1000));
    events(ev, n);
    CALL(epoll_wait(one, ev, 4, 50));
    l = after_write(50, s[1], "y");
    n = (int)CALL(epoll_wait(et, ev, 4, 1000));
    events(ev, n);
    finish(l);
}

/* Another thread closes the epoll descriptor under epoll_wait, and its number is reused:
 * the kernel's epoll_wait holds the epoll file and goes on waiting on it, and reports the
 * event that comes later. */
static int ep_reused;

static void close_and_reuse(void *p)
{
    int q[2];

    close((int)(intptr_t)p);
    if (pipe(q) < 0)
        setup_failed("pipe");
    ep_reused = q[0] == (int)(intptr_t)p;
}

SCENARIO(epoll_epfd_closed_while_waiting)
{
    int s[2], ep, n;
    struct epoll_event ev[4];
    struct later *c, *w;

    pair(s);
    ep = epoll_on(s[0], EPOLLIN);
    c = after(50, close_and_reuse, (void *)(intptr_t)ep);
    w = after_write(150, s[1], "x");
    n = (int)CALL(epoll_wait(ep, ev, 4, 2000));
    events(ev, n);
    finish(c);
    finish(w);
    say("the number was reused: %s", ep_reused ? "yes" : "no");
}

SCENARIO(epoll_pwait_mask_unblocks)
{
    long long t0;
    int s[2], ep;
    struct epoll_event ev[4];
    sigset_t none;

    pair(s);
    ep = epoll_on(s[0], EPOLLIN);
    t0 = alarm_blocked_but_for_the_wait(&none);
    CALL(epoll_pwait(ep, ev, 4, 1000, &none));
    prompt(t0, 500);
}
