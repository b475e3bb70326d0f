/*
 * probe_thread — differential scenarios for the pthread calls: mutex kinds, trylock and
 * timedlock, condition variables with timeouts and clocks, semaphores, join and its
 * errors, once, keys with destructors, and cancellation with cleanup handlers.  See
 * probe.h for the transcript.
 *
 * Threads other than main record what they saw in a struct; main prints it after the
 * join, so the transcript never depends on the order threads run in.
 */
#include "probe.h"

#include <limits.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <sys/select.h>

static pthread_t spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;

    if (pthread_create(&t, NULL, fn, arg))
        setup_failed("pthread_create");
    return t;
}

static const char *rc(int r)
{
    return r == 0 ? "0" : errname(r);
}

static const struct timespec bad_ns = {0, 1000000000}, past = {1, 0};

/* ------------------------------------------------------------------ mutex */

static void mutex_of(pthread_mutex_t *m, int type)
{
    pthread_mutexattr_t a;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, type);
    SETUP(-pthread_mutex_init(m, &a));
    pthread_mutexattr_destroy(&a);
}

/* What another thread gets from trylock on m, held by main, and from unlock (only where
 * the type defines it: a normal mutex unlocked by another thread is undefined). */
struct other {
    pthread_mutex_t *m;
    int unlock;
    int r_trylock, r_unlock;
};

static void *other_main(void *p)
{
    struct other *o = p;

    o->r_trylock = pthread_mutex_trylock(o->m);
    if (o->unlock)
        o->r_unlock = pthread_mutex_unlock(o->m);
    return NULL;
}

static void from_other_thread(pthread_mutex_t *m, int unlock)
{
    struct other o = {m, unlock, -1, -1};

    pthread_join(spawn(other_main, &o), NULL);
    say("other thread: trylock %s", rc(o.r_trylock));
    if (unlock)
        say("other thread: unlock %s", rc(o.r_unlock));
}

SCENARIO(mutex_normal)
{
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

    RC(pthread_mutex_lock(&m));
    RC(pthread_mutex_trylock(&m));
    from_other_thread(&m, 0);
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_trylock(&m));
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_destroy(&m));
}

/* The kinds that know their owner answer the same sequence, each in its own way. */
static void owned_mutex(int type)
{
    pthread_mutex_t m;

    mutex_of(&m, type);
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_lock(&m));
    RC(pthread_mutex_lock(&m));
    RC(pthread_mutex_trylock(&m));
    from_other_thread(&m, 1);
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_destroy(&m));
}

SCENARIO(mutex_errorcheck)
{
    owned_mutex(PTHREAD_MUTEX_ERRORCHECK);
}

SCENARIO(mutex_recursive)
{
    owned_mutex(PTHREAD_MUTEX_RECURSIVE);
}

SCENARIO(mutex_static_initializers)
{
    static pthread_mutex_t r = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    static pthread_mutex_t e = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
    static pthread_mutex_t a = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;

    RC(pthread_mutex_lock(&r));
    RC(pthread_mutex_lock(&r));
    RC(pthread_mutex_lock(&e));
    RC(pthread_mutex_lock(&e));
    RC(pthread_mutex_lock(&a));
    RC(pthread_mutex_trylock(&a));
    RC(pthread_mutex_destroy(&a));
}

struct timed {
    pthread_mutex_t *m;
    sem_t *ready;
    int r[5];
    int waited;
};

static void *timed_main(void *p)
{
    struct timed *t = p;
    struct timespec ts = in_ms(CLOCK_REALTIME, 100);
    long long t0 = now_ms();

    t->r[0] = pthread_mutex_timedlock(t->m, &ts);
    t->waited = now_ms() - t0 >= 80;
    t->r[1] = pthread_mutex_timedlock(t->m, &bad_ns);
    t->r[2] = pthread_mutex_timedlock(t->m, &past);
    ts = in_ms(CLOCK_MONOTONIC, 50);
    t->r[3] = pthread_mutex_clocklock(t->m, CLOCK_MONOTONIC, &ts);
    sem_post(t->ready);
    ts = in_ms(CLOCK_REALTIME, 2000);
    t->r[4] = pthread_mutex_timedlock(t->m, &ts);
    if (t->r[4] == 0)
        pthread_mutex_unlock(t->m);
    return NULL;
}

