/*
 * test_real.c — programs nobody here wrote, installed from Debian (scripts/deps.sh), run
 * unharmed under the shim: redis-server driven by redis-benchmark and redis-cli, nginx
 * with and without a master process serving files to wrk and curl, curl as a client,
 * socat in fork mode and as a client, busybox httpd.
 *
 * Each test runs the program unpatched first, as the reference, then with LD_PRELOAD in
 * its environment only, and compares what a user would see: bodies and replies byte for
 * byte, exit statuses (a signal where the unpatched run exits is a crash), and the error
 * lines of the program's log or stderr: a warning or error the unpatched run does not
 * print fails the test.  Lines are compared with every run of digits blanked, since PIDs,
 * times, ports and durations differ from run to run.
 *
 * Load is bounded: redis-benchmark makes a fixed number of requests, wrk runs for 2 s,
 * every child has a deadline.  Throughput figures are logged (cr_log_info) for
 * BENCHMARKS.md and never asserted; on two cores shared with the load generator and a
 * parallel test they only say "same order or not".
 *
 * Servers listen on a free 127.0.0.1 port (free_port), files live in fresh directories
 * under /tmp, and the suite's fini stops every process a test started, by PID (and the
 * processes those started, found through /proc/PID/task/TID/children before the stop),
 * also when an assertion ended the test early.
 */
#include "common.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define REDIS_CLI "/usr/bin/redis-cli"
#define REDIS_BENCHMARK "/usr/bin/redis-benchmark"
#define NGINX "/usr/sbin/nginx"
#define WRK "/usr/bin/wrk"
#define CURL "/usr/bin/curl"
#define SOCAT "/usr/bin/socat"
#define BUSYBOX "/bin/busybox"

/* ------------------------------------------------------------ bookkeeping */

#define MAX_PROCS 32
#define MAX_DIRS 4

static struct legacy procs[MAX_PROCS];
static char cmdlines[MAX_PROCS][256]; /* for messages: what procs[i] runs */
static int nprocs;
static char dirs[MAX_DIRS][64];
static int ndirs;

/* A process tree: PIDs with their start times (field 22 of /proc/PID/stat), so a PID the
 * kernel gave to somebody else since is never signalled. */
struct tree {
    int n;
    pid_t pid[64];
    unsigned long long start[64];
};

static unsigned long long start_time(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long t = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')))
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                      "%*d %*d %llu", &t);
    fclose(f);
    return t;
}

/* Add pid's descendants (not pid itself) to t. */
static void tree_collect(pid_t pid, struct tree *t)
{
    char path[64];
    struct dirent *d;
    DIR *dir;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    if (!(dir = opendir(path)))
        return;
    while ((d = readdir(dir))) {
        char cpath[300];
        FILE *f;
        int c;

        if (d->d_name[0] == '.')
            continue;
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", (int)pid, d->d_name);
        if (!(f = fopen(cpath, "r")))
            continue;
        while (fscanf(f, "%d", &c) == 1 && t->n < 64) {
            t->pid[t->n] = c;
            t->start[t->n++] = start_time(c);
            tree_collect(c, t);
        }
        fclose(f);
    }
    closedir(dir);
}

/* How many of t's processes still exist (zombies excluded: their parent is gone or will
 * reap them); with sig, send it to each of them first. */
static int tree_alive(const struct tree *t, int sig)
{
    int alive = 0;

    for (int i = 0; i < t->n; i++) {
        char path[64], buf[512], *p;
        FILE *f;
        int zombie = 0;

        if (!t->start[i] || start_time(t->pid[i]) != t->start[i])
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)t->pid[i]);
        if ((f = fopen(path, "r"))) {
            if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')))
                zombie = p[2] == 'Z';
            fclose(f);
        }
        if (zombie)
            continue;
        if (sig)
            kill(t->pid[i], sig);
        alive++;
    }
    return alive;
}

/* Stop p with sig the way legacy_kill does (SIGKILL after 2 s), and make sure nothing it
 * started outlives it: returns how many of its descendants were still there 2 s after it
 * ended (they are killed). */
static int stop(struct legacy *p, int sig)
{
    struct tree t = {0};
    double end;
    int left;

    if (p->pid)
        tree_collect(p->pid, &t);
    legacy_kill(p, sig);
    end = now_s() + 2.0;
    while ((left = tree_alive(&t, 0)) > 0 && now_s() < end)
        sleep_s(0.01);
    if (left)
        tree_alive(&t, SIGKILL);
    return left;
}

static void cleanup(void)
{
    for (int i = 0; i < nprocs; i++) {
        stop(&procs[i], SIGTERM);
        legacy_done(&procs[i]);
    }
    nprocs = 0;
    for (int i = 0; i < ndirs; i++)
        tmpdir_remove(dirs[i]);
    ndirs = 0;
}

TestSuite(real, .timeout = 30, .fini = cleanup);

static const char *workdir(const char *tag)
{
    cr_assert_lt(ndirs, MAX_DIRS);
    tmpdir_make(dirs[ndirs], sizeof dirs[ndirs], tag);
    return dirs[ndirs++];
}

static void need(const char *path)
{
    cr_assert(access(path, X_OK) == 0,
              "%s is not installed: run scripts/deps.sh as root (it installs the Debian "
              "packages the tests need)", path);
}

