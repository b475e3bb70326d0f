/*
 * stdio_server — an echo server that talks to each client through stdio, one thread per
 * connection.  It knows nothing of libgreen: build it with `cc -pthread`.
 *
 *   stdio_server PORT        listen on 127.0.0.1:PORT (0: any free port)
 *
 * Prints "listening on PORT" once ready.  Each connection gets a thread that wraps the
 * socket in two FILEs (fdopen(fd, "r") and fdopen(dup(fd), "w"): one stream cannot both
 * read and write a socket, as it cannot seek), reads lines with fgets and answers each
 * with the line upper-cased through fputs + fflush, until the client closes.  glibc's
 * stdio reads and writes through its own internal calls, not the read/write symbols, so
 * this is the program that shows whether stdio on sockets is cooperative.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    int fd = (int)(long)arg, wfd = dup(fd);
    FILE *in = fdopen(fd, "r"), *out = wfd >= 0 ? fdopen(wfd, "w") : NULL;
    char line[4096];

    if (!in || !out) {
        perror("stdio_server: fdopen");
        if (in)
            fclose(in);
        else
            close(fd);
        if (out)
            fclose(out);
        else if (wfd >= 0)
            close(wfd);
        return NULL;
    }
    while (fgets(line, sizeof line, in)) {
        for (char *p = line; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (fputs(line, out) == EOF || fflush(out) == EOF)
            break;
    }
    fclose(out);
    fclose(in);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    pthread_attr_t attr;
    int one = 1, lfd;

    if (argc < 2) {
        fprintf(stderr, "usage: stdio_server PORT\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
        perror("stdio_server");
        return 1;
    }
    printf("listening on %d\n", ntohs(a.sin_port));
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        pthread_t t;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0) {
            perror("stdio_server: accept");
            continue;
        }
        if (pthread_create(&t, &attr, serve, (void *)(long)fd) != 0) {
            fprintf(stderr, "stdio_server: pthread_create failed\n");
            close(fd);
        }
    }
}
