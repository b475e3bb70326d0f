/*
 * parked — threads that each wait on something different, held there until a signal lets
 * them go; the subject of the gdb extension's test (tests/preload/test_gdb.c).  It knows
 * nothing of libgreen: build it with `cc -pthread`.
 *
 *   parked
 *
 * Six threads, each named after what it does (pthread_setname_np):
 *   napper   sleeps 50 ms at a time (usleep) until released
 *   reader   holds the mutex and reads one byte from a pipe
 *   locker   waits for the mutex the reader holds
 *   waiter   waits on a condition variable
 *   joiner   joins the reader
 *   reaper   forks a child that pauses, then waits for it (waitpid)
 * Each thread counts itself in just before it blocks; once all six have, main prints
 * "ready: pipe fd N, mutex ADDR, condvar ADDR" (what the reader, locker and waiter wait
 * on, for a debugger's view to be checked against) and joins the joiner.  SIGUSR1
 * (SA_RESTART) writes a byte to the pipe: the reader wakes, kills the child, signals the
 * condition and releases the mutex, and everything unwinds.  Main prints each thread's
 * report line, then "all done", and exits 0.
 * With LD_PRELOAD=libgreen.so the threads are green, and a thread that counted itself in
 * has parked by the time main runs again, so "ready" means every one of them is waiting.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int pipefd[2];
static int parked_count, released, signalled;
static pid_t child;
static pthread_t reader;
static char report[6][64];

static void parking(void)
{
    __atomic_add_fetch(&parked_count, 1, __ATOMIC_SEQ_CST);
}

static void on_usr1(int sig)
{
    ssize_t r = write(pipefd[1], "x", 1);

    (void)sig;
    (void)r;
}

static void *napper_main(void *arg)
{
    int naps = 0;

    (void)arg;
    parking();
    while (!__atomic_load_n(&released, __ATOMIC_SEQ_CST)) {
        usleep(50000);
        naps++;
    }
    snprintf(report[0], sizeof report[0], "napper woke after %s", naps ? "naps" : "no nap");
    return NULL;
}

static void *reader_main(void *arg)
{
    char c = 0;
    ssize_t n;

    (void)arg;
    pthread_mutex_lock(&lock);
    parking();
    n = read(pipefd[0], &c, 1);
    snprintf(report[1], sizeof report[1], "reader read %zd byte '%c'", n, c);
    kill(child, SIGTERM);
    pthread_mutex_lock(&cond_lock);
    signalled = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&cond_lock);
    __atomic_store_n(&released, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *locker_main(void *arg)
{
    (void)arg;
    parking();
    pthread_mutex_lock(&lock);
    snprintf(report[2], sizeof report[2], "locker got the mutex");
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *waiter_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cond_lock);
    parking();
    while (!signalled)
        pthread_cond_wait(&cond, &cond_lock);
    pthread_mutex_unlock(&cond_lock);
    snprintf(report[3], sizeof report[3], "waiter was signalled");
    return NULL;
}

static void *joiner_main(void *arg)
{
    (void)arg;
    parking();
    pthread_join(reader, NULL);
    snprintf(report[4], sizeof report[4], "joiner joined the reader");
    return NULL;
}

static void *reaper_main(void *arg)
{
    int status = 0;

    (void)arg;
    child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    parking();
    if (child < 0 || waitpid(child, &status, 0) != child)
        snprintf(report[5], sizeof report[5], "reaper: no child");
    else
        snprintf(report[5], sizeof report[5], "reaper's child %s",
                 WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? "was terminated"
                                                                   : "ended oddly");
    return NULL;
}

static pthread_t start(void *(*fn)(void *), const char *name)
{
    pthread_t t;

    if (pthread_create(&t, NULL, fn, NULL) != 0) {
        fprintf(stderr, "parked: pthread_create %s failed\n", name);
        exit(1);
    }
    pthread_setname_np(t, name);
    return t;
}

int main(void)
{
    struct sigaction sa;
    pthread_t t[5];

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pipe(pipefd) < 0) {
        perror("parked: pipe");
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    t[0] = start(napper_main, "napper");
    reader = start(reader_main, "reader");
    while (__atomic_load_n(&parked_count, __ATOMIC_SEQ_CST) < 2) /* reader holds the mutex */
        usleep(1000);
    t[1] = start(locker_main, "locker");
    t[2] = start(waiter_main, "waiter");
    t[3] = start(joiner_main, "joiner");
    t[4] = start(reaper_main, "reaper");
    while (__atomic_load_n(&parked_count, __ATOMIC_SEQ_CST) < 6)
        usleep(1000);
    usleep(20000); /* unpatched, let the last one reach its call */
    printf("ready: pipe fd %d, mutex %p, condvar %p\n", pipefd[0], (void *)&lock,
           (void *)&cond);

    pthread_join(t[3], NULL);
    for (int i = 0; i < 5; i++)
        if (i != 3)
            pthread_join(t[i], NULL);
    for (int i = 0; i < 6; i++)
        printf("%s\n", report[i]);
    printf("all done\n");
    return 0;
}
