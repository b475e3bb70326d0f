/*
 * stack.c — green thread stacks: reserved with mmap, committed by touch, guarded, pooled.
 *
 * Memory.  Stacks are address space reserved with MAP_NORESERVE; a page costs memory only
 * once touched, so a sleeping thread that used 3 KiB of its 256 KiB stack holds one page.
 * Default-size stacks are carved from chunks of CHUNK_STACKS stacks (one mmap per chunk,
 * never unmapped); other sizes get a mapping each.  Free stacks go to a per-OS-thread
 * LIFO so the next spawn reuses a warm one; stacks idle beyond the WARM most recent give
 * their pages back (MADV_DONTNEED) when the hub has nothing else to do (green__stack_trim),
 * so a burst of a million threads does not pin its memory after it ends.
 *
 * Guards.  Below every stack lies a GUARD_BYTES region that faults on access, so an
 * overflow ends in a SIGSEGV that debug.c reports, not in a neighbour's memory.  The
 * guard is installed, in order of preference, with:
 *   1. madvise(MADV_GUARD_INSTALL) (Linux 6.13+): guard markers in the page tables, no
 *      VMA split, so any number of stacks fit in one mapping;
 *   2. mprotect(PROT_NONE), which splits the mapping and costs up to two VMAs per stack.
 *      vm.max_map_count (65530 by default) caps VMAs per process, so these guards are
 *      spent from a budget of half the limit, leaving the rest to the program;
 *   3. once that budget is gone, a canary word at the bottom of the stack, checked at
 *      every switch away from the thread: an overflow is caught late rather than never.
 *      The first such stack prints one warning naming the setting to raise.
 * Above the last stack of a chunk there is one more guard, so every stack is bounded by
 * a guard on both sides.
 *
 * Checkers.  Every stack is registered with valgrind for as long as it is mapped, so
 * memcheck takes a switch for a change of stack rather than a huge frame, and a released
 * stack is marked undefined, so the next thread on it cannot read its predecessor's data
 * unnoticed.  Under AddressSanitizer a released stack is unpoisoned: a thread that ended
 * never returned from its frames, whose redzones would otherwise poison the next thread's.
 * Outside valgrind and ASan these are no-ops (a few instructions, off the switch path).
 * Valgrind 3.19 does not know MADV_GUARD_INSTALL; it passes the call to the kernel, which
 * installs the guard as usual (and on older kernels EINVAL selects the fallback).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sanitizer/asan_interface.h>
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

#include "internal.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define PAGE 4096u
#define GUARD_BYTES (64u * 1024)
#define CHUNK_STACKS 64
#define WARM 64
#define ODD_CACHE 16

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };

static int guard_mode = GUARD_UNKNOWN;
/* Free default-size stacks left by OS threads that ended, for any OS thread to reuse. */
static struct green__stack *orphans;
static size_t norphans, orphans_cap;
static unsigned orphans_lock;
/* VMAs left for mprotect guards; LONG_MIN = not read yet (a spent budget is 0 or less). */
static long mprotect_budget = LONG_MIN;
static int canary_warned;

