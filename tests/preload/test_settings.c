/*
 * test_settings.c — every GREEN_* setting given garbage, huge, negative, empty, boundary,
 * very long and non-UTF-8 values, in a legacy program run patched.
 *
 * Each row of the table below is one value of one variable and what must happen:
 *   REJECT: exit status 2 before main (the program printed nothing), and exactly one line
 *           on stderr that names the variable, shows the value (escaped: bytes outside
 *           printable ASCII, quote and backslash as \xNN; a long value by its first bytes)
 *           and says what is accepted (the row's text);
 *   ACCEPT: the program runs normally: exit 0 and the same stdout as an unpatched run, and
 *           no complaint on stderr.
 * A row with a repeat count stands for a very long value: its value repeated that many
 * times, then its tail (64 KiB values, so a message that printed the whole value would
 * lose the part that says what is accepted).
 *
 * Adding a variable is one block of rows.
 *
 * The program is probe_thread's join_values scenario: it starts and joins threads, so a
 * stack size at either bound really runs on such stacks.
 */
#include "common.h"

#include <criterion/parameterized.h>

enum expect { REJECT, ACCEPT };

/* Inline arrays, not pointers: a parameterized test gets a copy of its row. */
struct row {
    char var[24];
    char value[64];
    unsigned repeat;  /* >0: value repeated this many times, then tail */
    char tail[16];
    enum expect expect;
    char accepted[48]; /* REJECT: text of the "what is accepted" part */
};

#define PATCH_OK "comma-separated list of socket, select, time"
#define SIZE_OK "give a size from 16k to 1g"
#define DEBUG_OK "give 0 or 1"
#define STATS_OK "give 1 for a report at exit, or 0"
#define DUMP_OK "give a signal by name or number"
#define WARN_OK "give a number of milliseconds from 1 to 3600000"

#define R(var, value, expect, accepted) {var, value, 0, "", expect, accepted}
#define LONG(var, value, repeat, tail, expect, accepted) \
    {var, value, repeat, tail, expect, accepted}

/* GREEN_PATCH: a comma-separated list of family names, "all" or "none", each optionally
 * prefixed with "-"; names are lower case, nothing around them. */
#define PATCH_ROWS                                                                          \
    R("GREEN_PATCH", "all", ACCEPT, ""), R("GREEN_PATCH", "none", ACCEPT, ""),             \
    R("GREEN_PATCH", "all,-thread", ACCEPT, ""), R("GREEN_PATCH", "-thread", ACCEPT, ""),  \
    R("GREEN_PATCH", "socket,socket", ACCEPT, ""),                                          \
    R("GREEN_PATCH", "none,time,-time,thread", ACCEPT, ""),                                 \
    R("GREEN_PATCH", "socket,select,time,thread,process,dns,stdio", ACCEPT, ""),            \
    LONG("GREEN_PATCH", "socket,", 9362, "all", ACCEPT, ""),                                \
    R("GREEN_PATCH", "", REJECT, PATCH_OK), R("GREEN_PATCH", ",", REJECT, PATCH_OK),       \
    R("GREEN_PATCH", "-", REJECT, PATCH_OK), R("GREEN_PATCH", "all,-", REJECT, PATCH_OK),  \
    R("GREEN_PATCH", "all,,x", REJECT, PATCH_OK),                                           \
    R("GREEN_PATCH", "all,,socket", REJECT, PATCH_OK),                                      \
    R("GREEN_PATCH", "all,", REJECT, PATCH_OK), R("GREEN_PATCH", ",all", REJECT, PATCH_OK), \
    R("GREEN_PATCH", "ALL", REJECT, PATCH_OK), R("GREEN_PATCH", "Socket", REJECT, PATCH_OK), \
    R("GREEN_PATCH", " all", REJECT, PATCH_OK), R("GREEN_PATCH", "all ", REJECT, PATCH_OK), \
    R("GREEN_PATCH", "all, thread", REJECT, PATCH_OK),                                      \
    R("GREEN_PATCH", "all;thread", REJECT, PATCH_OK),                                       \
    R("GREEN_PATCH", "--thread", REJECT, PATCH_OK),                                         \
    R("GREEN_PATCH", "+thread", REJECT, PATCH_OK),                                          \
    R("GREEN_PATCH", "threads", REJECT, PATCH_OK),                                          \
    R("GREEN_PATCH", "abc", REJECT, PATCH_OK), R("GREEN_PATCH", "1", REJECT, PATCH_OK),    \
    R("GREEN_PATCH", "-1", REJECT, PATCH_OK), R("GREEN_PATCH", "0", REJECT, PATCH_OK),     \
    R("GREEN_PATCH", "all\nthread", REJECT, PATCH_OK),                                      \
    R("GREEN_PATCH", "soc\xff\xfeket", REJECT, PATCH_OK),                                   \
    R("GREEN_PATCH", "th\xc3\xa9read", REJECT, PATCH_OK),                                   \
    LONG("GREEN_PATCH", "a", 65536, "", REJECT, PATCH_OK),                                  \
    LONG("GREEN_PATCH", "socket,", 9362, "al", REJECT, PATCH_OK)

