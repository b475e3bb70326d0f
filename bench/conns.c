/*
 * conns.c — the client of the connections benchmark: opens N connections to an echo server
 * on 127.0.0.1:PORT, checks that every one is answered, holds them all open and idle while
 * scripts/bench.sh samples the server, then closes them.
 *
 *   usage: conns PORT N [WINDOW, default 256] [TIMEOUT_S, default 60]
 *
 * The server is tests/legacy/legacy_server (it replies with the bytes upper-cased), patched
 * or not.  Each connection sends one message of its own ("conn <i> hello, echo me") and
 * must get back exactly that message upper-cased; anything else — a refused or reset
 * connection, a short or wrong reply, the time running out — ends the run with exit status
 * 1 and a line saying which connection and why.
 *
 * One thread, one epoll set, non-blocking sockets.  At most WINDOW connections are in
 * flight (connecting or waiting for their echo) at once, so the server's accept queue
 * (listen backlog 4096, net.core.somaxconn) never overflows into SYN retransmissions, which
 * would measure the kernel's 1 s retry timer instead of the server.  An answered
 * connection leaves the epoll set and stays open, idle.
 *
 * When all N are answered it prints
 *
 *     conns_ready n=N connect_s=<seconds to open and verify all of them>
 *
 * on stdout and waits until its standard input reaches end of file or gives a line (at
 * most TIMEOUT_S seconds more): that is the window in which the script reads the server's
 * /proc/PID/status and /proc/PID/task.  Then every connection is closed with SO_LINGER 0
 * (a reset), so that 10,000 closes leave no 10,000 ports in TIME_WAIT for the runs after
 * this one, and it prints "conns_closed n=N".
 *
 * The process raises its own RLIMIT_NOFILE soft limit to the hard limit and needs N + 16
 * descriptors under it (the hard limit is 20,000 on the machine BENCHMARKS.md describes).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

enum { CONNECTING, WAITING, ANSWERED };

struct conn {
    int fd;
    int state;
    int got; /* bytes of the echo received so far */
};

static struct conn *conns;
static long n_conns;

static void fail(long i, const char *why, int err)
{
    fprintf(stderr, "conns: connection %ld of %ld: %s%s%s\n", i, n_conns, why,
            err ? ": " : "", err ? strerror(err) : "");
    exit(1);
}

static int message(long i, char *buf, size_t size, int upper)
{
    return snprintf(buf, size, upper ? "CONN %ld HELLO, ECHO ME\n" : "conn %ld hello, echo me\n",
                    i);
}

/* Open connection i (non-blocking connect) and add it to the epoll set. */
static void open_one(int ep, struct sockaddr_in *a, long i)
{
    struct conn *c = &conns[i];
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        fail(i, "socket", errno);
    if (connect(c->fd, (struct sockaddr *)a, sizeof *a) < 0 && errno != EINPROGRESS)
        fail(i, "connect", errno);
    c->state = CONNECTING;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        fail(i, "epoll_ctl ADD", errno);
}

/* Move connection i on after an event; returns 1 when it has just been answered. */
static int step(int ep, long i, uint32_t events)
{
    struct conn *c = &conns[i];
    char want[64], buf[64];
    int len = message(i, want, sizeof want, 1);

    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        char msg[64];
        int ml = message(i, msg, sizeof msg, 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
            fail(i, "connect", err ? err : errno);
        if (!(events & EPOLLOUT))
            return 0;
        /* A fresh connection's send buffer takes a few dozen bytes at once. */
        if (send(c->fd, msg, (size_t)ml, MSG_NOSIGNAL) != ml)
            fail(i, "send (short or failed)", errno);
        c->state = WAITING;
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
            fail(i, "epoll_ctl MOD", errno);
        return 0;
    }
    if (c->state != WAITING)
        return 0;
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EAGAIN)
            return 0;
        if (r < 0)
            fail(i, "recv", errno);
        if (r == 0)
            fail(i, "closed by the server before the whole echo", 0);
        if (c->got + r > len || memcmp(buf, want + c->got, (size_t)r) != 0)
            fail(i, "wrong echo", 0);
        c->got += (int)r;
        if (c->got == len)
            break;
    }
    c->state = ANSWERED;
    if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL) < 0)
        fail(i, "epoll_ctl DEL", errno);
    return 1;
}

int main(int argc, char **argv)
{
    long port = bench_arg(argc, argv, 1, 0), window = bench_arg(argc, argv, 3, 256);
    long timeout_s = bench_arg(argc, argv, 4, 60);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct epoll_event evs[256];
    struct rlimit rl;
    long opened = 0, answered = 0, in_flight = 0;
    int64_t t0, deadline;
    int ep;

    n_conns = bench_arg(argc, argv, 2, 0);
    if (argc < 3 || port > 65535) {
        fprintf(stderr, "usage: conns PORT N [WINDOW] [TIMEOUT_S]\n");
        return 2;
    }
    a.sin_port = htons((unsigned short)port);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < (rlim_t)n_conns + 16) {
        fprintf(stderr, "conns: %ld connections need %ld descriptors; the limit is %lu\n",
                n_conns, n_conns + 16, (unsigned long)rl.rlim_cur);
        return 1;
    }
    conns = calloc((size_t)n_conns, sizeof *conns);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || ep < 0) {
        perror("conns");
        return 1;
    }

    t0 = bench_now();
    deadline = t0 + timeout_s * 1000000000;
    while (answered < n_conns) {
        int64_t left = deadline - bench_now();
        int n;

        while (opened < n_conns && in_flight < window) {
            open_one(ep, &a, opened++);
            in_flight++;
        }
        if (left <= 0) {
            fprintf(stderr, "conns: %ld of %ld answered after %ld s; giving up\n", answered,
                    n_conns, timeout_s);
            return 1;
        }
        n = epoll_wait(ep, evs, 256, (int)(left / 1000000) + 1);
        if (n < 0 && errno != EINTR) {
            perror("conns: epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; k++)
            if (step(ep, (long)evs[k].data.u64, evs[k].events)) {
                answered++;
                in_flight--;
            }
    }
    printf("conns_ready n=%ld connect_s=%.3f\n", n_conns, (double)(bench_now() - t0) / 1e9);
    fflush(stdout);

    /* Hold every connection, idle, until stdin says so (or the time runs out). */
    {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        char c;
        deadline = bench_now() + timeout_s * 1000000000;
        for (;;) {
            int64_t left = deadline - bench_now();
            if (left <= 0)
                break;
            int r = poll(&p, 1, (int)(left / 1000000) + 1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0 || read(0, &c, 1) <= 0 || c == '\n')
                break;
        }
    }

    for (long i = 0; i < n_conns; i++) {
        struct linger l = {1, 0};
        setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close(conns[i].fd);
    }
    printf("conns_closed n=%ld\n", n_conns);
    return 0;
}