/* The arguments after path, up to a NULL, as argv (argv[0] is path's last part). */
#define ARGV_FROM(argv, path)                                                               \
    do {                                                                                    \
        int argc_ = 1;                                                                      \
        va_list ap_;                                                                        \
        argv[0] = strrchr(path, '/') ? strrchr(path, '/') + 1 : (char *)path;               \
        va_start(ap_, path);                                                                \
        while (argc_ < 63 && (argv[argc_] = va_arg(ap_, char *)))                           \
            argc_++;                                                                        \
        va_end(ap_);                                                                        \
        argv[argc_] = NULL;                                                                 \
    } while (0)

/* Start path with argv (NULL-terminated, at most 63 entries). */
static struct legacy *startv(int patched, const char *input, const char *path, char **argv)
{
    const struct legacy_opts o = {.patched = patched, .input = input};
    int argc = 0;

    need(path);
    cr_assert_lt(nprocs, MAX_PROCS);
    while (argv[argc])
        argc++;
    cmdlines[nprocs][0] = 0;
    for (int i = 0, n = 0; i < argc && n < (int)sizeof cmdlines[0]; i++)
        n += snprintf(cmdlines[nprocs] + n, sizeof cmdlines[0] - (size_t)n, "%s%.60s",
                      i ? " " : "", argv[i]);
    child_startv(&procs[nprocs], &o, argv[0], path, argv);
    return &procs[nprocs++];
}

/* Start path with the NULL-terminated arguments after it. */
static __attribute__((sentinel)) struct legacy *start(int patched, const char *input,
                                                      const char *path, ...)
{
    char *argv[64];

    ARGV_FROM(argv, path);
    return startv(patched, input, path, argv);
}

/* The command line p was started with (arguments cut at 60 characters). */
static const char *cmdline(const struct legacy *p)
{
    return cmdlines[p - procs];
}

/* Wait for p (a client program) to end by itself within timeout_s; a program that does
 * not is a finding: it is killed and the test fails with its output. */
static void finish(struct legacy *p, double timeout_s)
{
    if (!legacy_finish(p, timeout_s)) {
        char *all = legacy_out(p);
        cr_assert_fail("%s: `%s` did not finish within %.1f s (killed); output so far:\n%s",
                       p->name, cmdline(p), timeout_s, all);
    }
}

/* Whether p ended with exit status code; if not, msg says how it ended and what it printed
 * (out). */
static int exit_ok(const struct legacy *p, int code, const char *out, char *msg, size_t len)
{
    char st[96];

    if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == code)
        return 1;
    snprintf(msg, len, "%s: `%s` expected exit %d, got %s; output:\n%s", p->name, cmdline(p),
             code, status_text(p->status, st, sizeof st), out);
    return 0;
}

static void expect_exit(const struct legacy *p, int code, const char *out)
{
    char msg[4096];

    cr_expect(exit_ok(p, code, out, msg, sizeof msg), "%s", msg);
}

static void assert_exit(const struct legacy *p, int code, const char *out)
{
    char msg[4096];

    cr_assert(exit_ok(p, code, out, msg, sizeof msg), "%s", msg);
}

static const char *mode(int patched)
{
    return patched ? "patched" : "unpatched";
}

/* The patched run must end as the unpatched one did. */
static void expect_same_status(const char *what, int unpatched, int patched, const char *out)
{
    char a[96], b[96];

    cr_expect_eq(patched, unpatched, "%s: unpatched %s, patched %s; patched output:\n%s", what,
                 status_text(unpatched, a, sizeof a), status_text(patched, b, sizeof b), out);
}

/* ------------------------------------------------------- comparing logs */

/* text with every run of digits replaced by one '#', between a leading and a trailing
 * newline (so "\nLINE\n" finds whole lines); malloc'd. */
static char *blank_digits(const char *text)
{
    char *s = malloc(strlen(text) + 3), *o = s;

    cr_assert_not_null(s);
    *o++ = '\n';
    for (const char *p = text; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            *o++ = '#';
            while (isdigit((unsigned char)p[1]))
                p++;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\n';
    *o = 0;
    return s;
}

/* The patched run printed the same as the unpatched one, digits blanked. */
static void expect_same_words(const char *what, const char *unpatched, const char *patched)
{
    char *u = blank_digits(unpatched), *p = blank_digits(patched);

    cr_expect_str_eq(p, u, "%s says, patched:%sunpatched:%s", what, p, u);
    free(u);
    free(p);
}

/* Run one command line unpatched, then patched, each to its end (within timeout_s): both
 * must end alike and print the same words, digits blanked.  The unpatched run ends with
 * exit status code.  For error paths (a closed port, a 404), where nothing else is seen. */
static __attribute__((sentinel)) void same_both_ways(const char *what, int code,
                                                     double timeout_s, const char *path, ...)
{
    struct legacy *c[2];
    char *argv[64], *out[2];

    ARGV_FROM(argv, path);
    for (int patched = 0; patched < 2; patched++) {
        c[patched] = startv(patched, "", path, argv);
        finish(c[patched], timeout_s);
        out[patched] = legacy_out(c[patched]);
    }
    expect_exit(c[0], code, out[0]);
    expect_same_status(what, c[0]->status, c[1]->status, out[1]);
    expect_same_words(what, out[0], out[1]);
    free(out[0]);
    free(out[1]);
}

typedef int line_filter(const char *line);

static int any_line(const char *line)
{
    return line[0] != 0;
}

/* redis-server's log: "PID:ROLE DD Mon YYYY HH:MM:SS.mmm # message" marks a warning. */
static int redis_warning(const char *line)
{
    return strstr(line, " # ") != NULL || strstr(line, "BUG REPORT") != NULL;
}

/* nginx's error log from [warn] up. */
static int nginx_warning(const char *line)
{
    static const char *levels[] = {"[warn]", "[error]", "[crit]", "[alert]", "[emerg]"};

    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
        if (strstr(line, levels[i]))
            return 1;
    return 0;
}

/* Fail (expect) if patched has a line that is_err accepts and that unpatched does not
 * have, digits blanked. */
static void expect_no_new_errors(const char *what, const char *unpatched, const char *patched,
                                 line_filter *is_err)
{
    char *u = blank_digits(unpatched ? unpatched : ""), *p = blank_digits(patched ? patched : "");
    char news[4096] = "";
    size_t used = 0;
    int n = 0;

    for (char *line = p + 1, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = 0;
        if (is_err(line)) {
            char want[1024];
            snprintf(want, sizeof want, "\n%s\n", line);
            if (!strstr(u, want)) {
                n++;
                if (used < sizeof news - 1)
                    used += (size_t)snprintf(news + used, sizeof news - used, "  %.300s\n",
                                             line);
            }
        }
    }
    cr_expect_eq(n, 0, "%s: %d error line(s) patched that the unpatched run does not have "
                       "(digits blanked):\n%s", what, n, news);
    free(u);
    free(p);
}

/* --------------------------------------------------------------- helpers */

/* Deterministic bytes of every value for file or payload number seed. */
static char *make_bytes(size_t len, unsigned seed)
{
    char *b = malloc(len + 1);
    unsigned x = seed * 2654435761u + 1;

    cr_assert_not_null(b);
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (char)(x >> 16);
    }
    b[len] = 0;
    return b;
}

