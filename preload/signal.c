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
 *
 * The signals the runtime keeps for itself while it is asked to (GREEN_DUMP_SIGNAL, and
 * the blocking monitor's samples, runtime/monitor.c) stay with the runtime's handler in
 * the kernel: what the program installs for them is kept here only, reported back to it
 * as its own, and run by the runtime's handler through green__signal_program.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>

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

/* The runtime's handler of a reserved signal runs the program's, if it has one. */
static int program_handler(int sig, void *si, void *uc)
{
    if (sig <= 0 || sig >= NSIG || !wrapped[sig])
        return 0;
    trampoline(sig, si, uc);
    return 1;
}

void green__signal_init(void)
{
    green__signal_program = program_handler;
}

static int reserved_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    static int warned;
    struct sigaction prev = user[sig]; /* zeroed until set: SIG_DFL, as the kernel says */

    if (act && is_handler(act)) {
        if (!wrapped[sig])
            __atomic_add_fetch(&green__signal_handlers, 1, __ATOMIC_RELAXED);
        wrapped[sig] = 1;
        if (sig == green__config()->dump_signal && !warned++)
            green__say("the program installs its own handler for SIG%s, which GREEN_DUMP_SIGNAL "
                       "uses: each SIG%s now prints a dump and then runs the program's handler; "
                       "choose another signal to keep them apart", sigabbrev_np(sig),
                       sigabbrev_np(sig));
    } else if (act && wrapped[sig]) {
        wrapped[sig] = 0;
        __atomic_sub_fetch(&green__signal_handlers, 1, __ATOMIC_RELAXED);
    }
    if (act)
        user[sig] = *act;
    if (old)
        *old = prev;
    return 0;
}

GREEN_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    struct sigaction kernel_old, mine, prev;
    int was_wrapped, r;

    if (!green__patched || (green__tls && green__tls->in_runtime) || sig <= 0 || sig >= NSIG ||
        sig == SIGKILL || sig == SIGSTOP)
        return REAL(sigaction)(sig, act, old);
    if (green__signal_reserved(sig)) {
        /* The kernel installs act before it finds old unwritable. */
        struct sigaction a;
        if (act && green__copy_in(&a, act, sizeof a) < 0) {
            errno = EFAULT;
            return -1;
        }
        if (old && green__copy_in(&kernel_old, old, sizeof kernel_old) < 0) {
            reserved_sigaction(sig, act ? &a : NULL, NULL);
            errno = EFAULT;
            return -1;
        }
        return reserved_sigaction(sig, act ? &a : NULL, old);
    }
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

/* ------------------------------------------------------------ waiting for signals
 * pause, sigsuspend and the sigwait family block until a signal comes: unpatched, only the
 * calling thread; here, the green thread alone.  pause and sigsuspend end when a handler
 * has run (EINTR, always: they are never restarted); sigsuspend applies its mask to the OS
 * thread for the time of the wait, so the other green threads run under it meanwhile.  The
 * sigwait family reads a signalfd for the set, which the program keeps blocked, as sigwait
 * requires.  None of these waits is ever reported as a deadlock: the signal comes from
 * outside. */

static int wait_for_handler(const sigset_t *mask)
{
    struct green_thread *t = green__current();
    sigset_t old;
    int w;

    if (mask)
        sigprocmask(SIG_SETMASK, mask, &old);
    green__intr_begin(GREEN_INTR_ALWAYS);
    t->wait = (struct green__wait){.kind = GREEN_WAIT_OTHER, .killable = 1, .fd = -1,
                                   .deadline = GREEN_NO_DEADLINE,
                                   .desc = mask ? "sigsuspend" : "pause", .for_signal = 1};
    w = green__sched_park();
    green__intr_end();
    if (mask)
        sigprocmask(SIG_SETMASK, &old, NULL);
    green__api_result(w);
    errno = EINTR;
    return -1;
}

GREEN_EXPORT int pause(void)
{
    if (green__bypass(GREEN_F_TIME))
        return REAL(pause)();
    return wait_for_handler(NULL);
}

GREEN_EXPORT int sigsuspend(const sigset_t *mask)
{
    sigset_t m;

    if (green__bypass(GREEN_F_TIME) || green__copy_in(&m, mask, sizeof m) < 0)
        return REAL(sigsuspend)(mask);
    return wait_for_handler(&m);
}

GREEN_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
    struct signalfd_siginfo si;
    struct timespec t;
    int64_t deadline = GREEN_NO_DEADLINE;
    sigset_t s;
    int fd, w, caller_errno = errno;
    ssize_t n;

    if (green__bypass(GREEN_F_TIME) || green__copy_in(&s, set, sizeof s) < 0 ||
        (ts && (green__copy_in(&t, ts, sizeof t) < 0 || t.tv_sec < 0 || t.tv_nsec < 0 ||
                t.tv_nsec > 999999999 || (!t.tv_sec && !t.tv_nsec))))
        return REAL(sigtimedwait)(set, info, ts);
    if (ts)
        deadline = green__deadline_after(t.tv_sec, t.tv_nsec);
    /* Signals already pending come first, as from the kernel's own call.  The kernel's
     * call holds no descriptor: the signalfd goes high, out of the numbers the program's
     * other threads get and close meanwhile. */
    fd = green__fd_high(REAL(signalfd)(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC), GREEN_FD_CALL_SPAN);
    if (fd < 0)
        return REAL(sigtimedwait)(set, info, ts);
    for (;;) {
        n = REAL(read)(fd, &si, sizeof si);
        if (n == (ssize_t)sizeof si)
            break;
        green__intr_begin(GREEN_INTR_ALWAYS);
        w = green__hub_wait_fd(fd, GREEN_READ, deadline);
        green__intr_end();
        if (w < 0) {
            REAL(close)(fd);
            if (w == -ECANCELED)
                green__api_result(w);
            errno = w == -ETIMEDOUT ? EAGAIN : -w;
            return -1;
        }
    }
    REAL(close)(fd);
    if (info) {
        siginfo_t out;

        memset(&out, 0, sizeof out);
        out.si_signo = (int)si.ssi_signo;
        out.si_errno = si.ssi_errno;
        out.si_code = si.ssi_code;
        out.si_pid = (pid_t)si.ssi_pid;
        out.si_uid = si.ssi_uid;
        out.si_status = si.ssi_status;
        out.si_value.sival_ptr = (void *)(uintptr_t)si.ssi_ptr;
        /* An info the kernel cannot write: EFAULT, the signal taken all the same. */
        if (green__copy_out(info, &out, sizeof out) < 0) {
            errno = EFAULT;
            return -1;
        }
    }
    errno = caller_errno;
    return (int)si.ssi_signo;
}

GREEN_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
    return sigtimedwait(set, info, NULL);
}

GREEN_EXPORT int sigwait(const sigset_t *set, int *sig)
{
    int r, saved = errno;

    do
        r = sigtimedwait(set, NULL, NULL);
    while (r < 0 && errno == EINTR); /* sigwait is never interrupted */
    if (r < 0) {
        r = errno;
        errno = saved;
        return r;
    }
    *sig = r;
    errno = saved;
    return 0;
}
