/*
 * sched.c — green threads: handles, spawn, the run queue, park/ready, exit, join, kill.
 *
 * Each OS thread has a scheduler (struct green__sched): the running thread, a FIFO run
 * queue, and the hub thread, which is never queued but switched to when the run queue is
 * empty or after HUB_SLICE switches, so fd events and timers are polled even while threads
 * keep yielding to each other.  Switches are direct: a thread that parks or yields switches
 * straight to the next ready thread, not through the hub.
 *
 * States: READY (queued) -> RUNNING -> WAITING (parked) -> READY ...; RUNNING -> DONE at
 * exit; DONE -> FREE at join (or at exit when detached).  Only the home OS thread moves a
 * thread between states; green__sched_ready ignores a thread that is not WAITING, so when
 * several things race to wake a waiter (its fd and its timer), the first one wins.
 *
 * Handles: a thread struct is bound to one slot of a process-wide table for good and is
 * recycled through a free list; its generation counts its lives, and a handle names one
 * life: (generation << 32) | slot.  A stale handle (joined, or from a detached thread that
 * ended) fails with ESRCH instead of reaching whichever thread lives in the slot now.  A
 * slot whose generation would wrap is retired, so a handle is never reused.
 *
 * A thread's stack cannot be released while the thread still runs on it, so an ending
 * thread becomes the scheduler's zombie, and whoever runs next releases it (after_switch).
 *
 * Rejected: per-thread structs placed at the top of their own stack (one allocation less)
 * — stacks come in several sizes and are trimmed while idle, while handles must stay valid
 * for join after the stack is gone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#include "internal.h"

/* Switches between two polls of the hub while threads keep each other busy.  A poll is an
 * epoll_wait(0) and clock reads, ~200 ns: every 64 switches it cost 3 ns of a 10 ns switch
 * (BENCHMARKS.md); every 1024 it costs 0.2 ns, and threads that only yield still let the
 * hub look at fds and timers every ~7 us. */
#define HUB_SLICE 1024

__thread struct green__local *green__tls __attribute__((tls_model("initial-exec")));
__thread int green__tls_real __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------ handle table */

#define SEG_BITS 16
#define SEG_SIZE (1u << SEG_BITS)
#define SEG_MAX 4096 /* 2^28 slots: more than the address space holds stacks for */

static struct green_thread **segs[SEG_MAX];
static uint32_t next_slot;
static uint64_t next_seq;
static unsigned table_lock;
/* Thread structs left by OS threads that ended, for any OS thread to reuse. */
static struct green__list orphans = {&orphans, &orphans};

struct green_thread *green__thread_lookup(green_t h)
{
    uint32_t slot = (uint32_t)h >> 1, gen = (uint32_t)(h >> 32);
    struct green_thread **seg;
    struct green_thread *t;

    if (!(h & 1) || slot >> SEG_BITS >= SEG_MAX)
        return NULL;
    seg = __atomic_load_n(&segs[slot >> SEG_BITS], __ATOMIC_ACQUIRE);
    if (!seg)
        return NULL;
    t = __atomic_load_n(&seg[slot & (SEG_SIZE - 1)], __ATOMIC_ACQUIRE);
    if (!t || __atomic_load_n(&t->gen, __ATOMIC_RELAXED) != gen || t->state == GREEN_FREE)
        return NULL;
    return t;
}

static struct green_thread *thread_new(void)
{
    struct green_thread *t;
    struct green_thread **seg;
    uint32_t slot;

    green__spin_lock(&table_lock);
    struct green__list *n = green__list_pop_front(&orphans);
    green__spin_unlock(&table_lock);
    if (n)
        return green__container_of(n, struct green_thread, link);

    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    slot = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED);
    if (slot >> SEG_BITS >= SEG_MAX) {
        free(t);
        return NULL;
    }
    seg = __atomic_load_n(&segs[slot >> SEG_BITS], __ATOMIC_ACQUIRE);
    if (!seg) {
        green__spin_lock(&table_lock);
        seg = segs[slot >> SEG_BITS];
        if (!seg) {
            seg = calloc(SEG_SIZE, sizeof *seg);
            if (seg)
                __atomic_store_n(&segs[slot >> SEG_BITS], seg, __ATOMIC_RELEASE);
        }
        green__spin_unlock(&table_lock);
        if (!seg) {
            free(t);
            return NULL;
        }
    }
    t->slot = slot;
    t->gen = 0;
    __atomic_store_n(&seg[slot & (SEG_SIZE - 1)], t, __ATOMIC_RELEASE);
    return t;
}

