/*
 * test_diag.c — what a patched program's owner sees when diagnosing it (issue 5): the
 * GREEN_STATS report at exit, the dump on GREEN_DUMP_SIGNAL, the blocking monitor
 * (GREEN_BLOCK_WARN_MS), and the runtime's deadlock and stack overflow reports reached
 * through the shim, each on an unmodified legacy program (tests/legacy/stuck, parked,
 * sleepers).  Every check also runs the program unpatched where that ends, to show the
 * diagnostics add lines on stderr and change nothing else the program does.
 */
#include <libgen.h>

#include "common.h"

TestSuite(diag, .timeout = 60);

/* Run prog patched with the settings in env (NULL-terminated), to its end; returns its
 * stderr (malloc'd) and leaves stdout in *out. */
static char *run_patched(struct legacy *p, const char *const *env, char **out, double limit,
                         const char *prog, char *const argv[])
{
    struct legacy_opts o = {.patched = 1, .env = env};
    struct stat st;
    char *err;

    legacy_startv(p, &o, prog, argv);
    cr_assert(legacy_finish(p, limit), "%s did not end within %.0f s", prog, limit);
    fstat(p->err, &st);
    err = malloc((size_t)st.st_size + 1);
    cr_assert_not_null(err);
    legacy_read(p->err, err, (size_t)st.st_size + 1);
    *out = legacy_stdout(p);
    return err;
}

/* The same program unpatched, to its end: its stdout (malloc'd). */
static char *run_plain(struct legacy *p, double limit, const char *prog, char *const argv[])
{
    struct legacy_opts o = {.patched = 0};
    char *out;

    legacy_startv(p, &o, prog, argv);
    cr_assert(legacy_finish(p, limit), "%s unpatched did not end within %.0f s", prog, limit);
    out = legacy_stdout(p);
    legacy_done(p);
    return out;
}

#define has(err, text) cr_expect(strstr(err, text), "no \"%s\" in:\n%s", text, err)

Test(diag, stats_report_at_exit_counts_threads_waits_and_the_longest_run)
{
    const char *env[] = {"GREEN_STATS=1", NULL};
    char *argv[] = {"sleepers", "10", NULL}, *out, *err, *plain, *quiet;
    struct legacy p, q;

    err = run_patched(&p, env, &out, 20, "sleepers", argv);
    cr_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "%s", err);
    /* Unpatched, real threads finish in any order: compare with a patched run without. */
    quiet = run_patched(&q, (const char *const[]){NULL}, &plain, 20, "sleepers", argv);
    cr_expect_str_eq(out, plain, "GREEN_STATS changed the program's output");
    cr_expect_str_eq(quiet, "", "stderr without GREEN_STATS: %s", quiet);
    free(quiet);
    legacy_done(&q);
    has(err, "green: stats for pid ");
    has(err, "green threads: 10 created, 11 alive at most (main included); 1 OS thread");
    has(err, "context switches: ");
    has(err, "waits by family: ");
    has(err, " time 10 (");  /* the ten sleeps, under the time family */
    has(err, "waits by kind: sleep 10 (");
    has(err, "blocked in the hub with nothing to run");
    has(err, "pool: ");
    has(err, "longest run without yielding: ");
    has(err, "(libgreen.so)");
    free(out), free(err), free(plain);
    legacy_done(&p);
}

Test(diag, stats_name_the_thread_that_ran_longest_and_where)
{
    const char *env[] = {"GREEN_STATS=1", NULL};
    char *argv[] = {"stuck", "hog", "300", NULL}, *out, *err, *l;
    struct legacy p;
    double ms;

    err = run_patched(&p, env, &out, 20, "stuck", argv);
    cr_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "%s", err);
    cr_expect_str_eq(out, "done\n");
    l = strstr(err, "longest run without yielding: ");
    cr_assert(l, "%s", err);
    ms = strtod(l + strlen("longest run without yielding: "), NULL);
    cr_expect(ms >= 290 && ms < 5000, "longest run %.3f ms, the hog computes 300:\n%s", ms, err);
    has(l, "green thread #3 \"hog\"");
    free(out), free(err);
    legacy_done(&p);
}

