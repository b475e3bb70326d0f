/*
 * test_install.c — the install story (mk/install.mk): `make install` into a DESTDIR of the
 * test's own and what a user does with the staged tree, greenrun's behaviour, and the man
 * pages.
 *
 *   install   make install DESTDIR=<tmp> PREFIX=/usr puts exactly the expected files there
 *             and make uninstall takes them all away; the staged green.pc and <green.h>
 *             build a program that runs against the staged library; the staged greenrun
 *             finds the staged library (not the build's, not /usr/lib) and runs a legacy
 *             program patched, on one OS thread.
 *   greenrun  the build tree's greenrun (which must use the build's libgreen.so): options
 *             become GREEN_* settings, a preset LD_PRELOAD is kept, the program's exit
 *             status and killing signal come through exec unchanged, bad usage exits 2
 *             with one line, a bad value gets the library's own exit 2 message.
 *   man       both pages render with man -l and groff -ww without a warning, and name
 *             every setting, family and option.
 *
 * The repository is $GREEN_SRC_DIR (mk/install.mk); make runs there as a child with the
 * build directory the tests use (B=) and rebuilds nothing but the two files that bake the
 * install directories in.  Two stagings at once would write those two
 * files together, so staging holds a lock (flock on the Makefile) around make.
 */
#include "common.h"

#include <sys/file.h>

TestSuite(install, .timeout = 30);
TestSuite(greenrun, .timeout = 30);
TestSuite(man, .timeout = 30);

/* What `make install PREFIX=/usr` puts under DESTDIR, and each file's mode. */
static const struct {
    const char *path;
    mode_t mode;
} installed[] = {
    {"usr/lib/libgreen.so", 0755},          {"usr/lib/libgreen.a", 0644},
    {"usr/include/green.h", 0644},          {"usr/lib/pkgconfig/green.pc", 0644},
    {"usr/bin/greenrun", 0755},             {"usr/share/man/man1/greenrun.1", 0644},
    {"usr/share/man/man7/libgreen.7", 0644},
    {"usr/share/libgreen/libgreen-gdb.py", 0644},
    {"usr/share/gdb/auto-load/usr/lib/libgreen.so-gdb.py", 0644},
};
#define N_INSTALLED (sizeof installed / sizeof *installed)

static const char *src_dir(void)
{
    const char *d = getenv("GREEN_SRC_DIR");

    cr_assert(d && *d, "GREEN_SRC_DIR is not set (run through `make test-preload`)");
    return d;
}

/* The build tree's greenrun: next to $GREEN_LIB. */
static const char *build_greenrun(void)
{
    static char path[4096];
    const char *lib = legacy_lib();
    const char *slash = strrchr(lib, '/');

    snprintf(path, sizeof path, "%.*s/greenrun", (int)(slash - lib), lib);
    return path;
}

/* GREEN_VERSION from runtime/green.h, in buf. */
static const char *green_version(char *buf, size_t len)
{
    char path[4096], *h, *v;

    snprintf(path, sizeof path, "%s/runtime/green.h", src_dir());
    h = file_get(path, NULL);
    cr_assert_not_null(h, "cannot read %s", path);
    v = strstr(h, "#define GREEN_VERSION \"");
    cr_assert_not_null(v, "%s has no GREEN_VERSION", path);
    v += strlen("#define GREEN_VERSION \"");
    snprintf(buf, len, "%.*s", (int)strcspn(v, "\""), v);
    free(h);
    return buf;
}

/* Run /bin/sh -c cmd (env: extra "NAME=value" entries, NULL-terminated, or NULL), wait
 * for it (at most timeout_s) and leave its status and output in p (legacy_done it). */
static void sh_run(struct legacy *p, const char *const *env, double timeout_s, const char *cmd)
{
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    struct legacy_opts o = {.env = env};

    child_startv(p, &o, "sh", "/bin/sh", argv);
    cr_assert(legacy_finish(p, timeout_s), "`%s` did not finish within %.0f s", cmd, timeout_s);
}

/* sh_run, then assert it exited 0; returns its stdout, malloc'd. */
static char *sh_ok(const char *const *env, const char *cmd)
{
    struct legacy p;
    char st[96], *all = NULL, *out;

    sh_run(&p, env, 20.0, cmd);
    if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0) {
        all = legacy_out(&p);
        cr_assert_fail("`%s`: %s; output:\n%s", cmd, status_text(p.status, st, sizeof st), all);
    }
    out = legacy_stdout(&p);
    legacy_done(&p);
    return out;
}

