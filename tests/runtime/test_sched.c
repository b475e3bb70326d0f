/*
 * test_sched.c — the scheduler: spawn, join, joinall, value, detach, yield, exit, kill,
 * names, errno per green thread, and the deadlock report (runtime/sched.c).
 */
#include "common.h"

TestSuite(sched, .timeout = 20);

static void *return_arg(void *arg)
{
    return arg;
}

static void *sleep_then_return(void *arg)
{
    green_sleep(0.05);
    return arg;
}

static void *sleep_long(void *arg)
{
    green_sleep(10);
    *(int *)arg = 1; /* never reached when killed */
    return NULL;
}

/* ------------------------------------------------------------------ join */

Test(sched, join_returns_the_thread_value)
{
    void *v = NULL;
    green_t t = green_spawn(return_arg, (void *)0x1234);

    cr_assert_neq(t, GREEN_NONE);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(v, (void *)0x1234);
}

static void *exit_with_arg(void *arg)
{
    green_exit(arg);
}

Test(sched, join_gives_green_exit_value)
{
    void *v = NULL;
    green_t t = green_spawn(exit_with_arg, (void *)0x77);

    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(v, (void *)0x77);
}

Test(sched, join_twice_gives_esrch)
{
    green_t t = green_spawn(return_arg, NULL);

    cr_assert_eq(green_join(t, NULL), 0);
    cr_assert_eq(green_join(t, NULL), ESRCH);
}

Test(sched, join_of_a_never_issued_handle_gives_esrch)
{
    cr_assert_eq(green_join(GREEN_NONE, NULL), ESRCH);
    cr_assert_eq(green_join((green_t)0xdead00000000beefULL, NULL), ESRCH);
}

Test(sched, join_self_gives_edeadlk)
{
    cr_assert_eq(green_join(green_self(), NULL), EDEADLK);
}

static void *join_self(void *arg)
{
    return (void *)(intptr_t)green_join(green_self(), NULL);
}

Test(sched, join_self_from_a_spawned_thread_gives_edeadlk)
{
    void *v;

    cr_assert_eq(green_join(green_spawn(join_self, NULL), &v), 0);
    cr_assert_eq((intptr_t)v, EDEADLK);
}

Test(sched, join_of_a_detached_thread_gives_einval)
{
    green_t t = green_spawn(sleep_then_return, NULL);

    cr_assert_eq(green_detach(t), 0);
    cr_assert_eq(green_join(t, NULL), EINVAL);
    cr_assert_eq(green_detach(t), EINVAL);
    green_sleep(0.1);
}

static void *join_arg(void *arg)
{
    return (void *)(intptr_t)green_join(*(green_t *)arg, NULL);
}

Test(sched, a_second_joiner_gives_einval)
{
    green_t target = green_spawn(sleep_then_return, NULL);
    green_t first = green_spawn(join_arg, &target);
    void *v;

    green_yield(); /* first is now joining target */
    cr_assert_eq(green_join(target, NULL), EINVAL);
    cr_assert_eq(green_join(first, &v), 0);
    cr_assert_eq((intptr_t)v, 0);
}

static void *count_and_return(void *arg)
{
    ++*(int *)arg;
    return NULL;
}

Test(sched, detached_thread_frees_itself_when_it_ends)
{
    int ran = 0;
    green_t t = green_spawn(count_and_return, &ran), u;

    cr_assert_eq(green_detach(t), 0);
    green_yield();
    cr_assert_eq(ran, 1);
    cr_assert_eq(green_join(t, NULL), ESRCH, "the handle of an ended detached thread is stale");
    cr_assert_eq(green_value(t, NULL), ESRCH);
    /* Its slot is free again: the next spawn reuses it under a new handle. */
    u = green_spawn(return_arg, NULL);
    cr_assert_eq((uint32_t)u, (uint32_t)t);
    cr_assert_neq(u, t);
    cr_assert_eq(green_join(u, NULL), 0);
}

Test(sched, detach_after_the_end_frees_at_once)
{
    green_t t = green_spawn(return_arg, NULL);

    green_yield();
    cr_assert_eq(green_detach(t), 0);
    cr_assert_eq(green_join(t, NULL), ESRCH);
}

