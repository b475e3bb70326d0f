/*
 * legacy_client — the gevent tutorial's echo client, written as classic blocking C.  It
 * knows nothing of libgreen: build it with `cc -pthread`.
 *
 *   legacy_client PORT       connect to 127.0.0.1:PORT
 *
 * Reads lines from stdin (fgets), sends each one with a blocking send, then receives
 * until as many bytes have come back as were sent and prints the reply as it came
 * (legacy_server replies upper-cased, so "hello\n" prints "HELLO\n").  Exits 0 at the end
 * of stdin, 1 if the server goes away first.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char line[4096], reply[4096];
    int fd;

    if (argc < 2) {
        fprintf(stderr, "usage: legacy_client PORT\n");
        return 2;
    }
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("legacy_client: connect");
        return 1;
    }
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line), got = 0;

        for (size_t off = 0; off < len;) {
            ssize_t w = send(fd, line + off, len - off, MSG_NOSIGNAL);
            if (w <= 0) {
                perror("legacy_client: send");
                return 1;
            }
            off += (size_t)w;
        }
        while (got < len) {
            ssize_t n = recv(fd, reply + got, len - got, 0);
            if (n <= 0) {
                fprintf(stderr, "legacy_client: the server closed the connection\n");
                return 1;
            }
            got += (size_t)n;
        }
        fwrite(reply, 1, got, stdout);
        fflush(stdout);
    }
    close(fd);
    return 0;
}
