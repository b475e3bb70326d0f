/*
 * libev_echo.c — the one-core ceiling for compare.sh: a hand-written, single-threaded libev
 * echo server, written the way one would write it for speed without any runtime in between.
 *
 *   libev_echo PORT     listen on 127.0.0.1:PORT (0: the kernel picks), print
 *                       "listening on <port>" once accepting, echo every read back unchanged,
 *                       exit 0 on SIGTERM or SIGINT
 *
 * Shape: one EV_READ watcher per connection, level-triggered.  A readable connection gets
 * one read into a shared buffer and one write of exactly those bytes straight back; the
 * common case therefore costs two system calls and no copy.  Only a short write copies the
 * rest into the connection's own buffer and switches the watcher to EV_WRITE, which stops
 * reading from that peer until the backlog is gone (so a client that never reads cannot
 * make the server buffer without bound).  The listening socket accepts until EAGAIN on each
 * wake-up, with a backlog of 4096 so a burst of connects is not dropped by the kernel.
 *
 * Rejected: reading again until EAGAIN after every wake-up (one extra failing system call
 * per request in a closed-loop benchmark, where a second message never waits behind the
 * first) and edge-triggered epoll (libev's epoll backend is level-triggered; a
 * hand-rolled epoll loop would stop being "a libev server").  A read that fills the whole
 * buffer is simply followed by the next level-triggered wake-up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 4096
#define READ_MAX 65536

struct conn {
    ev_io io;       /* first: the watcher pointer is the connection pointer */
    char *pending;  /* bytes a short write left behind, or NULL */
    size_t off, len, cap;
};

static char rbuf[READ_MAX];

static void conn_close(struct ev_loop *loop, struct conn *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    free(c->pending);
    free(c);
}

static void conn_want(struct ev_loop *loop, struct conn *c, int events)
{
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->io.fd, events);
    ev_io_start(loop, &c->io);
}

/* Keep bytes [from, from + n) that the kernel did not take, and wait for room. */
static int conn_keep(struct ev_loop *loop, struct conn *c, const char *from, size_t n)
{
    if (c->cap < n) {
        char *p = realloc(c->pending, n);
        if (!p)
            return -1;
        c->pending = p;
        c->cap = n;
    }
    memcpy(c->pending, from, n);
    c->off = 0;
    c->len = n;
    conn_want(loop, c, EV_WRITE);
    return 0;
}

static void on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)w;
    ssize_t n, k;

    if (revents & EV_WRITE) {
        k = send(w->fd, c->pending + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno != EAGAIN && errno != EINTR)
                conn_close(loop, c);
            return;
        }
        c->off += (size_t)k;
        if (c->off == c->len)
            conn_want(loop, c, EV_READ);
        return;
    }
    n = recv(w->fd, rbuf, sizeof rbuf, 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            conn_close(loop, c);
        return;
    }
    k = send(w->fd, rbuf, (size_t)n, MSG_NOSIGNAL);
    if (k == n)
        return;
    if (k < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            conn_close(loop, c);
            return;
        }
        k = 0;
    }
    if (conn_keep(loop, c, rbuf + k, (size_t)(n - k)) < 0)
        conn_close(loop, c);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    static const int one = 1;

    /* Bounded by the kernel's accept queue: the loop ends at EAGAIN or any other error
     * (EMFILE included: the queue stays, the next wake-up tries again). */
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!(c = calloc(1, sizeof *c))) {
            close(fd);
            continue;
        }
        ev_io_init(&c->io, on_conn, fd, EV_READ);
        ev_io_start(loop, &c->io);
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    /* Open connections are the kernel's to close; exiting is all a benchmark peer owes. */
    _exit(0);
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    struct ev_loop *loop;
    struct rlimit r;
    ev_io lw;
    ev_signal term, intr;
    int one = 1, fd;
    char *end;
    long port;

    if (argc != 2 || (port = strtol(argv[1], &end, 10)) < 0 || port > 65535 || *end) {
        fprintf(stderr, "usage: %s PORT   (0: any free port)\n", argv[0]);
        return 2;
    }
    /* Tens of thousands of connections need as many descriptors as the hard limit allows. */
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
    signal(SIGPIPE, SIG_IGN);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, BACKLOG) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        perror("bind/listen");
        return 1;
    }
    if (!(loop = ev_default_loop(EVFLAG_AUTO))) {
        fprintf(stderr, "libev: no event loop\n");
        return 1;
    }
    ev_signal_init(&term, on_signal, SIGTERM);
    ev_signal_start(loop, &term);
    ev_signal_init(&intr, on_signal, SIGINT);
    ev_signal_start(loop, &intr);
    ev_io_init(&lw, on_accept, fd, EV_READ);
    ev_io_start(loop, &lw);
    printf("listening on %d\n", ntohs(a.sin_port));
    fflush(stdout);
    ev_run(loop, 0);
    return 0;
}