/* A struct for a new life: from this OS thread's free list, the orphans, or fresh. */
static struct green_thread *thread_alloc(struct green__local *l)
{
    struct green__list *n = green__list_pop_front(&l->sched.free);
    struct green_thread *t = n ? green__container_of(n, struct green_thread, link) : thread_new();

    if (!t)
        return NULL;
    __atomic_store_n(&t->gen, t->gen + 1, __ATOMIC_RELEASE);
    t->home = l;
    green__list_init(&t->link);
    green__list_init(&t->all);
    t->detached = t->killed = t->is_main = 0;
    t->nokill = 0;
    t->intr = 0;
    t->saved_errno = 0;
    t->wake_code = 0;
    t->value = NULL;
    t->joiner = NULL;
    t->user = NULL;
    t->name[0] = 0;
    memset(&t->wait, 0, sizeof t->wait);
    t->seq = __atomic_add_fetch(&next_seq, 1, __ATOMIC_RELAXED);
    return t;
}

/* End a life: the handle goes stale at once; the struct waits for reuse. */
static void thread_free(struct green__local *l, struct green_thread *t)
{
    t->state = GREEN_FREE;
    if (green__list_linked(&t->all))
        green__list_remove(&t->all);
    if (t->gen == UINT32_MAX)
        return; /* retired: its next handle would repeat an old one */
    green__list_push_back(&l->sched.free, &t->link);
}

/* --------------------------------------------------------------- switching */

