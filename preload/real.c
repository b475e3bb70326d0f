/*
 * real.c — resolution of the originals listed in real.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>

#include "internal.h"
#include "real.h"

#define X(ret, name, params) ret(*real_##name) params;
GREEN_REALS(X)
#undef X

static void *resolve(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);

    if (!p) {
        green__say("libc has no %s, which the shim wraps: this libc is too old or not "
                   "glibc; run the program without LD_PRELOAD=libgreen.so", name);
        _exit(2);
    }
    return p;
}

void green__real_init(void)
{
    static int done;

    if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
        return;
#define X(ret, name, params) \
    if (!real_##name) \
        real_##name = (ret(*) params)resolve(#name);
    GREEN_REALS(X)
#undef X
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
}
