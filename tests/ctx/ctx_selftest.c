/*
 * ctx_selftest.c — the context switch on its own: no libev, no Criterion, no scheduler.
 *
 * It links with exactly one implementation of ctx.h (runtime/ctx_<arch>.S, or
 * runtime/ctx_ucontext.c built with -DGREEN_CTX_UCONTEXT) and checks the contract that
 * ctx.h states: control passes in the right order between several contexts, every
 * callee-saved register survives a switch (integer ones, and d8-d15 on aarch64), each
 * context keeps its own floating-point control state (MXCSR and the x87 control word on
 * x86-64, FPCR on aarch64) and a new one starts with its maker's, entry runs on a 16-byte
 * aligned stack whose first frame ends unwinding, deep recursion works on a 256 KiB mmap'd
 * stack, and the signal mask stays the OS thread's, shared by all contexts.
 *
 * It is built and run three ways by mk/ctx.mk: with the native assembly, with ucontext, and
 * cross-compiled for aarch64 under qemu-user.  It must stay freestanding enough for a
 * static cross build: libc and libm only.  Build it with -O2: the live-locals test relies
 * on the optimiser keeping values in callee-saved registers across the switch.
 *
 * Output: one line per test, then "N passed, M failed"; the exit status is 0 only if every
 * test passed.  Each test runs in a forked child, so a crash (what a broken switch usually
 * causes) fails that test by name and the rest still run.
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unwind.h>

#include "ctx.h"

#ifdef GREEN_CTX_UCONTEXT
#define IMPL "ucontext"
#else
#define IMPL "assembly"
#endif

#if defined(__x86_64__)
#define ARCH "x86_64"
#elif defined(__aarch64__)
#define ARCH "aarch64"
#else
#define ARCH "other"
#endif

/* ---------------------------------------------------------------- harness */

static int cur_failed;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            cur_failed = 1;                                                               \
            printf("    line %d: %s: ", __LINE__, #cond);                                 \
            printf(__VA_ARGS__);                                                          \
            printf("\n");                                                                 \
        }                                                                                 \
    } while (0)

struct stack {
    char *map, *lo;
    size_t maplen, size;
};

/* An mmap'd stack of `size` bytes with an inaccessible guard page below it, as the
 * runtime's stacks have: running off the bottom faults instead of corrupting memory. */
static struct stack stack_new(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct stack s = {.maplen = size + page, .size = size};

    s.map = mmap(NULL, s.maplen, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s.map == MAP_FAILED || mprotect(s.map, page, PROT_NONE) != 0) {
        perror("ctx_selftest: mmap");
        exit(2);
    }
    s.lo = s.map + page;
    return s;
}

static void stack_free(struct stack *s)
{
    munmap(s->map, s->maplen);
}

#define STACK_SIZE (256 * 1024)

static struct green_ctx main_ctx;

/* Entry functions must never return: a finished context parks here for good. */
static void park_forever(struct green_ctx *self)
{
    for (;;) {
        green__ctx_switch(self, &main_ctx);
        cur_failed = 1;
        printf("    a finished context was resumed\n");
    }
}

/* ------------------------------------------- 1. ping-pong, in the right order */

#define PP_CTXS 3
#define PP_ROUNDS 100000

static struct green_ctx pp_ctx[PP_CTXS];
static unsigned pp_next;    /* who should run next: 0..PP_CTXS-1, PP_CTXS = main */
static unsigned long pp_bad;

static void pp_entry(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    unsigned long mine = 0; /* lives on this context's stack across every switch */

    for (int r = 0; r < PP_ROUNDS; r++) {
        if (pp_next != id)
            pp_bad++;
        mine += id + 1;
        pp_next = id + 1;
        green__ctx_switch(&pp_ctx[id], id + 1 < PP_CTXS ? &pp_ctx[id + 1] : &main_ctx);
    }
    if (mine != (unsigned long)PP_ROUNDS * (id + 1))
        pp_bad++;
    park_forever(&pp_ctx[id]);
}

static void test_ping_pong(void)
{
    struct stack st[PP_CTXS];

    for (unsigned i = 0; i < PP_CTXS; i++) {
        st[i] = stack_new(STACK_SIZE);
        green__ctx_make(&pp_ctx[i], st[i].lo, st[i].size, pp_entry, (void *)(uintptr_t)i);
    }
    pp_bad = 0;
    for (int r = 0; r < PP_ROUNDS; r++) {
        pp_next = 0;
        green__ctx_switch(&main_ctx, &pp_ctx[0]);
        if (pp_next != PP_CTXS)
            pp_bad++;
    }
    CHECK(pp_bad == 0, "%lu switches out of order in %d rounds of main -> %d contexts",
          pp_bad, PP_ROUNDS, PP_CTXS);
    for (unsigned i = 0; i < PP_CTXS; i++)
        stack_free(&st[i]);
}

