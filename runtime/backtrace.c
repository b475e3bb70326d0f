/*
 * backtrace.c — backtraces of green threads, for the dump, the blocking monitor, the
 * deadlock report and GREEN_STATS (debug.c, monitor.c, stats.c).
 *
 * A parked green thread is not on any OS thread's stack, so no debugger-free unwinder can
 * start from "here": the walk starts from the registers its context switch saved (ctx.h),
 * turned into the register file libunwind expects; the running thread's walk starts from
 * a signal handler's ucontext or from the caller.  libunwind (Debian's libunwind-dev) reads
 * the DWARF call-frame information of every object, so frames without frame pointers
 * unwind too, and unw_get_proc_name finds static functions in .symtab, which dladdr's
 * .dynsym view would miss.  Local unwinding is documented as safe in a signal handler.
 *
 * Symbols are looked up at print time from bare addresses: an address is given to a
 * cursor of its own (a register file holding only that pc), whose procedure name libunwind
 * then finds.  A return address points after its call, which may be the first byte of the
 * next function, so every frame but an interrupted pc is looked up one byte earlier.
 *
 * Rejected: glibc's backtrace() and libgcc's _Unwind_Backtrace walk only the caller's own
 * stack; frame-pointer walking fails on -O2 code, which is what programs ship.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <string.h>
#include <ucontext.h>

#include "internal.h"

static int walk(unw_cursor_t *c, void **ips, int max)
{
    int n = 0;

    do {
        unw_word_t ip;
        if (unw_get_reg(c, UNW_REG_IP, &ip) < 0 || ip == 0)
            break;
        ips[n++] = (void *)ip;
    } while (n < max && unw_step(c) > 0);
    return n;
}

int green__bt_here(void **ips, int max)
{
    return unw_backtrace(ips, max);
}

int green__bt_signal(void *uc, void **ips, int max)
{
    unw_cursor_t c;

    if (unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0)
        return 0;
    return walk(&c, ips, max);
}

int green__bt_thread(const struct green_thread *t, void **ips, int max)
{
#if defined(GREEN_CTX_UCONTEXT)
    unw_context_t uc = t->ctx.uc; /* swapcontext saved a whole register file */
    unw_cursor_t c;

    if (unw_init_local(&c, &uc) < 0)
        return 0;
    return walk(&c, ips, max);
#elif defined(__x86_64__)
    /* The frame ctx_x86_64.S leaves at the saved stack pointer. */
    const uint64_t *f = t->ctx.sp;
    unw_context_t uc;
    unw_cursor_t c;

    if (!f)
        return 0;
    memset(&uc, 0, sizeof uc);
    uc.uc_mcontext.gregs[REG_R15] = (greg_t)f[1];
    uc.uc_mcontext.gregs[REG_R14] = (greg_t)f[2];
    uc.uc_mcontext.gregs[REG_R13] = (greg_t)f[3];
    uc.uc_mcontext.gregs[REG_R12] = (greg_t)f[4];
    uc.uc_mcontext.gregs[REG_RBX] = (greg_t)f[5];
    uc.uc_mcontext.gregs[REG_RBP] = (greg_t)f[6];
    uc.uc_mcontext.gregs[REG_RIP] = (greg_t)f[7];
    uc.uc_mcontext.gregs[REG_RSP] = (greg_t)(f + 8);
    if (unw_init_local(&c, &uc) < 0)
        return 0;
    return walk(&c, ips, max);
#else
    (void)t, (void)ips, (void)max;
    return 0; /* aarch64: ctx_aarch64.S's frame is not mapped to libunwind's yet */
#endif
}

/* "name+0xoff" for the code at pc, into buf; 0 if libunwind knows no name. */
static int proc_name(uintptr_t pc, char *buf, size_t len, uintptr_t *off)
{
    unw_context_t uc;
    unw_cursor_t c;
    unw_word_t o;

    if (unw_getcontext(&uc) < 0)
        return 0;
#if defined(__x86_64__)
    uc.uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
#elif defined(__aarch64__)
    uc.uc_mcontext.pc = pc;
#else
    return 0;
#endif
    if (unw_init_local(&c, &uc) < 0 || unw_get_proc_name(&c, buf, len, &o) < 0)
        return 0;
    *off = (uintptr_t)o;
    return 1;
}

void green__bt_print(void *const *ips, int n, int exact0, const char *indent)
{
    for (int i = 0; i < n; i++) {
        uintptr_t pc = (uintptr_t)ips[i], look = i == 0 && exact0 ? pc : pc - 1, off = 0;
        const char *obj = "?";
        char name[128];
        Dl_info di;

        if (dladdr((void *)look, &di) && di.dli_fname) {
            obj = strrchr(di.dli_fname, '/');
            obj = obj ? obj + 1 : di.dli_fname;
        }
        if (proc_name(look, name, sizeof name, &off))
            green__say("%s#%-2d %s+0x%zx (%s)", indent, i, name, (size_t)(off + (pc - look)),
                       obj);
        else if (obj[0] != '?')
            green__say("%s#%-2d 0x%zx (%s+0x%zx)", indent, i, (size_t)pc, obj,
                       (size_t)(pc - (uintptr_t)di.dli_fbase));
        else
            green__say("%s#%-2d 0x%zx", indent, i, (size_t)pc);
    }
}