static size_t round_page(size_t n)
{
    return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

static long read_max_map_count(void)
{
    char buf[32];
    long v = 65530;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/sys/vm/max_map_count", O_RDONLY);

    if (fd >= 0) {
        ssize_t n = syscall(SYS_read, fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = 0;
            v = strtol(buf, NULL, 10);
        }
        syscall(SYS_close, fd);
    }
    return v;
}

/* Make [p, p+len) fault on access.  Returns how the stack above it is protected. */
static unsigned guard(char *p, size_t len)
{
    if (guard_mode != GUARD_MPROTECT) {
        if (madvise(p, len, MADV_GUARD_INSTALL) == 0) {
            guard_mode = GUARD_MADVISE;
            return 0;
        }
        if (guard_mode == GUARD_MADVISE)
            green__panic("stack: MADV_GUARD_INSTALL failed after it had worked (errno %d)",
                         errno);
        guard_mode = GUARD_MPROTECT;
    }
    if (__atomic_load_n(&mprotect_budget, __ATOMIC_RELAXED) == LONG_MIN) {
        long unread = LONG_MIN;
        __atomic_compare_exchange_n(&mprotect_budget, &unread, read_max_map_count() / 2, 0,
                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    if (__atomic_sub_fetch(&mprotect_budget, 2, __ATOMIC_RELAXED) >= 0 &&
        mprotect(p, len, PROT_NONE) == 0)
        return 0;
    __atomic_add_fetch(&mprotect_budget, 2, __ATOMIC_RELAXED); /* not spent after all */
    if (!__atomic_exchange_n(&canary_warned, 1, __ATOMIC_RELAXED))
        green__say("warning: vm.max_map_count leaves no room for more guard pages; further "
                   "green stacks are checked by a canary at each switch instead (raise "
                   "vm.max_map_count, or run on Linux 6.13+ for free guard pages)");
    return GREEN_STACK_CANARY;
}

static void finish(struct green__stack *s, unsigned flags)
{
    s->vg_id = VALGRIND_STACK_REGISTER(s->lo, s->lo + s->size);
    s->flags |= flags;
    if (flags & GREEN_STACK_CANARY) {
        s->guard = 0;
        *(uint64_t *)s->lo = GREEN_STACK_CANARY_VALUE;
    }
}

/* Carve a default-size stack from this OS thread's chunk, mapping a new chunk if needed. */
static int carve(struct green__stack_cache *c, struct green__stack *s, size_t size)
{
    size_t slot = GUARD_BYTES + size;

    if (!c->chunk_next || c->chunk_next + slot > c->chunk_end) {
        size_t len = CHUNK_STACKS * slot + GUARD_BYTES;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (p == MAP_FAILED)
            return -ENOMEM;
        c->chunk_next = p;
        c->chunk_end = p + CHUNK_STACKS * slot;
        /* The guard above the chunk's last stack; if it cannot be had, that stack's top
         * borders unmapped or foreign memory, which the stack never writes above. */
        guard(c->chunk_end, GUARD_BYTES);
    }
    s->lo = c->chunk_next + GUARD_BYTES;
    s->size = size;
    s->guard = GUARD_BYTES;
    s->flags = GREEN_STACK_CHUNKED;
    finish(s, guard(c->chunk_next, GUARD_BYTES));
    c->chunk_next += slot;
    return 0;
}

static int map_odd(struct green__stack *s, size_t size)
{
    char *p = mmap(NULL, GUARD_BYTES + size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    s->lo = p + GUARD_BYTES;
    s->size = size;
    s->guard = GUARD_BYTES;
    s->flags = 0;
    finish(s, guard(p, GUARD_BYTES));
    return 0;
}

static void unmap_odd(struct green__stack *s)
{
    if (!(s->flags & GREEN_STACK_CANARY) && guard_mode == GUARD_MPROTECT)
        __atomic_add_fetch(&mprotect_budget, 2, __ATOMIC_RELAXED);
    VALGRIND_STACK_DEREGISTER(s->vg_id);
    munmap(s->lo - GUARD_BYTES, GUARD_BYTES + s->size);
}

int green__stack_get(struct green__stack *s, size_t size)
{
    struct green__stack_cache *c = &green__local()->stacks;

    size = round_page(size);
    if (size == green__config()->stack_size) {
        if (c->nfree) {
            *s = c->free[--c->nfree];
            if (c->clean > c->nfree)
                c->clean = c->nfree;
            return 0;
        }
        if (__atomic_load_n(&norphans, __ATOMIC_RELAXED)) {
            int found = 0;
            green__spin_lock(&orphans_lock);
            if (norphans) {
                *s = orphans[--norphans];
                found = 1;
            }
            green__spin_unlock(&orphans_lock);
            if (found)
                return 0;
        }
        return carve(c, s, size);
    }
    for (size_t i = c->nodd; i-- > 0;) {
        if (c->odd[i].size == size) {
            *s = c->odd[i];
            c->odd[i] = c->odd[--c->nodd];
            return 0;
        }
    }
    return map_odd(s, size);
}

static int grow(struct green__stack **v, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 256;
    struct green__stack *p;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    p = realloc(*v, n * sizeof *p);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = n;
    return 0;
}

void green__stack_put(struct green__stack *s)
{
    struct green__stack_cache *c = &green__local()->stacks;

    ASAN_UNPOISON_MEMORY_REGION(s->lo, s->size);
    VALGRIND_MAKE_MEM_UNDEFINED(s->lo, s->size);
    if (s->flags & GREEN_STACK_CANARY)
        *(uint64_t *)s->lo = GREEN_STACK_CANARY_VALUE;
    if (s->flags & GREEN_STACK_CHUNKED) {
        if (grow(&c->free, &c->cap, c->nfree + 1) < 0) {
            /* Keep the address space reserved but give the memory back. */
            madvise(s->lo, s->size, MADV_DONTNEED);
            return;
        }
        c->free[c->nfree++] = *s;
        return;
    }
    if (c->nodd < ODD_CACHE && grow(&c->odd, &c->oddcap, c->nodd + 1) == 0) {
        c->odd[c->nodd++] = *s;
        return;
    }
    unmap_odd(s);
}

size_t green__stack_trim(size_t max)
{
    struct green__stack_cache *c = &green__local()->stacks;
    size_t done = 0;

    while (done < max && c->nfree > WARM && c->clean < c->nfree - WARM) {
        struct green__stack *s = &c->free[c->clean++];
        /* Guard markers survive MADV_DONTNEED; the canary must be written again. */
        madvise(s->lo, s->size, MADV_DONTNEED);
        if (s->flags & GREEN_STACK_CANARY)
            *(uint64_t *)s->lo = GREEN_STACK_CANARY_VALUE;
        done++;
    }
    return done;
}

/* The OS thread ends: its free stacks, and the rest of its chunk, go to the orphans with
 * their memory given back, so OS threads that come and go do not leak address space. */
void green__stack_term(struct green__stack_cache *c)
{
    size_t size = green__config()->stack_size;
    struct green__stack s;

    while (c->chunk_next && c->chunk_next + GUARD_BYTES + size <= c->chunk_end &&
           carve(c, &s, size) == 0 && grow(&c->free, &c->cap, c->nfree + 1) == 0)
        c->free[c->nfree++] = s;
    for (size_t i = c->clean; i < c->nfree; i++) {
        madvise(c->free[i].lo, c->free[i].size, MADV_DONTNEED);
        if (c->free[i].flags & GREEN_STACK_CANARY)
            *(uint64_t *)c->free[i].lo = GREEN_STACK_CANARY_VALUE;
    }
    green__spin_lock(&orphans_lock);
    if (grow(&orphans, &orphans_cap, norphans + c->nfree) == 0) {
        memcpy(orphans + norphans, c->free, c->nfree * sizeof *c->free);
        norphans += c->nfree;
    }
    green__spin_unlock(&orphans_lock);
    for (size_t i = 0; i < c->nodd; i++)
        unmap_odd(&c->odd[i]);
    free(c->free);
    free(c->odd);
    memset(c, 0, sizeof *c);
}

const char *green__stack_guard_mode(void)
{
    if (canary_warned)
        return "canary";
    return guard_mode == GUARD_MPROTECT ? "mprotect" : "madvise";
}

void green__stack_force_mprotect(long budget)
{
    guard_mode = GUARD_MPROTECT;
    mprotect_budget = budget;
}