Test(sched, spawn_attr_detached_cannot_be_joined)
{
    int ran = 0;
    green_attr_t a = {.detached = 1};
    green_t t = green_spawn_attr(&a, count_and_return, &ran);

    cr_assert_neq(t, GREEN_NONE);
    cr_assert_eq(green_join(t, NULL), EINVAL);
    green_yield();
    cr_assert_eq(ran, 1);
    cr_assert_eq(green_join(t, NULL), ESRCH);
}

/* ----------------------------------------------------------------- value */

Test(sched, value_is_ebusy_until_the_end_then_the_value)
{
    void *v = NULL;
    green_t t = green_spawn(sleep_then_return, (void *)0x42);

    cr_assert_eq(green_value(t, &v), EBUSY);
    green_yield(); /* it runs and sleeps */
    cr_assert_eq(green_value(t, &v), EBUSY);
    green_sleep(0.2);
    cr_assert_eq(green_value(t, &v), 0);
    cr_assert_eq(v, (void *)0x42);
    v = NULL;
    cr_assert_eq(green_join(t, &v), 0, "value does not join");
    cr_assert_eq(v, (void *)0x42);
    cr_assert_eq(green_value(t, &v), ESRCH);
}

Test(sched, value_of_a_detached_thread_gives_einval)
{
    green_t t = green_spawn(sleep_then_return, NULL);

    green_detach(t);
    cr_assert_eq(green_value(t, NULL), EINVAL);
    green_sleep(0.1); /* let it end before the test does */
}

/* --------------------------------------------------------------- joinall */

Test(sched, joinall_joins_every_thread_and_zeroes_the_handles)
{
    green_t t[5];
    void *v[5] = {0};

    for (intptr_t i = 0; i < 5; i++)
        t[i] = green_spawn(i % 2 ? sleep_then_return : return_arg, (void *)(i + 1));
    cr_assert_eq(green_joinall(t, 5, v, -1), 0);
    for (intptr_t i = 0; i < 5; i++) {
        cr_assert_eq(t[i], GREEN_NONE);
        cr_assert_eq(v[i], (void *)(i + 1));
    }
    cr_assert_eq(green_joinall(t, 5, v, -1), 0, "all GREEN_NONE: nothing to do");
}

Test(sched, joinall_timeout_joins_the_finished_and_leaves_the_rest_joinable)
{
    int never = 0;
    green_t t[3];
    void *v[3] = {0};
    void *killed = NULL;
    int64_t t0 = green_now();

    /* The slow one first: the ones after it must still be reaped once time runs out. */
    t[0] = green_spawn(sleep_long, &never);
    t[1] = green_spawn(sleep_then_return, (void *)1);
    t[2] = green_spawn(return_arg, (void *)2);
    green_t slow = t[0];
    cr_assert_eq(green_joinall(t, 3, v, 0.3), ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.3);
    cr_assert_lt(secs_since(t0), 5.0);
    cr_assert_eq(t[0], slow);
    cr_assert_eq(t[1], GREEN_NONE);
    cr_assert_eq(t[2], GREEN_NONE);
    cr_assert_eq(v[1], (void *)1);
    cr_assert_eq(v[2], (void *)2);
    cr_assert_eq(green_kill(slow), 0);
    cr_assert_eq(green_join(slow, &killed), 0);
    cr_assert_eq(killed, GREEN_KILLED);
    cr_assert_eq(never, 0);
}

Test(sched, joinall_with_zero_timeout_only_reaps_the_ended)
{
    int never = 0;
    green_t t[2] = {green_spawn(return_arg, (void *)5), green_spawn(sleep_long, &never)};
    void *v[2] = {0};

    green_yield(); /* t[0] ends, t[1] sleeps */
    cr_assert_eq(green_joinall(t, 2, v, 0), ETIMEDOUT);
    cr_assert_eq(t[0], GREEN_NONE);
    cr_assert_eq(v[0], (void *)5);
    cr_assert_neq(t[1], GREEN_NONE);
    green_kill(t[1]);
    cr_assert_eq(green_joinall(t, 2, v, -1), 0);
    cr_assert_eq(v[1], GREEN_KILLED);
}

