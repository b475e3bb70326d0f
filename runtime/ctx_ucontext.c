/*
 * ctx_ucontext.c — the portable context switch, over getcontext/makecontext/swapcontext.
 * The Makefile uses it with CTX=ucontext or on an architecture without an assembly file;
 * it compiles with -DGREEN_CTX_UCONTEXT, which gives struct green_ctx its ucontext_t (ctx.h).
 * The contract is ctx.h's, the same as the assembly files':
 *
 * - Registers: swapcontext saves and restores at least the callee-saved set of the
 *   platform ABI (glibc: rbx, rbp, r12-r15, rsp on x86-64; x19-x30, sp and d8-d15 on
 *   aarch64), so nothing more is needed here.
 * - FP control state: glibc's swapcontext saves the x87 environment and MXCSR on x86-64
 *   (fnstenv/stmxcsr, restored with fldenv/ldmxcsr) and FPSR/FPCR on aarch64, so each
 *   context keeps its own rounding mode.  green__ctx_make takes getcontext's snapshot of
 *   the maker, so a new context starts with the maker's FP control state.
 * - First entry: makecontext points the context at `trampoline` on the new stack with the
 *   platform's alignment; makecontext passes only int arguments, so entry and arg travel
 *   as two 32-bit halves each (the portable idiom; POSIX leaves wider ones unspecified).
 *   uc_link is NULL and entry must never return; if it does, we abort rather than let
 *   glibc end the OS thread.  glibc's __start_context ends the unwind info there.
 *
 * Signal mask.  swapcontext also saves and restores the signal mask (one rt_sigprocmask
 * system call per switch, which is why this implementation is several times slower than
 * the assembly ones).  Left alone, that would give every green thread its own mask, while
 * with the assembly switch the mask belongs to the OS thread, shared by all its green
 * threads.  libev depends on the shared one: it blocks a signal it reads through signalfd
 * from the hub, and the signal must stay blocked while other green threads run.  So this
 * file keeps the mask per OS thread too, with a per-OS-thread mirror of it:
 *   - the mirror is read once from the kernel, at the first switch of the OS thread;
 *   - before switching, the target's saved mask is overwritten with the mirror, so
 *     swapcontext installs the mask the thread already has (no change at all, unless the
 *     running code changed its mask since it was resumed);
 *   - after resuming (in green__ctx_switch after swapcontext returns, or in the
 *     trampoline), the context that switched to us holds, in its uc_sigmask, the exact
 *     mask swapcontext saved; if that differs from the mirror, we install it and it
 *     becomes the mirror.
 * Only the bytes the kernel uses are compared (8 for 64 signals): glibc passes the kernel
 * its size, not sizeof(sigset_t), so the rest of a saved set is stale padding.
 * The one window left: a thread that changes its mask and then switches runs the target
 * for a few instructions under the stale mask, until the correction.  A signal it had just
 * blocked could be delivered in that window.  Closing it would cost a second system call
 * on every switch, to read the mask before swapcontext.
 *
 * Rejected: passing entry and arg through a static or thread-local "next to start" slot
 * (breaks if a context is made but started later, after another was made), and one pointer
 * through a single int (truncates on LP64).
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctx.h"

#ifndef GREEN_CTX_UCONTEXT
#error "ctx_ucontext.c needs -DGREEN_CTX_UCONTEXT (ctx.h then gives green_ctx a ucontext_t)"
#endif

#if defined(_NSIG)
#define KERNEL_SIGSET_BYTES ((_NSIG - 1 + 7) / 8)
#else
#define KERNEL_SIGSET_BYTES sizeof(sigset_t)
#endif

/* Per OS thread: the context being switched away from, read by the side that resumes, and
 * the mirror of the OS thread's signal mask.  Only this OS thread touches them. */
struct ctx_local {
    struct green_ctx *from;
    int mask_known;
    sigset_t mask;
};
static __thread struct ctx_local ctx_local __attribute__((tls_model("initial-exec")));

static void die(const char *what)
{
    static const char head[] = "green: ctx: ";
    ssize_t r;

    r = write(STDERR_FILENO, head, sizeof head - 1);
    r = write(STDERR_FILENO, what, strlen(what));
    r = write(STDERR_FILENO, "\n", 1);
    (void)r;
    abort();
}

/* The mask goes straight to the kernel where we can, as swapcontext's own does: a hook on
 * sigprocmask (preload/) must not run in the middle of a switch. */
static void set_mask(const sigset_t *set, sigset_t *old)
{
#if defined(SYS_rt_sigprocmask) && defined(_NSIG)
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, old, KERNEL_SIGSET_BYTES);
#else
    sigprocmask(SIG_SETMASK, set, old);
#endif
}

/* Runs first thing in the context that has just been resumed. */
static inline void keep_thread_mask(void)
{
    struct ctx_local *l = &ctx_local;
    const sigset_t *was = &l->from->uc.uc_sigmask;

    if (__builtin_expect(memcmp(was, &l->mask, KERNEL_SIGSET_BYTES) != 0, 0)) {
        l->mask = *was;
        set_mask(&l->mask, NULL);
    }
}

void green__ctx_switch(struct green_ctx *from, struct green_ctx *to)
{
    struct ctx_local *l = &ctx_local;

    if (__builtin_expect(!l->mask_known, 0)) {
        set_mask(NULL, &l->mask);
        l->mask_known = 1;
    }
    to->uc.uc_sigmask = l->mask;
    l->from = from;
    if (swapcontext(&from->uc, &to->uc) < 0)
        die("swapcontext failed");
    keep_thread_mask();
}

static void trampoline(unsigned entry_hi, unsigned entry_lo, unsigned arg_hi, unsigned arg_lo)
{
    void (*entry)(void *) = (void (*)(void *))(uintptr_t)((uint64_t)entry_hi << 32 | entry_lo);
    void *arg = (void *)(uintptr_t)((uint64_t)arg_hi << 32 | arg_lo);

    keep_thread_mask();
    entry(arg);
    die("a context's entry function returned");
}

void green__ctx_make(struct green_ctx *ctx, void *stack_lo, size_t size, void (*entry)(void *),
                     void *arg)
{
    uint64_t e = (uintptr_t)entry, a = (uintptr_t)arg;

    if (getcontext(&ctx->uc) < 0)
        die("getcontext failed");
    ctx->uc.uc_stack.ss_sp = stack_lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_stack.ss_flags = 0;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, (void (*)(void))trampoline, 4, (unsigned)(e >> 32), (unsigned)e,
                (unsigned)(a >> 32), (unsigned)a);
}
