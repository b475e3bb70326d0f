/*
 * test_monitor.c — the diagnostics of runtime/stats.c, monitor.c and backtrace.c through
 * the <green.h> API: the GREEN_STATS report, the dump on GREEN_DUMP_SIGNAL, the blocking
 * monitor, and their settings.  Settings are read once per process, so each test runs in
 * a forked child that sets them before its first green call (run_child).  The same
 * diagnostics on unmodified programs under the shim: tests/preload/test_diag.c.
 */
#include "common.h"

TestSuite(monitor, .timeout = 30);

static void *nap(void *arg)
{
    green_sleep(0.02);
    return arg;
}

static void stats_child(void *arg)
{
    green_attr_t a = {.name = "napper"};
    green_t t[3];

    setenv("GREEN_STATS", "1", 1);
    for (int i = 0; i < 3; i++)
        t[i] = green_spawn_attr(&a, nap, NULL);
    green_joinall(t, 3, NULL, -1);
    exit(0); /* the report is printed at exit */
}

Test(monitor, stats_report_counts_the_api_s_threads_and_waits)
{
    assert_child_says(stats_child, NULL, "green: stats for pid ",
                      "green threads: 3 created, 4 alive at most (main included); 1 OS thread",
                      "waits by family: green.h API ", "sleep 3 (", "join",
                      "longest run without yielding: ", "nap+", NULL);
}

static green_event_t never;

static void *wait_forever(void *arg)
{
    return (void *)(intptr_t)green_event_wait(&never);
}

static void dump_child(void *arg)
{
    green_attr_t a = {.name = "eventful"};
    green_t t;

    setenv("GREEN_DUMP_SIGNAL", "SIGUSR2", 1);
    t = green_spawn_attr(&a, wait_forever, NULL);
    green_yield(); /* it parks on the event */
    raise(SIGUSR2);
    printf("after the dump\n");
    green_kill(t);
    green_join(t, NULL);
}

Test(monitor, dump_lists_every_thread_with_a_backtrace_and_the_program_goes_on)
{
    assert_child_says(dump_child, NULL, "green: dump on SIGUSR2: the green threads of OS thread",
                      "#1 \"main\" running", "dump_child+", "#2 \"eventful\" waiting on event 0x",
                      "wait_forever+", "after the dump\n", NULL);
}

static void *compute(void *arg)
{
    int64_t end = green_now() + 300 * 1000000LL;
    volatile unsigned long n = 0;

    while (green_now() < end)
        n++;
    return NULL;
}

static void monitor_child(void *arg)
{
    green_attr_t a = {.name = "cruncher"};

    setenv("GREEN_BLOCK_WARN_MS", "60", 1);
    green_join(green_spawn_attr(&a, compute, NULL), NULL);
    green_sleep(0.1); /* the monitor's next look sees the switch */
    printf("joined\n");
}

Test(monitor, blocking_monitor_reports_a_thread_that_never_yields)
{
    assert_child_says(monitor_child, NULL, "green thread #2 \"cruncher\" has run ",
                      "(GREEN_BLOCK_WARN_MS=60). It is at:", "compute+",
                      "green thread #2 \"cruncher\" switched away after running at least ",
                      "joined\n", NULL);
}

struct bad {
    const char *var, *value;
};

static void bad_setting_child(void *arg)
{
    const struct bad *b = arg;

    setenv(b->var, b->value, 1);
    green_yield();
    printf("accepted\n");
}

Test(monitor, bad_diagnostic_settings_stop_the_program_with_the_fix)
{
    static const struct bad bads[] = {
        {"GREEN_STATS", "2"},           {"GREEN_STATS", "yes"},
        {"GREEN_DUMP_SIGNAL", "SEGV"},  {"GREEN_DUMP_SIGNAL", "KILL"},
        {"GREEN_DUMP_SIGNAL", "USR3"},  {"GREEN_DUMP_SIGNAL", "99"},
        {"GREEN_DUMP_SIGNAL", "-12"},   {"GREEN_DUMP_SIGNAL", ""},
        {"GREEN_BLOCK_WARN_MS", "-1"},
        {"GREEN_BLOCK_WARN_MS", "3600001"}, {"GREEN_BLOCK_WARN_MS", "10ms"},
    };

    for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
        char out[4096], want[128];
        int status = run_child(bad_setting_child, (void *)&bads[i], out, sizeof out);

        cr_assert_exited(status, 2, out);
        snprintf(want, sizeof want, "green: %s=\"%s\" is not valid: ", bads[i].var,
                 bads[i].value);
        cr_expect(strstr(out, want), "%s=%s: %s", bads[i].var, bads[i].value, out);
        cr_expect(!strstr(out, "accepted"), "%s", out);
    }
}

Test(monitor, good_diagnostic_settings_are_accepted)
{
    static const struct bad goods[] = {
        {"GREEN_STATS", "0"},           {"GREEN_DUMP_SIGNAL", "usr1"},
        {"GREEN_DUMP_SIGNAL", "12"},    {"GREEN_DUMP_SIGNAL", "0"},
        {"GREEN_BLOCK_WARN_MS", "0"},
        {"GREEN_BLOCK_WARN_MS", "3600000"},
    };

    for (size_t i = 0; i < sizeof goods / sizeof *goods; i++) {
        char out[4096];
        int status = run_child(bad_setting_child, (void *)&goods[i], out, sizeof out);

        cr_assert_exited(status, 0, out);
        cr_expect_str_eq(out, "accepted\n", "%s=%s", goods[i].var, goods[i].value);
    }
}
