/*
 * base_ucontext.c — baseline for switch.c: glibc swapcontext ping-pong between two
 * contexts, measured the same way (ns per switch, median of runs after a warm-up).
 *
 * glibc's swapcontext saves and restores the signal mask with a rt_sigprocmask system
 * call on every switch, which is most of its cost; libgreen's switch (ctx_x86_64.S)
 * makes no system call.
 *
 *   usage: base_ucontext [switches per run, default 2000000] [runs, default 7]
 */
#include <ucontext.h>

#include "bench.h"

static ucontext_t main_uc, other_uc;

static void other(void)
{
    for (;;)
        swapcontext(&other_uc, &main_uc);
}

static double run(long ops)
{
    int64_t t0 = bench_now();

    /* One round trip is two switches. */
    for (long i = ops / 2; i > 0; i--)
        swapcontext(&main_uc, &other_uc);
    return (double)(bench_now() - t0) / (double)(ops / 2 * 2);
}

int main(int argc, char **argv)
{
    long ops = bench_arg(argc, argv, 1, 2000000);
    int runs = (int)bench_arg(argc, argv, 2, 7);
    static char stack[64 * 1024] __attribute__((aligned(16)));

    getcontext(&other_uc);
    other_uc.uc_stack.ss_sp = stack;
    other_uc.uc_stack.ss_size = sizeof stack;
    other_uc.uc_link = NULL;
    makecontext(&other_uc, other, 0);
    bench_report("base_ucontext_switch", "ns", run, ops, ops / 10, runs);
    return 0;
}