/* Run greenrun (path) with argv after it, env extra entries; wait and leave it in p. */
static void greenrun_run(struct legacy *p, const char *path, const char *const *env,
                         char *const args[])
{
    char *argv[32];
    struct legacy_opts o = {.env = env};
    int n = 0;

    argv[n++] = "greenrun";
    while (args[n - 1] && n < 31) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    child_startv(p, &o, "greenrun", path, argv);
    cr_assert(legacy_finish(p, 20.0), "greenrun did not finish within 20 s");
}

/* The child's stderr so far, malloc'd. */
static char *child_stderr(struct legacy *p)
{
    struct stat st;
    char *s;

    fstat(p->err, &st);
    s = malloc((size_t)st.st_size + 1);
    cr_assert_not_null(s);
    legacy_read(p->err, s, (size_t)st.st_size + 1);
    return s;
}

/* make -s -C $GREEN_SRC_DIR <target> DESTDIR=dir PREFIX=/usr, under the staging lock, with
 * B= the build directory $GREEN_LIB is in.  The make running the tests may have handed
 * down a jobserver in MAKEFLAGS whose descriptors mean something else in this process,
 * so the child make gets none of its parent's flags. */
static void make_in(const char *dir, const char *target)
{
    const char *lib = legacy_lib();
    char path[4096], cmd[12800];
    int lock;

    snprintf(path, sizeof path, "%s/Makefile", src_dir());
    lock = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(lock, 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(flock(lock, LOCK_EX), 0, "flock %s: %s", path, strerror(errno));
    snprintf(cmd, sizeof cmd,
             "unset MAKEFLAGS MFLAGS MAKELEVEL; make -s -C '%s' %s DESTDIR='%s' PREFIX=/usr "
             "B='%.*s'",
             src_dir(), target, dir, (int)(strrchr(lib, '/') - lib), lib);
    free(sh_ok(NULL, cmd));
    close(lock);
}

/* Every regular file under dir, relative to it, one per line into list (appended). */
static void list_files(const char *dir, const char *rel, char *list, size_t len)
{
    char path[4096];
    struct dirent *e;
    DIR *d;

    snprintf(path, sizeof path, "%s%s%s", dir, *rel ? "/" : "", rel);
    d = opendir(path);
    cr_assert_not_null(d, "opendir %s: %s", path, strerror(errno));
    while ((e = readdir(d))) {
        char sub[4096], full[8192];
        struct stat st;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", dir, sub);
        cr_assert_eq(lstat(full, &st), 0);
        if (S_ISDIR(st.st_mode))
            list_files(dir, sub, list, len);
        else
            snprintf(list + strlen(list), len - strlen(list), "%s\n", sub);
    }
    closedir(d);
}

/* ------------------------------------------------------------------ install */

Test(install, puts_every_file_in_place_and_uninstall_removes_them_all)
{
    char dir[64], path[4096], list[4096] = "", *s;
    struct stat st;

    tmpdir_make(dir, sizeof dir, "install");
    make_in(dir, "install");
    list_files(dir, "", list, sizeof list);
    for (size_t i = 0; i < N_INSTALLED; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, installed[i].path);
        cr_assert_eq(stat(path, &st), 0, "%s not installed; installed:\n%s", installed[i].path,
                     list);
        cr_expect_eq(st.st_mode & 07777, installed[i].mode, "%s has mode %o, want %o",
                     installed[i].path, st.st_mode & 07777, installed[i].mode);
    }
    for (size_t i = 0; i < N_INSTALLED; i++)
        cr_expect_eq(count_lines(list, installed[i].path), 1, "files installed:\n%s", list);
    {
        int files = 0;
        for (const char *c = list; *c; c++)
            files += *c == '\n';
        cr_expect_eq(files, (int)N_INSTALLED, "files installed (want only ours):\n%s", list);
    }

    /* The staged greenrun and green.pc say /usr, though the build was made for PREFIX. */
    snprintf(path, sizeof path, "%s/usr/bin/greenrun", dir);
    s = file_get(path, NULL);
    cr_assert_not_null(strstr(s, "\nlibdir='/usr/lib'\n"), "greenrun is not for /usr:\n%s", s);
    free(s);
    snprintf(path, sizeof path, "%s/usr/lib/pkgconfig/green.pc", dir);
    s = file_get(path, NULL);
    cr_assert_not_null(strstr(s, "libdir=/usr/lib\n"), "green.pc is not for /usr:\n%s", s);
    free(s);

    make_in(dir, "uninstall");
    list[0] = 0;
    list_files(dir, "", list, sizeof list);
    cr_expect_str_empty(list, "files left after make uninstall:\n%s", list);
    tmpdir_remove(dir);
}

