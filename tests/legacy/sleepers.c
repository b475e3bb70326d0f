/*
 * sleepers — the gevent tutorial's "synchronous vs asynchronous" in classic C: N threads
 * each sleep half a second, then print.  It knows nothing of libgreen: build it with
 * `cc -pthread`.
 *
 *   sleepers [N] [sync]      N threads (default 10); "sync": one after another
 *
 * Thread i sleeps with usleep, nanosleep or clock_nanosleep (i % 3), so that each of the
 * three calls is exercised, then prints "task i done".  In the default (asynchronous)
 * mode, main creates every thread, prints "started N tasks", then joins them all; in sync
 * mode it creates and joins each in turn.  It ends with "all done".  Unpatched, the
 * asynchronous run takes half a second on N OS threads; with LD_PRELOAD=libgreen.so it
 * takes half a second on one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *task(void *arg)
{
    int i = (int)(long)arg;
    struct timespec half = {0, 500000000};

    switch (i % 3) {
    case 0:
        usleep(500000);
        break;
    case 1:
        nanosleep(&half, NULL);
        break;
    default:
        clock_nanosleep(CLOCK_MONOTONIC, 0, &half, NULL);
        break;
    }
    printf("task %d done\n", i);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    int sync = argc > 2 && !strcmp(argv[2], "sync");
    pthread_t *t;

    if (n <= 0 || !(t = calloc((size_t)n, sizeof *t))) {
        fprintf(stderr, "usage: sleepers [N > 0] [sync]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&t[i], NULL, task, (void *)(long)i) != 0) {
            fprintf(stderr, "sleepers: pthread_create failed\n");
            return 1;
        }
        if (sync)
            pthread_join(t[i], NULL);
    }
    if (!sync) {
        printf("started %d tasks\n", n);
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
    }
    printf("all done\n");
    free(t);
    return 0;
}
