/*
 * sync.c — the program's pthread mutexes, condition variables, rwlocks, spinlocks,
 * barriers and unnamed semaphores, run on the runtime's cooperative primitives.
 *
 * The runtime's objects are laid out to fit inside glibc's (green.h), and zero-filled is a
 * valid default for both, so a program's objects, static initializers included, are used
 * in place: no side table, no allocation.  The mutex type sits where glibc keeps __kind,
 * so PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP and friends mean the same thing.
 *
 * Process-shared objects stay glibc's: their other users are in other processes, which a
 * green wait could never hear.  A pshared mutex is recognised by its __kind bit; a
 * pshared condvar, rwlock or barrier is remembered at init in a short list (they are rare);
 * an unnamed semaphore made by sem_init is marked green in its spare bytes, so named
 * semaphores (sem_open) and pshared ones go to libc.  A contended wait on one of those
 * blocks the OS thread, as it must.
 *
 * pthread_mutex_lock, rwlock and barrier waits are not cancellation points, so they run
 * with nokill; condvar waits and sem_wait are, and are killable.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <semaphore.h>
#include <string.h>

#include "hook.h"

_Static_assert(sizeof(green_mutex_t) <= sizeof(pthread_mutex_t), "mutex fits");
_Static_assert(offsetof(green_mutex_t, type) == 16, "type is glibc's __kind");
_Static_assert(sizeof(green_cond_t) <= sizeof(pthread_cond_t), "cond fits");
_Static_assert(sizeof(green_rwlock_t) <= sizeof(pthread_rwlock_t), "rwlock fits");
_Static_assert(sizeof(green_barrier_t) <= sizeof(pthread_barrier_t), "barrier fits");
_Static_assert(sizeof(green_sem_t) + sizeof(uint64_t) <= sizeof(sem_t), "sem fits");

#define KIND_PSHARED 128 /* glibc's PTHREAD_MUTEX_PSHARED_BIT */
#define SEM_GREEN 0x6e65657267ULL

/* --------------------------------------------------- process-shared objects */

#define SHARED_MAX 256
static const void *shared[SHARED_MAX];
static int nshared;
static unsigned shared_lock;

static int is_shared(const void *obj)
{
    int found = 0;

    if (GREEN_LIKELY(__atomic_load_n(&nshared, __ATOMIC_RELAXED) == 0))
        return 0;
    green__spin_lock(&shared_lock);
    for (int i = 0; i < nshared && !found; i++)
        found = shared[i] == obj;
    green__spin_unlock(&shared_lock);
    return found;
}

static void set_shared(const void *obj, int on)
{
    green__spin_lock(&shared_lock);
    for (int i = 0; i < nshared; i++)
        if (shared[i] == obj)
            shared[i] = shared[--nshared];
    if (on && nshared < SHARED_MAX)
        shared[nshared++] = obj;
    green__spin_unlock(&shared_lock);
}

/* Run a non-cancellation-point wait. */
#define NOKILL(expr)                                                                        \
    ({                                                                                      \
        struct green_thread *t_ = green__current();                                         \
        t_->nokill++;                                                                       \
        int r_ = (expr);                                                                    \
        t_->nokill--;                                                                       \
        r_;                                                                                 \
    })

static int valid_ts(const struct timespec *ts)
{
    return ts && ts->tv_nsec >= 0 && ts->tv_nsec <= 999999999;
}

static int valid_clock(clockid_t c)
{
    return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC;
}

/* ------------------------------------------------------------------ mutex */

/* The program's mutex as the runtime's, or NULL if it must stay glibc's.  glibc's __kind
 * carries flags beside the type (elision hints, robust, priority protocols), which green
 * mutexes do without; adaptive mutexes are normal ones. */
static green_mutex_t *gm(pthread_mutex_t *pm)
{
    green_mutex_t *m = (green_mutex_t *)pm;
    int kind = m->type;

    if (GREEN_UNLIKELY(kind & ~3)) {
        if (kind & KIND_PSHARED)
            return NULL;
        kind &= 3;
    }
    if (GREEN_UNLIKELY(kind == 3))
        kind = GREEN_MUTEX_NORMAL;
    m->type = kind;
    return m;
}

#define MUTEX_BYPASS(m) (green__bypass(GREEN_F_THREAD) || !gm(m))