SCENARIO(mutex_timedlock)
{
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    sem_t ready;
    struct timed t = {&m, &ready, {-1, -1, -1, -1, -1}, 0};
    pthread_t th;

    sem_init(&ready, 0, 0);
    RC(pthread_mutex_lock(&m));
    th = spawn(timed_main, &t);
    sem_wait(&ready);
    usleep(50000);
    RC(pthread_mutex_unlock(&m));
    pthread_join(th, NULL);
    say("timedlock held: %s waited %s", rc(t.r[0]), t.waited ? "yes" : "no");
    say("timedlock bad nsec: %s, past: %s, clocklock monotonic: %s", rc(t.r[1]), rc(t.r[2]),
        rc(t.r[3]));
    say("timedlock released meanwhile: %s", rc(t.r[4]));
}

SCENARIO(mutex_timedlock_free)
{
    pthread_mutex_t m, e;
    struct timespec ts = in_ms(CLOCK_REALTIME, 100);

    mutex_of(&m, PTHREAD_MUTEX_NORMAL);
    mutex_of(&e, PTHREAD_MUTEX_ERRORCHECK);
    RC(pthread_mutex_timedlock(&m, &bad_ns));
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_timedlock(&m, &past));
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_clocklock(&m, 1234, &ts));
    RC(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &bad_ns));
    RC(pthread_mutex_timedlock(&e, &ts));
    RC(pthread_mutex_timedlock(&e, &ts));
}

SCENARIO(mutex_destroy_locked)
{
    pthread_mutex_t m;

    mutex_of(&m, PTHREAD_MUTEX_NORMAL);
    RC(pthread_mutex_lock(&m));
    RC(pthread_mutex_destroy(&m));
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_destroy(&m));
}

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static long count;

static void *count_main(void *p)
{
    (void)p;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&count_lock);
        long c = count;
        if (i % 100 == 0)
            sched_yield();
        count = c + 1;
        pthread_mutex_unlock(&count_lock);
    }
    return NULL;
}

SCENARIO(mutex_contention)
{
    pthread_t t[4];

    for (int i = 0; i < 4; i++)
        t[i] = spawn(count_main, NULL);
    for (int i = 0; i < 4; i++)
        RC(pthread_join(t[i], NULL));
    say("count %ld", count);
}

static void *lock_and_exit(void *p)
{
    pthread_mutex_lock(p);
    return NULL;
}

SCENARIO(mutex_robust)
{
    pthread_mutex_t m;
    pthread_mutexattr_t a;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    SETUP(-pthread_mutex_init(&m, &a));
    pthread_join(spawn(lock_and_exit, &m), NULL);
    RC(pthread_mutex_lock(&m));
    RC(pthread_mutex_consistent(&m));
    RC(pthread_mutex_unlock(&m));
    pthread_join(spawn(lock_and_exit, &m), NULL);
    RC(pthread_mutex_trylock(&m));
    RC(pthread_mutex_unlock(&m));
    RC(pthread_mutex_lock(&m));
}

/* ------------------------------------------------------------------- cond */

SCENARIO(cond_timedwait)
{
    pthread_mutex_t m;
    static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec ts = in_ms(CLOCK_REALTIME, 100);
    long long t0 = now_ms();

    mutex_of(&m, PTHREAD_MUTEX_ERRORCHECK);
    RC(pthread_mutex_lock(&m));
    RC(pthread_cond_timedwait(&c, &m, &ts));
    waited(t0, 100);
    RC(pthread_cond_timedwait(&c, &m, &bad_ns));
    RC(pthread_cond_timedwait(&c, &m, &past));
    RC(pthread_mutex_unlock(&m)); /* still held after each: 0, then EPERM */
    RC(pthread_mutex_unlock(&m));
    RC(pthread_cond_timedwait(&c, &m, &ts));
    RC(pthread_cond_wait(&c, &m));
}

