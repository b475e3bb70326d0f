/*
 * common.h — helpers shared by the preload shim's Criterion tests: run a tests/legacy
 * program as a child process, patched or not, and talk to it as its clients would.
 *
 * The programs live in $GREEN_LEGACY_DIR and the library is $GREEN_LIB (mk/preload.mk sets
 * both).  LD_PRELOAD is only ever set in the child's environment, between fork and exec:
 * the test process itself is never patched.  $GREEN_PRELOAD_FIRST, if set, goes before the
 * library in a patched child's LD_PRELOAD: `make test-asan-preload` puts libasan there,
 * which must be the first library loaded.
 *
 * A child's stdout and stderr go to unlinked temporary files, not pipes, so a chatty
 * program never blocks on a full pipe that nobody drains; the test reads them with pread
 * whenever it likes (legacy_out, legacy_wait_for).  The child gets PR_SET_PDEATHSIG, so a
 * test killed by its suite's timeout takes its children with it.  Every wait is bounded:
 * deadlines are in seconds from now, and a helper that runs out of time says so instead of
 * hanging.
 *
 * Client side: clients_open connects N sockets to 127.0.0.1:port at once (non-blocking
 * connects, one poll loop), clients_echo runs rounds of distinct line payloads over all of
 * them concurrently and checks every reply byte for byte (the legacy servers answer with
 * the bytes upper-cased).  Only loopback is used.
 */
#ifndef TESTS_PRELOAD_COMMON_H
#define TESTS_PRELOAD_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------ time */

static inline double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------- legacy programs */

/* One legacy program running as a child of the test. */
struct legacy {
    char name[64];
    pid_t pid;     /* 0 once reaped */
    int out, err;  /* the child's stdout and stderr: unlinked files, read with pread */
    int status;    /* wait status once reaped */
    double start;  /* now_s() at spawn */
};

/* Options for legacy_startv.  input: bytes for the child's stdin (NULL: /dev/null);
 * env: extra "NAME=value" entries, NULL-terminated (NULL: none). */
struct legacy_opts {
    int patched;
    const char *input;
    const char *const *env;
};

static inline const char *legacy_dir(void)
{
    const char *d = getenv("GREEN_LEGACY_DIR");

    cr_assert(d && *d, "GREEN_LEGACY_DIR is not set (run through `make test-preload`)");
    return d;
}

static inline const char *legacy_lib(void)
{
    const char *l = getenv("GREEN_LIB");

    cr_assert(l && *l, "GREEN_LIB is not set (run through `make test-preload`)");
    cr_assert(access(l, R_OK) == 0, "GREEN_LIB=%s is not readable", l);
    return l;
}

/* An unlinked temporary file, open for reading and writing. */
static inline int legacy_tmpfile(void)
{
    char path[] = "/tmp/green-legacy-XXXXXX";
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    return fd;
}

/* Raise this process's RLIMIT_NOFILE soft limit to the hard limit (children inherit it). */
static inline void raise_nofile(void)
{
    struct rlimit r;

    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
    r.rlim_cur = r.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
}

/* Start the executable at path with argv (argv[0] included, NULL-terminated), with
 * LD_PRELOAD=$GREEN_LIB in its environment if o->patched and without any LD_PRELOAD
 * otherwise; p->name is label, marked "(patched)" when it is.  Any program: a legacy one
 * (legacy_startv) or one installed from Debian (tests/preload/test_real.c). */