/* The same, printable (for stdin payloads, which legacy_opts takes as a C string). */
static char *make_text(size_t len, unsigned seed)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789 .,-";
    char *b = make_bytes(len, seed);

    for (size_t i = 0; i < len; i++)
        b[i] = i % 64 == 63 ? '\n' : alphabet[(unsigned char)b[i] % 40];
    return b;
}

/* Assert that the file at path holds exactly len bytes equal to want. */
static void expect_file(const char *what, const char *path, const char *want, size_t len)
{
    size_t got_len = 0;
    char *got = file_get(path, &got_len);
    size_t i = 0;

    cr_expect_not_null(got, "%s: %s was not written", what, path);
    if (!got)
        return;
    while (i < len && i < got_len && got[i] == want[i])
        i++;
    cr_expect(got_len == len && i == len, "%s: body differs: %zu bytes (want %zu), first "
              "difference at byte %zu", what, got_len, len, i);
    free(got);
}

/* A site in dir/www: big.bin (binary, 1 MiB + 123 bytes, served to curl), small.html
 * (4 KiB, served to wrk).  The bodies are returned for comparisons. */
struct site {
    char www[128];
    char *big, *small;
    size_t big_len, small_len;
};

static void site_make(struct site *s, const char *dir)
{
    char path[256];

    snprintf(s->www, sizeof s->www, "%s/www", dir);
    cr_assert_eq(mkdir(s->www, 0755), 0);
    cr_assert_eq(chmod(s->www, 0755), 0);
    s->big_len = (1 << 20) + 123;
    s->big = make_bytes(s->big_len, 7);
    snprintf(path, sizeof path, "%s/big.bin", s->www);
    file_put(path, s->big, s->big_len);
    s->small_len = 4096;
    s->small = make_text(s->small_len, 11);
    snprintf(path, sizeof path, "%s/small.html", s->www);
    file_put(path, s->small, s->small_len);
}

/* curl (patched or not) fetches url into out; returns the finished process (its stdout is
 * the -w line "CODE SIZE"). */
static struct legacy *curl_get(int patched, const char *url, const char *out)
{
    struct legacy *c = start(patched, NULL, CURL, "-sS", "--max-time", "10", "-o", out, "-w",
                             "%{http_code} %{size_download}\n", url, NULL);
    finish(c, 15);
    return c;
}

/* Fetch url with curl patched and unpatched into dir, and check both bodies against
 * want and that both runs said and returned the same. */
static void curl_check(const char *dir, const char *url, const char *want, size_t len)
{
    struct legacy *c[2];
    char out[2][256], *so[2], *se[2], what[300];

    for (int patched = 0; patched < 2; patched++) {
        snprintf(out[patched], sizeof out[patched], "%s/curl-%s.out", dir, mode(patched));
        c[patched] = curl_get(patched, url, out[patched]);
        so[patched] = legacy_stdout(c[patched]);
        se[patched] = legacy_out(c[patched]);
        snprintf(what, sizeof what, "curl %s %s", mode(patched), url);
        expect_exit(c[patched], 0, se[patched]);
        expect_file(what, out[patched], want, len);
    }
    snprintf(what, sizeof what, "curl %s", url);
    expect_same_status(what, c[0]->status, c[1]->status, se[1]);
    cr_expect_str_eq(so[1], so[0], "%s: patched curl says \"%s\", unpatched \"%s\"", what, so[1],
                     so[0]);
    expect_no_new_errors(what, se[0], se[1], any_line);
    for (int i = 0; i < 2; i++) {
        free(so[i]);
        free(se[i]);
    }
}

/* What wrk reports. */
struct wrk {
    double rps;
    long requests, non2xx, connect_err, read_err, write_err, timeout_err;
};

