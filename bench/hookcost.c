/*
 * hookcost.c — what a preload hook's fast path costs: a blocking call whose data is already
 * there, so it never waits.  A plain pthread program (it calls no libgreen function);
 * scripts/bench.sh runs it unpatched and with LD_PRELOAD=libgreen.so and subtracts.
 *
 * Every figure is ns per call, for 1-byte reads from a descriptor that holds data:
 *
 *   pipe_read         read(2) on a pipe               (libc's read, or the shim's hook)
 *   pipe_read_raw     syscall(SYS_read) on the pipe   (never hooked: the kernel's floor)
 *   pipe_preadv2_nowait  preadv2(fd, 1 iovec, offset -1, RWF_NOWAIT) on the pipe, straight
 *                     from libc: the system call the read hook makes instead of read
 *   sock_recv         recv(2) on an AF_UNIX stream socketpair (libc's, or the hook)
 *   sock_recv_raw     syscall(SYS_recvfrom, flags 0)  (never hooked)
 *   sock_recv_dontwait_raw  syscall(SYS_recvfrom, MSG_DONTWAIT): what the recv hook makes
 *   sock_read         read(2) on the socketpair: legacy servers read sockets with read too
 *   sock_read_raw     syscall(SYS_read) on the socketpair
 *   sock_preadv2_nowait  preadv2 with RWF_NOWAIT on the socketpair (the read hook's call)
 *
 * The descriptor is filled with CHUNK bytes by one write outside the timed part, then
 * CHUNK single-byte reads are timed, and again until OPS reads are done (OPS is rounded up
 * to a whole number of chunks).  One run times
 * OPS calls of each kind, the kinds taking turns so that a busy moment on this shared
 * machine hits all of them alike; each figure is the median of RUNS runs after a warm-up
 * run.  The measuring is done in a thread made with pthread_create (a green thread when
 * patched, like a legacy server's connection thread).
 *
 *   usage: hookcost [OPS per run, default 131072] [RUNS, default 7] [KIND]
 *
 * With KIND (one of the names above) only that kind is timed: for a profiler.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

#define CHUNK 32768
#define MAX_RUNS 64

enum { PIPE_READ, PIPE_READ_RAW, PIPE_PREADV2, SOCK_RECV, SOCK_RECV_RAW, SOCK_RECV_DW_RAW,
       SOCK_READ, SOCK_READ_RAW, SOCK_PREADV2, KINDS };

static const char *const names[KINDS] = {
    "pipe_read", "pipe_read_raw", "pipe_preadv2_nowait",
    "sock_recv", "sock_recv_raw", "sock_recv_dontwait_raw",
    "sock_read", "sock_read_raw", "sock_preadv2_nowait",
};

static int pipefd[2], sockfd[2];
static long ops;
static int runs;
static int only = -1; /* the one kind to time, or -1 for all */
static double results[KINDS][MAX_RUNS];
static char fill[CHUNK];

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* Put CHUNK bytes in the kind's descriptor; returns the one to read from. */
static int refill(int kind)
{
    int to = kind < SOCK_RECV ? pipefd[1] : sockfd[1];
    ssize_t w = syscall(SYS_write, to, fill, sizeof fill);

    if (w != (ssize_t)sizeof fill)
        die("hookcost: refill");
    return kind < SOCK_RECV ? pipefd[0] : sockfd[0];
}

/* ns per call of one kind over n calls. */
static double time_kind(int kind, long calls)
{
    int64_t total = 0;
    long n = calls;
    char c;

    while (n > 0) {
        long k = CHUNK; /* n is a multiple of CHUNK: every chunk is read to the end */
        int fd = refill(kind);
        struct iovec iov = {&c, 1};
        int64_t t0 = bench_now();
        ssize_t r = 1;

        switch (kind) {
        case PIPE_READ:
        case SOCK_READ:
            for (long i = 0; i < k; i++)
                r &= read(fd, &c, 1);
            break;
        case PIPE_READ_RAW:
        case SOCK_READ_RAW:
            for (long i = 0; i < k; i++)
                r &= syscall(SYS_read, fd, &c, 1);
            break;
        case PIPE_PREADV2:
        case SOCK_PREADV2:
            for (long i = 0; i < k; i++)
                r &= preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
            break;
        case SOCK_RECV:
            for (long i = 0; i < k; i++)
                r &= recv(fd, &c, 1, 0);
            break;
        case SOCK_RECV_RAW:
            for (long i = 0; i < k; i++)
                r &= syscall(SYS_recvfrom, fd, &c, 1, 0, NULL, NULL);
            break;
        case SOCK_RECV_DW_RAW:
            for (long i = 0; i < k; i++)
                r &= syscall(SYS_recvfrom, fd, &c, 1, MSG_DONTWAIT, NULL, NULL);
            break;
        }
        total += bench_now() - t0;
        if (r != 1) {
            fprintf(stderr, "hookcost: %s did not return 1 every time\n", names[kind]);
            exit(1);
        }
        n -= k;
    }
    return (double)total / (double)calls;
}

static void *measure(void *arg)
{
    for (int k = 0; k < KINDS; k++)
        if (only < 0 || k == only)
            time_kind(k, CHUNK); /* warm-up */
    for (int i = 0; i < runs; i++)
        for (int k = 0; k < KINDS; k++)
            if (only < 0 || k == only)
                results[k][i] = time_kind(k, ops);
    return arg;
}

int main(int argc, char **argv)
{
    pthread_t t;

    ops = bench_arg(argc, argv, 1, 131072);
    ops = (ops + CHUNK - 1) / CHUNK * CHUNK;
    runs = (int)bench_arg(argc, argv, 2, 7);
    if (runs > MAX_RUNS)
        runs = MAX_RUNS;
    for (int k = 0; argc > 3 && k < KINDS; k++)
        if (!strcmp(argv[3], names[k]))
            only = k;
    if (argc > 3 && only < 0) {
        fprintf(stderr, "hookcost: no kind named \"%s\"\n", argv[3]);
        return 2;
    }
    if (pipe(pipefd) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sockfd) < 0)
        die("hookcost: pipe/socketpair");
    memset(fill, 'x', sizeof fill);
    if (pthread_create(&t, NULL, measure, NULL) != 0 || pthread_join(t, NULL) != 0)
        die("hookcost: pthread");
    for (int k = 0; k < KINDS; k++) {
        if (only >= 0 && k != only)
            continue;
        double med = bench_median(results[k], runs);
        printf("%s %.1f ns  median of %d runs x %ld (min %.1f, max %.1f)\n", names[k], med,
               runs, ops, results[k][0], results[k][runs - 1]);
    }
    return 0;
}
