/*
 * loadgen.c — a closed-loop echo load generator: C connections to an echo server, each
 * sending a payload, waiting for the complete echo, checking it byte for byte and sending
 * again at once.  scripts/compare.sh drives every server with it (HTTP servers get wrk).
 *
 *   loadgen --port P [--host 127.0.0.1] --conns C [--payload BYTES=64] [--warmup S=1]
 *           [--duration S=5] [--count N] [--timeout S] [--sources K]
 *
 * It prints exactly one result line on stdout, at the end, whatever happened:
 *
 *   loadgen conns=C payload=B duration=S requests=N rps=X p50_us=A p99_us=B p999_us=C
 *           errors=E connect_failed=F stalled=S          (one line)
 *
 * and progress on stderr.  Exit status 0 when errors == 0 and connect_failed == 0 and the
 * run ended normally, 1 otherwise (--timeout reached before the window closed, too), 2 on
 * bad usage.  It uses nothing of libgreen: one OS thread, one epoll set, non-blocking
 * sockets, so that what it measures is the server and the kernel, not itself.
 *
 * The payload is made of upper-case letters and digits only, so every echo server in the
 * comparison returns it unchanged (tests/legacy/legacy_server upper-cases what it gets).
 * Each connection's payload starts with its own number in base 36, so a reply that lands
 * on the wrong connection is a mismatch.
 *
 * Phases.  Connect: at most WINDOW (256) connections are in flight, meaning connecting or
 * established but not yet answered, so the server's accept queue (backlog 4096 for
 * legacy_server, net.core.somaxconn) never overflows into the kernel's 1 s SYN retries,
 * which would measure the retry timer instead of the server.  A connection established
 * for RELEASE_NS without its first echo stops counting against the window, so a server
 * that never answers some connections (a fixed pool of threads) still gets all C and
 * shows them as stalled instead of hanging the run.  While connecting, a connection sends
 * one request as soon as it is established (its echo proves that the server accepted it)
 * and then waits: connections looping already would keep the server busy and hold up the
 * first echo of every later one (10,000 connections to the threaded legacy_server took 35 s
 * to open that way, instead of a few).  A failed connect is retried MAX_ATTEMPTS times in
 * all, RETRY_NS apart; after that it counts in connect_failed.  Warm-up starts once every
 * connection is established or has failed for good: every answered connection starts its
 * closed loop then, a later-answered one at its first echo; requests completing in the
 * warm-up are not measured.  Window: the --duration seconds after the warm-up, or up to
 * the --count-th measured request.  A request is measured when its echo completes inside
 * the window (its latency runs from the send of its first byte to the receipt of its last).
 *
 * Counting.  errors: connections dropped for a wrong byte, a byte too many, end of file or
 * a socket error, at any phase.  stalled: connections that were established but completed
 * no round trip inside the window (those dropped with an error included), so stalled +
 * connections with a measured request + connect_failed = C.  Latency percentiles are
 * nearest-rank over every measured request, from an exact histogram with 1 µs buckets
 * (rounded to the nearest µs) up to 1 s and the exact values beyond.
 *
 * Source addresses.  A connection to one server address needs its own local port; the
 * ephemeral range (net.ipv4.ip_local_port_range, 28,232 ports here) bounds how many one
 * source address can hold.  --sources K spreads connections round-robin over 127.0.0.1 ..
 * 127.0.0.K, each socket bound before connect with IP_BIND_ADDRESS_NO_PORT so that the
 * port is still chosen at connect time (a plain bind to port 0 would need a port unique
 * across all destinations).  An address whose connect gets EADDRNOTAVAIL is skipped from
 * then on.  Without --sources (loopback servers only): one address per half ephemeral
 * range of connections, unbound while there is only one, and one more whenever all those
 * in use have run out of ports.
 *
 * Sockets are closed with SO_LINGER 0 (a reset), so a 10,000-connection run leaves no
 * ports in TIME_WAIT to starve the next run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum {
    WINDOW = 256,         /* connections in flight during the connect phase */
    MAX_ATTEMPTS = 5,     /* connect attempts per connection */
    MAX_SOURCES = 254,    /* 127.0.0.1 .. 127.0.0.254 */
    HIST_US = 1000000,    /* exact 1 µs buckets below 1 s */
    MAX_PAYLOAD = 1 << 24,
    MAX_ERROR_LINES = 10, /* errors described one by one on stderr, then only counted */
};
#define RETRY_NS 100000000LL   /* between connect attempts */
#define RELEASE_NS 1000000000LL /* established this long without an echo: out of the window */
#define SHARED_PAYLOAD_LIMIT (64LL << 20) /* above C * BYTES, connections share payloads */

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

