/*
 * thread.c — every pthread the program creates is a green thread.
 *
 * pthread_t: the green handle, an odd number, so it never equals a real pthread_t (an
 * aligned address) and calls that receive one can tell which world it belongs to: a real
 * pthread_t (a thread created before the constructor, or with the family off) goes to
 * libc untouched.  Handles are unique for the life of the process, so a pthread_t is
 * unique and stable per green thread, as the program expects.
 *
 * What a green pthread carries besides the runtime's thread (struct pdata, t->user): its
 * start routine, its pthread_key values, its cancellation state, and its chain of
 * cleanup buffers.
 *
 * Cleanup handlers and cancellation.  In C, pthread_cleanup_push expands to a sigsetjmp
 * into a buffer on the stack and __pthread_register_cancel(buf); cancellation and
 * pthread_exit then longjmp to each buffer in turn, whose code runs the handler and calls
 * __pthread_unwind_next.  glibc keeps that chain per OS thread, so green threads sharing
 * one OS thread would tangle it: the shim keeps a chain per green thread instead and walks
 * it itself.  (C++ and -fexceptions code use unwinding instead, which cannot cross green
 * stacks; its handlers do not run on cancellation.)
 *
 * Cancellation is deferred only: pthread_cancel marks the thread and, unless it disabled
 * cancellation, kills it, which the runtime turns into an end at its current or next wait
 * — the cancellation points, since mutex, rwlock and barrier waits run with nokill.
 * Asynchronous cancellation is treated as deferred.
 *
 * Keys: the shim's keys start at KEY_BASE, above anything glibc hands out, so a key made
 * before the constructor still reaches libc.  Values live per green thread; destructors
 * run when it ends (up to PTHREAD_DESTRUCTOR_ITERATIONS rounds).  OS threads that are not
 * green (the hub, pool workers) keep their values in thread-local storage.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hook.h"

#define KEY_BASE 0x10000u
#define KEYS_MAX PTHREAD_KEYS_MAX

struct value {
    unsigned seq; /* the key's sequence when set: a deleted and remade key reads NULL */
    void *value;
};

struct pdata {
    void *(*start)(void *);
    void *arg;
    __pthread_unwind_buf_t *cleanup; /* innermost registered cleanup buffer */
    void *exit_value;
    int cancel_disabled, cancel_pending;
    struct value *values;
    unsigned nvalues;
    green_mutex_t **robust; /* robust mutexes held, released as "owner died" at the end */
    unsigned nrobust, robustcap;
};

static struct {
    unsigned seq; /* odd while the key exists */
    void (*dtor)(void *);
} keys[KEYS_MAX];
static unsigned keys_lock;

/* Values of OS threads that are not green (the hub, pool workers). */
static __thread struct pdata real_thread_data;

static struct green_thread *green_of(pthread_t t)
{
    return (t & 1) ? green__thread_lookup((green_t)t) : NULL;
}

/* The pthread data of the caller; a green thread without any (main, or a thread spawned
 * through <green.h>) gets it on first use. */
static struct pdata *self_data(void)
{
    struct green__local *l = green__tls;
    struct green_thread *t;

    if (green__tls_real || (l && l->sched.current == l->sched.hub))
        return &real_thread_data;
    if (!l)
        l = green__local(); /* main, before its first wait: it is a green thread too */
    t = l->sched.current;
    if (!t->user)
        t->user = calloc(1, sizeof(struct pdata));
    return t->user ? t->user : &real_thread_data;
}

/* ------------------------------------------------------------------- keys */

GREEN_EXPORT int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
    if (!green__family_on(GREEN_F_THREAD))
        return REAL(pthread_key_create)(key, dtor);
    green__spin_lock(&keys_lock);
    for (unsigned i = 0; i < KEYS_MAX; i++) {
        if (!(keys[i].seq & 1)) {
            keys[i].seq++;
            keys[i].dtor = dtor;
            green__spin_unlock(&keys_lock);
            *key = KEY_BASE + i;
            return 0;
        }
    }
    green__spin_unlock(&keys_lock);
    return EAGAIN;
}

static int key_index(pthread_key_t key, unsigned *i)
{
    if (key < KEY_BASE || key - KEY_BASE >= KEYS_MAX)
        return 0;
    *i = key - KEY_BASE;
    return 1;
}

