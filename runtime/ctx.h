/*
 * ctx.h — the context switch contract.
 *
 * A context is one word: the saved stack pointer.  green__ctx_switch pushes every register
 * the platform ABI makes callee-saved onto the current stack, stores the stack pointer in
 * *from, loads to->sp and pops the same set from the target stack, returning into the
 * target.  Caller-saved registers need no saving: the switch is an ordinary function call,
 * so the compiler has already spilled them.  Floating-point control state (MXCSR and the
 * x87 control word on x86-64, FPCR on aarch64) is callee-saved by the ABI and is switched
 * too, so a green thread that changes its rounding mode does not change anybody else's.
 *
 * green__ctx_make prepares a fresh stack so that the first switch to it "returns" into a
 * trampoline which calls entry(arg) on a correctly aligned stack, with the FP control state
 * of the thread that made it.  entry must never return.
 *
 * Implementations: ctx_x86_64.S (System V AMD64), ctx_aarch64.S (AAPCS64), and
 * ctx_ucontext.c (portable fallback over getcontext/makecontext/swapcontext, slower
 * because glibc's swapcontext makes a sigprocmask system call each time).  The Makefile
 * picks one; each defines exactly these two symbols.
 */
#ifndef GREEN_CTX_H
#define GREEN_CTX_H

#include <stddef.h>

#ifdef GREEN_CTX_UCONTEXT
#include <ucontext.h>
struct green_ctx {
    ucontext_t uc;
};
#else
struct green_ctx {
    void *sp;
};
_Static_assert(offsetof(struct green_ctx, sp) == 0, "the assembly stores sp at offset 0");
#endif

void green__ctx_switch(struct green_ctx *from, struct green_ctx *to);
void green__ctx_make(struct green_ctx *ctx, void *stack_lo, size_t size, void (*entry)(void *),
                     void *arg);

#endif
