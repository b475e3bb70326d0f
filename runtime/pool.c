/*
 * pool.c — a few real OS threads for calls that cannot be made non-blocking (regular-file
 * I/O, name resolution).
 *
 * A green thread hands a job to the pool and waits on it with the waiter protocol
 * (wait.c); the worker runs the job and wakes the waiter, which reaches the green thread's
 * hub as a post (ev_async).  A job in flight holds a reference on the hub's loop, so a
 * thread waiting for the pool is never mistaken for a deadlock.  The wait cannot be
 * interrupted: the job and its waiter live on the caller's stack, so the caller must
 * outlive the job, and a kill takes effect at its next wait.
 *
 * Workers are started on demand, up to POOL_THREADS, and live as long as the process.
 * They never become green (they have no green__local) and block every signal, so the
 * program's handlers keep running on the program's own threads.  Idle workers sleep on a
 * futex; nothing here calls a libc function a hook could wrap, except pthread_create and
 * pthread_sigmask, bracketed as runtime calls.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define POOL_THREADS 4

struct job {
    void (*fn)(void *);
    void *arg;
    struct job *next;
    unsigned lock;
    struct green__waitq q;
    struct green__waiter w;
};

static uint64_t jobs;
static unsigned queue_lock;
static struct job *head, *tail;
static int threads, idle;
static uint32_t queue_seq; /* bumped on every submission; idle workers futex-wait on it */

static void *worker(void *arg)
{
    (void)arg;
    green__tls_real = 1;
    for (;;) {
        struct job *j;
        uint32_t seen;

        green__spin_lock(&queue_lock);
        j = head;
        if (j) {
            head = j->next;
            if (!head)
                tail = NULL;
        } else {
            idle++;
        }
        seen = queue_seq;
        green__spin_unlock(&queue_lock);
        if (!j) {
            syscall(SYS_futex, &queue_seq, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
            green__spin_lock(&queue_lock);
            idle--;
            green__spin_unlock(&queue_lock);
            continue;
        }
        j->fn(j->arg);
        green__spin_lock(&j->lock);
        green__waiter_wake(green__waitq_pop(&j->q), 0);
        green__spin_unlock(&j->lock); /* the last touch: the caller may return after it */
    }
    return NULL;
}

/* Start a worker; called with queue_lock held. */
static int start_worker(void)
{
    pthread_t tid;
    pthread_attr_t attr;
    sigset_t all, old;
    int r;

    green__runtime_enter();
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&tid, &attr, worker, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    green__runtime_leave();
    if (r == 0)
        __atomic_add_fetch(&threads, 1, __ATOMIC_RELAXED);
    return -r;
}

int green__pool_run(void (*fn)(void *), void *arg)
{
    struct job j = {.fn = fn, .arg = arg};
    int wake = 0, r = 0;

    green__waiter_init(&j.w);
    green__spin_lock(&j.lock);
    green__waitq_push(&j.q, &j.w);

    green__spin_lock(&queue_lock);
    if (idle == 0 && threads < POOL_THREADS)
        r = start_worker();
    if (r < 0 && threads == 0) {
        green__spin_unlock(&queue_lock);
        green__spin_unlock(&j.lock);
        return -EAGAIN;
    }
    if (tail)
        tail->next = &j;
    else
        head = &j;
    tail = &j;
    queue_seq++;
    wake = idle > 0;
    green__spin_unlock(&queue_lock);
    if (wake)
        syscall(SYS_futex, &queue_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);

    __atomic_add_fetch(&jobs, 1, __ATOMIC_RELAXED);
    green__hub_job_begin();
    r = green__waiter_wait(&j.w, &j.lock, &j.q, GREEN_NO_DEADLINE, GREEN_WAIT_POOL, fn);
    green__hub_job_end();
    return r;
}

uint64_t green__pool_jobs(void)
{
    return __atomic_load_n(&jobs, __ATOMIC_RELAXED);
}

void green__pool_fork_child(void)
{
    queue_lock = 0;
    head = tail = NULL;
    threads = idle = 0;
}

int green__pool_threads(void)
{
    return __atomic_load_n(&threads, __ATOMIC_RELAXED);
}

GREEN_EXPORT int green_pool_run(void (*fn)(void *), void *arg)
{
    int r;

    if (!fn)
        return EINVAL;
    r = green__pool_run(fn, arg);
    /* Not a kill point while fn runs; once it has returned, a kill ends the caller here. */
    if (r == 0 && green__current()->killed)
        r = -ECANCELED;
    return green__api_result(r);
}
