/*
 * test_stack.c — green stacks: overflow reported under each guard mode (madvise guard,
 * mprotect guard, canary once the mprotect budget is spent), reuse, GREEN_STACK_SIZE, and
 * many deep stacks alive at once (runtime/stack.c, runtime/debug.c, runtime/config.c).
 *
 * Overflows and bad settings end the process, so they run in a forked child that starts
 * without libgreen state (run_child); the child reports a broken precondition with an exit
 * status of 3 and a line of output.
 */
#include "common.h"

TestSuite(stack, .timeout = 30);

#define KIB ((size_t)1024)

static volatile int stop_recursing;

/* Recurse without bound (unless told to stop), 1 KiB of frame per level. */
static __attribute__((noinline)) int recurse_forever(int depth)
{
    volatile char buf[1024];

    buf[0] = (char)depth;
    if (stop_recursing)
        return 0;
    return recurse_forever(depth + 1) + buf[0];
}

static void *overflow(void *arg)
{
    return (void *)(intptr_t)recurse_forever(0);
}

static void child_fail(const char *what)
{
    printf("precondition: %s\n", what);
    _exit(3);
}

/* Spawn a thread named "deep" that recurses without bound, and join it. */
static void overflow_in_child(void *arg)
{
    const char *mode = arg;
    green_attr_t a = {.name = "deep"};

    /* A stack carved from a chunk under madvise guards, a mapping of its own under
     * mprotect guards. */
    if (strcmp(mode, "mprotect") == 0) {
        green__stack_force_mprotect(10000);
        a.stack_size = 64 * KIB;
    }
    green_join(green_spawn_attr(&a, overflow, NULL), NULL);
    if (strcmp(green__stack_guard_mode(), mode) != 0)
        child_fail(green__stack_guard_mode());
    child_fail("the overflow was survived");
}

static void expect_overflow_report(const char *mode, int sig)
{
    char out[8192];
    int status = run_child(overflow_in_child, (void *)mode, out, sizeof out);

    cr_assert_signalled(status, sig, out);
    cr_assert(strstr(out, "stack overflow in green thread"), "output:\n%s", out);
    cr_assert(strstr(out, "\"deep\""), "the report names the thread:\n%s", out);
    cr_assert(strstr(out, "GREEN_STACK_SIZE"), "the report names the setting:\n%s", out);
    const char *hint = strstr(out, "GREEN_STACK_SIZE (now ");
    size_t now = 0, suggested = 0;
    cr_assert(hint && sscanf(hint, "GREEN_STACK_SIZE (now %zuk, e.g. GREEN_STACK_SIZE=%zuk",
                             &now, &suggested) == 2, "output:\n%s", out);
    cr_assert_gt(suggested, now, "the suggested size must be a raise:\n%s", out);
}

Test(stack, overflow_is_reported_and_dies_of_sigsegv)
{
    expect_overflow_report("madvise", SIGSEGV);
}

Test(stack, overflow_is_reported_with_the_mprotect_fallback)
{
    expect_overflow_report("mprotect", SIGSEGV);
}

/* Fill `left` bytes of stack with frames, then switch away at the deepest one. */
static __attribute__((noinline)) int overrun_then_yield(size_t left)
{
    volatile char buf[1024];

    memset((char *)buf, 1, sizeof buf);
    if (left <= sizeof buf) {
        green_yield();
        return 0;
    }
    return overrun_then_yield(left - sizeof buf) + buf[0];
}

static void *overrun(void *arg)
{
    return (void *)(intptr_t)overrun_then_yield((size_t)arg);
}

static void canary_in_child(void *arg)
{
    green_attr_t a = {.name = "deep", .stack_size = 64 * KIB};

    green__stack_force_mprotect(0); /* no VMA left for guards: canaries only */
    /* Half a stack too deep: into the unguarded bytes below it, which are still mapped. */
    green_join(green_spawn_attr(&a, overrun, (void *)(96 * KIB)), NULL);
    if (strcmp(green__stack_guard_mode(), "canary") != 0)
        child_fail(green__stack_guard_mode());
    child_fail("the overrun was not caught");
}

