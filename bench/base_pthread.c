/*
 * base_pthread.c — baselines for spawn.c and switch.c with real OS threads, measured the
 * same way (median of runs after a warm-up):
 *
 *   base_pthread_create_join  pthread_create + pthread_join of an empty thread, ns per
 *                             cycle (default attributes: an 8 MiB stack glibc caches);
 *   base_pthread_handoff      two threads passing control back and forth through a pair
 *                             of semaphores (futex wait/wake), ns per hand-off, one
 *                             hand-off being one sem_post that lets the other thread run.
 *
 * Each is measured twice: "_1cpu" with every thread pinned to the CPU main runs on, as
 * green threads share one, and unpinned, where a new or woken thread may run on the other
 * CPU.  On this virtual machine that means waking an idle vCPU, which costs several times
 * more and varies from run to run.  A created thread inherits its creator's affinity, so
 * pinning main pins everything.
 *
 *   usage: base_pthread [cycles per run, default 10000] [hand-offs per pinned run, default
 *                       200000; unpinned runs do a quarter] [runs, default 7]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>

#include "bench.h"

static sem_t ping, pong;
static long rounds;
static cpu_set_t all_cpus;

static void pin(int on)
{
    cpu_set_t one;

    if (on) {
        sched_getaffinity(0, sizeof all_cpus, &all_cpus);
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        sched_setaffinity(0, sizeof one, &one);
    } else {
        sched_setaffinity(0, sizeof all_cpus, &all_cpus);
    }
}

static void *empty(void *arg)
{
    return arg;
}

static double run_create(long ops)
{
    int64_t t0 = bench_now();

    for (long i = 0; i < ops; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, empty, NULL) || pthread_join(t, NULL)) {
            fprintf(stderr, "base_pthread: pthread_create/join failed\n");
            exit(1);
        }
    }
    return (double)(bench_now() - t0) / (double)ops;
}

static void *ponger(void *arg)
{
    for (long i = 0; i < rounds; i++) {
        while (sem_wait(&ping))
            ;
        sem_post(&pong);
    }
    return arg;
}

static double run_handoff(long ops)
{
    pthread_t t;
    int64_t t0, t1;

    rounds = ops / 2; /* a round trip is two hand-offs */
    if (pthread_create(&t, NULL, ponger, NULL)) {
        fprintf(stderr, "base_pthread: pthread_create failed\n");
        exit(1);
    }
    t0 = bench_now();
    for (long i = 0; i < rounds; i++) {
        sem_post(&ping);
        while (sem_wait(&pong))
            ;
    }
    t1 = bench_now();
    pthread_join(t, NULL);
    return (double)(t1 - t0) / (double)(2 * rounds);
}

int main(int argc, char **argv)
{
    long cycles = bench_arg(argc, argv, 1, 10000);
    long handoffs = bench_arg(argc, argv, 2, 200000);
    int runs = (int)bench_arg(argc, argv, 3, 7);

    sem_init(&ping, 0, 0);
    sem_init(&pong, 0, 0);
    pin(1);
    bench_report("base_pthread_create_join_1cpu", "ns", run_create, cycles, cycles / 10, runs);
    bench_report("base_pthread_handoff_1cpu", "ns", run_handoff, handoffs, handoffs / 10, runs);
    pin(0);
    bench_report("base_pthread_create_join", "ns", run_create, cycles, cycles / 10, runs);
    bench_report("base_pthread_handoff", "ns", run_handoff, handoffs / 4, handoffs / 40, runs);
    return 0;
}
