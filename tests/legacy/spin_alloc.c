/*
 * spin_alloc — a program with an allocator of its own whose lock is a spin lock that
 * waits with sched_yield, as tcmalloc's SpinLock does, and which calls sched_yield with
 * that lock held, as LeakSanitizer's leak check does at exit (it holds the allocator's
 * locks while it waits for its tracer thread).  Whatever sched_yield does then must not
 * allocate: the allocator would wait for its own lock forever.  This one says so and
 * exits 3 instead of hanging.
 *
 * The allocator hands out 16-byte aligned blocks from a static arena and never reuses
 * them; a size word before each block serves realloc.  It replaces every allocation entry
 * point of glibc, so the dynamic loader and libc use it too.
 *
 * Prints "yielded with the allocator locked" and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ARENA (32u << 20)

static _Alignas(64) unsigned char arena[ARENA];
static size_t used;
static int lock;        /* the allocator's spin lock */
static int lock_owned;  /* set while main holds it on purpose */

static void lock_take(void)
{
    if (__atomic_load_n(&lock_owned, __ATOMIC_RELAXED)) {
        static const char msg[] = "spin_alloc: allocation while the allocator is locked\n";
        write(2, msg, sizeof msg - 1);
        _exit(3);
    }
    while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
        sched_yield();
}

static void lock_drop(void)
{
    __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

static void *alloc(size_t align, size_t size)
{
    size_t at;
    void *p = NULL;

    if (align < 16)
        align = 16;
    lock_take();
    at = (used + sizeof(size_t) + align - 1) & ~(align - 1);
    if (size <= ARENA && at <= ARENA - size) {
        ((size_t *)(arena + at))[-1] = size;
        used = at + size;
        p = arena + at;
    }
    lock_drop();
    if (!p)
        errno = ENOMEM;
    return p;
}

void *malloc(size_t size)
{
    return alloc(16, size);
}

void *calloc(size_t n, size_t size)
{
    return n && size > SIZE_MAX / n ? NULL : alloc(16, n * size); /* the arena starts zeroed */
}

void *realloc(void *old, size_t size)
{
    void *p = alloc(16, size);
    size_t had = old ? ((size_t *)old)[-1] : 0;

    if (p && old)
        memcpy(p, old, had < size ? had : size);
    return p;
}

void free(void *p)
{
    (void)p;
}

void *memalign(size_t align, size_t size)
{
    return alloc(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    return alloc(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    void *p = alloc(align, size);

    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    return alloc(4096, size);
}

void *pvalloc(size_t size)
{
    return alloc(4096, (size + 4095) & ~(size_t)4095);
}

size_t malloc_usable_size(void *p)
{
    return p ? ((size_t *)p)[-1] : 0;
}

int main(void)
{
    lock_take();
    __atomic_store_n(&lock_owned, 1, __ATOMIC_RELAXED);
    sched_yield();
    __atomic_store_n(&lock_owned, 0, __ATOMIC_RELAXED);
    lock_drop();
    printf("yielded with the allocator locked\n");
    return 0;
}