Test(stack, overflow_is_reported_by_the_canary_once_the_guard_budget_is_spent)
{
    char out[8192];
    int status = run_child(canary_in_child, NULL, out, sizeof out);

    cr_assert_signalled(status, SIGABRT, out);
    cr_assert(strstr(out, "vm.max_map_count"), "the first canary stack warns:\n%s", out);
    cr_assert(strstr(out, "stack overflow in green thread"), "output:\n%s", out);
    cr_assert(strstr(out, "\"deep\""), "output:\n%s", out);
    cr_assert(strstr(out, "GREEN_STACK_SIZE"), "output:\n%s", out);
}

static void *in_bounds_use(void *arg)
{
    return (void *)(intptr_t)overrun_then_yield((size_t)arg);
}

Test(stack, threads_within_their_stack_run_fine_in_canary_mode)
{
    green_attr_t a = {.stack_size = 64 * KIB};
    green_t t[8];
    char err[4096];
    struct stderr_capture c = capture_stderr_begin();

    green__stack_force_mprotect(0);
    for (int i = 0; i < 8; i++)
        t[i] = green_spawn_attr(i % 2 ? &a : NULL, in_bounds_use, (void *)(40 * KIB));
    cr_assert_eq(green_joinall(t, 8, NULL, -1), 0);
    capture_stderr_end(&c, err, sizeof err);
    cr_assert_str_eq(green__stack_guard_mode(), "canary");
    cr_assert(strstr(err, "warning: vm.max_map_count"), "one warning:\n%s", err);
    cr_assert_null(strstr(strstr(err, "warning:") + 1, "warning:"), "only one:\n%s", err);
    cr_assert_null(strstr(err, "overflow"), "%s", err);
}

static void *hold_stack(void *arg)
{
    struct green__stack *s = &green__current()->stack;

    green_sleep(0.05);
    return (void *)(uintptr_t)(s->flags & GREEN_STACK_CANARY ? 1 : 0);
}

Test(stack, mprotect_guards_stop_at_the_budget_and_canaries_take_over)
{
    green_attr_t a = {.stack_size = 64 * KIB};
    green_t t[10];
    void *v[10];
    int canaries = 0;
    char err[4096];
    struct stderr_capture c = capture_stderr_begin();

    green__stack_force_mprotect(12); /* two VMAs a guard: six guards in all */
    for (int i = 0; i < 10; i++)
        t[i] = green_spawn_attr(&a, hold_stack, NULL);
    cr_assert_eq(green_joinall(t, 10, v, -1), 0);
    capture_stderr_end(&c, err, sizeof err);
    cr_assert(strstr(err, "vm.max_map_count"), "the fallback is announced:\n%s", err);
    for (int i = 0; i < 10; i++)
        canaries += v[i] != NULL;
    /* The hub's stack and its chunk took two guards: at most four are left for these. */
    cr_assert_geq(canaries, 6, "only %d of 10 stacks fell back to a canary", canaries);
    cr_assert_str_eq(green__stack_guard_mode(), "canary");
}

/* ----------------------------------------------------------------- reuse */

static void *stack_lo(void *arg)
{
    green_yield();
    return green__current()->stack.lo;
}

static size_t count_distinct(void **v, size_t n)
{
    size_t distinct = 0;

    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && v[j] != v[i])
            j++;
        distinct += j == i;
    }
    return distinct;
}

Test(stack, stacks_are_reused)
{
    static void *seen[1000];
    green_t t[10];

    for (int i = 0; i < 500; i++)
        cr_assert_eq(green_join(green_spawn(stack_lo, NULL), &seen[i]), 0);
    cr_assert_eq(count_distinct(seen, 500), 1, "one thread at a time runs on one stack");
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 10; i++)
            t[i] = green_spawn(stack_lo, NULL);
        for (int i = 0; i < 10; i++)
            cr_assert_eq(green_join(t[i], &seen[500 + round * 10 + i]), 0);
    }
    cr_assert_leq(count_distinct(seen + 500, 500), 11, "ten at a time share a few stacks");
}

static int count_mappings(void)
{
    char line[512];
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    return n;
}

Test(stack, odd_sized_stacks_are_reused_without_growing_the_mappings)
{
    green_attr_t a = {.stack_size = 64 * KIB};
    green_t t[20];
    int before = 0;

    for (int round = 0; round < 50; round++) {
        if (round == 5)
            before = count_mappings();
        for (int i = 0; i < 20; i++)
            t[i] = green_spawn_attr(&a, stack_lo, NULL);
        cr_assert_eq(green_joinall(t, 20, NULL, -1), 0);
    }
    cr_assert_leq(count_mappings(), before + 4, "mappings grew from %d to %d", before,
                  count_mappings());
}

