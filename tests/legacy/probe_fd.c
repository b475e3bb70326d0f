/*
 * probe_fd — differential scenarios for the calls that make, connect, close and configure
 * descriptors: accept, accept4, connect, close, dup, dup2, dup3, fcntl (O_NONBLOCK), ioctl
 * (FIONBIO), setsockopt (SO_RCVTIMEO, SO_SNDTIMEO).  See probe.h for the transcript.
 *
 * Connect timeouts use a listener whose backlog is full, so the SYN is dropped and a
 * blocking connect waits: nothing leaves 127.0.0.1.
 */
#include "probe.h"

#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/wait.h>

static struct sockaddr_in target;

static int nonblocking(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

/* ---------------------------------------------------------------- accept */

SCENARIO(accept_badfd)
{
    CALL(accept(-1, NULL, NULL));
    CALL(accept(1000, NULL, NULL));
}

SCENARIO(accept_notsock)
{
    int p[2];

    SETUP(pipe(p));
    CALL(accept(p[0], NULL, NULL));
}

SCENARIO(accept_not_listening)
{
    struct sockaddr_in a;
    int fd = bound(SOCK_STREAM, &a);

    CALL(accept(fd, NULL, NULL));
    CALL(accept4(fd, NULL, NULL, SOCK_NONBLOCK));
}

SCENARIO(accept_ready)
{
    struct sockaddr_in a, peer, mine;
    int l = tcp_listener(4, &a), c = tcp_client(&a), s;
    socklen_t len = sizeof peer, mlen = sizeof mine;

    SETUP(getsockname(c, (struct sockaddr *)&mine, &mlen));
    s = (int)FD(accept(l, (struct sockaddr *)&peer, &len));
    say("addrlen %u peer is the client: %s", len,
        peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr
            ? "yes" : "no");
    say("accepted blocking: %s, listener blocking: %s", nonblocking(s) ? "no" : "yes",
        nonblocking(l) ? "no" : "yes");
    CALL(write(c, "hi", 2));
    bytes("got", buf, CALL(read(s, buf, sizeof buf)));
}

static void do_connect(void *p)
{
    (void)p;
    if (tcp_client(&target) < 0)
        _exit(4);
}

SCENARIO(accept_waits)
{
    int l = tcp_listener(4, &target);
    struct later *t = after(50, do_connect, NULL);
    int s = (int)FD(accept(l, NULL, NULL));

    finish(t);
    say("accepted blocking: %s, listener blocking: %s", nonblocking(s) ? "no" : "yes",
        nonblocking(l) ? "no" : "yes");
}

/* SOCK_NONBLOCK is for the new socket: accept4 on a blocking listener still waits. */
SCENARIO(accept4_nonblock_flag_waits)
{
    int l = tcp_listener(4, &target), s;
    struct later *t = after(50, do_connect, NULL);

    s = (int)FD(accept4(l, NULL, NULL, SOCK_NONBLOCK));
    finish(t);
    say("accepted nonblocking: %s, listener blocking: %s", nonblocking(s) ? "yes" : "no",
        nonblocking(l) ? "no" : "yes");
}

SCENARIO(accept_nonblock)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a), on = 1, s;

    CALL(fcntl(l, F_SETFL, O_NONBLOCK));
    CALL(accept(l, NULL, NULL));
    CALL(fcntl(l, F_SETFL, 0));
    CALL(ioctl(l, FIONBIO, &on));
    CALL(accept(l, NULL, NULL));
    CALL(accept4(l, NULL, NULL, SOCK_NONBLOCK));
    tcp_client(&a);
    s = (int)FD(accept(l, NULL, NULL));
    say("accepted blocking: %s", nonblocking(s) ? "no" : "yes");
}

SCENARIO(accept_rcvtimeo)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a);
    long long t0;

    set_timeo(l, SO_RCVTIMEO, 100);
    t0 = now_ms();
    CALL(accept(l, NULL, NULL));
    waited(t0, 100);
}

SCENARIO(accept_eintr)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a);

    interrupt_in(100);
    CALL(accept(l, NULL, NULL));
}

static void act_connect(int fd)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    (void)fd;
    connect(c, (struct sockaddr *)&target, sizeof target);
}