/* Robust mutexes: the state glibc keeps for them, in the runtime mutex's spare word. */
#define ROBUST 1
#define ROBUST_DEAD 2     /* the owner ended holding it; the next locker learns it */
#define ROBUST_INCONSISTENT 4 /* locked after an owner died, not yet made consistent */
#define ROBUST_LOST 8     /* unlocked while inconsistent: not recoverable */

/* After a lock attempt r on a robust mutex: track it, and report a dead owner. */
static int robust_locked(green_mutex_t *m, int r)
{
    if (!(m->reserved & ROBUST) || r != 0)
        return r;
    if (m->reserved & ROBUST_LOST) { /* handed over by the unlock that lost it */
        green_mutex_unlock(m);
        return ENOTRECOVERABLE;
    }
    green__robust_held(m, 1);
    if (m->reserved & ROBUST_DEAD) {
        m->reserved = (m->reserved & ~ROBUST_DEAD) | ROBUST_INCONSISTENT;
        return EOWNERDEAD;
    }
    return 0;
}

void green__robust_owner_died(green_mutex_t *m)
{
    m->reserved |= ROBUST_DEAD;
    m->reserved &= ~ROBUST_INCONSISTENT;
    m->count = 1;
    green_mutex_unlock(m);
}

/* A robust mutex that can never be locked again. */
#define ROBUST_LOST_CHECK(m)                                                                \
    do {                                                                                    \
        if (((green_mutex_t *)(m))->reserved & ROBUST_LOST)                                 \
            return ENOTRECOVERABLE;                                                         \
    } while (0)

GREEN_EXPORT int pthread_mutex_consistent(pthread_mutex_t *pm)
{
    green_mutex_t *m = (green_mutex_t *)pm;

    if (MUTEX_BYPASS(pm))
        return REAL(pthread_mutex_consistent)(pm);
    if (!(m->reserved & ROBUST_INCONSISTENT) || m->owner != green__current())
        return EINVAL;
    m->reserved &= ~ROBUST_INCONSISTENT;
    return 0;
}

GREEN_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
    int type = PTHREAD_MUTEX_NORMAL, pshared = PTHREAD_PROCESS_PRIVATE;

    int robust = PTHREAD_MUTEX_STALLED, r;

    if (!green__family_on(GREEN_F_THREAD))
        return REAL(pthread_mutex_init)(m, attr);
    if (attr) {
        pthread_mutexattr_getpshared(attr, &pshared);
        pthread_mutexattr_gettype(attr, &type);
        pthread_mutexattr_getrobust(attr, &robust);
    }
    if (pshared == PTHREAD_PROCESS_SHARED)
        return REAL(pthread_mutex_init)(m, attr);
    memset(m, 0, sizeof *m);
    r = green_mutex_init((green_mutex_t *)m, type == PTHREAD_MUTEX_ADAPTIVE_NP ? 0 : type);
    if (r == 0 && robust == PTHREAD_MUTEX_ROBUST)
        ((green_mutex_t *)m)->reserved = ROBUST;
    return r;
}

GREEN_EXPORT int pthread_mutex_destroy(pthread_mutex_t *m)
{
    if (!green__family_on(GREEN_F_THREAD) || !gm(m))
        return REAL(pthread_mutex_destroy)(m);
    return green_mutex_destroy((green_mutex_t *)m);
}

GREEN_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (MUTEX_BYPASS(m))
        return REAL(pthread_mutex_lock)(m);
    ROBUST_LOST_CHECK(m);
    return robust_locked((green_mutex_t *)m, NOKILL(green_mutex_lock((green_mutex_t *)m)));
}

GREEN_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    if (MUTEX_BYPASS(m))
        return REAL(pthread_mutex_trylock)(m);
    ROBUST_LOST_CHECK(m);
    return robust_locked((green_mutex_t *)m, green_mutex_trylock((green_mutex_t *)m));
}

GREEN_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock,
                                         const struct timespec *abstime)
{
    green_mutex_t *gmx = (green_mutex_t *)m;
    int r;

    if (MUTEX_BYPASS(m))
        return REAL(pthread_mutex_clocklock)(m, clock, abstime);
    if (!valid_clock(clock))
        return EINVAL;
    ROBUST_LOST_CHECK(m);
    if (!valid_ts(abstime)) {
        /* As glibc: an invalid time only matters when the call has to wait. */
        r = green_mutex_trylock(gmx);
        if (r != EBUSY)
            return robust_locked(gmx, r);
        return gmx->type == GREEN_MUTEX_ERRORCHECK && gmx->owner == green__current() ? EDEADLK
                                                                                     : EINVAL;
    }
    return robust_locked(gmx, NOKILL(green_mutex_timedlock(gmx, green_deadline(clock, abstime))));
}