/* Run wrk (unpatched) for 2 s with 50 connections against url and parse its report. */
static struct wrk wrk_run(const char *url)
{
    struct legacy *w = start(0, NULL, WRK, "-t1", "-c50", "-d2s", "--timeout", "5s", url, NULL);
    struct wrk r = {0};
    char *out, *p;

    finish(w, 15);
    out = legacy_out(w);
    assert_exit(w, 0, out);
    cr_assert((p = strstr(out, "Requests/sec:")) && sscanf(p, "Requests/sec: %lf", &r.rps) == 1,
              "no Requests/sec in wrk's report:\n%s", out);
    if ((p = strstr(out, "requests in ")))
        while (p > out && p[-1] != '\n')
            p--;
    cr_assert(p && sscanf(p, " %ld requests in", &r.requests) == 1,
              "no request count in wrk's report:\n%s", out);
    if ((p = strstr(out, "Non-2xx or 3xx responses:")))
        sscanf(p, "Non-2xx or 3xx responses: %ld", &r.non2xx);
    if ((p = strstr(out, "Socket errors:")))
        sscanf(p, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &r.connect_err,
               &r.read_err, &r.write_err, &r.timeout_err);
    free(out);
    return r;
}

/* What an HTTP server (patched or not) on port must do with the site: big.bin to curl,
 * patched and not, byte for byte; a missing file as 404; small.html to wrk for 2 s (its
 * report is returned). */
static struct wrk site_check(const char *what, int patched, const char *dir,
                             const struct site *site, int port)
{
    char url[128], out[256], *said;
    struct legacy *c;

    snprintf(url, sizeof url, "http://127.0.0.1:%d/big.bin", port);
    curl_check(dir, url, site->big, site->big_len);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing", port);
    snprintf(out, sizeof out, "%s/missing.out", dir);
    c = curl_get(0, url, out);
    said = legacy_out(c);
    cr_expect(!strncmp(said, "404 ", 4), "%s %s: curl says %s", what, mode(patched), said);
    free(said);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/small.html", port);
    return wrk_run(url);
}

/* ------------------------------------------------------------------ redis */

/* redis-server on a free port, logging to its stdout. */
static struct legacy *redis_start(int patched, const char *dir, int *port)
{
    static char portstr[16];
    struct legacy *r;

    *port = free_port();
    snprintf(portstr, sizeof portstr, "%d", *port);
    r = start(patched, NULL, REDIS_SERVER, "--port", portstr, "--bind", "127.0.0.1", "--save",
              "", "--appendonly", "no", "--daemonize", "no", "--dir", dir, NULL);
    port_wait(r, *port, 10);
    return r;
}

/* redis-benchmark's "NAME: N requests per second" figure for test name; 0 if missing. */
static double bench_rps(const char *out, const char *name)
{
    char key[32];
    double rps = 0, v;

    snprintf(key, sizeof key, "%s: ", name);
    for (const char *p = strstr(out, key); p; p = strstr(p + 1, key))
        if (sscanf(p + strlen(key), "%lf requests per second", &v) == 1)
            rps = v;
    return rps;
}

/* Run redis-benchmark (patched or not) against port: n requests of SET and GET from 50
 * clients.  Fills rps[0] (SET) and rps[1] (GET). */
static void redis_bench(int patched, int port, const char *n, double rps[2])
{
    char portstr[16], *out;
    struct legacy *b;

    snprintf(portstr, sizeof portstr, "%d", port);
    b = start(patched, NULL, REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", portstr, "-n", n, "-c",
              "50", "-t", "set,get", "-q", NULL);
    finish(b, 20);
    out = legacy_out(b);
    assert_exit(b, 0, out);
    rps[0] = bench_rps(out, "SET");
    rps[1] = bench_rps(out, "GET");
    cr_assert(rps[0] > 0 && rps[1] > 0, "redis-benchmark (%s): no SET/GET figures:\n%s",
              mode(patched), out);
    free(out);
}

/* A redis-cli script (stdin) and the exact output a non-interactive redis-cli prints for
 * it: an emptied database, distinct SET/GET pairs, a missing key, a counter, a list and a
 * 64 KiB value. */
static void redis_script(char **script, char **expect)
{
    size_t cap = 256 * 1024;
    char *s = malloc(cap), *e = malloc(cap), *big = make_text(65536, 3);
    size_t sn = 0, en = 0;

    cr_assert(s && e);
    for (size_t i = 0; i < 65536; i++)
        if (big[i] == ' ' || big[i] == '\n')
            big[i] = '_';
    sn += (size_t)snprintf(s + sn, cap - sn, "FLUSHALL\n");
    en += (size_t)snprintf(e + en, cap - en, "OK\n");
    for (int i = 0; i < 200; i++) {
        sn += (size_t)snprintf(s + sn, cap - sn, "SET key:%d value-%d-%x\nGET key:%d\n", i, i,
                               i * 2654435761u, i);
        en += (size_t)snprintf(e + en, cap - en, "OK\nvalue-%d-%x\n", i, i * 2654435761u);
    }
    sn += (size_t)snprintf(s + sn, cap - sn, "GET missing\nINCRBY counter 7\nINCRBY counter 35\n"
                                             "RPUSH list a b c\nLRANGE list 0 -1\n"
                                             "SET big %s\nSTRLEN big\nGET big\nDEL big\n", big);
    en += (size_t)snprintf(e + en, cap - en, "\n7\n42\n3\na\nb\nc\nOK\n65536\n%s\n1\n", big);
    free(big);
    *script = s;
    *expect = e;
}