/* With SA_RESTART, accept is restarted; the second signal's handler connects. */
SCENARIO(accept_sa_restart)
{
    int l = tcp_listener(4, &target);

    restart_then(act_connect, l);
    FD(accept(l, NULL, NULL));
}

SCENARIO(accept4_flags)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a), s;

    tcp_client(&a);
    tcp_client(&a);
    s = (int)FD(accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
    say("nonblocking: %s cloexec: %s", nonblocking(s) ? "yes" : "no",
        fcntl(s, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    CALL(read(s, buf, 1));
    s = (int)FD(accept4(l, NULL, NULL, 0));
    say("nonblocking: %s cloexec: %s", nonblocking(s) ? "yes" : "no",
        fcntl(s, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
    CALL(accept4(l, NULL, NULL, 0x7));
}

SCENARIO(accept_efault)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a);
    socklen_t len = sizeof a;

    tcp_client(&a);
    tcp_client(&a);
    tcp_client(&a);
    CALL(accept(l, BAD, &len));
    CALL(accept(l, (struct sockaddr *)&a, BAD));
    FD(accept(l, NULL, NULL));
}

static void do_shutdown(void *p)
{
    shutdown((int)(intptr_t)p, SHUT_RDWR);
}

/* A server stops its accept loop by shutting the listener down from another thread. */
SCENARIO(accept_shutdown_wakes)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a);
    struct later *t = after(50, do_shutdown, (void *)(intptr_t)l);

    CALL(accept(l, NULL, NULL));
    finish(t);
}

static socklen_t unix_name(struct sockaddr_un *a, const char *what)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    return offsetof(struct sockaddr_un, sun_path) + 1 +
           (socklen_t)snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "probe-%s-%d", what,
                               getpid());
}

static int unix_listener(const char *what)
{
    struct sockaddr_un a;
    int l = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));

    SETUP(bind(l, (struct sockaddr *)&a, unix_name(&a, what)));
    SETUP(listen(l, 4));
    return l;
}

/* A Unix listener shut down for reading: a blocking accept takes what is queued, then
 * says EINVAL; a non-blocking one says EAGAIN (found by fuzz/green_fuzz.c: the shim's own
 * non-blocking attempt saw EAGAIN, its wait saw the socket readable, and it spun). */
SCENARIO(accept_unix_shutdown)
{
    struct sockaddr_un a;
    socklen_t len = unix_name(&a, "shut");
    int l = SETUP(socket(AF_UNIX, SOCK_STREAM, 0)), c = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));

    SETUP(bind(l, (struct sockaddr *)&a, len));
    SETUP(listen(l, 4));
    CALL(connect(c, (struct sockaddr *)&a, len));
    CALL(shutdown(l, SHUT_RD));
    FD(accept(l, NULL, NULL));
    CALL(accept(l, NULL, NULL));
    CALL(accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
    CALL(connect(SETUP(socket(AF_UNIX, SOCK_STREAM, 0)), (struct sockaddr *)&a, len));
    set_nonblock(l, 1);
    CALL(accept(l, NULL, NULL));
}

/* Shut down for writing only, it still accepts: accept waits, here until a signal. */
SCENARIO(accept_unix_shut_wr_waits)
{
    int l = unix_listener("shutwr");

    CALL(shutdown(l, SHUT_WR));
    interrupt_in(100);
    CALL(accept(l, NULL, NULL));
}

/* Another thread shuts the listener down: the waiting accept wakes with EINVAL. */
SCENARIO(accept_unix_shutdown_wakes)
{
    int l = unix_listener("wake");
    struct later *t = after(50, do_shutdown, (void *)(intptr_t)l);

    CALL(accept(l, NULL, NULL));
    finish(t);
}

/* accept woken for a connection another thread takes first, a signal before it waits
 * again (probe.h, struct taker): interrupted, as the kernel's accept is. */
static int take_conn(int fd)
{
    return accept(fd, NULL, NULL);
}

