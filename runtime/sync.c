/*
 * sync.c — the cooperative synchronisation objects of green.h: mutex, condition variable,
 * rwlock, semaphore, once, barrier and event.
 *
 * Every object is its own spinlock plus a queue of waiters, driven by the waiter protocol
 * (wait.c): a green thread queues itself under the object's lock and parks; whoever
 * releases the object dequeues a waiter under the same lock and wakes it, from any OS
 * thread (a green thread of another OS thread, a pool worker, a plain pthread).  Only
 * waiting needs a green thread.  Wakers therefore never call green__current(), which would
 * give per-thread green state to an OS thread that wants none; they use self_peek().
 * Nothing here calls libc: a preload hook could wrap it and recurse into this file.
 *
 * Hand-off.  A waker does not just wake a waiter so that it may try again: it gives it
 * what it waited for (the mutex, the write or read lock, the semaphore token, the round's
 * end) under the lock, before the waiter runs.  So nobody barges past the queue, and no
 * grant is lost when the waiter's own wait ends at the same moment: the protocol lets a
 * claimed waiter's hand-off stand over its timeout, kill or deadlock, and a waiter that was
 * not claimed leaves the queue having taken nothing.  Invariants, under each object's lock:
 *   mutex   waiters queued => owner set; unlock passes ownership to the head waiter (FIFO).
 *   cond    a waiter is queued on the cond before it releases the mutex (cond lock held
 *           across both), so no signal between the two is lost.  Lock order: cond, then
 *           mutex; nothing else nests object locks.
 *   rwlock  waiters are queued in arrival order, w.data says reader or writer; rw_grant
 *           lets in the head writer when the lock is free, or every reader at the head
 *           while no writer holds it.  A reader queues whenever the queue is not empty,
 *           so one behind a waiting writer waits: writers are preferred and never starve.
 *           A waiter that gives up may have been what held the others back (a writer at
 *           the head), so rw_grant runs again after every failed wait.
 *   sem     value > 0 => no waiters; post gives its token straight to the head waiter.
 *   barrier `waiting` counts this round's arrivals; the last one ends the round (bumps
 *           `generation`, wakes everyone) and is the serial thread.  A wait that fails
 *           withdraws its arrival, unless the round ended meanwhile.
 *   event   set wakes every waiter and stays set until clear.
 *
 * Condition wait and kill.  As with a cancelled pthread_cond_wait, a killed thread ends
 * holding the mutex: the cond wait re-locks on every path (signal, timeout, kill, deadlock)
 * before it ends or returns.  Re-locking is itself a wait, and for a killed thread every
 * killable wait returns -ECANCELED at once, so relock() waits with nokill: the kill
 * stays pending and takes effect when cond_wait returns.  Only a
 * deadlock while re-locking makes green_cond_wait return (EDEADLK) without the mutex: no
 * thread can ever release it.  A recursive mutex is released completely and gets its
 * count back.
 *
 * Once.  fn runs in the first caller; later callers wait for it to finish.  If the runner
 * is killed (or calls green_exit) inside fn it never comes back to say so, and nothing in
 * the scheduler tells anyone that a thread ended, so the waiters cannot be woken by it.
 * Instead they wake now and then (1 ms, doubling to 128 ms) and check whether the runner
 * still lives; if not, the first to notice runs fn itself, and the others go on waiting
 * for it.  To check, the object names its runner while fn runs: `waiters.tail` holds the
 * runner's struct green_thread (never freed, only reused for later lives) and `state` its
 * generation (low 31 bits, with the sign bit meaning "running"); the waiters themselves
 * are a singly linked list from `waiters.head`, each with a private queue for the waiter
 * protocol.  So a once never hangs on a dead runner; the price is that its waiters hold a
 * timer, so the hub's deadlock check cannot report a once that fn itself deadlocks, and
 * that the next caller starts up to 128 ms late.  A runner that calls green_once on its
 * own once gets EDEADLK.
 *   Rejected: waiting without a timer and relying on the deadlock check (it only fires
 *   when the whole OS thread is stuck, so a killed runner in a busy program hangs its
 *   waiters forever); running fn in a helper green thread (fn would see another
 *   green_self(), and a killed caller would not stop fn); a side table of runners keyed by
 *   the once's address (bounded, or it needs malloc).  A hook called when a green thread
 *   ends (sched.c) would let the runner's end wake the waiters directly.
 *
 * Errors are -errno inside this file; the public functions turn them into positive numbers,
 * the waiting ones through green__api_result, so a killed thread ends at its wait.
 */
