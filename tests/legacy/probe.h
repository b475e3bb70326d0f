/*
 * probe.h — the transcript the probe_*.c programs print, and the setup they share.
 *
 * A probe is an ordinary pthread program (plain `cc -pthread`, no libgreen header).  It
 * runs the one scenario named in argv[1] and prints a canonical transcript on stdout, which
 * tests/preload/test_diff.c compares byte for byte between an unpatched run and a run with
 * LD_PRELOAD=libgreen.so.  `probe_x --list` prints the scenario names.
 *
 * The transcript holds only what both runs must agree on:
 *   - each call, as its source text, with its result: a number, "fd" for a new descriptor
 *     (numbers are not compared: the shim may hold descriptors of its own), a pthread-style
 *     error number by name, and errno by NAME when the call failed;
 *   - errno changed by a call that succeeded ("errno:NAME": errno is set to EDOM first);
 *   - signals caught since the previous line (" +ALRM", " +PIPEx2");
 *   - bytes received, escaped, or a length and checksum when large;
 *   - times only as coarse facts ("waited >=80ms: yes"), never as numbers;
 *   - "exit N" at the end; a run killed by a signal prints nothing more and the harness
 *     compares the signal.
 * Threads other than main never print: they record, and main prints after joining them,
 * so the order of lines never depends on scheduling.  Scenarios that expect a signal to
 * interrupt a call run with no other thread, so the kernel can only deliver it to main.
 *
 * Setup steps that are not under test (making a socket pair, filling a buffer) are not
 * printed; if one fails the probe prints "setup failed" and exits 3.
 */
#ifndef PROBE_H
#define PROBE_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Each probe uses some of the helpers below. */
#pragma GCC diagnostic ignored "-Wunused-function"

/* Addresses no call can read or write: the kernel answers EFAULT.  Volatile, so the
 * compiler cannot see (and warn about) what the kernel will. */
static void *volatile const bad_address = (void *)1;
static void *volatile const null_address = NULL;
#define BAD (bad_address)
#define NUL (null_address)
static volatile const int minus_one = -1;
/* errno before each call, so a successful call that changes errno shows. */
#define SENTINEL EDOM

/* ---------------------------------------------------------------- names */

static const char *errname(int e)
{
    static char other[24];

    switch (e) {
#define E(x)                                                                                \
    case x:                                                                                 \
        return #x;
        E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF) E(ECHILD)
        E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(ENODEV) E(ENOTDIR)
        E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG) E(ENOSPC) E(ESPIPE)
        E(EPIPE) E(EDOM) E(ERANGE) E(EDEADLK) E(ENOSYS) E(EOVERFLOW) E(ENOTSOCK)
        E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT) E(EPROTONOSUPPORT)
        E(EOPNOTSUPP) E(EAFNOSUPPORT) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETUNREACH)
        E(ECONNABORTED) E(ECONNRESET) E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ESHUTDOWN)
        E(ETIMEDOUT) E(ECONNREFUSED) E(EHOSTUNREACH) E(EALREADY) E(EINPROGRESS)
        E(ECANCELED) E(EOWNERDEAD) E(ENOTRECOVERABLE)
#undef E
    }
    snprintf(other, sizeof other, "errno%d", e);
    return other;
}

static const char *signame(int s)
{
    static char other[16];

    switch (s) {
#define S(x)                                                                                \
    case SIG##x:                                                                            \
        return #x;
        S(HUP) S(INT) S(QUIT) S(ILL) S(TRAP) S(ABRT) S(BUS) S(FPE) S(KILL) S(USR1) S(SEGV)
        S(USR2) S(PIPE) S(ALRM) S(TERM) S(CHLD) S(CONT) S(STOP) S(TSTP) S(URG) S(XCPU)
        S(VTALRM) S(PROF) S(IO) S(SYS)
#undef S
    }
    snprintf(other, sizeof other, "SIG%d", s);
    return other;
}

/* ------------------------------------------------------------- signals */

static volatile sig_atomic_t caught[65];
static int reported[65];
/* Called by the handler after counting, with the signal's count so far. */
static void (*volatile on_signal)(int sig, int count);

static void handler(int sig)
{
    int e = errno;

    caught[sig]++;
    if (on_signal)
        on_signal(sig, caught[sig]);
    errno = e;
}

/* Catch sig with the counting handler; flags is 0 (interrupting) or SA_RESTART. */
static void catch_signal(int sig, int flags)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void ignore_signal(int sig)
{
    signal(sig, SIG_IGN);
}

