/*
 * green.h — libgreen's public API: cooperative green threads on a libev hub.
 *
 * Green threads run one at a time on the OS thread that created them and switch only at
 * waits: sleeping, waiting for a file descriptor, joining, locking, or an explicit yield.
 * Each OS thread that calls into libgreen gets its own scheduler and hub (a libev loop run
 * by a hub green thread); the OS thread's original flow of control is itself a green
 * thread ("main"), so it can join, sleep and wait like any other.
 *
 * Conventions, the same for every function below:
 *  - Functions that return `int` return 0 on success or a positive error number (like the
 *    pthread API); they never set errno.  Functions that return a handle return
 *    GREEN_NONE on failure and set errno.
 *  - A `deadline` is an absolute CLOCK_MONOTONIC time in nanoseconds (see green_now());
 *    GREEN_NO_DEADLINE waits forever.  Public functions that take a relative time say so
 *    in their parameter name (`seconds`).
 *  - Every wait is a kill point: a green thread that is killed (green_kill) ends at its
 *    current or next wait without returning from it, like deferred pthread cancellation.
 *  - When no green thread can ever run again (everyone waits and nothing in the hub can
 *    wake anybody), the hub prints a report to stderr naming what each green thread waits
 *    on, and the blocked call of the main green thread (or, if main is not waiting, of
 *    every waiting thread) fails with EDEADLK.
 *  - Every green thread keeps its own errno across switches.
 *  - A green thread belongs to the OS thread that spawned it: join, timedjoin, joinall,
 *    value, detach, kill, setname and getname on another OS thread's green thread give
 *    EPERM.  Sync objects and the pool work across OS threads.
 */
#ifndef GREEN_H
#define GREEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GREEN_VERSION "0.1.0"

/* A green thread handle: unique for the life of the process, never reused, 0 is none. */
typedef uint64_t green_t;
#define GREEN_NONE ((green_t)0)

/* The value a killed green thread reports to green_join (like PTHREAD_CANCELED). */
#define GREEN_KILLED ((void *)(intptr_t)-1)

#define GREEN_NO_DEADLINE INT64_MAX

/* Events for green_wait_fd. */
#define GREEN_READ 1
#define GREEN_WRITE 2

/* ---------------------------------------------------------------- threads */

typedef struct green_attr {
    size_t stack_size; /* usable stack bytes, 0 = default (GREEN_STACK_SIZE or 256 KiB) */
    const char *name;  /* copied, truncated to 15 bytes; NULL = unnamed */
    int detached;      /* nonzero: resources are freed at exit, the thread can't be joined */
} green_attr_t;

/* Start fn(arg) in a new green thread; it runs when the caller next waits or yields (FIFO).
 * Returns the handle, or GREEN_NONE with errno EAGAIN (no memory for a stack or the stack
 * reservation failed) or EINVAL (stack_size below 16 KiB or above 1 GiB). */
green_t green_spawn(void *(*fn)(void *), void *arg);
green_t green_spawn_attr(const green_attr_t *attr, void *(*fn)(void *), void *arg);

/* Wait for t to end, store its value (fn's return, green_exit's argument, or GREEN_KILLED)
 * in *value unless value is NULL, and free it.  Errors: ESRCH t is not a live or
 * unjoined green thread (joined already, or never existed); EINVAL t is detached or
 * another thread is joining it; EDEADLK t is the caller, or deadlock. */
int green_join(green_t t, void **value);

/* green_join that gives up at deadline with ETIMEDOUT (t stays joinable).  A deadline
 * in the past only checks: EBUSY if t has not ended. */
int green_timedjoin(green_t t, void **value, int64_t deadline);

/* Join every thread in threads[0..n), waiting at most timeout_seconds (negative = no
 * limit).  Each thread that ended in time is joined: its value goes to values[i] (if values
 * is not NULL) and threads[i] becomes GREEN_NONE.  Returns 0 when all were joined,
 * ETIMEDOUT when the time ran out first (the rest stay joinable), or the first error of
 * green_join for an entry (ESRCH, EINVAL, EDEADLK), in which case nothing waits. */
int green_joinall(green_t *threads, size_t n, void **values, double timeout_seconds);

/* The value of an ended thread without joining it: 0 and *value set, EBUSY while t still
 * runs, ESRCH for an invalid handle, EINVAL for a detached thread. */
int green_value(green_t t, void **value);

/* Mark t detached: freed when it ends.  EINVAL already detached, ESRCH invalid. */
int green_detach(green_t t);

/* Let every other ready green thread run once, then continue.  Returns 0. */
int green_yield(void);

/* End the calling green thread with value.  Called from main, the OS thread's other green
 * threads run on; when the last one ends the process exits with status 0 (the main OS
 * thread) or the OS thread exits (another OS thread), as pthread_exit does. */