/* ------------------------------- 2. many live locals across a switch, at -O2 */

/* Every value is a volatile read, and so is every expected value after the switch: the
 * compiler can neither fold them nor recompute them from a few others, so all of them
 * have to stay live across the call, in callee-saved registers as far as they go and in
 * the frame beyond that. */
static volatile uint64_t ll_src[12] = {3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41};
static volatile double ll_dsrc[8] = {1.5, 2.25, 3.125, 4.0625, 5.5, 6.75, 7.875, 8.03125};
static struct green_ctx ll_ctx;
static unsigned long ll_bad_main, ll_bad_ctx;

#define LL_ITERS 2000

__attribute__((noinline)) static unsigned long live_locals(struct green_ctx *self,
                                                           struct green_ctx *other, uint64_t k)
{
    double dk = (double)(k & 0xffff);
    uint64_t a = ll_src[0] * k, b = ll_src[1] * k, c = ll_src[2] * k, d = ll_src[3] * k;
    uint64_t e = ll_src[4] * k, f = ll_src[5] * k, g = ll_src[6] * k, h = ll_src[7] * k;
    uint64_t i = ll_src[8] * k, j = ll_src[9] * k, l = ll_src[10] * k, m = ll_src[11] * k;
    double d0 = ll_dsrc[0] * dk, d1 = ll_dsrc[1] * dk, d2 = ll_dsrc[2] * dk;
    double d3 = ll_dsrc[3] * dk, d4 = ll_dsrc[4] * dk, d5 = ll_dsrc[5] * dk;
    double d6 = ll_dsrc[6] * dk, d7 = ll_dsrc[7] * dk;
    unsigned long bad = 0;

    green__ctx_switch(self, other);

    bad += a != ll_src[0] * k;
    bad += b != ll_src[1] * k;
    bad += c != ll_src[2] * k;
    bad += d != ll_src[3] * k;
    bad += e != ll_src[4] * k;
    bad += f != ll_src[5] * k;
    bad += g != ll_src[6] * k;
    bad += h != ll_src[7] * k;
    bad += i != ll_src[8] * k;
    bad += j != ll_src[9] * k;
    bad += l != ll_src[10] * k;
    bad += m != ll_src[11] * k;
    bad += d0 != ll_dsrc[0] * dk;
    bad += d1 != ll_dsrc[1] * dk;
    bad += d2 != ll_dsrc[2] * dk;
    bad += d3 != ll_dsrc[3] * dk;
    bad += d4 != ll_dsrc[4] * dk;
    bad += d5 != ll_dsrc[5] * dk;
    bad += d6 != ll_dsrc[6] * dk;
    bad += d7 != ll_dsrc[7] * dk;
    return bad;
}

static void ll_entry(void *arg)
{
    for (uint64_t k = 0;; k++)
        ll_bad_ctx += live_locals(&ll_ctx, &main_ctx, 0xc0ffee0000000001u + 2 * k);
}

static void test_live_locals(void)
{
    struct stack st = stack_new(STACK_SIZE);

    ll_bad_main = ll_bad_ctx = 0;
    green__ctx_make(&ll_ctx, st.lo, st.size, ll_entry, NULL);
    for (uint64_t k = 0; k < LL_ITERS; k++)
        ll_bad_main += live_locals(&main_ctx, &ll_ctx, 0xabc0000000000101u + 2 * k);
    CHECK(ll_bad_main == 0 && ll_bad_ctx == 0, "values changed across the switch: main %lu, "
          "context %lu", ll_bad_main, ll_bad_ctx);
    stack_free(&st);
}

/* ------------------------ 3, 4. every callee-saved register, loaded by hand */

/* regs_switch(from, to, seed) loads seed + n into callee-saved register n, switches, and
 * returns a bit mask of the registers that no longer hold their value when it is resumed.
 * Both sides of the switch run it with different seeds, so a register the switch forgot
 * to save comes back holding the other side's value. */