GREEN_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
    if (MUTEX_BYPASS(m))
        return REAL(pthread_mutex_timedlock)(m, abstime);
    return pthread_mutex_clocklock(m, CLOCK_REALTIME, abstime);
}

GREEN_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    green_mutex_t *gmx = (green_mutex_t *)m;
    int r;

    if (MUTEX_BYPASS(m))
        return REAL(pthread_mutex_unlock)(m);
    if (!(gmx->reserved & ROBUST))
        return green_mutex_unlock(gmx);
    if (gmx->owner == green__current() && gmx->count == 1 &&
        (gmx->reserved & ROBUST_INCONSISTENT)) /* released without pthread_mutex_consistent */
        gmx->reserved = (gmx->reserved & ~ROBUST_INCONSISTENT) | ROBUST_LOST;
    if ((r = green_mutex_unlock(gmx)) == 0 && gmx->owner != green__current())
        green__robust_held(gmx, 0);
    return r;
}

/* ------------------------------------------------------------------- cond */

#define COND_BYPASS(c) (green__bypass(GREEN_F_THREAD) || is_shared(c))

GREEN_EXPORT int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
    int pshared = PTHREAD_PROCESS_PRIVATE;
    clockid_t clock = CLOCK_REALTIME;

    if (!green__family_on(GREEN_F_THREAD))
        return REAL(pthread_cond_init)(c, attr);
    if (attr) {
        pthread_condattr_getpshared(attr, &pshared);
        pthread_condattr_getclock(attr, &clock);
    }
    set_shared(c, pshared == PTHREAD_PROCESS_SHARED);
    if (pshared == PTHREAD_PROCESS_SHARED)
        return REAL(pthread_cond_init)(c, attr);
    memset(c, 0, sizeof *c);
    return green_cond_init((green_cond_t *)c, clock);
}

GREEN_EXPORT int pthread_cond_destroy(pthread_cond_t *c)
{
    if (!green__family_on(GREEN_F_THREAD) || is_shared(c)) {
        set_shared(c, 0);
        return REAL(pthread_cond_destroy)(c);
    }
    /* glibc's destroy waits until every waiter has left (a program must have woken them
     * all: destroying a cond with waiters is undefined) and says 0, where the runtime's
     * says EBUSY: look again every millisecond, on this path only. */
    while (green_cond_destroy((green_cond_t *)c) == EBUSY)
        NOKILL(green_sleep(0.001));
    return 0;
}

GREEN_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (COND_BYPASS(c) || !gm(m))
        return REAL(pthread_cond_wait)(c, m);
    return green_cond_wait((green_cond_t *)c, (green_mutex_t *)m);
}

GREEN_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                        const struct timespec *abstime)
{
    if (COND_BYPASS(c) || !gm(m))
        return REAL(pthread_cond_timedwait)(c, m, abstime);
    if (!valid_ts(abstime))
        return EINVAL;
    return green_cond_timedwait((green_cond_t *)c, (green_mutex_t *)m, abstime);
}

GREEN_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
                                        const struct timespec *abstime)
{
    green_cond_t *gc = (green_cond_t *)c;
    clockid_t own;
    struct timespec at, now_own, now;
    int64_t left;

    if (COND_BYPASS(c) || !gm(m))
        return REAL(pthread_cond_clockwait)(c, m, clock, abstime);
    if (!valid_ts(abstime) || !valid_clock(clock))
        return EINVAL;
    /* The same instant on the cond's own clock. */
    own = gc->clock == CLOCK_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME;
    at = *abstime;
    if (own != clock) {
        clock_gettime(clock, &now);
        clock_gettime(own, &now_own);
        left = (abstime->tv_sec - now.tv_sec) * 1000000000LL + (abstime->tv_nsec - now.tv_nsec);
        left += now_own.tv_sec * 1000000000LL + now_own.tv_nsec;
        at.tv_sec = left / 1000000000;
        at.tv_nsec = left % 1000000000;
        if (at.tv_nsec < 0)
            at.tv_sec--, at.tv_nsec += 1000000000;
    }
    return green_cond_timedwait(gc, (green_mutex_t *)m, &at);
}

GREEN_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
    if (COND_BYPASS(c))
        return REAL(pthread_cond_signal)(c);
    return green_cond_signal((green_cond_t *)c);
}