void green_exit(void *value) __attribute__((noreturn));

/* Ask t to end: it ends at its current wait (which does not return) or at its next one;
 * one that never ran does not run.  Joining it then gives GREEN_KILLED.  t may be the
 * caller.  Waits for a pool job (green_pool_run) finish the job first.  Returns 0 (also
 * for a thread that has already ended: nothing happens), or ESRCH for an invalid handle. */
int green_kill(green_t t);

/* The calling green thread (main included). */
green_t green_self(void);

/* A short name for reports and dumps; truncated to 15 bytes.  ESRCH invalid handle. */
int green_setname(green_t t, const char *name);
/* Copy t's name (empty if none) into buf; ERANGE if len < 16, ESRCH invalid handle. */
int green_getname(green_t t, char *buf, size_t len);

/* --------------------------------------------------------------- time, fds */

/* CLOCK_MONOTONIC now, in nanoseconds: the clock of every deadline. */
int64_t green_now(void);

/* Convert an absolute time on clock (CLOCK_MONOTONIC or CLOCK_REALTIME) to a deadline. */
int64_t green_deadline(clockid_t clock, const struct timespec *abstime);

/* Sleep the calling green thread; other green threads run meanwhile.  0 always (a
 * negative or zero time yields once).  EINVAL for NaN. */
int green_sleep(double seconds);
/* Sleep until deadline.  Returns 0. */
int green_sleep_until(int64_t deadline);

/* Wait until fd is ready for events (GREEN_READ and/or GREEN_WRITE).  Returns 0 when
 * ready, ETIMEDOUT at the deadline, EBADF if fd is not open or is closed by
 * green_close_fd while waiting, EINVAL for empty events, EDEADLK on deadlock. */
int green_wait_fd(int fd, int events, int64_t deadline);

/* Tell the hub that fd is about to be closed: green threads waiting on it wake with EBADF.
 * Call before close(2) when another green thread may be waiting on the descriptor. */
void green_close_fd(int fd);

/* Wait for child pid to exit (to be reaped by waitpid), cooperatively.  Returns 0 when
 * waitpid(pid, ..., WNOHANG) will find it, ETIMEDOUT at the deadline, ECHILD if pid is
 * not a child of the process, EINVAL for pid <= 0, EDEADLK on deadlock.  (A pidfd reports
 * exits only, not stops.) */
int green_wait_child(pid_t pid, int64_t deadline);

/* ------------------------------------------------------------- blocking pool */

/* Run fn(arg) on one of a few real OS threads and wait for it cooperatively: for calls
 * that cannot be made non-blocking (regular-file I/O, name resolution).  fn must not call
 * libgreen waits.  Returns 0 once fn has returned; EAGAIN if no pool thread could be
 * started.  Not a kill point until fn has returned. */
int green_pool_run(void (*fn)(void *), void *arg);

/* ------------------------------------------------------------------- sync
 * Cooperative primitives.  The objects are plain structs: zero-filled (the *_INIT macros)
 * is a valid default object, so they can be static.  A green thread that waits on one
 * lets the others run.  They may be shared between green threads of different OS threads
 * and signalled (unlock, post, set, signal) from any OS thread, pool workers included.
 * Fields are private. */

struct green__waitq {
    void *head, *tail;
};

enum { GREEN_MUTEX_NORMAL = 0, GREEN_MUTEX_RECURSIVE = 1, GREEN_MUTEX_ERRORCHECK = 2 };

/* The layout overlays glibc's pthread_mutex_t (40 bytes on x86-64, `type` where glibc keeps
 * __kind), so the preload shim can run a program's mutexes, static initializers included,
 * on this type. */
typedef struct green_mutex {
    unsigned lock;
    unsigned count;
    void *owner;
    int type;
    int reserved;
    struct green__waitq waiters;
} green_mutex_t;
#define GREEN_MUTEX_INIT {0}

/* type: GREEN_MUTEX_NORMAL, _RECURSIVE or _ERRORCHECK; EINVAL otherwise. */
int green_mutex_init(green_mutex_t *m, int type);
/* EBUSY if locked or waited on. */
int green_mutex_destroy(green_mutex_t *m);
/* Normal: relocking by the owner deadlocks (EDEADLK is reported by the deadlock check).
 * Errorcheck: EDEADLK on relock.  Recursive: counts; EAGAIN past UINT_MAX. */
int green_mutex_lock(green_mutex_t *m);
/* EBUSY if held by another (or, normal/errorcheck, by the caller). */
int green_mutex_trylock(green_mutex_t *m);
/* As lock, giving up with ETIMEDOUT at deadline. */
int green_mutex_timedlock(green_mutex_t *m, int64_t deadline);
/* EPERM if the caller does not own it (errorcheck and recursive; normal: undefined). */
int green_mutex_unlock(green_mutex_t *m);