SCENARIO(cond_clocks)
{
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    pthread_condattr_t a;
    struct timespec ts;
    long long t0;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    SETUP(-pthread_cond_init(&c, &a));
    RC(pthread_mutex_lock(&m));
    ts = in_ms(CLOCK_MONOTONIC, 100);
    t0 = now_ms();
    RC(pthread_cond_timedwait(&c, &m, &ts));
    waited(t0, 100);
    ts = in_ms(CLOCK_REALTIME, 100);
    t0 = now_ms();
    RC(pthread_cond_clockwait(&c, &m, CLOCK_REALTIME, &ts));
    waited(t0, 100);
    ts = in_ms(CLOCK_MONOTONIC, 100);
    t0 = now_ms();
    RC(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &ts));
    waited(t0, 100);
    RC(pthread_cond_clockwait(&c, &m, 1234, &ts));
    RC(pthread_mutex_unlock(&m));
}

struct waiter {
    pthread_mutex_t *m;
    pthread_cond_t *c;
    int *flag;
    int r;
};

static void *waiter_main(void *p)
{
    struct waiter *w = p;
    struct timespec ts = in_ms(CLOCK_REALTIME, 5000);

    pthread_mutex_lock(w->m);
    while (!*w->flag && w->r == 0)
        w->r = pthread_cond_timedwait(w->c, w->m, &ts);
    pthread_mutex_unlock(w->m);
    return NULL;
}

SCENARIO(cond_signal_broadcast)
{
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    int flag = 0;
    struct waiter w[3];
    pthread_t t[3];

    for (int i = 0; i < 3; i++) {
        w[i] = (struct waiter){&m, &c, &flag, 0};
        t[i] = spawn(waiter_main, &w[i]);
    }
    usleep(50000);
    RC(pthread_mutex_lock(&m));
    flag = 1;
    RC(pthread_cond_signal(&c));
    RC(pthread_cond_broadcast(&c));
    RC(pthread_mutex_unlock(&m));
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        say("waiter %d: %s", i, rc(w[i].r));
    }
    RC(pthread_cond_destroy(&c));
}

/* ------------------------------------------------------------- semaphore */

SCENARIO(sem_counts)
{
    sem_t s;
    int v = -1;

    CALL(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1));
    CALL(sem_init(&s, 0, 0));
    CALL(sem_trywait(&s));
    CALL(sem_post(&s));
    CALL(sem_getvalue(&s, &v));
    say("value %d", v);
    CALL(sem_trywait(&s));
    CALL(sem_init(&s, 0, SEM_VALUE_MAX));
    CALL(sem_post(&s));
    CALL(sem_destroy(&s));
}

static void do_post(void *p)
{
    sem_post(p);
}

SCENARIO(sem_wait_posted)
{
    sem_t s;
    struct later *l;

    sem_init(&s, 0, 0);
    l = after(50, do_post, &s);
    CALL(sem_wait(&s));
    finish(l);
}

SCENARIO(sem_timeouts)
{
    sem_t s;
    struct timespec ts = in_ms(CLOCK_REALTIME, 100);
    long long t0 = now_ms();

    sem_init(&s, 0, 0);
    CALL(sem_timedwait(&s, &ts));
    waited(t0, 100);
    CALL(sem_timedwait(&s, &bad_ns));
    CALL(sem_timedwait(&s, &past));
    ts = in_ms(CLOCK_MONOTONIC, 100);
    t0 = now_ms();
    CALL(sem_clockwait(&s, CLOCK_MONOTONIC, &ts));
    waited(t0, 100);
    CALL(sem_clockwait(&s, 1234, &ts));
    CALL(sem_post(&s));
    CALL(sem_timedwait(&s, &bad_ns));
}