Test(sched, joinall_with_an_invalid_handle_waits_for_nothing)
{
    green_t t[2] = {green_spawn(sleep_then_return, NULL), (green_t)0xdead00000000beefULL};

    cr_assert_eq(green_joinall(t, 2, NULL, -1), ESRCH);
    cr_assert_neq(t[0], GREEN_NONE);
    cr_assert_eq(green_join(t[0], NULL), 0);
}

/* -------------------------------------------------------------- timedjoin */

Test(sched, timedjoin_times_out_and_leaves_the_thread_joinable)
{
    void *v = NULL;
    green_t t = green_spawn(sleep_then_return, (void *)9);
    int64_t t0 = green_now();

    cr_assert_eq(green_timedjoin(t, &v, green_now() + 10 * 1000000), ETIMEDOUT);
    cr_assert_geq(secs_since(t0), 0.01);
    cr_assert_eq(green_timedjoin(t, &v, 0), EBUSY, "a past deadline only checks");
    cr_assert_eq(green_timedjoin(t, &v, green_now() + 5000000000LL), 0);
    cr_assert_eq(v, (void *)9);
    cr_assert_lt(secs_since(t0), 5.0);
}

/* --------------------------------------------------------- order, yield */

static struct tlog order_log;

static void *log_index(void *arg)
{
    tlog_add(&order_log, "%ld ", (long)(intptr_t)arg);
    return NULL;
}

Test(sched, spawned_threads_run_in_fifo_order)
{
    green_t t[10];

    for (intptr_t i = 0; i < 10; i++)
        t[i] = green_spawn(log_index, (void *)i);
    cr_assert_eq(order_log.len, 0, "spawn does not run the thread");
    cr_assert_eq(green_joinall(t, 10, NULL, -1), 0);
    cr_assert_str_eq(order_log.buf, "0 1 2 3 4 5 6 7 8 9 ");
}

static void *log_and_yield(void *arg)
{
    for (int i = 0; i < 3; i++) {
        tlog_add(&order_log, "%c", (char)(intptr_t)arg);
        green_yield();
    }
    return NULL;
}

Test(sched, yield_runs_every_ready_thread_once)
{
    green_t t[3];

    for (int i = 0; i < 3; i++)
        t[i] = green_spawn(log_and_yield, (void *)(intptr_t)('A' + i));
    for (int i = 0; i < 3; i++) {
        tlog_add(&order_log, "m");
        cr_assert_eq(green_yield(), 0);
    }
    cr_assert_eq(green_joinall(t, 3, NULL, -1), 0);
    cr_assert_str_eq(order_log.buf, "mABCmABCmABC");
}

Test(sched, yield_alone_returns_at_once)
{
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(green_yield(), 0);
}

/* ----------------------------------------------------------------- names */

