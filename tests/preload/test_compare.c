/*
 * test_compare.c — scripts/compare.sh end to end, on a tiny matrix, so that the README's
 * main command never rots: `compare.sh --quick --conns 10,50 --duration 1 --wait 0`
 * against the bundled legacy_server, unpatched and patched, pinned and unpinned (eight
 * runs, about 20 s), with its results in a fresh directory instead of results/.  --wait 0:
 * the suites running beside this one keep the CPUs busy, and waiting for them to be idle
 * would only make the test slow.
 *
 * What a user relies on is checked: exit status 0; a markdown row with figures for every
 * server, concurrency and pinning; the CSV's header and one row per cell, each with
 * requests answered and no errors; a PNG that is one (its magic bytes).  The figures
 * themselves are never asserted: the two CPUs are shared with the other suites.
 *
 * The script and the build directory come from $GREEN_COMPARE and $GREEN_BUILD_DIR
 * (mk/compare.mk sets both for `make test-preload`).  The script runs as a child with
 * PR_SET_PDEATHSIG SIGTERM, so a test killed by its timeout still lets the script's trap
 * stop the servers it started; MAKEFLAGS is dropped from its environment so the make it
 * runs never looks for the outer make's jobserver.
 */
#include "common.h"

#include <glob.h>

TestSuite(compare, .timeout = 150);

#define COMPARE_LIMIT_S 120.0

static const char *compare_env(const char *name)
{
    const char *v = getenv(name);

    cr_assert(v && *v, "%s is not set (run through `make test-preload` or `make test-compare`)",
              name);
    return v;
}

/* The whole of a file, NUL-terminated (NULL if it cannot be read). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (!f)
        return NULL;
    do {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap + 1);
            cr_assert_not_null(buf);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Run compare.sh with args (NULL-terminated) writing into dir; its stdout and stderr go to
 * dir/out and dir/err.  Returns the wait status; kills the script if it overruns. */
static int run_compare(const char *dir, const char *const args[])
{
    const char *script = compare_env("GREEN_COMPARE"), *build = compare_env("GREEN_BUILD_DIR");
    char *argv[32], bvar[4200], path[4200];
    char **envp;
    size_t n = 0, k = 0;
    int status = 0;
    pid_t pid;

    argv[k++] = (char *)script;
    for (size_t i = 0; args[i]; i++)
        argv[k++] = (char *)args[i];
    argv[k++] = "--results";
    argv[k++] = (char *)dir;
    argv[k] = NULL;
    while (environ[n])
        n++;
    envp = calloc(n + 2, sizeof *envp);
    cr_assert_not_null(envp);
    n = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "B=", 2) &&
            strncmp(*e, "MAKEFLAGS=", 10) && strncmp(*e, "MFLAGS=", 7) &&
            strncmp(*e, "MAKELEVEL=", 10))
            envp[n++] = *e;
    snprintf(bvar, sizeof bvar, "B=%s", build);
    envp[n++] = bvar;

    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        sigset_t none;
        int fd;

        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        fd = open("/dev/null", O_RDONLY);
        dup2(fd, 0);
        snprintf(path, sizeof path, "%s/out", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        snprintf(path, sizeof path, "%s/err", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        execve(script, argv, envp);
        dprintf(2, "exec %s: %s\n", script, strerror(errno));
        _exit(127);
    }
    free(envp);
    for (double end = now_s() + COMPARE_LIMIT_S;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        cr_assert_geq(r, 0, "waitpid: %s", strerror(errno));
        if (r == pid)
            break;
        if (now_s() > end) {
            /* TERM: the script's trap stops its servers and load generator. */
            kill(pid, SIGTERM);
            sleep_s(5);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(path, sizeof path, "%s/err", dir);
            cr_assert_fail("compare.sh ran over %.0f s; its stderr:\n%s", COMPARE_LIMIT_S,
                           slurp(path, NULL));
        }
        sleep_s(0.1);
    }
    return status;
}