/* The dump names every parked thread with its wait and a backtrace down to its own start
 * routine; on GREEN_DUMP_SIGNAL=USR1 the program's own SIGUSR1 handler (which releases the
 * threads) still runs after the dump, so the program ends as it would unpatched. */
Test(diag, dump_shows_each_thread_its_wait_and_backtrace_then_the_program_goes_on)
{
    const char *env[] = {"GREEN_DUMP_SIGNAL=USR1", NULL};
    struct legacy_opts o = {.patched = 1, .env = env};
    char *argv[] = {"parked", NULL}, *out, *plain, line[256], err[65536];
    struct legacy p, q;
    int fd;
    void *mutex, *cond;

    legacy_startv(&p, &o, "parked", argv);
    cr_assert(legacy_wait_for(&p, "ready: ", 10), "parked never got ready");
    out = legacy_stdout(&p);
    cr_assert_eq(sscanf(strstr(out, "ready: "), "ready: pipe fd %d, mutex %p, condvar %p", &fd,
                        &mutex, &cond), 3, "%s", out);
    free(out);
    kill(p.pid, SIGUSR1);
    cr_assert(legacy_finish(&p, 20), "parked did not end after SIGUSR1");
    legacy_read(p.err, err, sizeof err);
    cr_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "%s", err);
    has(err, "the program installs its own handler for SIGUSR1, which GREEN_DUMP_SIGNAL uses");
    has(err, "green: dump on SIGUSR1: the green threads of OS thread ");
    has(err, "#1 \"main\" waiting on join of #");
    has(err, "\"napper\" waiting on sleep, deadline "); /* in N s, or passed N s ago */
    snprintf(line, sizeof line, "\"reader\" waiting on fd %d for read", fd);
    has(err, line);
    snprintf(line, sizeof line, "\"locker\" waiting on mutex %p", mutex);
    has(err, line);
    snprintf(line, sizeof line, "\"waiter\" waiting on condvar %p", cond);
    has(err, line);
    has(err, "\"joiner\" waiting on join of #3 \"reader\"");
    has(err, "\"reaper\" waiting on ");
    for (const char *const *fn = (const char *const[]){"napper_main+", "reader_main+",
                                                        "locker_main+", "waiter_main+",
                                                        "joiner_main+", "reaper_main+", NULL};
         *fn; fn++)
        has(err, *fn);
    has(err, "(parked)");
    out = legacy_stdout(&p);
    legacy_start(&q, &(struct legacy_opts){.patched = 0}, "parked", NULL);
    cr_assert(legacy_wait_for(&q, "ready: ", 10));
    kill(q.pid, SIGUSR1);
    cr_assert(legacy_finish(&q, 20));
    plain = legacy_stdout(&q);
    /* The ready line holds addresses; everything after it must match. */
    cr_expect_str_eq(strchr(strstr(out, "ready: "), '\n'), strchr(strstr(plain, "ready: "), '\n'));
    free(out), free(plain);
    legacy_done(&p), legacy_done(&q);
}

Test(diag, block_monitor_reports_a_thread_that_computes_with_its_backtrace)
{
    const char *env[] = {"GREEN_BLOCK_WARN_MS=100", NULL};
    char *argv[] = {"stuck", "hog", "400", NULL}, *out, *err, *plain;
    struct legacy p, q;

    err = run_patched(&p, env, &out, 20, "stuck", argv);
    cr_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "%s", err);
    plain = run_plain(&q, 20, "stuck", argv);
    cr_expect_str_eq(out, plain);
    has(err, "green thread #3 \"hog\" has run ");
    has(err, " ms without yielding on OS thread ");
    has(err, "(GREEN_BLOCK_WARN_MS=100). It is at:");
    has(err, "hog+");
    has(err, "(stuck)");
    has(err, "green thread #3 \"hog\" switched away after running at least ");
    cr_expect(!strstr(err, "\"stepper\" has run"), "the sleeping thread was reported:\n%s", err);
    free(out), free(err), free(plain);
    legacy_done(&p);
}

Test(diag, block_monitor_names_a_system_call_that_blocks_the_os_thread)
{
    const char *env[] = {"GREEN_BLOCK_WARN_MS=100", NULL};
    char *argv[] = {"stuck", "syscall", "400", NULL}, *out, *err;
    struct legacy p;

    err = run_patched(&p, env, &out, 20, "stuck", argv);
    cr_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "%s", err);
    cr_expect_str_eq(out, "done\n");
    has(err, "green thread #3 \"raw_sleep\" has blocked OS thread ");
