/*
 * poll_server — a single-threaded echo server built on poll(), the classic way: blocking
 * descriptors, and poll says which of them will not block.  It knows nothing of libgreen:
 * build it with `cc -pthread`.
 *
 *   poll_server PORT         listen on 127.0.0.1:PORT (0: any free port)
 *
 * Prints "listening on PORT" once ready.  One loop polls the listening socket and every
 * client (up to MAX_CLIENTS) with a one-second timeout; a readable listening socket gets
 * accept, a readable client gets one read and the same bytes back upper-cased with a
 * blocking write loop; end of file or an error closes the client.  It runs until killed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 4096

static struct pollfd fds[MAX_CLIENTS + 1];

/* Echo what one read brings, upper-cased; 0 when the client is done. */
static int echo(int fd)
{
    char buf[2048];
    ssize_t n = read(fd, buf, sizeof buf);

    if (n <= 0)
        return n < 0 && errno == EINTR;
    for (ssize_t i = 0; i < n; i++)
        buf[i] = (char)toupper((unsigned char)buf[i]);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
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
    nfds_t n = 1;

    if (argc < 2) {
        fprintf(stderr, "usage: poll_server PORT\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
        perror("poll_server");
        return 1;
    }
    printf("listening on %d\n", ntohs(a.sin_port));
    fds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    for (;;) {
        int ready = poll(fds, n, 1000);

        if (ready < 0) {
            if (errno == EINTR)
                continue;
            perror("poll_server: poll");
            return 1;
        }
        /* Clients first, so that a client accepted now is not looked at before it was
         * polled. */
        for (nfds_t i = 1; i < n; i++) {
            if (!fds[i].revents)
                continue;
            if (!echo(fds[i].fd)) {
                close(fds[i].fd);
                fds[i--] = fds[--n];
            }
        }
        if (fds[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0)
                perror("poll_server: accept");
            else if (n > MAX_CLIENTS)
                close(fd);
            else
                fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
        }
    }
}