SCENARIO(sem_wait_eintr)
{
    sem_t s;
    struct timespec ts = in_ms(CLOCK_REALTIME, 1000);

    sem_init(&s, 0, 0);
    interrupt_in(100);
    CALL(sem_wait(&s));
    interrupt_in(100);
    CALL(sem_timedwait(&s, &ts));
}

static sem_t restart_sem;

static void act_post(int fd)
{
    (void)fd;
    sem_post(&restart_sem);
}

SCENARIO(sem_wait_sa_restart)
{
    sem_init(&restart_sem, 0, 0);
    restart_then(act_post, -1);
    CALL(sem_wait(&restart_sem));
}

/* ------------------------------------------------------------------- join */

static void *return_42(void *p)
{
    (void)p;
    return (void *)42;
}

static void *exit_7(void *p)
{
    (void)p;
    pthread_exit((void *)7);
}

static void *nap(void *p)
{
    usleep((useconds_t)(intptr_t)p * 1000);
    return (void *)9;
}

SCENARIO(join_values)
{
    void *v = NULL;

    RC(pthread_join(spawn(return_42, NULL), &v));
    say("value %ld", (long)v);
    RC(pthread_join(spawn(exit_7, NULL), &v));
    say("value %ld", (long)v);
    RC(pthread_join(spawn(nap, (void *)50), &v));
    say("value %ld", (long)v);
}

SCENARIO(join_errors)
{
    pthread_t t;
    pthread_attr_t a;
    void *v = NULL;
    struct timespec ts = in_ms(CLOCK_REALTIME, 100);
    long long t0;

    RC(pthread_join(pthread_self(), NULL));
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    SETUP(-pthread_create(&t, &a, nap, (void *)300));
    RC(pthread_join(t, NULL));
    RC(pthread_detach(t));
    t = spawn(nap, (void *)300);
    RC(pthread_tryjoin_np(t, &v));
    t0 = now_ms();
    RC(pthread_timedjoin_np(t, &v, &ts));
    waited(t0, 100);
    RC(pthread_clockjoin_np(t, &v, 1234, &ts));
    RC(pthread_timedjoin_np(t, &v, &bad_ns)); /* glibc: waits for the thread */
    say("value %ld", (long)v);
    t = spawn(return_42, NULL);
    usleep(50000);
    RC(pthread_tryjoin_np(t, &v));
    say("value %ld", (long)v);
}

static void *say_later(void *p)
{
    (void)p;
    usleep(50000);
    say("thread done after main's pthread_exit");
    return NULL;
}

/* main's pthread_exit: the process lives until the last thread ends, then exits 0. */
SCENARIO(main_pthread_exit)
{
    spawn(say_later, NULL);
    say("main exits");
    pthread_exit(NULL);
}

static void *exit_process(void *p)
{
    (void)p;
    usleep(50000);
    exit(7);
}

SCENARIO(thread_calls_exit)
{
    pthread_t t = spawn(exit_process, NULL);

    say("joining");
    pthread_join(t, NULL);
    say("not reached");
}

/* ------------------------------------------------------------------- once */

static int once_count;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void slow_init(void)
{
    usleep(50000);
    once_count++;
}

static void *once_main(void *p)
{
    int *seen = p;

    pthread_once(&once, slow_init);
    *seen = once_count;
    return NULL;
}

SCENARIO(once_runs_once)
{
    int seen[4];
    pthread_t t[4];

    for (int i = 0; i < 4; i++)
        t[i] = spawn(once_main, &seen[i]);
    RC(pthread_once(&once, slow_init));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    say("count %d, threads saw %d %d %d %d", once_count, seen[0], seen[1], seen[2], seen[3]);
}

static void sleeping_init(void)
{
    once_count += 10;
    sleep(2); /* a cancellation point: the init is cancelled here */
    once_count += 100;
}

static void *once_cancel_main(void *p)
{
    (void)p;
    pthread_once(&once, sleeping_init);
    return NULL;
}