/* redis-cli (patched or not) runs the script against port; its output must be expect. */
static void redis_cli_script(int patched, int port, const char *script, const char *expect)
{
    char portstr[16], *out, *all;
    struct legacy *c;
    size_t i = 0;

    snprintf(portstr, sizeof portstr, "%d", port);
    c = start(patched, script, REDIS_CLI, "-h", "127.0.0.1", "-p", portstr, NULL);
    finish(c, 15);
    out = legacy_stdout(c);
    all = legacy_out(c);
    expect_exit(c, 0, all);
    while (out[i] && out[i] == expect[i])
        i++;
    cr_expect(strcmp(out, expect) == 0,
              "redis-cli (%s): output differs from the expected replies at byte %zu (%zu "
              "bytes, want %zu); there it says:\n%.200s\nstderr:\n%s", mode(patched), i,
              strlen(out), strlen(expect), out + i, strstr(all, "--- stderr ---") ?: "");
    free(out);
    free(all);
}

Test(real, redis_server_patched_serves_benchmark_and_cli_exactly)
{
    const char *dir = workdir("redis");
    double rps[2][2];
    int status[2], threads[2];
    char *log[2], *script, *expect;

    redis_script(&script, &expect);
    for (int patched = 0; patched < 2; patched++) {
        int port;
        struct legacy *r = redis_start(patched, dir, &port);

        redis_bench(0, port, "20000", rps[patched]);
        redis_cli_script(0, port, script, expect);
        if (patched)
            redis_cli_script(1, port, script, expect);
        threads[patched] = os_threads(r->pid);
        cr_expect(legacy_reap(r) == 0, "redis-server (%s) ended during the test", mode(patched));
        cr_expect_eq(stop(r, SIGTERM), 0, "redis-server left processes behind");
        status[patched] = r->status;
        log[patched] = legacy_out(r);
    }
    cr_log_info("redis-benchmark -n 20000 -c 50 (unpatched client): redis-server unpatched "
                "SET %.0f GET %.0f req/s (%d OS threads), patched SET %.0f GET %.0f req/s "
                "(%d OS threads)",
                rps[0][0], rps[0][1], threads[0], rps[1][0], rps[1][1], threads[1]);
    cr_expect_exited(status[0], 0, log[0]);
    expect_same_status("redis-server stopped by SIGTERM", status[0], status[1], log[1]);
    expect_no_new_errors("redis-server log", log[0], log[1], redis_warning);
    free(script);
    free(expect);
    free(log[0]);
    free(log[1]);
}

Test(real, redis_cli_and_benchmark_patched_as_unpatched)
{
    const char *dir = workdir("rediscli");
    char *script, *expect, portstr[16];
    double rps[2];
    int port;

    redis_script(&script, &expect);
    redis_start(0, dir, &port);
    redis_cli_script(0, port, script, expect);
    redis_cli_script(1, port, script, expect);

    /* Commands in argv, and a port nobody listens on: same words, same exit status. */
    snprintf(portstr, sizeof portstr, "%d", port);
    for (int patched = 0; patched < 2; patched++) {
        struct legacy *s, *g;
        char *so, *go;

        s = start(patched, NULL, REDIS_CLI, "-h", "127.0.0.1", "-p", portstr, "SET", "argv key",
                  "value with spaces\001", NULL);
        finish(s, 10);
        g = start(patched, NULL, REDIS_CLI, "-h", "127.0.0.1", "-p", portstr, "GET", "argv key",
                  NULL);
        finish(g, 10);
        so = legacy_out(s);
        go = legacy_out(g);
        cr_expect_str_eq(so, "OK\n", "redis-cli SET (%s) printed:\n%s", mode(patched), so);
        cr_expect_str_eq(go, "value with spaces\001\n", "redis-cli GET (%s) printed:\n%s",
                         mode(patched), go);
        free(so);
        free(go);
    }
    snprintf(portstr, sizeof portstr, "%d", free_port());
    same_both_ways("redis-cli against a closed port", 1, 10, REDIS_CLI, "-h", "127.0.0.1", "-p",
                   portstr, "PING", NULL);
    free(script);
    free(expect);

    redis_bench(1, port, "5000", rps);
    cr_log_info("redis-benchmark patched -n 5000 -c 50 against unpatched redis-server: "
                "SET %.0f GET %.0f req/s", rps[0], rps[1]);
}

/* ------------------------------------------------------------------ nginx */

static void nginx_conf(const char *dir, const char *www, int master, int port)
{
    char path[256], conf[2048];
    int n;

    n = snprintf(conf, sizeof conf,
                 "daemon off;\n"
                 "master_process %s;\n"
                 "worker_processes 1;\n"
                 "pid %s/nginx.pid;\n"
                 "error_log %s/error.log info;\n"
                 "events { worker_connections 512; }\n"
                 "http {\n"
                 "  access_log off;\n"
                 "  client_body_temp_path %s/tmp-body;\n"
                 "  proxy_temp_path %s/tmp-proxy;\n"
                 "  fastcgi_temp_path %s/tmp-fastcgi;\n"
                 "  uwsgi_temp_path %s/tmp-uwsgi;\n"
                 "  scgi_temp_path %s/tmp-scgi;\n"
                 "  server { listen 127.0.0.1:%d; root %s; }\n"
                 "}\n",
                 master ? "on" : "off", dir, dir, dir, dir, dir, dir, dir, port, www);
    cr_assert_lt(n, (int)sizeof conf);
    snprintf(path, sizeof path, "%s/nginx.conf", dir);
    file_put(path, conf, (size_t)n);
}