GREEN_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
    if (COND_BYPASS(c))
        return REAL(pthread_cond_broadcast)(c);
    return green_cond_broadcast((green_cond_t *)c);
}

/* ----------------------------------------------------------------- rwlock */

#define RW_BYPASS(rw) (green__bypass(GREEN_F_THREAD) || is_shared(rw))
#define GRW(rw) ((green_rwlock_t *)(rw))

GREEN_EXPORT int pthread_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *attr)
{
    int pshared = PTHREAD_PROCESS_PRIVATE;

    if (!green__family_on(GREEN_F_THREAD))
        return REAL(pthread_rwlock_init)(rw, attr);
    if (attr)
        pthread_rwlockattr_getpshared(attr, &pshared);
    set_shared(rw, pshared == PTHREAD_PROCESS_SHARED);
    if (pshared == PTHREAD_PROCESS_SHARED)
        return REAL(pthread_rwlock_init)(rw, attr);
    memset(rw, 0, sizeof *rw);
    return green_rwlock_init(GRW(rw));
}

GREEN_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
    if (!green__family_on(GREEN_F_THREAD) || is_shared(rw)) {
        set_shared(rw, 0);
        return REAL(pthread_rwlock_destroy)(rw);
    }
    /* glibc's destroy does not look: 0 even while the lock is held or waited on (which is
     * undefined), where the runtime's says EBUSY. */
    green_rwlock_destroy(GRW(rw));
    return 0;
}

GREEN_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_rdlock)(rw);
    return NOKILL(green_rwlock_rdlock(GRW(rw)));
}

GREEN_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_tryrdlock)(rw);
    return green_rwlock_tryrdlock(GRW(rw));
}

GREEN_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clock,
                                            const struct timespec *abstime)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_clockrdlock)(rw, clock, abstime);
    /* glibc checks the clock and the time first, whether or not the call has to wait. */
    if (!valid_clock(clock) || !valid_ts(abstime))
        return EINVAL;
    return NOKILL(green_rwlock_timedrdlock(GRW(rw), green_deadline(clock, abstime)));
}

GREEN_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_timedrdlock)(rw, abstime);
    return pthread_rwlock_clockrdlock(rw, CLOCK_REALTIME, abstime);
}

GREEN_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_wrlock)(rw);
    return NOKILL(green_rwlock_wrlock(GRW(rw)));
}

GREEN_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_trywrlock)(rw);
    return green_rwlock_trywrlock(GRW(rw));
}

GREEN_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clock,
                                            const struct timespec *abstime)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_clockwrlock)(rw, clock, abstime);
    if (!valid_clock(clock) || !valid_ts(abstime))
        return EINVAL;
    return NOKILL(green_rwlock_timedwrlock(GRW(rw), green_deadline(clock, abstime)));
}

GREEN_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_timedwrlock)(rw, abstime);
    return pthread_rwlock_clockwrlock(rw, CLOCK_REALTIME, abstime);
}

GREEN_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
    if (RW_BYPASS(rw))
        return REAL(pthread_rwlock_unlock)(rw);
    return green_rwlock_unlock(GRW(rw));
}

/* --------------------------------------------------------------- spinlock */

/* A spinning green thread would spin forever while the holder, a green thread of the
 * same OS thread, cannot run: it yields between tries instead.  Same representation as
 * glibc's (an int, 0 = free), so trylock, unlock, init and destroy need no hook. */
GREEN_EXPORT int pthread_spin_lock(pthread_spinlock_t *s)
{
    if (green__bypass(GREEN_F_THREAD))
        return REAL(pthread_spin_lock)(s);
    while (__atomic_exchange_n(s, 1, __ATOMIC_ACQUIRE))
        green_yield();
    return 0;
}

/* ---------------------------------------------------------------- barrier */

GREEN_EXPORT int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr,
                                      unsigned count)
{
    int pshared = PTHREAD_PROCESS_PRIVATE;

    if (!green__family_on(GREEN_F_THREAD))
        return REAL(pthread_barrier_init)(b, attr, count);
    if (count == 0 || count >= UINT_MAX / 2) /* glibc's limits, checked before anything */
        return EINVAL;
    if (attr)
        pthread_barrierattr_getpshared(attr, &pshared);
    set_shared(b, pshared == PTHREAD_PROCESS_SHARED);
    if (pshared == PTHREAD_PROCESS_SHARED)
        return REAL(pthread_barrier_init)(b, attr, count);
    memset(b, 0, sizeof *b);
    return green_barrier_init((green_barrier_t *)b, count);
}