#include <limits.h>

#include "internal.h"

/* rwlock waiters: w.data */
#define RW_READ 0
#define RW_WRITE 1

/* Internal result of a barrier wait for the thread that ends the round. */
#define BARRIER_SERIAL 1

/* once->state; while fn runs it is ONCE_RUNNING | (runner's generation & ONCE_GEN). */
#define ONCE_NEW 0
#define ONCE_DONE 1
#define ONCE_RUNNING INT_MIN
#define ONCE_GEN 0x7fffffff
#define ONCE_POLL_MIN 1000000LL   /* ns between two checks of the runner, at first */
#define ONCE_POLL_MAX 128000000LL /* and at most */

/* The calling green thread, or NULL on an OS thread without green state (a pool worker, a
 * plain pthread that never waited): such a caller owns nothing. */
static struct green_thread *self_peek(void)
{
    struct green__local *l = green__local_peek();
    return l ? l->sched.current : NULL;
}

/* Queue the calling green thread on q (the caller holds *lock, the object's lock) and wait.
 * Returns the waker's code, or -ETIMEDOUT / -ECANCELED / -EDEADLK with the thread out of
 * q again, having taken nothing.  *lock is released on return.  The caller has called
 * green__current() before taking *lock, so that an OS thread's first wait does not build
 * its green state (allocations, a libev loop) while other OS threads spin on the lock. */
static int wait_on(unsigned *lock, struct green__waitq *q, intptr_t data, int64_t deadline,
                   int kind, const void *obj)
{
    struct green__waiter w;

    green__waiter_init(&w);
    w.data = data;
    green__waitq_push(q, &w);
    return green__waiter_wait(&w, lock, q, deadline, kind, obj);
}

/* Wake every waiter of q with code 0; the caller holds the object's lock. */
static void wake_all(struct green__waitq *q)
{
    struct green__waiter *w;

    while ((w = green__waitq_pop(q)))
        green__waiter_wake(w, 0);
}

/* The end of a destroy, which took *lock and looked at the object: EBUSY while it is held
 * or waited on, else 0.  Releases *lock.  A destroyed object stays a valid one. */
static int unlock_busy(unsigned *lock, const struct green__waitq *q, int held)
{
    int r = held || !green__waitq_empty(q) ? EBUSY : 0;

    green__spin_unlock(lock);
    return r;
}

/* ------------------------------------------------------------------- mutex */

/* Take m for self, holding m->lock: 0, -EAGAIN (recursion count full), -EDEADLK (errorcheck
 * relock) or -EBUSY (self has to wait: held by another, or a normal mutex by self). */
static int mutex_take(green_mutex_t *m, struct green_thread *self)
{
    if (!m->owner) {
        m->owner = self;
        m->count = 1;
        return 0;
    }
    if (m->owner != self || m->type == GREEN_MUTEX_NORMAL)
        return -EBUSY;
    if (m->type == GREEN_MUTEX_ERRORCHECK)
        return -EDEADLK;
    if (m->count == UINT_MAX)
        return -EAGAIN;
    m->count++;
    return 0;
}

/* Pass m to its first waiter, or free it; the caller holds m->lock. */
static void mutex_pass(green_mutex_t *m)
{
    struct green__waiter *w = green__waitq_pop(&m->waiters);

    m->owner = w ? w->thread : NULL;
    m->count = w ? 1 : 0;
    if (w)
        green__waiter_wake(w, 0);
}

static int mutex_lock(green_mutex_t *m, struct green_thread *self, int64_t deadline)
{
    int r;

    green__spin_lock(&m->lock);
    r = mutex_take(m, self);
    if (r != -EBUSY) {
        green__spin_unlock(&m->lock);
        return r;
    }
    /* A normal mutex relocked by its owner waits too: the deadlock pthread gives, which
     * the hub's deadlock check then reports.  On success mutex_pass made self the owner. */
    return wait_on(&m->lock, &m->waiters, 0, deadline, GREEN_WAIT_MUTEX, m);
}

GREEN_EXPORT int green_mutex_init(green_mutex_t *m, int type)
{
    if (type != GREEN_MUTEX_NORMAL && type != GREEN_MUTEX_RECURSIVE &&
        type != GREEN_MUTEX_ERRORCHECK)
        return EINVAL;
    *m = (green_mutex_t){.type = type};
    return 0;
}