static void remove_tree(const char *dir)
{
    char cmd[4200];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

Test(compare, quick_run_prints_the_table_and_writes_csv_and_png)
{
    static const char *const servers[] = {"legacy_server unpatched", "legacy_server patched"};
    static const char *const pins[] = {"pinned", "unpinned"};
    static const int conns[] = {10, 50};
    static const char header[] =
        "server,label,pinning,conns,payload,runs,rps,rps_min,rps_max,p50_us,p99_us,p99_min,"
        "p99_max,p999_us,peak_rss_mib,rss_min_mib,rss_max_mib,rss_per_conn_kib,threads,"
        "cpu_pct,errors,connect_failed,stalled,stalled_max,note";
    static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const char *const args[] = {"--quick", "--conns", "10,50", "--duration", "1", "--wait", "0", NULL};
    char dir[] = "/tmp/green-compare-XXXXXX", path[4200], *out, *err, *csv, *png, *line;
    double t0 = now_s();
    size_t png_len = 0;
    int status, rows = 0;
    glob_t g;

    cr_assert_not_null(mkdtemp(dir));
    status = run_compare(dir, args);
    snprintf(path, sizeof path, "%s/out", dir);
    out = slurp(path, NULL);
    snprintf(path, sizeof path, "%s/err", dir);
    err = slurp(path, NULL);
    cr_assert(out && err);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "compare.sh ended with wait status %#x; stderr:\n%s\nstdout:\n%s", status, err, out);
    cr_log_info("compare.sh --quick --conns 10,50 --duration 1: %.1f s", now_s() - t0);

    /* A markdown row with figures (a number in the req/s column) for every cell. */
    for (size_t c = 0; c < 2; c++)
        for (size_t p = 0; p < 2; p++)
            for (size_t s = 0; s < 2; s++) {
                char row[256], *at;

                snprintf(row, sizeof row, "\n| %d | %s | %s | ", conns[c], servers[s], pins[p]);
                at = strstr(out, row);
                cr_assert_not_null(at, "no table row starting \"%s\" in:\n%s", row + 1, out);
                at += strlen(row);
                cr_assert(isdigit((unsigned char)*at) && *at != '0',
                          "row \"%s\" has no req/s figure:\n%s", row + 1, out);
            }

    /* The CSV: the header, then one row per cell with requests answered and no errors. */
    snprintf(path, sizeof path, "%s/latest.csv", dir);
    csv = slurp(path, NULL);
    cr_assert_not_null(csv, "%s was not written", path);
    line = strtok(csv, "\n");
    cr_assert_not_null(line);
    cr_assert_str_eq(line, header);
    while ((line = strtok(NULL, "\n"))) {
        char f[25][128];
        int nf = 0;
        const char *q = line;

        for (; nf < 25; nf++) {
            size_t len = strcspn(q, ",");
            snprintf(f[nf], sizeof f[nf], "%.*s", (int)len, q);
            if (!q[len]) {
                nf++;
                break;
            }
            q += len + 1;
        }
        cr_assert_eq(nf, 25, "CSV row with %d fields: %s", nf, line);
        cr_assert(atoi(f[3]) == conns[rows / 4], "CSV row %d is for C=%s: %s", rows + 1, f[3], line);
        cr_assert_str_eq(f[2], pins[rows / 2 % 2], "CSV row %d: %s", rows + 1, line);
        cr_assert_str_eq(f[1], servers[rows % 2], "CSV row %d: %s", rows + 1, line);
        cr_assert_gt(atof(f[6]), 0, "no requests answered: %s", line);
        cr_assert_str_eq(f[20], "0", "errors: %s", line);
        cr_assert_str_eq(f[21], "0", "failed connects: %s", line);
        rows++;
    }
    cr_assert_eq(rows, 8, "%d CSV rows, 8 expected", rows);

    /* The plot, under its own name and as latest.png. */
    snprintf(path, sizeof path, "%s/compare-*.png", dir);
    cr_assert_eq(glob(path, 0, NULL, &g), 0, "no %s", path);
    cr_assert_eq(g.gl_pathc, 1);
    globfree(&g);
    snprintf(path, sizeof path, "%s/latest.png", dir);
    png = slurp(path, &png_len);
    cr_assert_not_null(png, "%s was not written", path);
    cr_assert_gt(png_len, 1000, "%s has %zu bytes", path, png_len);
    cr_assert_arr_eq(png, png_magic, sizeof png_magic, "%s is not a PNG", path);

    free(out);
    free(err);
    free(csv);
    free(png);
    remove_tree(dir);
}