Test(sched, names_are_set_and_read_back)
{
    char buf[16];
    green_attr_t a = {.name = "worker"};
    green_t t = green_spawn_attr(&a, sleep_then_return, NULL);

    cr_assert_eq(green_getname(green_self(), buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "main");
    cr_assert_eq(green_getname(t, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "worker");
    cr_assert_eq(green_setname(t, "renamed"), 0);
    cr_assert_eq(green_getname(t, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "renamed");
    cr_assert_eq(green_setname(t, NULL), 0);
    cr_assert_eq(green_getname(t, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(green_join(t, NULL), 0);
    cr_assert_eq(green_setname(t, "gone"), ESRCH);
    cr_assert_eq(green_getname(t, buf, sizeof buf), ESRCH);
}

Test(sched, an_unnamed_thread_has_an_empty_name)
{
    char buf[32] = "x";
    green_t t = green_spawn(return_arg, NULL);

    cr_assert_eq(green_getname(t, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "");
    green_join(t, NULL);
}

Test(sched, long_names_are_truncated_to_15_bytes)
{
    char buf[16];
    green_attr_t a = {.name = "abcdefghijklmnopqrstuvwxyz"};
    green_t t = green_spawn_attr(&a, return_arg, NULL);

    cr_assert_eq(green_getname(t, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "abcdefghijklmno");
    cr_assert_eq(green_setname(t, "0123456789abcdefXYZ"), 0);
    cr_assert_eq(green_getname(t, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "0123456789abcde");
    green_join(t, NULL);
}

Test(sched, getname_with_a_short_buffer_gives_erange)
{
    char buf[15];

    cr_assert_eq(green_getname(green_self(), buf, sizeof buf), ERANGE);
}

/* ------------------------------------------------------------------ kill */

Test(sched, kill_ends_a_sleeper_at_once)
{
    int reached = 0;
    void *v = NULL;
    green_t t = green_spawn(sleep_long, &reached);
    int64_t t0 = green_now();

    green_sleep(0.05); /* it sleeps now */
    cr_assert_eq(green_kill(t), 0);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(v, GREEN_KILLED);
    cr_assert_eq(reached, 0, "the killed sleep must not return");
    cr_assert_lt(secs_since(t0), 5.0, "it ended long before its 10 s sleep");
}

static void *wait_read(void *arg)
{
    int *fd = arg;
    int r = green_wait_fd(fd[0], GREEN_READ, GREEN_NO_DEADLINE);
    fd[2] = 1; /* never reached when killed */
    return (void *)(intptr_t)r;
}

Test(sched, kill_ends_a_thread_waiting_on_a_fd)
{
    int fd[3] = {0};
    void *v = NULL;

    cr_assert_eq(pipe(fd), 0);
    green_t t = green_spawn(wait_read, fd);
    green_yield();
    cr_assert_eq(green_kill(t), 0);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(v, GREEN_KILLED);
    cr_assert_eq(fd[2], 0);
    /* Its watcher is gone: data on the pipe now disturbs nobody. */
    cr_assert_eq(write(fd[1], "x", 1), 1);
    green_sleep(0.01);
    close(fd[0]);
    close(fd[1]);
}

Test(sched, kill_before_it_ever_ran_means_fn_never_runs)
{
    int ran = 0;
    void *v = NULL;
    green_t t = green_spawn(count_and_return, &ran);

    cr_assert_eq(green_kill(t), 0);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(v, GREEN_KILLED);
    cr_assert_eq(ran, 0);
}

static void *kill_self(void *arg)
{
    int *steps = arg;

    steps[0] = green_kill(green_self()) == 0;
    steps[1] = 1; /* kill does not end the caller by itself ... */
    green_yield(); /* ... its next wait does */
    steps[2] = 1;
    return NULL;
}

Test(sched, kill_self_ends_at_the_next_wait)
{
    int steps[3] = {0};
    void *v = NULL;

    cr_assert_eq(green_join(green_spawn(kill_self, steps), &v), 0);
    cr_assert_eq(v, GREEN_KILLED);
    cr_assert(steps[0] && steps[1]);
    cr_assert_eq(steps[2], 0);
}

Test(sched, a_killed_joiner_leaves_its_target_joinable)
{
    green_t target = green_spawn(sleep_then_return, (void *)3);
    green_t joiner = green_spawn(join_arg, &target);
    void *v = NULL;

    green_yield(); /* joiner waits on target */
    cr_assert_eq(green_join(target, NULL), EINVAL, "target has a joiner");
    cr_assert_eq(green_kill(joiner), 0);
    cr_assert_eq(green_join(joiner, &v), 0);
    cr_assert_eq(v, GREEN_KILLED);
    cr_assert_eq(green_join(target, &v), 0);
    cr_assert_eq(v, (void *)3);
}

Test(sched, kill_of_an_invalid_handle_gives_esrch)
{
    green_t t = green_spawn(return_arg, NULL);

    green_join(t, NULL);
    cr_assert_eq(green_kill(t), ESRCH);
    cr_assert_eq(green_kill(GREEN_NONE), ESRCH);
}

/* ----------------------------------------------------------------- errno */

static void *keep_errno(void *arg)
{
    int mine = (int)(intptr_t)arg;

    for (int i = 0; i < 5; i++) {
        errno = mine;
        green_yield();
        if (errno != mine)
            return (void *)(intptr_t)-1;
        green_sleep(0.001);
        if (errno != mine)
            return (void *)(intptr_t)-2;
        errno = mine;
    }
    return NULL;
}

Test(sched, errno_is_kept_per_green_thread_across_switches)
{
    green_t a = green_spawn(keep_errno, (void *)(intptr_t)EAGAIN);
    green_t b = green_spawn(keep_errno, (void *)(intptr_t)ENOENT);
    void *va, *vb;

    errno = EPIPE;
    green_yield();
    cr_assert_eq(errno, EPIPE);
    cr_assert_eq(green_join(a, &va), 0);
    cr_assert_eq(green_join(b, &vb), 0);
    cr_assert_eq(va, NULL, "thread a saw errno change (%ld)", (long)(intptr_t)va);
    cr_assert_eq(vb, NULL, "thread b saw errno change (%ld)", (long)(intptr_t)vb);
}

/* ------------------------------------------------------------ resources */

Test(sched, spawn_join_cycles_do_not_grow_memory)
{
    long before, after;

    for (int i = 0; i < 10000; i++)
        green_join(green_spawn(return_arg, NULL), NULL);
    before = rss_bytes();
    for (int i = 0; i < 100000; i++) {
        void *v = NULL;
        green_t t = green_spawn(return_arg, (void *)(intptr_t)i);
        cr_assert_neq(t, GREEN_NONE);
        cr_assert_eq(green_join(t, &v), 0);
        cr_assert_eq(v, (void *)(intptr_t)i);
    }
    after = rss_bytes();
    cr_assert_lt(after - before, 2L << 20, "RSS grew by %ld KiB over 100,000 cycles",
                 (after - before) >> 10);
}

Test(sched, detached_spawn_cycles_do_not_grow_memory)
{
    green_attr_t a = {.detached = 1};
    long before, after;

    for (int i = 0; i < 10000; i++) {
        green_spawn_attr(&a, return_arg, NULL);
        green_yield();
    }
    before = rss_bytes();
    for (int i = 0; i < 100000; i++) {
        cr_assert_neq(green_spawn_attr(&a, return_arg, NULL), GREEN_NONE);
        green_yield();
    }
    after = rss_bytes();
    cr_assert_lt(after - before, 2L << 20, "RSS grew by %ld KiB over 100,000 detached threads",
                 (after - before) >> 10);
}

Test(sched, bad_stack_sizes_give_einval)
{
    green_attr_t small = {.stack_size = 16 * 1024 - 1};
    green_attr_t big = {.stack_size = ((size_t)1 << 30) + 1};
    green_attr_t least = {.stack_size = 16 * 1024};

    errno = 0;
    cr_assert_eq(green_spawn_attr(&small, return_arg, NULL), GREEN_NONE);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(green_spawn_attr(&big, return_arg, NULL), GREEN_NONE);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(green_spawn(NULL, NULL), GREEN_NONE);
    cr_assert_eq(errno, EINVAL);
    green_t t = green_spawn_attr(&least, return_arg, NULL);
    cr_assert_neq(t, GREEN_NONE);
    cr_assert_eq(green_join(t, NULL), 0);
}

/* Use about `bytes` of stack, then report the stack the thread runs on. */
static __attribute__((noinline)) size_t use_stack(size_t bytes)
{
    volatile char buf[bytes];

    memset((char *)buf, 0x5a, bytes);
    return green__current()->stack.size + buf[bytes / 2] - 0x5a;
}

static void *deep_use(void *arg)
{
    return (void *)use_stack((size_t)arg);
}

Test(sched, stack_size_attribute_is_honoured)
{
    green_attr_t a = {.stack_size = 1 << 20};
    green_attr_t b = {.stack_size = 64 * 1024};
    void *v = NULL;

    cr_assert_eq(green_join(green_spawn_attr(&a, deep_use, (void *)(size_t)(768 << 10)), &v), 0);
    cr_assert_eq((size_t)v, (size_t)1 << 20, "a 1 MiB stack holds 768 KiB of frames");
    cr_assert_eq(green_join(green_spawn_attr(&b, deep_use, (void *)(size_t)(8 << 10)), &v), 0);
    cr_assert_eq((size_t)v, (size_t)64 * 1024);
    cr_assert_eq(green_join(green_spawn(deep_use, (void *)(size_t)1024), &v), 0);
    cr_assert_eq((size_t)v, green__config()->stack_size);
}

/* ------------------------------------------------------- main's green_exit */

static void *print_later(void *arg)
{
    green_sleep(0.05 * (double)(intptr_t)arg);
    printf("thread %ld done\n", (long)(intptr_t)arg);
    return NULL;
}

static void main_exits_early(void *arg)
{
    for (intptr_t i = 1; i <= 3; i++)
        green_spawn(print_later, (void *)i);
    printf("main exits\n");
    green_exit(NULL);
}

Test(sched, main_green_exit_lets_the_others_finish_then_exits_0)
{
    assert_child_prints(main_exits_early, NULL,
                        "main exits\nthread 1 done\nthread 2 done\nthread 3 done\n");
}

static void main_exits_alone(void *arg)
{
    printf("bye\n");
    green_exit(NULL);
}

Test(sched, main_green_exit_alone_exits_0_at_once)
{
    assert_child_prints(main_exits_alone, NULL, "bye\n");
}

/* -------------------------------------------------------------- deadlock */

static void *wait_event(void *arg)
{
    return (void *)(intptr_t)green_event_wait(arg);
}

static void deadlock_in_child(void *arg)
{
    green_event_t nobody_sets = GREEN_EVENT_INIT;
    green_attr_t a = {.name = "stuck"};
    green_t t = green_spawn_attr(&a, wait_event, &nobody_sets);
    void *v = NULL;
    int r = green_join(t, NULL);

    printf("join: %s\n", r == EDEADLK ? "EDEADLK" : strerror(r));
    printf("kill: %d\n", green_kill(t));
    r = green_join(t, &v);
    printf("join after kill: %d %s\n", r, v == GREEN_KILLED ? "killed" : "?");
}

/* The deadlock check only fires when no other OS thread could post a wake; the Criterion
 * worker runs a thread of its own, so deadlocks are staged in a forked child. */
Test(sched, deadlock_fails_main_join_with_edeadlk_and_names_the_waiters)
{
    assert_child_says(deadlock_in_child, NULL, "deadlock", "\"main\" waiting on join of #",
                      "\"stuck\" waiting on event", "join: EDEADLK\n",
                      "kill: 0\njoin after kill: 0 killed\n", NULL);
}

static void *join_main(void *arg)
{
    return (void *)(intptr_t)green_join(*(green_t *)arg, NULL);
}

static void join_cycle_in_child(void *arg)
{
    green_t m = green_self();
    green_t t = green_spawn(join_main, &m);
    int r;

    green_yield(); /* t joins main */
    r = green_join(t, NULL);
    printf("join: %s\n", r == EDEADLK ? "EDEADLK" : strerror(r));
    green_kill(t);
    printf("join after kill: %d\n", green_join(t, NULL));
}

Test(sched, threads_joining_each_other_are_reported_as_deadlocked)
{
    assert_child_says(join_cycle_in_child, NULL, "deadlock", "#2 waiting on join of #1 \"main\"",
                      "join: EDEADLK\njoin after kill: 0\n", NULL);
}

static green_t peers[2];

static void *join_peer(void *arg)
{
    intptr_t me = (intptr_t)arg;
    int r;

    green_yield(); /* let the peer start */
    r = green_join(peers[1 - me], NULL);
    printf("%c: %s\n", (int)('a' + me), r == EDEADLK ? "EDEADLK" : r ? strerror(r) : "joined");
    return NULL;
}

static void peers_deadlock_after_main_exits(void *arg)
{
    peers[0] = green_spawn(join_peer, (void *)0);
    peers[1] = green_spawn(join_peer, (void *)1);
    green_exit(NULL);
}

/* a fails first; b's join then finds a ended and joins it. */
Test(sched, deadlock_without_main_fails_every_waiting_thread)
{
    assert_child_says(peers_deadlock_after_main_exits, NULL, "deadlock",
                      "#2 waiting on join of #3", "#3 waiting on join of #2", "a: EDEADLK\n",
                      "b: ", NULL);
}