/* nginx (master process on or off) serving a 1 MiB file to curl, patched and not, byte for
 * byte, a missing one as 404, and a small one to wrk for 2 s; run unpatched, then patched,
 * then compared. */
static void nginx_case(int master)
{
    const char *dir = workdir(master ? "nginx-master" : "nginx-single");
    struct site site;
    struct wrk w[2];
    int status[2], left[2];
    char *log[2], errlog[256], what[64];

    site_make(&site, dir);
    snprintf(errlog, sizeof errlog, "%s/error.log", dir);
    snprintf(what, sizeof what, "nginx (master_process %s)", master ? "on" : "off");
    for (int patched = 0; patched < 2; patched++) {
        int port = free_port();
        char conf[256], prefix[256], *out;
        struct legacy *n;

        nginx_conf(dir, site.www, master, port);
        unlink(errlog);
        snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
        snprintf(prefix, sizeof prefix, "%s/", dir);
        n = start(patched, NULL, NGINX, "-p", prefix, "-c", conf, "-e", errlog, NULL);
        port_wait(n, port, 10);
        w[patched] = site_check(what, patched, dir, &site, port);

        cr_expect(legacy_reap(n) == 0, "%s %s ended during the test", what, mode(patched));
        left[patched] = stop(n, SIGQUIT);
        status[patched] = n->status;
        log[patched] = file_get(errlog, NULL);
        if (!log[patched])
            log[patched] = strdup("");
        out = legacy_out(n);
        cr_expect_str_empty(out, "%s %s printed:\n%s", what, mode(patched), out);
        free(out);
    }
    cr_log_info("%s, wrk -t1 -c50 -d2s on a 4 KiB file: unpatched %.0f req/s (%ld requests, "
                "%ld non-2xx), patched %.0f req/s (%ld requests, %ld non-2xx); socket errors "
                "patched: connect %ld read %ld write %ld timeout %ld",
                what, w[0].rps, w[0].requests, w[0].non2xx, w[1].rps, w[1].requests, w[1].non2xx,
                w[1].connect_err, w[1].read_err, w[1].write_err, w[1].timeout_err);
    for (int patched = 0; patched < 2; patched++) {
        cr_expect_eq(w[patched].non2xx, 0, "%s %s: %ld non-2xx answers to wrk", what,
                     mode(patched), w[patched].non2xx);
        cr_expect(w[patched].connect_err == 0 && w[patched].timeout_err == 0 &&
                      w[patched].write_err == 0,
                  "%s %s: wrk saw socket errors: connect %ld, write %ld, timeout %ld", what,
                  mode(patched), w[patched].connect_err, w[patched].write_err,
                  w[patched].timeout_err);
        cr_expect_gt(w[patched].requests, 100, "%s %s: wrk got only %ld answers in 2 s", what,
                     mode(patched), w[patched].requests);
        cr_expect_eq(left[patched], 0, "%s %s: %d process(es) outlived the master", what,
                     mode(patched), left[patched]);
    }
    cr_expect_exited(status[0], 0, log[0]);
    expect_same_status(what, status[0], status[1], log[1]);
    expect_no_new_errors(what, log[0], log[1], nginx_warning);
    free(log[0]);
    free(log[1]);
}

Test(real, nginx_single_process_patched_serves_wrk_and_curl)
{
    nginx_case(0);
}

Test(real, nginx_master_and_worker_patched_serve_wrk_and_curl)
{
    nginx_case(1);
}

/* ------------------------------------------------------------------- curl */