GREEN_EXPORT int pthread_key_delete(pthread_key_t key)
{
    unsigned i;

    if (!key_index(key, &i))
        return REAL(pthread_key_delete)(key);
    green__spin_lock(&keys_lock);
    if (!(keys[i].seq & 1)) {
        green__spin_unlock(&keys_lock);
        return EINVAL;
    }
    keys[i].seq++;
    keys[i].dtor = NULL;
    green__spin_unlock(&keys_lock);
    return 0;
}

GREEN_EXPORT void *pthread_getspecific(pthread_key_t key)
{
    struct pdata *d;
    unsigned i;

    if (!key_index(key, &i))
        return REAL(pthread_getspecific)(key);
    d = self_data();
    if (i >= d->nvalues || d->values[i].seq != keys[i].seq)
        return NULL;
    return d->values[i].value;
}

GREEN_EXPORT int pthread_setspecific(pthread_key_t key, const void *value)
{
    struct pdata *d;
    unsigned i;

    if (!key_index(key, &i))
        return REAL(pthread_setspecific)(key, value);
    if (!(keys[i].seq & 1))
        return EINVAL;
    d = self_data();
    if (i >= d->nvalues) {
        unsigned n = d->nvalues ? d->nvalues : 8;
        struct value *v;
        while (n <= i)
            n *= 2;
        v = realloc(d->values, n * sizeof *v);
        if (!v)
            return ENOMEM;
        memset(v + d->nvalues, 0, (n - d->nvalues) * sizeof *v);
        d->values = v;
        d->nvalues = n;
    }
    d->values[i].seq = keys[i].seq;
    d->values[i].value = (void *)value;
    return 0;
}

static void run_destructors(struct pdata *d)
{
    for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
        int again = 0;
        for (unsigned i = 0; i < d->nvalues; i++) {
            void *v = d->values[i].value;
            void (*dtor)(void *) = keys[i].dtor;
            if (!v || d->values[i].seq != keys[i].seq)
                continue;
            d->values[i].value = NULL;
            if (dtor) {
                dtor(v);
                again = 1;
            }
        }
        if (!again)
            break;
    }
    free(d->values);
    d->values = NULL;
    d->nvalues = 0;
}

/* ---------------------------------------------------------- robust mutexes */

void green__robust_held(green_mutex_t *m, int held)
{
    struct pdata *d = self_data();

    if (held) {
        if (d->nrobust == d->robustcap) {
            unsigned n = d->robustcap ? d->robustcap * 2 : 4;
            green_mutex_t **p = realloc(d->robust, n * sizeof *p);
            if (!p)
                return;
            d->robust = p;
            d->robustcap = n;
        }
        d->robust[d->nrobust++] = m;
        return;
    }
    for (unsigned i = d->nrobust; i-- > 0;) {
        if (d->robust[i] == m) {
            d->robust[i] = d->robust[--d->nrobust];
            return;
        }
    }
}

void green__robust_release_all(void)
{
    struct pdata *d = self_data();

    while (d->nrobust > 0)
        green__robust_owner_died(d->robust[--d->nrobust]);
    free(d->robust);
    d->robust = NULL;
    d->robustcap = 0;
}

/* ------------------------------------------------------------- life cycle */

/* The end of a green pthread, however it ends: destructors, then the runtime's exit. */
static void finish(struct pdata *d, void *value) __attribute__((noreturn));
static void finish(struct pdata *d, void *value)
{
    struct green_thread *t = green__current();

    run_destructors(d);
    green__robust_release_all();
    if (!t->is_main) {
        t->user = NULL;
        free(d);
    }
    green_exit(value);
}

/* pthread_exit and cancellation: run the cleanup handlers innermost first, each by a
 * longjmp to the buffer its push filled; the code there calls __pthread_unwind_next,
 * which comes back here for the next one. */
static void unwind(struct pdata *d) __attribute__((noreturn));
static void unwind(struct pdata *d)
{
    __pthread_unwind_buf_t *buf = d->cleanup;

    if (!buf)
        finish(d, d->exit_value);
    d->cleanup = buf->__pad[0];
    /* The buffer holds registers and mask_was_saved = 0 (the push macro's sigsetjmp saves
     * no mask), so longjmp reads nothing past them: glibc makes the same cast. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
    longjmp((struct __jmp_buf_tag *)(void *)buf->__cancel_jmp_buf, 1);
#pragma GCC diagnostic pop
}

static void exit_green(void *value) __attribute__((noreturn));
static void exit_green(void *value)
{
    struct pdata *d = self_data();

    d->exit_value = value;
    d->cancel_disabled = 1;
    green__current()->nokill++; /* handlers may wait; nothing cancels them again */
    unwind(d);
}