static inline void child_startv(struct legacy *p, const struct legacy_opts *o,
                                const char *label, const char *path, char *const argv[])
{
    char preload[4096];
    const char *lib = o->patched ? legacy_lib() : NULL;
    size_t n = 0, extra = 0;
    char **envp;
    int in;

    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s%s", label, o->patched ? " (patched)" : "");
    cr_assert(access(path, X_OK) == 0, "%s is not an executable", path);
    while (environ[n])
        n++;
    while (o->env && o->env[extra])
        extra++;
    envp = calloc(n + extra + 2, sizeof *envp);
    cr_assert_not_null(envp);
    n = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11))
            envp[n++] = *e;
    for (size_t i = 0; i < extra; i++)
        envp[n++] = (char *)o->env[i];
    if (lib) {
        const char *first = getenv("GREEN_PRELOAD_FIRST");
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s%s%s", first ? first : "",
                 first ? " " : "", lib);
        envp[n++] = preload;
    }
    if (o->input) {
        size_t len = strlen(o->input);
        in = legacy_tmpfile();
        cr_assert_eq(write(in, o->input, len), (ssize_t)len);
        cr_assert_eq(lseek(in, 0, SEEK_SET), 0);
    } else {
        in = open("/dev/null", O_RDONLY);
        cr_assert_geq(in, 0);
    }
    p->out = legacy_tmpfile();
    p->err = legacy_tmpfile();
    fflush(NULL);
    p->start = now_s();
    p->pid = fork();
    cr_assert_geq(p->pid, 0, "fork: %s", strerror(errno));
    if (p->pid == 0) {
        struct rlimit no_core = {0, 0};
        sigset_t none;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setrlimit(RLIMIT_CORE, &no_core);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(in, 0);
        dup2(p->out, 1);
        dup2(p->err, 2);
        execve(path, argv, envp);
        dprintf(2, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(in);
    free(envp);
}

/* Start $GREEN_LEGACY_DIR/prog with argv (argv[0] included, NULL-terminated), patched or
 * not as o says (child_startv). */
static inline void legacy_startv(struct legacy *p, const struct legacy_opts *o,
                                 const char *prog, char *const argv[])
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", legacy_dir(), prog);
    child_startv(p, o, prog, path, argv);
}

/* legacy_startv with the arguments as a NULL-terminated list after prog. */
static inline __attribute__((sentinel)) void legacy_start(struct legacy *p,
                                                          const struct legacy_opts *o,
                                                          const char *prog, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;

    argv[argc++] = (char *)prog;
    va_start(ap, prog);
    while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
        argc++;
    va_end(ap);
    argv[argc] = NULL;
    legacy_startv(p, o, prog, argv);
}

/* What the child wrote so far to fd (p->out or p->err), NUL-terminated in buf (truncated
 * to len - 1).  Returns the length. */
static inline size_t legacy_read(int fd, char *buf, size_t len)
{
    ssize_t n = pread(fd, buf, len - 1, 0);

    n = n < 0 ? 0 : n;
    buf[n] = 0;
    return (size_t)n;
}

/* The child's stdout and stderr so far, as one malloc'd string (for failure messages and
 * comparisons; the caller frees it).  Stderr, when there is any, follows a marker line. */
static inline char *legacy_out(struct legacy *p)
{
    struct stat so, se;
    char *s;
    size_t n;

    fstat(p->out, &so);
    fstat(p->err, &se);
    s = malloc((size_t)so.st_size + (size_t)se.st_size + 32);
    cr_assert_not_null(s);
    n = legacy_read(p->out, s, (size_t)so.st_size + 1);
    if (se.st_size > 0) {
        n += (size_t)sprintf(s + n, "--- stderr ---\n");
        legacy_read(p->err, s + n, (size_t)se.st_size + 1);
    }
    return s;
}

/* The child's stdout alone so far, malloc'd. */
static inline char *legacy_stdout(struct legacy *p)
{
    struct stat st;
    char *s;

    fstat(p->out, &st);
    s = malloc((size_t)st.st_size + 1);
    cr_assert_not_null(s);
    legacy_read(p->out, s, (size_t)st.st_size + 1);
    return s;
}

/* Reap the child if it has exited; 1 if it is gone (p->status holds its wait status). */
static inline int legacy_reap(struct legacy *p)
{
    int status;
    pid_t r;

    if (!p->pid)
        return 1;
    r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid) {
        p->status = status;
        p->pid = 0;
        return 1;
    }
    return 0;
}

/* Wait up to timeout_s for the child to exit.  Returns 1 if it did (p->status set), 0 if
 * it is still running. */
static inline int legacy_wait(struct legacy *p, double timeout_s)
{
    double end = now_s() + timeout_s;

    while (!legacy_reap(p)) {
        if (now_s() >= end)
            return 0;
        sleep_s(0.005);
    }
    return 1;
}

/* Let the child run to its end, for at most timeout_s: returns 1 if it exited by itself
 * (p->status set), 0 if it had to be killed (SIGKILL) at the deadline. */
static inline int legacy_finish(struct legacy *p, double timeout_s)
{
    if (legacy_wait(p, timeout_s))
        return 1;
    kill(p->pid, SIGKILL);
    legacy_wait(p, 5.0);
    return 0;
}

/* Wait up to timeout_s for text to appear in the child's stdout.  Returns 1 if it did, 0
 * on timeout or if the child exited without printing it. */
