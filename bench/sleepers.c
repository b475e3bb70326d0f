/*
 * sleepers.c — N green threads alive at once, each sleeping 1 s: wall time and peak RSS.
 *
 * main spawns N threads (default 1,000,000), then joins them in spawn order.  The wall
 * time runs from just before the first spawn to just after the last join, so it holds the
 * spawns (stack carving, guard installation), every thread's first run up to its park
 * (first-touch page faults on its stack, a libev timer each), the 1 s sleep, and the
 * wake-ups, exits and joins.  A sleeper's deadline is taken when it first runs, so the
 * floor is 1 s plus the time to start all of them.
 *
 * A probe thread spawned after the sleepers runs once they have all parked and samples
 * VmRSS and VmPTE (page tables, which VmRSS does not count) while every sleeper is alive;
 * peak RSS is VmHWM at the end.  Each line names the stack guard mode, since the target
 * asks for overflow detection on the default vm.max_map_count.
 *
 * This is one process per measurement (peak RSS is per process); scripts/bench.sh
 * repeats it and takes medians.
 *
 *   usage: sleepers [N, default 1000000]
 */
#include <green.h>

#include "bench.h"
#include "internal.h"

static int64_t t_started, rss_kib, pte_kib;

static void *sleeper(void *arg)
{
    green_sleep(1.0);
    return arg;
}

static void *probe(void *arg)
{
    t_started = bench_now();
    rss_kib = bench_status_kib("VmRSS");
    pte_kib = bench_status_kib("VmPTE");
    return arg;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 1000000);
    green_t *t = malloc((size_t)n * sizeof *t), p;
    int64_t t0, t_spawned, t1;
    long hwm;
    const char *guard;

    if (!t) {
        fprintf(stderr, "sleepers: no memory for %ld handles\n", n);
        return 1;
    }
    memset(t, 0, (size_t)n * sizeof *t); /* touch it now: not part of the measurement */
    t0 = bench_now();
    for (long i = 0; i < n; i++) {
        t[i] = green_spawn(sleeper, NULL);
        if (t[i] == GREEN_NONE) {
            perror("sleepers: green_spawn");
            fprintf(stderr, "sleepers: %ld threads spawned before the failure\n", i);
            return 1;
        }
    }
    t_spawned = bench_now();
    p = green_spawn(probe, NULL);
    for (long i = 0; i < n; i++)
        if (green_join(t[i], NULL)) {
            fprintf(stderr, "sleepers: green_join failed\n");
            return 1;
        }
    t1 = bench_now();
    green_join(p, NULL);
    hwm = bench_status_kib("VmHWM");
    guard = green__stack_guard_mode();

    printf("sleepers_wall %.3f s  n=%ld guard=%s (spawn %.3f s, all parked at %.3f s)\n",
           (double)(t1 - t0) / 1e9, n, guard, (double)(t_spawned - t0) / 1e9,
           (double)(t_started - t0) / 1e9);
    printf("sleepers_peak_rss %.3f GiB  n=%ld guard=%s VmHWM=%ld KiB (%.0f B/thread); "
           "while all sleep: VmRSS=%ld KiB, VmPTE=%ld KiB\n",
           (double)hwm / (1 << 20), n, guard, hwm, (double)hwm * 1024 / (double)n, rss_kib,
           pte_kib);
    free(t);
    return 0;
}