enum { IDLE, CONNECTING, ACTIVE, DEAD };

struct conn {
    int fd;
    uint8_t state;
    uint8_t attempts;
    uint8_t gated;    /* counts against WINDOW */
    uint8_t answered; /* has completed at least one round trip */
    uint8_t want_out; /* EPOLLOUT registered: a send is unfinished */
    uint8_t established;
    uint8_t source; /* index in sources[] of the last attempt */
    uint8_t parked; /* answered during the connect phase: waits for the warm-up to start */
    uint32_t sent, got;
    uint32_t measured; /* round trips completed inside the window */
    int64_t t_send;    /* when the current request's first byte went out */
    int64_t t_est;     /* when the connection was established */
};

/* Settings, from the command line. */
static long port = -1, n_conns = -1, payload = 64, count_limit = 0, n_sources = 0;
static double warmup_s = 1, duration_s = 5, timeout_s = -1;
static struct in_addr host = {.s_addr = 0};
static int loopback, explicit_sources;

static struct conn *conns;
static char *payloads; /* per connection (stride payload) or shared (stride 1) */
static long payload_stride;
static char *rbuf;
static size_t rbuf_size;
static int ep;
static struct sockaddr_in dest;
static struct sockaddr_in sources[MAX_SOURCES];
static uint8_t source_full[MAX_SOURCES]; /* a connect from it got EADDRNOTAVAIL */
static long rr_source;

/* Counters. */
static long in_flight, settled, next_fresh, errors, connect_failed, error_lines;
static long *retry_q, retry_head, retry_tail; /* ring of C: each conn is in it at most once */
static int64_t *retry_at;
static long *est_q, est_head, est_tail; /* established, awaiting release from the window */

/* Measurement. */
static int looping; /* the connect phase is over: every answered connection loops */
static int measuring;
static int64_t window_start, window_end; /* window_end: INT64_MAX in --count mode */
static long measured;
static uint32_t *hist;
static uint64_t *over; /* latencies >= HIST_US µs, exact */
static long n_over, cap_over;

static void usage_fail(const char *fmt, const char *opt, const char *val)
{
    fprintf(stderr, "loadgen: ");
    fprintf(stderr, fmt, opt, val);
    fprintf(stderr, "\n");
    exit(2);
}

static long parse_long(const char *opt, const char *val, long lo, long hi, const char *accepts)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(val, &end, 10);
    if (!*val || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "loadgen: %s takes %s, not \"%s\"\n", opt, accepts, val);
        exit(2);
    }
    return v;
}

