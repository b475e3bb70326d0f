/*
 * probe_time — differential scenarios for the sleep family: sleep, usleep, nanosleep,
 * clock_nanosleep (relative and TIMER_ABSTIME).  See probe.h for the transcript.
 *
 * nanosleep and clock_nanosleep are never restarted after a handler, SA_RESTART or not;
 * an interrupted relative sleep reports the time left, an absolute one does not.
 */
#include "probe.h"

static struct timespec ms_ts(int ms)
{
    return (struct timespec){ms / 1000, ms % 1000 * 1000000L};
}

static long ts_ms(const struct timespec *ts)
{
    return ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

/* The time left after a sleep of total_ms interrupted at about at_ms: its bounds only. */
static void left(const struct timespec *rem, int total_ms, int at_ms)
{
    long ms = ts_ms(rem);

    say("rem plausible: %s", ms > 0 && ms <= total_ms - at_ms * 8 / 10 ? "yes" : "no");
}

SCENARIO(sleep_zero)
{
    CALL(sleep(0));
    CALL(usleep(0));
}

SCENARIO(usleep_short)
{
    long long t0 = now_ms();

    CALL(usleep(100000));
    waited(t0, 100);
}

SCENARIO(sleep_eintr)
{
    long long t0 = now_ms();

    interrupt_in(100);
    CALL(sleep(1));
    prompt(t0, 800);
}

SCENARIO(usleep_eintr)
{
    long long t0 = now_ms();

    interrupt_in(100);
    CALL(usleep(800000));
    prompt(t0, 600);
}

SCENARIO(nanosleep_ok)
{
    struct timespec ts = ms_ts(100), rem = {7, 7};
    long long t0 = now_ms();

    CALL(nanosleep(&ts, &rem));
    waited(t0, 100);
    say("rem untouched: %s", rem.tv_sec == 7 && rem.tv_nsec == 7 ? "yes" : "no");
    ts = ms_ts(0);
    CALL(nanosleep(&ts, NULL));
}

SCENARIO(nanosleep_errors)
{
    struct timespec big = {0, 1000000000}, negn = {0, -1}, negs = {-1, 0}, ok = {0, 1000};
    long long t0 = now_ms();

    CALL(nanosleep(&big, NULL));
    CALL(nanosleep(&negn, NULL));
    CALL(nanosleep(&negs, NULL));
    CALL(nanosleep(BAD, NULL));
    CALL(nanosleep(NUL, NULL));
    CALL(nanosleep(&ok, BAD));
    prompt(t0, 500);
}

SCENARIO(nanosleep_eintr)
{
    struct timespec ts = ms_ts(600), rem = {0, 0};
    long long t0 = now_ms();

    interrupt_in(100);
    CALL(nanosleep(&ts, &rem));
    prompt(t0, 400);
    left(&rem, 600, 100);
    interrupt_in(100);
    CALL(nanosleep(&ts, NULL));
}

/* nanosleep is never restarted, whatever SA_RESTART says. */
SCENARIO(nanosleep_eintr_sa_restart)
{
    struct timespec ts = ms_ts(600), rem = {0, 0};

    catch_signal(SIGALRM, SA_RESTART);
    alarm_ms(100, 0);
    CALL(nanosleep(&ts, &rem));
    left(&rem, 600, 100);
}

/* A handler that ignores the signal (SIG_IGN) never interrupts. */
SCENARIO(nanosleep_ignored_signal)
{
    struct timespec ts = ms_ts(200);
    long long t0 = now_ms();

    ignore_signal(SIGALRM);
    alarm_ms(50, 0);
    CALL(nanosleep(&ts, NULL));
    waited(t0, 200);
}

SCENARIO(clock_nanosleep_relative)
{
    struct timespec ts = ms_ts(100), rem = {7, 7};
    long long t0 = now_ms();

    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &rem));
    waited(t0, 100);
    say("rem untouched: %s", rem.tv_sec == 7 ? "yes" : "no");
    t0 = now_ms();
    RC(clock_nanosleep(CLOCK_REALTIME, 0, &ts, NULL));
    waited(t0, 100);
}

SCENARIO(clock_nanosleep_absolute)
{
    struct timespec ts = in_ms(CLOCK_MONOTONIC, 100), past = {1, 0};
    long long t0 = now_ms();

    RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL));
    waited(t0, 100);
    ts = in_ms(CLOCK_REALTIME, 100);
    t0 = now_ms();
    RC(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL));
    waited(t0, 100);
    t0 = now_ms();
    RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
    RC(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &past, NULL));
    prompt(t0, 500);
}

SCENARIO(clock_nanosleep_errors)
{
    struct timespec big = {0, 1000000000}, negn = {0, -1}, ok = {0, 1000};
    long long t0 = now_ms();

    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &big, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &negn, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, BAD, NULL));
    RC(clock_nanosleep(1234, 0, &ok, NULL));
    RC(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ok, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &ok, BAD));
    prompt(t0, 500);
}

SCENARIO(clock_nanosleep_eintr)
{
    struct timespec ts = ms_ts(600), rem = {0, 0}, abs, absrem = {7, 7};
    long long t0 = now_ms();

    interrupt_in(100);
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &rem));
    prompt(t0, 400);
    left(&rem, 600, 100);
    abs = in_ms(CLOCK_MONOTONIC, 600);
    t0 = now_ms();
    interrupt_in(100);
    RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &absrem));
    prompt(t0, 400);
    say("rem untouched: %s", absrem.tv_sec == 7 && absrem.tv_nsec == 7 ? "yes" : "no");
}

SCENARIO(clock_nanosleep_eintr_sa_restart)
{
    struct timespec ts = ms_ts(600), rem = {0, 0};

    catch_signal(SIGALRM, SA_RESTART);
    alarm_ms(100, 0);
    RC(clock_nanosleep(CLOCK_REALTIME, 0, &ts, &rem));
    left(&rem, 600, 100);
}