/* SIGALRM first after first_ms, then every interval_ms (0: once). */
static void alarm_ms(int first_ms, int interval_ms)
{
    struct itimerval it = {{interval_ms / 1000, interval_ms % 1000 * 1000},
                           {first_ms / 1000, first_ms % 1000 * 1000}};

    setitimer(ITIMER_REAL, &it, NULL);
}

/* Interrupt the next blocking call: SIGALRM in ms, caught by a handler installed without
 * SA_RESTART. */
static void interrupt_in(int ms)
{
    catch_signal(SIGALRM, 0);
    alarm_ms(ms, 0);
}

/* What the second SIGALRM of restart_then does, on sig_fd. */
static void (*sig_act)(int fd);
static int sig_fd;

static void on_second(int sig, int count)
{
    if (sig == SIGALRM && count == 2) {
        alarm_ms(0, 0);
        sig_act(sig_fd);
    }
}

/* SIGALRM with SA_RESTART at 50 and 100 ms: the first only interrupts (the call must be
 * restarted), the second runs act(fd), which lets the call complete. */
static void restart_then(void (*act)(int fd), int fd)
{
    sig_act = act;
    sig_fd = fd;
    on_signal = on_second;
    catch_signal(SIGALRM, SA_RESTART);
    alarm_ms(50, 50);
}

/* ----------------------------------------------------------- transcript */

static void line_end(void)
{
    for (int s = 1; s < 65; s++) {
        int n = caught[s];
        if (n != reported[s]) {
            printf(" +%s", signame(s));
            if (n - reported[s] > 1)
                printf("x%d", n - reported[s]);
            reported[s] = n;
        }
    }
    putchar('\n');
}

static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    line_end();
}

enum { K_NUM, K_FD, K_RC };

static long step(const char *label, long r, int e, int kind)
{
    printf("%s = ", label);
    if (kind == K_RC)
        printf("%s", r == 0 ? "0" : errname((int)r));
    else if (r < 0)
        printf("%ld %s", r, errname(e));
    else if (kind == K_FD)
        printf("fd");
    else
        printf("%ld", r);
    if ((kind == K_RC || r >= 0) && e != SENTINEL)
        printf(" errno:%s", errname(e));
    line_end();
    return r;
}

#define DO_(kind, expr, text)                                                               \
    ({                                                                                      \
        errno = SENTINEL;                                                                   \
        long r_ = (long)(expr);                                                             \
        int e_ = errno;                                                                     \
        step(text, r_, e_, kind);                                                           \
    })
/* A call returning a count or -1 with errno. */
#define CALL(expr) DO_(K_NUM, expr, #expr)
/* A call returning a new descriptor or -1 with errno. */
#define FD(expr) DO_(K_FD, expr, #expr)
/* A call returning 0 or an error number (pthread, clock_nanosleep). */
#define RC(expr) DO_(K_RC, expr, #expr)

/* A transfer of len bytes: "full", "partial" or "none" instead of a count that depends on
 * the kernel's buffer sizes. */
#define PART(expr, len) PART_(expr, len, #expr)
#define PART_(expr, len, text)                                                              \
    ({                                                                                      \
        errno = SENTINEL;                                                                   \
        long r_ = (long)(expr);                                                             \
        int e_ = errno;                                                                     \
        printf("%s = ", text);                                                              \
        if (r_ < 0)                                                                         \
            printf("-1 %s", errname(e_));                                                   \
        else                                                                                \
            printf("%s", r_ == (long)(len) ? "full" : r_ > 0 ? "partial" : "none");         \
        if (r_ >= 0 && e_ != SENTINEL)                                                      \
            printf(" errno:%s", errname(e_));                                               \
        line_end();                                                                         \
        r_;                                                                                 \
    })

static uint32_t fnv(const void *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 16777619u;
    return h;
}

/* The first n bytes of p, escaped; a large block as its length and checksum. */
static void bytes(const char *label, const void *p, long n)
{
    const unsigned char *b = p;

    if (n < 0)
        return;
    if (n > 64) {
        say("%s: %ld bytes fnv %08x", label, n, fnv(p, (size_t)n, 2166136261u));
        return;
    }
    printf("%s: \"", label);
    for (long i = 0; i < n; i++)
        printf(b[i] >= 32 && b[i] < 127 && b[i] != '"' && b[i] != '\\' ? "%c" : "\\x%02x",
               b[i]);
    putchar('"');
    line_end();
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* An absolute time ms from now on clock. */
static struct timespec in_ms(clockid_t clock, int ms)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    ts.tv_nsec += ms % 1000 * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    return ts;
}

/* Whether at least 80% of ms passed since t0: a lower bound, so load never flips it. */
static void waited(long long t0, int ms)
{
    say("waited >=%dms: %s", ms * 8 / 10, now_ms() - t0 >= ms * 8 / 10 ? "yes" : "no");
}