SCENARIO(accept_signal_between_waits)
{
    int l = tcp_listener(4, &target);
    struct taker *k;
    long r;

    catch_signal(SIGALRM, 0);
    k = taker_start(take_conn, l, do_connect, NULL);
    r = accept(l, NULL, NULL);
    taker_end(k, "accept", r, errno);
}

/* Another thread closes the listener under accept: the kernel's accept holds the socket
 * and goes on waiting, here until a signal ends it (found by fuzz/green_fuzz.c). */
SCENARIO(accept_closed_while_waiting)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a);
    struct later *t = after_close(50, l);

    interrupt_in(200);
    CALL(accept(l, NULL, NULL));
    finish(t);
}

/* --------------------------------------------------------------- connect */

SCENARIO(connect_ok)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0));

    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
    say("blocking after connect: %s", nonblocking(c) ? "no" : "yes");
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
    FD(accept(l, NULL, NULL));
}

SCENARIO(connect_refused)
{
    struct sockaddr_in a;
    int closed = bound(SOCK_STREAM, &a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0));

    (void)closed;
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
}

SCENARIO(connect_errors)
{
    struct sockaddr_in a;
    struct sockaddr_in6 a6;
    int l = tcp_listener(4, &a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0)), p[2];

    (void)l;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    SETUP(pipe(p));
    CALL(connect(-1, (struct sockaddr *)&a, sizeof a));
    CALL(connect(p[0], (struct sockaddr *)&a, sizeof a));
    CALL(connect(c, (struct sockaddr *)&a, 3));
    CALL(connect(c, BAD, sizeof a));
    CALL(connect(c, (struct sockaddr *)&a6, sizeof a6));
}

SCENARIO(connect_nonblock)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a), c = SETUP(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    int err = -1;
    socklen_t len = sizeof err;
    struct pollfd p = {c, POLLOUT, 0};

    (void)l;
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
    CALL(poll(&p, 1, 1000));
    CALL(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
    say("SO_ERROR %s", err ? errname(err) : "0");
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
}

SCENARIO(connect_nonblock_refused)
{
    struct sockaddr_in a;
    int closed = bound(SOCK_STREAM, &a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0));
    int err = -1;
    socklen_t len = sizeof err;
    struct pollfd p = {c, POLLOUT, 0};

    (void)closed;
    CALL(fcntl(c, F_SETFL, O_NONBLOCK));
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
    CALL(poll(&p, 1, 1000));
    CALL(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
    say("SO_ERROR %s", err ? errname(err) : "0");
}

/* A listener with a full backlog: the next SYN is dropped and a blocking connect waits.
 * Clients are made until one cannot complete in 100 ms. */
static int full_listener(struct sockaddr_in *a)
{
    int l = tcp_listener(0, a);

    for (int i = 0; i < 16; i++) {
        int c = SETUP(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
        struct pollfd p = {c, POLLOUT, 0};
        if (connect(c, (struct sockaddr *)a, sizeof *a) == 0)
            continue;
        if (errno != EINPROGRESS)
            setup_failed("connect to fill the backlog");
        if (poll(&p, 1, 100) == 0) {
            close(c);
            return l;
        }
    }
    setup_failed("the backlog never filled");
    return -1;
}

SCENARIO(connect_sndtimeo)
{
    struct sockaddr_in a;
    int l = full_listener(&a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0));
    long long t0;

    (void)l;
    set_timeo(c, SO_SNDTIMEO, 100);
    t0 = now_ms();
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
    waited(t0, 100);
    say("blocking after connect: %s", nonblocking(c) ? "no" : "yes");
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
}

/* Another thread closes the socket under a connect in progress: the kernel's connect holds
 * the socket and goes on waiting, here until a signal ends it. */
SCENARIO(connect_closed_while_waiting)
{
    struct sockaddr_in a;
    int l = full_listener(&a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0));
    struct later *t = after_close(50, c);

    (void)l;
    interrupt_in(300);
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
    finish(t);
}

SCENARIO(connect_eintr)
{
    struct sockaddr_in a;
    int l = full_listener(&a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0));

    (void)l;
    interrupt_in(100);
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
}

