/*
 * config.c — the runtime's settings, read once from the environment on first use.
 *
 *   GREEN_STACK_SIZE     stack of a green thread, 16k..1g (default 256k)
 *   GREEN_STATS          0 or 1: a report on stderr at exit (stats.c)
 *   GREEN_DUMP_SIGNAL    a signal (USR2, SIGUSR2 or 12) that prints every green thread with
 *                        its backtrace (monitor.c); unset or 0: off
 *   GREEN_BLOCK_WARN_MS  report a green thread that runs longer than this many milliseconds
 *                        without yielding (monitor.c), 1..3600000; unset or 0: off
 *
 * A bad value stops the program at once with exit status 2 and one line that names the
 * variable, the value, and what is accepted: running with a setting silently replaced by a
 * default would hide the mistake until it matters.  The value is shown escaped (bytes
 * outside printable ASCII, quote and backslash as \xNN) and cut after its first
 * SHOWN_VALUE bytes, so that a newline in it cannot split the line and a 64 KiB value
 * cannot push the accepted values out of the message.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_STACK_SIZE (256u * 1024)
#define MIN_STACK_SIZE (16u * 1024)
#define MAX_STACK_SIZE (1u << 30)
#define SHOWN_VALUE 64

static struct green__config config;
static int config_done;
static unsigned config_lock;

int green__parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    }
    if (shift && (!strcasecmp(end, "ib") || !strcasecmp(end, "b")))
        end += strlen(end);
    if (*end || v > (~0ULL >> shift))
        return -EINVAL;
    v <<= shift;
    if (v < lo || v > hi)
        return -EINVAL;
    *out = (size_t)v;
    return 0;
}

void green__bad_setting(const char *var, const char *value, const char *accepted)
{
    char shown[SHOWN_VALUE * 4 + 1], *p = shown;
    size_t len = strlen(value);

    for (size_t i = 0; i < len && i < SHOWN_VALUE; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c >= 32 && c < 127 && c != '"' && c != '\\') {
            *p++ = (char)c;
        } else {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = "0123456789abcdef"[c >> 4];
            *p++ = "0123456789abcdef"[c & 15];
        }
    }
    *p = 0;
    if (len > SHOWN_VALUE)
        green__say("%s=\"%s\"... (%zu bytes) is not valid: %s", var, shown, len, accepted);
    else
        green__say("%s=\"%s\" is not valid: %s", var, shown, accepted);
    _exit(2);
}

/* A decimal number in [lo, hi], nothing else (no sign, no spaces, no suffix). */
static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    unsigned long v = 0;

    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (hi - (unsigned)(*s - '0')) / 10)
            return -EINVAL;
        v = v * 10 + (unsigned)(*s - '0');
    }
    if (v < lo)
        return -EINVAL;
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},     {"CONT", SIGCONT},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"PWR", SIGPWR},
};

/* A signal a program may send to ask for a dump: one whose default action a handler may
 * replace without hiding a fault (not SEGV, BUS, ILL, FPE, TRAP, ABRT, SYS, PIPE, CHLD),
 * by name with or without SIG, or by number; real-time signals by number. */
static int parse_signal(const char *v)
{
    const char *n = strncasecmp(v, "SIG", 3) ? v : v + 3;
    unsigned long num;

    for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
        if (!strcasecmp(n, signals[i].name))
            return signals[i].sig;
    if (parse_uint(v, 1, (unsigned long)SIGRTMAX, &num) < 0)
        return -1;
    for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
        if ((int)num == signals[i].sig)
            return (int)num;
    return (int)num >= SIGRTMIN && (int)num < GREEN_SAMPLE_SIGNAL ? (int)num : -1;
}

static void load(void)
{
    const char *v = getenv("GREEN_STACK_SIZE");
    unsigned long n;

    config.stack_size = DEFAULT_STACK_SIZE;
    if (v && green__parse_size(v, MIN_STACK_SIZE, MAX_STACK_SIZE, &config.stack_size) < 0)
        green__bad_setting("GREEN_STACK_SIZE", v,
                           "give a size from 16k to 1g, in bytes or with a k, m or g suffix "
                           "(e.g. GREEN_STACK_SIZE=512k); unset it for the default, 256k");
    config.stack_size = (config.stack_size + 4095) & ~(size_t)4095;

    v = getenv("GREEN_STATS");
    if (v && strcmp(v, "0") && strcmp(v, "1"))
        green__bad_setting("GREEN_STATS", v,
                           "give 1 for a report at exit, or 0 (the default) for none");
    config.stats = v && !strcmp(v, "1");

    v = getenv("GREEN_DUMP_SIGNAL");
    if (v && strcmp(v, "0") && (config.dump_signal = parse_signal(v)) < 0)
        green__bad_setting("GREEN_DUMP_SIGNAL", v,
                           "give a signal by name or number, such as USR2, SIGUSR1, QUIT or 12 "
                           "(not one that reports a fault: SEGV, BUS, ILL, FPE, TRAP, ABRT, "
                           "SYS; nor PIPE, CHLD, KILL, STOP); unset it or give 0 for no dumps");

    v = getenv("GREEN_BLOCK_WARN_MS");
    if (v && parse_uint(v, 0, 3600000, &n) < 0)
        green__bad_setting("GREEN_BLOCK_WARN_MS", v,
                           "give a number of milliseconds from 1 to 3600000 (e.g. "
                           "GREEN_BLOCK_WARN_MS=100); unset it or give 0 for no watchdog");
    config.block_warn_ms = v ? (unsigned)n : 0;
}

const struct green__config *green__config(void)
{
    if (GREEN_LIKELY(__atomic_load_n(&config_done, __ATOMIC_ACQUIRE)))
        return &config;
    green__spin_lock(&config_lock);
    if (!config_done) {
        load();
        __atomic_store_n(&config_done, 1, __ATOMIC_RELEASE);
    }
    green__spin_unlock(&config_lock);
    return &config;
}