#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer tracks which stack runs, to tell stack accesses from wild ones and to
 * keep each stack's fake frames (detect_stack_use_after_return) apart, so every switch is
 * announced: asan_leave before it, naming the target's stack, asan_arrive first thing on
 * the target, handing back the fake stack it left with (NULL on a thread's first entry).
 * A thread that has ended leaves with NULL, so ASan frees its fake stack.  main runs on
 * the OS thread's own stack, whose bounds only ASan knows: asan_arrive records them from
 * what ASan reports about the stack just left, and main can be switched to only after it
 * has left once.  Only sanitised builds compile any of this; the switch itself is the
 * same. */
static inline void asan_leave(struct green__sched *s, struct green_thread *prev,
                              struct green_thread *next)
{
    s->asan_from = prev;
    __sanitizer_start_switch_fiber(prev->state == GREEN_DONE ? NULL : &prev->asan_fake,
                                   next->asan_lo, next->asan_size);
}

static inline void asan_arrive(struct green__sched *s)
{
    struct green_thread *from = s->asan_from;

    __sanitizer_finish_switch_fiber(s->current->asan_fake, &from->asan_lo, &from->asan_size);
}

/* A fresh context on t's stack: its first arrival has no fake stack to take back. */
static inline void asan_made(struct green_thread *t)
{
    t->asan_lo = t->stack.lo;
    t->asan_size = t->stack.size;
    t->asan_fake = NULL;
}
#else
#define asan_leave(s, prev, next) ((void)0)
#define asan_arrive(s) ((void)0)
#define asan_made(t) ((void)0)
#endif

static void reap(struct green__sched *s)
{
    struct green_thread *z = s->zombie;

    s->zombie = NULL;
    green__stack_put(&z->stack);
    if (z->detached)
        thread_free(z->home, z);
}

/* Runs in the thread that has just been switched to. */
static inline void after_switch(struct green__sched *s)
{
    asan_arrive(s);
    errno = s->current->saved_errno;
    if (s->zombie)
        reap(s);
}

_Static_assert(offsetof(struct green__local, sched) == 0, "switch_to finds the local at s");

static inline void switch_to(struct green__sched *s, struct green_thread *next)
{
    struct green_thread *prev = s->current;
    struct green__local *l = (struct green__local *)s;

    prev->saved_errno = errno;
    /* The blocking monitor reads the count from its own OS thread (monitor.c). */
    __atomic_store_n(&l->stats.switches, l->stats.switches + 1, __ATOMIC_RELAXED);
    if (GREEN_UNLIKELY(green__stats_on))
        green__stats_switch(l, prev);
    if (GREEN_UNLIKELY(prev->stack.flags & GREEN_STACK_CANARY) &&
        *(uint64_t *)prev->stack.lo != GREEN_STACK_CANARY_VALUE) {
        char who[48];
        green__say("stack overflow in green thread %s: its %zu KiB stack was overrun (no "
                   "guard page was left under vm.max_map_count); raise GREEN_STACK_SIZE or "
                   "the thread's stack size", green__label(who, sizeof who, prev->seq, prev->name),
                   prev->stack.size >> 10);
        abort();
    }
    __atomic_store_n(&s->current, next, __ATOMIC_RELAXED);
    next->state = GREEN_RUNNING;
    asan_leave(s, prev, next);
    green__ctx_switch(&prev->ctx, &next->ctx);
    after_switch(s);
}

static inline struct green_thread *pick_next(struct green__sched *s)
{
    if (GREEN_LIKELY(++s->ticks < HUB_SLICE)) {
        struct green__list *n = green__list_pop_front(&s->runq);
        if (n)
            return green__container_of(n, struct green_thread, link);
    }
    return s->hub;
}

int green__sched_park(void)
{
    struct green__local *l = green__local();
    struct green__sched *s = &l->sched;
    struct green_thread *cur = s->current;
    int64_t since = GREEN_UNLIKELY(green__stats_on) ? green_now() : 0;
    int kind = cur->wait.kind;
    unsigned family = green__family; /* the hook that waits; others change it meanwhile */

    if (cur->killed && cur->wait.killable && !cur->nokill) {
        cur->wait.kind = GREEN_WAIT_NONE;
        return -ECANCELED;
    }
    cur->state = GREEN_WAITING;
    switch_to(s, pick_next(s));
    if (GREEN_UNLIKELY(since))
        green__stats_wait(l, kind, family, green_now() - since);
    cur->wait.kind = GREEN_WAIT_NONE;
    return cur->wake_code;
}

void green__sched_ready(struct green_thread *t, int code)
{
    if (t->state != GREEN_WAITING)
        return;
    t->state = GREEN_READY;
    t->wake_code = code;
    green__list_push_back(&t->home->sched.runq, &t->link);
}

void green__sched_run_ready(void)
{
    struct green__sched *s = &green__local()->sched;
    struct green__list *n = green__list_pop_front(&s->runq);

    s->ticks = 0;
    if (n) {
        s->current->state = GREEN_WAITING; /* the hub; nobody readies it, it is picked */
        switch_to(s, green__container_of(n, struct green_thread, link));
    }
}

static void hub_entry(void *arg)
{
    after_switch(&((struct green__local *)arg)->sched);
    green__hub_main(arg);
    green__panic("sched: the hub returned");
}

static void thread_entry(void *arg)
{
    struct green_thread *t = arg;

    after_switch(&t->home->sched);
    if (t->killed)
        green__killed();
    green__sched_exit(t->fn(t->arg));
}

/* --------------------------------------------------------- OS thread state */

/* The OS thread's hub: its libev loop and the green thread that runs it. */
static void start_hub(struct green__local *l)
{
    struct green_thread *hub;

    l->hub = green__hub_init(l);
    hub = calloc(1, sizeof *hub);
    if (!hub || green__stack_get(&hub->stack, green__config()->stack_size) < 0)
        green__panic("sched: no memory for the hub's stack");
    hub->home = l;
    hub->state = GREEN_WAITING;
    strcpy(hub->name, "hub");
    green__list_init(&hub->link);
    green__list_init(&hub->all);
    green__ctx_make(&hub->ctx, hub->stack.lo, hub->stack.size, hub_entry, l);
    asan_made(hub);
    l->sched.hub = hub;
}

extern int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso);
extern void *__dso_handle;

/* Runs when an OS thread ends, and also (glibc's exit() runs the caller's thread-local
 * destructors) when the process exits: then, and for state a fork left behind, there is
 * nothing to do. */
static void local_term(void *arg)
{
    struct green__local *l = arg;
    struct green__sched *s = &l->sched;

    if (l != green__tls || getpid() == (pid_t)syscall(SYS_gettid))
        return;
    if (s->alive > 1 || s->current != s->main) {
        /* Green threads are still alive: their stacks and structs cannot be returned
         * safely, so the state stays (a bounded leak, reported). */
        green__say("an OS thread ended with %zu green threads still alive; they will never "
                   "run again", s->alive - 1);
        green__monitor_unregister(l);
        green__tls = NULL;
        return;
    }
    green__monitor_unregister(l);
    green__hub_term(l);
    green__stack_put(&s->hub->stack);
    free(s->hub);
    green__stack_term(&l->stacks);
    thread_free(l, s->main);
    green__spin_lock(&table_lock);
    while (!green__list_empty(&s->free)) {
        struct green__list *n = green__list_pop_front(&s->free);
        green__list_push_back(&orphans, n);
    }
    green__spin_unlock(&table_lock);
    green__tls = NULL;
    free(l);
}

