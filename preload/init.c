/*
 * init.c — the shim's constructor and its settings.
 *
 * Settings are read once, here, before main, and validated: a bad value stops the program
 * with exit status 2 and one line naming the variable, the value and what is accepted.
 *
 *   GREEN_PATCH       which families of calls become cooperative, like gevent's
 *                     patch_all(thread=False): a comma-separated list of families
 *                     (socket, select, time, thread, process, dns, stdio), "all" or "none",
 *                     each optionally prefixed with "-" to remove it: "all,-thread".
 *                     Default: all when libgreen.so is in LD_PRELOAD; none when a program
 *                     merely links -lgreen for the API (it opts in by setting GREEN_PATCH).
 *   GREEN_STACK_SIZE, GREEN_STATS, GREEN_DUMP_SIGNAL, GREEN_BLOCK_WARN_MS: see
 *                     runtime/config.c.
 *   GREEN_DEBUG       0 or 1: print the settings in force at start.
 *
 * Until the constructor has run, green__patched is 0 and every hook passes through.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hook.h"

unsigned green__patched;

static const struct {
    const char *name;
    unsigned bit;
} families[] = {
    {"socket", GREEN_F_SOCKET}, {"select", GREEN_F_SELECT},   {"time", GREEN_F_TIME},
    {"thread", GREEN_F_THREAD}, {"process", GREEN_F_PROCESS}, {"dns", GREEN_F_DNS},
    {"stdio", GREEN_F_STDIO},   {"all", GREEN_F_ALL},         {"none", 0},
};

/* For GREEN_STATS, by bit number of GREEN_F_*. */
static const char *const family_names[] = {"socket",  "select", "time", "thread",
                                           "process", "dns",    "stdio"};

_Static_assert(sizeof family_names / sizeof *family_names <= GREEN_FAMILIES, "stats.c counts");

static unsigned parse_patch(const char *v)
{
    static const char accepted[] =
        "give a comma-separated list of socket, select, time, thread, process, dns, stdio, "
        "all or none, each optionally prefixed with - to leave it out (e.g. "
        "GREEN_PATCH=all,-thread); unset it to patch everything";
    unsigned bits = 0;
    const char *p = v;

    if (!*v)
        green__bad_setting("GREEN_PATCH", v, accepted);
    while (*p) {
        size_t len = strcspn(p, ",");
        int minus = *p == '-';
        size_t i;

        for (i = 0; i < sizeof families / sizeof *families; i++)
            if (len - minus == strlen(families[i].name) &&
                !strncmp(p + minus, families[i].name, len - minus))
                break;
        if (i == sizeof families / sizeof *families || len == (size_t)minus)
            green__bad_setting("GREEN_PATCH", v, accepted);
        bits = minus ? bits & ~families[i].bit : bits | families[i].bit;
        p += len;
        if (*p == ',' && *++p == 0)
            green__bad_setting("GREEN_PATCH", v, accepted);
    }
    return bits;
}

static void print_settings(unsigned bits)
{
    char list[128] = "";

    for (size_t i = 0; i < sizeof families / sizeof *families; i++)
        if (families[i].bit && families[i].bit != GREEN_F_ALL && (bits & families[i].bit)) {
            if (*list)
                strcat(list, ",");
            strcat(list, families[i].name);
        }
    const struct green__config *c = green__config();
    char dump[32] = "off", warn[32] = "off";

    if (c->dump_signal)
        snprintf(dump, sizeof dump, "SIG%s", sigabbrev_np(c->dump_signal));
    if (c->block_warn_ms)
        snprintf(warn, sizeof warn, "%u ms", c->block_warn_ms);
    green__say("libgreen %s: patched families: %s; stack size %zuk; guards: %s; stats: %s; "
               "dump signal: %s; block warning: %s", GREEN_VERSION, *list ? list : "none",
               c->stack_size >> 10, green__stack_guard_mode(), c->stats ? "on" : "off", dump,
               warn);
}

__attribute__((constructor(101))) static void green_preload_init(void)
{
    const char *patch = getenv("GREEN_PATCH");
    const char *preload = getenv("LD_PRELOAD");
    const char *debug = getenv("GREEN_DEBUG");
    unsigned bits;

    green__real_init();
    green__config(); /* validates the runtime's settings now, not at the first spawn */
    green__family_names = family_names;
    green__signal_init();
    if (debug && strcmp(debug, "0") && strcmp(debug, "1"))
        green__bad_setting("GREEN_DEBUG", debug, "give 0 or 1");
    if (patch)
        bits = parse_patch(patch);
    else
        bits = preload && strstr(preload, "libgreen") ? GREEN_F_ALL : 0;
    if (debug && !strcmp(debug, "1"))
        print_settings(bits);
    __atomic_store_n(&green__patched, bits, __ATOMIC_RELEASE);
}
