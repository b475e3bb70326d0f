/*
 * legacy_server — the gevent tutorial's echo server, written as classic blocking C with a
 * thread per connection.  It knows nothing of libgreen: build it with `cc -pthread`.
 *
 *   legacy_server PORT       listen on 127.0.0.1:PORT (0: any free port)
 *
 * Prints "listening on PORT" once ready.  Each connection gets a thread that receives with
 * a blocking recv and replies with the same bytes upper-cased; each message is printed as
 * the tutorial's server does ("received N bytes").  With LD_PRELOAD=libgreen.so the
 * threads are green threads on one OS thread.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int verbose = 1;

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    char buf[1024];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        if (verbose)
            printf("received %zd bytes\n", n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0)
                goto done;
            off += w;
        }
    }
done:
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    pthread_attr_t attr;
    int one = 1, lfd;

    if (argc < 2) {
        fprintf(stderr, "usage: legacy_server PORT [quiet]\n");
        return 2;
    }
    verbose = argc < 3;
    setvbuf(stdout, NULL, _IOLBF, 0);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) {
        perror("legacy_server");
        return 1;
    }
    getsockname(lfd, (struct sockaddr *)&a, &len);
    printf("listening on %d\n", ntohs(a.sin_port));
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        pthread_t t;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            perror("accept");
            continue;
        }
        if (pthread_create(&t, &attr, serve, (void *)(long)fd) != 0) {
            fprintf(stderr, "legacy_server: pthread_create failed\n");
            close(fd);
        }
    }
}
