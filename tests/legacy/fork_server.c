/*
 * fork_server — the classic fork-per-connection echo server (Stevens' TCP echo server).
 * It knows nothing of libgreen: build it with `cc -pthread`.
 *
 *   fork_server PORT         listen on 127.0.0.1:PORT (0: any free port)
 *
 * Prints "listening on PORT" once ready.  The parent accepts; each connection is served
 * by a child process (blocking recv, the bytes back upper-cased, exit at end of file).
 * Children are reaped by a SIGCHLD handler calling waitpid(-1, WNOHANG) until none is
 * left; the handler is installed without SA_RESTART, so accept fails with EINTR when it
 * runs and the loop goes round again.  SIGTERM (also without SA_RESTART) stops the loop:
 * the parent reaps whatever has exited, prints "accepted N, reaped M" and exits 0.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t reaped, stop;

static void on_sigchld(int sig)
{
    int saved = errno;

    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        reaped++;
    errno = saved;
}

static void on_sigterm(int sig)
{
    (void)sig;
    stop = 1;
}

static void serve(int fd)
{
    char buf[2048];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0)
                return;
            off += w;
        }
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sigaction sa;
    socklen_t len = sizeof a;
    int one = 1, lfd;
    long accepted = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: fork_server PORT\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigchld;
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
        perror("fork_server");
        return 1;
    }
    printf("listening on %d\n", ntohs(a.sin_port));
    while (!stop) {
        int fd = accept(lfd, NULL, NULL);
        pid_t pid;

        if (fd < 0) {
            if (errno != EINTR)
                perror("fork_server: accept");
            continue;
        }
        accepted++;
        pid = fork();
        if (pid == 0) {
            close(lfd);
            serve(fd);
            close(fd);
            _exit(0);
        }
        if (pid < 0)
            perror("fork_server: fork");
        close(fd);
    }
    on_sigchld(SIGCHLD);
    printf("accepted %ld, reaped %ld\n", accepted, (long)reaped);
    return 0;
}