GREEN_EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
    if (!green__family_on(GREEN_F_THREAD) || is_shared(b)) {
        set_shared(b, 0);
        return REAL(pthread_barrier_destroy)(b);
    }
    return green_barrier_destroy((green_barrier_t *)b);
}

GREEN_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
    int r;

    if (green__bypass(GREEN_F_THREAD) || is_shared(b))
        return REAL(pthread_barrier_wait)(b);
    r = NOKILL(green_barrier_wait((green_barrier_t *)b));
    return r == GREEN_BARRIER_SERIAL_THREAD ? PTHREAD_BARRIER_SERIAL_THREAD : r;
}

/* -------------------------------------------------------------- semaphores
 * sem_* report errors through errno and -1, unlike the pthread calls. */

static uint64_t *sem_mark(sem_t *s)
{
    return (uint64_t *)((char *)s + sizeof(sem_t) - sizeof(uint64_t));
}

static green_sem_t *gs(sem_t *s)
{
    return s && *sem_mark(s) == SEM_GREEN ? (green_sem_t *)s : NULL;
}

static int sem_result(int r)
{
    if (r == 0)
        return 0;
    errno = r;
    return -1;
}

#define SEM_BYPASS(s) (green__bypass(GREEN_F_THREAD) || !gs(s))

GREEN_EXPORT int sem_init(sem_t *s, int pshared, unsigned value)
{
    if (!green__family_on(GREEN_F_THREAD) || pshared)
        return REAL(sem_init)(s, pshared, value);
    if (value > SEM_VALUE_MAX)
        return sem_result(EINVAL);
    memset(s, 0, sizeof *s);
    green_sem_init((green_sem_t *)s, value);
    *sem_mark(s) = SEM_GREEN;
    return 0;
}

GREEN_EXPORT int sem_destroy(sem_t *s)
{
    if (!gs(s))
        return REAL(sem_destroy)(s);
    /* glibc's destroy does not look: 0 even while waited on (undefined).  The runtime's
     * says EBUSY then, and the semaphore stays green for the waiters still on it. */
    if (green_sem_destroy((green_sem_t *)s) == 0)
        *sem_mark(s) = 0;
    return 0;
}

/* sem_wait and sem_timedwait end with EINTR for a handler without SA_RESTART. */
static int sem_wait_intr(green_sem_t *s, int64_t deadline)
{
    int r;

    green__intr_begin(GREEN_INTR_RESTARTABLE);
    r = green_sem_timedwait(s, deadline);
    green__intr_end();
    return sem_result(r);
}

GREEN_EXPORT int sem_wait(sem_t *s)
{
    if (SEM_BYPASS(s))
        return REAL(sem_wait)(s);
    return sem_wait_intr((green_sem_t *)s, GREEN_NO_DEADLINE);
}

GREEN_EXPORT int sem_trywait(sem_t *s)
{
    if (SEM_BYPASS(s))
        return REAL(sem_trywait)(s);
    return sem_result(green_sem_trywait((green_sem_t *)s));
}

GREEN_EXPORT int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
    if (SEM_BYPASS(s))
        return REAL(sem_clockwait)(s, clock, abstime);
    if (!valid_ts(abstime) || !valid_clock(clock))
        return sem_result(EINVAL);
    return sem_wait_intr((green_sem_t *)s, green_deadline(clock, abstime));
}

GREEN_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
    if (SEM_BYPASS(s))
        return REAL(sem_timedwait)(s, abstime);
    return sem_clockwait(s, CLOCK_REALTIME, abstime);
}

GREEN_EXPORT int sem_post(sem_t *s)
{
    unsigned v;

    if (!gs(s))
        return REAL(sem_post)(s);
    green_sem_getvalue((green_sem_t *)s, &v);
    if (v >= SEM_VALUE_MAX) /* glibc's limit (INT_MAX), below the runtime's own */
        return sem_result(EOVERFLOW);
    return sem_result(green_sem_post((green_sem_t *)s));
}

GREEN_EXPORT int sem_getvalue(sem_t *s, int *value)
{
    unsigned v;

    if (!gs(s))
        return REAL(sem_getvalue)(s, value);
    green_sem_getvalue((green_sem_t *)s, &v);
    *value = (int)v;
    return 0;
}
