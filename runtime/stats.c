/*
 * stats.c — GREEN_STATS=1: what the scheduler did, reported on stderr when the process
 * exits (atexit, so a program ending with _exit or killed by a signal reports nothing).
 *
 * Each OS thread counts in its own struct green__stats (internal.h), without locks; the
 * report adds up the OS threads still registered (monitor.c's list) and the totals folded
 * in by those that ended.  The timings cost two clock reads a switch and are only taken
 * when the setting is on; without it a switch pays one branch on green__stats_on.
 *
 *   running vs blocked: the OS thread is "idle" while its hub sleeps in epoll_wait with
 *   nothing to run (libev's release/acquire callbacks, hub.c), "running" the rest of the
 *   time — green threads' own work and calls that block the OS thread (not converted).
 *   waits: per kind of wait (fd, sleep, mutex, ...) and per family of the hook that waited
 *   (socket, time, thread, ...), with the time the green threads spent parked in them.
 *   longest run: the longest a green thread ran between two switches, and where it was
 *   when it finally switched away (its backtrace at that point).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"

int green__stats_on;
__thread unsigned green__family __attribute__((tls_model("initial-exec")));
const char *const *green__family_names;

static struct green__stats ended; /* OS threads that have ended, under green__locals_lock */
static int64_t started;

void green__stats_switch(struct green__local *l, struct green_thread *prev)
{
    struct green__stats *st = &l->stats;
    int64_t now = green_now(), run = now - st->run_start;

    if (prev != l->sched.hub && run > st->longest_run) {
        st->longest_run = run;
        st->longest_seq = prev->seq;
        memcpy(st->longest_name, prev->name, sizeof st->longest_name);
        st->longest_depth = green__bt_here(st->longest_at, GREEN_BT_MAX);
    }
    st->run_start = now;
}

void green__stats_wait(struct green__local *l, int kind, unsigned family, int64_t ns)
{
    struct green__stats *st = &l->stats;
    unsigned f = family ? (unsigned)__builtin_ctz(family) + 1 : 0;

    if (kind < 0 || kind > GREEN_WAIT_OTHER || f > GREEN_FAMILIES)
        return;
    st->waits[kind]++;
    st->waited[kind] += ns;
    st->family_waits[f]++;
    st->family_waited[f] += ns;
}

/* Add b into a; the longest run is the longer one. */
static void add(struct green__stats *a, const struct green__stats *b)
{
    a->switches += b->switches;
    a->created += b->created;
    a->peak_alive += b->peak_alive;
    a->idle_ns += b->idle_ns;
    a->lived_ns += b->lived_ns;
    a->os_threads += b->os_threads;
    for (int i = 0; i <= GREEN_WAIT_OTHER; i++) {
        a->waits[i] += b->waits[i];
        a->waited[i] += b->waited[i];
    }
    for (int i = 0; i <= GREEN_FAMILIES; i++) {
        a->family_waits[i] += b->family_waits[i];
        a->family_waited[i] += b->family_waited[i];
    }
    if (b->longest_run > a->longest_run) {
        a->longest_run = b->longest_run;
        a->longest_seq = b->longest_seq;
        memcpy(a->longest_name, b->longest_name, sizeof a->longest_name);
        memcpy(a->longest_at, b->longest_at, sizeof a->longest_at);
        a->longest_depth = b->longest_depth;
    }
}

/* b's counters with its life so far and itself counted, ready to add. */
static struct green__stats lived(const struct green__stats *b, int64_t now)
{
    struct green__stats c = *b;

    c.lived_ns = now - b->born;
    c.os_threads = 1;
    return c;
}