/* GREEN_STACK_SIZE: a decimal number of bytes from 16k to 1g, optionally with a k, m or g
 * suffix (and b or ib after it), rounded up to whole pages. */
#define STACK_ROWS                                                                          \
    R("GREEN_STACK_SIZE", "16k", ACCEPT, ""), R("GREEN_STACK_SIZE", "16384", ACCEPT, ""),  \
    R("GREEN_STACK_SIZE", "16385", ACCEPT, ""), R("GREEN_STACK_SIZE", "1g", ACCEPT, ""),   \
    R("GREEN_STACK_SIZE", "1073741824", ACCEPT, ""),                                        \
    R("GREEN_STACK_SIZE", "1024M", ACCEPT, ""), R("GREEN_STACK_SIZE", "512KiB", ACCEPT, ""), \
    R("GREEN_STACK_SIZE", "512kb", ACCEPT, ""), R("GREEN_STACK_SIZE", "0016k", ACCEPT, ""), \
    R("GREEN_STACK_SIZE", "16383", REJECT, SIZE_OK),                                        \
    R("GREEN_STACK_SIZE", "15k", REJECT, SIZE_OK),                                          \
    R("GREEN_STACK_SIZE", "1073741825", REJECT, SIZE_OK),                                   \
    R("GREEN_STACK_SIZE", "1025m", REJECT, SIZE_OK),                                        \
    R("GREEN_STACK_SIZE", "2g", REJECT, SIZE_OK), R("GREEN_STACK_SIZE", "0", REJECT, SIZE_OK), \
    R("GREEN_STACK_SIZE", "", REJECT, SIZE_OK), R("GREEN_STACK_SIZE", "abc", REJECT, SIZE_OK), \
    R("GREEN_STACK_SIZE", "1x", REJECT, SIZE_OK), R("GREEN_STACK_SIZE", " 1", REJECT, SIZE_OK), \
    R("GREEN_STACK_SIZE", " 64k", REJECT, SIZE_OK),                                         \
    R("GREEN_STACK_SIZE", "64k ", REJECT, SIZE_OK),                                         \
    R("GREEN_STACK_SIZE", "64 k", REJECT, SIZE_OK),                                         \
    R("GREEN_STACK_SIZE", "+64k", REJECT, SIZE_OK),                                         \
    R("GREEN_STACK_SIZE", "64kk", REJECT, SIZE_OK),                                         \
    R("GREEN_STACK_SIZE", "64t", REJECT, SIZE_OK), R("GREEN_STACK_SIZE", "k", REJECT, SIZE_OK), \
    R("GREEN_STACK_SIZE", "64.5k", REJECT, SIZE_OK),                                        \
    R("GREEN_STACK_SIZE", "0x10000", REJECT, SIZE_OK),                                      \
    R("GREEN_STACK_SIZE", "-1", REJECT, SIZE_OK), R("GREEN_STACK_SIZE", "-0", REJECT, SIZE_OK), \
    R("GREEN_STACK_SIZE", "-64k", REJECT, SIZE_OK),                                         \
    R("GREEN_STACK_SIZE", "99999999999999999999", REJECT, SIZE_OK),                         \
    R("GREEN_STACK_SIZE", "18446744073709551615", REJECT, SIZE_OK),                         \
    R("GREEN_STACK_SIZE", "18446744073709551616", REJECT, SIZE_OK),                         \
    R("GREEN_STACK_SIZE", "17179869184k", REJECT, SIZE_OK),                                 \
    R("GREEN_STACK_SIZE", "16777216g", REJECT, SIZE_OK),                                    \
    R("GREEN_STACK_SIZE", "64k\n", REJECT, SIZE_OK),                                        \
    R("GREEN_STACK_SIZE", "64\xff", REJECT, SIZE_OK),                                       \
    LONG("GREEN_STACK_SIZE", "1", 65536, "", REJECT, SIZE_OK),                              \
    LONG("GREEN_STACK_SIZE", "0", 65536, "16k", ACCEPT, "")