#ifdef __x86_64__
    has(err, "in system call 35 (nanosleep), which libgreen does not turn into a wait");
#endif
    free(out), free(err);
    legacy_done(&p);
}

/* Threads that only sleep and switch are never reported, however small the limit. */
Test(diag, block_monitor_stays_quiet_for_threads_that_yield)
{
    const char *env[] = {"GREEN_BLOCK_WARN_MS=20", NULL};
    char *argv[] = {"eat_play", NULL}, *out, *err;
    struct legacy p;

    err = run_patched(&p, env, &out, 20, "eat_play", argv);
    cr_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "%s", err);
    cr_expect(!strstr(err, "without yielding"), "%s", err);
    free(out), free(err);
    legacy_done(&p);
}

/* Unpatched, two threads that take two mutexes in opposite orders hang for good; patched,
 * the runtime says which threads wait on what, with their backtraces. */
Test(diag, deadlock_report_reaches_the_program_owner_through_the_shim)
{
    char *argv[] = {"stuck", "deadlock", NULL}, *out, *err;
    struct legacy p, q;

    legacy_start(&q, &(struct legacy_opts){.patched = 0}, "stuck", "deadlock", NULL);
    cr_expect(!legacy_wait(&q, 1.0), "unpatched, the deadlock ended by itself");
    legacy_done(&q);
    err = run_patched(&p, (const char *const[]){NULL}, &out, 20, "stuck", argv);
    has(err, "green: deadlock: every green thread is waiting and nothing can wake any of "
             "them; failing the wait with EDEADLK");
    has(err, "\"first\" waiting on mutex 0x");
    has(err, "\"second\" waiting on mutex 0x");
    has(err, "#1 \"main\" waiting on join of #2 \"first\"");
    has(err, "first+");
    has(err, "second+");
    free(out), free(err);
    legacy_done(&p);
}

/* A pthread with a 64 KiB stack recursing without end: the process dies of SIGSEGV, as it
 * does unpatched, after a report naming the thread, its stack size and what to raise. */
Test(diag, stack_overflow_report_reaches_the_program_owner_through_the_shim)
{
    char *argv[] = {"stuck", "overflow", NULL}, *out, *err;
    struct legacy p, q;

    legacy_start(&q, &(struct legacy_opts){.patched = 0}, "stuck", "overflow", NULL);
    cr_assert(legacy_finish(&q, 20));
    cr_expect(WIFSIGNALED(q.status) && WTERMSIG(q.status) == SIGSEGV);
    legacy_done(&q);
    err = run_patched(&p, (const char *const[]){NULL}, &out, 20, "stuck", argv);
    cr_expect(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGSEGV, "%s", err);
    cr_expect_str_eq(out, "");
    has(err, "green: stack overflow in green thread #2");
    has(err, "it used up its 64 KiB stack");
    has(err, "pthread_attr_setstacksize");
    free(out), free(err);
    legacy_done(&p);
}

/* greenrun's options reach the library: --stats gives the report. */
Test(diag, greenrun_stats_option_gives_the_report)
{
    char greenrun[4096], sleepers[4096], *dir = strdup(legacy_lib()), *argv[6], *out, *err;
    struct legacy p;
    struct stat st;

    snprintf(greenrun, sizeof greenrun, "%s/greenrun", dirname(dir));
    snprintf(sleepers, sizeof sleepers, "%s/sleepers", legacy_dir());
    free(dir);
    argv[0] = greenrun, argv[1] = "--stats", argv[2] = "--", argv[3] = sleepers;
    argv[4] = "3", argv[5] = NULL;
    child_startv(&p, &(struct legacy_opts){.patched = 0}, "greenrun", greenrun, argv);
    cr_assert(legacy_finish(&p, 20));
    fstat(p.err, &st);
    err = malloc((size_t)st.st_size + 1);
    legacy_read(p.err, err, (size_t)st.st_size + 1);
    out = legacy_stdout(&p);
    cr_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "%s%s", out, err);
    has(err, "green threads: 3 created");
    free(out), free(err);
    legacy_done(&p);
}