SCENARIO(connect_nonblock_backlog)
{
    struct sockaddr_in a;
    int l = full_listener(&a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0));
    struct pollfd p = {c, POLLOUT, 0};

    (void)l;
    CALL(fcntl(c, F_SETFL, O_NONBLOCK));
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
    CALL(poll(&p, 1, 50));
    CALL(connect(c, (struct sockaddr *)&a, sizeof a));
}

/* A Unix listener whose backlog is full: connect blocks (or says EAGAIN). */
static int unix_full(struct sockaddr_un *a, socklen_t *len)
{
    int l = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));

    *len = unix_name(a, "full");
    SETUP(bind(l, (struct sockaddr *)a, *len));
    SETUP(listen(l, 0));
    for (int i = 0; i < 16; i++) {
        int c = SETUP(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
        if (connect(c, (struct sockaddr *)a, *len) < 0) {
            if (errno != EAGAIN)
                setup_failed("unix connect to fill the backlog");
            close(c);
            return l;
        }
    }
    setup_failed("the unix backlog never filled");
    return -1;
}

/* With SO_SNDTIMEO, a handler ends the wait for room in the backlog even with
 * SA_RESTART (signal(7): calls with a timeout are never restarted). */
SCENARIO(connect_unix_full_sndtimeo_restart)
{
    struct sockaddr_un a;
    socklen_t len;
    int l = unix_full(&a, &len), c = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));
    long long t0;

    (void)l;
    set_timeo(c, SO_SNDTIMEO, 2000);
    catch_signal(SIGALRM, SA_RESTART);
    alarm_ms(100, 0);
    t0 = now_ms();
    CALL(connect(c, (struct sockaddr *)&a, len));
    prompt(t0, 1000);
}

SCENARIO(connect_unix_full)
{
    struct sockaddr_un a;
    socklen_t len;
    int l = unix_full(&a, &len), c = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));
    long long t0;

    (void)l;
    CALL(fcntl(c, F_SETFL, O_NONBLOCK));
    CALL(connect(c, (struct sockaddr *)&a, len));
    CALL(fcntl(c, F_SETFL, 0));
    set_timeo(c, SO_SNDTIMEO, 100);
    t0 = now_ms();
    CALL(connect(c, (struct sockaddr *)&a, len));
    waited(t0, 100);
}

SCENARIO(connect_unix_full_eintr)
{
    struct sockaddr_un a;
    socklen_t len;
    int l = unix_full(&a, &len), c = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));

    (void)l;
    interrupt_in(100);
    CALL(connect(c, (struct sockaddr *)&a, len));
}

/* Another thread closes the socket under a connect waiting for room in a Unix listener's
 * backlog, then makes room: the kernel's connect holds the socket and completes. */
static int unix_full_listener;

static void close_then_accept(void *p)
{
    close((int)(intptr_t)p);
    usleep(100000);
    if (accept(unix_full_listener, NULL, NULL) < 0)
        _exit(4);
}

SCENARIO(connect_unix_full_closed_while_waiting)
{
    struct sockaddr_un a;
    socklen_t len;
    int c;
    struct later *t;

    unix_full_listener = unix_full(&a, &len);
    c = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));
    t = after(100, close_then_accept, (void *)(intptr_t)c);
    CALL(connect(c, (struct sockaddr *)&a, len));
    finish(t);
}

SCENARIO(connect_unix_errors)
{
    struct sockaddr_un a, path = {AF_UNIX, "/nonexistent/probe.sock"};
    socklen_t len = unix_name(&a, "nobody");
    int c = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));

    CALL(connect(c, (struct sockaddr *)&a, len));
    CALL(connect(c, (struct sockaddr *)&path, sizeof path));
}

SCENARIO(connect_udp)
{
    struct sockaddr_in a, b;
    int r = bound(SOCK_DGRAM, &a), w = bound(SOCK_DGRAM, &b);

    CALL(connect(w, (struct sockaddr *)&a, sizeof a));
    CALL(send(w, "udp", 3, 0));
    bytes("got", buf, CALL(recv(r, buf, sizeof buf, 0)));
}