Test(install, staged_green_pc_and_header_build_a_program_that_runs)
{
    static const char prog[] =
        "#include <green.h>\n"
        "#include <stdio.h>\n"
        "static void *task(void *arg) { green_sleep(0.01); return arg; }\n"
        "int main(void)\n"
        "{\n"
        "    void *v[2];\n"
        "    green_t t[2] = {green_spawn(task, (void *)1), green_spawn(task, (void *)2)};\n"
        "    if (green_joinall(t, 2, v, -1)) return 1;\n"
        "    printf(\"libgreen %s: %ld %ld\\n\", GREEN_VERSION, (long)v[0], (long)v[1]);\n"
        "    return 0;\n"
        "}\n";
    char dir[64], path[4096], cmd[8192], env_pc[4200], env_root[4200], env_ld[4200];
    char want[128], version[32], *out;

    tmpdir_make(dir, sizeof dir, "install");
    make_in(dir, "install");
    snprintf(env_pc, sizeof env_pc, "PKG_CONFIG_PATH=%s/usr/lib/pkgconfig", dir);
    snprintf(env_root, sizeof env_root, "PKG_CONFIG_SYSROOT_DIR=%s", dir);
    snprintf(env_ld, sizeof env_ld, "LD_LIBRARY_PATH=%s/usr/lib", dir);
    const char *env[] = {env_pc, env_root, env_ld, NULL};

    out = sh_ok(env, "pkg-config --cflags --libs green");
    snprintf(want, sizeof want, "-I%s/usr/include", dir);
    cr_expect_not_null(strstr(out, want), "pkg-config says %s", out);
    snprintf(want, sizeof want, "-L%s/usr/lib -lgreen", dir);
    cr_expect_not_null(strstr(out, want), "pkg-config says %s", out);
    free(out);

    snprintf(path, sizeof path, "%s/prog.c", dir);
    file_put(path, prog, sizeof prog - 1);
    /* It runs, and against the staged library (LD_LIBRARY_PATH leads there). */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cc -o prog prog.c $(pkg-config --cflags --libs green) && ./prog && "
             "ldd ./prog | grep -F 'libgreen.so => %s/usr/lib/libgreen.so' >/dev/null && "
             "echo staged",
             dir, dir);
    out = sh_ok(env, cmd);
    green_version(version, sizeof version);
    snprintf(want, sizeof want, "libgreen %s: 1 2\nstaged\n", version);
    cr_expect_str_eq(out, want);
    free(out);
    tmpdir_remove(dir);
}

Test(install, staged_greenrun_runs_a_legacy_program_patched_with_the_staged_library)
{
    char dir[64], greenrun[4096], sleepers[4096], want[4200], *err, *out;
    char *argv[] = {"greenrun", "--debug", sleepers, "10", NULL};
    struct legacy_opts o = {0};
    struct legacy p;
    int most = 0;

    tmpdir_make(dir, sizeof dir, "install");
    make_in(dir, "install");
    snprintf(greenrun, sizeof greenrun, "%s/usr/bin/greenrun", dir);
    snprintf(sleepers, sizeof sleepers, "%s/sleepers", legacy_dir());
    child_startv(&p, &o, "staged greenrun", greenrun, argv);
    /* greenrun execs the program, so p.pid is sleepers once it runs: sample its threads. */
    cr_assert(legacy_wait_for(&p, "started 10 tasks", 10.0), "no start; output:\n%s",
              legacy_out(&p));
    for (double end = now_s() + 10.0; !legacy_reap(&p) && now_s() < end; sleep_s(0.01)) {
        int t = os_threads(p.pid);
        most = t > most ? t : most;
    }
    out = legacy_out(&p);
    cr_assert(!p.pid, "sleepers did not finish within 10 s; output:\n%s", out);
    cr_assert_exited(p.status, 0, out);
    cr_expect_eq(most, 1, "patched sleepers ran on %d OS threads, want 1", most);
    err = child_stderr(&p);
    snprintf(want, sizeof want, "greenrun: LD_PRELOAD=%s/usr/lib/libgreen.so\n", dir);
    cr_expect_not_null(strstr(err, want), "want \"%s\" in stderr:\n%s", want, err);
    cr_expect_not_null(strstr(err, "patched families: socket,select,time,thread,process,"
                                    "dns,stdio;"),
                       "the library's GREEN_DEBUG line is missing:\n%s", err);
    free(err);
    free(out);
    legacy_done(&p);
    tmpdir_remove(dir);
}