static inline int legacy_wait_for(struct legacy *p, const char *text, double timeout_s)
{
    double end = now_s() + timeout_s;

    for (;;) {
        char *s = legacy_stdout(p);
        int found = strstr(s, text) != NULL;
        free(s);
        if (found)
            return 1;
        if (legacy_reap(p)) {
            s = legacy_stdout(p);
            found = strstr(s, text) != NULL;
            free(s);
            return found;
        }
        if (now_s() >= end)
            return 0;
        sleep_s(0.005);
    }
}

/* Kill the child (signal sig, then SIGKILL if it is still there after 2 s) and reap it.
 * Only ever the PID this test started. */
static inline void legacy_kill(struct legacy *p, int sig)
{
    if (!p->pid || legacy_reap(p))
        return;
    kill(p->pid, sig);
    if (!legacy_wait(p, 2.0)) {
        kill(p->pid, SIGKILL);
        legacy_wait(p, 5.0);
    }
}

/* Stop the child if it still runs and release its files. */
static inline void legacy_done(struct legacy *p)
{
    legacy_kill(p, SIGKILL);
    if (p->out > 0)
        close(p->out);
    if (p->err > 0)
        close(p->err);
    p->out = p->err = -1;
}

/* Wait up to timeout_s for a server's "listening on PORT" line; returns the port, or fails
 * the test with the child's output. */
static inline int legacy_port(struct legacy *p, double timeout_s)
{
    double end = now_s() + timeout_s;

    for (;;) {
        char *s = legacy_stdout(p), *l = strstr(s, "listening on ");
        int port = l ? atoi(l + 13) : 0;
        free(s);
        if (port > 0)
            return port;
        if (legacy_reap(p) || now_s() >= end) {
            char *all = legacy_out(p);
            cr_assert_fail("%s: no \"listening on PORT\" line within %.1f s (%s); output:\n%s",
                    p->name, timeout_s, p->pid ? "still running" : "exited", all);
            free(all);
            return 0;
        }
        sleep_s(0.005);
    }
}

/* Number of OS threads of process pid (entries of /proc/PID/task); -1 if it is gone. */
static inline int os_threads(pid_t pid)
{
    char path[64];
    struct dirent *d;
    DIR *dir;
    int n = 0;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    if (!(dir = opendir(path)))
        return -1;
    while ((d = readdir(dir)))
        n += d->d_name[0] != '.';
    closedir(dir);
    return n;
}

/* Number of processes whose parent is pid (zombies included; *zombies gets how many of
 * them are zombies, if not NULL). */
static inline int child_processes(pid_t pid, int *zombies)
{
    DIR *dir = opendir("/proc");
    struct dirent *d;
    int n = 0, z = 0;

    cr_assert_not_null(dir);
    while ((d = readdir(dir))) {
        char path[300], buf[512], *rp, state;
        int ppid;
        FILE *f;

        if (!isdigit((unsigned char)d->d_name[0]))
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", d->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        if (fgets(buf, sizeof buf, f) && (rp = strrchr(buf, ')')) &&
            sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == pid) {
            n++;
            z += state == 'Z';
        }
        fclose(f);
    }
    closedir(dir);
    if (zombies)
        *zombies = z;
    return n;
}

/* Assert (expect) a wait status: exited with code; out is the child's output. */
#define cr_assert_exited(status, code, out)                                                 \
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == (code),                           \
              "expected exit status %d, got wait status %#x; output:\n%s", (code), (status), \
              (out))

#define cr_expect_exited(status, code, out)                                                 \
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == (code),                           \
              "expected exit status %d, got wait status %#x; output:\n%s", (code), (status), \
              (out))

/* Count the lines of s equal to line. */
static inline int count_lines(const char *s, const char *line)
{
    size_t len = strlen(line);
    int n = 0;

    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += !strncmp(p, line, len) && (p[len] == '\n' || p[len] == 0);
    return n;
}

/* ---------------------------------------------------------------- clients */

/* Connect one blocking TCP socket to 127.0.0.1:port; -1 with errno on failure. */
static inline int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Client i's payload for round r: one line of lower-case text of a length that varies
 * from client to client (10 .. ~2,000 bytes, so some replies come in several pieces),
 * unique to (i, r).  Writes at most len bytes (len >= 64) and returns the length. */
static inline size_t client_payload(int i, int r, char *buf, size_t len)
{
    size_t want = 10 + (size_t)((i * 7919 + r * 104729) % 2000);
    size_t n = (size_t)snprintf(buf, len, "client %d round %d:", i, r);
    unsigned x = (unsigned)(i * 2654435761u) ^ (unsigned)(r * 40503u + 1);

    if (want > len - 1)
        want = len - 1;
    while (n < want - 1) {
        x = x * 1103515245u + 12345u;
        buf[n++] = "abcdefghijklmnopqrstuvwxyz0123456789 ,.-"[(x >> 16) % 40];
    }
    buf[n++] = '\n';
    return n;
}

