/*
 * internal.h — what the runtime's files share, and what preload/ may use.
 *
 * State is per OS thread: one struct green__local made of each module's part (scheduler,
 * hub, stack cache), reached through green__local(), which builds it on first use.  A green
 * thread belongs to the OS thread that spawned it (its `home`) for its whole life, and only
 * that OS thread ever changes its scheduling state; other OS threads reach it only through
 * the waiter protocol below, which hands the wake to the home hub.
 *
 * Errors inside the runtime are returned as -errno; the public API turns them into the
 * positive numbers green.h documents.
 */
#ifndef GREEN_INTERNAL_H
#define GREEN_INTERNAL_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stddef.h>

#include "ctx.h"
#include "green.h"
#include "list.h"

#define GREEN_EXPORT __attribute__((visibility("default")))
#define GREEN_LIKELY(x) __builtin_expect(!!(x), 1)
#define GREEN_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------------ debug.c */

/* A broken invariant: print "green: <message>" and abort, in every build. */
void green__panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* One line "green: <message>" on stderr, written with the raw system call (safe in a
 * signal handler and from inside any hook). */
void green__say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "#3" or "#3 \"worker\"": how reports name a green thread, into buf (48 bytes do). */
const char *green__label(char *buf, size_t len, uint64_t seq, const char *name);
/* Print what every green thread of this OS thread is doing (deadlock report, dumps), each
 * with its backtrace; uc: the ucontext of the code a signal interrupted, or NULL. */
void green__report_threads(const char *headline, void *uc);
/* Install a handler of the runtime's own (SA_SIGINFO | flags, nothing blocked), keeping
 * the disposition it replaces in *before. */
void green__handler_install(int sig, void (*fn)(int, siginfo_t *, void *), int flags,
                            struct sigaction *before);
/* Run the handler a kept, if it is one (not SIG_DFL or SIG_IGN); 0 if it is not. */
int green__handler_chain(const struct sigaction *a, int sig, siginfo_t *si, void *uc);
/* Install the SIGSEGV handler that turns a guard-page hit into a stack overflow report,
 * and this OS thread's alternate signal stack.  Idempotent per OS thread. */
void green__overflow_init(void);

/* ------------------------------------------------------------- backtrace.c */

/* Return addresses, innermost first, at most max: of the caller, of the code a signal
 * interrupted (uc: the handler's third argument), of a parked green thread. */
int green__bt_here(void **ips, int max);
int green__bt_signal(void *uc, void **ips, int max);
struct green_thread;
int green__bt_thread(const struct green_thread *t, void **ips, int max);
/* One line per frame, "<indent>#i function+0xoff (object)"; exact0: ips[0] is an
 * interrupted pc rather than a return address. */
void green__bt_print(void *const *ips, int n, int exact0, const char *indent);

/* --------------------------------------------------------------- monitor.c */

struct green__local;
/* Once per process, at the first OS thread's state: the dump signal's handler
 * (GREEN_DUMP_SIGNAL) and the blocking monitor's thread (GREEN_BLOCK_WARN_MS). */
void green__monitor_init(void);
/* Put an OS thread's state on the list (at its creation) and take it off (at its end). */
void green__monitor_register(struct green__local *l);
void green__monitor_unregister(struct green__local *l);
/* In a child after fork: l is the only OS thread, and the monitor's thread is gone. */
void green__monitor_fork_child(struct green__local *l);
/* Is sig one the runtime handles itself (the dump signal, the monitor's samples)? */
int green__signal_reserved(int sig);
/* Set by the preload shim: run the program's own handler for a reserved signal, if it
 * installed one through the shim; returns 0 if it has none. */
extern int (*green__signal_program)(int sig, void *si, void *uc);

/* ----------------------------------------------------------------- config.c */

/* Settings read once from the environment; a bad value stops the program with exit status
 * 2 and one line naming the variable, the value and what is accepted. */
