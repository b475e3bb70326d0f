/*
 * common.h — helpers shared by the runtime's Criterion tests.
 *
 * Tests check behaviour by ordering (a log green threads append to) or by generous time
 * bounds (secs_since), never by exact timings.  Behaviour that ends a process (a stack
 * overflow, main's green_exit, a bad GREEN_* setting) runs in a forked child whose stdout
 * and stderr are captured (run_child); such a child must fork before the test process
 * touches libgreen, so it starts with no hub of its own to share.  Output that the runtime
 * writes to fd 2 inside the test process (the deadlock report) is captured with
 * capture_stderr_begin/end.
 */
#ifndef TESTS_RUNTIME_COMMON_H
#define TESTS_RUNTIME_COMMON_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "green.h"
#include "internal.h"

/* Seconds since t0 (a green_now() value). */
static inline double secs_since(int64_t t0)
{
    return (double)(green_now() - t0) / 1e9;
}

/* A text log that green threads append to; tests compare it whole to check order. */
struct tlog {
    char buf[8192];
    size_t len;
};

static inline __attribute__((format(printf, 2, 3))) void tlog_add(struct tlog *l,
                                                                   const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len = l->len + (size_t)n < sizeof l->buf ? l->len + (size_t)n : sizeof l->buf - 1;
}

/* A green thread that counts 10 ms ticks in *ticks until it is killed: proof that green
 * threads keep running while another one waits. */
static inline void *ticker_body(void *arg)
{
    for (;;) {
        ++*(int *)arg;
        green_sleep(0.01);
    }
    return NULL;
}

static inline green_t ticker_start(int *ticks)
{
    green_t t = green_spawn(ticker_body, ticks);

    cr_assert_neq(t, GREEN_NONE);
    return t;
}

static inline void ticker_stop(green_t t)
{
    void *v = NULL;

    cr_assert_eq(green_kill(t), 0);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(v, GREEN_KILLED);
}

/* Assert a child's wait status: exited with code, or killed by signal; out is its output. */
#define cr_assert_exited(status, code, out)                                                 \
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == (code),                           \
              "expected exit status %d, got wait status %#x; output:\n%s", (code), (status), \
              (out))
#define cr_assert_signalled(status, sig, out)                                               \
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == (sig),                             \
              "expected death by signal %d, got wait status %#x; output:\n%s", (sig),       \
              (status), (out))

/* Resident set size of this process, in bytes, from /proc/self/statm. */
static inline long rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/* Read fd to end of file into buf (NUL-terminated, truncated to len - 1). */
static inline size_t read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;

    for (;;) {
        char sink[4096];
        int full = got + 1 >= len; /* keep draining, so a writer never blocks */
        ssize_t n = full ? read(fd, sink, sizeof sink) : read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (!full)
            got += (size_t)n;
    }
    buf[got] = 0;
    return got;
}

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer (gcc 12) cannot check a forked child: its thread list still holds the
 * parent's thread id, so a child that calls exit() prints "Running thread N was not
 * suspended. False leaks are possible." into the output the test compares, and may report
 * leaks that are not.  run_child's children turn it off; the test process keeps it.
 * (Weak: every test file includes this header, the linker keeps one of each; default
 * visibility, or libasan, which looks the function up, never finds it.) */
__attribute__((weak)) int tests_forked_child;
__attribute__((weak, visibility("default"))) int __lsan_is_turned_off(void)
{
    return tests_forked_child;
}
#endif

/* Run fn(arg) in a forked child with stdout and stderr going to out (NUL-terminated) and
 * no core dumps; the child exits 0 if fn returns.  Returns the child's wait status. */
static inline int run_child(void (*fn)(void *), void *arg, char *out, size_t outlen)
{
    int p[2], status = 0;
    pid_t pid;

    fflush(NULL);
    cr_assert_eq(pipe(p), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
#ifdef __SANITIZE_ADDRESS__
        tests_forked_child = 1;
#endif
        setrlimit(RLIMIT_CORE, &no_core);
        close(p[0]);
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[1]);
        setvbuf(stdout, NULL, _IONBF, 0);
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    read_all(p[0], out, outlen);
    close(p[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* Run fn(arg) in a child (run_child); assert it exits 0 having printed exactly want. */
static inline void assert_child_prints(void (*fn)(void *), void *arg, const char *want)
{
    char out[8192];
    int status = run_child(fn, arg, out, sizeof out);

    cr_assert_exited(status, 0, out);
    cr_assert_str_eq(out, want);
}

/* Run fn(arg) in a child (run_child); assert it exits 0 and its output contains each of
 * the strings that follow, up to a NULL. */
static inline __attribute__((sentinel)) void assert_child_says(void (*fn)(void *), void *arg,
                                                               ...)
{
    char out[8192];
    int status = run_child(fn, arg, out, sizeof out);
    const char *s;
    va_list ap;

    cr_assert_exited(status, 0, out);
    va_start(ap, arg);
    while ((s = va_arg(ap, const char *)))
        cr_assert(strstr(out, s), "\"%s\" missing from the output:\n%s", s, out);
    va_end(ap);
}

/* Send this process's fd 2 to a temporary file until capture_stderr_end, which returns
 * what was written (NUL-terminated in out) and puts the old fd 2 back. */
struct stderr_capture {
    int saved, file;
};

static inline struct stderr_capture capture_stderr_begin(void)
{
    char path[] = "/tmp/green-test-stderr-XXXXXX";
    struct stderr_capture c;

    fflush(stderr);
    c.file = mkstemp(path);
    cr_assert_geq(c.file, 0);
    unlink(path);
    c.saved = dup(2);
    cr_assert_geq(c.saved, 0);
    dup2(c.file, 2);
    return c;
}

static inline void capture_stderr_end(struct stderr_capture *c, char *out, size_t len)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    lseek(c->file, 0, SEEK_SET);
    read_all(c->file, out, len);
    close(c->file);
}

#endif
