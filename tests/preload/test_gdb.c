/*
 * test_gdb.c — the gdb extension (gdb/libgreen-gdb.py) on a live patched program: gdb
 * attaches to tests/legacy/parked while its six threads wait on six different things,
 * `info green-threads` must name each thread and its wait as the runtime knows it, `green
 * bt all` must reach each thread's own start routine from its saved context, and after gdb
 * detaches the program must go on exactly as if nobody had looked (the extension loads a
 * parked thread's registers into the OS thread for each bt and must put them back).
 *
 * The script is $GREEN_GDB_SCRIPT (mk/gdb.mk exports the one in the source tree) and the
 * library $GREEN_LIB, the build's libgreen.so.  gdb runs in batch mode under `timeout 60`,
 * with -nx (no ~/.gdbinit) and debuginfod off, so it never waits on the network.  Attaching
 * needs ptrace rights over a process that is not gdb's child: root, or Yama's ptrace_scope
 * 0; without them the tests skip and say why.
 */
#include "common.h"

TestSuite(gdb, .timeout = 150);

static const char *gdb_script(void)
{
    const char *s = getenv("GREEN_GDB_SCRIPT");

    cr_assert(s && *s, "GREEN_GDB_SCRIPT is not set (run through `make test-preload`)");
    cr_assert(access(s, R_OK) == 0, "GREEN_GDB_SCRIPT=%s is not readable", s);
    return s;
}

/* The full path of prog found on PATH, in buf; fails the test if there is none. */
static const char *on_path(const char *prog, char *buf, size_t len)
{
    const char *path = getenv("PATH");
    char dirs[4096], *save = NULL;

    snprintf(dirs, sizeof dirs, "%s", path ? path : "/usr/bin:/bin");
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, len, "%s/%s", d, prog);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    cr_assert_fail("%s not found on PATH (scripts/deps.sh installs it)", prog);
    return NULL;
}

static void need_ptrace(void)
{
    char *scope = file_get("/proc/sys/kernel/yama/ptrace_scope", NULL);
    int level = scope ? atoi(scope) : 0;

    free(scope);
    if (geteuid() != 0 && level > 0)
        cr_skip_test("gdb cannot attach: not root and kernel.yama.ptrace_scope = %d", level);
}

/* Run gdb with the extension and the given commands (NULL-terminated), attached to pid,
 * or, with pid 0, on the patched legacy program prog (gdb starts it when a command says
 * `run`); returns everything gdb printed (malloc'd), after checking it ended by itself. */
static char *gdb_run(pid_t pid, const char *prog, ...)
{
    char timeout_bin[4096], gdb_bin[4096], pidarg[16], env[4200], path[4096], *argv[48];
    struct legacy_opts plain = {.patched = 0};
    struct legacy g;
    int argc = 0;
    const char *cmd;
    va_list ap;
    char *out;

    on_path("gdb", gdb_bin, sizeof gdb_bin);
    argv[argc++] = "timeout";
    argv[argc++] = "60";
    argv[argc++] = gdb_bin;
    argv[argc++] = "-nx";
    argv[argc++] = "-batch";
    argv[argc++] = "-iex";
    argv[argc++] = "set debuginfod enabled off";
    argv[argc++] = "-x";
    argv[argc++] = (char *)gdb_script();
    if (pid) {
        snprintf(pidarg, sizeof pidarg, "%d", (int)pid);
        argv[argc++] = "-p";
        argv[argc++] = pidarg;
    } else {
        /* Without a shell in between, only the program itself is patched. */
        snprintf(env, sizeof env, "set environment LD_PRELOAD=%s", legacy_lib());
        snprintf(path, sizeof path, "%s/%s", legacy_dir(), prog);
        argv[argc++] = "-ex";
        argv[argc++] = "set startup-with-shell off";
        argv[argc++] = "-ex";
        argv[argc++] = env;
    }
    va_start(ap, prog);
    while (argc < 43 && (cmd = va_arg(ap, const char *))) {
        argv[argc++] = "-ex";
        argv[argc++] = (char *)cmd;
    }
    va_end(ap);
    if (!pid)
        argv[argc++] = path;
    argv[argc] = NULL;
    child_startv(&g, &plain, "gdb", on_path("timeout", timeout_bin, sizeof timeout_bin),
                 argv);
    cr_assert(legacy_finish(&g, 90.0), "gdb did not end within 90 s");
    out = legacy_out(&g);
    cr_assert(WIFEXITED(g.status) && WEXITSTATUS(g.status) != 124,
              "gdb timed out or died; output:\n%s", out);
    legacy_done(&g);
    return out;
}