/* GREEN_DEBUG: exactly 0 or 1. */
#define DEBUG_ROWS                                                                          \
    R("GREEN_DEBUG", "0", ACCEPT, ""), R("GREEN_DEBUG", "1", ACCEPT, ""),                  \
    R("GREEN_DEBUG", "", REJECT, DEBUG_OK), R("GREEN_DEBUG", "2", REJECT, DEBUG_OK),       \
    R("GREEN_DEBUG", "-1", REJECT, DEBUG_OK), R("GREEN_DEBUG", "-0", REJECT, DEBUG_OK),    \
    R("GREEN_DEBUG", "01", REJECT, DEBUG_OK), R("GREEN_DEBUG", " 1", REJECT, DEBUG_OK),    \
    R("GREEN_DEBUG", "1 ", REJECT, DEBUG_OK), R("GREEN_DEBUG", "1x", REJECT, DEBUG_OK),    \
    R("GREEN_DEBUG", "0x1", REJECT, DEBUG_OK), R("GREEN_DEBUG", "yes", REJECT, DEBUG_OK),  \
    R("GREEN_DEBUG", "true", REJECT, DEBUG_OK), R("GREEN_DEBUG", "abc", REJECT, DEBUG_OK), \
    R("GREEN_DEBUG", "99999999999999999999", REJECT, DEBUG_OK),                             \
    R("GREEN_DEBUG", "\xff", REJECT, DEBUG_OK),                                             \
    LONG("GREEN_DEBUG", "1", 65536, "", REJECT, DEBUG_OK)

/* The diagnostics' settings (runtime/config.c): GREEN_STATS 0 or 1, GREEN_DUMP_SIGNAL a
 * signal by name or number (0: off), GREEN_BLOCK_WARN_MS milliseconds (0: off). */
#define DIAG_ROWS                                                                           \
    R("GREEN_STATS", "0", ACCEPT, ""), R("GREEN_STATS", "1", ACCEPT, ""),                  \
    R("GREEN_STATS", "", REJECT, STATS_OK), R("GREEN_STATS", "2", REJECT, STATS_OK),                   \
    R("GREEN_STATS", "-1", REJECT, STATS_OK), R("GREEN_STATS", "yes", REJECT, STATS_OK),               \
    R("GREEN_STATS", "1 ", REJECT, STATS_OK), LONG("GREEN_STATS", "1", 65536, "", REJECT, STATS_OK),   \
    R("GREEN_DUMP_SIGNAL", "SIGUSR2", ACCEPT, ""), R("GREEN_DUMP_SIGNAL", "USR2", ACCEPT, ""), \
    R("GREEN_DUMP_SIGNAL", "12", ACCEPT, ""), R("GREEN_DUMP_SIGNAL", "", REJECT, DUMP_OK),      \
    R("GREEN_DUMP_SIGNAL", "0", ACCEPT, ""), R("GREEN_DUMP_SIGNAL", "-1", REJECT, DUMP_OK),     \
    R("GREEN_DUMP_SIGNAL", "65", REJECT, DUMP_OK), R("GREEN_DUMP_SIGNAL", "SIGKILL", REJECT, DUMP_OK), \
    R("GREEN_DUMP_SIGNAL", "9", REJECT, DUMP_OK), R("GREEN_DUMP_SIGNAL", "SIGSTOP", REJECT, DUMP_OK), \
    R("GREEN_DUMP_SIGNAL", "SIGFOO", REJECT, DUMP_OK), R("GREEN_DUMP_SIGNAL", "12x", REJECT, DUMP_OK), \
    R("GREEN_DUMP_SIGNAL", "99999999999999999999", REJECT, DUMP_OK),                             \
    LONG("GREEN_DUMP_SIGNAL", "U", 65536, "", REJECT, DUMP_OK),                                  \
    R("GREEN_BLOCK_WARN_MS", "0", ACCEPT, ""), R("GREEN_BLOCK_WARN_MS", "1", ACCEPT, ""),  \
    R("GREEN_BLOCK_WARN_MS", "3600000", ACCEPT, ""),                                        \
    R("GREEN_BLOCK_WARN_MS", "3600001", REJECT, WARN_OK),                                        \
    R("GREEN_BLOCK_WARN_MS", "", REJECT, WARN_OK), R("GREEN_BLOCK_WARN_MS", "-1", REJECT, WARN_OK),  \
    R("GREEN_BLOCK_WARN_MS", "-0", REJECT, WARN_OK), R("GREEN_BLOCK_WARN_MS", "1x", REJECT, WARN_OK), \
    R("GREEN_BLOCK_WARN_MS", " 1", REJECT, WARN_OK), R("GREEN_BLOCK_WARN_MS", "0x10", REJECT, WARN_OK), \
    R("GREEN_BLOCK_WARN_MS", "18446744073709551616", REJECT, WARN_OK),                           \
    LONG("GREEN_BLOCK_WARN_MS", "9", 65536, "", REJECT, WARN_OK),

