/*
 * fault_server — a thread-per-connection line echo server written the way production C
 * servers are, for the reliability suite (tests/preload/test_faults.c): it sets receive
 * timeouts, retries on EINTR, backs off on EMFILE, forks, and lets one thread close or shut
 * down another thread's connection.  It knows nothing of libgreen: build it with
 * `cc -pthread`.
 *
 *   fault_server PORT [rcvtimeo=MS] [poll=MS] [nofile=N]
 *
 *   rcvtimeo=MS  SO_RCVTIMEO on every connection: a recv that times out ends it ("timeout")
 *   poll=MS      poll(POLLIN, MS) before every recv: a poll that times out ends it
 *                ("polltimeout")
 *   nofile=N     lower RLIMIT_NOFILE to N first, so that a connect storm meets EMFILE soon
 *
 * Prints "listening on PORT" once ready, then one line per event: "end HOW" when a
 * connection ends (HOW: eof, timeout, polltimeout, an errno name such as ECONNRESET, or
 * "after-close RESULT" for a connection another thread closed while this one waited in
 * recv: RESULT is what that recv returned), "accept ENAME" when accept fails (EMFILE: it
 * sleeps 20 ms, as servers back off, and tries again).
 *
 * Each line a client sends is answered; a line that is not a command comes back
 * upper-cased, like tests/legacy/legacy_server.  Commands:
 *   whoami    "fd N": the descriptor this connection has in the server
 *   stats     "signals=S eintr=E": SIGUSR1s handled, calls that gave EINTR and were retried
 *   fork      fork(): the child writes "child" to the connection and _exits; the parent
 *             reaps it ("reaped exit N")
 *   close N   close descriptor N, another connection's, while its thread waits ("closed N")
 *   shut N    shutdown(N, SHUT_RDWR) of another connection ("shut N"); its thread sees EOF
 * SIGUSR1 has a handler installed without SA_RESTART, so blocked calls return EINTR.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 65536
#define LINE_MAX_LEN 8192

/* One connection.  The table maps a descriptor to its connection, so that "close N" can
 * find it; mu orders a closer against the owner thread's use of the descriptor, so the
 * owner never touches a number that was closed under it (and perhaps reused). */
struct conn {
    int fd;
    int closed_by_other;
    pthread_mutex_t mu;
};

static struct conn *table[MAX_FD];
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static int rcvtimeo_ms, poll_ms;
static atomic_int signals, eintrs;

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&signals, 1);
}

static const char *err_name(int e)
{
    switch (e) {
    case ECONNRESET: return "ECONNRESET";
    case EBADF: return "EBADF";
    case EPIPE: return "EPIPE";
    case ENOTSOCK: return "ENOTSOCK";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return strerrorname_np(e) ? strerrorname_np(e) : "E?";
    }
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            atomic_fetch_add(&eintrs, 1);
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reply(int fd, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return send_all(fd, buf, (size_t)n);
}

static int do_fork(int fd)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return reply(fd, "fork %s\n", err_name(errno));
    if (pid == 0) {
        static const char msg[] = "child\n";
        _exit(send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL) == sizeof msg - 1 ? 0 : 1);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno == EINTR)
            atomic_fetch_add(&eintrs, 1);
        else
            return reply(fd, "waitpid %s\n", err_name(errno));
    return reply(fd, "reaped exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* "close N" and "shut N": act on another connection's descriptor. */
static int do_other(int fd, int close_it, int n)
{
    struct conn *o = NULL;

    pthread_mutex_lock(&table_mu);
    if (n >= 0 && n < MAX_FD && n != fd)
        o = table[n];
    if (o) {
        pthread_mutex_lock(&o->mu);
        if (close_it) {
            o->closed_by_other = 1;
            table[n] = NULL;
            close(n);
        } else {
            shutdown(n, SHUT_RDWR);
        }
        pthread_mutex_unlock(&o->mu);
    }
    pthread_mutex_unlock(&table_mu);
    if (!o)
        return reply(fd, "no %d\n", n);
    return reply(fd, "%s %d\n", close_it ? "closed" : "shut", n);
}

/* Answer one line (without its '\n'); -1 when the connection broke. */
static int line(struct conn *c, char *s, size_t n)
{
    int fd = c->fd, arg;

    s[n] = 0;
    if (!strcmp(s, "whoami"))
        return reply(fd, "fd %d\n", fd);
    if (!strcmp(s, "stats"))
        return reply(fd, "signals=%d eintr=%d\n", atomic_load(&signals), atomic_load(&eintrs));
    if (!strcmp(s, "fork"))
        return do_fork(fd);
    if (sscanf(s, "close %d", &arg) == 1)
        return do_other(fd, 1, arg);
    if (sscanf(s, "shut %d", &arg) == 1)
        return do_other(fd, 0, arg);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)toupper((unsigned char)s[i]);
    s[n] = '\n';
    return send_all(fd, s, n + 1);
}