#if defined(__x86_64__) && !defined(__ILP32__)
#define HAVE_REGS_SWITCH 1
#define INT_REGS_MASK 0x3fu /* rbx rbp r12 r13 r14 r15 */
#define FP_REGS_MASK 0u     /* System V AMD64 has no callee-saved vector registers */
static const char *const reg_names[] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
__asm__(
    "   .text\n"
    "   .globl regs_switch\n"
    "   .hidden regs_switch\n"
    "   .type regs_switch, @function\n"
    "regs_switch:\n"
    "   pushq %rbp\n"
    "   pushq %rbx\n"
    "   pushq %r12\n"
    "   pushq %r13\n"
    "   pushq %r14\n"
    "   pushq %r15\n"
    "   pushq %rdx\n" /* the seed; seven pushes leave rsp 16-byte aligned for the call */
    "   movq %rdx, %rbx\n"
    "   leaq 1(%rdx), %rbp\n"
    "   leaq 2(%rdx), %r12\n"
    "   leaq 3(%rdx), %r13\n"
    "   leaq 4(%rdx), %r14\n"
    "   leaq 5(%rdx), %r15\n"
    "   call green__ctx_switch\n"
    "   movq (%rsp), %rdx\n"
    "   xorl %eax, %eax\n"
    "   .macro regs_chk reg, off, bit\n"
    "   leaq \\off(%rdx), %rcx\n"
    "   xorl %esi, %esi\n"
    "   cmpq %rcx, \\reg\n"
    "   setne %sil\n"
    "   shlq $\\bit, %rsi\n"
    "   orq %rsi, %rax\n"
    "   .endm\n"
    "   regs_chk %rbx, 0, 0\n"
    "   regs_chk %rbp, 1, 1\n"
    "   regs_chk %r12, 2, 2\n"
    "   regs_chk %r13, 3, 3\n"
    "   regs_chk %r14, 4, 4\n"
    "   regs_chk %r15, 5, 5\n"
    "   .purgem regs_chk\n"
    "   popq %rdx\n"
    "   popq %r15\n"
    "   popq %r14\n"
    "   popq %r13\n"
    "   popq %r12\n"
    "   popq %rbx\n"
    "   popq %rbp\n"
    "   ret\n"
    "   .size regs_switch, .-regs_switch\n");
#elif defined(__aarch64__) && !defined(__ILP32__)
#define HAVE_REGS_SWITCH 1
#define INT_REGS_MASK 0x7ffu     /* x19-x28, x29 */
#define FP_REGS_MASK 0xff0000u   /* d8-d15 */
static const char *const reg_names[] = {
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "", "", "",
    "",    "",    "d8",  "d9",  "d10", "d11", "d12", "d13", "d14", "d15"};
__asm__(
    "   .text\n"
    "   .globl regs_switch\n"
    "   .hidden regs_switch\n"
    "   .type regs_switch, %function\n"
    "regs_switch:\n"
    "   stp x29, x30, [sp, #-176]!\n"
    "   stp x19, x20, [sp, #16]\n"
    "   stp x21, x22, [sp, #32]\n"
    "   stp x23, x24, [sp, #48]\n"
    "   stp x25, x26, [sp, #64]\n"
    "   stp x27, x28, [sp, #80]\n"
    "   stp d8, d9, [sp, #96]\n"
    "   stp d10, d11, [sp, #112]\n"
    "   stp d12, d13, [sp, #128]\n"
    "   stp d14, d15, [sp, #144]\n"
    "   str x2, [sp, #160]\n"
    "   add x19, x2, #0\n"
    "   add x20, x2, #1\n"
    "   add x21, x2, #2\n"
    "   add x22, x2, #3\n"
    "   add x23, x2, #4\n"
    "   add x24, x2, #5\n"
    "   add x25, x2, #6\n"
    "   add x26, x2, #7\n"
    "   add x27, x2, #8\n"
    "   add x28, x2, #9\n"
    "   add x29, x2, #10\n" /* x29 too: this function addresses its frame through sp */
    "   .macro regs_setd reg, off\n"
    "   add x9, x2, #\\off\n"
    "   fmov \\reg, x9\n"
    "   .endm\n"
    "   regs_setd d8, 16\n"
    "   regs_setd d9, 17\n"
    "   regs_setd d10, 18\n"
    "   regs_setd d11, 19\n"
    "   regs_setd d12, 20\n"
    "   regs_setd d13, 21\n"
    "   regs_setd d14, 22\n"
    "   regs_setd d15, 23\n"
    "   .purgem regs_setd\n"
    "   bl green__ctx_switch\n"
    "   ldr x2, [sp, #160]\n"
    "   mov x0, #0\n"
    "   .macro regs_chk reg, off\n"
    "   add x9, x2, #\\off\n"
    "   cmp \\reg, x9\n"
    "   cset x10, ne\n"
    "   orr x0, x0, x10, lsl #\\off\n"
    "   .endm\n"
    "   .macro regs_chkd reg, off\n"
    "   fmov x11, \\reg\n"
    "   regs_chk x11, \\off\n"
    "   .endm\n"
    "   regs_chk x19, 0\n"
    "   regs_chk x20, 1\n"
    "   regs_chk x21, 2\n"
    "   regs_chk x22, 3\n"
    "   regs_chk x23, 4\n"
    "   regs_chk x24, 5\n"
    "   regs_chk x25, 6\n"
    "   regs_chk x26, 7\n"
    "   regs_chk x27, 8\n"
    "   regs_chk x28, 9\n"
    "   regs_chk x29, 10\n"
    "   regs_chkd d8, 16\n"
    "   regs_chkd d9, 17\n"
    "   regs_chkd d10, 18\n"
    "   regs_chkd d11, 19\n"
    "   regs_chkd d12, 20\n"
    "   regs_chkd d13, 21\n"
    "   regs_chkd d14, 22\n"
    "   regs_chkd d15, 23\n"
    "   .purgem regs_chkd\n"
    "   .purgem regs_chk\n"
    "   ldp d14, d15, [sp, #144]\n"
    "   ldp d12, d13, [sp, #128]\n"
    "   ldp d10, d11, [sp, #112]\n"
    "   ldp d8, d9, [sp, #96]\n"
    "   ldp x27, x28, [sp, #80]\n"
    "   ldp x25, x26, [sp, #64]\n"
    "   ldp x23, x24, [sp, #48]\n"
    "   ldp x21, x22, [sp, #32]\n"
    "   ldp x19, x20, [sp, #16]\n"
    "   ldp x29, x30, [sp], #176\n"
    "   ret\n"
    "   .size regs_switch, .-regs_switch\n");