/* Whether the call came back well before ms (a call that should not have waited). */
static void prompt(long long t0, int ms)
{
    say("returned before %dms: %s", ms, now_ms() - t0 < ms ? "yes" : "no");
}

static void setup_failed(const char *what)
{
    printf("setup failed: %s: %s\n", what, errname(errno));
    exit(3);
}

#define SETUP(expr)                                                                         \
    ({                                                                                      \
        long r_ = (long)(expr);                                                             \
        if (r_ < 0)                                                                         \
            setup_failed(#expr);                                                            \
        r_;                                                                                 \
    })

/* ------------------------------------------------------------ scenarios */

struct scenario {
    const char *name;
    void (*run)(void);
};
static struct scenario scenarios[512];
static int nscenarios;

/* SCENARIO(id) { body }: a scenario, registered by a constructor. */
#define SCENARIO(id)                                                                        \
    static void id(void);                                                                   \
    __attribute__((constructor)) static void add_##id(void)                                 \
    {                                                                                       \
        scenarios[nscenarios].name = #id;                                                   \
        scenarios[nscenarios++].run = id;                                                   \
    }                                                                                       \
    static void id(void)

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < nscenarios; i++)
            puts(scenarios[i].name);
        return 0;
    }
    for (int i = 0; argc == 2 && i < nscenarios; i++) {
        if (strcmp(argv[1], scenarios[i].name) == 0) {
            scenarios[i].run();
            say("exit 0");
            return 0;
        }
    }
    fprintf(stderr, "usage: %s --list | SCENARIO\n", argv[0]);
    return 2;
}

/* -------------------------------------------------------------- setup */

static char buf[1 << 16];