struct green__local *green__local_init(void)
{
    int was_real = green__tls_real;
    struct green__local *l;
    struct green__sched *s;
    struct green_thread *m;

    /* Until the state exists, every hook must pass through: malloc may take pthread locks
     * (jemalloc does), whose hooks would come back here. */
    green__tls_real = 1;
    l = calloc(1, sizeof *l);
    if (!l)
        green__panic("sched: no memory for the per-thread state");
    green__tls = l;
    s = &l->sched;
    green__list_init(&s->runq);
    green__list_init(&s->all);
    green__list_init(&s->free);

    m = thread_alloc(l);
    if (!m)
        green__panic("sched: no memory for the main green thread");
    m->is_main = 1;
    m->state = GREEN_RUNNING;
    strcpy(m->name, "main");
    green__list_push_back(&s->all, &m->all);
    s->main = s->current = m;
    s->alive = 1;

    green__monitor_init(); /* before the hub, which times its sleeps under GREEN_STATS */
    start_hub(l);
    l->stats.peak_alive = 1;
    l->stats.born = l->stats.run_start = green_now();
    green__monitor_register(l);

    green__overflow_init();
    green__runtime_enter();
    __cxa_thread_atexit_impl(local_term, l, &__dso_handle);
    green__runtime_leave();
    green__tls_real = was_real;
    return l;
}

void green__fork_child(void)
{
    struct green__local *old = green__tls, *l;
    struct green_thread *cur;

    green__pool_fork_child();
    if (!old)
        return;
    cur = old->sched.current;
    /* Build the child's state around the forking thread; the parent's threads, stacks and
     * structs stay behind unreachable, as other threads' stacks do after a real fork. */
    l = calloc(1, sizeof *l);
    if (!l)
        green__panic("sched: no memory for the child's state after fork");
    green__hub_term(old); /* closes this process's copies of the epoll and event fds */
    green__hubs_alive = 0; /* the other OS threads' hubs did not come along */
    green__tls = l;
    green__list_init(&l->sched.runq);
    green__list_init(&l->sched.all);
    green__list_init(&l->sched.free);
    cur->home = l;
    cur->is_main = 1;
    cur->detached = 0;
    cur->state = GREEN_RUNNING;
    green__list_init(&cur->link);
    green__list_init(&cur->all);
    green__list_push_back(&l->sched.all, &cur->all);
    l->sched.main = l->sched.current = cur;
    l->sched.alive = 1;
    start_hub(l);
    green__monitor_fork_child(l);
}

/* ------------------------------------------------------------ the public API */

static int lookup_local(green_t h, struct green_thread **out)
{
    struct green__local *l = green__local();
    struct green_thread *t = green__thread_lookup(h);

    if (!t)
        return ESRCH;
    if (t->home != l)
        return EPERM;
    *out = t;
    return 0;
}

GREEN_EXPORT green_t green_spawn_attr(const green_attr_t *attr, void *(*fn)(void *), void *arg)
{
    struct green__local *l = green__local();
    struct green__sched *s = &l->sched;
    size_t size = attr && attr->stack_size ? attr->stack_size : green__config()->stack_size;
    struct green_thread *t;

    if (!fn || size < 16 * 1024 || size > ((size_t)1 << 30)) {
        errno = EINVAL;
        return GREEN_NONE;
    }
    t = thread_alloc(l);
    if (!t) {
        errno = EAGAIN;
        return GREEN_NONE;
    }
    if (green__stack_get(&t->stack, size) < 0) {
        t->state = GREEN_FREE;
        green__list_push_back(&s->free, &t->link);
        errno = EAGAIN;
        return GREEN_NONE;
    }
    t->fn = fn;
    t->arg = arg;
    if (attr) {
        t->detached = attr->detached != 0;
        if (attr->name) {
            strncpy(t->name, attr->name, sizeof t->name - 1);
            t->name[sizeof t->name - 1] = 0;
        }
    }
    green__ctx_make(&t->ctx, t->stack.lo, t->stack.size, thread_entry, t);
    asan_made(t);
    t->state = GREEN_READY;
    green__list_push_back(&s->runq, &t->link);
    green__list_push_back(&s->all, &t->all);
    s->alive++;
    l->stats.created++;
    if (s->alive > l->stats.peak_alive)
        l->stats.peak_alive = s->alive;
    return green__handle(t);
}