#else
#define HAVE_REGS_SWITCH 0
#endif

#if HAVE_REGS_SWITCH
uint64_t regs_switch(struct green_ctx *from, struct green_ctx *to, uint64_t seed)
    __attribute__((visibility("hidden")));

#define RS_ITERS 1000
static struct green_ctx rs_ctx;
static uint64_t rs_bits_main, rs_bits_ctx;

static void rs_entry(void *arg)
{
    /* Seeds differ from main's in every register, in the high and the low bits. */
    for (uint64_t k = 0;; k++)
        rs_bits_ctx |= regs_switch(&rs_ctx, &main_ctx, 0x5a5a000000000000u + (k << 8));
}

static void run_regs_switch(void)
{
    struct stack st = stack_new(STACK_SIZE);

    green__ctx_make(&rs_ctx, st.lo, st.size, rs_entry, NULL);
    for (uint64_t k = 0; k < RS_ITERS; k++)
        rs_bits_main |= regs_switch(&main_ctx, &rs_ctx, 0xa5a5000000000080u + (k << 8));
    stack_free(&st);
}

static void report_regs(uint64_t bits, const char *who)
{
    for (unsigned i = 0; i < sizeof reg_names / sizeof reg_names[0]; i++)
        if (bits >> i & 1)
            printf("    %s: %s was not preserved across the switch\n", who, reg_names[i]);
}

static void test_int_regs(void)
{
    run_regs_switch();
    CHECK(!(rs_bits_main & INT_REGS_MASK) && !(rs_bits_ctx & INT_REGS_MASK),
          "main %#llx, context %#llx", (unsigned long long)(rs_bits_main & INT_REGS_MASK),
          (unsigned long long)(rs_bits_ctx & INT_REGS_MASK));
    report_regs(rs_bits_main & INT_REGS_MASK, "main");
    report_regs(rs_bits_ctx & INT_REGS_MASK, "context");
}

#if FP_REGS_MASK
static void test_fp_regs(void)
{
    run_regs_switch();
    CHECK(!(rs_bits_main & FP_REGS_MASK) && !(rs_bits_ctx & FP_REGS_MASK),
          "main %#llx, context %#llx", (unsigned long long)(rs_bits_main & FP_REGS_MASK),
          (unsigned long long)(rs_bits_ctx & FP_REGS_MASK));
    report_regs(rs_bits_main & FP_REGS_MASK, "main");
    report_regs(rs_bits_ctx & FP_REGS_MASK, "context");
}
#endif
#endif

/* ------------------------------- 5, 6. floating-point control state per context */