/* ------------------------------------------------------- GREEN_STACK_SIZE */

Test(stack, parse_size_accepts_bytes_and_suffixes)
{
    static const struct {
        const char *s;
        size_t v;
    } ok[] = {{"256k", 256 * KIB}, {"1M", 1 << 20},   {"65536", 65536},
              {"1g", 1 << 30},     {"512K", 512 * KIB}, {"2MiB", 2 << 20},
              {"64kb", 64 * KIB},  {"16k", 16 * KIB}};
    size_t v;

    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        v = 0;
        cr_assert_eq(green__parse_size(ok[i].s, 16 * KIB, (size_t)1 << 30, &v), 0, "%s",
                     ok[i].s);
        cr_assert_eq(v, ok[i].v, "%s gave %zu", ok[i].s, v);
    }
}

Test(stack, parse_size_rejects_garbage_and_out_of_range)
{
    static const char *const bad[] = {"",     "abc",  "-1",   "-64k", " 64k", "64k ",
                                      "12q",  "1kk",  "0x10", "1.5m", "8k",   "0",
                                      "2g",   "1t",   "99999999999999999999",
                                      "17179869184g"};
    size_t v = 12345;

    cr_assert_eq(green__parse_size(NULL, 16 * KIB, (size_t)1 << 30, &v), -EINVAL);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(green__parse_size(bad[i], 16 * KIB, (size_t)1 << 30, &v), -EINVAL,
                     "\"%s\" accepted", bad[i]);
    cr_assert_eq(v, 12345, "a rejected size leaves *out alone");
}

static void *own_stack_size(void *arg)
{
    return (void *)green__current()->stack.size;
}

static void spawn_with_env(void *arg)
{
    void *v = NULL;

    setenv("GREEN_STACK_SIZE", arg, 1);
    green_join(green_spawn(own_stack_size, NULL), &v);
    printf("stack %zu\n", (size_t)v);
}

Test(stack, a_bad_green_stack_size_stops_the_program_with_status_2)
{
    static const char *const bad[] = {"lots", "1k", "4g"};
    char out[4096], want[64];

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int status = run_child(spawn_with_env, (void *)bad[i], out, sizeof out);
        cr_assert_exited(status, 2, out);
        snprintf(want, sizeof want, "GREEN_STACK_SIZE=\"%s\"", bad[i]);
        cr_assert(strstr(out, want), "the message names the variable and value:\n%s", out);
        cr_assert_null(strstr(out, "stack "), "nothing ran:\n%s", out);
    }
}

Test(stack, green_stack_size_sets_the_default_stack)
{
    assert_child_prints(spawn_with_env, "512k", "stack 524288\n");
    assert_child_prints(spawn_with_env, "100000", "stack 102400\n"); /* whole pages */
}

/* ------------------------------------------------------ many deep stacks */

#define NDEEP 1000
#define DEEP_BYTES (48 * KIB)

static int deep_alive, deep_peak;

static __attribute__((noinline)) int fill_wait_check(intptr_t id)
{
    volatile unsigned char buf[DEEP_BYTES];
    int bad = 0;

    for (size_t i = 0; i < sizeof buf; i += 64)
        buf[i] = (unsigned char)(id + i / 64);
    if (++deep_alive > deep_peak)
        deep_peak = deep_alive;
    green_sleep(0.05);
    for (size_t i = 0; i < sizeof buf; i += 64)
        bad += buf[i] != (unsigned char)(id + i / 64);
    deep_alive--;
    return bad;
}

static void *deep_thread(void *arg)
{
    return (void *)(intptr_t)fill_wait_check((intptr_t)arg);
}

Test(stack, a_thousand_threads_with_deep_stacks_live_at_once)
{
    static green_t t[NDEEP];
    static void *v[NDEEP];

    for (intptr_t i = 0; i < NDEEP; i++) {
        t[i] = green_spawn(deep_thread, (void *)i);
        cr_assert_neq(t[i], GREEN_NONE, "spawn %ld: errno %d", (long)i, errno);
    }
    cr_assert_eq(green_joinall(t, NDEEP, v, 20.0), 0);
    cr_assert_eq(deep_peak, NDEEP);
    for (int i = 0; i < NDEEP; i++)
        cr_assert_eq(v[i], NULL, "thread %d found its stack changed", i);
}