Test(real, curl_patched_downloads_as_unpatched)
{
    const char *dir = workdir("curl");
    struct site site;
    struct legacy *h, *c[2];
    char portstr[32], url[3][128], out[3][256], *so[2], *se[2];
    int port;

    site_make(&site, dir);
    port = free_port();
    snprintf(portstr, sizeof portstr, "127.0.0.1:%d", port);
    h = start(0, NULL, BUSYBOX, "httpd", "-f", "-p", portstr, "-h", site.www, NULL);
    port_wait(h, port, 10);

    /* One file, by address and by name (getaddrinfo on curl's resolver thread). */
    snprintf(url[0], sizeof url[0], "http://127.0.0.1:%d/big.bin", port);
    curl_check(dir, url[0], site.big, site.big_len);
    snprintf(url[1], sizeof url[1], "http://localhost:%d/small.html", port);
    for (int patched = 0; patched < 2; patched++) {
        snprintf(out[0], sizeof out[0], "%s/name-%s.out", dir, mode(patched));
        c[patched] = start(patched, NULL, CURL, "-4", "-sS", "--max-time", "10", "-o", out[0],
                           url[1], NULL);
        finish(c[patched], 15);
        se[patched] = legacy_out(c[patched]);
        expect_exit(c[patched], 0, se[patched]);
        expect_file("curl -4 localhost", out[0], site.small, site.small_len);
        free(se[patched]);
    }

    /* Three transfers at once (--parallel: curl's own poll loop). */
    snprintf(url[1], sizeof url[1], "http://127.0.0.1:%d/small.html", port);
    snprintf(url[2], sizeof url[2], "http://127.0.0.1:%d/missing", port);
    for (int patched = 0; patched < 2; patched++) {
        for (int i = 0; i < 3; i++)
            snprintf(out[i], sizeof out[i], "%s/par%d-%s.out", dir, i, mode(patched));
        c[patched] = start(patched, NULL, CURL, "-sS", "--no-progress-meter", "--parallel",
                           "--max-time", "10", "-w",
                           "%{url} %{http_code} %{size_download}\n", "-o", out[0], url[0], "-o",
                           out[1], url[1], "-o", out[2], url[2], NULL);
        finish(c[patched], 15);
        so[patched] = legacy_stdout(c[patched]);
        se[patched] = legacy_out(c[patched]);
        expect_exit(c[patched], 0, se[patched]);
        expect_file("curl --parallel big.bin", out[0], site.big, site.big_len);
        expect_file("curl --parallel small.html", out[1], site.small, site.small_len);
    }
    /* Transfers end in any order: compare the sets of lines. */
    for (int i = 0; i < 3; i++) {
        char line[512];
        snprintf(line, sizeof line, "%s %s", url[i],
                 i == 0 ? "200 1048699\n" : i == 1 ? "200 4096\n" : "404 ");
        for (int patched = 0; patched < 2; patched++)
            cr_expect(strstr(so[patched], line), "curl --parallel (%s): no line \"%s\" in\n%s",
                      mode(patched), line, so[patched]);
    }
    expect_no_new_errors("curl --parallel", se[0], se[1], any_line);
    for (int i = 0; i < 2; i++) {
        free(so[i]);
        free(se[i]);
    }

    /* A 404 with --fail, and a port nobody listens on: same exit code, same words. */
    snprintf(url[0], sizeof url[0], "http://127.0.0.1:%d/missing", port);
    snprintf(url[1], sizeof url[1], "http://127.0.0.1:%d/", free_port());
    for (int k = 0; k < 2; k++)
        same_both_ways(url[k], k == 0 ? 22 : 7, 15, CURL, "-sS", "--fail", "--max-time", "10",
                       "-o", "/dev/null", url[k], NULL);
}

/* ------------------------------------------------------------------ socat */

/* One echo client: sends its payload, half-closes, reads until end of file. */
struct echo {
    int fd;
    char *out, *in;
    size_t len, sent, got;
    int eof, shut;
};

/* n clients connect to port at once and each sends its own payload (binary, 1 KiB to
 * ~190 KiB) through an echo service, half-closes and reads everything back; returns how
 * many got exactly their payload back before timeout_s, the first failure in err. */