/* The control state as the switch must keep it: rounding mode plus the other control
 * bits (exception masks, flush-to-zero, x87 precision), never the sticky status flags. */
struct fpctl {
    uint64_t a, b;
};

#if defined(__x86_64__)
static struct fpctl fpctl_get(void)
{
    unsigned mxcsr;
    unsigned short cw;

    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return (struct fpctl){mxcsr & ~0x3fu, cw}; /* bits 0-5 of MXCSR are status flags */
}

/* Beyond the rounding mode, each personality changes a control bit of its own. */
static void fpctl_flavour(int which)
{
    if (which == 1) { /* x87 precision control: 53-bit */
        unsigned short cw;
        __asm__ volatile("fnstcw %0" : "=m"(cw));
        cw = (unsigned short)((cw & ~0x300u) | 0x200u);
        __asm__ volatile("fldcw %0" : : "m"(cw));
    } else if (which == 2) { /* MXCSR flush-to-zero and denormals-are-zero */
        unsigned mxcsr;
        __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
        mxcsr |= 0x8040u;
        __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    }
}
#define FPCTL_FMT "MXCSR %#llx x87 CW %#llx"
#elif defined(__aarch64__)
static struct fpctl fpctl_get(void)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (struct fpctl){fpcr, 0};
}

static void fpctl_flavour(int which)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    if (which == 1)
        fpcr |= 1u << 24; /* FZ: flush to zero */
    else if (which == 2)
        fpcr |= 1u << 25; /* DN: default NaN */
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
#define FPCTL_FMT "FPCR %#llx (%#llx)"
#else
static struct fpctl fpctl_get(void)
{
    return (struct fpctl){(uint64_t)fegetround(), 0};
}

static void fpctl_flavour(int which)
{
}
#define FPCTL_FMT "rounding %#llx (%#llx)"
#endif

static int fpctl_eq(struct fpctl x, struct fpctl y)
{
    return x.a == y.a && x.b == y.b;
}

#define FPCTL_ARGS(x) (unsigned long long)(x).a, (unsigned long long)(x).b

static volatile double fp_one = 1.0, fp_three = 3.0;

/* 1/3 under the current rounding mode; volatile keeps the division at run time. */
static double third(void)
{
    volatile double q = fp_one / fp_three;
    return q;
}

static int has_rounding(int mode)
{
    return mode >= 0 && fesetround(mode) == 0;
}

#define FP_ITERS 1000
#define FP_CTXS 2
static struct green_ctx fp_ctx[FP_CTXS];
static const int fp_mode[FP_CTXS + 1] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO}; /* last: main */
static struct fpctl fp_want[FP_CTXS + 1];
static double fp_q[FP_CTXS + 1];
static unsigned long fp_bad[FP_CTXS + 1];

static void fp_check_mine(unsigned id)
{
    struct fpctl now = fpctl_get();
    int bad = fegetround() != fp_mode[id] || !fpctl_eq(now, fp_want[id]);

    if (bad && !fp_bad[id])
        printf("    %s %u: rounding %#x, want %#x; " FPCTL_FMT ", want " FPCTL_FMT "\n",
               id == FP_CTXS ? "main" : "context", id, (unsigned)fegetround(),
               (unsigned)fp_mode[id], FPCTL_ARGS(now), FPCTL_ARGS(fp_want[id]));
    fp_bad[id] += bad;
    if (fp_q[id] != third())
        fp_bad[id]++;
}

static void fp_entry(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;

    fesetround(fp_mode[id]);
    fpctl_flavour(id + 1);
    fp_want[id] = fpctl_get();
    fp_q[id] = third();
    for (;;) {
        green__ctx_switch(&fp_ctx[id], id + 1 < FP_CTXS ? &fp_ctx[id + 1] : &main_ctx);
        fp_check_mine(id);
    }
}