static void *serve(void *arg)
{
    struct conn *c = arg;
    char buf[LINE_MAX_LEN + 1], how[64] = "eof";
    size_t len = 0;
    int broken = 0;

    if (rcvtimeo_ms) {
        struct timeval tv = {rcvtimeo_ms / 1000, (rcvtimeo_ms % 1000) * 1000};
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    for (;;) {
        ssize_t n;
        int e;

        if (poll_ms) {
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            int r = poll(&p, 1, poll_ms);
            if (r < 0 && errno == EINTR) {
                atomic_fetch_add(&eintrs, 1);
                continue;
            }
            if (r == 0) {
                strcpy(how, "polltimeout");
                break;
            }
        }
        n = recv(c->fd, buf + len, LINE_MAX_LEN - len, 0);
        e = errno;
        pthread_mutex_lock(&c->mu);
        if (c->closed_by_other) {
            pthread_mutex_unlock(&c->mu);
            printf("end after-close %s\n", n > 0 ? "data" : n == 0 ? "eof" : err_name(e));
            pthread_mutex_destroy(&c->mu);
            free(c);
            return NULL;
        }
        if (n < 0 && e == EINTR) {
            pthread_mutex_unlock(&c->mu);
            atomic_fetch_add(&eintrs, 1);
            continue;
        }
        if (n <= 0) {
            pthread_mutex_unlock(&c->mu);
            if (n < 0)
                snprintf(how, sizeof how, "%s", e == EAGAIN ? "timeout" : err_name(e));
            break;
        }
        len += (size_t)n;
        for (char *nl; (nl = memchr(buf, '\n', len));) {
            size_t k = (size_t)(nl - buf);
            if ((broken = line(c, buf, k) < 0))
                break;
            len -= k + 1;
            memmove(buf, nl + 1, len);
        }
        if (!broken && len == LINE_MAX_LEN && !(broken = line(c, buf, len) < 0))
            len = 0;
        pthread_mutex_unlock(&c->mu);
        if (broken) {
            strcpy(how, "send-failed");
            break;
        }
    }
    printf("end %s\n", how);
    pthread_mutex_lock(&table_mu);
    if (table[c->fd] == c)
        table[c->fd] = NULL;
    close(c->fd);
    pthread_mutex_unlock(&table_mu);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
}

static const char *opt(const char *arg, const char *name)
{
    size_t n = strlen(name);

    return !strncmp(arg, name, n) && arg[n] == '=' ? arg + n + 1 : NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sigaction sa = {.sa_handler = on_usr1};
    socklen_t alen = sizeof a;
    pthread_attr_t attr;
    int one = 1, lfd;

    if (argc < 2) {
        fprintf(stderr, "usage: fault_server PORT [rcvtimeo=MS] [poll=MS] [nofile=N]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *v;
        if ((v = opt(argv[i], "rcvtimeo")))
            rcvtimeo_ms = atoi(v);
        else if ((v = opt(argv[i], "poll")))
            poll_ms = atoi(v);
        else if ((v = opt(argv[i], "nofile"))) {
            struct rlimit r;
            getrlimit(RLIMIT_NOFILE, &r);
            r.rlim_cur = (rlim_t)atoi(v);
            if (setrlimit(RLIMIT_NOFILE, &r) < 0) {
                perror("fault_server: setrlimit");
                return 1;
            }
        } else {
            fprintf(stderr, "fault_server: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) {
        perror("fault_server");
        return 1;
    }
    getsockname(lfd, (struct sockaddr *)&a, &alen);
    printf("listening on %d\n", ntohs(a.sin_port));
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    for (;;) {
        struct timespec backoff = {0, 20 * 1000 * 1000};
        struct conn *c;
        pthread_t t;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0 && errno == EINTR) {
            atomic_fetch_add(&eintrs, 1);
            continue;
        }
        if (fd < 0) {
            printf("accept %s\n", err_name(errno));
            nanosleep(&backoff, NULL);
            continue;
        }
        if (fd >= MAX_FD || !(c = calloc(1, sizeof *c))) {
            close(fd);
            continue;
        }
        c->fd = fd;
        pthread_mutex_init(&c->mu, NULL);
        pthread_mutex_lock(&table_mu);
        table[fd] = c;
        pthread_mutex_unlock(&table_mu);
        if (pthread_create(&t, &attr, serve, c) != 0) {
            printf("pthread_create failed\n");
            pthread_mutex_lock(&table_mu);
            table[fd] = NULL;
            close(fd);
            pthread_mutex_unlock(&table_mu);
            free(c);
        }
    }
}