SCENARIO(accept_unix)
{
    struct sockaddr_un a;
    socklen_t len = unix_name(&a, "accept");
    int l = SETUP(socket(AF_UNIX, SOCK_STREAM, 0)), c;

    SETUP(bind(l, (struct sockaddr *)&a, len));
    SETUP(listen(l, 4));
    c = SETUP(socket(AF_UNIX, SOCK_STREAM, 0));
    CALL(connect(c, (struct sockaddr *)&a, len));
    FD(accept(l, NULL, NULL));
}

/* ----------------------------------------------------------------- close */

SCENARIO(close_errors)
{
    int s[2];

    pair(s);
    CALL(close(-1));
    CALL(close(1000));
    CALL(close(s[0]));
    CALL(close(s[0]));
}

/* Numbers are reused lowest first, as before. */
SCENARIO(close_number_reused)
{
    int s[2], t[2];

    pair(s);
    CALL(close(s[0]));
    pair(t);
    say("lowest number reused: %s", t[0] == s[0] ? "yes" : "no");
}

/* Numbers are handed out lowest first, so a program that closes two descriptors gets the
 * same two back (inetd-style programs and "fd 3 is my first socket" code count on it),
 * even when a blocking wait happened in between: a descriptor the shim opens for itself
 * takes a number the program would have had. */
SCENARIO(fd_numbers_after_wait)
{
    int w[2], s[2], t[2];
    struct later *l;

    pair(w);
    pair(s);
    CALL(close(s[0]));
    CALL(close(s[1]));
    l = after_write(20, w[1], "x");
    CALL(read(w[0], buf, 1));
    finish(l);
    pair(t);
    say("same numbers again: %s", t[0] == s[0] && t[1] == s[1] ? "yes" : "no");
}

struct blocked_read {
    pthread_t t;
    int fd;
    long r;
    int e;
};

static void *blocked_read_main(void *p)
{
    struct blocked_read *b = p;

    b->r = read(b->fd, buf, sizeof buf);
    b->e = errno;
    return NULL;
}

/* Linux does not wake a read blocked in another thread when its descriptor is closed (or
 * replaced by dup2): the read goes on with the open file it still holds, so the peer can
 * still write, and the read returns those bytes. */
static void replace_while_reading(int use_dup2)
{
    int s[2], p[2];
    struct blocked_read b;

    pair(s);
    SETUP(pipe(p));
    catch_signal(SIGPIPE, 0);
    b.fd = s[0];
    SETUP(-pthread_create(&b.t, NULL, blocked_read_main, &b));
    usleep(50000);
    if (use_dup2)
        CALL(dup2(p[0], s[0]) == s[0]);
    else
        CALL(close(s[0]));
    usleep(50000);
    CALL(write(s[1], "after close", 11));
    CALL(close(s[1]));
    pthread_join(b.t, NULL);
    say("reader: read = %ld %s", b.r, b.r < 0 ? errname(b.e) : "");
    bytes("reader got", buf, b.r);
}

SCENARIO(close_while_reading)
{
    replace_while_reading(0);
}

SCENARIO(dup2_while_reading)
{
    replace_while_reading(1);
}

SCENARIO(close_peer_wakes_reader)
{
    int s[2];
    struct later *l;

    pair(s);
    l = after_close(50, s[1]);
    CALL(read(s[0], buf, sizeof buf));
    finish(l);
}

/* ------------------------------------------------------------------- dup */

SCENARIO(dup_errors)
{
    int s[2];

    pair(s);
    CALL(dup(-1));
    CALL(dup(1000));
    CALL(dup2(-1, s[0]));
    CALL(dup2(1000, s[0]));
    CALL(dup2(s[0], -1));
    CALL(dup2(s[0], 1 << 30));
    CALL(dup2(1000, 1000));
    CALL(dup3(s[0], s[0], 0));
    CALL(dup3(s[0], 100, 0x1234));
}