GREEN_EXPORT int green_mutex_destroy(green_mutex_t *m)
{
    green__spin_lock(&m->lock);
    return unlock_busy(&m->lock, &m->waiters, m->owner != NULL);
}

GREEN_EXPORT int green_mutex_lock(green_mutex_t *m)
{
    return green__api_result(mutex_lock(m, green__current(), GREEN_NO_DEADLINE));
}

GREEN_EXPORT int green_mutex_timedlock(green_mutex_t *m, int64_t deadline)
{
    return green__api_result(mutex_lock(m, green__current(), deadline));
}

GREEN_EXPORT int green_mutex_trylock(green_mutex_t *m)
{
    struct green_thread *self = green__current();
    int r;

    green__spin_lock(&m->lock);
    r = mutex_take(m, self);
    green__spin_unlock(&m->lock);
    return r == -EDEADLK ? EBUSY : -r;
}

GREEN_EXPORT int green_mutex_unlock(green_mutex_t *m)
{
    struct green_thread *self = self_peek();

    green__spin_lock(&m->lock);
    /* A normal mutex may be unlocked by anyone (pthread leaves it undefined; programs use
     * it as a binary semaphore), but not when nobody holds it. */
    if (!m->owner || (m->owner != self && m->type != GREEN_MUTEX_NORMAL)) {
        green__spin_unlock(&m->lock);
        return EPERM;
    }
    if (m->type != GREEN_MUTEX_RECURSIVE || --m->count == 0)
        mutex_pass(m);
    green__spin_unlock(&m->lock);
    return 0;
}

/* -------------------------------------------------------------------- cond */

/* Take m back after a condition wait, holding a kill back meanwhile (see the top). */
static int relock(green_mutex_t *m, struct green_thread *self, unsigned count)
{
    int r;

    self->nokill++;
    r = mutex_lock(m, self, GREEN_NO_DEADLINE);
    self->nokill--;
    if (r == 0) {
        green__spin_lock(&m->lock);
        m->count = count;
        green__spin_unlock(&m->lock);
    }
    return r;
}

static int cond_wait(green_cond_t *c, green_mutex_t *m, int64_t deadline)
{
    struct green_thread *self = green__current();
    unsigned count;
    int r, rl;

    green__spin_lock(&c->lock);
    green__spin_lock(&m->lock);
    if (m->owner != self) {
        green__spin_unlock(&m->lock);
        green__spin_unlock(&c->lock);
        return -EPERM;
    }
    if (self->killed) {
        /* Killed already: end here, still holding m, as a cancelled pthread would. */
        green__spin_unlock(&m->lock);
        green__spin_unlock(&c->lock);
        return -ECANCELED;
    }
    count = m->count;
    mutex_pass(m);
    green__spin_unlock(&m->lock);
    r = wait_on(&c->lock, &c->waiters, 0, deadline, GREEN_WAIT_COND, c);
    rl = relock(m, self, count);
    return rl < 0 ? rl : r;
}

GREEN_EXPORT int green_cond_init(green_cond_t *c, clockid_t clock)
{
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    *c = (green_cond_t){.clock = clock};
    return 0;
}

GREEN_EXPORT int green_cond_destroy(green_cond_t *c)
{
    green__spin_lock(&c->lock);
    return unlock_busy(&c->lock, &c->waiters, 0);
}

GREEN_EXPORT int green_cond_wait(green_cond_t *c, green_mutex_t *m)
{
    return green__api_result(cond_wait(c, m, GREEN_NO_DEADLINE));
}

GREEN_EXPORT int green_cond_timedwait(green_cond_t *c, green_mutex_t *m,
                                      const struct timespec *abstime)
{
    if (!abstime || abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000)
        return EINVAL;
    /* Converted once: a later step of the realtime clock does not move the deadline. */
    return green__api_result(cond_wait(c, m, green_deadline(c->clock, abstime)));
}

GREEN_EXPORT int green_cond_signal(green_cond_t *c)
{
    struct green__waiter *w;

    green__spin_lock(&c->lock);
    if ((w = green__waitq_pop(&c->waiters)))
        green__waiter_wake(w, 0);
    green__spin_unlock(&c->lock);
    return 0;
}

GREEN_EXPORT int green_cond_broadcast(green_cond_t *c)
{
    green__spin_lock(&c->lock);
    wake_all(&c->waiters);
    green__spin_unlock(&c->lock);
    return 0;
}

/* ------------------------------------------------------------------ rwlock */

