/*
 * switch.c — context switch cost: two green threads ping-ponging through green_yield.
 *
 * A switch is one green_yield handing control to the other thread.  Both threads yield
 * `ops / 2` times while main waits in green_join, so the run queue holds just the two of
 * them and every yield goes through the scheduler exactly as a program's would, including
 * the hub's turn every HUB_SLICE switches (sched.c).  The time is taken in main around
 * the spawns and joins; over 10 million switches those few extra switches are noise.
 *
 * For attribution it also times the bare green__ctx_switch between two contexts (no
 * scheduler, no errno, no hub).  It is not a floor: there the two sides call the switch
 * from different places, so the switch's `ret` is mispredicted every time, as it is in a
 * program whose threads park at different calls; in the yield ping-pong both threads
 * switch from the same call site and the return stack predicts it.
 *
 *   usage: switch [switches per run, default 10000000] [runs, default 7]
 */
#include <green.h>

#include "bench.h"
#include "internal.h"

static long per_thread;

static void *pinger(void *arg)
{
    for (long i = 0; i < per_thread; i++)
        green_yield();
    return arg;
}

static double run_yield(long ops)
{
    int64_t t0;
    green_t a, b;

    per_thread = ops / 2;
    t0 = bench_now();
    a = green_spawn(pinger, NULL);
    b = green_spawn(pinger, NULL);
    if (a == GREEN_NONE || b == GREEN_NONE || green_join(a, NULL) || green_join(b, NULL)) {
        fprintf(stderr, "switch: spawn or join failed\n");
        exit(1);
    }
    return (double)(bench_now() - t0) / (double)(2 * per_thread);
}

/* ------------------------------------------------------- bare context switch */

static struct green_ctx main_ctx, other_ctx;

static void other_entry(void *arg)
{
    for (;;)
        green__ctx_switch(&other_ctx, &main_ctx);
}

static double run_raw(long ops)
{
    int64_t t0 = bench_now();

    /* One round trip is two switches. */
    for (long i = ops / 2; i > 0; i--)
        green__ctx_switch(&main_ctx, &other_ctx);
    return (double)(bench_now() - t0) / (double)(ops / 2 * 2);
}

int main(int argc, char **argv)
{
    long ops = bench_arg(argc, argv, 1, 10000000);
    int runs = (int)bench_arg(argc, argv, 2, 7);
    static char stack[64 * 1024] __attribute__((aligned(16)));

    bench_report("switch", "ns", run_yield, ops, ops / 10, runs);
    green__ctx_make(&other_ctx, stack, sizeof stack, other_entry, NULL);
    bench_report("switch_raw_ctx", "ns", run_raw, ops, ops / 10, runs);
    return 0;
}