GREEN_EXPORT green_t green_spawn(void *(*fn)(void *), void *arg)
{
    return green_spawn_attr(NULL, fn, arg);
}

GREEN_EXPORT green_t green_self(void)
{
    return green__handle(green__current());
}

GREEN_EXPORT int green_yield(void)
{
    struct green__sched *s = &green__local()->sched;
    struct green_thread *cur = s->current, *next;

    if (cur->killed && !cur->nokill)
        green__killed();
    cur->state = GREEN_READY;
    green__list_push_back(&s->runq, &cur->link);
    next = pick_next(s);
    if (next == cur) {
        cur->state = GREEN_RUNNING;
        return 0;
    }
    switch_to(s, next);
    return 0;
}

/* main's green_exit: wait for every other green thread, then end as pthread_exit would. */
static void main_exit(struct green__sched *s, struct green_thread *m)
{
    s->main_exited = 1;
    if (s->alive > 0) {
        m->wait = (struct green__wait){.kind = GREEN_WAIT_EXITED, .deadline = GREEN_NO_DEADLINE};
        m->state = GREEN_WAITING;
        switch_to(s, pick_next(s));
    }
    green__runtime_enter();
    if (getpid() == (pid_t)syscall(SYS_gettid))
        exit(0);
    green__runtime_leave();
    /* Another OS thread: end it for real from its own stack, which main runs on. */
    extern void pthread_exit(void *) __attribute__((noreturn));
    green__runtime_enter();
    pthread_exit(m->value);
}

void green__sched_exit(void *value)
{
    struct green__sched *s = &green__local()->sched;
    struct green_thread *t = s->current;

    t->value = value;
    t->state = GREEN_DONE;
    if (green__list_linked(&t->all))
        green__list_remove(&t->all);
    s->alive--;
    if (t->joiner)
        green__sched_ready(t->joiner, 0);
    if (t->is_main)
        main_exit(s, t);
    if (s->alive == 0 && s->main_exited)
        green__sched_ready(s->main, 0);
    s->zombie = t;
    switch_to(s, pick_next(s));
    green__panic("sched: an ended green thread was switched to");
}

GREEN_EXPORT void green_exit(void *value)
{
    green__sched_exit(value);
}

GREEN_EXPORT int green_timedjoin(green_t h, void **value, int64_t deadline)
{
    struct green__local *l = green__local();
    struct green_thread *cur = l->sched.current, *t;
    int r = lookup_local(h, &t);

    if (r)
        return r;
    if (t == cur)
        return EDEADLK;
    if (t->detached || t->joiner)
        return EINVAL;
    if (t->state != GREEN_DONE) {
        if (deadline != GREEN_NO_DEADLINE && deadline <= green_now())
            return EBUSY;
        t->joiner = cur;
        cur->wait = (struct green__wait){
            .kind = GREEN_WAIT_JOIN, .killable = 1, .obj = t, .deadline = deadline};
        r = green__hub_park_until(deadline);
        t->joiner = NULL;
        if (t->state != GREEN_DONE)
            return green__api_result(r < 0 ? r : -EINTR);
    }
    if (value)
        *value = t->value;
    if (!t->is_main)
        thread_free(l, t);
    return 0;
}

GREEN_EXPORT int green_join(green_t h, void **value)
{
    return green_timedjoin(h, value, GREEN_NO_DEADLINE);
}

