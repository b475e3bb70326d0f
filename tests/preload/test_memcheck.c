/*
 * test_memcheck.c — legacy programs patched with libgreen.so run under valgrind's memcheck
 * (issue 5): every error memcheck reports fails the test, with the log.
 *
 * valgrind is the child started with LD_PRELOAD=$GREEN_LIB (common.h's child_startv); it
 * hands LD_PRELOAD on to the program it runs, after its own preload.  The runtime
 * registers every green stack with valgrind (runtime/stack.c), so memcheck follows the
 * switches between them.  Leaks count as errors when they are definite; memory still
 * reachable at exit (the runtime's per-thread state, stacks kept for reuse) is not.  Each
 * log goes to a fresh directory and must end with "ERROR SUMMARY: 0 errors"; no error is
 * suppressed.
 *
 * memcheck runs a program 20-50 times slower, so the programs are small: eat_play (two
 * threads that sleep, joined by main), wait_child (waitpid while a thread ticks), and
 * legacy_server (a thread per connection) serving 20 clients of this test for 3 rounds
 * and one legacy_client, itself patched and under memcheck, then stopped with SIGTERM.
 */
#include "common.h"

#define VALGRIND "/usr/bin/valgrind"

TestSuite(memcheck, .timeout = 60);

static const struct legacy_opts patched = {.patched = 1};

/* Start $GREEN_LEGACY_DIR/prog under memcheck, logging to dir/log, with args after prog
 * (NULL-terminated).  input: the program's stdin, or NULL. */
static __attribute__((sentinel)) void memcheck_start(struct legacy *p, const char *input,
                                                     const char *dir, const char *log,
                                                     const char *prog, ...)
{
    struct legacy_opts o = patched;
    char logopt[4200], path[4096], *argv[32];
    int argc = 0;
    va_list ap;

    cr_assert(access(VALGRIND, X_OK) == 0,
              VALGRIND " is missing: scripts/deps.sh installs Debian's valgrind");
    o.input = input;
    snprintf(logopt, sizeof logopt, "--log-file=%s/%s", dir, log);
    snprintf(path, sizeof path, "%s/%s", legacy_dir(), prog);
    argv[argc++] = "valgrind";
    argv[argc++] = "--leak-check=full";
    argv[argc++] = "--show-leak-kinds=definite";
    argv[argc++] = "--errors-for-leak-kinds=definite";
    argv[argc++] = "--error-exitcode=99";
    argv[argc++] = logopt;
    argv[argc++] = path;
    va_start(ap, prog);
    while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
        argc++;
    va_end(ap);
    argv[argc] = NULL;
    child_startv(p, &o, prog, VALGRIND, argv);
}

/* The log dir/log must say memcheck found no error. */
static void expect_clean_log(const char *dir, const char *log, const char *who)
{
    char path[4200];
    size_t len = 0;
    char *s;

    snprintf(path, sizeof path, "%s/%s", dir, log);
    s = file_get(path, &len);
    cr_assert_not_null(s, "%s: no memcheck log at %s", who, path);
    cr_expect(strstr(s, "ERROR SUMMARY: 0 errors"), "%s: memcheck reports errors:\n%s", who,
              len > 6000 ? s + len - 6000 : s);
    free(s);
}

/* Run prog patched under memcheck to its end; it must print want and exit 0. */
static void memcheck_run(const char *prog, const char *want)
{
    char dir[64], log[80];
    struct legacy p;
    char *out;
    int ok;

    tmpdir_make(dir, sizeof dir, "memcheck");
    snprintf(log, sizeof log, "%s.log", prog);
    memcheck_start(&p, NULL, dir, log, prog, NULL);
    ok = legacy_finish(&p, 40.0);
    out = legacy_out(&p);
    cr_assert(ok, "%s under memcheck did not finish within 40 s; output:\n%s", prog, out);
    expect_clean_log(dir, log, prog);
    cr_expect_exited(p.status, 0, out);
    cr_expect_str_eq(out, want);
    free(out);
    legacy_done(&p);
    tmpdir_remove(dir);
}

Test(memcheck, eat_play_patched_has_no_error)
{
    memcheck_run("eat_play", "egon eat 1\negon play 1\negon play 2\negon eat 2\nmain: both done\n");
}

/* valgrind 3.19 does not implement pidfd_open, so waitpid has to do without (as on Linux
 * before 5.3). */
Test(memcheck, wait_child_patched_has_no_error)
{
    memcheck_run("wait_child", "child exited 7\nthe ticker ran meanwhile: yes\n");
}

Test(memcheck, legacy_server_and_client_patched_have_no_error)
{
    char dir[64], port[16];
    struct legacy server, client;
    struct clients cs;
    char *out;
    int ok;

    raise_nofile();
    tmpdir_make(dir, sizeof dir, "memcheck");
    memcheck_start(&server, NULL, dir, "server.log", "legacy_server", "0", NULL);
    snprintf(port, sizeof port, "%d", legacy_port(&server, 30.0));

    ok = clients_open(&cs, atoi(port), 20, 20.0);
    cr_assert_eq(ok, 20, "%d of 20 clients connected: %s", ok, cs.error);
    ok = clients_echo(&cs, 3, 20.0);
    cr_assert_eq(ok, 20, "%d of 20 clients answered over 3 rounds: %s", ok, cs.error);
    /* Proof that libgreen runs inside valgrind: unpatched, there would be 21 threads. */
    cr_expect_eq(os_threads(server.pid), 1, "legacy_server under memcheck has %d OS threads "
                 "with 20 clients connected", os_threads(server.pid));

    memcheck_start(&client, "hello\nworld, again\n", dir, "client.log", "legacy_client", port,
                   NULL);
    ok = legacy_finish(&client, 30.0);
    out = legacy_out(&client);
    cr_assert(ok, "legacy_client under memcheck did not finish within 30 s; output:\n%s", out);
    expect_clean_log(dir, "client.log", "legacy_client");
    cr_expect_exited(client.status, 0, out);
    cr_expect_str_eq(out, "HELLO\nWORLD, AGAIN\n");
    free(out);
    legacy_done(&client);
    clients_close(&cs);

    /* SIGTERM ends the server by its default action; memcheck still checks for leaks and
     * writes its summary before the process goes. */
    cr_assert(!legacy_reap(&server), "legacy_server exited while serving");
    kill(server.pid, SIGTERM);
    ok = legacy_wait(&server, 20.0);
    out = legacy_out(&server);
    cr_assert(ok, "legacy_server under memcheck did not stop within 20 s of SIGTERM");
    expect_clean_log(dir, "server.log", "legacy_server");
    cr_expect(WIFSIGNALED(server.status) && WTERMSIG(server.status) == SIGTERM,
              "legacy_server: wait status %#x; output:\n%s", server.status, out);
    free(out);
    legacy_done(&server);
    tmpdir_remove(dir);
}
