/*
 * lock.c — the contended path of the runtime's spinlock (internal.h).  Critical sections
 * are a few list operations long, so a waiter spins briefly and then gives its CPU away
 * with the raw sched_yield system call: never through libc, which a preload hook may
 * have wrapped.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

void green__spin_lock_slow(unsigned *l)
{
    for (unsigned spins = 0;; spins++) {
        if (!__atomic_load_n(l, __ATOMIC_RELAXED) && green__spin_trylock(l))
            return;
        if (spins < 100)
            cpu_relax();
        else
            syscall(SYS_sched_yield);
    }
}