struct green__config {
    size_t stack_size;      /* GREEN_STACK_SIZE, default 256 KiB */
    int stats;              /* GREEN_STATS: report at exit */
    int dump_signal;        /* GREEN_DUMP_SIGNAL: 0 off */
    unsigned block_warn_ms; /* GREEN_BLOCK_WARN_MS: 0 off */
};
/* The watchdog's signal, sent to an OS thread whose green thread runs too long, to take
 * its backtrace (monitor.c).  Never accepted as GREEN_DUMP_SIGNAL. */
#define GREEN_SAMPLE_SIGNAL (SIGRTMAX - 1)
const struct green__config *green__config(void);
/* A deadline sec seconds and ns nanoseconds (both >= 0) from now.  One too far to
 * represent (a timeout of LONG_MAX seconds) is GREEN_NO_DEADLINE: the kernel waits
 * without end for such a timeout, where the sum would wrap into the past and end the wait
 * at once. */
static inline int64_t green__deadline_after(int64_t sec, int64_t ns)
{
    int64_t d;

    if (__builtin_mul_overflow(sec, (int64_t)1000000000, &d) ||
        __builtin_add_overflow(d, ns, &d) || __builtin_add_overflow(d, green_now(), &d))
        return GREEN_NO_DEADLINE;
    return d;
}

/* Stop the program for a bad setting: exit status 2 after one line "green: VAR="value" is
 * not valid: <accepted>", the value escaped and cut short (config.c's comment says how). */
void green__bad_setting(const char *var, const char *value, const char *accepted)
    __attribute__((noreturn));
/* Parse a size such as "256k", "1M", "65536"; -EINVAL if malformed or out of [lo, hi]. */
int green__parse_size(const char *s, size_t lo, size_t hi, size_t *out);

/* ------------------------------------------------------------------- lock.h */

/* A spinlock for the short critical sections of objects shared between OS threads (sync
 * primitives, the hub's remote queue).  It never calls into libc, so it is safe inside
 * hooks and cannot recurse into them. */