/* Let in whoever the lock now admits, in queue order; the caller holds rw->lock. */
static void rw_grant(green_rwlock_t *rw)
{
    struct green__waiter *w;

    while ((w = rw->waiters.head)) {
        if (w->data == RW_WRITE) {
            if (rw->writer || rw->readers)
                return;
            rw->writer = w->thread;
        } else {
            if (rw->writer || rw->readers == INT_MAX)
                return;
            rw->readers++;
        }
        green__waitq_pop(&rw->waiters);
        green__waiter_wake(w, 0);
        if (rw->writer)
            return;
    }
}

/* Take rw now if the caller may (0), or say why not (-EBUSY: it would wait). */
static int rw_take(green_rwlock_t *rw, struct green_thread *self, int mode)
{
    if (rw->writer == self)
        return -EDEADLK;
    if (rw->writer || !green__waitq_empty(&rw->waiters))
        return -EBUSY;
    if (mode == RW_WRITE) {
        if (rw->readers)
            return -EBUSY;
        rw->writer = self;
    } else {
        if (rw->readers == INT_MAX)
            return -EAGAIN;
        rw->readers++;
    }
    return 0;
}

static int rw_lock(green_rwlock_t *rw, int mode, int64_t deadline)
{
    struct green_thread *self = green__current();
    int r;

    green__spin_lock(&rw->lock);
    r = rw_take(rw, self, mode);
    if (r != -EBUSY) {
        green__spin_unlock(&rw->lock);
        return r;
    }
    r = wait_on(&rw->lock, &rw->waiters, mode, deadline, GREEN_WAIT_RWLOCK, rw);
    if (r < 0) {
        green__spin_lock(&rw->lock);
        rw_grant(rw);
        green__spin_unlock(&rw->lock);
    }
    return r;
}

static int rw_trylock(green_rwlock_t *rw, int mode)
{
    struct green_thread *self = green__current();
    int r;

    green__spin_lock(&rw->lock);
    r = rw_take(rw, self, mode);
    green__spin_unlock(&rw->lock);
    return r == -EDEADLK ? EBUSY : -r;
}

GREEN_EXPORT int green_rwlock_init(green_rwlock_t *rw)
{
    *rw = (green_rwlock_t){0};
    return 0;
}

GREEN_EXPORT int green_rwlock_destroy(green_rwlock_t *rw)
{
    green__spin_lock(&rw->lock);
    return unlock_busy(&rw->lock, &rw->waiters, rw->writer || rw->readers);
}

GREEN_EXPORT int green_rwlock_rdlock(green_rwlock_t *rw)
{
    return green__api_result(rw_lock(rw, RW_READ, GREEN_NO_DEADLINE));
}

GREEN_EXPORT int green_rwlock_tryrdlock(green_rwlock_t *rw)
{
    return rw_trylock(rw, RW_READ);
}

GREEN_EXPORT int green_rwlock_timedrdlock(green_rwlock_t *rw, int64_t deadline)
{
    return green__api_result(rw_lock(rw, RW_READ, deadline));
}

GREEN_EXPORT int green_rwlock_wrlock(green_rwlock_t *rw)
{
    return green__api_result(rw_lock(rw, RW_WRITE, GREEN_NO_DEADLINE));
}

GREEN_EXPORT int green_rwlock_trywrlock(green_rwlock_t *rw)
{
    return rw_trylock(rw, RW_WRITE);
}

GREEN_EXPORT int green_rwlock_timedwrlock(green_rwlock_t *rw, int64_t deadline)
{
    return green__api_result(rw_lock(rw, RW_WRITE, deadline));
}

GREEN_EXPORT int green_rwlock_unlock(green_rwlock_t *rw)
{
    struct green_thread *self = self_peek();
    int r = 0;

    green__spin_lock(&rw->lock);
    /* Readers are anonymous: any unlock while readers hold it releases one read hold. */
    if (rw->writer == self && self)
        rw->writer = NULL;
    else if (!rw->writer && rw->readers > 0)
        rw->readers--;
    else
        r = EPERM;
    if (!r)
        rw_grant(rw);
    green__spin_unlock(&rw->lock);
    return r;
}

/* --------------------------------------------------------------- semaphore */

static int sem_acquire(green_sem_t *s, int64_t deadline)
{
    green__current(); /* before the lock: see wait_on */
    green__spin_lock(&s->lock);
    if (s->value > 0) {
        s->value--;
        green__spin_unlock(&s->lock);
        return 0;
    }
    return wait_on(&s->lock, &s->waiters, 0, deadline, GREEN_WAIT_SEM, s);
}