void green__stats_fold(const struct green__stats *st)
{
    struct green__stats c = lived(st, green_now());

    add(&ended, &c); /* the caller holds green__locals_lock */
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* "1,234,567" */
static const char *grouped(uint64_t v, char *buf, size_t len)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%llu", (unsigned long long)v), o = 0;

    for (int i = 0; i < n && (size_t)o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

/* "name count (seconds)" entries of one table, into line. */
static void table(char *line, size_t len, const uint64_t *count, const int64_t *ns, int n,
                  const char *(*name)(int))
{
    size_t o = strlen(line);
    int any = 0;

    for (int i = 0; i < n && o < len; i++) {
        char c[32];
        if (!count[i] || !name(i))
            continue;
        o += (size_t)snprintf(line + o, len - o, "%s %s %s (%.3f s)", any ? "," : "", name(i),
                              grouped(count[i], c, sizeof c), secs(ns[i]));
        any = 1;
    }
    if (!any && o < len)
        snprintf(line + o, len - o, " none");
}

static const char *kind_name(int k)
{
    return k == GREEN_WAIT_NONE ? NULL : green__wait_name(k);
}

static const char *family_name(int f)
{
    return f == 0 ? "green.h API" : green__family_names ? green__family_names[f - 1] : NULL;
}

static void report(void)
{
    struct green__stats sum = ended;
    struct green__list *n;
    struct rusage ru;
    int64_t now = green_now(), wall = now - started, running;
    char line[1024], a[32], b[48];

    green__spin_lock(&green__locals_lock);
    for (n = green__locals.next; n != &green__locals; n = n->next) {
        struct green__local *l = green__container_of(n, struct green__local, registered);
        struct green__stats c = lived(&l->stats, now);
        add(&sum, &c);
    }
    green__spin_unlock(&green__locals_lock);
    running = sum.lived_ns - sum.idle_ns;
    getrusage(RUSAGE_SELF, &ru);

    green__say("stats for pid %d, %.3f s:", (int)getpid(), secs(wall));
    green__say("  green threads: %s created, %zu alive at most (main included); %llu OS "
               "thread%s ran them", grouped(sum.created, a, sizeof a), sum.peak_alive,
               (unsigned long long)sum.os_threads, sum.os_threads == 1 ? "" : "s");
    green__say("  context switches: %s (%.0f/s)", grouped(sum.switches, a, sizeof a),
               wall > 0 ? (double)sum.switches / secs(wall) : 0.);
    line[0] = 0;
    table(line, sizeof line, sum.family_waits, sum.family_waited, GREEN_FAMILIES + 1,
          family_name);
    green__say("  waits by family:%s", line);
    line[0] = 0;
    table(line, sizeof line, sum.waits, sum.waited, GREEN_WAIT_OTHER + 1, kind_name);
    green__say("  waits by kind:%s", line);
    green__say("  OS thread time%s: running %.3f s, blocked in the hub with nothing to run "
               "%.3f s (%.0f%% running); process CPU: user %.3f s, system %.3f s",
               sum.os_threads > 1 ? " (added up over the OS threads)" : "",
               secs(running > 0 ? running : 0), secs(sum.idle_ns),
               sum.lived_ns > 0 ? 100. * (double)(running > 0 ? running : 0) /
                                      (double)sum.lived_ns : 0.,
               (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    green__say("  pool: %s jobs, %.3f s waited for them", grouped(green__pool_jobs(), b, sizeof b),
               secs(sum.waited[GREEN_WAIT_POOL]));
    if (!sum.longest_depth) {
        green__say("  longest run without yielding: none measured");
        return;
    }
    green__say("  longest run without yielding: %.3f ms, green thread %s, which then switched "
               "away at:", (double)sum.longest_run / 1e6,
               green__label(b, sizeof b, sum.longest_seq, sum.longest_name));
    /* Frame 0 is green__stats_switch itself. */
    green__bt_print(sum.longest_at + 1, sum.longest_depth - 1, 0, "    ");
}

void green__stats_fork_child(struct green__stats *st)
{
    memset(st, 0, sizeof *st);
    memset(&ended, 0, sizeof ended);
    started = st->born = st->run_start = green_now();
}

void green__stats_init(void)
{
    started = green_now();
    green__stats_on = 1;
    atexit(report);
}