/* ----------------------------------------------------------------- greenrun */

/* One line of greenrun's stderr: starts "greenrun: " and mentions what, nothing else. */
static void expect_usage_error(char *const args[], const char *what)
{
    struct legacy p;
    char st[96], *err, *out;

    greenrun_run(&p, build_greenrun(), NULL, args);
    err = child_stderr(&p);
    out = legacy_stdout(&p);
    cr_expect(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 2,
              "greenrun %s...: %s, want exit 2; stderr:\n%s", args[0],
              status_text(p.status, st, sizeof st), err);
    cr_expect(!strncmp(err, "greenrun: ", 10) && strchr(err, '\n') == err + strlen(err) - 1,
              "greenrun %s...: want one line \"greenrun: ...\" on stderr, got:\n%s", args[0],
              err);
    cr_expect_not_null(strstr(err, what), "greenrun %s...: \"%s\" not in: %s", args[0], what,
                       err);
    cr_expect_str_empty(out, "greenrun %s...: the program ran: %s", args[0], out);
    free(err);
    free(out);
    legacy_done(&p);
}

Test(greenrun, bad_usage_exits_2_with_one_line_naming_the_problem)
{
    expect_usage_error((char *[]){"--bogus", "/bin/echo", "ran", NULL}, "unknown option --bogus");
    expect_usage_error((char *[]){"-x", "/bin/echo", "ran", NULL}, "unknown option -x");
    expect_usage_error((char *[]){"--stack-size", NULL}, "--stack-size needs a value");
    expect_usage_error((char *[]){"--patch=", "/bin/echo", "ran", NULL}, "--patch needs a value");
    expect_usage_error((char *[]){"--stats=1", "/bin/echo", "ran", NULL},
                       "--stats takes no value");
    expect_usage_error((char *[]){"--debug", NULL}, "no program to run");
    expect_usage_error((char *[]){NULL}, "no program to run");
    expect_usage_error((char *[]){"--lib", "/nonexistent/libgreen.so", "/bin/echo", "ran", NULL},
                       "--lib /nonexistent/libgreen.so: no such file");
}