typedef struct green_cond {
    unsigned lock;
    int clock; /* CLOCK_MONOTONIC or CLOCK_REALTIME (0 = CLOCK_REALTIME, as pthread) */
    struct green__waitq waiters;
} green_cond_t;
#define GREEN_COND_INIT {0}

/* clock: CLOCK_REALTIME or CLOCK_MONOTONIC, the clock of timedwait's abstime; EINVAL else. */
int green_cond_init(green_cond_t *c, clockid_t clock);
int green_cond_destroy(green_cond_t *c); /* EBUSY if waited on */
/* Atomically unlock m and wait; relock m before returning (also when killed: the thread
 * ends holding m, as with pthread cancellation).  EPERM if m is not the caller's. */
int green_cond_wait(green_cond_t *c, green_mutex_t *m);
/* As wait, ETIMEDOUT once abstime on the cond's clock has passed. */
int green_cond_timedwait(green_cond_t *c, green_mutex_t *m, const struct timespec *abstime);
int green_cond_signal(green_cond_t *c);
int green_cond_broadcast(green_cond_t *c);

typedef struct green_rwlock {
    unsigned lock;
    int readers;  /* active readers */
    void *writer; /* owning writer */
    struct green__waitq waiters;
} green_rwlock_t;
#define GREEN_RWLOCK_INIT {0}

/* Writers are preferred: a reader waits while a writer waits, so writers never starve. */
int green_rwlock_init(green_rwlock_t *rw);
int green_rwlock_destroy(green_rwlock_t *rw); /* EBUSY if held or waited on */
int green_rwlock_rdlock(green_rwlock_t *rw);  /* EDEADLK if the caller holds it to write */
int green_rwlock_tryrdlock(green_rwlock_t *rw); /* EBUSY */
int green_rwlock_timedrdlock(green_rwlock_t *rw, int64_t deadline); /* ETIMEDOUT */
int green_rwlock_wrlock(green_rwlock_t *rw);  /* EDEADLK if the caller holds it to write */
int green_rwlock_trywrlock(green_rwlock_t *rw); /* EBUSY */
int green_rwlock_timedwrlock(green_rwlock_t *rw, int64_t deadline); /* ETIMEDOUT */
int green_rwlock_unlock(green_rwlock_t *rw); /* EPERM if not held */

typedef struct green_sem {
    unsigned lock;
    unsigned value;
    struct green__waitq waiters;
} green_sem_t;

int green_sem_init(green_sem_t *s, unsigned value);
int green_sem_destroy(green_sem_t *s); /* EBUSY if waited on */
int green_sem_wait(green_sem_t *s);
int green_sem_trywait(green_sem_t *s);                   /* EAGAIN if zero */
int green_sem_timedwait(green_sem_t *s, int64_t deadline); /* ETIMEDOUT */
int green_sem_post(green_sem_t *s);                      /* EOVERFLOW at UINT_MAX */
int green_sem_getvalue(green_sem_t *s, unsigned *value);

typedef struct green_once {
    unsigned lock;
    int state;
    struct green__waitq waiters;
} green_once_t;
#define GREEN_ONCE_INIT {0}

/* Run fn exactly once; callers that arrive while it runs wait for it to finish.  If the
 * green thread running fn is killed, the next caller runs fn. */
int green_once(green_once_t *once, void (*fn)(void));

/* 32 bytes: fits in glibc's pthread_barrier_t. */
typedef struct green_barrier {
    unsigned lock;
    unsigned count, waiting;
    unsigned generation;
    struct green__waitq waiters;
} green_barrier_t;
#define GREEN_BARRIER_SERIAL_THREAD (-1)

/* count: threads per round, EINVAL if 0. */
int green_barrier_init(green_barrier_t *b, unsigned count);
int green_barrier_destroy(green_barrier_t *b); /* EBUSY if waited on */
/* Wait until count threads have arrived: one of them gets GREEN_BARRIER_SERIAL_THREAD,
 * the others 0. */
int green_barrier_wait(green_barrier_t *b);

typedef struct green_event {
    unsigned lock;
    int set;
    struct green__waitq waiters;
} green_event_t;
#define GREEN_EVENT_INIT {0}

/* A flag green threads wait on, as gevent.event.Event: set wakes every waiter, and waits
 * return at once while it stays set; clear resets it. */
int green_event_init(green_event_t *e);
int green_event_destroy(green_event_t *e); /* EBUSY if waited on */
int green_event_set(green_event_t *e);
int green_event_clear(green_event_t *e);
int green_event_is_set(green_event_t *e); /* 1 or 0 */
int green_event_wait(green_event_t *e);
int green_event_timedwait(green_event_t *e, int64_t deadline); /* ETIMEDOUT */

#ifdef __cplusplus
}
#endif

#endif