/* An init routine that is cancelled leaves the once untriggered: the next call runs it. */
SCENARIO(once_cancelled_init)
{
    pthread_t t = spawn(once_cancel_main, NULL);
    void *v = NULL;

    usleep(50000);
    RC(pthread_cancel(t));
    RC(pthread_join(t, &v));
    say("cancelled: %s count %d", v == PTHREAD_CANCELED ? "yes" : "no", once_count);
    RC(pthread_once(&once, slow_init));
    say("count %d", once_count);
}

/* ------------------------------------------------------------------- keys */

static pthread_key_t key;
static char dtor_log[256];
static int rounds;

static void log_dtor(void *v)
{
    size_t n = strlen(dtor_log);

    snprintf(dtor_log + n, sizeof dtor_log - n, "[%ld]", (long)v);
}

struct keyed {
    long set;
    long got;
};

static void *keyed_main(void *p)
{
    struct keyed *k = p;

    k->got = (long)pthread_getspecific(key);
    if (k->set)
        pthread_setspecific(key, (void *)k->set);
    return NULL;
}

SCENARIO(key_values)
{
    struct keyed a = {2, -1}, b = {0, -1};

    RC(pthread_key_create(&key, log_dtor));
    RC(pthread_setspecific(key, (void *)1));
    pthread_join(spawn(keyed_main, &a), NULL);
    pthread_join(spawn(keyed_main, &b), NULL);
    say("threads saw %ld %ld; main has %ld; destructors %s", a.got, b.got,
        (long)pthread_getspecific(key), dtor_log);
    RC(pthread_key_delete(key));
    RC(pthread_key_delete(key));
    RC(pthread_setspecific(key, (void *)3));
}

static void again_dtor(void *v)
{
    rounds++;
    pthread_setspecific(key, (void *)((long)v + 1));
}

static void *set_key(void *p)
{
    pthread_setspecific(key, p);
    return NULL;
}

SCENARIO(key_destructor_rounds)
{
    RC(pthread_key_create(&key, again_dtor));
    pthread_join(spawn(set_key, (void *)1), NULL);
    say("destructor ran %d times (PTHREAD_DESTRUCTOR_ITERATIONS %d)", rounds,
        PTHREAD_DESTRUCTOR_ITERATIONS);
}

/* ----------------------------------------------------------- cancellation */

enum blocker { B_READ, B_RECV, B_ACCEPT, B_POLL, B_SELECT, B_EPOLL, B_NANOSLEEP, B_SLEEP,
               B_COND, B_SEM, B_JOIN };

struct victim {
    enum blocker how;
    int fd;
    pthread_mutex_t m;
    pthread_cond_t c;
    sem_t s;
    int cleaned, reached;
};

static void cleanup(void *p)
{
    struct victim *v = p;

    v->cleaned++;
    if (v->how == B_COND)
        pthread_mutex_unlock(&v->m); /* cond_wait re-took it before the handler */
}

static void *victim_main(void *p)
{
    struct victim *v = p;
    struct pollfd pf = {v->fd, POLLIN, 0};
    struct epoll_event ev;
    fd_set r;
    int ep;

    pthread_cleanup_push(cleanup, v);
    switch (v->how) {
    case B_READ:
        read(v->fd, buf, 1);
        break;
    case B_RECV:
        recv(v->fd, buf, 1, 0);
        break;
    case B_ACCEPT:
        accept(v->fd, NULL, NULL);
        break;
    case B_POLL:
        poll(&pf, 1, -1);
        break;
    case B_SELECT:
        FD_ZERO(&r);
        FD_SET(v->fd, &r);
        select(v->fd + 1, &r, NULL, NULL, NULL);
        break;
    case B_EPOLL:
        ep = epoll_create1(0);
        ev.events = EPOLLIN;
        epoll_ctl(ep, EPOLL_CTL_ADD, v->fd, &ev);
        epoll_wait(ep, &ev, 1, -1);
        break;
    case B_NANOSLEEP: {
        struct timespec ts = {5, 0};
        nanosleep(&ts, NULL);
        break;
    }
    case B_SLEEP:
        sleep(5);
        break;
    case B_COND:
        pthread_mutex_lock(&v->m);
        pthread_cond_wait(&v->c, &v->m);
        pthread_mutex_unlock(&v->m);
        break;
    case B_SEM:
        sem_wait(&v->s);
        break;
    case B_JOIN:
        pthread_join(spawn(nap, (void *)5000), NULL);
        break;
    }
    v->reached = 1;
    pthread_cleanup_pop(0);
    return NULL;
}