/* The runtime calls this when a killed green thread reaches a wait: a cancelled pthread
 * ends as pthread_exit(PTHREAD_CANCELED) would. */
static void cancelled(void)
{
    struct green_thread *t = green__current();

    if (t->user || t->is_main)
        exit_green(PTHREAD_CANCELED);
}

static void *start(void *arg)
{
    struct pdata *d = arg;

    finish(d, d->start(d->arg));
}

/* glibc's pthread_attr_t, for the one field no accessor reports faithfully: the stack size
 * the program asked for (0 = the default), which pthread_attr_getstacksize replaces with
 * the default size. */
struct glibc_attr {
    int schedparam;
    int schedpolicy;
    int flags;
    size_t guardsize;
    void *stackaddr;
    size_t stacksize;
};
_Static_assert(sizeof(struct glibc_attr) <= sizeof(pthread_attr_t), "glibc's attr layout");

/* Whether glibc could map a stack of size bytes: green stacks stop at 1 GiB and are
 * reserved without the kernel's overcommit accounting, so a bigger request tries the
 * mapping glibc would make (and drops it).  Where that fails (more than memory and swap
 * under the heuristic), pthread_create is EAGAIN with errno ENOMEM, as unpatched. */
static int could_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                   -1, 0);

    if (p == MAP_FAILED)
        return 0;
    munmap(p, size);
    return 1;
}

GREEN_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                void *(*fn)(void *), void *arg)
{
    green_attr_t ga = {0};
    struct pdata *d;
    green_t h;

    if (green__bypass(GREEN_F_THREAD))
        return REAL(pthread_create)(thread, attr, fn, arg);
    green__kill_handler = cancelled;
    if (attr) {
        int ds = PTHREAD_CREATE_JOINABLE;
        size_t ss = ((const struct glibc_attr *)(const void *)attr)->stacksize;
        pthread_attr_getdetachstate(attr, &ds);
        ga.detached = ds == PTHREAD_CREATE_DETACHED;
        if (ss > (1u << 30) && !could_map(ss))
            return EAGAIN;
        if (ss)
            ga.stack_size = ss < 16384 ? 16384 : ss > (1u << 30) ? (1u << 30) : ss;
    }
    d = calloc(1, sizeof *d);
    if (!d)
        return EAGAIN;
    d->start = fn;
    d->arg = arg;
    h = green_spawn_attr(&ga, start, d);
    if (h == GREEN_NONE) {
        free(d);
        return EAGAIN;
    }
    green__thread_lookup(h)->user = d;
    *thread = (pthread_t)h;
    return 0;
}

GREEN_EXPORT void pthread_exit(void *value)
{
    if (green__bypass(GREEN_F_THREAD))
        REAL(pthread_exit)(value);
    green__kill_handler = cancelled;
    exit_green(value);
}

GREEN_EXPORT void __pthread_register_cancel(__pthread_unwind_buf_t *buf)
{
    struct pdata *d;

    if (green__bypass(GREEN_F_THREAD)) {
        REAL(__pthread_register_cancel)(buf);
        return;
    }
    d = self_data();
    buf->__pad[0] = d->cleanup;
    d->cleanup = buf;
}

GREEN_EXPORT void __pthread_unregister_cancel(__pthread_unwind_buf_t *buf)
{
    if (green__bypass(GREEN_F_THREAD)) {
        REAL(__pthread_unregister_cancel)(buf);
        return;
    }
    self_data()->cleanup = buf->__pad[0];
}

GREEN_EXPORT void __pthread_unwind_next(__pthread_unwind_buf_t *buf)
{
    if (green__bypass(GREEN_F_THREAD))
        REAL(__pthread_unwind_next)(buf);
    unwind(self_data());
}

/* ---------------------------------------------------------------- joining */

GREEN_EXPORT int pthread_join(pthread_t t, void **value)
{
    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_join)(t, value);
    return green_join((green_t)t, value);
}