static double parse_secs(const char *opt, const char *val, int zero_ok)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(val, &end);
    if (!*val || *end || errno || !isfinite(v) || v < 0 || (!zero_ok && v == 0) || v > 1e6) {
        fprintf(stderr, "loadgen: %s takes seconds (a number %s 0, at most 1e6), not \"%s\"\n",
                opt, zero_ok ? ">=" : ">", val);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv)
{
    static const char accepted[] = "--port --host --conns --payload --warmup --duration "
                                   "--count --timeout --sources";

    for (int i = 1; i < argc; i++) {
        char *opt = argv[i], *val, *eq;
        char name[32];

        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            printf("usage: loadgen --port P [--host 127.0.0.1] --conns C [--payload BYTES=64] "
                   "[--warmup S=1] [--duration S=5] [--count N] [--timeout S] "
                   "[--sources K]\n");
            exit(0);
        }
        if (strncmp(opt, "--", 2) != 0)
            usage_fail("unexpected argument \"%s\"; options are %s", opt, accepted);
        eq = strchr(opt, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - opt), opt);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", opt);
            if (i + 1 >= argc)
                usage_fail("%s needs a value%s", name, "");
            val = argv[++i];
        }
        if (!strcmp(name, "--port"))
            port = parse_long(name, val, 1, 65535, "a port number 1..65535");
        else if (!strcmp(name, "--host")) {
            if (inet_pton(AF_INET, val, &host) != 1)
                usage_fail("--host takes an IPv4 address such as 127.0.0.1, not \"%s\"%s", val,
                           "");
        } else if (!strcmp(name, "--conns"))
            n_conns = parse_long(name, val, 1, 1000000, "a connection count 1..1000000");
        else if (!strcmp(name, "--payload"))
            payload = parse_long(name, val, 1, MAX_PAYLOAD, "a byte count 1..16777216");
        else if (!strcmp(name, "--warmup"))
            warmup_s = parse_secs(name, val, 1);
        else if (!strcmp(name, "--duration"))
            duration_s = parse_secs(name, val, 0);
        else if (!strcmp(name, "--count"))
            count_limit = parse_long(name, val, 1, LONG_MAX, "a request count >= 1");
        else if (!strcmp(name, "--timeout"))
            timeout_s = parse_secs(name, val, 0);
        else if (!strcmp(name, "--sources"))
            n_sources = parse_long(name, val, 1, MAX_SOURCES,
                                   "a count of source addresses 1..254 (127.0.0.1..127.0.0.K)");
        else
            usage_fail("unknown option \"%s\"; options are %s", name, accepted);
    }
    if (port < 0)
        usage_fail("--port is required (the echo server's port, 1..65535)%s%s", "", "");
    if (n_conns < 0)
        usage_fail("--conns is required (the number of connections, >= 1)%s%s", "", "");
    if (!host.s_addr)
        host.s_addr = htonl(INADDR_LOOPBACK);
    if (n_sources && (ntohl(host.s_addr) >> 24) != 127)
        usage_fail("--sources needs --host in 127.0.0.0/8 (the sources are 127.0.0.x)%s%s", "",
                   "");
    if (timeout_s < 0)
        timeout_s = warmup_s + duration_s + 30;
}

/* Half the ephemeral port range: what one source address is trusted to hold. */
static long ports_per_source(void)
{
    long lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &lo, &hi) != 2 || hi <= lo)
            lo = 32768, hi = 60999;
        fclose(f);
    }
    return (hi - lo + 1) / 2;
}

static void set_source(long k)
{
    sources[k] = (struct sockaddr_in){.sin_family = AF_INET,
                                      .sin_addr.s_addr = htonl(0x7f000001 + (uint32_t)k)};
}

static const char *payload_of(long i)
{
    return payload_stride == 1 ? payloads + i % 36 : payloads + i * payload_stride;
}

static void make_payloads(void)
{
    if ((int64_t)n_conns * payload <= SHARED_PAYLOAD_LIMIT) {
        payload_stride = payload;
        payloads = malloc((size_t)(n_conns * payload));
        if (!payloads)
            return;
        for (long i = 0; i < n_conns; i++) {
            char *p = payloads + i * payload;
            long id = i;
            for (long j = 0; j < payload; j++)
                p[j] = alphabet[(i + j) % 36];
            /* The connection's number, base 36, in the first bytes (up to 4: 1.6M ids). */
            for (long j = 0; j < payload && j < 4; j++, id /= 36)
                p[j] = alphabet[id % 36];
        }
    } else {
        /* Too big to keep one each: 36 shifts of one pattern. */
        payload_stride = 1;
        payloads = malloc((size_t)payload + 36);
        if (!payloads)
            return;
        for (long j = 0; j < payload + 36; j++)
            payloads[j] = alphabet[j % 36];
    }
}

static void note_error(long i, const char *why, int err)
{
    if (error_lines++ < MAX_ERROR_LINES)
        fprintf(stderr, "loadgen: connection %ld: %s%s%s\n", i, why, err ? ": " : "",
                err ? strerror(err) : "");
    else if (error_lines == MAX_ERROR_LINES + 1)
        fprintf(stderr, "loadgen: (further errors only counted)\n");
}

static void ungate(struct conn *c)
{
    if (c->gated) {
        c->gated = 0;
        in_flight--;
    }
}

/* An established connection failed: drop it and count an error. */
static void drop(long i, const char *why, int err)
{
    struct conn *c = &conns[i];

    note_error(i, why, err);
    errors++;
    ungate(c);
    close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    c->state = DEAD;
}

