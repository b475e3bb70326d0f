/*
 * test_sync.c — the sync objects of runtime/sync.c: mutex, cond, rwlock, sem, once,
 * barrier, event.  Each suite covers the static initializer, the error returns green.h
 * documents, hand-off order, timeouts (by generous bounds), a kill while waiting (the
 * object must still work afterwards), and wakes coming from other OS threads (a plain
 * pthread, a pool worker, a green thread of another OS thread).  Order is checked by
 * ordering, never by timing.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "green.h"

TestSuite(mutex, .timeout = 20);
TestSuite(cond, .timeout = 20);
TestSuite(rwlock, .timeout = 20);
TestSuite(sem, .timeout = 20);
TestSuite(once, .timeout = 20);
TestSuite(barrier, .timeout = 20);
TestSuite(event, .timeout = 20);

#define MS (1000000LL)

static double since(int64_t t0)
{
    return (green_now() - t0) / 1e9;
}

/* Let every spawned thread run until it waits. */
static void settle(void)
{
    for (int i = 0; i < 5; i++)
        green_yield();
}

static void join_killed(green_t t)
{
    void *v = NULL;
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(v, GREEN_KILLED);
}

/* Run fn in a forked child with a single OS thread (the hub declares deadlock only when no
 * other OS thread could post a wake, and the test runner may have threads of its own);
 * returns the child's exit status. */