/* What the legacy servers answer: the same bytes, upper-cased. */
static inline void upper(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
}

#define CLIENT_MSG_MAX 4096

struct client {
    int fd;
    int round;                  /* rounds completed */
    size_t len, sent, got;      /* this round's payload length, bytes sent, bytes back */
    char out[CLIENT_MSG_MAX];   /* this round's payload */
    char in[CLIENT_MSG_MAX];    /* the reply so far */
};

struct clients {
    int n;
    int port;
    struct client *c;
    char error[512];            /* the first failure, for the assertion message */
};

/* Open n connections to 127.0.0.1:port at once: every connect is started non-blocking,
 * then one poll loop waits for all of them, until timeout_s.  Returns how many connected
 * (all n, or the first failure is in c->error).  The sockets stay non-blocking. */
static inline int clients_open(struct clients *cs, int port, int n, double timeout_s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    double end = now_s() + timeout_s;
    int pending = 0, ok = 0;

    memset(cs, 0, sizeof *cs);
    cs->n = n;
    cs->port = port;
    cs->c = calloc((size_t)n, sizeof *cs->c);
    cr_assert(pf && cs->c);
    for (int i = 0; i < n; i++)
        cs->c[i].fd = -1;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        cs->c[i].fd = fd;
        if (fd < 0) {
            snprintf(cs->error, sizeof cs->error, "socket %d: %s", i, strerror(errno));
            break;
        }
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            ok++;
        } else if (errno == EINPROGRESS) {
            pf[i] = (struct pollfd){.fd = fd, .events = POLLOUT};
            pending++;
        } else {
            snprintf(cs->error, sizeof cs->error, "connect %d: %s", i, strerror(errno));
            break;
        }
    }
    for (int i = 0; i < n; i++)
        if (pf[i].events == 0)
            pf[i].fd = -1;
    while (pending > 0 && !cs->error[0]) {
        int left_ms = (int)((end - now_s()) * 1000);
        if (left_ms <= 0) {
            snprintf(cs->error, sizeof cs->error,
                     "%d of %d connections still pending after %.1f s", pending, n, timeout_s);
            break;
        }
        if (poll(pf, (nfds_t)n, left_ms) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            int err = 0;
            socklen_t len = sizeof err;
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err && !cs->error[0])
                snprintf(cs->error, sizeof cs->error, "connect %d: %s", i, strerror(err));
            ok += !err;
            pending--;
            pf[i].fd = -1;
        }
    }
    free(pf);
    return ok;
}

/* Run rounds of echo over every connection at once: each client sends its payload for the
 * round (client_payload), reads until as many bytes came back, checks they are the payload
 * upper-cased, and goes on to the next round.  Returns how many clients completed every
 * round correctly before timeout_s; the first failure is described in cs->error. */
