/*
 * epoll_server — a single-threaded echo server with its own epoll event loop, in the
 * style of redis and nginx: every socket non-blocking (set with fcntl), level-triggered
 * events, a pending-output buffer per connection.  It knows nothing of libgreen: build it
 * with `cc -pthread`.
 *
 *   epoll_server PORT        listen on 127.0.0.1:PORT (0: any free port)
 *
 * Prints "listening on PORT" once ready.  The loop waits in epoll_wait with a one-second
 * timeout.  The listening socket is drained with accept until EAGAIN; a readable client
 * is read until EAGAIN, its bytes upper-cased and written back; what the socket does not
 * take at once waits in the connection's buffer, with EPOLLOUT asked for until it is
 * gone.  End of file or an error closes the client.  It runs until killed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    char *out;
    size_t len, off, cap;
};

static int epfd;

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void conn_close(struct conn *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    free(c);
}

/* Write what is pending; 0 when the connection failed. */
static int flush_out(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t w = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0)
            return 0;
        c->off += (size_t)w;
    }
    if (c->off == c->len)
        c->off = c->len = 0;
    struct epoll_event ev = {.events = EPOLLIN | (c->len ? EPOLLOUT : 0), .data.ptr = c};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

/* Read until EAGAIN, queueing the upper-cased bytes; 0 at end of file or on error. */
static int on_readable(struct conn *c)
{
    char buf[4096];

    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 1;
        if (n <= 0)
            return 0;
        if (c->len + (size_t)n > c->cap) {
            size_t cap = (c->len + (size_t)n) * 2;
            char *p = realloc(c->out, cap);
            if (!p)
                return 0;
            c->out = p;
            c->cap = cap;
        }
        for (ssize_t i = 0; i < n; i++)
            c->out[c->len++] = (char)toupper((unsigned char)buf[i]);
        if (!flush_out(c))
            return 0;
    }
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        struct conn *c;

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                perror("epoll_server: accept");
            if (errno != EINTR)
                return;
            continue;
        }
        c = calloc(1, sizeof *c);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || set_nonblock(fd) < 0 || (c->fd = fd, epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev))) {
            perror("epoll_server: new connection");
            free(c);
            close(fd);
        }
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    struct epoll_event events[256];
    int one = 1, lfd;

    if (argc < 2) {
        fprintf(stderr, "usage: epoll_server PORT\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (lfd < 0 || epfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0 || set_nonblock(lfd) < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("epoll_server");
        return 1;
    }
    printf("listening on %d\n", ntohs(a.sin_port));
    for (;;) {
        int n = epoll_wait(epfd, events, 256, 1000);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_server: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            int ok = 1;

            if (!c) {
                on_accept(lfd);
                continue;
            }
            if (events[i].events & EPOLLOUT)
                ok = flush_out(c);
            if (ok && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                ok = on_readable(c);
            if (!ok)
                conn_close(c);
        }
    }
}
