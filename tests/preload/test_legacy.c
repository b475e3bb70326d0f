/*
 * test_legacy.c — the shim's promise, shown on programs that know nothing of libgreen
 * (tests/legacy): each runs as a child process, with LD_PRELOAD=$GREEN_LIB in its own
 * environment ("patched") and without it ("unpatched", the baseline the patched run must
 * match).  The suite checks what a user would see: the same bytes and order, the
 * threads of a patched program on ONE OS thread (/proc/PID/task), blocking sleeps that
 * overlap instead of adding up.
 *
 * Timing is only checked by generous bounds (ten half-second sleeps done in under 2.5 s,
 * three in a row taking over 1.4 s); every wait on a child or a client is bounded, so a
 * shim that blocks the OS thread fails a test with the child's output instead of hanging
 * the suite.
 */
#include "common.h"

TestSuite(legacy, .timeout = 45);

static const struct legacy_opts on = {.patched = 1}, off = {.patched = 0};

/* ----------------------------------------------------------------- sleepers */

/* Run sleepers N [sync], sample its OS threads while it runs, and check its output:
 * every "task i done" once, "started N tasks" (asynchronous mode) before any of them,
 * "all done" last.  Returns the largest number of OS threads seen; *secs gets the run's
 * wall time. */
static int run_sleepers(const struct legacy_opts *o, int n, int sync, double *secs)
{
    struct legacy p;
    char arg[16], *out;
    int most = 0;

    snprintf(arg, sizeof arg, "%d", n);
    legacy_start(&p, o, "sleepers", arg, sync ? "sync" : NULL, NULL);
    if (!sync) {
        char started[64];
        snprintf(started, sizeof started, "started %d tasks\n", n);
        if (!legacy_wait_for(&p, started, 5.0)) {
            out = legacy_out(&p);
            cr_assert_fail("%s: no \"%s\" within 5 s; output:\n%s", p.name, started, out);
        }
    }
    /* Sample until it exits: every thread exists from "started" to its "task i done". */
    for (double end = now_s() + 10.0; !legacy_reap(&p) && now_s() < end; sleep_s(0.01)) {
        int t = os_threads(p.pid);
        most = t > most ? t : most;
    }
    *secs = now_s() - p.start;
    out = legacy_out(&p);
    cr_assert(!p.pid, "%s did not finish within 10 s; output:\n%s", p.name, out);
    cr_assert_exited(p.status, 0, out);
    for (int i = 0; i < n; i++) {
        char line[32];
        snprintf(line, sizeof line, "task %d done", i);
        cr_assert_eq(count_lines(out, line), 1, "%s: \"%s\" not printed once; output:\n%s",
                     p.name, line, out);
    }
    if (!sync)
        cr_assert(strstr(out, "started") < strstr(out, "task "),
                  "%s: a task ended before all were started; output:\n%s", p.name, out);
    cr_assert(strlen(out) >= 9 && !strcmp(out + strlen(out) - 9, "all done\n"),
              "%s: \"all done\" is not the last line; output:\n%s", p.name, out);
    free(out);
    legacy_done(&p);
    return most;
}

Test(legacy, sleepers_patched_overlap_on_one_os_thread)
{
    double secs;
    int threads = run_sleepers(&on, 10, 0, &secs);

    cr_expect_eq(threads, 1, "patched sleepers ran on %d OS threads, want 1", threads);
    cr_expect_lt(secs, 2.5, "10 half-second sleeps took %.2f s patched: they did not overlap",
                 secs);
}

Test(legacy, sleepers_unpatched_overlap_on_os_threads)
{
    double secs;
    int threads = run_sleepers(&off, 10, 0, &secs);

    cr_expect_gt(threads, 1, "unpatched sleepers showed %d OS threads: the sampling sees "
                             "nothing", threads);
    cr_expect_lt(secs, 2.5, "10 half-second sleeps took %.2f s unpatched", secs);
}

Test(legacy, sleepers_sync_patched_run_one_after_another)
{
    double secs;
    int threads = run_sleepers(&on, 3, 1, &secs);

    cr_expect_eq(threads, 1, "patched sleepers ran on %d OS threads, want 1", threads);
    cr_expect_geq(secs, 1.4, "3 half-second sleeps in a row took only %.2f s", secs);
}

Test(legacy, sleepers_sync_unpatched_run_one_after_another)
{
    double secs;

    run_sleepers(&off, 3, 1, &secs);
    cr_expect_geq(secs, 1.4, "3 half-second sleeps in a row took only %.2f s", secs);
}

/* ----------------------------------------------------------------- eat_play */

static char *run_eat_play(const struct legacy_opts *o)
{
    struct legacy p;
    char *out;
    int ok;

    legacy_start(&p, o, "eat_play", NULL);
    ok = legacy_finish(&p, 10.0);
    out = legacy_out(&p);
    cr_assert(ok, "%s did not finish within 10 s; output:\n%s", p.name, out);
    cr_assert_exited(p.status, 0, out);
    legacy_done(&p);
    return out;
}