static inline int clients_echo(struct clients *cs, int rounds, double timeout_s)
{
    struct pollfd *pf = calloc((size_t)cs->n, sizeof *pf);
    double end = now_s() + timeout_s;
    int active = 0, done = 0;

    cr_assert_not_null(pf);
    for (int i = 0; i < cs->n; i++) {
        struct client *c = &cs->c[i];
        c->round = 0;
        c->sent = c->got = 0;
        if (c->fd < 0) {
            pf[i].fd = -1;
            continue;
        }
        c->len = client_payload(i, 0, c->out, sizeof c->out);
        pf[i] = (struct pollfd){.fd = c->fd, .events = POLLOUT};
        active++;
    }
    while (active > 0) {
        int left_ms = (int)((end - now_s()) * 1000);
        if (left_ms <= 0) {
            if (!cs->error[0])
                snprintf(cs->error, sizeof cs->error,
                         "%d of %d clients not answered after %.1f s (%d completed)", active,
                         cs->n, timeout_s, done);
            break;
        }
        if (poll(pf, (nfds_t)cs->n, left_ms < 1000 ? left_ms : 1000) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < cs->n; i++) {
            struct client *c = &cs->c[i];
            ssize_t k;

            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            if (c->sent < c->len) {
                k = send(c->fd, c->out + c->sent, c->len - c->sent, MSG_NOSIGNAL);
                if (k > 0)
                    c->sent += (size_t)k;
                else if (k < 0 && errno == EAGAIN)
                    continue;
                else
                    goto failed;
                if (c->sent == c->len)
                    pf[i].events = POLLIN;
                continue;
            }
            k = recv(c->fd, c->in + c->got, c->len - c->got, 0);
            if (k < 0 && errno == EAGAIN)
                continue;
            if (k <= 0)
                goto failed;
            c->got += (size_t)k;
            if (c->got < c->len)
                continue;
            {
                char want[CLIENT_MSG_MAX];
                upper(want, c->out, c->len);
                if (memcmp(want, c->in, c->len)) {
                    if (!cs->error[0])
                        snprintf(cs->error, sizeof cs->error,
                                 "client %d round %d: wrong reply\n  sent %.*s  got  %.*s", i,
                                 c->round, (int)(c->len > 200 ? 200 : c->len), c->out,
                                 (int)(c->len > 200 ? 200 : c->len), c->in);
                    pf[i].fd = -1;
                    active--;
                    continue;
                }
            }
            if (++c->round == rounds) {
                pf[i].fd = -1;
                active--;
                done++;
                continue;
            }
            c->len = client_payload(i, c->round, c->out, sizeof c->out);
            c->sent = c->got = 0;
            pf[i].events = POLLOUT;
            continue;
        failed:
            if (!cs->error[0])
                snprintf(cs->error, sizeof cs->error,
                         "client %d round %d: %s after %zu of %zu bytes sent, %zu back", i,
                         c->round, k == 0 ? "connection closed" : strerror(errno), c->sent,
                         c->len, c->got);
            pf[i].fd = -1;
            active--;
        }
    }
    free(pf);
    return done;
}

/* Close every connection. */
static inline void clients_close(struct clients *cs)
{
    for (int i = 0; i < cs->n; i++)
        if (cs->c[i].fd >= 0)
            close(cs->c[i].fd);
    free(cs->c);
    cs->c = NULL;
    cs->n = 0;
}

/* ------------------------------------------------- ports, directories, files */

/* A TCP port on 127.0.0.1 that nobody listens on right now: bind port 0, read the port the
 * kernel chose, close.  For programs that cannot report the port they bound themselves;
 * another process could take it in between, which the kernel's choice makes unlikely. */
static inline int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A wait status in words ("exit 1", "killed by signal 11 (Segmentation fault)"), in buf. */
static inline const char *status_text(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "wait status %#x", status);
    return buf;
}

/* Wait up to timeout_s until 127.0.0.1:port accepts a connection (which is closed at
 * once); fails the test with the child's output if p exits or time runs out first. */
static inline void port_wait(struct legacy *p, int port, double timeout_s)
{
    double end = now_s() + timeout_s;

    for (;;) {
        int fd = tcp_connect(port);
        if (fd >= 0) {
            close(fd);
            return;
        }
        if (legacy_reap(p) || now_s() >= end) {
            char *all = legacy_out(p), st[96];
            cr_assert_fail("%s: port %d not accepting within %.1f s (%s); output:\n%s", p->name,
                           port, timeout_s,
                           p->pid ? "still running" : status_text(p->status, st, sizeof st), all);
            free(all);
        }
        sleep_s(0.01);
    }
}

/* A fresh directory /tmp/green-<tag>-XXXXXX in dir (at least 64 bytes), mode 0755 so that a
 * server which drops privileges (nginx's workers as root) can still read it. */
static inline void tmpdir_make(char *dir, size_t len, const char *tag)
{
    snprintf(dir, len, "/tmp/green-%s-XXXXXX", tag);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
    cr_assert_eq(chmod(dir, 0755), 0);
}

/* Remove dir and everything below it (only what a test made itself). */
static inline void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[4096];
        struct stat st;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            tmpdir_remove(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Write len bytes to path (created or truncated, mode 0644). */
static inline void file_put(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t done = 0;

    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    while (done < len) {
        ssize_t k = write(fd, (const char *)data + done, len - done);
        cr_assert_gt(k, 0, "write %s: %s", path, strerror(errno));
        done += (size_t)k;
    }
    close(fd);
    cr_assert_eq(chmod(path, 0644), 0);
}

/* The whole file at path, malloc'd and NUL-terminated (*len gets its length when len is
 * not NULL); NULL if it cannot be read. */
static inline char *file_get(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    size_t n = 0;
    char *s;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !(s = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return NULL;
    }
    while (n < (size_t)st.st_size) {
        ssize_t k = read(fd, s + n, (size_t)st.st_size - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    s[n] = 0;
    if (len)
        *len = n;
    return s;
}

#endif
