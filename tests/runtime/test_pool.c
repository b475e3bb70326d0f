/*
 * test_pool.c — the blocking-work pool: jobs run on real OS threads while green threads
 * keep running, several at once, never mistaken for a deadlock, and a kill waits for the
 * job (runtime/pool.c).
 */
#include <sys/syscall.h>

#include "common.h"

TestSuite(pool, .timeout = 20);

static void record_tid(void *arg)
{
    *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
}

Test(pool, jobs_run_on_another_os_thread)
{
    pid_t tid = 0;

    cr_assert_eq(green_pool_run(record_tid, &tid), 0);
    cr_assert_neq(tid, 0);
    cr_assert_neq(tid, (pid_t)syscall(SYS_gettid));
}

Test(pool, a_null_job_gives_einval)
{
    cr_assert_eq(green_pool_run(NULL, NULL), EINVAL);
}

static void block_300ms(void *arg)
{
    usleep(300000);
    if (arg)
        __atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
}

Test(pool, other_green_threads_run_while_a_job_blocks)
{
    int ticks = 0, done = 0;
    green_t ticker = ticker_start(&ticks);
    int64_t t0 = green_now();

    cr_assert_eq(green_pool_run(block_300ms, &done), 0);
    cr_assert_eq(done, 1);
    cr_assert_geq(secs_since(t0), 0.3);
    /* 30 ticks if the machine is idle; a third of that is proof enough. */
    cr_assert_geq(ticks, 10, "only %d ticks of 10 ms in 300 ms", ticks);
    ticker_stop(ticker);
}

static void *run_block(void *arg)
{
    return (void *)(intptr_t)green_pool_run(block_300ms, arg);
}

Test(pool, jobs_from_several_green_threads_run_in_parallel)
{
    int done = 0;
    green_t t[4];
    void *v[4];
    int64_t t0 = green_now();

    for (int i = 0; i < 4; i++)
        t[i] = green_spawn(run_block, &done);
    cr_assert_eq(green_joinall(t, 4, v, -1), 0);
    cr_assert_eq(done, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(v[i], NULL);
    cr_assert_geq(secs_since(t0), 0.3);
    cr_assert_lt(secs_since(t0), 0.9, "4 jobs of 0.3 s took %.2f s: they did not overlap",
                 secs_since(t0));
}

Test(pool, more_jobs_than_workers_all_complete)
{
    int done = 0;
    green_t t[10];

    for (int i = 0; i < 10; i++)
        t[i] = green_spawn(run_block, &done);
    cr_assert_eq(green_joinall(t, 10, NULL, 10.0), 0);
    cr_assert_eq(done, 10);
}

/* main joins a thread that waits on a job: the only thing that can end either wait is the
 * job's completion, posted from a pool worker.  The hub must block, not declare deadlock.
 * In a forked child, because the deadlock check stays quiet while other OS threads (the
 * Criterion worker's own) could post. */
static void join_a_job_waiter(void *arg)
{
    int done = 0;
    void *v = (void *)1;
    green_t t = green_spawn(run_block, &done);
    int r = green_join(t, &v);

    printf("join %d value %ld done %d\n", r, (long)(intptr_t)v, done);
}

Test(pool, a_thread_waiting_on_a_job_is_not_deadlocked)
{
    assert_child_prints(join_a_job_waiter, NULL, "join 0 value 0 done 1\n");
}

struct killed_job {
    int job_done;
    int returned;
    int after_wait;
};

static void slow_job(void *arg)
{
    usleep(200000);
    ((struct killed_job *)arg)->job_done = 1;
}

static void *run_killed_job(void *arg)
{
    struct killed_job *k = arg;

    green_pool_run(slow_job, k);
    k->returned = 1; /* the wait for the job ends only once the job has */
    green_yield();
    k->after_wait = 1;
    return NULL;
}

Test(pool, kill_while_waiting_on_a_job_takes_effect_after_the_job)
{
    struct killed_job k = {0};
    void *v = NULL;
    green_t t = green_spawn(run_killed_job, &k);
    int64_t t0 = green_now();

    green_sleep(0.05); /* the job is running */
    cr_assert_eq(green_kill(t), 0);
    cr_assert_eq(green_join(t, &v), 0);
    cr_assert_eq(v, GREEN_KILLED);
    cr_assert_eq(k.job_done, 1, "the job ran to its end before the thread did");
    cr_assert_geq(secs_since(t0), 0.2);
    cr_assert_eq(k.returned, 0, "green_pool_run is a kill point once the job is done");
    cr_assert_eq(k.after_wait, 0);
}