GREEN_EXPORT int green_sem_init(green_sem_t *s, unsigned value)
{
    *s = (green_sem_t){.value = value};
    return 0;
}

GREEN_EXPORT int green_sem_destroy(green_sem_t *s)
{
    green__spin_lock(&s->lock);
    return unlock_busy(&s->lock, &s->waiters, 0);
}

GREEN_EXPORT int green_sem_wait(green_sem_t *s)
{
    return green__api_result(sem_acquire(s, GREEN_NO_DEADLINE));
}

GREEN_EXPORT int green_sem_timedwait(green_sem_t *s, int64_t deadline)
{
    return green__api_result(sem_acquire(s, deadline));
}

GREEN_EXPORT int green_sem_trywait(green_sem_t *s)
{
    int r = EAGAIN;

    green__spin_lock(&s->lock);
    if (s->value > 0) {
        s->value--;
        r = 0;
    }
    green__spin_unlock(&s->lock);
    return r;
}

GREEN_EXPORT int green_sem_post(green_sem_t *s)
{
    struct green__waiter *w;
    int r = 0;

    green__spin_lock(&s->lock);
    if ((w = green__waitq_pop(&s->waiters)))
        green__waiter_wake(w, 0); /* the token goes to w, not to the count */
    else if (s->value == UINT_MAX)
        r = EOVERFLOW;
    else
        s->value++;
    green__spin_unlock(&s->lock);
    return r;
}

GREEN_EXPORT int green_sem_getvalue(green_sem_t *s, unsigned *value)
{
    green__spin_lock(&s->lock);
    *value = s->value;
    green__spin_unlock(&s->lock);
    return 0;
}

/* -------------------------------------------------------------------- once */

struct once_wait {
    struct green__waiter w;
    struct green__waitq q;  /* holds w alone, for the waiter protocol */
    struct once_wait *next; /* in the once's list, from waiters.head */
};

/* Is the green thread named as the runner still alive?  Reads another OS thread's thread
 * struct without its lock: a stale read can only say "alive", and the next check sees. */
static int runner_alive(const green_once_t *once)
{
    const struct green_thread *t = once->waiters.tail;
    uint8_t state = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
    uint32_t gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);

    return ((gen ^ (uint32_t)once->state) & ONCE_GEN) == 0 && state != GREEN_DONE &&
           state != GREEN_FREE && t->wait.kind != GREEN_WAIT_EXITED;
}

static void once_unlink(green_once_t *once, struct once_wait *n)
{
    struct once_wait *p = once->waiters.head;

    if (p == n) {
        once->waiters.head = n->next;
        return;
    }
    for (; p; p = p->next)
        if (p->next == n) {
            p->next = n->next;
            return;
        }
}

/* Wait for the runner until deadline; once->lock is held on entry and again on return. */
static int once_wait(green_once_t *once, int64_t deadline)
{
    struct once_wait n = {.next = once->waiters.head};
    int r;

    green__waiter_init(&n.w);
    green__waitq_push(&n.q, &n.w);
    once->waiters.head = &n;
    r = green__waiter_wait(&n.w, &once->lock, &n.q, deadline, GREEN_WAIT_ONCE, once);
    green__spin_lock(&once->lock);
    if (r < 0)
        once_unlink(once, &n); /* not claimed: still listed (unless detached by once_run) */
    return r;
}

/* Run fn as self, then wake every waiter; once->lock is held on entry, released on return. */
static void once_run(green_once_t *once, struct green_thread *self, void (*fn)(void))
{
    struct once_wait *n, *next;
    struct green__waiter *w;

    once->waiters.tail = self;
    __atomic_store_n(&once->state, ONCE_RUNNING | (int)(self->gen & ONCE_GEN), __ATOMIC_RELAXED);
    green__spin_unlock(&once->lock);
    fn();
    green__spin_lock(&once->lock);
    n = once->waiters.head;
    once->waiters.head = once->waiters.tail = NULL;
    __atomic_store_n(&once->state, ONCE_DONE, __ATOMIC_RELEASE);
    for (; n; n = next) {
        next = n->next;
        if ((w = green__waitq_pop(&n->q)))
            green__waiter_wake(w, 0);
    }
    green__spin_unlock(&once->lock);
}