GREEN_EXPORT int pthread_tryjoin_np(pthread_t t, void **value)
{
    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_tryjoin_np)(t, value);
    return green_timedjoin((green_t)t, value, 0);
}

static int valid_ts(const struct timespec *ts)
{
    return ts && ts->tv_nsec >= 0 && ts->tv_nsec <= 999999999;
}

GREEN_EXPORT int pthread_clockjoin_np(pthread_t t, void **value, clockid_t clock,
                                      const struct timespec *abstime)
{
    int r;

    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_clockjoin_np)(t, value, clock, abstime);
    if (!abstime)
        return green_join((green_t)t, value);
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
        return EINVAL;
    if (!valid_ts(abstime))
        return green_join((green_t)t, value); /* glibc ignores a time it cannot use */
    r = green_timedjoin((green_t)t, value, green_deadline(clock, abstime));
    return r == EBUSY ? ETIMEDOUT : r;
}

GREEN_EXPORT int pthread_timedjoin_np(pthread_t t, void **value, const struct timespec *abstime)
{
    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_timedjoin_np)(t, value, abstime);
    return pthread_clockjoin_np(t, value, CLOCK_REALTIME, abstime);
}

GREEN_EXPORT int pthread_detach(pthread_t t)
{
    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_detach)(t);
    return green_detach((green_t)t);
}

GREEN_EXPORT pthread_t pthread_self(void)
{
    if (green__bypass(GREEN_F_THREAD))
        return REAL(pthread_self)();
    return (pthread_t)green_self();
}

/* ----------------------------------------------------------- cancellation */

GREEN_EXPORT int pthread_cancel(pthread_t t)
{
    struct green_thread *g;
    struct pdata *d;

    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_cancel)(t);
    if (!(g = green_of(t)))
        return ESRCH;
    green__kill_handler = cancelled;
    if (!g->user)
        g->user = calloc(1, sizeof(struct pdata));
    if (!(d = g->user))
        return ENOMEM;
    d->cancel_pending = 1;
    if (!d->cancel_disabled)
        green_kill((green_t)t);
    return 0;
}

GREEN_EXPORT int pthread_setcancelstate(int state, int *old)
{
    struct pdata *d;

    if (green__bypass(GREEN_F_THREAD))
        return REAL(pthread_setcancelstate)(state, old);
    if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
        return EINVAL;
    d = self_data();
    if (old)
        *old = d->cancel_disabled ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
    d->cancel_disabled = state == PTHREAD_CANCEL_DISABLE;
    if (d->cancel_disabled)
        green__current()->killed = 0; /* held back until enabled again */
    else if (d->cancel_pending)
        green_kill(green_self());
    return 0;
}

GREEN_EXPORT int pthread_setcanceltype(int type, int *old)
{
    if (green__bypass(GREEN_F_THREAD))
        return REAL(pthread_setcanceltype)(type, old);
    if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS)
        return EINVAL;
    if (old)
        *old = PTHREAD_CANCEL_DEFERRED;
    return 0;
}

GREEN_EXPORT void pthread_testcancel(void)
{
    struct pdata *d;

    if (green__bypass(GREEN_F_THREAD)) {
        REAL(pthread_testcancel)();
        return;
    }
    d = self_data();
    if (d->cancel_pending && !d->cancel_disabled)
        exit_green(PTHREAD_CANCELED);
}

/* -------------------------------------------------------------------- once */

/* pthread_once_t is an int: 0 not run, 1 running, 2 done.  Callers that find it running
 * wait on one process-wide condition variable, broadcast whenever a routine finishes or
 * its runner is cancelled (the next caller then runs it, as POSIX requires). */
static green_mutex_t once_mutex = GREEN_MUTEX_INIT;
static green_cond_t once_cond = GREEN_COND_INIT;

static void once_cancelled(void *arg)
{
    green_mutex_lock(&once_mutex);
    __atomic_store_n((int *)arg, 0, __ATOMIC_RELEASE);
    green_cond_broadcast(&once_cond);
    green_mutex_unlock(&once_mutex);
}