GREEN_EXPORT int green_joinall(green_t *threads, size_t n, void **values, double timeout_seconds)
{
    struct green_thread *cur = green__current(), *t;
    int64_t deadline = GREEN_NO_DEADLINE;
    int timed_out = 0, r;

    if (n && !threads)
        return EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (threads[i] == GREEN_NONE)
            continue;
        if ((r = lookup_local(threads[i], &t)))
            return r;
        if (t == cur)
            return EDEADLK;
        if (t->detached || t->joiner)
            return EINVAL;
    }
    if (timeout_seconds >= 0)
        deadline = green_now() + (int64_t)(timeout_seconds * 1e9);
    for (size_t i = 0; i < n; i++) {
        if (threads[i] == GREEN_NONE)
            continue;
        r = green_timedjoin(threads[i], values ? &values[i] : NULL, timed_out ? 0 : deadline);
        if (r == 0) {
            threads[i] = GREEN_NONE;
        } else if (r == ETIMEDOUT || r == EBUSY) {
            timed_out = 1; /* keep going: reap the ones that have already ended */
        } else {
            return r;
        }
    }
    return timed_out ? ETIMEDOUT : 0;
}

GREEN_EXPORT int green_value(green_t h, void **value)
{
    struct green_thread *t;
    int r = lookup_local(h, &t);

    if (r)
        return r;
    if (t->detached)
        return EINVAL;
    if (t->state != GREEN_DONE)
        return EBUSY;
    if (value)
        *value = t->value;
    return 0;
}

GREEN_EXPORT int green_detach(green_t h)
{
    struct green_thread *t;
    int r = lookup_local(h, &t);

    if (r)
        return r;
    if (t->detached || t->joiner)
        return EINVAL;
    if (t->state == GREEN_DONE) {
        if (!t->is_main)
            thread_free(t->home, t);
        return 0;
    }
    t->detached = 1;
    return 0;
}

GREEN_EXPORT int green_kill(green_t h)
{
    struct green_thread *t;
    int r = lookup_local(h, &t);

    if (r)
        return r;
    if (t->state == GREEN_DONE)
        return 0;
    t->killed = 1;
    if (t->state == GREEN_WAITING && t->wait.killable && !t->nokill)
        green__sched_ready(t, -ECANCELED);
    return 0;
}

void (*green__kill_handler)(void);

void green__killed(void)
{
    if (green__kill_handler)
        green__kill_handler();
    green__sched_exit(GREEN_KILLED);
}

GREEN_EXPORT int green_setname(green_t h, const char *name)
{
    struct green_thread *t;
    int r = lookup_local(h, &t);

    if (r)
        return r;
    strncpy(t->name, name ? name : "", sizeof t->name - 1);
    t->name[sizeof t->name - 1] = 0;
    return 0;
}

GREEN_EXPORT int green_getname(green_t h, char *buf, size_t len)
{
    struct green_thread *t;
    int r = lookup_local(h, &t);

    if (r)
        return r;
    if (len < sizeof t->name)
        return ERANGE;
    memcpy(buf, t->name, sizeof t->name);
    return 0;
}

/* ---------------------------------------------------------------- deadlock */

int green__sched_check_deadlock(int hub_has_work)
{
    struct green__sched *s = &green__local()->sched;
    struct green__list *n;
    int woke = 0, main_waits;

    if (hub_has_work)
        return 0;
    main_waits = s->main->state == GREEN_WAITING && s->main->wait.killable;
    for (n = s->all.next; n != &s->all; n = n->next) {
        struct green_thread *t = green__container_of(n, struct green_thread, all);
        if (t->state == GREEN_WAITING && t->wait.for_signal)
            return 0; /* a signal from outside may still come and wake it */
        if (t->state == GREEN_WAITING && t->wait.killable && (!main_waits || t == s->main))
            woke++;
    }
    if (!woke)
        return 0;
    green__report_threads("deadlock: every green thread is waiting and nothing can wake "
                          "any of them; failing the wait with EDEADLK", NULL);
    for (n = s->all.next; n != &s->all; n = n->next) {
        struct green_thread *t = green__container_of(n, struct green_thread, all);
        if (t->state == GREEN_WAITING && t->wait.killable && (!main_waits || t == s->main))
            green__sched_ready(t, -EDEADLK);
    }
    return 1;
}

const char *green__state_name(int state)
{
    static const char *const names[] = {"free", "ready", "running", "waiting", "done"};
    return state >= 0 && state <= GREEN_DONE ? names[state] : "?";
}

const char *green__wait_name(int kind)
{
    static const char *const names[] = {
        "nothing", "fd",      "sleep", "join",  "mutex", "condvar", "rwlock",  "semaphore",
        "once",    "barrier", "event", "pool job", "child", "hand-off", "exited", "call"};
    return kind >= 0 && kind <= GREEN_WAIT_OTHER ? names[kind] : "?";
}