static void pair(int sv[2])
{
    SETUP(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
}

static void dgram_pair(int sv[2])
{
    SETUP(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* A socket of type bound to 127.0.0.1 on a free port, whose address goes to *a. */
static int bound(int type, struct sockaddr_in *a)
{
    socklen_t len = sizeof *a;
    int fd = SETUP(socket(AF_INET, type, 0));

    *a = loopback(0);
    SETUP(bind(fd, (struct sockaddr *)a, sizeof *a));
    SETUP(getsockname(fd, (struct sockaddr *)a, &len));
    return fd;
}

static int tcp_listener(int backlog, struct sockaddr_in *a)
{
    int fd = bound(SOCK_STREAM, a);

    SETUP(listen(fd, backlog));
    return fd;
}

static int tcp_client(const struct sockaddr_in *a)
{
    int fd = SETUP(socket(AF_INET, SOCK_STREAM, 0));

    SETUP(connect(fd, (const struct sockaddr *)a, sizeof *a));
    return fd;
}

/* A connected TCP pair on loopback. */
static void tcp_pair(int *client, int *server)
{
    struct sockaddr_in a;
    int l = tcp_listener(1, &a);

    *client = tcp_client(&a);
    *server = SETUP(accept(l, NULL, NULL));
    close(l);
}

/* Close fd with SO_LINGER 0: the peer gets a reset. */
static void reset(int fd)
{
    struct linger lg = {1, 0};

    SETUP(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    close(fd);
}

static void set_timeo(int fd, int opt, int ms)
{
    struct timeval tv = {ms / 1000, ms % 1000 * 1000};

    SETUP(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv));
}

static void set_nonblock(int fd, int on)
{
    int fl = SETUP(fcntl(fd, F_GETFL));

    SETUP(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK));
}

/* Fill fd's outgoing buffer (and the peer's receive buffer) until a write would block. */
static void fill(int fd)
{
    int fl = SETUP(fcntl(fd, F_GETFL));
    static char zero[4096];

    SETUP(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
    while (write(fd, zero, sizeof zero) > 0)
        ;
    if (errno != EAGAIN)
        setup_failed("fill");
    /* A small write may still fit where a page did not. */
    while (write(fd, zero, 1) > 0)
        ;
    SETUP(fcntl(fd, F_SETFL, fl));
}

/* The bytes fd holds now, discarded; returns their count. */
static long drain(int fd)
{
    long n = 0, r;

    while ((r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        n += r;
    return n;
}

/* ----------------------------------------------------- helper threads */

/* A helper thread that sleeps ms, then runs fn(arg); join it with finish(). */
struct later {
    pthread_t t;
    int ms;
    void (*fn)(void *);
    void *arg;
};

static void *later_main(void *p)
{
    struct later *l = p;

    usleep((useconds_t)l->ms * 1000);
    l->fn(l->arg);
    return NULL;
}

static struct later *after(int ms, void (*fn)(void *), void *arg)
{
    struct later *l = calloc(1, sizeof *l);

    l->ms = ms;
    l->fn = fn;
    l->arg = arg;
    if (pthread_create(&l->t, NULL, later_main, l))
        setup_failed("pthread_create");
    return l;
}

static void finish(struct later *l)
{
    pthread_join(l->t, NULL);
    free(l);
}

struct wr {
    int fd;
    const char *s;
};

static void do_write(void *p)
{
    struct wr *w = p;

    if (write(w->fd, w->s, strlen(w->s)) < 0)
        setup_failed("later write");
    free(w);
}

/* Write s to fd after ms, from another thread. */
static struct later *after_write(int ms, int fd, const char *s)
{
    struct wr *w = malloc(sizeof *w);

    w->fd = fd;
    w->s = s;
    return after(ms, do_write, w);
}

static void do_close(void *p)
{
    close((int)(intptr_t)p);
}

static struct later *after_close(int ms, int fd)
{
    return after(ms, do_close, (void *)(intptr_t)fd);
}

/* A reader that takes len bytes from fd in small bites with pauses, so a large blocking
 * write on the other end must wait for room several times. */
struct slow {
    pthread_t t;
    int fd;
    long len, got;
    uint32_t sum;
};

static void *slow_main(void *p)
{
    struct slow *s = p;
    static char b[16384];
    long r;

    s->sum = 2166136261u;
    while (s->got < s->len && (r = read(s->fd, b, sizeof b)) > 0) {
        s->sum = fnv(b, (size_t)r, s->sum);
        s->got += r;
        if ((s->got / sizeof b) % 16 == 0)
            usleep(2000);
    }
    return NULL;
}

static struct slow *slow_reader(int fd, long len)
{
    struct slow *s = calloc(1, sizeof *s);

    s->fd = fd;
    s->len = len;
    if (pthread_create(&s->t, NULL, slow_main, s))
        setup_failed("pthread_create");
    return s;
}

/* Join the reader and print what it received. */
static void slow_done(struct slow *s)
{
    pthread_join(s->t, NULL);
    say("reader got %ld bytes fnv %08x", s->got, s->sum);
    free(s);
}

/* A block of len bytes with a pattern, for large writes. */
static char *pattern(size_t len)
{
    char *p = malloc(len);

    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 7 + i / 4096);
    return p;
}

/* ------------------------------------------------- a signal between two waits
 *
 * A blocking call woken for something another thread takes first waits again; a signal
 * that comes in between must end it as it ends the kernel's call, blocked all along.  The
 * taker waits in take(fd) before main's call does (so the shim wakes it first), then sends
 * the process SIGALRM; feed(arg) makes fd ready after 100 ms for the taker and again after
 * FALLBACK_MS for main's call, should it go on.  Those threads block SIGALRM, so it goes
 * to main.  Which thread the kernel wakes is its race: only the facts are printed. */
#define FALLBACK_MS 1000

struct taker {
    pthread_t t;
    int fd;
    int (*take)(int fd);
    struct later *first, *fallback;
    long long t0;
};

static void *taker_main(void *p)
{
    struct taker *k = p;

    if (k->take(k->fd) >= 0)
        kill(getpid(), SIGALRM);
    return NULL;
}

static struct taker *taker_start(int (*take)(int fd), int fd, void (*feed)(void *), void *arg)
{
    struct taker *k = calloc(1, sizeof *k);
    sigset_t alrm, old;

    k->fd = fd;
    k->take = take;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    if (pthread_create(&k->t, NULL, taker_main, k))
        setup_failed("pthread_create");
    k->first = after(100, feed, arg);
    k->fallback = after(FALLBACK_MS, feed, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    usleep(20000);
    k->t0 = now_ms();
    return k;
}

/* A take and a feed for a pipe: one byte. */
static int take_byte(int fd)
{
    char c;

    return (int)read(fd, &c, 1) - 1;
}

static void put_byte(void *fd)
{
    if (write((int)(intptr_t)fd, "x", 1) != 1)
        setup_failed("write");
}

/* After main's call returned r (errno e): what it saw, whether it ended before the
 * fallback; then the threads end (the taker's signal is caught before anything is said). */
static void taker_end(struct taker *k, const char *call, long r, int e)
{
    long long ms = now_ms() - k->t0;

    finish(k->first);
    finish(k->fallback);
    pthread_join(k->t, NULL);
    say("%s got its data or was interrupted: %s", call,
        r >= 0 || e == EINTR ? "yes" : errname(e));
    say("%s ended before the fallback: %s", call, ms < FALLBACK_MS * 7 / 10 ? "yes" : "no");
    free(k);
}

#endif