void green__spin_lock_slow(unsigned *l);
static inline void green__spin_lock(unsigned *l)
{
    if (GREEN_LIKELY(!__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)))
        return;
    green__spin_lock_slow(l);
}
static inline int green__spin_trylock(unsigned *l)
{
    return !__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE);
}
static inline void green__spin_unlock(unsigned *l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------ stack.c */

struct green__stack {
    char *lo;     /* lowest usable byte; the guard region lies just below */
    size_t size;  /* usable bytes */
    size_t guard; /* guard bytes below lo (0: unguarded, canary at lo) */
    unsigned flags;
    unsigned vg_id; /* valgrind's id for the stack (stack.c) */
};
#define GREEN_STACK_CHUNKED 1u /* carved from a shared chunk (never unmapped) */
#define GREEN_STACK_CANARY 2u  /* no guard: a canary word at lo is checked at switches */
#define GREEN_STACK_CANARY_VALUE 0x677265656e21deadULL

struct green__stack_cache {
    struct green__stack *free; /* free default-size stacks, LIFO */
    size_t nfree, cap;
    size_t clean;              /* free[0..clean) have given their pages back */
    struct green__stack *odd;  /* free stacks of other sizes */
    size_t nodd, oddcap;
    char *chunk_next, *chunk_end; /* carving cursor in the current chunk */
};
int green__stack_get(struct green__stack *s, size_t size);
void green__stack_put(struct green__stack *s);
/* Give back the memory of up to max idle stacks beyond the warm set; returns how many. */
size_t green__stack_trim(size_t max);
void green__stack_term(struct green__stack_cache *c);
/* How stacks are guarded in this process: "madvise", "mprotect" or "canary" (after the
 * mprotect budget derived from vm.max_map_count is spent). */
const char *green__stack_guard_mode(void);
/* Test seam: force the mprotect fallback (as on kernels before 6.13) with a VMA budget. */
void green__stack_force_mprotect(long budget);

/* ------------------------------------------------------------------ sched.c */

enum green__state {
    GREEN_FREE = 0, /* slot free, handle stale */
    GREEN_READY,    /* in the run queue */
    GREEN_RUNNING,
    GREEN_WAITING,  /* parked; only green__sched_ready moves it on */
    GREEN_DONE      /* ended, waiting to be joined */
};

/* What a parked green thread waits on, for reports and for the deadlock check. */
enum green__wait_kind {
    GREEN_WAIT_NONE = 0,
    GREEN_WAIT_FD,
    GREEN_WAIT_SLEEP,
    GREEN_WAIT_JOIN,
    GREEN_WAIT_MUTEX,
    GREEN_WAIT_COND,
    GREEN_WAIT_RWLOCK,
    GREEN_WAIT_SEM,
    GREEN_WAIT_ONCE,
    GREEN_WAIT_BARRIER,
    GREEN_WAIT_EVENT,
    GREEN_WAIT_POOL,
    GREEN_WAIT_CHILD,
    GREEN_WAIT_HANDOFF, /* a remote wake is on its way: short, never interrupted */
    GREEN_WAIT_EXITED,  /* main after green_exit, until the others end */
    GREEN_WAIT_OTHER    /* a preload wait; desc says what */
};

struct green__wait {
    int kind;
    int killable;      /* kill and deadlock may end this wait */
    const void *obj;   /* the object waited on (mutex, cond, joined thread, ...) */
    int fd, events;    /* GREEN_WAIT_FD: descriptor and GREEN_READ/GREEN_WRITE;
                        * GREEN_WAIT_CHILD: fd is the child's pid */
    int64_t deadline;  /* GREEN_NO_DEADLINE if none */
    const char *desc;  /* GREEN_WAIT_OTHER: a short phrase */
    int for_signal;    /* only a signal ends it (pause, sigwait): never a deadlock */
};

struct green__local;

struct green_thread {
    struct green_ctx ctx;       /* first: the switch reaches it without arithmetic */
    struct green__local *home;  /* before link: the run-queue link then never straddles a
                                 * cache line (BENCHMARKS.md: 14.9 vs 10.6 ns a switch) */
    struct green__list link;    /* run queue, or the free list */
    struct green__list all;     /* every live thread of the home OS thread */
    uint32_t slot, gen;         /* handle = (gen << 32) | slot */
    uint8_t state, detached, killed, is_main;
    unsigned nokill;            /* >0: kill does not interrupt waits (pthread calls that are
                                 * not cancellation points); it takes effect at a later wait */
    uint8_t intr;               /* how a signal handler ends the current wait (GREEN_INTR_*) */
    unsigned intr_seq;          /* green__signal_seq when that wait began */
    int saved_errno;
    int wake_code;              /* set by green__sched_ready, returned by park */
    void *(*fn)(void *);
    void *arg;
    void *value;
    struct green_thread *joiner;
    struct green__stack stack;
    struct green__wait wait;
    uint64_t seq;               /* #N in reports, in spawn order; main is #1 */
    void *user;                 /* owned by preload/ (pthread keys, cleanup) */
    char name[16];
#ifdef __SANITIZE_ADDRESS__
    /* What ASan is told at a switch to this thread (sched.c): its stack (main's is learnt
     * when main first switches away) and its fake stack while it is switched out. */
    const void *asan_lo;
    size_t asan_size;
    void *asan_fake;
#endif
};

struct green__sched {
    struct green_thread *current;
    struct green_thread *hub;
    struct green_thread *zombie; /* ended; its stack is released after the next switch */
    struct green__list runq;
    struct green__list all;
    struct green__list free;     /* thread structs whose slot is free, for reuse */
    unsigned ticks;              /* switches since the hub last polled */
    size_t alive;                /* threads that have not ended, main included */
    int main_exited;             /* main called green_exit and waits for the others */
    struct green_thread *main;
#ifdef __SANITIZE_ADDRESS__
    struct green_thread *asan_from; /* the thread the last switch left */
#endif
};

/* Per OS thread. */
/* ------------------------------------------------------------------ stats.c
 *
 * Counters of one OS thread's scheduler.  switches, created and peak_alive are always
 * kept (an add each); the timings only under GREEN_STATS=1 (green__stats_on), as they
 * read the clock at every switch.  The blocking monitor (monitor.c) reads switches and
 * idle from its own OS thread, hence the relaxed atomics on them.
 */
#define GREEN_BT_MAX 24
#define GREEN_FAMILIES 8 /* preload/hook.h's GREEN_F_* bits, one counter each */
struct green__stats {
    uint64_t switches;
    int idle;                       /* the hub is blocked in the kernel */
    uint64_t created;               /* green threads spawned, main not counted */
    size_t peak_alive;
    /* GREEN_STATS=1 only: */
    int64_t run_start;              /* when the running thread was switched to */
    int64_t idle_since, idle_ns;    /* the hub's time blocked in the kernel */
    int64_t born, lived_ns;         /* when the OS thread's state was made; its life, once
                                     * added up (report, fold) */
    uint64_t os_threads;            /* OS threads added up (report, fold) */
    int64_t longest_run;            /* the longest run without a switch, and its thread */
    uint64_t longest_seq;
    char longest_name[16];
    void *longest_at[GREEN_BT_MAX]; /* where that run ended (it switched away there) */
    int longest_depth;
    uint64_t waits[GREEN_WAIT_OTHER + 1], family_waits[GREEN_FAMILIES + 1];
    int64_t waited[GREEN_WAIT_OTHER + 1], family_waited[GREEN_FAMILIES + 1];
};
extern int green__stats_on;
/* The GREEN_F_* bit of the hook the OS thread runs (preload/hook.h sets it), 0 for the API:
 * green__sched_park counts a wait under it. */
extern __thread unsigned green__family __attribute__((tls_model("initial-exec")));
/* The preload shim names the families for the report (NULL: waits by kind only). */
extern const char *const *green__family_names;
/* GREEN_STATS=1: a switch from prev (the running thread) is about to happen. */
void green__stats_switch(struct green__local *l, struct green_thread *prev);
/* GREEN_STATS=1: the current thread waited `ns` in a wait of kind `kind`, started by a
 * hook of `family` (a GREEN_F_* bit, 0 for the API). */
void green__stats_wait(struct green__local *l, int kind, unsigned family, int64_t ns);
/* Fold an ending OS thread's counters into the process's totals. */
void green__stats_fold(const struct green__stats *st);
/* Register the report at exit (GREEN_STATS=1); once per process. */
void green__stats_init(void);
/* In a child after fork: count afresh (the child reports its own work). */
void green__stats_fork_child(struct green__stats *st);

struct green__local {
    struct green__sched sched;
    struct green__hub *hub;
    struct green__stack_cache stacks;
    int in_runtime; /* >0: the runtime calls libc for itself; hooks must pass through */
    struct green__stats stats;
    /* monitor.c: every OS thread with green threads is on one list, under green__locals_lock */
    struct green__list registered;
    int tid;
    int sample_pending;             /* the monitor asked this OS thread for a backtrace */
    uint64_t wd_switches;           /* the monitor's view: switch count last seen, */
    int64_t wd_since;               /* since when, */
    int wd_reported;                /* and whether this run was reported, */
    uint64_t wd_reported_seq;       /* for which thread */
    char wd_reported_name[16];
};
extern struct green__list green__locals;
extern unsigned green__locals_lock;

extern __thread struct green__local *green__tls __attribute__((tls_model("initial-exec")));
/* Set on OS threads that must never become green (pool workers): hooks pass through. */
extern __thread int green__tls_real __attribute__((tls_model("initial-exec")));
struct green__local *green__local_init(void);

static inline struct green__local *green__local(void)
{
    struct green__local *l = green__tls;
    return GREEN_LIKELY(l != NULL) ? l : green__local_init();
}
/* The OS thread's state if it has one, without creating it (pool workers have none). */
static inline struct green__local *green__local_peek(void)
{
    return green__tls;
}
static inline struct green_thread *green__current(void)
{
    return green__local()->sched.current;
}

/* Bracket libc calls the runtime makes for itself, so a preload hook passes them through. */
static inline void green__runtime_enter(void)
{
    struct green__local *l = green__tls;
    if (l)
        l->in_runtime++;
}
static inline void green__runtime_leave(void)
{
    struct green__local *l = green__tls;
    if (l)
        l->in_runtime--;
}

/* The thread for a handle, or NULL if the handle is stale or was never issued. */
struct green_thread *green__thread_lookup(green_t h);
/* Handles are odd, so they never equal a real pthread_t (an aligned address). */
static inline green_t green__handle(const struct green_thread *t)
{
    return ((uint64_t)t->gen << 32) | ((uint64_t)t->slot << 1) | 1;
}

/* Park the current green thread (its state becomes WAITING, t->wait must describe the
 * wait) and run others; returns the code given to green__sched_ready.  A killable wait of
 * an already killed thread returns -ECANCELED without parking. */
int green__sched_park(void);
/* Make a WAITING thread of this OS thread runnable; park returns code.  A thread that is
 * not WAITING is left alone (the first wake wins).  Must run on t's home OS thread. */
void green__sched_ready(struct green_thread *t, int code);
/* End the current green thread; never returns. */
void green__sched_exit(void *value) __attribute__((noreturn));
/* How a killed thread ends; NULL means green__sched_exit(GREEN_KILLED).  The preload shim
 * sets it to run pthread cleanup handlers and key destructors first (cancellation). */
extern void (*green__kill_handler)(void);
void green__killed(void) __attribute__((noreturn));
/* The public API's exit from a wait: a killed thread ends here instead of returning. */
static inline int green__api_result(int r)
{
    if (GREEN_UNLIKELY(r == -ECANCELED) && green__current()->killed)
        green__killed();
    return r < 0 ? -r : r;
}
/* Called by the hub before it blocks: nothing is runnable.  Returns 1 if it declared a
 * deadlock (and readied the failing waits), 0 if blocking is fine. */
int green__sched_check_deadlock(int hub_has_work);
/* Hub's turn: run the ready threads, return when the run queue is empty or after a slice. */
void green__sched_run_ready(void);
const char *green__state_name(int state);
const char *green__wait_name(int kind);

/* ----------------------------------------------------------- waiter protocol
 *
 * How a green thread waits on an object that any OS thread may signal (sync primitives,
 * pool jobs).  The object has a spinlock and a green__waitq.
 *
 *   waiter:  lock; enqueue w; green__waiter_wait(w, &lock, &q, deadline, ...)   (unlocks)
 *   waker:   lock; w = dequeue; green__waiter_wake(w, code); unlock
 *
 * green__waiter_wake marks w claimed (under the object's lock) and readies its thread
 * directly when the waker runs on the waiter's home OS thread, or posts it to the home hub
 * (remote) otherwise.  A waiter whose wait ends another way (deadline, kill, deadlock)
 * re-takes the lock: still queued, it leaves the queue and returns that error; already
 * claimed, the waker's hand-off wins (no token or signal is lost) and, if it was posted,
 * the waiter waits for the post to arrive, because the post lives in w on its stack.
 */
struct green__waiter {
    struct green__waiter *next, *prev; /* in the object's queue, under its lock */
    struct green_thread *thread;
    int code;                          /* the waker's result (>= 0 success, < 0 error) */
    int claimed;                       /* dequeued by a waker */
    int remote;                        /* the wake travels through the home hub */
    int delivered;                     /* the remote wake has arrived (home thread only) */
    struct green__waiter *post_next;   /* in the hub's remote queue */
    intptr_t data;                     /* free for the object's own use */
};

static inline int green__waitq_empty(const struct green__waitq *q)
{
    return q->head == NULL;
}
void green__waitq_push(struct green__waitq *q, struct green__waiter *w);
void green__waitq_remove(struct green__waitq *q, struct green__waiter *w);
struct green__waiter *green__waitq_pop(struct green__waitq *q);
/* Initialise w for the current green thread. */
void green__waiter_init(struct green__waiter *w);
/* Wake a waiter the caller has dequeued under the object's lock.  Callable from any OS
 * thread, green or not. */
void green__waiter_wake(struct green__waiter *w, int code);
/* Wait on w, which the caller queued on q holding *lock; releases *lock.  Returns the
 * waker's code, or -ETIMEDOUT / -ECANCELED / -EDEADLK if w was still queued when the wait
 * ended another way.  kind/obj describe the wait for reports. */
int green__waiter_wait(struct green__waiter *w, unsigned *lock, struct green__waitq *q,
                       int64_t deadline, int kind, const void *obj);

/* ------------------------------------------------------------------ signals
 *
 * A wait inside an emulated system call ends with -EINTR when a signal handler runs
 * during it, as the kernel's call would have: GREEN_INTR_RESTARTABLE waits only for
 * handlers installed without SA_RESTART (read, recv, accept, sem_wait, waitpid, ...),
 * GREEN_INTR_ALWAYS waits for any handler (poll, select, epoll_wait, the sleep family,
 * socket calls with a timeout: signal(7)'s "never restarted" list).  As Linux gives a
 * process-directed signal to the main thread first, only the main green thread's wait is
 * interrupted.  The preload shim reports each handler run with green__signal_note.
 */
enum { GREEN_INTR_NONE = 0, GREEN_INTR_RESTARTABLE, GREEN_INTR_ALWAYS };
extern unsigned green__signal_seq, green__signal_norestart_seq;
/* Signal handlers the program has installed (through the shim): while there are any, an
 * interruptible wait of main can still end, so it is not a deadlock. */
extern int green__signal_handlers;
/* From a signal handler: a handler ran (restart: it has SA_RESTART). */
void green__signal_note(int restart);
/* Begin/end an interruptible wait of the current green thread. */
static inline void green__intr_begin(int intr)
{
    struct green_thread *t = green__current();
    t->intr = (uint8_t)intr;
    t->intr_seq = __atomic_load_n(&green__signal_seq, __ATOMIC_ACQUIRE);
}
/* The waits of one call that waits more than once (woken for an fd another thread drained
 * first, ...): the kernel's call was blocked all along, so a handler that ran between two
 * of them, which the hub saw while the thread was not waiting, still ends the call.
 * Handlers count from the span's first wait; a call whose class changes (a transfer got
 * under way) starts a new span there (green__intr_span_moved). */
struct green__intr_span {
    unsigned since; /* green__signal_seq at the span's first wait */
    uint8_t begun;
    uint8_t intr;   /* the class of its last wait */
};
/* Has a handler that ends an intr wait run since span s began?  Only the main green
 * thread's calls are ever interrupted (the kernel gives a process-directed signal to the
 * main thread, which does not block it): another thread's never are. */
static inline int green__intr_span_ended(const struct green__intr_span *s, int intr)
{
    unsigned seq;

    if (!s->begun || green__current() != green__local()->sched.main)
        return 0;
    seq = __atomic_load_n(intr == GREEN_INTR_ALWAYS ? &green__signal_seq
                                                    : &green__signal_norestart_seq,
                          __ATOMIC_ACQUIRE);
    return intr == GREEN_INTR_ALWAYS ? seq != s->since : (int)(seq - s->since) > 0;
}
/* The first bytes of a call moved: from here any handler ends it (with the count), so a
 * new span begins.  Returns 1 if one that ends its waits already ran: the kernel's call
 * ended there, and this one ends now, with the count. */
static inline int green__intr_span_moved(struct green__intr_span *s)
{
    int ended = green__intr_span_ended(s, s->intr);

    s->begun = 0;
    return ended;
}
/* green__intr_begin for a wait of span s; returns 1, beginning nothing, if the call is
 * already interrupted (green__intr_span_ended). */
static inline int green__intr_span_begin(struct green__intr_span *s, int intr)
{
    struct green_thread *t = green__current();

    if (green__intr_span_ended(s, intr))
        return 1;
    if (!s->begun) {
        s->begun = 1;
        s->since = __atomic_load_n(&green__signal_seq, __ATOMIC_ACQUIRE);
    }
    s->intr = (uint8_t)intr;
    t->intr = (uint8_t)intr;
    t->intr_seq = s->since;
    return 0;
}
static inline void green__intr_end(void)
{
    green__current()->intr = GREEN_INTR_NONE;
}

/* -------------------------------------------------------------------- hub.c
 *
 * One libev loop per OS thread, run by the hub green thread when nothing else is ready.
 * Each wait below parks the current green thread; the result is 0 (or the ready events
 * for fds), -ETIMEDOUT at the deadline, -ECANCELED if killed, -EDEADLK on deadlock,
 * -EBADF if the fd was closed (green__hub_fd_closing) or is invalid.
 */
struct green__hub *green__hub_init(struct green__local *l);
void green__hub_term(struct green__local *l);
/* The hub green thread's body. */
void green__hub_main(void *arg);
int green__hub_wait_fd(int fd, int events, int64_t deadline);
/* An I/O wait that follows its open file: if the number is closed meanwhile and the file
 * moved to another number (green__hub_fd_move), *fdp becomes that number and the wait
 * goes on, as a system call blocked on a file goes on after close(2).  held (or NULL):
 * another descriptor the call holds without waiting on it (splice's other end, sendfile's
 * input), followed the same way.  events 0, with a deadline: a pause that holds *fdp
 * (-ETIMEDOUT at the deadline), for a call that has nothing to wait for on its file.
 * *fdp must be open: the caller's call on it has just said EAGAIN (or moved bytes), with
 * no switch since (libev aborts on a descriptor epoll_ctl calls bad). */
int green__hub_wait_io(int *fdp, int *held, int events, int64_t deadline);
/* green__hub_wait_io as a wait of class intr of a call's span (green__intr_span_begin):
 * -EINTR, without waiting, if a handler has already ended the call. */
static inline int green__hub_wait_io_span(struct green__intr_span *s, int intr, int *fdp,
                                          int *held, int events, int64_t deadline)
{
    int w;

    if (green__intr_span_begin(s, intr))
        return -EINTR;
    w = green__hub_wait_io(fdp, held, events, deadline);
    green__intr_end();
    return w;
}
/* Move fd's following waiters to newfd (a dup of it); returns how many moved.  Waiters
 * that do not follow (poll family) stay, for green__hub_fd_closing. */
size_t green__hub_fd_move(int fd, int newfd);
/* Is a following (I/O) wait on fd? */
int green__hub_fd_followed(int fd);
/* Wait for any of poll(2)'s descriptors; > 0 when one may be ready (ask the kernel which).
 * follow (or NULL): copies of the fds, which the wait follows when closed (hub.c). */
struct pollfd;
int green__hub_wait_pollfds(const struct pollfd *pfds, size_t n, int *follow,
                            int64_t deadline, const char *desc);
/* Park until deadline (nothing else wakes it but kill or a green__sched_ready). */
int green__hub_park_until(int64_t deadline);
int green__hub_wait_child(pid_t pid, int64_t deadline);
void green__hub_fd_closing(int fd);
/* Deliver a claimed waiter's wake to its home hub from another OS thread. */
void green__hub_post(struct green__local *home, struct green__waiter *w);
/* Pool jobs in flight keep the hub from declaring deadlock. */
void green__hub_job_begin(void);
void green__hub_job_end(void);
/* Hubs alive in the process; deadlock is only declared when no other OS thread can post. */
extern int green__hubs_alive;

/* In a child after fork: the calling green thread becomes the child's only one (its main),
 * with a fresh hub and pool; the parent's other threads, loop and workers are left behind,
 * as fork leaves other OS threads behind. */
void green__fork_child(void);

/* ------------------------------------------------------------------- pool.c */

/* Run fn(arg) on a pool OS thread; the caller waits cooperatively (not killable). */
int green__pool_run(void (*fn)(void *), void *arg);
/* Real OS threads the pool has started (the deadlock check discounts them). */
int green__pool_threads(void);
/* Jobs run by the pool since the process started (GREEN_STATS). */
uint64_t green__pool_jobs(void);
/* After fork, in the child: the workers are gone. */
void green__pool_fork_child(void);

#endif
