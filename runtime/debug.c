/*
 * debug.c — what the runtime says when things go wrong: panics, thread reports (the
 * deadlock report, dumps), and the stack overflow report.
 *
 * Everything here writes with the raw write system call into a stack buffer: it runs in
 * signal handlers and inside hooks, where stdio, malloc or a hooked write() could recurse
 * or deadlock.
 *
 * Overflow: every green stack has a guard region below it (stack.c).  A SIGSEGV whose
 * address lies in the running green thread's guard is reported with the thread's number,
 * name and stack size and the setting to raise; then the previous disposition is put back
 * and the faulting instruction runs again, so the program dies of SIGSEGV exactly as
 * before (core dump included) or reaches the handler it had installed.  The handler runs
 * on an alternate signal stack, because the faulting stack is by definition full.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define ALTSTACK_SIZE (64u * 1024)

static void vsay(const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "green: %s", prefix);

    if (n < 0 || (size_t)n >= sizeof buf)
        n = 0;
    int m = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    n = m < 0 ? n : (size_t)(n + m) >= sizeof buf - 1 ? (int)sizeof buf - 2 : n + m;
    buf[n++] = '\n';
    for (char *p = buf; n > 0;) {
        ssize_t w = syscall(SYS_write, 2, p, (size_t)n);
        if (w <= 0)
            break;
        p += w;
        n -= (int)w;
    }
}

void green__say(const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
    errno = saved;
}

void green__panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay("internal error: ", fmt, ap);
    va_end(ap);
    abort();
}

const char *green__label(char *buf, size_t len, uint64_t seq, const char *name)
{
    if (name[0])
        snprintf(buf, len, "#%llu \"%.15s\"", (unsigned long long)seq, name);
    else
        snprintf(buf, len, "#%llu", (unsigned long long)seq);
    return buf;
}

/* "waits on ..." for one thread, into buf. */
static void describe_wait(const struct green_thread *t, char *buf, size_t len)
{
    const struct green__wait *w = &t->wait;
    int n = 0;

    switch (w->kind) {
    case GREEN_WAIT_FD:
        n = snprintf(buf, len, "fd %d for %s%s%s", w->fd, w->events & GREEN_READ ? "read" : "",
                     w->events == (GREEN_READ | GREEN_WRITE) ? "+" : "",
                     w->events & GREEN_WRITE ? "write" : "");
        break;
    case GREEN_WAIT_CHILD:
        n = snprintf(buf, len, "child pid %d", w->fd);
        break;
    case GREEN_WAIT_JOIN: {
        const struct green_thread *j = w->obj;
        char who[48];
        n = snprintf(buf, len, "join of %s", green__label(who, sizeof who, j->seq, j->name));
        break;
    }
    case GREEN_WAIT_SLEEP:
        n = snprintf(buf, len, "sleep");
        break;
    case GREEN_WAIT_OTHER:
        n = snprintf(buf, len, "%s", w->desc ? w->desc : "a call");
        break;
    case GREEN_WAIT_EXITED:
        n = snprintf(buf, len, "the other green threads to end (main called green_exit)");
        break;
    default:
        n = snprintf(buf, len, "%s %p", green__wait_name(w->kind), w->obj);
        break;
    }
    if (n >= 0 && (size_t)n < len && w->deadline != GREEN_NO_DEADLINE &&
        w->kind != GREEN_WAIT_NONE) {
        int64_t left = w->deadline - green_now();
        if (left >= 0)
            snprintf(buf + n, len - n, ", deadline in %.3f s", left / 1e9);
        else /* the hub has not run since: something holds the OS thread */
            snprintf(buf + n, len - n, ", deadline passed %.3f s ago", -left / 1e9);
    }
}

/* The backtrace of t: the running thread's from uc (a signal interrupted it) or from here;
 * a parked or ready thread's from its saved context; none for an ended one. */
static int thread_bt(const struct green_thread *t, const struct green_thread *cur, void *uc,
                     void **ips)
{
    if (t == cur)
        return uc ? green__bt_signal(uc, ips, GREEN_BT_MAX) : green__bt_here(ips, GREEN_BT_MAX);
    if (t->state == GREEN_READY || t->state == GREEN_WAITING)
        return green__bt_thread(t, ips, GREEN_BT_MAX);
    return 0;
}