static int echo_clients(int port, int n, double timeout_s, char *err, size_t errlen)
{
    struct echo *e = calloc((size_t)n, sizeof *e);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    double end = now_s() + timeout_s;
    int active = 0, good = 0;

    cr_assert(e && pf);
    err[0] = 0;
    for (int i = 0; i < n; i++) {
        e[i].len = 1024 + (size_t)i * 10007;
        e[i].out = make_bytes(e[i].len, 100 + (unsigned)i);
        e[i].in = malloc(e[i].len + 1);
        e[i].fd = tcp_connect(port);
        cr_assert_geq(e[i].fd, 0, "client %d: connect to %d: %s", i, port, strerror(errno));
        fcntl(e[i].fd, F_SETFL, O_NONBLOCK);
        active++;
    }
    while (active > 0) {
        int left_ms = (int)((end - now_s()) * 1000);

        if (left_ms <= 0) {
            if (!err[0])
                snprintf(err, errlen, "%d of %d clients unfinished after %.1f s", active, n,
                         timeout_s);
            break;
        }
        for (int i = 0; i < n; i++) {
            pf[i].fd = e[i].eof ? -1 : e[i].fd;
            pf[i].events = (short)(POLLIN | (e[i].sent < e[i].len ? POLLOUT : 0));
            pf[i].revents = 0;
        }
        if (poll(pf, (nfds_t)n, left_ms < 500 ? left_ms : 500) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct echo *c = &e[i];
            ssize_t k;

            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            if (c->sent < c->len) {
                k = send(c->fd, c->out + c->sent, c->len - c->sent, MSG_NOSIGNAL);
                if (k > 0)
                    c->sent += (size_t)k;
            }
            if (c->sent == c->len && !c->shut) {
                shutdown(c->fd, SHUT_WR);
                c->shut = 1;
            }
            for (;;) {
                char buf[65536];
                size_t room = c->len - c->got;
                k = recv(c->fd, room ? c->in + c->got : buf, room ? room : sizeof buf, 0);
                if (k > 0 && room) {
                    c->got += (size_t)k;
                    continue;
                }
                if (k > 0) {
                    if (!err[0])
                        snprintf(err, errlen, "client %d: more bytes back than sent", i);
                    c->got = c->len + 1;
                    continue;
                }
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                c->eof = 1;
                active--;
                if (k < 0 && !err[0])
                    snprintf(err, errlen, "client %d: recv: %s after %zu of %zu bytes", i,
                             strerror(errno), c->got, c->len);
                else if (c->got == c->len && !memcmp(c->in, c->out, c->len))
                    good++;
                else if (!err[0])
                    snprintf(err, errlen, "client %d: %zu bytes back for %zu sent (%s)", i,
                             c->got, c->len, c->got == c->len ? "different bytes" : "short");
                break;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        close(e[i].fd);
        free(e[i].out);
        free(e[i].in);
    }
    free(e);
    free(pf);
    return good;
}

/* socat TCP-LISTEN:port,fork,reuseaddr,bind=127.0.0.1 EXEC:cat.  The backlog is raised
 * from socat's 5 so that 20 clients connecting at once are not left to the kernel's 1 s
 * SYN retransmission. */
static struct legacy *socat_echo(int patched, int *port)
{
    char listen[96];
    struct legacy *s;

    *port = free_port();
    snprintf(listen, sizeof listen, "TCP-LISTEN:%d,fork,reuseaddr,bind=127.0.0.1,backlog=64",
             *port);
    s = start(patched, NULL, SOCAT, listen, "EXEC:cat", NULL);
    port_wait(s, *port, 10);
    return s;
}

Test(real, socat_fork_patched_echoes_20_concurrent_clients)
{
    int status[2], zombies[2], kids[2];
    double took[2];
    char *err[2];

    for (int patched = 0; patched < 2; patched++) {
        char msg[512];
        int port, good;
        struct legacy *s = socat_echo(patched, &port);
        double t0 = now_s(), end;

        good = echo_clients(port, 20, 15, msg, sizeof msg);
        took[patched] = now_s() - t0;
        cr_expect_eq(good, 20, "socat fork (%s): %d of 20 clients got their bytes back; %s",
                     mode(patched), good, msg);
        /* Every connection's child ends and is reaped once its client is done. */
        end = now_s() + 5;
        while ((kids[patched] = child_processes(s->pid, &zombies[patched])) > 0 && now_s() < end)
            sleep_s(0.02);
        cr_expect(legacy_reap(s) == 0, "socat (%s) ended during the test", mode(patched));
        cr_expect_eq(stop(s, SIGTERM), 0, "socat (%s) left processes behind", mode(patched));
        status[patched] = s->status;
        err[patched] = legacy_out(s);
    }
    cr_log_info("socat fork, 20 concurrent clients echoing 1 KiB .. 191 KiB each: unpatched "
                "%.3f s, patched %.3f s", took[0], took[1]);
    cr_expect_eq(kids[1], kids[0], "socat fork: %d children (%d zombies) left 5 s after the "
                 "clients, unpatched %d (%d zombies)", kids[1], zombies[1], kids[0], zombies[0]);
    expect_same_status("socat fork stopped by SIGTERM", status[0], status[1], err[1]);
    expect_no_new_errors("socat fork", err[0], err[1], any_line);
    free(err[0]);
    free(err[1]);
}

Test(real, socat_client_patched_as_unpatched)
{
    char *payload = make_text(300000, 5), target[64], *out[2];
    struct legacy *c[2];
    int port;

    socat_echo(0, &port);
    snprintf(target, sizeof target, "TCP:127.0.0.1:%d", port);
    for (int patched = 0; patched < 2; patched++) {
        char *so;

        c[patched] = start(patched, payload, SOCAT, "-t", "5", "-", target, NULL);
        finish(c[patched], 15);
        so = legacy_stdout(c[patched]);
        out[patched] = legacy_out(c[patched]);
        expect_exit(c[patched], 0, out[patched]);
        cr_expect(strcmp(so, payload) == 0, "socat client (%s): %zu bytes back for %zu sent",
                  mode(patched), strlen(so), strlen(payload));
        free(so);
        free(out[patched]);
    }

    /* Nobody listening: same exit status, same message. */
    snprintf(target, sizeof target, "TCP:127.0.0.1:%d", free_port());
    same_both_ways("socat to a closed port", 1, 5, SOCAT, "-", target, NULL);
    free(payload);
}

/* ---------------------------------------------------------- busybox httpd */

Test(real, busybox_httpd_patched_serves_curl_and_wrk)
{
    const char *dir = workdir("busybox");
    struct site site;
    struct wrk w[2];
    int status[2], left[2];
    char *err[2];

    site_make(&site, dir);
    for (int patched = 0; patched < 2; patched++) {
        char addr[64];
        int port = free_port();
        struct legacy *h;

        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        h = start(patched, NULL, BUSYBOX, "httpd", "-f", "-p", addr, "-h", site.www, NULL);
        port_wait(h, port, 10);
        w[patched] = site_check("busybox httpd", patched, dir, &site, port);
        cr_expect(legacy_reap(h) == 0, "busybox httpd (%s) ended during the test",
                  mode(patched));
        left[patched] = stop(h, SIGTERM);
        status[patched] = h->status;
        err[patched] = legacy_out(h);
    }
    cr_log_info("busybox httpd (fork per connection), wrk -t1 -c50 -d2s on a 4 KiB file: "
                "unpatched %.0f req/s (%ld requests, %ld non-2xx), patched %.0f req/s (%ld "
                "requests, %ld non-2xx)",
                w[0].rps, w[0].requests, w[0].non2xx, w[1].rps, w[1].requests, w[1].non2xx);
    for (int patched = 0; patched < 2; patched++) {
        cr_expect_eq(w[patched].non2xx, 0, "busybox httpd %s: %ld non-2xx answers to wrk",
                     mode(patched), w[patched].non2xx);
        cr_expect_gt(w[patched].requests, 100, "busybox httpd %s: wrk got only %ld answers",
                     mode(patched), w[patched].requests);
        cr_expect_eq(left[patched], 0, "busybox httpd %s: %d process(es) outlived it",
                     mode(patched), left[patched]);
    }
    expect_same_status("busybox httpd stopped by SIGTERM", status[0], status[1], err[1]);
    expect_no_new_errors("busybox httpd", err[0], err[1], any_line);
    free(err[0]);
    free(err[1]);
}
