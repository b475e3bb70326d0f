/*
 * stuck.c — a plain pthread program that gets itself into the states an operator wants to
 * diagnose; it knows nothing of libgreen.  tests/preload/test_diag.c runs it patched
 * (threads parked on every kind of wait are tests/legacy/parked.c).
 *
 *   stuck hog MS    a thread named "hog" computes for MS milliseconds without a blocking
 *                   call while another sleeps in steps; prints "done"
 *   stuck syscall MS  a thread blocks the process in a system call libgreen does not
 *                   convert (a raw nanosleep) for MS milliseconds; prints "done"
 *   stuck deadlock  two threads each take one mutex and then wait for the other's
 *   stuck overflow  a thread with a 64 KiB stack recurses until the stack is gone
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER, m2 = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long sink;

static void start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
    if (pthread_create(t, NULL, fn, arg)) {
        perror("pthread_create");
        exit(1);
    }
    pthread_setname_np(*t, name);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *hog(void *arg)
{
    double end = now() + atoi(arg) / 1000.0;
    while (now() < end)
        for (int i = 0; i < 1000; i++)
            sink++;
    return NULL;
}

static void *stepper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        usleep(10000);
    return NULL;
}

static void *raw_sleep(void *arg)
{
    int ms = atoi(arg);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    syscall(SYS_nanosleep, &ts, NULL);
    return NULL;
}

static int busy(void *(*fn)(void *), const char *name, char *ms)
{
    pthread_t a, b;

    start(&b, "stepper", stepper, NULL);
    usleep(1000);
    start(&a, name, fn, ms);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("done\n");
    return 0;
}

static void *first(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m1);
    usleep(20000);
    pthread_mutex_lock(&m2);
    return NULL;
}

static void *second(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m2);
    usleep(20000);
    pthread_mutex_lock(&m1);
    return NULL;
}

static int deadlock(void)
{
    pthread_t a, b;

    start(&a, "first", first, NULL);
    start(&b, "second", second, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("done\n");
    return 0;
}

static int depth(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n > 0 ? depth(n - 1) + pad[0] : 0;
}

static void *recurse(void *arg)
{
    (void)arg;
    return (void *)(long)depth(1 << 20);
}

static int overflow(void)
{
    pthread_attr_t a;
    pthread_t t;

    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    if (pthread_create(&t, &a, recurse, NULL))
        return 1;
    pthread_join(t, NULL);
    printf("survived\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "hog"))
        return busy(hog, "hog", argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "syscall"))
        return busy(raw_sleep, "raw_sleep", argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "deadlock"))
        return deadlock();
    if (argc >= 2 && !strcmp(argv[1], "overflow"))
        return overflow();
    fprintf(stderr, "usage: stuck hog MS | syscall MS | deadlock | overflow\n");
    return 2;
}