/* A thread blocked in a cancellation point is cancelled: its cleanup handler runs and
 * join reports PTHREAD_CANCELED. */
static void cancel_blocked(enum blocker how)
{
    struct victim v = {how, -1, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    struct sockaddr_in a;
    int s[2];
    pthread_t t;
    void *r = NULL;

    sem_init(&v.s, 0, 0);
    pair(s);
    v.fd = how == B_ACCEPT ? tcp_listener(4, &a) : s[0];
    t = spawn(victim_main, &v);
    usleep(50000);
    RC(pthread_cancel(t));
    RC(pthread_join(t, &r));
    say("cancelled: %s cleanup ran %d, code after the wait ran: %s",
        r == PTHREAD_CANCELED ? "yes" : "no", v.cleaned, v.reached ? "yes" : "no");
    if (how == B_COND)
        RC(pthread_mutex_trylock(&v.m));
}

SCENARIO(cancel_read) { cancel_blocked(B_READ); }
SCENARIO(cancel_recv) { cancel_blocked(B_RECV); }
SCENARIO(cancel_accept) { cancel_blocked(B_ACCEPT); }
SCENARIO(cancel_poll) { cancel_blocked(B_POLL); }
SCENARIO(cancel_select) { cancel_blocked(B_SELECT); }
SCENARIO(cancel_epoll_wait) { cancel_blocked(B_EPOLL); }
SCENARIO(cancel_nanosleep) { cancel_blocked(B_NANOSLEEP); }
SCENARIO(cancel_sleep) { cancel_blocked(B_SLEEP); }
SCENARIO(cancel_cond_wait) { cancel_blocked(B_COND); }
SCENARIO(cancel_sem_wait) { cancel_blocked(B_SEM); }
SCENARIO(cancel_join) { cancel_blocked(B_JOIN); }

struct deferred {
    sem_t go;
    int slept, r;
};

static void *disabled_main(void *p)
{
    struct deferred *d = p;
    int old = -1;

    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    sem_wait(&d->go);
    usleep(50000); /* a cancellation point, but cancellation is off */
    d->slept = 1;
    d->r = pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    pthread_testcancel();
    d->slept = 2;
    return NULL;
}

SCENARIO(cancel_disabled)
{
    struct deferred d = {.slept = 0};
    pthread_t t;
    void *r = NULL;
    int old = -1;

    sem_init(&d.go, 0, 0);
    t = spawn(disabled_main, &d);
    usleep(20000);
    RC(pthread_cancel(t));
    sem_post(&d.go);
    RC(pthread_join(t, &r));
    say("cancelled: %s, slept %d, setcancelstate %s", r == PTHREAD_CANCELED ? "yes" : "no",
        d.slept, rc(d.r));
    RC(pthread_setcancelstate(42, &old));
    RC(pthread_setcanceltype(42, &old));
}

static char order[64];

static void note(void *p)
{
    strcat(order, p);
}

static void *cleanups_main(void *p)
{
    (void)p;
    pthread_cleanup_push(note, "1");
    pthread_cleanup_push(note, "2");
    pthread_cleanup_push(note, "x");
    pthread_cleanup_pop(0);
    pthread_cleanup_push(note, "3");
    pthread_cleanup_push(note, "p");
    pthread_cleanup_pop(1);
    pthread_exit((void *)5);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return NULL;
}

SCENARIO(cleanup_order)
{
    void *r = NULL;

    RC(pthread_join(spawn(cleanups_main, NULL), &r));
    say("value %ld handlers ran %s", (long)r, order);
}

SCENARIO(cancel_finished_thread)
{
    pthread_t t = spawn(return_42, NULL);
    void *r = NULL;

    usleep(50000);
    RC(pthread_cancel(t));
    RC(pthread_join(t, &r));
    say("value %ld", (long)r);
}

struct held {
    pthread_mutex_t *m;
    int locked;
};

static void *lock_then_test(void *p)
{
    struct held *h = p;

    pthread_mutex_lock(h->m); /* not a cancellation point */
    h->locked = 1;
    pthread_mutex_unlock(h->m);
    pthread_testcancel();
    h->locked = 2;
    return NULL;
}

SCENARIO(cancel_during_mutex_lock)
{
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    struct held h = {&m, 0};
    pthread_t t;
    void *r = NULL;

    RC(pthread_mutex_lock(&m));
    t = spawn(lock_then_test, &h);
    usleep(50000);
    RC(pthread_cancel(t));
    usleep(20000);
    RC(pthread_mutex_unlock(&m));
    RC(pthread_join(t, &r));
    say("cancelled: %s, got the lock: %s", r == PTHREAD_CANCELED ? "yes" : "no",
        h.locked >= 1 ? "yes" : "no");
}

static void *async_main(void *p)
{
    long long t0 = now_ms();
    int old;

    (void)p;
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
    while (now_ms() - t0 < 500)
        sched_yield();
    return (void *)1;
}

/* Asynchronous cancellation ends a thread that never reaches a cancellation point. */
SCENARIO(cancel_asynchronous)
{
    pthread_t t = spawn(async_main, NULL);
    void *r = NULL;

    usleep(50000);
    RC(pthread_cancel(t));
    RC(pthread_join(t, &r));
    say("cancelled: %s", r == PTHREAD_CANCELED ? "yes" : "no");
}

/* ----------------------------------------------------- signals during waits
 *
 * A handler without SA_RESTART interrupts the waits that may fail with EINTR, and none of
 * these: mutex and condition-variable waits and pthread_join carry on (a condition
 * variable may wake spuriously, which the transcript would show).
 */

SCENARIO(signal_during_mutex_timedlock)
{
    pthread_mutex_t m;
    struct timespec ts;

    mutex_of(&m, PTHREAD_MUTEX_NORMAL);
    RC(pthread_mutex_lock(&m));
    interrupt_in(50);
    ts = in_ms(CLOCK_REALTIME, 200);
    RC(pthread_mutex_timedlock(&m, &ts)); /* held by this very thread: waits it out */
}

SCENARIO(signal_during_cond_timedwait)
{
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec ts = in_ms(CLOCK_REALTIME, 200);
    long long t0 = now_ms();

    RC(pthread_mutex_lock(&m));
    interrupt_in(50);
    RC(pthread_cond_timedwait(&c, &m, &ts));
    waited(t0, 200);
    RC(pthread_mutex_unlock(&m));
}

/* The joined thread starts with SIGALRM blocked, so the kernel delivers it to main. */
SCENARIO(signal_during_join)
{
    sigset_t alrm;
    pthread_t t;
    void *v = NULL;

    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, NULL);
    t = spawn(nap, (void *)200);
    pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
    interrupt_in(50);
    RC(pthread_join(t, &v));
    say("value %ld", (long)v);
}

/* While one thread waits in sigtimedwait, which takes no descriptor in the kernel, another
 * opens a file: it gets the lowest free number, and then sends the signal waited for. */
static int sigwait_lowest, sigwait_got;

static void open_then_signal(void *p)
{
    int fd = open("/dev/null", O_RDONLY);

    (void)p;
    sigwait_got = fd;
    kill(getpid(), SIGUSR1);
}

SCENARIO(sigtimedwait_keeps_numbers)
{
    sigset_t usr1;
    struct later *l;

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    sigwait_lowest = SETUP(dup(0));
    close(sigwait_lowest);
    l = after(100, open_then_signal, NULL);
    CALL(sigtimedwait(&usr1, NULL, &(struct timespec){5, 0}));
    finish(l);
    say("the other thread's new number is the lowest free: %s",
        sigwait_got == sigwait_lowest ? "yes" : "no");
}
