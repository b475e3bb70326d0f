/*
 * spawn.c — spawn + run + join of an empty green thread, with pooled stacks.
 *
 * One cycle is green_spawn, then green_join from main: main parks, the new thread runs its
 * empty body and ends, main runs again and frees it.  That is two switches, a stack taken
 * from and returned to the per-OS-thread cache, and a thread struct recycled through the
 * free list.  The warm-up run fills the caches, so the timed runs measure the steady state
 * a server spawning a thread per request would see.
 *
 * It also times spawning a batch of threads before joining them all (fan-out, then fan-in),
 * where each thread is switched to from the previous one rather than from main.
 *
 *   usage: spawn [cycles per run, default 1000000] [runs, default 7]
 */
#include <green.h>

#include "bench.h"

#define BATCH 100

static void *empty(void *arg)
{
    return arg;
}

static void die(const char *what)
{
    fprintf(stderr, "spawn: %s failed\n", what);
    exit(1);
}

static double run_one(long ops)
{
    int64_t t0 = bench_now();

    for (long i = 0; i < ops; i++) {
        green_t t = green_spawn(empty, NULL);
        if (t == GREEN_NONE)
            die("green_spawn");
        if (green_join(t, NULL))
            die("green_join");
    }
    return (double)(bench_now() - t0) / (double)ops;
}

static double run_batch(long ops)
{
    green_t t[BATCH];
    long rounds = ops / BATCH;
    int64_t t0 = bench_now();

    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < BATCH; i++)
            if ((t[i] = green_spawn(empty, NULL)) == GREEN_NONE)
                die("green_spawn");
        for (int i = 0; i < BATCH; i++)
            if (green_join(t[i], NULL))
                die("green_join");
    }
    return (double)(bench_now() - t0) / (double)(rounds * BATCH);
}

int main(int argc, char **argv)
{
    long ops = bench_arg(argc, argv, 1, 1000000);
    int runs = (int)bench_arg(argc, argv, 2, 7);

    bench_report("spawn_join", "ns", run_one, ops, ops / 10, runs);
    bench_report("spawn_join_batch100", "ns", run_batch, ops, ops / 10, runs);
    return 0;
}