SCENARIO(dup_reads)
{
    int s[2], d;

    pair(s);
    d = (int)FD(dup(s[0]));
    CALL(write(s[1], "dup", 3));
    CALL(close(s[0]));
    bytes("got", buf, CALL(read(d, buf, sizeof buf)));
    CALL(dup2(d, d) == d);
    CALL(dup3(d, 100, O_CLOEXEC));
    say("cloexec: %s", fcntl(100, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
}

SCENARIO(dup2_over_open)
{
    int s[2], p[2];

    pair(s);
    SETUP(pipe(p));
    CALL(write(p[1], "pipe", 4));
    CALL(write(s[1], "sock", 4));
    CALL(dup2(p[0], s[0]) == s[0]);
    bytes("got", buf, CALL(read(s[0], buf, sizeof buf)));
    CALL(recv(s[0], buf, sizeof buf, 0));
}

/* O_NONBLOCK belongs to the open file: set through a duplicate, the original sees it. */
SCENARIO(dup_nonblock_shared)
{
    int s[2], d;
    struct later *l;

    pair(s);
    l = after_write(30, s[1], "x"); /* a read that waits first */
    CALL(read(s[0], buf, sizeof buf));
    finish(l);
    d = (int)FD(dup(s[0]));
    CALL(fcntl(d, F_SETFL, O_NONBLOCK));
    CALL(read(s[0], buf, sizeof buf));
    CALL(fcntl(d, F_SETFL, 0));
    l = after_write(30, s[1], "y");
    CALL(read(s[0], buf, sizeof buf));
    finish(l);
}

/* A socket option belongs to the socket: set through a duplicate, the original has it. */
SCENARIO(dup_rcvtimeo_shared)
{
    int s[2], d;
    struct later *l;
    long long t0;

    pair(s);
    l = after_write(30, s[1], "x");
    CALL(read(s[0], buf, sizeof buf));
    finish(l);
    d = (int)FD(dup(s[0]));
    set_timeo(d, SO_RCVTIMEO, 100);
    t0 = now_ms();
    CALL(read(s[0], buf, sizeof buf));
    waited(t0, 100);
}

/* ----------------------------------------------------------------- fcntl */

SCENARIO(fcntl_errors)
{
    int s[2];

    pair(s);
    CALL(fcntl(-1, F_GETFL));
    CALL(fcntl(1000, F_SETFL, O_NONBLOCK));
    CALL(fcntl(s[0], 12345));
    CALL(fcntl(s[0], F_DUPFD, -1));
}

SCENARIO(fcntl_flags)
{
    int s[2], d;

    pair(s);
    CALL(fcntl(s[0], F_GETFL));
    CALL(fcntl(s[0], F_SETFL, O_NONBLOCK | O_APPEND));
    CALL(fcntl(s[0], F_GETFL));
    CALL(fcntl(s[0], F_SETFL, 0));
    CALL(fcntl(s[0], F_GETFL));
    d = (int)FD(fcntl(s[0], F_DUPFD, 20));
    say("at least 20: %s", d >= 20 ? "yes" : "no");
    d = (int)FD(fcntl(s[0], F_DUPFD_CLOEXEC, 30));
    say("at least 30: %s cloexec: %s", d >= 30 ? "yes" : "no",
        fcntl(d, F_GETFD) & FD_CLOEXEC ? "yes" : "no");
}

/* The shim never leaves O_NONBLOCK set on an open file the program made blocking. */
SCENARIO(fcntl_flags_after_blocking_calls)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &target), c, s, p[2];
    struct later *t;

    (void)a;
    t = after(50, do_connect, NULL);
    s = (int)FD(accept(l, NULL, NULL));
    finish(t);
    c = tcp_client(&target);
    SETUP(pipe(p));
    t = after_write(30, p[1], "x");
    CALL(read(p[0], buf, 1));
    finish(t);
    say("listener %d accepted %d client %d pipe %d", fcntl(l, F_GETFL) & O_NONBLOCK,
        fcntl(s, F_GETFL) & O_NONBLOCK, fcntl(c, F_GETFL) & O_NONBLOCK,
        fcntl(p[0], F_GETFL) & O_NONBLOCK);
}

SCENARIO(fcntl_nonblock_write)
{
    int p[2];

    SETUP(pipe(p));
    fill(p[1]);
    CALL(fcntl(p[1], F_SETFL, O_NONBLOCK));
    CALL(write(p[1], "x", 1));
}