Test(legacy, eat_play_patched_prints_gevent_order)
{
    char *out = run_eat_play(&on);

    cr_expect_str_eq(out, "egon eat 1\n"
                          "egon play 1\n"
                          "egon play 2\n"
                          "egon eat 2\n"
                          "main: both done\n");
    free(out);
}

/* Unpatched, the two threads start at once on two OS threads, so "egon eat 1" and "egon
 * play 1" may come in either order; the sleeps order the rest. */
Test(legacy, eat_play_unpatched_prints_gevent_order_after_the_start)
{
    char *out = run_eat_play(&off);

    cr_expect(!strcmp(out, "egon eat 1\negon play 1\negon play 2\negon eat 2\nmain: both done\n") ||
                  !strcmp(out, "egon play 1\negon eat 1\negon play 2\negon eat 2\n"
                               "main: both done\n"),
              "unpatched eat_play printed:\n%s", out);
    free(out);
}

/* --------------------------------------------------------------- spin_alloc */

/* sched_yield from an OS thread that has no green state yet has no green thread to yield
 * to, and must not build that state then: it allocates, and a spin lock may be yielding
 * while it holds the allocator's lock (tcmalloc; LeakSanitizer's check at exit). */
static void run_spin_alloc(const struct legacy_opts *o)
{
    struct legacy p;
    char *out;
    int ok;

    legacy_start(&p, o, "spin_alloc", NULL);
    ok = legacy_finish(&p, 10.0);
    out = legacy_out(&p);
    cr_assert(ok, "%s did not finish within 10 s; output:\n%s", p.name, out);
    cr_assert_exited(p.status, 0, out);
    cr_expect_str_eq(out, "yielded with the allocator locked\n");
    legacy_done(&p);
    free(out);
}

Test(legacy, spin_alloc_patched_yields_without_allocating)
{
    run_spin_alloc(&on);
}

Test(legacy, spin_alloc_unpatched_yields_without_allocating)
{
    run_spin_alloc(&off);
}

/* ------------------------------------------------------------------ servers */

/* One server run: start prog on a free port, connect n clients at once, run rounds of
 * echo on all of them concurrently, check the server's OS threads while they are all
 * connected, and stop the server. */
struct serve_case {
    const char *prog;
    int patched;
    int n, rounds;
    int want_threads; /* OS threads while every client is connected and answered */
    double timeout_s; /* for all the rounds of all the clients */
};

static void check_threads(struct legacy *p, int want, const char *when)
{
    int t = os_threads(p->pid);

    /* Threads of a thread-per-connection server come and go a little after the clients:
     * allow a few seconds for an unpatched count to settle. */
    for (double end = now_s() + 5.0; t != want && want > 1 && now_s() < end; sleep_s(0.02))
        t = os_threads(p->pid);
    cr_expect_eq(t, want, "%s: %d OS threads %s, want %d", p->name, t, when, want);
}

static void serve_echo(const struct serve_case *sc)
{
    struct legacy_opts o = {.patched = sc->patched};
    struct clients cs;
    struct legacy p;
    int port, ok;

    raise_nofile();
    legacy_start(&p, &o, sc->prog, "0", NULL);
    port = legacy_port(&p, 5.0);
    ok = clients_open(&cs, port, sc->n, 10.0);
    cr_assert_eq(ok, sc->n, "%s: %d of %d clients connected: %s", p.name, ok, sc->n, cs.error);
    if (sc->want_threads == 1)
        check_threads(&p, 1, "with every client connected");
    ok = clients_echo(&cs, sc->rounds, sc->timeout_s);
    if (ok != sc->n) {
        int gone = legacy_reap(&p), threads = gone ? 0 : os_threads(p.pid);
        char *out = legacy_out(&p);
        size_t len = strlen(out);

        cr_assert_fail("%s: %d of %d clients answered correctly over %d rounds: %s\n"
                       "server: %s, %d OS threads; output (last 2000 bytes):\n%s",
                       p.name, ok, sc->n, sc->rounds, cs.error, gone ? "exited" : "running",
                       threads, len > 2000 ? out + len - 2000 : out);
    }
    if (sc->want_threads > 0)
        check_threads(&p, sc->want_threads, "with every client connected and answered");
    cr_expect(!legacy_reap(&p), "%s exited while serving", p.name);
    clients_close(&cs);
    legacy_done(&p);
}

/* prog patched and unpatched, n clients, 3 rounds each; the OS threads it must show with
 * every client connected: threads_patched (always 1) and threads_unpatched (n + 1 for a
 * thread per connection, 1 for an event loop). */