static void test_fp_control_per_context(void)
{
    struct stack st[FP_CTXS];
    int saved_round = fegetround();
    struct fpctl saved = fpctl_get();

    if (!has_rounding(FE_UPWARD) || !has_rounding(FE_DOWNWARD) || !has_rounding(FE_TOWARDZERO)) {
        fesetround(saved_round);
        printf("    (this libm cannot set every rounding mode; checked nothing)\n");
        return;
    }
    fesetround(saved_round);
    memset(fp_bad, 0, sizeof fp_bad);
    for (unsigned i = 0; i < FP_CTXS; i++) {
        st[i] = stack_new(STACK_SIZE);
        green__ctx_make(&fp_ctx[i], st[i].lo, st[i].size, fp_entry, (void *)(uintptr_t)i);
    }
    /* Main sets its own mode after making the contexts, so they start with the default. */
    fesetround(fp_mode[FP_CTXS]);
    fp_want[FP_CTXS] = fpctl_get();
    fp_q[FP_CTXS] = third();
    for (int r = 0; r < FP_ITERS; r++) {
        green__ctx_switch(&main_ctx, &fp_ctx[0]);
        fp_check_mine(FP_CTXS);
    }
    fesetround(saved_round);
    for (unsigned i = 0; i <= FP_CTXS; i++)
        CHECK(fp_bad[i] == 0, "%s %u lost its FP control state %lu times in %d switches",
              i == FP_CTXS ? "main" : "context", i, fp_bad[i], FP_ITERS);
    /* And the modes really governed the arithmetic in each context. */
    CHECK(fp_q[0] > fp_q[1], "1/3 rounded up %a is not above 1/3 rounded down %a", fp_q[0],
          fp_q[1]);
    CHECK(fp_q[2] == fp_q[1], "1/3 toward zero %a differs from rounded down %a", fp_q[2],
          fp_q[1]);
    CHECK(fpctl_eq(fpctl_get(), saved), "main's state was not restored");
    for (unsigned i = 0; i < FP_CTXS; i++)
        stack_free(&st[i]);
}

static struct green_ctx inh_ctx;
static struct fpctl inh_seen, inh_made;
static int inh_round_seen;

static void inh_entry(void *arg)
{
    inh_seen = fpctl_get();
    inh_round_seen = fegetround();
    fesetround(FE_DOWNWARD); /* must not leak into main */
    park_forever(&inh_ctx);
}

static void test_fp_control_inherited(void)
{
    struct stack st = stack_new(STACK_SIZE);
    int saved_round = fegetround();
    struct fpctl saved = fpctl_get();

    if (!has_rounding(FE_UPWARD) || !has_rounding(FE_DOWNWARD)) {
        fesetround(saved_round);
        printf("    (this libm cannot set every rounding mode; checked nothing)\n");
        stack_free(&st);
        return;
    }
    fesetround(FE_UPWARD);
    fpctl_flavour(1);
    inh_made = fpctl_get();
    green__ctx_make(&inh_ctx, st.lo, st.size, inh_entry, NULL);
    /* The maker changes its state again before the first switch: the new context must
     * start with the state at green__ctx_make, not at the switch. */
    fesetround(FE_TONEAREST);
    fpctl_flavour(2);
    {
        struct fpctl mine = fpctl_get();
        green__ctx_switch(&main_ctx, &inh_ctx);
        CHECK(fpctl_eq(fpctl_get(), mine), "the context's change leaked into its maker: "
              FPCTL_FMT ", want " FPCTL_FMT, FPCTL_ARGS(fpctl_get()), FPCTL_ARGS(mine));
    }
    CHECK(inh_round_seen == FE_UPWARD, "new context's rounding %#x, maker's %#x",
          (unsigned)inh_round_seen, (unsigned)FE_UPWARD);
    CHECK(fpctl_eq(inh_seen, inh_made), "new context saw " FPCTL_FMT ", maker had " FPCTL_FMT,
          FPCTL_ARGS(inh_seen), FPCTL_ARGS(inh_made));
    fesetround(saved_round);
#if defined(__x86_64__)
    {
        unsigned mxcsr = (unsigned)saved.a; /* status flags masked off: cleared */
        unsigned short cw = (unsigned short)saved.b;
        __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
        __asm__ volatile("fldcw %0" : : "m"(cw));
    }
#elif defined(__aarch64__)
    __asm__ volatile("msr fpcr, %0" : : "r"(saved.a));
#endif
    CHECK(fpctl_eq(fpctl_get(), saved), "could not restore main's state");
    stack_free(&st);
}

/* ------------------------------- 7. entry runs on an aligned stack, its own */

static struct green_ctx al_ctx;
static uintptr_t al_local, al_frame;
static int al_printed_ok;

__attribute__((noinline)) static void al_entry(void *arg)
{
    /* A 16-byte aligned object: GCC trusts the ABI's incoming alignment and does not
     * realign the frame for it, so a misaligned stack shows in its address. */
    __attribute__((aligned(16))) volatile char buf[16];
    char out[64];

    buf[0] = 1;
    al_local = (uintptr_t)buf;
    al_frame = (uintptr_t)__builtin_frame_address(0);
    /* printf of a double saves vector registers with aligned stores on x86-64: a
     * misaligned stack dies here. */
    snprintf(out, sizeof out, "%.3f", (double)fp_one / 8);
    al_printed_ok = strcmp(out, "0.125") == 0;
    park_forever(&al_ctx);
}