static int in_child(int (*fn)(void))
{
    int status;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(fn());
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

/* Wakes from outside libgreen: a green thread runs waiter (which returns 0 once woken),
 * and wake(obj) comes from a plain pthread, a little later, or from a pool worker. */
struct later {
    void (*fn)(void *);
    void *arg;
};

static void *later_main(void *p)
{
    struct later *l = p;
    struct timespec ts = {0, 50 * MS};

    nanosleep(&ts, NULL);
    l->fn(l->arg);
    return NULL;
}

static void woken_from_pthread(void *(*waiter)(void *), void (*wake)(void *), void *obj)
{
    struct later l = {wake, obj};
    green_t t = green_spawn(waiter, NULL);
    int64_t t0 = green_now();
    pthread_t tid;
    void *v;

    settle();
    cr_assert_eq(pthread_create(&tid, NULL, later_main, &l), 0);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq((intptr_t)v, 0);
    cr_assert_lt(since(t0), 2.0);
    cr_assert_eq(pthread_join(tid, NULL), 0);
}

static void woken_from_pool(void *(*waiter)(void *), void (*wake)(void *), void *obj)
{
    green_t t = green_spawn(waiter, NULL);
    void *v;

    settle();
    cr_assert_eq(green_pool_run(wake, obj), 0);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq((intptr_t)v, 0);
}

/* ------------------------------------------------------------------- mutex */

static green_mutex_t gm;
static green_event_t gate;
static int order[8], norder;

Test(mutex, static_initializer_gives_a_normal_mutex)
{
    green_mutex_t m = GREEN_MUTEX_INIT;

    cr_assert_eq(green_mutex_lock(&m), 0);
    cr_assert_eq(green_mutex_trylock(&m), EBUSY);
    cr_assert_eq(green_mutex_destroy(&m), EBUSY);
    cr_assert_eq(green_mutex_unlock(&m), 0);
    cr_assert_eq(green_mutex_unlock(&m), EPERM);
    cr_assert_eq(green_mutex_destroy(&m), 0);
    cr_assert_eq(green_mutex_init(&m, 7), EINVAL);
}

static void *try_and_unlock(void *arg)
{
    int *r = arg;
    r[0] = green_mutex_trylock(&gm);
    r[1] = green_mutex_unlock(&gm);
    return NULL;
}

static void *trylock_then_unlock(void *arg)
{
    int r = green_mutex_trylock(&gm);
    if (r == 0)
        green_mutex_unlock(&gm);
    return (void *)(intptr_t)r;
}

Test(mutex, recursive_counts_and_foreign_unlock_is_eperm)
{
    int r[2];
    void *v;

    cr_assert_eq(green_mutex_init(&gm, GREEN_MUTEX_RECURSIVE), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(green_mutex_lock(&gm), 0);
    cr_assert_eq(green_mutex_trylock(&gm), 0);
    cr_assert_eq(green_join(green_spawn(try_and_unlock, r), NULL), 0);
    cr_assert_eq(r[0], EBUSY);
    cr_assert_eq(r[1], EPERM);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(green_mutex_unlock(&gm), 0);
        cr_assert_eq(green_join(green_spawn(trylock_then_unlock, NULL), &v), 0);
        cr_assert_eq((intptr_t)v, EBUSY, "still held after %d of 4 unlocks", i + 1);
    }
    cr_assert_eq(green_mutex_unlock(&gm), 0);
    cr_assert_eq(green_join(green_spawn(trylock_then_unlock, NULL), &v), 0);
    cr_assert_eq((intptr_t)v, 0);
    cr_assert_eq(green_mutex_unlock(&gm), EPERM);
}

Test(mutex, errorcheck_relock_gives_edeadlk)
{
    green_mutex_t m;

    cr_assert_eq(green_mutex_init(&m, GREEN_MUTEX_ERRORCHECK), 0);
    cr_assert_eq(green_mutex_lock(&m), 0);
    cr_assert_eq(green_mutex_lock(&m), EDEADLK);
    cr_assert_eq(green_mutex_timedlock(&m, green_now() + 1000 * MS), EDEADLK);
    cr_assert_eq(green_mutex_trylock(&m), EBUSY);
    cr_assert_eq(green_mutex_unlock(&m), 0);
    cr_assert_eq(green_mutex_unlock(&m), EPERM);
}

static void *hold_until_gate(void *arg)
{
    green_mutex_lock(&gm);
    green_event_wait(&gate);
    green_mutex_unlock(&gm);
    return NULL;
}

Test(mutex, trylock_and_timedlock_time_out_while_another_holds_it)
{
    green_t t = green_spawn(hold_until_gate, NULL);
    int64_t t0;

    settle();
    cr_assert_eq(green_mutex_trylock(&gm), EBUSY);
    t0 = green_now();
    cr_assert_eq(green_mutex_timedlock(&gm, t0 + 200 * MS), ETIMEDOUT);
    cr_assert_geq(since(t0), 0.2);
    cr_assert_lt(since(t0), 2.0);
    cr_assert_eq(green_mutex_timedlock(&gm, t0), ETIMEDOUT, "a past deadline still times out");
    green_event_set(&gate);
    cr_assert_eq(green_join(t, NULL), 0);
    cr_assert_eq(green_mutex_trylock(&gm), 0);
}

static void *hold_briefly(void *arg)
{
    green_mutex_lock(&gm);
    green_sleep(0.05);
    green_mutex_unlock(&gm);
    return NULL;
}

Test(mutex, timedlock_succeeds_before_the_deadline)
{
    green_t t = green_spawn(hold_briefly, NULL);
    int64_t t0;

    settle();
    t0 = green_now();
    cr_assert_eq(green_mutex_timedlock(&gm, t0 + 5000 * MS), 0);
    cr_assert_lt(since(t0), 2.0);
    cr_assert_eq(green_mutex_unlock(&gm), 0);
    cr_assert_eq(green_join(t, NULL), 0);
}

static void *lock_and_log(void *arg)
{
    green_mutex_lock(&gm);
    order[norder++] = (int)(intptr_t)arg;
    green_yield(); /* hold it across a switch: the others must stay queued */
    green_mutex_unlock(&gm);
    return NULL;
}

Test(mutex, unlock_hands_off_in_fifo_order_without_barging)
{
    green_t t[4];

    green_mutex_lock(&gm);
    for (int i = 0; i < 4; i++) {
        t[i] = green_spawn(lock_and_log, (void *)(intptr_t)i);
        settle(); /* queue them one by one, in a known order */
    }
    cr_assert_eq(green_mutex_unlock(&gm), 0);
    cr_assert_eq(green_mutex_trylock(&gm), EBUSY, "handed to the first waiter, not free");
    cr_assert_eq(green_mutex_destroy(&gm), EBUSY);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(green_join(t[i], NULL), 0);
    cr_assert_eq(norder, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(order[i], i);
    cr_assert_eq(green_mutex_destroy(&gm), 0);
}

static void *lock_forever(void *arg)
{
    green_mutex_lock(&gm);
    order[norder++] = 1; /* never reached when killed while waiting */
    green_mutex_unlock(&gm);
    return NULL;
}

Test(mutex, killed_waiter_ends_and_the_mutex_still_works)
{
    green_t t;

    green_mutex_lock(&gm);
    t = green_spawn(lock_forever, NULL);
    settle();
    cr_assert_eq(green_mutex_destroy(&gm), EBUSY);
    cr_assert_eq(green_kill(t), 0);
    join_killed(t);
    cr_assert_eq(norder, 0);
    cr_assert_eq(green_mutex_unlock(&gm), 0);
    cr_assert_eq(green_mutex_destroy(&gm), 0);
    cr_assert_eq(green_mutex_trylock(&gm), 0, "the killed waiter took nothing");
    cr_assert_eq(green_mutex_unlock(&gm), 0);
}

static int relock_normal(void)
{
    green_mutex_t m = GREEN_MUTEX_INIT;

    if (green_mutex_lock(&m) != 0)
        return 10;
    if (green_mutex_lock(&m) != EDEADLK)
        return 11;
    return green_mutex_unlock(&m) == 0 ? 0 : 12;
}

Test(mutex, relock_of_a_normal_mutex_is_reported_as_deadlock)
{
    cr_assert_eq(in_child(relock_normal), 0);
}

static void *lock_then_unlock(void *arg)
{
    int r = green_mutex_lock(&gm);
    return (void *)(intptr_t)(r ? r : green_mutex_unlock(&gm));
}

static void unlock_mutex(void *m)
{
    green_mutex_unlock(m);
}

Test(mutex, unlock_from_a_plain_pthread_or_a_pool_worker_hands_off_a_normal_mutex)
{
    green_mutex_lock(&gm);
    woken_from_pthread(lock_then_unlock, unlock_mutex, &gm);
    green_mutex_lock(&gm);
    woken_from_pool(lock_then_unlock, unlock_mutex, &gm);
    cr_assert_eq(green_mutex_trylock(&gm), 0);
}

/* A green thread of another OS thread waits for the mutex main holds. */
static void *other_os_thread_locks(void *arg)
{
    int *got = arg;
    *got = green_mutex_lock(&gm) == 0 ? 1 : -1;
    green_mutex_unlock(&gm);
    return NULL;
}

Test(mutex, unlock_hands_off_to_a_green_thread_of_another_os_thread)
{
    pthread_t tid;
    int got = 0;

    green_mutex_lock(&gm);
    cr_assert_eq(pthread_create(&tid, NULL, other_os_thread_locks, &got), 0);
    green_sleep(0.1); /* time to queue; the order check below does not depend on it */
    cr_assert_eq(__atomic_load_n(&got, __ATOMIC_ACQUIRE), 0);
    cr_assert_eq(green_mutex_unlock(&gm), 0);
    cr_assert_eq(pthread_join(tid, NULL), 0);
    cr_assert_eq(got, 1);
    cr_assert_eq(green_mutex_trylock(&gm), 0);
}

/* -------------------------------------------------------------------- cond */

static green_cond_t gc;
static int woke;

static struct timespec abs_in(clockid_t clock, int64_t ns)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ns += ts.tv_nsec;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    return ts;
}

Test(cond, static_initializer_times_out_on_the_realtime_clock_holding_the_mutex)
{
    green_cond_t c = GREEN_COND_INIT;
    green_mutex_t m;
    struct timespec ts = abs_in(CLOCK_REALTIME, 200 * MS);
    int64_t t0 = green_now();

    green_mutex_init(&m, GREEN_MUTEX_ERRORCHECK);
    green_mutex_lock(&m);
    cr_assert_eq(green_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
    cr_assert_geq(since(t0), 0.2);
    cr_assert_lt(since(t0), 2.0);
    cr_assert_eq(green_mutex_unlock(&m), 0, "timedwait returned holding the mutex");
    cr_assert_eq(green_cond_destroy(&c), 0);
}

Test(cond, init_takes_realtime_or_monotonic_only)
{
    green_cond_t c;
    cr_assert_eq(green_cond_init(&c, CLOCK_MONOTONIC), 0);
    cr_assert_eq(green_cond_init(&c, CLOCK_REALTIME), 0);
    cr_assert_eq(green_cond_init(&c, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
}

Test(cond, wait_needs_the_callers_mutex)
{
    green_mutex_t m;
    struct timespec bad = {0, 1000000000};

    green_mutex_init(&m, GREEN_MUTEX_ERRORCHECK);
    cr_assert_eq(green_cond_wait(&gc, &m), EPERM);
    green_mutex_lock(&m);
    cr_assert_eq(green_cond_timedwait(&gc, &m, &bad), EINVAL);
    cr_assert_eq(green_mutex_unlock(&m), 0);
}

static void *signal_later(void *arg)
{
    green_sleep(0.05);
    green_mutex_lock(&gm);
    woke = 1;
    green_cond_signal(&gc);
    green_mutex_unlock(&gm);
    return NULL;
}

Test(cond, monotonic_timedwait_fires_and_does_not_fire)
{
    struct timespec ts;
    int64_t t0;
    green_t t;

    cr_assert_eq(green_cond_init(&gc, CLOCK_MONOTONIC), 0);
    green_mutex_lock(&gm);
    ts = abs_in(CLOCK_MONOTONIC, 200 * MS);
    t0 = green_now();
    cr_assert_eq(green_cond_timedwait(&gc, &gm, &ts), ETIMEDOUT);
    cr_assert_geq(since(t0), 0.2);
    cr_assert_lt(since(t0), 2.0);

    t = green_spawn(signal_later, NULL);
    ts = abs_in(CLOCK_MONOTONIC, 5000 * MS);
    t0 = green_now();
    while (!woke)
        cr_assert_eq(green_cond_timedwait(&gc, &gm, &ts), 0);
    cr_assert_lt(since(t0), 2.0);
    green_mutex_unlock(&gm);
    cr_assert_eq(green_join(t, NULL), 0);
}

Test(cond, realtime_timedwait_is_signalled_before_the_deadline)
{
    struct timespec ts = abs_in(CLOCK_REALTIME, 5000 * MS);
    int64_t t0 = green_now();
    green_t t = green_spawn(signal_later, NULL);

    green_mutex_lock(&gm);
    while (!woke)
        cr_assert_eq(green_cond_timedwait(&gc, &gm, &ts), 0);
    cr_assert_lt(since(t0), 2.0);
    green_mutex_unlock(&gm);
    cr_assert_eq(green_join(t, NULL), 0);
}

static void *wait_once_count(void *arg)
{
    green_mutex_lock(&gm);
    green_cond_wait(&gc, &gm);
    woke++;
    green_mutex_unlock(&gm);
    return NULL;
}

Test(cond, signal_wakes_one_and_broadcast_wakes_all)
{
    green_t t[3];

    for (int i = 0; i < 3; i++)
        t[i] = green_spawn(wait_once_count, NULL);
    settle();
    cr_assert_eq(green_cond_destroy(&gc), EBUSY);
    green_mutex_lock(&gm);
    green_cond_signal(&gc);
    green_mutex_unlock(&gm);
    settle();
    cr_assert_eq(woke, 1);
    green_cond_broadcast(&gc);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(green_join(t[i], NULL), 0);
    cr_assert_eq(woke, 3);
    cr_assert_eq(green_cond_destroy(&gc), 0);
    cr_assert_eq(green_cond_signal(&gc), 0, "signal with no waiter is a no-op");
}

static void *wait_then_check_owner(void *arg)
{
    green_mutex_lock(&gm);
    green_cond_wait(&gc, &gm);
    woke = 1;
    return (void *)(intptr_t)green_mutex_unlock(&gm);
}

Test(cond, wait_returns_only_once_the_mutex_is_back)
{
    green_t t;
    void *v;

    green_mutex_init(&gm, GREEN_MUTEX_ERRORCHECK);
    t = green_spawn(wait_then_check_owner, NULL);
    settle();
    green_mutex_lock(&gm);
    green_cond_signal(&gc);
    settle();
    cr_assert_eq(woke, 0, "returned while the signaller still held the mutex");
    green_mutex_unlock(&gm);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(woke, 1);
    cr_assert_eq((intptr_t)v, 0, "the waiter owned the mutex on return");
}

static void *recursive_waiter(void *arg)
{
    int r = 0;

    green_mutex_lock(&gm);
    green_mutex_lock(&gm);
    while (!woke)
        green_cond_wait(&gc, &gm);
    r |= green_mutex_unlock(&gm);
    r |= green_mutex_unlock(&gm);
    r |= green_mutex_unlock(&gm) != EPERM;
    return (void *)(intptr_t)r;
}

Test(cond, wait_releases_a_recursive_mutex_fully_and_restores_its_count)
{
    green_t t;
    void *v;

    green_mutex_init(&gm, GREEN_MUTEX_RECURSIVE);
    t = green_spawn(recursive_waiter, NULL);
    settle();
    cr_assert_eq(green_mutex_trylock(&gm), 0, "released completely while waiting");
    woke = 1;
    green_cond_signal(&gc);
    green_mutex_unlock(&gm);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq((intptr_t)v, 0);
}

static void *wait_forever(void *arg)
{
    green_mutex_lock(&gm);
    for (;;)
        green_cond_wait(&gc, &gm);
    return NULL;
}

Test(cond, killed_waiter_ends_holding_the_mutex)
{
    green_t t = green_spawn(wait_forever, NULL);

    settle();
    cr_assert_eq(green_mutex_trylock(&gm), 0, "free while the thread waits");
    cr_assert_eq(green_kill(t), 0);
    settle();
    /* The killed thread needs the mutex back before it can end. */
    cr_assert_eq(green_value(t, NULL), EBUSY);
    green_mutex_unlock(&gm);
    join_killed(t);
    cr_assert_eq(green_mutex_trylock(&gm), EBUSY, "the killed thread ended holding it");
    cr_assert_eq(green_cond_destroy(&gc), 0);
}

static void signal_cond(void *c)
{
    green_cond_signal(c);
}

Test(cond, signal_from_a_plain_pthread_or_a_pool_worker_wakes_a_green_waiter)
{
    woken_from_pthread(wait_once_count, signal_cond, &gc);
    woken_from_pool(wait_once_count, signal_cond, &gc);
    cr_assert_eq(woke, 2);
}

/* ------------------------------------------------------------------ rwlock */

static green_rwlock_t grw;

static void *read_and_log(void *arg)
{
    int r = green_rwlock_rdlock(&grw);
    order[norder++] = (int)(intptr_t)arg;
    green_rwlock_unlock(&grw);
    return (void *)(intptr_t)r;
}

static void *write_and_log(void *arg)
{
    int r = green_rwlock_wrlock(&grw);
    order[norder++] = (int)(intptr_t)arg;
    green_yield();
    green_rwlock_unlock(&grw);
    return (void *)(intptr_t)r;
}

Test(rwlock, readers_share_it_and_a_writer_waits_for_them)
{
    green_rwlock_t rw = GREEN_RWLOCK_INIT;

    cr_assert_eq(green_rwlock_rdlock(&rw), 0);
    cr_assert_eq(green_rwlock_rdlock(&rw), 0);
    cr_assert_eq(green_rwlock_tryrdlock(&rw), 0);
    cr_assert_eq(green_rwlock_trywrlock(&rw), EBUSY);
    cr_assert_eq(green_rwlock_timedwrlock(&rw, green_now() + 50 * MS), ETIMEDOUT);
    cr_assert_eq(green_rwlock_destroy(&rw), EBUSY);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(green_rwlock_unlock(&rw), 0);
    cr_assert_eq(green_rwlock_unlock(&rw), EPERM);
    cr_assert_eq(green_rwlock_trywrlock(&rw), 0);
    cr_assert_eq(green_rwlock_unlock(&rw), 0);
    cr_assert_eq(green_rwlock_destroy(&rw), 0);
}

static void *try_both(void *arg)
{
    int *r = arg;
    int64_t t0 = green_now();

    r[0] = green_rwlock_tryrdlock(&grw);
    r[1] = green_rwlock_trywrlock(&grw);
    r[2] = green_rwlock_timedrdlock(&grw, t0 + 200 * MS);
    r[3] = since(t0) >= 0.2 && since(t0) < 2.0;
    r[4] = green_rwlock_unlock(&grw);
    return NULL;
}

Test(rwlock, a_writer_excludes_everyone_and_relocking_is_edeadlk)
{
    int r[5];

    cr_assert_eq(green_rwlock_wrlock(&grw), 0);
    cr_assert_eq(green_rwlock_rdlock(&grw), EDEADLK);
    cr_assert_eq(green_rwlock_wrlock(&grw), EDEADLK);
    cr_assert_eq(green_rwlock_timedwrlock(&grw, GREEN_NO_DEADLINE), EDEADLK);
    cr_assert_eq(green_rwlock_tryrdlock(&grw), EBUSY);
    cr_assert_eq(green_rwlock_trywrlock(&grw), EBUSY);
    cr_assert_eq(green_join(green_spawn(try_both, r), NULL), 0);
    cr_assert_eq(r[0], EBUSY);
    cr_assert_eq(r[1], EBUSY);
    cr_assert_eq(r[2], ETIMEDOUT);
    cr_assert(r[3], "timedrdlock outside [0.2 s, 2 s)");
    cr_assert_eq(r[4], EPERM, "a foreign thread cannot unlock the writer's lock");
    cr_assert_eq(green_rwlock_unlock(&grw), 0);
}

Test(rwlock, a_reader_arriving_while_a_writer_waits_waits_too)
{
    green_t w, r;

    cr_assert_eq(green_rwlock_rdlock(&grw), 0);
    w = green_spawn(write_and_log, (void *)1);
    settle();
    r = green_spawn(read_and_log, (void *)2);
    settle();
    cr_assert_eq(norder, 0, "the reader got in ahead of the waiting writer");
    cr_assert_eq(green_rwlock_tryrdlock(&grw), EBUSY);
    cr_assert_eq(green_rwlock_unlock(&grw), 0);
    cr_assert_eq(green_join(w, NULL), 0);
    cr_assert_eq(green_join(r, NULL), 0);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 1);
    cr_assert_eq(order[1], 2);
}

static void *timed_writer(void *arg)
{
    return (void *)(intptr_t)green_rwlock_timedwrlock(&grw, green_now() + 100 * MS);
}

Test(rwlock, a_writer_giving_up_lets_the_readers_behind_it_in)
{
    green_t w, r[3];
    void *v;

    cr_assert_eq(green_rwlock_rdlock(&grw), 0);
    w = green_spawn(timed_writer, NULL);
    settle();
    for (int i = 0; i < 3; i++)
        r[i] = green_spawn(read_and_log, (void *)(intptr_t)(i + 10));
    settle();
    cr_assert_eq(norder, 0);
    cr_assert_eq(green_join(w, &v), 0);
    cr_assert_eq((intptr_t)v, ETIMEDOUT);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(green_join(r[i], &v), 0);
        cr_assert_eq((intptr_t)v, 0);
        cr_assert_eq(order[i], i + 10);
    }
    cr_assert_eq(green_rwlock_unlock(&grw), 0);
    cr_assert_eq(green_rwlock_destroy(&grw), 0);
}

static void *wrlock_forever(void *arg)
{
    green_rwlock_wrlock(&grw);
    order[norder++] = 1;
    return NULL;
}

Test(rwlock, killed_waiter_ends_and_the_lock_still_works)
{
    green_t t;

    cr_assert_eq(green_rwlock_rdlock(&grw), 0);
    t = green_spawn(wrlock_forever, NULL);
    settle();
    cr_assert_eq(green_rwlock_destroy(&grw), EBUSY);
    green_kill(t);
    join_killed(t);
    cr_assert_eq(norder, 0);
    cr_assert_eq(green_rwlock_tryrdlock(&grw), 0, "no writer waits any more");
    cr_assert_eq(green_rwlock_unlock(&grw), 0);
    cr_assert_eq(green_rwlock_unlock(&grw), 0);
    cr_assert_eq(green_rwlock_destroy(&grw), 0);
    cr_assert_eq(green_rwlock_trywrlock(&grw), 0);
    cr_assert_eq(green_rwlock_unlock(&grw), 0);
}

/* --------------------------------------------------------------- semaphore */

static green_sem_t gs;

static void post_sem(void *s)
{
    green_sem_post(s);
}

static void *sem_wait_thread(void *arg)
{
    return (void *)(intptr_t)green_sem_wait(&gs);
}

Test(sem, post_wait_trywait_and_getvalue)
{
    unsigned v;

    cr_assert_eq(green_sem_init(&gs, 2), 0);
    cr_assert_eq(green_sem_wait(&gs), 0);
    cr_assert_eq(green_sem_trywait(&gs), 0);
    cr_assert_eq(green_sem_trywait(&gs), EAGAIN);
    cr_assert_eq(green_sem_post(&gs), 0);
    cr_assert_eq(green_sem_post(&gs), 0);
    cr_assert_eq(green_sem_getvalue(&gs, &v), 0);
    cr_assert_eq(v, 2);
    cr_assert_eq(green_sem_destroy(&gs), 0);
    cr_assert_eq(green_sem_init(&gs, UINT_MAX), 0);
    cr_assert_eq(green_sem_post(&gs), EOVERFLOW);
}

Test(sem, timedwait_times_out_at_zero)
{
    int64_t t0 = green_now();

    cr_assert_eq(green_sem_timedwait(&gs, t0 + 200 * MS), ETIMEDOUT);
    cr_assert_geq(since(t0), 0.2);
    cr_assert_lt(since(t0), 2.0);
    cr_assert_eq(green_sem_timedwait(&gs, t0), ETIMEDOUT);
}

Test(sem, post_gives_the_token_to_a_waiter_not_the_count)
{
    green_t t = green_spawn(sem_wait_thread, NULL);
    unsigned v;
    void *r;

    settle();
    cr_assert_eq(green_sem_destroy(&gs), EBUSY);
    cr_assert_eq(green_sem_post(&gs), 0);
    cr_assert_eq(green_sem_getvalue(&gs, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(green_sem_trywait(&gs), EAGAIN, "the token went to the waiter");
    cr_assert_eq(green_join(t, &r), 0);
    cr_assert_eq((intptr_t)r, 0);
}

Test(sem, post_from_a_plain_pthread_or_a_pool_worker_wakes_a_green_waiter)
{
    woken_from_pthread(sem_wait_thread, post_sem, &gs);
    woken_from_pool(sem_wait_thread, post_sem, &gs);
}

Test(sem, killed_waiter_takes_no_token)
{
    green_t t = green_spawn(sem_wait_thread, NULL);
    unsigned v;

    settle();
    green_kill(t);
    join_killed(t);
    cr_assert_eq(green_sem_destroy(&gs), 0);
    cr_assert_eq(green_sem_post(&gs), 0);
    cr_assert_eq(green_sem_getvalue(&gs, &v), 0);
    cr_assert_eq(v, 1);
}

/* -------------------------------------------------------------------- once */

static green_once_t go = GREEN_ONCE_INIT;
static int calls, finished;

static void slow_init(void)
{
    calls++;
    green_sleep(0.05);
    finished = 1;
}

static void *call_once(void *arg)
{
    int r = green_once(&go, slow_init);
    return (void *)(intptr_t)(r == 0 && finished ? 0 : 1);
}

Test(once, concurrent_callers_run_fn_once_and_return_after_it)
{
    green_t t[5];
    void *v;

    for (int i = 0; i < 5; i++)
        t[i] = green_spawn(call_once, NULL);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(green_join(t[i], &v), 0);
        cr_assert_eq((intptr_t)v, 0, "returned before fn had finished");
    }
    cr_assert_eq(calls, 1);
    cr_assert_eq(green_once(&go, slow_init), 0);
    cr_assert_eq(calls, 1);
}

static void gated_init(void)
{
    calls++;
    green_event_wait(&gate);
    finished = 1;
}

static void *call_gated_once(void *arg)
{
    int r = green_once(&go, gated_init);
    return (void *)(intptr_t)(r == 0 && finished ? 0 : 1);
}

Test(once, a_killed_runner_lets_the_next_caller_run_fn)
{
    green_t runner = green_spawn(call_gated_once, NULL), waiter;
    void *v;

    settle();
    waiter = green_spawn(call_gated_once, NULL);
    settle();
    cr_assert_eq(calls, 1);
    green_kill(runner);
    join_killed(runner);
    /* The waiter notices the runner is gone and runs fn itself. */
    for (int i = 0; i < 200 && calls < 2; i++)
        green_sleep(0.01);
    cr_assert_eq(calls, 2);
    green_event_set(&gate);
    cr_assert_eq(green_join(waiter, &v), 0);
    cr_assert_eq((intptr_t)v, 0);
    cr_assert_eq(green_once(&go, gated_init), 0);
    cr_assert_eq(calls, 2);
}

static void *wait_once_forever(void *arg)
{
    green_once(&go, gated_init);
    return NULL;
}

Test(once, a_killed_waiter_ends_and_the_once_still_completes)
{
    green_t runner = green_spawn(call_gated_once, NULL), waiter;
    void *v;

    settle();
    waiter = green_spawn(wait_once_forever, NULL);
    settle();
    green_kill(waiter);
    join_killed(waiter);
    green_event_set(&gate);
    cr_assert_eq(green_join(runner, &v), 0);
    cr_assert_eq((intptr_t)v, 0);
    cr_assert_eq(calls, 1);
}

static int self_once_result;

static void reentrant_init(void)
{
    calls++;
    self_once_result = green_once(&go, reentrant_init);
}

Test(once, fn_calling_its_own_once_gets_edeadlk)
{
    cr_assert_eq(green_once(&go, reentrant_init), 0);
    cr_assert_eq(self_once_result, EDEADLK);
    cr_assert_eq(calls, 1);
    cr_assert_eq(green_once(&go, NULL), EINVAL);
}

/* ----------------------------------------------------------------- barrier */

#define ROUNDS 5
#define PARTIES 4

static green_barrier_t gb;
static int arrived[ROUNDS], serial[ROUNDS];

static void *barrier_rounds(void *arg)
{
    for (int round = 0; round < ROUNDS; round++) {
        arrived[round]++;
        int r = green_barrier_wait(&gb);
        if (r == GREEN_BARRIER_SERIAL_THREAD)
            serial[round]++;
        else if (r != 0)
            return (void *)1;
        if (arrived[round] != PARTIES)
            return (void *)2; /* left before everyone arrived */
        if (round % 2)
            green_sleep(0.001 * (intptr_t)arg); /* arrive in a different order */
    }
    return NULL;
}

Test(barrier, one_serial_thread_per_round_over_several_rounds)
{
    green_t t[PARTIES];
    void *v;

    cr_assert_eq(green_barrier_init(&gb, PARTIES), 0);
    for (intptr_t i = 0; i < PARTIES; i++)
        t[i] = green_spawn(barrier_rounds, (void *)i);
    for (int i = 0; i < PARTIES; i++) {
        cr_assert_eq(green_join(t[i], &v), 0);
        cr_assert_null(v);
    }
    for (int round = 0; round < ROUNDS; round++)
        cr_assert_eq(serial[round], 1, "round %d had %d serial threads", round, serial[round]);
    cr_assert_eq(green_barrier_destroy(&gb), 0);
}

static void *barrier_once(void *arg)
{
    return (void *)(intptr_t)green_barrier_wait(&gb);
}

Test(barrier, init_rejects_zero_and_destroy_is_busy_while_waited_on)
{
    green_barrier_t b = {0};
    green_t t;

    cr_assert_eq(green_barrier_init(&b, 0), EINVAL);
    cr_assert_eq(green_barrier_wait(&b), EINVAL);
    cr_assert_eq(green_barrier_init(&gb, 2), 0);
    t = green_spawn(barrier_once, NULL);
    settle();
    cr_assert_eq(green_barrier_destroy(&gb), EBUSY);
    cr_assert_eq(green_barrier_wait(&gb), GREEN_BARRIER_SERIAL_THREAD);
    cr_assert_eq(green_join(t, NULL), 0);
    cr_assert_eq(green_barrier_destroy(&gb), 0);
}

Test(barrier, a_killed_waiter_withdraws_its_arrival)
{
    green_t t, u;
    void *v;
    int r;

    cr_assert_eq(green_barrier_init(&gb, 2), 0);
    t = green_spawn(barrier_once, NULL);
    settle();
    green_kill(t);
    join_killed(t);
    cr_assert_eq(green_barrier_destroy(&gb), 0);
    u = green_spawn(barrier_once, NULL);
    settle();
    r = green_barrier_wait(&gb);
    cr_assert_eq(green_join(u, &v), 0);
    cr_assert_eq(r, GREEN_BARRIER_SERIAL_THREAD, "the round needed two live arrivals");
    cr_assert_eq((intptr_t)v, 0);
}

/* ------------------------------------------------------------------- event */

static green_event_t ge;

static void *event_waiter(void *arg)
{
    return (void *)(intptr_t)green_event_wait(&ge);
}

static void set_event(void *e)
{
    green_event_set(e);
}

Test(event, set_wakes_every_waiter_and_stays_set_until_clear)
{
    green_event_t e = GREEN_EVENT_INIT;
    green_t t[3];
    void *v;
    int64_t t0;

    cr_assert_eq(green_event_is_set(&ge), 0);
    for (int i = 0; i < 3; i++)
        t[i] = green_spawn(event_waiter, NULL);
    settle();
    cr_assert_eq(green_event_destroy(&ge), EBUSY);
    cr_assert_eq(green_event_set(&ge), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(green_join(t[i], &v), 0);
        cr_assert_eq((intptr_t)v, 0);
    }
    cr_assert_eq(green_event_is_set(&ge), 1);
    cr_assert_eq(green_event_wait(&ge), 0);
    cr_assert_eq(green_event_timedwait(&ge, 0), 0, "set: returns at once");
    cr_assert_eq(green_event_clear(&ge), 0);
    cr_assert_eq(green_event_is_set(&ge), 0);
    t0 = green_now();
    cr_assert_eq(green_event_timedwait(&ge, t0 + 200 * MS), ETIMEDOUT);
    cr_assert_geq(since(t0), 0.2);
    cr_assert_lt(since(t0), 2.0);
    cr_assert_eq(green_event_destroy(&ge), 0);
    cr_assert_eq(green_event_init(&e), 0);
    cr_assert_eq(green_event_is_set(&e), 0);
}

Test(event, set_from_a_plain_pthread_or_a_pool_worker_wakes_a_green_waiter)
{
    woken_from_pthread(event_waiter, set_event, &ge);
    green_event_clear(&ge);
    woken_from_pool(event_waiter, set_event, &ge);
}

Test(event, killed_waiter_ends_and_the_event_still_works)
{
    green_t t = green_spawn(event_waiter, NULL), u;
    void *v;

    settle();
    green_kill(t);
    join_killed(t);
    cr_assert_eq(green_event_destroy(&ge), 0);
    u = green_spawn(event_waiter, NULL);
    settle();
    green_event_set(&ge);
    cr_assert_eq(green_join(u, &v), 0);
    cr_assert_eq((intptr_t)v, 0);
}

/* ------------------------------------------- contention across OS threads
 * Several OS threads, each running several green threads, on one object: every hand-off
 * between OS threads goes through the remote path of the waiter protocol, so a lost or
 * doubled wake shows up as a wrong count or a hang. */

#define OS_THREADS 4
#define GREENS 4
#define ITER 5000

static long counter;

static void *count_under_mutex(void *arg)
{
    for (int i = 0; i < ITER; i++) {
        green_mutex_lock(&gm);
        long c = counter;
        if (i % 5 == 0)
            green_yield(); /* hold it across a switch: others queue */
        counter = c + 1;
        green_mutex_unlock(&gm);
    }
    return NULL;
}

/* One OS thread: GREENS green threads running fn, joined. */
static void *greens_of(void *fn)
{
    green_t t[GREENS];

    for (int i = 0; i < GREENS; i++)
        t[i] = green_spawn((void *(*)(void *))fn, NULL);
    for (int i = 0; i < GREENS; i++)
        green_join(t[i], NULL);
    return NULL;
}

static void run_os_threads(void *(*fn)(void *), int n)
{
    pthread_t tid[OS_THREADS];

    for (int i = 0; i < n; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, greens_of, (void *)fn), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(pthread_join(tid[i], NULL), 0);
}

Test(mutex, no_update_is_lost_across_several_os_threads)
{
    run_os_threads(count_under_mutex, OS_THREADS);
    cr_assert_eq(counter, (long)OS_THREADS * GREENS * ITER);
}

#define SLOTS 4

static green_cond_t not_full, not_empty;
static int queued, produced, consumed;
static long sum;

static void *produce(void *arg)
{
    for (int i = 1; i <= ITER; i++) {
        green_mutex_lock(&gm);
        while (queued == SLOTS)
            green_cond_wait(&not_full, &gm);
        queued++;
        sum += i;
        produced++;
        green_cond_signal(&not_empty);
        green_mutex_unlock(&gm);
    }
    return NULL;
}

static void *consume(void *arg)
{
    for (int i = 1; i <= ITER; i++) {
        green_mutex_lock(&gm);
        while (queued == 0)
            green_cond_wait(&not_empty, &gm);
        queued--;
        consumed++;
        green_cond_signal(&not_full);
        green_mutex_unlock(&gm);
    }
    return NULL;
}

static void *producers_and_consumers(void *arg)
{
    return greens_of((intptr_t)arg % 2 ? (void *)produce : (void *)consume);
}

Test(cond, producers_and_consumers_on_several_os_threads_lose_no_signal)
{
    pthread_t tid[OS_THREADS];

    for (intptr_t i = 0; i < OS_THREADS; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, producers_and_consumers, (void *)i), 0);
    for (int i = 0; i < OS_THREADS; i++)
        cr_assert_eq(pthread_join(tid[i], NULL), 0);
    cr_assert_eq(produced, OS_THREADS / 2 * GREENS * ITER);
    cr_assert_eq(consumed, produced);
    cr_assert_eq(queued, 0);
    cr_assert_eq(sum, (long)OS_THREADS / 2 * GREENS * ITER * (ITER + 1) / 2);
}

static green_sem_t ping, pong;

static void *sem_ping(void *arg)
{
    for (int i = 0; i < ITER; i++) {
        green_sem_wait(&ping);
        green_sem_post(&pong);
    }
    return NULL;
}

static void *sem_pong(void *arg)
{
    for (int i = 0; i < ITER; i++) {
        green_sem_post(&ping);
        green_sem_wait(&pong);
    }
    return NULL;
}

static void *ping_or_pong(void *arg)
{
    return greens_of(arg ? (void *)sem_ping : (void *)sem_pong);
}

Test(sem, tokens_pass_between_os_threads_without_loss)
{
    pthread_t a, b;
    unsigned v;

    cr_assert_eq(pthread_create(&a, NULL, ping_or_pong, (void *)1), 0);
    cr_assert_eq(pthread_create(&b, NULL, ping_or_pong, NULL), 0);
    cr_assert_eq(pthread_join(a, NULL), 0);
    cr_assert_eq(pthread_join(b, NULL), 0);
    green_sem_getvalue(&ping, &v);
    cr_assert_eq(v, 0);
    green_sem_getvalue(&pong, &v);
    cr_assert_eq(v, 0);
}

static green_rwlock_t crw;
static long shared_a, shared_b;

static void *read_or_write(void *arg)
{
    long bad = 0;

    for (int i = 0; i < ITER; i++) {
        if (i % 4 == 0) {
            green_rwlock_wrlock(&crw);
            shared_a++;
            green_yield();
            shared_b++;
            green_rwlock_unlock(&crw);
        } else {
            green_rwlock_rdlock(&crw);
            long a = shared_a;
            green_yield();
            bad += a != shared_b || a != shared_a;
            green_rwlock_unlock(&crw);
        }
    }
    return (void *)bad;
}

static long rw_bad;

static void *rw_greens(void *arg)
{
    green_t t[GREENS];
    void *v;

    for (int i = 0; i < GREENS; i++)
        t[i] = green_spawn(read_or_write, NULL);
    for (int i = 0; i < GREENS; i++) {
        green_join(t[i], &v);
        __atomic_add_fetch(&rw_bad, (long)v, __ATOMIC_RELAXED);
    }
    return NULL;
}

Test(rwlock, writers_exclude_readers_across_several_os_threads)
{
    pthread_t tid[OS_THREADS];

    for (int i = 0; i < OS_THREADS; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, rw_greens, NULL), 0);
    for (int i = 0; i < OS_THREADS; i++)
        cr_assert_eq(pthread_join(tid[i], NULL), 0);
    cr_assert_eq(rw_bad, 0);
    cr_assert_eq(shared_a, (long)OS_THREADS * GREENS * (ITER / 4));
    cr_assert_eq(shared_b, shared_a);
    cr_assert_eq(green_rwlock_destroy(&crw), 0);
}

static int once_bad;

static void *call_once_counting(void *arg)
{
    if (call_once(arg))
        __atomic_add_fetch(&once_bad, 1, __ATOMIC_RELAXED);
    return NULL;
}

Test(once, callers_on_several_os_threads_run_fn_once)
{
    run_os_threads(call_once_counting, OS_THREADS);
    cr_assert_eq(once_bad, 0, "a caller returned before fn had finished");
    cr_assert_eq(__atomic_load_n(&calls, __ATOMIC_RELAXED), 1);
}