void green__report_threads(const char *headline, void *uc)
{
    struct green__local *l = green__local_peek();
    struct green__list *n;
    void *ips[GREEN_BT_MAX], *last[GREEN_BT_MAX];
    int depth, last_depth = 0;
    unsigned long long last_seq = 0;

    green__say("%s", headline);
    if (!l)
        return;
    if (l->sched.current == l->sched.hub)
        green__say("  (the hub runs: every green thread is parked or ready)");
    for (n = l->sched.all.next; n != &l->sched.all; n = n->next) {
        struct green_thread *t = green__container_of(n, struct green_thread, all);
        char what[160] = "";
        if (t->state == GREEN_WAITING)
            describe_wait(t, what, sizeof what);
        char who[48];
        green__say("  %s %s%s%s%s", green__label(who, sizeof who, t->seq, t->name),
                   green__state_name(t->state),
                   t->state == GREEN_WAITING ? " on " : "", what,
                   t->killed ? " (killed)" : "");
        depth = thread_bt(t, l->sched.current, uc, ips);
        /* Threads started together park at the same place: say so once. */
        if (depth && depth == last_depth && !memcmp(ips, last, sizeof *ips * (size_t)depth)) {
            green__say("      (same backtrace as #%llu)", last_seq);
            continue;
        }
        green__bt_print(ips, depth, t == l->sched.current && uc, "      ");
        memcpy(last, ips, sizeof *ips * (size_t)depth);
        last_depth = depth;
        last_seq = (unsigned long long)t->seq;
    }
}

/* ------------------------------------------------------- runtime handlers */

void green__handler_install(int sig, void (*fn)(int, siginfo_t *, void *), int flags,
                            struct sigaction *before)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    green__runtime_enter();
    sigaction(sig, &sa, before);
    green__runtime_leave();
}

int green__handler_chain(const struct sigaction *a, int sig, siginfo_t *si, void *uc)
{
    if (a->sa_flags & SA_SIGINFO) {
        if (!a->sa_sigaction)
            return 0;
        a->sa_sigaction(sig, si, uc);
        return 1;
    }
    if (a->sa_handler == SIG_DFL || a->sa_handler == SIG_IGN)
        return 0;
    a->sa_handler(sig);
    return 1;
}

/* --------------------------------------------------------------- overflow */

static struct sigaction previous;
static int handler_installed;
static unsigned handler_lock;

static void restore_previous(void)
{
    sigaction(SIGSEGV, &previous, NULL);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    struct green__local *l = green__local_peek();
    struct green_thread *t = l ? l->sched.current : NULL;
    char *addr = si->si_addr;

    if (t && t->stack.guard && addr < t->stack.lo && addr >= t->stack.lo - t->stack.guard) {
        size_t now = green__config()->stack_size >> 10, suggest = (t->stack.size >> 10) * 4;
        if (suggest <= now) /* a small stack from an attribute: still suggest a raise */
            suggest = now * 2;
        char who[48];
        green__say("stack overflow in green thread %s: it used up its %zu KiB stack (fault at "
                   "%p, in the guard page below it)",
                   green__label(who, sizeof who, t->seq, t->name), t->stack.size >> 10,
                   (void *)addr);
        green__say("raise the stack size: GREEN_STACK_SIZE (now %zuk, e.g. "
                   "GREEN_STACK_SIZE=%zuk), green_attr_t.stack_size or "
                   "pthread_attr_setstacksize", now, suggest);
        restore_previous();
        return;
    }
    if (!green__handler_chain(&previous, sig, si, uc))
        restore_previous(); /* default: the instruction faults again and the process dies */
}

void green__overflow_init(void)
{
    stack_t ss;

    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
        void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            ss.ss_sp = p;
            ss.ss_size = ALTSTACK_SIZE;
            ss.ss_flags = 0;
            sigaltstack(&ss, NULL);
        }
    }
    green__spin_lock(&handler_lock);
    if (!handler_installed) {
        green__handler_install(SIGSEGV, on_segv, SA_ONSTACK | SA_NODEFER, &previous);
        handler_installed = 1;
    }
    green__spin_unlock(&handler_lock);
}