static void test_entry_stack_aligned(void)
{
    /* Tops at every 8-byte offset mod 16, and a size that is not a multiple of 8:
     * green__ctx_make aligns down. */
    static const size_t trim[] = {0, 8, 24, 13};
    struct stack st = stack_new(STACK_SIZE);

    for (unsigned i = 0; i < sizeof trim / sizeof trim[0]; i++) {
        char *lo = st.lo + (i & 1) * 8;
        size_t size = st.size - (i & 1) * 8 - trim[i];

        al_local = al_frame = 0;
        al_printed_ok = 0;
        green__ctx_make(&al_ctx, lo, size, al_entry, NULL);
        green__ctx_switch(&main_ctx, &al_ctx);
        CHECK(al_local % 16 == 0, "top %p: aligned local at %#lx", (void *)(lo + size),
              (unsigned long)al_local);
        /* x86-64: rbp = the entry rsp - 8, and the entry rsp is 8 mod 16 after the call;
         * aarch64: the frame record sits at sp, always 16-byte aligned. */
        CHECK(al_frame % 16 == 0, "top %p: frame address %#lx", (void *)(lo + size),
              (unsigned long)al_frame);
        CHECK(al_local >= (uintptr_t)lo && al_local < (uintptr_t)(lo + size),
              "the entry did not run on its stack [%p, %p): local at %#lx", (void *)lo,
              (void *)(lo + size), (unsigned long)al_local);
        CHECK(al_printed_ok, "snprintf of a double misbehaved on the new stack");
    }
    stack_free(&st);
}

/* ---------------------------------- 8. deep recursion on a 256 KiB stack */

#define DEEP_FRAMES 110 /* of at least 1 KiB each: over 100 KiB in use */
static struct green_ctx deep_ctx;
static uintptr_t deep_lowest;
static unsigned long deep_sum;

__attribute__((noinline)) static unsigned long deep(int n)
{
    volatile unsigned char pad[1024];
    unsigned long r;

    for (unsigned i = 0; i < sizeof pad; i += 64)
        pad[i] = (unsigned char)(n + i);
    if ((uintptr_t)pad < deep_lowest)
        deep_lowest = (uintptr_t)pad;
    r = n ? deep(n - 1) : 0;
    /* Switch out from the bottom of the recursion, so a deep stack is also parked. */
    if (n == 0)
        green__ctx_switch(&deep_ctx, &main_ctx);
    return r + pad[64] + n;
}

static void deep_entry(void *arg)
{
    deep_sum = deep(DEEP_FRAMES);
    park_forever(&deep_ctx);
}

static void test_deep_recursion(void)
{
    struct stack st = stack_new(STACK_SIZE);
    uintptr_t top = (uintptr_t)(st.lo + st.size);
    unsigned long want = 0;

    for (int n = 0; n <= DEEP_FRAMES; n++)
        want += (unsigned char)(n + 64) + n;
    deep_lowest = UINTPTR_MAX;
    deep_sum = 0;
    green__ctx_make(&deep_ctx, st.lo, st.size, deep_entry, NULL);
    green__ctx_switch(&main_ctx, &deep_ctx); /* down to the bottom, parked there */
    CHECK(top - deep_lowest >= 100 * 1024, "only %lu bytes of stack used",
          (unsigned long)(top - deep_lowest));
    CHECK(deep_lowest >= (uintptr_t)st.lo, "ran below the stack");
    green__ctx_switch(&main_ctx, &deep_ctx); /* back up, and finish */
    CHECK(deep_sum == want, "sum %lu, want %lu", deep_sum, want);
    stack_free(&st);
}

/* ----------------------------------- 9. unwinding stops at the first frame */

static struct green_ctx uw_ctx;
static int uw_frames, uw_end;
static uintptr_t uw_saved_fp;

/* Count frames ourselves, up to a limit: glibc's backtrace() gives up quietly when a frame
 * repeats, which would hide an unwinder going round in circles at the trampoline. */
static _Unwind_Reason_Code uw_count(struct _Unwind_Context *uc, void *arg)
{
    return ++*(int *)arg >= 64 ? _URC_NORMAL_STOP : _URC_NO_REASON;
}

