/*
 * test_tutorial.c — the gevent tutorial in C, as README shows it: eat/play take turns at
 * their waits, and ten sleeping tasks run one after another or all at once.  Output goes
 * to a buffer so the order can be checked whole; times are checked with generous bounds.
 */
#include "common.h"

TestSuite(tutorial, .timeout = 20);

static struct tlog out;

static void *eat(void *arg)
{
    tlog_add(&out, "egon eat 1\n");
    green_sleep(0.1); /* others run meanwhile */
    tlog_add(&out, "egon eat 2\n");
    return NULL;
}

static void *play(void *arg)
{
    tlog_add(&out, "egon play 1\n");
    green_sleep(0); /* just a turn */
    tlog_add(&out, "egon play 2\n");
    return NULL;
}

Test(tutorial, eat_and_play_take_turns_in_gevent_order)
{
    green_t t[] = {green_spawn(eat, NULL), green_spawn(play, NULL)};

    cr_assert_eq(green_joinall(t, 2, NULL, -1), 0);
    tlog_add(&out, "main: both done\n");
    cr_assert_str_eq(out.buf, "egon eat 1\n"
                              "egon play 1\n"
                              "egon play 2\n"
                              "egon eat 2\n"
                              "main: both done\n");
}

#define TASKS 10
#define TASK_SLEEP 0.2

static void *task(void *arg)
{
    green_sleep(TASK_SLEEP);
    tlog_add(&out, "task %ld done\n", (long)(intptr_t)arg);
    return arg;
}

Test(tutorial, synchronous_tasks_run_one_after_another)
{
    int64_t t0 = green_now();

    tlog_add(&out, "Synchronous:\n");
    for (intptr_t i = 0; i < TASKS; i++)
        task((void *)i);
    tlog_add(&out, "next line\n");
    cr_assert_geq(secs_since(t0), TASKS * TASK_SLEEP);
    cr_assert_str_eq(out.buf, "Synchronous:\n"
                              "task 0 done\ntask 1 done\ntask 2 done\ntask 3 done\n"
                              "task 4 done\ntask 5 done\ntask 6 done\ntask 7 done\n"
                              "task 8 done\ntask 9 done\n"
                              "next line\n");
}

Test(tutorial, asynchronous_tasks_overlap_and_all_end_before_the_next_line)
{
    green_t t[TASKS];
    void *v[TASKS];
    int64_t t0 = green_now();
    char line[32];

    tlog_add(&out, "Asynchronous:\n");
    for (intptr_t i = 0; i < TASKS; i++)
        t[i] = green_spawn(task, (void *)i);
    cr_assert_eq(green_joinall(t, TASKS, v, -1), 0);
    tlog_add(&out, "next line\n");
    cr_assert_geq(secs_since(t0), TASK_SLEEP);
    cr_assert_lt(secs_since(t0), 1.0, "ten tasks of %.1f s took %.2f s: no overlap", TASK_SLEEP,
                 secs_since(t0));
    /* The tasks wake together, in any order; each says so once, all before the next line. */
    const char *next = strstr(out.buf, "next line\n");
    cr_assert(strncmp(out.buf, "Asynchronous:\n", 14) == 0, "%s", out.buf);
    cr_assert(next && next[10] == 0, "%s", out.buf);
    for (intptr_t i = 0; i < TASKS; i++) {
        snprintf(line, sizeof line, "task %ld done\n", (long)i);
        const char *at = strstr(out.buf, line);
        cr_assert(at && at < next, "\"%.*s\" missing before the next line:\n%s",
                  (int)strlen(line) - 1, line, out.buf);
        cr_assert_null(strstr(at + 1, line), "twice:\n%s", out.buf);
        cr_assert_eq(v[i], (void *)i);
    }
    cr_assert_eq(next - out.buf, 14 + 10 * (ptrdiff_t)strlen("task 0 done\n"), "%s", out.buf);
}