/* The line of out that contains both a and b, copied into buf; NULL if there is none. */
static const char *line_with(const char *out, const char *a, const char *b, char *buf,
                             size_t len)
{
    for (const char *p = out; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        snprintf(buf, len, "%.*s", (int)n, p);
        if (strstr(buf, a) && strstr(buf, b))
            return buf;
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The backtrace `green bt` printed for the thread called name: from its header line to
 * the next header (malloc'd); fails the test if there is none. */
static char *bt_of(const char *out, const char *name)
{
    char head[64];
    const char *s, *e;

    snprintf(head, sizeof head, "\"%s\" (", name);
    for (s = strstr(out, "\ngreen thread "); s; s = strstr(s + 1, "\ngreen thread ")) {
        const char *eol = strchr(s + 1, '\n');
        const char *h = strstr(s, head);
        if (h && eol && h < eol)
            break;
    }
    cr_assert_not_null(s, "no green bt section for \"%s\"; gdb said:\n%s", name, out);
    e = strstr(s + 1, "\ngreen thread ");
    return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

/* Does the "#0 " line of a backtrace name func? */
static int first_frame_in(const char *bt, const char *func)
{
    const char *f = strstr(bt, "\n#0 "), *eol = f ? strchr(f + 1, '\n') : NULL;
    const char *name = f ? strstr(f, func) : NULL;

    return name && (!eol || name < eol);
}

/* Start parked patched and wait for its "ready" line; *fd, mutex and cond get what it
 * reported. */
static void start_parked(struct legacy *p, int *fd, char *mutex, char *cond)
{
    static const struct legacy_opts on = {.patched = 1};
    char *out, *r;

    legacy_start(p, &on, "parked", NULL);
    if (!legacy_wait_for(p, "ready:", 10.0)) {
        out = legacy_out(p);
        cr_assert_fail("%s: no \"ready\" within 10 s; output:\n%s", p->name, out);
    }
    out = legacy_stdout(p);
    r = strstr(out, "ready:");
    cr_assert_eq(sscanf(r, "ready: pipe fd %d, mutex %31[0-9a-fx], condvar %31[0-9a-fx]", fd,
                        mutex, cond), 3, "bad ready line: %s", r);
    free(out);
}

Test(gdb, lists_every_green_thread_and_its_wait_then_detaches_cleanly)
{
    char mutex[32], cond[32], want[96], line[512], *out, *all;
    struct legacy p;
    int fd;

    need_ptrace();
    start_parked(&p, &fd, mutex, cond);
    out = gdb_run(p.pid, NULL, "info green-threads", "green bt all", NULL);
    cr_assert(!strstr(out, "Traceback") && !strstr(out, "Python Exception") &&
                  !strstr(out, "libgreen:"),
              "the extension failed; gdb said:\n%s", out);

    cr_assert_not_null(line_with(out, "* hub", "running", line, sizeof line),
                       "the hub is not shown as the running one; gdb said:\n%s", out);
    cr_assert_not_null(line_with(out, "#1 ", "\"main\"", line, sizeof line),
                       "no line for main; gdb said:\n%s", out);
    cr_assert(strstr(line, "waiting  join of #") && strstr(line, "\"joiner\""),
              "main should wait to join the joiner: %s", line);
    cr_assert_not_null(line_with(out, "\"napper\"", "waiting  sleep, deadline ", line,
                                 sizeof line), "napper is not asleep; gdb said:\n%s", out);
    snprintf(want, sizeof want, "waiting  fd %d for read", fd);
    cr_assert_not_null(line_with(out, "\"reader\"", want, line, sizeof line),
                       "reader does not wait on \"%s\"; gdb said:\n%s", want, out);
    snprintf(want, sizeof want, "waiting  mutex %s", mutex);
    cr_assert_not_null(line_with(out, "\"locker\"", want, line, sizeof line),
                       "locker does not wait on \"%s\"; gdb said:\n%s", want, out);
    snprintf(want, sizeof want, "waiting  condvar %s", cond);
    cr_assert_not_null(line_with(out, "\"waiter\"", want, line, sizeof line),
                       "waiter does not wait on \"%s\"; gdb said:\n%s", want, out);
    cr_assert_not_null(line_with(out, "\"joiner\"", "\"reader\"", line, sizeof line),
                       "joiner does not wait to join the reader; gdb said:\n%s", out);
    cr_assert(strstr(line, "waiting  join of #"), "joiner: %s", line);
    cr_assert_not_null(line_with(out, "\"reaper\"", "waiting  a child", line, sizeof line),
                       "reaper does not wait for its child; gdb said:\n%s", out);

    /* Each parked thread's backtrace runs from the switch to its own start routine. */
    static const char *const frames[][3] = {
        {"main", "in main ()", "green_timedjoin"},
        {"napper", "in napper_main", "in usleep"},
        {"reader", "in reader_main", "in read ("},
        {"locker", "in locker_main", "in pthread_mutex_lock"},
        {"waiter", "in waiter_main", "green_cond_wait"},
        {"joiner", "in joiner_main", "green_timedjoin"},
        {"reaper", "in reaper_main", "in waitpid"},
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        char *bt = bt_of(out, frames[i][0]);
        cr_assert(first_frame_in(bt, "green__ctx_switch") && strstr(bt, frames[i][1]) &&
                      strstr(bt, frames[i][2]),
                  "backtrace of %s lacks green__ctx_switch, %s or %s:\n%s", frames[i][0],
                  frames[i][1], frames[i][2], bt);
        free(bt);
    }
    char *hub = bt_of(out, "hub");
    cr_assert(strstr(hub, "green__hub_main") && strstr(hub, "epoll_wait"),
              "the hub's backtrace is not its OS thread's own (in the loop):\n%s", hub);
    free(hub);
    free(out);

    /* gdb has detached: the program must still run, and finish normally once released. */
    cr_assert(!legacy_reap(&p), "parked died under gdb; output:\n%s", legacy_out(&p));
    kill(p.pid, SIGUSR1);
    cr_assert(legacy_finish(&p, 20.0), "parked did not finish within 20 s after SIGUSR1");
    all = legacy_out(&p);
    cr_assert_exited(p.status, 0, all);
    static const char *const lines[] = {
        "napper woke after naps", "reader read 1 byte 'x'", "locker got the mutex",
        "waiter was signalled", "joiner joined the reader", "reaper's child was terminated",
        "all done"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_assert_eq(count_lines(all, lines[i]), 1, "\"%s\" not printed once; output:\n%s",
                     lines[i], all);
    free(all);
    legacy_done(&p);
}

Test(gdb, bt_of_one_thread_and_a_missing_one)
{
    char mutex[32], cond[32], *out, *bt;
    struct legacy p;
    int fd;

    need_ptrace();
    start_parked(&p, &fd, mutex, cond);
    out = gdb_run(p.pid, NULL, "green bt 3 full", "green bt 999", "info registers rip", NULL);
    bt = bt_of(out, "reader");
    cr_assert(strstr(bt, "in reader_main") && strstr(bt, "No locals."),
              "green bt 3 full: no full backtrace of the reader:\n%s", out);
    free(bt);
    cr_assert(strstr(out, "libgreen: no green thread #999 (see info green-threads)"),
              "no clear error for a missing thread; gdb said:\n%s", out);
    cr_assert(strstr(out, "<epoll_wait+"), "rip not restored after green bt; gdb said:\n%s",
              out);
    free(out);
    kill(p.pid, SIGUSR1);
    cr_assert(legacy_finish(&p, 20.0), "parked did not finish within 20 s after SIGUSR1");
    out = legacy_out(&p);
    cr_assert_exited(p.status, 0, out);
    free(out);
    legacy_done(&p);
}

Test(gdb, says_clearly_when_the_program_has_no_libgreen)
{
    static const struct legacy_opts off = {.patched = 0};
    struct legacy p;
    char *out;

    need_ptrace();
    legacy_start(&p, &off, "parked", NULL);
    cr_assert(legacy_wait_for(&p, "ready:", 10.0), "unpatched parked never got ready");
    out = gdb_run(p.pid, NULL, "info green-threads", NULL);
    cr_assert(strstr(out, "libgreen: no 'struct green_thread' in the debug info"),
              "no clear message without libgreen; gdb said:\n%s", out);
    cr_assert(!strstr(out, "Traceback") && !strstr(out, "Python Exception"),
              "a Python traceback instead of a message; gdb said:\n%s", out);
    free(out);
    kill(p.pid, SIGUSR1);
    cr_assert(legacy_finish(&p, 20.0), "parked did not finish within 20 s after SIGUSR1");
    out = legacy_out(&p);
    cr_assert_exited(p.status, 0, out);
    free(out);
    legacy_done(&p);
}

/* Started under gdb and stopped at a breakpoint in a green thread: that thread is the
 * running one and its backtrace is the OS thread's; threads created but never run yet
 * are shown where they will begin. */
Test(gdb, knows_the_running_thread_and_those_not_started)
{
    char line[512], *out, *bt;

    out = gdb_run(0, "parked", "break waiter_main", "run", "info green-threads",
                  "green bt all", "kill", NULL);
    cr_assert(!strstr(out, "Traceback") && !strstr(out, "Python Exception") &&
                  !strstr(out, "libgreen:"),
              "the extension failed; gdb said:\n%s", out);
    cr_assert_not_null(line_with(out, "* #", "\"waiter\"", line, sizeof line),
                       "waiter is not marked as the running one; gdb said:\n%s", out);
    cr_assert(strstr(line, "running"), "waiter: %s", line);
    cr_assert_not_null(line_with(out, "  hub ", "idle", line, sizeof line),
                       "the hub is not idle; gdb said:\n%s", out);
    bt = bt_of(out, "waiter");
    cr_assert(first_frame_in(bt, "waiter_main"), "waiter's bt is not its own:\n%s", bt);
    free(bt);
    bt = bt_of(out, "reaper");
    cr_assert(strstr(bt, "(not started yet: it will begin in ") &&
                  strstr(bt, "<reaper_main>, from pthread_create)"),
              "reaper is not shown as not started:\n%s", out);
    free(bt);
    free(out);
}