__attribute__((noinline)) static void uw_entry(void *arg)
{
    void **fp = __builtin_frame_address(0);

    /* The frame record of entry holds the caller's frame pointer: 0, the trampoline's. */
    uw_saved_fp = (uintptr_t)fp[0];
    uw_frames = 0;
    uw_end = _Unwind_Backtrace(uw_count, &uw_frames) == _URC_END_OF_STACK;
    park_forever(&uw_ctx);
}

static void test_unwind_stops(void)
{
    struct stack st = stack_new(STACK_SIZE);

    uw_frames = -1;
    uw_saved_fp = 1;
    green__ctx_make(&uw_ctx, st.lo, st.size, uw_entry, NULL);
    green__ctx_switch(&main_ctx, &uw_ctx);
    /* entry, the trampoline, maybe glibc's __start_context, and a clean end of stack
     * there: an unwinder that ran off the stack would crash or hit the limit. */
    CHECK(uw_end && uw_frames >= 2 && uw_frames <= 4, "unwinding gave %d frames and %s",
          uw_frames, uw_end ? "ended cleanly" : "did not end at the end of the stack");
#ifndef GREEN_CTX_UCONTEXT
    CHECK(uw_saved_fp == 0, "entry's caller frame pointer is %#lx, not 0",
          (unsigned long)uw_saved_fp);
#endif
    stack_free(&st);
}

/* --------------------------------- 10. the signal mask is the OS thread's */

static struct green_ctx sm_ctx;
static int sm_seen_usr1, sm_seen_after;

static int blocked(int sig)
{
    sigset_t now;

    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig);
}

static void sm_entry(void *arg)
{
    sigset_t s;

    sm_seen_usr1 = blocked(SIGUSR1);
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    sigprocmask(SIG_BLOCK, &s, NULL);
    green__ctx_switch(&sm_ctx, &main_ctx);
    sm_seen_after = blocked(SIGUSR1) * 2 + blocked(SIGUSR2);
    park_forever(&sm_ctx);
}

static void test_signal_mask_shared(void)
{
    struct stack st = stack_new(STACK_SIZE);
    sigset_t saved, s;

    sigprocmask(SIG_BLOCK, NULL, &saved);
    green__ctx_make(&sm_ctx, st.lo, st.size, sm_entry, NULL);
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, NULL); /* after make: the context's snapshot lacks it */
    green__ctx_switch(&main_ctx, &sm_ctx);
    CHECK(sm_seen_usr1, "a signal main blocked was unblocked in the context");
    CHECK(blocked(SIGUSR2), "a signal the context blocked was unblocked in main");
    sigaddset(&s, SIGUSR2);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    green__ctx_switch(&main_ctx, &sm_ctx);
    CHECK(sm_seen_after == 0, "signals main unblocked were still blocked in the context "
          "(USR1 %d, USR2 %d)", sm_seen_after >> 1, sm_seen_after & 1);
    sigprocmask(SIG_SETMASK, &saved, NULL);
    stack_free(&st);
}

/* ------------------------------------------------------------------- main */

static const struct test {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"ping-pong between main and 3 contexts keeps the order", test_ping_pong},
    {"20 live locals (12 integer, 8 double) survive a switch at -O2", test_live_locals},
#if HAVE_REGS_SWITCH
    {"every callee-saved integer register survives a switch", test_int_regs},
#if FP_REGS_MASK
    {"d8-d15 survive a switch", test_fp_regs},
#endif
#endif
    {"each context keeps its own FP control state", test_fp_control_per_context},
    {"a new context starts with its maker's FP control state", test_fp_control_inherited},
    {"entry runs on its own 16-byte aligned stack", test_entry_stack_aligned},
    {"100 KiB of recursion on a 256 KiB mmap'd stack", test_deep_recursion},
    {"unwinding stops at a context's first frame", test_unwind_stops},
    {"the signal mask is shared by all contexts", test_signal_mask_shared},
};

/* Each test runs in a child process, so one that crashes (the usual symptom of a broken
 * switch) is reported by name and the others still run. */
static int run_test(const struct test *t)
{
    int status;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("ctx_selftest: fork");
        exit(2);
    }
    if (pid == 0) {
        cur_failed = 0;
        t->fn();
        fflush(stdout);
        _exit(cur_failed ? 1 : 0);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("ctx_selftest: waitpid");
        exit(2);
    }
    if (WIFSIGNALED(status))
        printf("    killed by signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void)
{
    int passed = 0, failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ctx selftest: %s context switch on %s\n", IMPL, ARCH);
    for (unsigned i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int ok = run_test(&tests[i]);

        printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
        if (ok)
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