Test(greenrun, bad_values_get_the_library_exit_2_message)
{
    static const struct {
        char *opt;
        const char *want;
    } cases[] = {
        {"--stack-size=1", "GREEN_STACK_SIZE=\"1\" is not valid"},
        {"--patch=sockets", "GREEN_PATCH=\"sockets\" is not valid"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct legacy p;
        char st[96], *err;

        greenrun_run(&p, build_greenrun(), NULL, (char *[]){cases[i].opt, "/bin/true", NULL});
        err = child_stderr(&p);
        cr_expect(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 2,
                  "greenrun %s: %s, want exit 2; stderr:\n%s", cases[i].opt,
                  status_text(p.status, st, sizeof st), err);
        cr_expect(!strncmp(err, "green: ", 7) && strstr(err, cases[i].want),
                  "greenrun %s: want the library's \"%s\", got:\n%s", cases[i].opt,
                  cases[i].want, err);
        free(err);
        legacy_done(&p);
    }
}

Test(greenrun, options_become_settings_in_both_spellings)
{
    struct legacy p;
    char *out, *err;

    greenrun_run(&p, build_greenrun(), NULL,
                 (char *[]){"--stats", "--dump-signal", "USR2", "--block-warn-ms=50",
                            "--stack-size", "512k", "--patch=time,thread", "--debug", "--",
                            "/usr/bin/env", NULL});
    out = legacy_stdout(&p);
    err = child_stderr(&p);
    cr_assert_exited(p.status, 0, err);
    for (const char *const *v = (const char *const[]){"GREEN_STATS=1", "GREEN_DUMP_SIGNAL=USR2",
                                                      "GREEN_BLOCK_WARN_MS=50",
                                                      "GREEN_STACK_SIZE=512k",
                                                      "GREEN_PATCH=time,thread",
                                                      "GREEN_DEBUG=1", NULL};
         *v; v++)
        cr_expect_eq(count_lines(out, *v), 1, "%s not in the environment:\n%s", *v, out);
    cr_expect_not_null(strstr(err, "patched families: time,thread; stack size 512k;"),
                       "the library did not take the settings:\n%s", err);
    free(out);
    free(err);
    legacy_done(&p);
}

Test(greenrun, build_tree_copy_preloads_the_build_library)
{
    struct legacy p;
    char want[4200], *out;

    greenrun_run(&p, build_greenrun(), NULL, (char *[]){"/bin/cat", "/proc/self/maps", NULL});
    out = legacy_stdout(&p);
    cr_assert_exited(p.status, 0, out);
    snprintf(want, sizeof want, " %s\n", legacy_lib());
    cr_expect_not_null(strstr(out, want), "%s is not mapped:\n%s", legacy_lib(), out);
    free(out);
    legacy_done(&p);
}

Test(greenrun, keeps_a_preset_ld_preload_with_its_separator)
{
    char dir[64], m1[128], m2[128], cmd[1024], ld[4400], want[8900], *out, *err;
    struct legacy p;
    const char *lib = legacy_lib();
    static const char *const seps[] = {":", " "};

    tmpdir_make(dir, sizeof dir, "greenrun");
    snprintf(m1, sizeof m1, "%s/libmarker1.so", dir);
    snprintf(m2, sizeof m2, "%s/libmarker2.so", dir);
    snprintf(cmd, sizeof cmd,
             "echo 'int marker;' > %s/m.c && cc -shared -fPIC -o %s %s/m.c && "
             "cc -shared -fPIC -o %s %s/m.c",
             dir, m1, dir, m2, dir);
    free(sh_ok(NULL, cmd));
    for (size_t i = 0; i < 2; i++) {
        snprintf(ld, sizeof ld, "LD_PRELOAD=%s%s%s", m1, seps[i], m2);
        greenrun_run(&p, build_greenrun(), (const char *const[]){ld, NULL},
                     (char *[]){"--debug", "/bin/cat", "/proc/self/maps", NULL});
        out = legacy_stdout(&p);
        err = child_stderr(&p);
        cr_assert_exited(p.status, 0, err);
        snprintf(want, sizeof want, "greenrun: %s%s%s\n", ld, seps[i], lib);
        cr_expect_not_null(strstr(err, want), "want \"%s\" in:\n%s", want, err);
        cr_expect_not_null(strstr(err, "patched families: socket,"), "not patched:\n%s", err);
        cr_expect(strstr(out, m1) && strstr(out, m2) && strstr(out, lib),
                  "%s, %s and %s not all mapped:\n%s", m1, m2, lib, out);
        free(out);
        free(err);
        legacy_done(&p);
    }
    /* A list that already names the library is left as it is. */
    snprintf(ld, sizeof ld, "LD_PRELOAD=%s:%s", lib, m1);
    greenrun_run(&p, build_greenrun(), (const char *const[]){ld, NULL},
                 (char *[]){"--debug", "/bin/true", NULL});
    err = child_stderr(&p);
    snprintf(want, sizeof want, "greenrun: %s\n", ld);
    cr_expect_not_null(strstr(err, want), "want \"%s\" in:\n%s", want, err);
    free(err);
    legacy_done(&p);
    tmpdir_remove(dir);
}

Test(greenrun, exit_status_and_killing_signal_pass_through)
{
    struct legacy p;
    char st[96];

    greenrun_run(&p, build_greenrun(), NULL, (char *[]){"/bin/sh", "-c", "exit 3", NULL});
    cr_expect(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 3, "exit 3 came back as %s",
              status_text(p.status, st, sizeof st));
    legacy_done(&p);
    greenrun_run(&p, build_greenrun(), NULL,
                 (char *[]){"/bin/sh", "-c", "kill -TERM $$", NULL});
    cr_expect(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGTERM,
              "death by SIGTERM came back as %s", status_text(p.status, st, sizeof st));
    legacy_done(&p);
    greenrun_run(&p, build_greenrun(), NULL, (char *[]){"--", "/nonexistent/program", NULL});
    cr_expect(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 127,
              "a missing program came back as %s", status_text(p.status, st, sizeof st));
    legacy_done(&p);
}

Test(greenrun, help_and_version)
{
    static const char *const options[] = {"--patch", "--stack-size", "--stats",
                                          "--dump-signal", "--block-warn-ms", "--debug",
                                          "--lib", "--help", "--version"};
    char version[32], want[64];
    struct legacy p;
    char *out;

    green_version(version, sizeof version);
    snprintf(want, sizeof want, "greenrun (libgreen) %s\n", version);
    for (int i = 0; i < 2; i++) {
        greenrun_run(&p, build_greenrun(), NULL, (char *[]){i ? "-V" : "--version", NULL});
        out = legacy_stdout(&p);
        cr_assert_exited(p.status, 0, out);
        cr_expect_str_eq(out, want);
        free(out);
        legacy_done(&p);

        greenrun_run(&p, build_greenrun(), NULL, (char *[]){i ? "-h" : "--help", NULL});
        out = legacy_stdout(&p);
        cr_assert_exited(p.status, 0, out);
        cr_expect(!strncmp(out, "usage: greenrun ", 16), "help:\n%s", out);
        for (size_t k = 0; k < sizeof options / sizeof *options; k++)
            cr_expect_not_null(strstr(out, options[k]), "help lacks %s:\n%s", options[k], out);
        free(out);
        legacy_done(&p);
    }
}

/* ---------------------------------------------------------------------- man */

Test(man, pages_render_without_warnings_and_name_every_setting_and_option)
{
    static const char *const pages[] = {"man/greenrun.1", "man/libgreen.7"};
    static const char *const in_libgreen7[] = {
        "GREEN_PATCH",  "GREEN_STACK_SIZE",   "GREEN_DEBUG",   "GREEN_STATS",
        "GREEN_DUMP_SIGNAL", "GREEN_BLOCK_WARN_MS", ".B socket", ".B select", ".B time",
        ".B thread",    ".B process",         ".B dns",        ".B stdio",   "greenrun (1)"};
    static const char *const in_greenrun1[] = {
        "\\-\\-patch",  "\\-\\-stack\\-size", "\\-\\-stats",   "\\-\\-dump\\-signal",
        "\\-\\-block\\-warn\\-ms", "\\-\\-debug", "\\-\\-lib", "\\-\\-help", "\\-\\-version",
        "libgreen (7)"};
    char version[32], th[64], path[4096], cmd[8400], *src;
    const char *env[] = {"LC_ALL=C.UTF-8", "MANWIDTH=80", "MANROFFOPT=-ww", NULL};

    snprintf(th, sizeof th, "\"libgreen %s\"", green_version(version, sizeof version));
    for (size_t i = 0; i < 2; i++) {
        struct legacy p;
        char *out, *err;

        snprintf(path, sizeof path, "%s/%s", src_dir(), pages[i]);
        snprintf(cmd, sizeof cmd, "groff -man -Tutf8 -ww -z '%s' && man -l '%s'", path, path);
        sh_run(&p, env, 20.0, cmd);
        out = legacy_stdout(&p);
        err = child_stderr(&p);
        cr_expect_exited(p.status, 0, err);
        cr_expect_str_empty(err, "%s: warnings:\n%s", pages[i], err);
        cr_expect_not_null(strstr(out, "NAME"), "%s: man -l printed:\n%s", pages[i], out);
        free(out);
        free(err);
        legacy_done(&p);

        src = file_get(path, NULL);
        cr_assert_not_null(src);
        cr_expect_not_null(strstr(src, th), "%s: .TH does not say %s", pages[i], th);
        for (size_t k = 0; !i && k < sizeof in_greenrun1 / sizeof *in_greenrun1; k++)
            cr_expect_not_null(strstr(src, in_greenrun1[k]), "%s lacks %s", pages[i],
                               in_greenrun1[k]);
        for (size_t k = 0; i && k < sizeof in_libgreen7 / sizeof *in_libgreen7; k++)
            cr_expect_not_null(strstr(src, in_libgreen7[k]), "%s lacks %s", pages[i],
                               in_libgreen7[k]);
        free(src);
    }
}