#define SERVE_TEST(prog, n, threads_patched, threads_unpatched)                             \
    Test(legacy, prog##_patched_echoes_concurrent_clients)                                  \
    {                                                                                       \
        serve_echo(&(struct serve_case){#prog, 1, n, 3, threads_patched, 10.0});           \
    }                                                                                       \
    Test(legacy, prog##_unpatched_echoes_concurrent_clients)                                \
    {                                                                                       \
        serve_echo(&(struct serve_case){#prog, 0, n, 3, threads_unpatched, 10.0});         \
    }

SERVE_TEST(stdio_server, 50, 1, 51)
SERVE_TEST(poll_server, 50, 1, 1)
SERVE_TEST(select_server, 50, 1, 1)
SERVE_TEST(epoll_server, 50, 1, 1)

/* The headline: a thread-per-connection server holds 1,000 clients at once. */
Test(legacy, legacy_server_patched_answers_1000_clients_on_one_os_thread)
{
    serve_echo(&(struct serve_case){"legacy_server", 1, 1000, 2, 1, 20.0});
}

Test(legacy, legacy_server_unpatched_answers_1000_clients_on_1000_os_threads)
{
    serve_echo(&(struct serve_case){"legacy_server", 0, 1000, 2, 1001, 20.0});
}

/* fork_server: a child process per client while they are connected, every child reaped
 * once they leave (no zombies), and SIGTERM ends the loop with the tally. */
static void fork_server_case(int patched, int n)
{
    struct legacy_opts o = {.patched = patched};
    struct clients cs;
    struct legacy p;
    int port, ok, kids = -1, zombies = -1;
    char want[64], *out;

    legacy_start(&p, &o, "fork_server", "0", NULL);
    port = legacy_port(&p, 5.0);
    ok = clients_open(&cs, port, n, 10.0);
    cr_assert_eq(ok, n, "%s: %d of %d clients connected: %s", p.name, ok, n, cs.error);
    ok = clients_echo(&cs, 3, 10.0);
    if (ok != n) {
        out = legacy_out(&p);
        cr_assert_fail("%s: %d of %d clients answered correctly: %s\noutput:\n%s", p.name, ok, n,
                cs.error, out);
    }
    kids = child_processes(p.pid, &zombies);
    cr_expect_eq(kids, n, "%s: %d child processes with %d clients connected", p.name, kids, n);
    cr_expect_eq(os_threads(p.pid), 1, "%s: more than one OS thread", p.name);
    clients_close(&cs);
    for (double end = now_s() + 5.0; now_s() < end; sleep_s(0.02))
        if ((kids = child_processes(p.pid, &zombies)) == 0)
            break;
    cr_expect_eq(kids, 0, "%s: %d child processes (%d zombies) 5 s after the clients left",
                 p.name, kids, zombies);
    kill(p.pid, SIGTERM);
    legacy_wait(&p, 5.0);
    out = legacy_out(&p);
    cr_assert(!p.pid, "%s did not stop within 5 s of SIGTERM (accept not interrupted?); "
                      "output:\n%s", p.name, out);
    cr_expect_exited(p.status, 0, out);
    snprintf(want, sizeof want, "accepted %d, reaped %d\n", n, n);
    cr_expect(strstr(out, want), "%s: want \"%s\" in the output:\n%s", p.name, want, out);
    free(out);
    legacy_done(&p);
}

Test(legacy, fork_server_patched_echoes_and_reaps_children)
{
    fork_server_case(1, 50);
}

Test(legacy, fork_server_unpatched_echoes_and_reaps_children)
{
    fork_server_case(0, 50);
}

/* ------------------------------------------------------------ legacy_client */

static void client_with_server(int patched)
{
    struct legacy_opts so = {.patched = patched};
    struct legacy_opts co = {.patched = patched,
                             .input = "hello\nworld, again\n\nthe last line\n"};
    struct legacy server, client;
    char port[16], *out;
    int ok;

    legacy_start(&server, &so, "legacy_server", "0", NULL);
    snprintf(port, sizeof port, "%d", legacy_port(&server, 5.0));
    legacy_start(&client, &co, "legacy_client", port, NULL);
    ok = legacy_finish(&client, 10.0);
    out = legacy_out(&client);
    cr_assert(ok, "%s did not finish within 10 s; output:\n%s", client.name, out);
    cr_expect_exited(client.status, 0, out);
    cr_expect_str_eq(out, "HELLO\nWORLD, AGAIN\n\nTHE LAST LINE\n");
    free(out);
    legacy_done(&client);
    out = legacy_out(&server);
    cr_expect_eq(count_lines(out, "received 6 bytes"), 1, "server output:\n%s", out);
    free(out);
    legacy_done(&server);
}

Test(legacy, legacy_client_patched_gets_lines_back_upper_cased)
{
    client_with_server(1);
}

Test(legacy, legacy_client_unpatched_gets_lines_back_upper_cased)
{
    client_with_server(0);
}