static struct row rows[] = {DIAG_ROWS PATCH_ROWS, STACK_ROWS, DEBUG_ROWS};

/* The value a row stands for, malloc'd. */
static char *row_value(const struct row *r)
{
    size_t n = strlen(r->value), t = strlen(r->tail), reps = r->repeat ? r->repeat : 1;
    char *v = malloc(n * reps + t + 1), *p = v;

    cr_assert_not_null(v);
    for (size_t i = 0; i < reps; i++, p += n)
        memcpy(p, r->value, n);
    memcpy(p, r->tail, t + 1);
    return v;
}

/* How the message shows the first len bytes of v (see the top of the file). */
static void escaped(const char *v, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        out += c >= 32 && c < 127 && c != '"' && c != '\\' ? sprintf(out, "%c", c)
                                                            : sprintf(out, "\\x%02x", c);
    }
}

/* A short label for failure messages: the variable and the value's first bytes. */
static void label(const char *var, const char *v, char *out)
{
    size_t len = strlen(v);
    char *p = out + sprintf(out, "%s=\"", var);

    escaped(v, len < 40 ? len : 40, p);
    strcat(out, len > 40 ? "...\"" : "\"");
}

static char *run(const char *var, const char *value, int patched, struct legacy *p)
{
    char *env = malloc(strlen(var) + strlen(value) + 2);
    const char *envv[] = {env, NULL};
    struct legacy_opts o = {.patched = patched, .env = envv};
    char *out;

    cr_assert_not_null(env);
    sprintf(env, "%s=%s", var, value);
    legacy_start(p, &o, "probe_thread", "join_values", NULL);
    cr_assert(legacy_finish(p, 10.0), "%s: still running after 10 s", var);
    out = malloc(1 << 17);
    cr_assert_not_null(out);
    legacy_read(p->out, out, 1 << 17);
    free(env);
    return out;
}

ParameterizedTestParameters(settings, value)
{
    return cr_make_param_array(struct row, rows, sizeof rows / sizeof *rows);
}

ParameterizedTest(struct row *r, settings, value, .timeout = 30)
{
    char *v = row_value(r), *out, err[4096], what[256], want[256];
    struct legacy p;
    int status;
    size_t n;

    label(r->var, v, what);
    out = run(r->var, v, 1, &p);
    status = p.status;
    n = legacy_read(p.err, err, sizeof err);
    legacy_done(&p);
    if (r->expect == REJECT) {
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2,
                  "%s: expected exit status 2, got wait status %#x", what, status);
        cr_expect_eq(out[0], 0, "%s: the program ran and printed:\n%s", what, out);
        cr_expect(n > 0 && strchr(err, '\n') == err + n - 1,
                  "%s: expected exactly one line on stderr, got:\n%s", what, err);
        snprintf(want, sizeof want, "%s=\"", r->var);
        escaped(v, strlen(v) < 48 ? strlen(v) : 48, want + strlen(want));
        cr_expect(strstr(err, want), "%s: the message does not show %s:\n%s", what, want, err);
        cr_expect(strstr(err, r->accepted), "%s: the message does not say \"%s\":\n%s", what,
                  r->accepted, err);
    } else {
        struct legacy u;
        char *plain = run("GREEN_UNUSED", "", 0, &u);

        legacy_done(&u);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "%s: expected exit status 0, got wait status %#x; stderr:\n%s", what, status,
                  err);
        cr_expect_str_eq(out, plain, "%s: the output differs from an unpatched run", what);
        cr_expect(!strstr(err, "not valid"), "%s: accepted value, but stderr says:\n%s", what,
                  err);
        free(plain);
    }
    free(out);
    free(v);
}
