/*
 * select_server — a single-threaded echo server built on select(), the oldest way:
 * blocking descriptors, fd_sets rebuilt each turn.  It knows nothing of libgreen: build it
 * with `cc -pthread`.
 *
 *   select_server PORT       listen on 127.0.0.1:PORT (0: any free port)
 *
 * Prints "listening on PORT" once ready.  Each turn builds the read set from the
 * listening socket and every client and calls select with a one-second timeout (rebuilt
 * each time: Linux leaves the time not slept in it).  A readable client gets one read and
 * the bytes back upper-cased; a readable listening socket gets accept.  Descriptors at or
 * above FD_SETSIZE cannot go in an fd_set, so such a client is refused (closed).  It runs
 * until killed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static int clients[FD_SETSIZE];
static int nclients;

/* Echo what one read brings, upper-cased; 0 when the client is done. */
static int echo(int fd)
{
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf, 0);

    if (n <= 0)
        return n < 0 && errno == EINTR;
    for (ssize_t i = 0; i < n; i++)
        buf[i] = (char)toupper((unsigned char)buf[i]);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w <= 0)
            return 0;
        off += w;
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int one = 1, lfd;

    if (argc < 2) {
        fprintf(stderr, "usage: select_server PORT\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
        perror("select_server");
        return 1;
    }
    printf("listening on %d\n", ntohs(a.sin_port));
    for (;;) {
        struct timeval tv = {1, 0};
        fd_set rd;
        int maxfd = lfd, ready;

        FD_ZERO(&rd);
        FD_SET(lfd, &rd);
        for (int i = 0; i < nclients; i++) {
            FD_SET(clients[i], &rd);
            if (clients[i] > maxfd)
                maxfd = clients[i];
        }
        ready = select(maxfd + 1, &rd, NULL, NULL, &tv);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            perror("select_server: select");
            return 1;
        }
        for (int i = 0; i < nclients; i++) {
            if (FD_ISSET(clients[i], &rd) && !echo(clients[i])) {
                close(clients[i]);
                clients[i--] = clients[--nclients];
            }
        }
        if (FD_ISSET(lfd, &rd)) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0)
                perror("select_server: accept");
            else if (fd >= FD_SETSIZE || nclients == FD_SETSIZE)
                close(fd);
            else
                clients[nclients++] = fd;
        }
    }
}