/* A connect attempt failed: retry later, or give up and count it. */
static void connect_failed_once(long i, int err, int64_t now)
{
    struct conn *c = &conns[i];

    ungate(c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = IDLE;
    if (err == EADDRNOTAVAIL && !source_full[c->source]) {
        source_full[c->source] = 1;
        fprintf(stderr, "loadgen: source address 127.0.0.%d has no free port left\n",
                c->source + 1);
    }
    if (c->attempts >= MAX_ATTEMPTS) {
        note_error(i, "connect failed for good", err);
        connect_failed++;
        settled++;
        c->state = DEAD;
        return;
    }
    retry_q[retry_tail++ % n_conns] = i;
    retry_at[i] = now + RETRY_NS;
}

/* Round robin over the source addresses that still have ports; when none has, a new one
 * (automatic mode), or the next one regardless (its connect fails and counts an attempt). */
static uint8_t pick_source(void)
{
    for (long k = 0; k < n_sources; k++) {
        long s = rr_source++ % n_sources;
        if (!source_full[s])
            return (uint8_t)s;
    }
    if (loopback && !explicit_sources && n_sources < MAX_SOURCES) {
        set_source(n_sources++);
        fprintf(stderr, "loadgen: now using %ld source addresses (binding each socket)\n",
                n_sources);
        return (uint8_t)(n_sources - 1);
    }
    return (uint8_t)(rr_source++ % n_sources);
}

static void open_one(long i, int64_t now)
{
    struct conn *c = &conns[i];
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
    struct linger lg = {1, 0};
    int one = 1, fd;

    c->attempts++;
    c->state = CONNECTING;
    c->gated = 1;
    in_flight++;
    c->source = pick_source();
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->fd = fd;
    if (fd < 0) {
        connect_failed_once(i, errno, now);
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (loopback && (explicit_sources || n_sources > 1)) {
        struct sockaddr_in *s = &sources[c->source];
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)s, sizeof *s) < 0) {
            connect_failed_once(i, errno, now);
            return;
        }
    }
    if (connect(fd, (struct sockaddr *)&dest, sizeof dest) < 0 && errno != EINPROGRESS) {
        connect_failed_once(i, errno, now);
        return;
    }
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        connect_failed_once(i, errno, now);
        return;
    }
}

static void set_events(long i, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, conns[i].fd, &ev) < 0)
        drop(i, "epoll_ctl MOD", errno);
}

/* Send (the rest of) the current request; registers EPOLLOUT while it is unfinished. */
static void push(long i)
{
    struct conn *c = &conns[i];
    const char *p = payload_of(i);

    while (c->sent < (uint32_t)payload) {
        ssize_t w = send(c->fd, p + c->sent, (size_t)payload - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0) {
            drop(i, "send", w < 0 ? errno : 0);
            return;
        }
        c->sent += (uint32_t)w;
    }
    if ((c->sent < (uint32_t)payload) != c->want_out) {
        c->want_out = !c->want_out;
        set_events(i, EPOLLIN | (c->want_out ? EPOLLOUT : 0));
    }
}

static void start_request(long i, int64_t now)
{
    struct conn *c = &conns[i];
    c->sent = c->got = 0;
    c->t_send = now;
    push(i);
}