/* A program may change O_NONBLOCK without fcntl (a raw system call). */
SCENARIO(fcntl_nonblock_by_syscall)
{
    int s[2];
    struct later *l;

    pair(s);
    l = after_write(30, s[1], "x");
    CALL(read(s[0], buf, sizeof buf));
    finish(l);
    CALL(syscall(SYS_fcntl, s[0], F_SETFL, O_NONBLOCK));
    CALL(read(s[0], buf, sizeof buf));
}

/* ----------------------------------------------------------------- ioctl */

SCENARIO(ioctl_fionbio)
{
    int s[2], on = 1, off = 0, n = -1;
    struct later *l;

    pair(s);
    CALL(ioctl(s[0], FIONBIO, &on));
    CALL(fcntl(s[0], F_GETFL) & O_NONBLOCK);
    CALL(read(s[0], buf, 4));
    CALL(ioctl(s[0], FIONBIO, &off));
    CALL(fcntl(s[0], F_GETFL) & O_NONBLOCK);
    l = after_write(50, s[1], "later");
    bytes("got", buf, CALL(read(s[0], buf, 2)));
    finish(l);
    CALL(ioctl(s[0], FIONREAD, &n));
    say("FIONREAD %d", n);
}

SCENARIO(ioctl_errors)
{
    int s[2], on = 1;

    pair(s);
    CALL(ioctl(-1, FIONBIO, &on));
    CALL(ioctl(s[0], FIONBIO, BAD));
    CALL(ioctl(s[0], TCGETS, buf));
    CALL(read(s[0], buf, 0));
}

/* ------------------------------------------------------------ setsockopt */

SCENARIO(sockopt_timeo_roundtrip)
{
    int s[2];
    struct timeval tv = {0, 250000}, got = {9, 9};
    socklen_t len = sizeof got;

    pair(s);
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    CALL(getsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &got, &len));
    say("rcvtimeo %ld.%06ld", (long)got.tv_sec, (long)got.tv_usec);
    tv.tv_sec = 2;
    CALL(setsockopt(s[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    CALL(getsockopt(s[0], SOL_SOCKET, SO_SNDTIMEO, &got, &len));
    say("sndtimeo %ld.%06ld", (long)got.tv_sec, (long)got.tv_usec);
}

SCENARIO(sockopt_errors)
{
    int s[2], p[2];
    struct timeval tv = {0, 1000000}, ok = {0, 1000};

    pair(s);
    SETUP(pipe(p));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &ok, 4));
    CALL(setsockopt(-1, SOL_SOCKET, SO_RCVTIMEO, &ok, sizeof ok));
    CALL(setsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &ok, sizeof ok));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, BAD, sizeof ok));
}

/* A timeout set, then cleared (0 = none): the read waits for data again. */
SCENARIO(sockopt_rcvtimeo_cleared)
{
    int s[2];
    struct later *l;
    long long t0;

    pair(s);
    set_timeo(s[0], SO_RCVTIMEO, 50);
    t0 = now_ms();
    CALL(read(s[0], buf, 4));
    waited(t0, 50);
    set_timeo(s[0], SO_RCVTIMEO, 0);
    l = after_write(150, s[1], "late");
    bytes("got", buf, CALL(read(s[0], buf, 4)));
    finish(l);
}

/* Linux takes a negative SO_RCVTIMEO as "do not wait" (with a warning in the log). */
SCENARIO(sockopt_rcvtimeo_negative)
{
    int s[2];
    struct timeval tv = {-1, 0};
    long long t0;

    pair(s);
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    t0 = now_ms();
    CALL(read(s[0], buf, 4));
    prompt(t0, 500);
}

SCENARIO(sockopt_rcvtimeo_tiny)
{
    int s[2];
    struct timeval tv = {0, 1};

    pair(s);
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    CALL(read(s[0], buf, 4));
}

/* A timeout the socket already had when the program got it (inherited over exec, or set
 * by a raw system call) is honoured too. */
