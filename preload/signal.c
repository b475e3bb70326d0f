/*
 * signal.c — sigaction and signal, so that a signal handler ends a blocking call with EINTR
 * as it would have without the shim.
 *
 * The kernel interrupts the hub's epoll_wait, not the program's read: the program's call
 * is a green wait.  So the shim installs its own trampoline in front of every handler the
 * program installs; the trampoline tells the runtime a handler is running (and whether it
 * has SA_RESTART), then calls the program's handler with the same arguments.  The runtime
 * ends the main green thread's interruptible wait accordingly (internal.h, "signals").
 * sigaction reports the program's own handler, flags and mask back to it, never the
 * trampoline.  Handlers installed before the constructor are not wrapped.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>

#include "hook.h"

static struct sigaction user[NSIG]; /* the program's view, for wrapped signals */
static unsigned char wrapped[NSIG];

static void trampoline(int sig, siginfo_t *si, void *uc)
{
    struct sigaction a = user[sig];

    if ((a.sa_flags & SA_RESETHAND) && wrapped[sig]) {
        /* The kernel has just put SIG_DFL back; so must the program's view. */
        wrapped[sig] = 0;
        __atomic_sub_fetch(&green__signal_handlers, 1, __ATOMIC_RELAXED);
    }
    green__signal_note((a.sa_flags & SA_RESTART) != 0);
    if (a.sa_flags & SA_SIGINFO)
        a.sa_sigaction(sig, si, uc);
    else
        a.sa_handler(sig);
}

static int is_handler(const struct sigaction *act)
{
    if (act->sa_flags & SA_SIGINFO)
        return act->sa_sigaction != NULL;
    return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

GREEN_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    struct sigaction kernel_old, mine, prev;
    int was_wrapped, r;

    if (!green__patched || (green__tls && green__tls->in_runtime) || sig <= 0 || sig >= NSIG ||
        sig == SIGKILL || sig == SIGSTOP)
        return REAL(sigaction)(sig, act, old);
    was_wrapped = wrapped[sig];
    prev = user[sig];
    if (act && is_handler(act)) {
        if (!was_wrapped)
            __atomic_add_fetch(&green__signal_handlers, 1, __ATOMIC_RELAXED);
        mine = *act;
        mine.sa_flags |= SA_SIGINFO;
        mine.sa_sigaction = trampoline;
        user[sig] = *act;
        wrapped[sig] = 1;
        r = REAL(sigaction)(sig, &mine, &kernel_old);
        if (r < 0) {
            user[sig] = prev;
            wrapped[sig] = (unsigned char)was_wrapped;
            return r;
        }
    } else {
        r = REAL(sigaction)(sig, act, &kernel_old);
        if (r < 0)
            return r;
        if (act && was_wrapped) {
            wrapped[sig] = 0;
            __atomic_sub_fetch(&green__signal_handlers, 1, __ATOMIC_RELAXED);
        }
    }
    if (old)
        *old = was_wrapped ? prev : kernel_old;
    return 0;
}

/* glibc's signal(): BSD semantics, the handler stays installed and calls restart. */
GREEN_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;

    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    if (sigaction(sig, &act, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}