static void record(uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;

    if (us < HIST_US) {
        hist[us]++;
        return;
    }
    if (n_over == cap_over) {
        cap_over = cap_over ? 2 * cap_over : 1024;
        over = realloc(over, (size_t)cap_over * sizeof *over);
        if (!over) {
            perror("loadgen");
            exit(1);
        }
    }
    over[n_over++] = us;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest latency with at least permille/1000 of them at or below it. */
static uint64_t percentile(long permille)
{
    long rank = (measured * permille + 999) / 1000, seen = 0;

    if (measured == 0)
        return 0;
    if (rank < 1)
        rank = 1;
    for (long us = 0; us < HIST_US; us++) {
        seen += hist[us];
        if (seen >= rank)
            return (uint64_t)us;
    }
    return over[rank - seen - 1];
}

/* The echo of connection i's request is complete at `now`. */
static void complete(long i, int64_t now)
{
    struct conn *c = &conns[i];

    if (!c->answered) {
        c->answered = 1;
        ungate(c);
    }
    if (measuring && now >= window_start && now < window_end) {
        record((uint64_t)(now - c->t_send));
        c->measured++;
        if (++measured == count_limit)
            window_end = now; /* later completions are outside the window */
    }
    if (looping)
        start_request(i, now);
    else
        c->parked = 1;
}

static void on_readable(long i)
{
    struct conn *c = &conns[i];
    size_t want = (size_t)payload - c->got + 64;
    ssize_t r;

    if (want > rbuf_size)
        want = rbuf_size;
    r = recv(c->fd, rbuf, want, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r < 0) {
        drop(i, "recv", errno);
        return;
    }
    if (r == 0) {
        drop(i, "closed by the server before the whole echo", 0);
        return;
    }
    if (c->got + (size_t)r > (size_t)payload) {
        drop(i, "the server sent more bytes than the request had", 0);
        return;
    }
    if (memcmp(rbuf, payload_of(i) + c->got, (size_t)r) != 0) {
        drop(i, "the echo differs from the request", 0);
        return;
    }
    c->got += (uint32_t)r;
    if (c->got == (uint32_t)payload)
        complete(i, bench_now());
}

static void on_connected(long i, uint32_t events, int64_t now)
{
    struct conn *c = &conns[i];
    int err = 0;
    socklen_t el = sizeof err;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        err = errno;
    if (!err && !(events & EPOLLOUT))
        err = ECONNRESET; /* EPOLLHUP without a pending error */
    if (err) {
        connect_failed_once(i, err, now);
        return;
    }
    c->state = ACTIVE;
    c->established = 1;
    c->t_est = now;
    settled++;
    est_q[est_tail++] = i;
    set_events(i, EPOLLIN);
    if (c->state == ACTIVE)
        start_request(i, now);
}

static void on_event(long i, uint32_t events)
{
    struct conn *c = &conns[i];

    if (c->state == CONNECTING) {
        on_connected(i, events, bench_now());
        return;
    }
    if (c->state != ACTIVE)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(i);
    if (c->state == ACTIVE && c->want_out && (events & EPOLLOUT))
        push(i);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int main(int argc, char **argv)
{
    struct epoll_event evs[1024];
    struct rlimit rl;
    int64_t t0, hard_deadline;
    int timed_out = 0, phase = 0; /* 0 connect, 1 warm-up, 2 window */
    double secs;

    parse_args(argc, argv);

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < (rlim_t)n_conns + 16) {
        fprintf(stderr,
                "loadgen: --conns %ld needs %ld descriptors, but the hard limit is %lu: "
                "--conns accepts at most %ld here\n",
                n_conns, n_conns + 16, (unsigned long)rl.rlim_cur,
                (long)rl.rlim_cur > 16 ? (long)rl.rlim_cur - 16 : 0);
        return 2;
    }

    dest = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr = host,
                                .sin_port = htons((unsigned short)port)};
    loopback = (ntohl(host.s_addr) >> 24) == 127;
    explicit_sources = n_sources > 0;
    if (!explicit_sources) {
        long per = ports_per_source();
        n_sources = loopback ? (n_conns + per - 1) / per : 1;
        if (n_sources > MAX_SOURCES)
            n_sources = MAX_SOURCES;
    }
    for (long k = 0; k < n_sources; k++)
        set_source(k);

    make_payloads();
    rbuf_size = (size_t)payload + 64 < 65536 ? (size_t)payload + 64 : 65536;
    rbuf = malloc(rbuf_size);
    conns = calloc((size_t)n_conns, sizeof *conns);
    retry_q = calloc((size_t)n_conns, sizeof *retry_q);
    retry_at = calloc((size_t)n_conns, sizeof *retry_at);
    est_q = calloc((size_t)n_conns, sizeof *est_q);
    hist = calloc(HIST_US, sizeof *hist);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!payloads || !rbuf || !conns || !retry_q || !retry_at || !est_q || !hist || ep < 0) {
        perror("loadgen");
        return 1;
    }
    for (long i = 0; i < n_conns; i++)
        conns[i].fd = -1;

    t0 = bench_now();
    hard_deadline = t0 + (int64_t)(timeout_s * 1e9);
    fprintf(stderr, "loadgen: %ld connections to %s:%ld, %ld-byte payload, %ld source address%s\n",
            n_conns, inet_ntoa(host), port, payload, n_sources, n_sources == 1 ? "" : "es");

    for (;;) {
        int64_t now = bench_now(), wake = hard_deadline;
        int n;

        if (now >= hard_deadline) {
            timed_out = 1;
            break;
        }

        /* Connect phase: release slow connections from the window, open more. */
        while (est_head < est_tail) {
            struct conn *c = &conns[est_q[est_head]];
            if (c->gated && now - c->t_est < RELEASE_NS) {
                wake = min64(wake, c->t_est + RELEASE_NS);
                break;
            }
            ungate(c);
            est_head++;
        }
        while (in_flight < WINDOW) {
            if (retry_head < retry_tail && retry_at[retry_q[retry_head % n_conns]] <= now)
                open_one(retry_q[retry_head++ % n_conns], now);
            else if (next_fresh < n_conns)
                open_one(next_fresh++, now);
            else
                break;
        }
        if (retry_head < retry_tail)
            wake = min64(wake, retry_at[retry_q[retry_head % n_conns]]);

        if (phase == 0 && settled == n_conns) {
            /* Completions from window_start on are measured, even in this loop's batch. */
            phase = 1;
            window_start = now + (int64_t)(warmup_s * 1e9);
            window_end = count_limit ? INT64_MAX : window_start + (int64_t)(duration_s * 1e9);
            measuring = 1;
            looping = 1;
            fprintf(stderr, "loadgen: %ld connected (%ld failed) in %.3f s\n",
                    n_conns - connect_failed, connect_failed, (double)(now - t0) / 1e9);
            for (long i = 0; i < n_conns; i++)
                if (conns[i].parked && conns[i].state == ACTIVE) {
                    conns[i].parked = 0;
                    start_request(i, now);
                }
        }
        if (phase == 1 && now >= window_start)
            phase = 2;
        if (phase == 1)
            wake = min64(wake, window_start);
        if (phase == 2) {
            if (now >= window_end)
                break;
            wake = min64(wake, window_end);
        }
        if (settled == n_conns && settled == connect_failed) {
            /* Nothing connected: nothing to measure. */
            window_start = window_end = now;
            break;
        }

        wake = min64(wake, now + 1000000000); /* keeps the millisecond count small */
        n = epoll_wait(ep, evs, 1024, (int)((wake - now + 999999) / 1000000));
        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; k++)
            on_event((long)evs[k].data.u64, evs[k].events);
    }

    if (timed_out) {
        /* Whatever is still connecting failed to connect within the bound. */
        for (long i = 0; i < n_conns; i++)
            if (conns[i].state == IDLE || conns[i].state == CONNECTING) {
                connect_failed++;
                conns[i].state = DEAD;
            }
        if (phase == 2)
            window_end = min64(window_end, hard_deadline);
        else
            window_start = window_end = 0;
        fprintf(stderr, "loadgen: --timeout %g s reached %s\n", timeout_s,
                phase == 0   ? "while connecting"
                : phase == 1 ? "during the warm-up"
                             : "before the window closed");
    }

    long stalled = 0;
    for (long i = 0; i < n_conns; i++) {
        struct conn *c = &conns[i];
        if (c->established && c->measured == 0)
            stalled++;
    }
    if (n_over)
        qsort(over, (size_t)n_over, sizeof *over, cmp_u64);
    secs = window_end > window_start ? (double)(window_end - window_start) / 1e9 : 0;
    printf("loadgen conns=%ld payload=%ld duration=%.6f requests=%ld rps=%.1f p50_us=%llu "
           "p99_us=%llu p999_us=%llu errors=%ld connect_failed=%ld stalled=%ld\n",
           n_conns, payload, secs, measured, secs > 0 ? (double)measured / secs : 0.0,
           (unsigned long long)percentile(500), (unsigned long long)percentile(990),
           (unsigned long long)percentile(999), errors, connect_failed, stalled);
    fflush(stdout);
    /* The sockets close at exit, each with a reset (SO_LINGER 0). */
    return errors || connect_failed || timed_out ? 1 : 0;
}
