/*
 * bench.h — what the benchmarks share: a monotonic clock, medians, and the result line.
 *
 * Every benchmark prints one line per figure on stdout:
 *
 *     <name> <value> <unit>  <free-form detail>
 *
 * scripts/bench.sh reads the first three fields; the rest is for people.  A figure is the
 * median of several timed runs after an untimed warm-up, because other processes share
 * this machine's two cores and a single run can land on a busy moment.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place; returns the median (the mean of the middle two for an even count). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* An integer from argv[i], or def when absent; dies on garbage. */
static inline long bench_arg(int argc, char **argv, int i, long def)
{
    char *end;
    long v;

    if (argc <= i)
        return def;
    v = strtol(argv[i], &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "%s: argument %d must be a positive integer, not \"%s\"\n", argv[0],
                i, argv[i]);
        exit(2);
    }
    return v;
}

/* A "Vm...:" field of /proc/self/status in KiB, or -1. */
static inline long bench_status_kib(const char *field)
{
    char line[256];
    size_t len = strlen(field);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, len) && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Time `runs` calls of fn(ops) after one warm-up call; print the median ns per op. */
static inline double bench_report(const char *name, const char *unit, double (*fn)(long), long ops,
                                  long warm_ops, int runs)
{
    double v[64];

    if (runs > 64)
        runs = 64;
    fn(warm_ops);
    for (int i = 0; i < runs; i++)
        v[i] = fn(ops);
    double med = bench_median(v, runs);
    printf("%s %.2f %s  median of %d runs x %ld (min %.2f, max %.2f)\n", name, med, unit, runs,
           ops, v[0], v[runs - 1]);
    fflush(stdout);
    return med;
}

#endif