GREEN_EXPORT int green_once(green_once_t *once, void (*fn)(void))
{
    struct green_thread *self;
    int64_t poll = ONCE_POLL_MIN;
    int r;

    if (!fn)
        return EINVAL;
    if (__atomic_load_n(&once->state, __ATOMIC_ACQUIRE) == ONCE_DONE)
        return 0;
    self = green__current();
    green__spin_lock(&once->lock);
    for (;;) {
        if (once->state == ONCE_DONE) {
            green__spin_unlock(&once->lock);
            return 0;
        }
        if (once->state == ONCE_NEW || !runner_alive(once)) {
            once_run(once, self, fn);
            return 0;
        }
        if (once->waiters.tail == self) {
            green__spin_unlock(&once->lock);
            return EDEADLK; /* fn called green_once on its own once */
        }
        r = once_wait(once, green_now() + poll);
        if (r < 0 && r != -ETIMEDOUT) {
            green__spin_unlock(&once->lock);
            return green__api_result(r);
        }
        if (poll < ONCE_POLL_MAX)
            poll *= 2;
    }
}

/* ----------------------------------------------------------------- barrier */

static int barrier_wait(green_barrier_t *b)
{
    unsigned long generation;
    int r;

    green__current(); /* before the lock: see wait_on */
    green__spin_lock(&b->lock);
    if (b->count == 0) {
        green__spin_unlock(&b->lock);
        return -EINVAL; /* never initialised */
    }
    if (++b->waiting == b->count) {
        b->waiting = 0;
        b->generation++;
        wake_all(&b->waiters);
        green__spin_unlock(&b->lock);
        return BARRIER_SERIAL;
    }
    generation = b->generation;
    r = wait_on(&b->lock, &b->waiters, 0, GREEN_NO_DEADLINE, GREEN_WAIT_BARRIER, b);
    if (r < 0) {
        /* Between leaving the queue and this lock the last arrival may have ended the
         * round counting us: then we were part of it, and the round's result stands. */
        green__spin_lock(&b->lock);
        if (b->generation == generation)
            b->waiting--;
        else
            r = 0;
        green__spin_unlock(&b->lock);
    }
    return r;
}

GREEN_EXPORT int green_barrier_init(green_barrier_t *b, unsigned count)
{
    if (count == 0)
        return EINVAL;
    *b = (green_barrier_t){.count = count};
    return 0;
}

GREEN_EXPORT int green_barrier_destroy(green_barrier_t *b)
{
    green__spin_lock(&b->lock);
    return unlock_busy(&b->lock, &b->waiters, b->waiting > 0);
}

GREEN_EXPORT int green_barrier_wait(green_barrier_t *b)
{
    int r = barrier_wait(b);

    return r == BARRIER_SERIAL ? GREEN_BARRIER_SERIAL_THREAD : green__api_result(r);
}

/* ------------------------------------------------------------------- event */

static int event_wait(green_event_t *e, int64_t deadline)
{
    green__current(); /* before the lock: see wait_on */
    green__spin_lock(&e->lock);
    if (e->set) {
        green__spin_unlock(&e->lock);
        return 0;
    }
    return wait_on(&e->lock, &e->waiters, 0, deadline, GREEN_WAIT_EVENT, e);
}

GREEN_EXPORT int green_event_init(green_event_t *e)
{
    *e = (green_event_t){0};
    return 0;
}

GREEN_EXPORT int green_event_destroy(green_event_t *e)
{
    green__spin_lock(&e->lock);
    return unlock_busy(&e->lock, &e->waiters, 0);
}

GREEN_EXPORT int green_event_set(green_event_t *e)
{
    green__spin_lock(&e->lock);
    __atomic_store_n(&e->set, 1, __ATOMIC_RELEASE);
    wake_all(&e->waiters);
    green__spin_unlock(&e->lock);
    return 0;
}

GREEN_EXPORT int green_event_clear(green_event_t *e)
{
    green__spin_lock(&e->lock);
    __atomic_store_n(&e->set, 0, __ATOMIC_RELEASE);
    green__spin_unlock(&e->lock);
    return 0;
}

GREEN_EXPORT int green_event_is_set(green_event_t *e)
{
    return __atomic_load_n(&e->set, __ATOMIC_ACQUIRE) != 0;
}

GREEN_EXPORT int green_event_wait(green_event_t *e)
{
    return green__api_result(event_wait(e, GREEN_NO_DEADLINE));
}

GREEN_EXPORT int green_event_timedwait(green_event_t *e, int64_t deadline)
{
    return green__api_result(event_wait(e, deadline));
}
