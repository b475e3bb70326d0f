/*
 * sleepers_n — the scale benchmark's unmodified program: N threads alive at once, each
 * calling sleep(1).  It knows nothing of libgreen: build it with `cc -pthread`.
 *
 *   sleepers_n N        start N threads with default attributes, then join them all
 *
 * main creates every thread (default attributes: joinable, the default stack size), counts
 * the entries of /proc/self/task once they are all created (the OS threads the process has
 * while they sleep), joins them in creation order and prints one line:
 *
 *   sleepers_n n=N wall=<s> create=<s> tasks=<OS threads> hwm_kib=<VmHWM>
 *
 * wall runs from just before the first pthread_create to just after the last pthread_join;
 * create is the part spent creating.  Unpatched, every thread is an OS thread: keep N well
 * under kernel.pid_max (scripts/bench.sh checks the headroom before it runs one).  With
 * LD_PRELOAD=libgreen.so the threads are green threads on one OS thread.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *task(void *arg)
{
    sleep(1);
    return arg;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    long n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static long status_kib(const char *field)
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

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0, tasks;
    double t0, t_created, t1;
    pthread_t *t;
    int err;

    if (n <= 0 || !(t = calloc((size_t)n, sizeof *t))) {
        fprintf(stderr, "usage: sleepers_n N (N > 0)\n");
        return 2;
    }
    t0 = now();
    for (long i = 0; i < n; i++)
        if ((err = pthread_create(&t[i], NULL, task, NULL)) != 0) {
            fprintf(stderr, "sleepers_n: pthread_create failed after %ld threads: %s\n", i,
                    strerror(err));
            return 1;
        }
    t_created = now();
    tasks = count_tasks();
    for (long i = 0; i < n; i++)
        if ((err = pthread_join(t[i], NULL)) != 0) {
            fprintf(stderr, "sleepers_n: pthread_join: %s\n", strerror(err));
            return 1;
        }
    t1 = now();
    printf("sleepers_n n=%ld wall=%.3f create=%.3f tasks=%ld hwm_kib=%ld\n", n, t1 - t0,
           t_created - t0, tasks, status_kib("VmHWM"));
    free(t);
    return 0;
}