SCENARIO(sockopt_rcvtimeo_by_syscall)
{
    int s[2];
    struct timeval tv = {0, 100000};
    struct later *l;
    long long t0;

    pair(s);
    l = after_write(30, s[1], "x");
    CALL(read(s[0], buf, sizeof buf));
    finish(l);
    CALL(syscall(SYS_setsockopt, s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    t0 = now_ms();
    CALL(read(s[0], buf, sizeof buf));
    waited(t0, 100);
}

/* ------------------------------------------------ the open file's flags */

/* O_NONBLOCK belongs to the open file, which a child process shares: while this process
 * waits in a blocking call, a child looking at the descriptor must see it blocking, as the
 * program left it (inetd- and CGI-style children inherit such descriptors). */
static void child_sees_flags(int fd, const char *during, void (*wait_call)(int fd))
{
    int p[2], fl = -1;
    pid_t pid;

    SETUP(pipe(p));
    pid = SETUP(fork());
    if (pid == 0) {
        usleep(50000);
        fl = fcntl(fd, F_GETFL);
        _exit(write(p[1], &fl, sizeof fl) == sizeof fl ? 0 : 1);
    }
    wait_call(fd);
    if (read(p[0], &fl, sizeof fl) != sizeof fl)
        setup_failed("the child's report");
    waitpid(pid, NULL, 0);
    say("a child saw O_NONBLOCK during %s: %s", during, fl & O_NONBLOCK ? "yes" : "no");
    close(p[0]);
    close(p[1]);
}

static void wait_read(int fd)
{
    set_timeo(fd, SO_RCVTIMEO, 150);
    CALL(read(fd, buf, 1));
}

static void wait_accept(int fd)
{
    set_timeo(fd, SO_RCVTIMEO, 150);
    CALL(accept(fd, NULL, NULL));
}

static void wait_connect(int fd)
{
    set_timeo(fd, SO_SNDTIMEO, 150);
    CALL(connect(fd, (struct sockaddr *)&target, sizeof target));
}

SCENARIO(nonblock_unseen_by_child)
{
    struct sockaddr_in a;
    int s[2];

    pair(s);
    child_sees_flags(s[0], "read", wait_read);
    child_sees_flags(tcp_listener(4, &a), "accept", wait_accept);
    full_listener(&target);
    child_sees_flags(SETUP(socket(AF_INET, SOCK_STREAM, 0)), "connect", wait_connect);
}

/* ---------------------------------------------------------------- file locks */

/* A child process holds a lock on a fresh file for 200 ms; meanwhile a thread of ours
 * counts 10 ms ticks while main's blocking lock call waits.  The call returns 0 once the
 * child lets go, and the ticks show whether other threads ran during the wait (they do
 * with real threads; with green threads only if the wait is cooperative). */
static volatile int lock_ticks, lock_done;

static void *lock_ticker(void *arg)
{
    (void)arg;
    while (!lock_done) {
        usleep(10000);
        lock_ticks++;
    }
    return NULL;
}

static void contended(int kind)
{
    char path[] = "/tmp/probe_lockXXXXXX";
    int fd = mkstemp(path), go[2];
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    pthread_t t;
    pid_t child;
    long long t0;

    if (fd < 0 || pipe(go) < 0)
        setup_failed("mkstemp/pipe");
    child = fork();
    if (child == 0) {
        /* Its own open file: flock locks belong to the open file, not the process. */
        int own = open(path, O_RDWR);
        int held = kind == 0 ? flock(own, LOCK_EX) : fcntl(own, F_SETLK, &fl);
        (void)!write(go[1], held == 0 ? "y" : "n", 1);
        usleep(200000);
        _exit(0);
    }
    (void)!read(go[0], buf, 1);
    unlink(path);
    pthread_create(&t, NULL, lock_ticker, NULL);
    t0 = now_ms();
    if (kind == 0)
        CALL(flock(fd, LOCK_EX));
    else if (kind == 1)
        CALL(fcntl(fd, F_SETLKW, &fl));
    else
        CALL(lockf(fd, F_LOCK, 0));
    waited(t0, 200);
    lock_done = 1;
    pthread_join(t, NULL);
    say("other thread ran meanwhile: %s", lock_ticks >= 5 ? "yes" : "no");
    waitpid(child, NULL, 0);
}

SCENARIO(flock_contended)
{
    contended(0);
}

SCENARIO(fcntl_setlkw_contended)
{
    contended(1);
}

SCENARIO(lockf_contended)
{
    contended(2);
}