GREEN_EXPORT int pthread_once(pthread_once_t *once, void (*fn)(void))
{
    struct green_thread *t;

    if (green__bypass(GREEN_F_THREAD))
        return REAL(pthread_once)(once, fn);
    if (__atomic_load_n(once, __ATOMIC_ACQUIRE) == 2)
        return 0;
    t = green__current();
    t->nokill++;
    green_mutex_lock(&once_mutex);
    while (*once == 1)
        green_cond_wait(&once_cond, &once_mutex);
    if (*once == 2) {
        green_mutex_unlock(&once_mutex);
        t->nokill--;
        return 0;
    }
    *once = 1;
    green_mutex_unlock(&once_mutex);
    t->nokill--;
    pthread_cleanup_push(once_cancelled, once);
    fn();
    pthread_cleanup_pop(0);
    t->nokill++;
    green_mutex_lock(&once_mutex);
    __atomic_store_n(once, 2, __ATOMIC_RELEASE);
    green_cond_broadcast(&once_cond);
    green_mutex_unlock(&once_mutex);
    t->nokill--;
    return 0;
}

/* ------------------------------------------------------------ odds and ends */

/* An OS thread with no green state yet has no other green thread to yield to, and must
 * not build that state here: it allocates, and spin locks yield while they hold an
 * allocator's lock (tcmalloc's SpinLock; LeakSanitizer's check at exit). */
GREEN_EXPORT int sched_yield(void)
{
    if (green__bypass(GREEN_F_THREAD) || !green__tls)
        return REAL(sched_yield)();
    green_yield();
    return 0;
}

GREEN_EXPORT int pthread_setname_np(pthread_t t, const char *name)
{
    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_setname_np)(t, name);
    if (strlen(name) > 15)
        return ERANGE;
    return green_setname((green_t)t, name);
}

GREEN_EXPORT int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_getname_np)(t, buf, len);
    return green_getname((green_t)t, buf, len);
}

/* Calls about the OS thread itself (signals, scheduling, CPU time, affinity) apply to the
 * OS thread a green thread runs on. */
static int os_thread(pthread_t t, pthread_t *real)
{
    if (!green_of(t))
        return ESRCH;
    *real = REAL(pthread_self)();
    return 0;
}

#define ON_OS_THREAD(name, t, ...)                                                          \
    do {                                                                                    \
        pthread_t real_;                                                                    \
        int r_;                                                                             \
        if (!((t) & 1) || green__bypass(GREEN_F_THREAD))                                    \
            return REAL(name)(t, __VA_ARGS__);                                              \
        if ((r_ = os_thread(t, &real_)))                                                    \
            return r_;                                                                      \
        return REAL(name)(real_, __VA_ARGS__);                                              \
    } while (0)

GREEN_EXPORT int pthread_kill(pthread_t t, int sig)
{
    ON_OS_THREAD(pthread_kill, t, sig);
}

GREEN_EXPORT int pthread_getcpuclockid(pthread_t t, clockid_t *clock)
{
    ON_OS_THREAD(pthread_getcpuclockid, t, clock);
}

GREEN_EXPORT int pthread_setschedparam(pthread_t t, int policy, const struct sched_param *p)
{
    ON_OS_THREAD(pthread_setschedparam, t, policy, p);
}

GREEN_EXPORT int pthread_getschedparam(pthread_t t, int *policy, struct sched_param *p)
{
    ON_OS_THREAD(pthread_getschedparam, t, policy, p);
}

GREEN_EXPORT int pthread_setschedprio(pthread_t t, int prio)
{
    ON_OS_THREAD(pthread_setschedprio, t, prio);
}

GREEN_EXPORT int pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set)
{
    ON_OS_THREAD(pthread_setaffinity_np, t, size, set);
}

GREEN_EXPORT int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
    ON_OS_THREAD(pthread_getaffinity_np, t, size, set);
}

/* A green thread's attributes describe its green stack (main's, the OS thread's). */
GREEN_EXPORT int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
    struct green_thread *g;

    if (!(t & 1) || green__bypass(GREEN_F_THREAD))
        return REAL(pthread_getattr_np)(t, attr);
    if (!(g = green_of(t)))
        return ESRCH;
    if (g->is_main)
        return REAL(pthread_getattr_np)(REAL(pthread_self)(), attr);
    pthread_attr_init(attr);
    pthread_attr_setstack(attr, g->stack.lo, g->stack.size);
    pthread_attr_setguardsize(attr, g->stack.guard);
    pthread_attr_setdetachstate(attr, g->detached ? PTHREAD_CREATE_DETACHED
                                                  : PTHREAD_CREATE_JOINABLE);
    return 0;
}
