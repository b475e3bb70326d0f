/*
 * probe_bad — differential scenarios that give every family of hooked calls bad
 * arguments: descriptors that are not open, huge or of the wrong kind; NULL and unmapped
 * pointers; negative, zero and huge sizes and counts; invalid, negative and huge timeouts
 * and clocks; unknown flags; NULL attributes; invalid thread, signal, process and name
 * service requests.  The patched run must give the same results and errno values as the
 * kernel and glibc give unpatched (see probe.h for the transcript).
 *
 * Calls that glibc itself turns into a crash unpatched (it dereferences the pointer in
 * user space) are left out with a comment saying so, or run as a scenario of their own
 * whose transcript ends in the crash; the patched run must crash the same way.
 *
 * Huge timeouts (tv_sec LONG_MAX, timeout INT_MAX) must wait as long as unpatched, that is
 * until a signal or another thread ends the wait: a deadline computed with an overflow
 * would end it at once instead.
 */
#include "probe.h"

#include <limits.h>
#include <netdb.h>
#include <sched.h>
#include <semaphore.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

/* Volatile, so the compiler cannot see (and warn about) the sizes the kernel refuses. */
static volatile const size_t size_max = SIZE_MAX, ssize_max = SSIZE_MAX;
static volatile const int int_min = INT_MIN, int_max = INT_MAX;
static volatile const nfds_t nfds_max = (nfds_t)-1;
static const struct timespec ns_big = {0, 1000000000}, ns_neg = {0, -1}, sec_neg = {-1, 0},
                             sec_huge = {LONG_MAX, 0}, sec_min = {LONG_MIN, 0};

/* An unlinked regular file holding "file data", open read-write at offset 0. */
static int regular_file(void)
{
    char path[] = "/tmp/probe-bad-XXXXXX";
    int fd = SETUP(mkstemp(path));

    unlink(path);
    SETUP(write(fd, "file data", 9));
    SETUP(lseek(fd, 0, SEEK_SET));
    return fd;
}

/* A descriptor number that is not open (it was, a moment ago). */
static int closed_fd(void)
{
    int fd = SETUP(dup(0));

    close(fd);
    return fd;
}

/* The descriptor numbers that are not open, by name: each is tried on every call. */
struct named {
    const char *name;
    int fd;
};

static void for_each(const struct named *fds, int n, void (*calls)(int fd))
{
    for (int i = 0; i < n; i++) {
        say("-- fd: %s", fds[i].name);
        calls(fds[i].fd);
    }
}

#define NOT_OPEN(fds)                                                                       \
    struct named fds[] = {{"-1", -1}, {"INT_MIN", INT_MIN}, {"1<<30", 1 << 30},             \
                          {"closed", closed_fd()}, {"INT_MAX", INT_MAX}}

static struct msghdr msg_of(struct iovec *iov, size_t n)
{
    struct msghdr m;

    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = n;
    return m;
}

/* ------------------------------------------------------ descriptors: io */

static void io_calls(int fd)
{
    struct iovec iov = {buf, 4};

    CALL(read(fd, buf, 4));
    CALL(write(fd, "x", 1));
    CALL(readv(fd, &iov, 1));
    CALL(writev(fd, &iov, 1));
    CALL(pread(fd, buf, 4, 0));
    CALL(pwrite(fd, "x", 1, 0));
}

SCENARIO(bad_fd_io)
{
    NOT_OPEN(fds);

    for_each(fds, 5, io_calls);
}

static void socket_calls(int fd)
{
    struct sockaddr_in a = loopback(9);
    socklen_t len = sizeof a;
    struct iovec iov = {buf, 4};
    struct msghdr m = msg_of(&iov, 1);
    struct mmsghdr mm = {m, 0};
    struct timeval tv = {1, 0};

    CALL(recv(fd, buf, 4, 0));
    CALL(send(fd, "x", 1, MSG_NOSIGNAL));
    CALL(recvfrom(fd, buf, 4, 0, (struct sockaddr *)&a, &len));
    CALL(sendto(fd, "x", 1, MSG_NOSIGNAL, (struct sockaddr *)&a, sizeof a));
    CALL(recvmsg(fd, &m, 0));
    CALL(sendmsg(fd, &m, MSG_NOSIGNAL));
    CALL(recvmmsg(fd, &mm, 1, 0, NULL));
    CALL(sendmmsg(fd, &mm, 1, MSG_NOSIGNAL));
    CALL(accept(fd, NULL, NULL));
    CALL(accept4(fd, NULL, NULL, SOCK_CLOEXEC));
    CALL(connect(fd, (struct sockaddr *)&a, sizeof a));
    CALL(shutdown(fd, SHUT_RDWR));
    CALL(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    CALL(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    len = sizeof tv;
    CALL(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
}

SCENARIO(bad_fd_socket)
{
    NOT_OPEN(fds);

    for_each(fds, 5, socket_calls);
}

/* Descriptors that are open but not sockets: ENOTSOCK from every socket call. */
SCENARIO(bad_fd_not_socket)
{
    int p[2], ep = SETUP(epoll_create1(0)), ev = SETUP(eventfd(0, 0));
    struct named fds[] = {{"regular file", regular_file()},
                          {"directory", SETUP(open("/", O_RDONLY | O_DIRECTORY))},
                          {"pipe", (SETUP(pipe(p)), p[0])},
                          {"epoll", ep},
                          {"eventfd", ev},
                          {"/dev/null", SETUP(open("/dev/null", O_RDWR))}};

    for_each(fds, 6, socket_calls);
}

/* Open descriptors of the wrong kind or mode for the io calls. */
SCENARIO(bad_fd_wrong_kind)
{
    int p[2], s[2], f = regular_file(), dir = SETUP(open("/", O_RDONLY | O_DIRECTORY));
    int ep = SETUP(epoll_create1(0)), ev = SETUP(eventfd(0, 0));
    int wronly = SETUP(open("/dev/null", O_WRONLY)), rdonly = SETUP(open("/dev/null", O_RDONLY));
    int path = SETUP(open("/", O_PATH)), l, c, u;
    struct sockaddr_in a;
    struct iovec iov = {buf, 4};
    sigset_t set;

    SETUP(pipe(p));
    pair(s);
    l = tcp_listener(1, &a);
    c = SETUP(socket(AF_INET, SOCK_STREAM, 0));
    u = SETUP(socket(AF_INET, SOCK_DGRAM, 0));
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    ignore_signal(SIGPIPE);
    CALL(read(dir, buf, 4));
    CALL(readv(dir, &iov, 1));
    CALL(write(dir, "x", 1));
    CALL(read(ep, buf, 4));
    CALL(write(ep, "x", 1));
    CALL(read(p[1], buf, 4));
    CALL(write(p[0], "x", 1));
    CALL(read(wronly, buf, 4));
    CALL(write(rdonly, "x", 1));
    CALL(read(path, buf, 4));
    CALL(write(path, "x", 1));
    CALL(write(ev, "12345678", 8));
    CALL(write(ev, "1234", 4));
    CALL(read(SETUP(signalfd(-1, &set, 0)), buf, 4));
    CALL(pread(p[0], buf, 4, 0));
    CALL(pwrite(s[0], "x", 1, 0));
    CALL(pread(s[0], buf, 4, 0));
    CALL(read(l, buf, 4));
    CALL(read(c, buf, 4));
    CALL(write(c, "x", 1));
    CALL(readv(l, &iov, 1));
    CALL(sendfile(s[1], dir, NULL, 10));
    CALL(sendfile(s[1], s[0], NULL, 10));
    CALL(sendfile(f, f, NULL, 10));
    CALL(splice(s[0], NULL, s[1], NULL, 10, SPLICE_F_NONBLOCK));
    CALL(splice(f, NULL, dir, NULL, 10, 0));
    CALL(flock(path, LOCK_EX));
    CALL(lockf(rdonly, F_LOCK, 0));
    CALL(lockf(s[0], F_TLOCK, 0));
    CALL(fcntl(path, F_SETFL, O_NONBLOCK));
    CALL(ioctl(path, FIONBIO, &(int){1}));
    CALL(recv(u, buf, 4, MSG_DONTWAIT));
    CALL(send(u, "x", 1, 0));
}

/* ---------------------------------------------------- sockets: bad states */

SCENARIO(bad_socket_state)
{
    struct sockaddr_in a, b;
    struct sockaddr_un un = {AF_UNIX, "/nonexistent/probe-bad"};
    int l = tcp_listener(1, &a), c = SETUP(socket(AF_INET, SOCK_STREAM, 0));
    int u = bound(SOCK_DGRAM, &b), d = SETUP(socket(AF_UNIX, SOCK_DGRAM, 0)), cs, ss, s[2];
    static char big[70000];

    pair(s);
    ignore_signal(SIGPIPE);
    CALL(recv(c, buf, 4, 0));
    CALL(send(c, "x", 1, 0));
    CALL(shutdown(c, SHUT_RDWR));
    CALL(shutdown(l, 99));
    CALL(shutdown(l, -1));
    CALL(accept(u, NULL, NULL));
    CALL(accept(s[0], NULL, NULL));
    CALL(connect(l, (struct sockaddr *)&a, sizeof a));
    CALL(send(u, "x", 1, 0));
    CALL(sendto(u, big, sizeof big, 0, (struct sockaddr *)&b, sizeof b));
    CALL(sendto(d, "x", 1, 0, (struct sockaddr *)&un, sizeof un));
    CALL(connect(d, (struct sockaddr *)&un, sizeof un));
    CALL(sendto(u, "x", 1, 0, (struct sockaddr *)&un, sizeof un));
    tcp_pair(&cs, &ss);
    CALL(recv(ss, buf, 4, MSG_OOB));
    CALL(recv(s[0], buf, 4, MSG_OOB | MSG_DONTWAIT));
    CALL(send(s[1], "x", 1, MSG_OOB | 0x40000000));
    CALL(recv(ss, buf, 4, MSG_ERRQUEUE));
    CALL(connect(cs, (struct sockaddr *)&a, sizeof a));
    a.sin_family = AF_UNSPEC;
    CALL(connect(cs, (struct sockaddr *)&a, sizeof a));
    CALL(recv(cs, buf, 4, 0));
}

/* socket, socketpair, pipe2, eventfd, epoll_create1, accept4, dup3 with bad arguments. */
SCENARIO(bad_flags)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a), sv[2], p[2], fl, fd;

    FD(socket(AF_INET, 999, 0));
    FD(socket(AF_INET, SOCK_STREAM | 0x40000000, 0));
    FD(socket(9999, SOCK_STREAM, 0));
    FD(socket(-1, SOCK_STREAM, 0));
    FD(socket(AF_INET, SOCK_STREAM, 9999));
    FD(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
    CALL(socketpair(AF_INET, SOCK_STREAM, 0, sv));
    CALL(socketpair(AF_UNIX, SOCK_STREAM | 0x40000000, 0, sv));
    CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, BAD));
    CALL(pipe2(p, 0xffff));
    CALL(pipe2(p, O_RDWR));
    CALL(pipe2(BAD, 0));
    CALL(pipe(BAD));
    FD(eventfd(0, 0x1234));
    FD(eventfd(UINT_MAX, 0));
    FD(epoll_create1(0x1234));
    FD(epoll_create1(-1));
    tcp_client(&a);
    tcp_client(&a);
    FD(accept4(l, NULL, NULL, -1));
    FD(accept4(l, NULL, NULL, 0x7));
    fd = (int)FD(accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
    fl = fcntl(fd, F_GETFL);
    say("nonblocking: %s", fl & O_NONBLOCK ? "yes" : "no");
    SETUP(pipe(p));
    FD(dup3(p[0], p[1], -1));
    FD(dup3(p[0], p[0], O_CLOEXEC));
    FD(dup3(p[0], -1, 0));
    FD(fcntl(p[0], F_DUPFD, INT_MAX));
    FD(fcntl(p[0], F_DUPFD_CLOEXEC, -5));
    CALL(fcntl(p[0], -1));
    CALL(fcntl(p[0], F_SETFL, -1));
    say("pipe nonblocking: %s", fcntl(p[0], F_GETFL) & O_NONBLOCK ? "yes" : "no");
    CALL(ioctl(p[0], 0xdeadbeef, buf));
    CALL(flock(p[0], 0x1234));
    CALL(flock(p[0], -1));
    CALL(lockf(p[0], 99, 0));
}

/* poll and ppoll report descriptors that are not open as POLLNVAL (and skip negative
 * ones); epoll_wait wants an epoll descriptor. */
SCENARIO(bad_fd_mux)
{
    int s[2], f = regular_file();
    struct pollfd p[6];
    struct epoll_event ev[4];
    long long t0 = now_ms();

    pair(s);
    p[0] = (struct pollfd){-5, POLLIN, 0};
    p[1] = (struct pollfd){1 << 30, POLLIN, 0};
    p[2] = (struct pollfd){INT_MAX, POLLOUT, 0};
    p[3] = (struct pollfd){closed_fd(), POLLIN, 0};
    p[4] = (struct pollfd){INT_MIN, POLLIN, 0};
    p[5] = (struct pollfd){s[0], POLLIN, 0};
    CALL(poll(p, 6, 500));
    for (int i = 0; i < 6; i++)
        say("revents[%d] 0x%x", i, p[i].revents);
    CALL(ppoll(p, 5, &(struct timespec){0, 500000000}, NULL));
    CALL(poll(p, 1, 100));
    CALL(epoll_wait(1 << 30, ev, 4, 500));
    CALL(epoll_wait(INT_MIN, ev, 4, 500));
    CALL(epoll_wait(f, ev, 4, 500));
    CALL(epoll_wait(s[0], ev, 4, 500));
    CALL(epoll_pwait(-1, ev, 4, 500, NULL));
    CALL(epoll_pwait2(closed_fd(), ev, 4, NULL, NULL));
    prompt(t0, 550);
}

/* ----------------------------------------------------------- bad pointers */

SCENARIO(bad_pointers_io)
{
    int s[2], f = regular_file(), u, r;
    struct sockaddr_in a, from;
    socklen_t len = sizeof from;
    struct iovec nul = {NUL, 3}, iov = {buf, 4};
    struct msghdr m = msg_of(&iov, 1);
    char ctl[64];

    pair(s);
    CALL(write(s[1], "abcdefghijklmnop", 16));
    CALL(readv(s[0], &nul, 1));
    CALL(readv(s[0], NUL, 1));
    CALL(writev(s[1], &nul, 1));
    CALL(writev(s[1], NUL, 1));
    CALL(pread(f, NUL, 3, 0));
    CALL(pread(f, BAD, 3, 0));
    CALL(pwrite(f, NUL, 3, 0));
    CALL(recv(s[0], NUL, 3, 0));
    CALL(send(s[1], NUL, 3, 0));
    CALL(recvfrom(s[0], NUL, 3, 0, NULL, NULL));
    CALL(sendto(s[1], NUL, 3, 0, NULL, 0));
    m.msg_control = BAD;
    m.msg_controllen = sizeof ctl;
    CALL(sendmsg(s[1], &m, 0));
    CALL(recvmsg(s[0], &m, 0));
    CALL(recvmmsg(s[0], NUL, 1, 0, NULL));
    CALL(sendmmsg(s[1], NUL, 1, 0));
    CALL(recvmmsg(s[0], (struct mmsghdr *)BAD, 1, MSG_DONTWAIT, NULL));
    CALL(sendfile(s[1], f, BAD, 4));
    CALL(splice(f, BAD, s[1], NULL, 4, 0));
    bytes("left", buf, CALL(recv(s[0], buf, sizeof buf, MSG_DONTWAIT)));
    u = bound(SOCK_DGRAM, &a);
    r = bound(SOCK_DGRAM, &from);
    CALL(sendto(r, "dgram", 5, 0, (struct sockaddr *)&a, sizeof a));
    m = msg_of(&iov, 1);
    m.msg_name = BAD;
    m.msg_namelen = sizeof from;
    CALL(recvmsg(u, &m, 0));
    CALL(sendto(r, "dgram", 5, 0, (struct sockaddr *)&a, sizeof a));
    CALL(recvfrom(u, buf, 4, 0, (struct sockaddr *)&from, NUL));
    CALL(sendto(r, "dgram", 5, 0, (struct sockaddr *)&a, sizeof a));
    len = (socklen_t)-1;
    CALL(recvfrom(u, buf, 4, 0, (struct sockaddr *)&from, &len));
    m = msg_of(&iov, 1);
    m.msg_name = BAD;
    m.msg_namelen = sizeof a;
    CALL(sendmsg(r, &m, 0));
    CALL(recv(u, buf, sizeof buf, MSG_DONTWAIT));
}

SCENARIO(bad_pointers_fd)
{
    struct sockaddr_in a;
    int l = tcp_listener(4, &a), s[2], f = regular_file();
    socklen_t len = sizeof a, neg = (socklen_t)-1;
    struct timeval tv;

    pair(s);
    tcp_client(&a);
    tcp_client(&a);
    tcp_client(&a);
    CALL(accept(l, (struct sockaddr *)&a, NUL));
    CALL(accept(l, (struct sockaddr *)&a, &neg));
    len = 0;
    FD(accept(l, (struct sockaddr *)&a, &len));
    say("len %u", (unsigned)len);
    CALL(connect(SETUP(socket(AF_INET, SOCK_STREAM, 0)), NUL, sizeof a));
    CALL(connect(SETUP(socket(AF_INET, SOCK_STREAM, 0)), (struct sockaddr *)&a, 0));
    CALL(connect(SETUP(socket(AF_INET, SOCK_STREAM, 0)), (struct sockaddr *)&a, 1 << 20));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, NUL, sizeof tv));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_SNDTIMEO, BAD, sizeof tv));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, NUL, 0));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 3));
    tv = (struct timeval){0, 50000};
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 1 << 30));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, (socklen_t)-1));
    CALL(read(s[0], buf, 4));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0, 1000000}, sizeof tv));
    CALL(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0, -1}, sizeof tv));
    CALL(getsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, NUL, &len));
    len = sizeof tv;
    CALL(getsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, NUL));
    CALL(getsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &neg));
    CALL(ioctl(s[0], FIONREAD, NUL));
    CALL(ioctl(s[0], FIONBIO, NUL));
    CALL(fcntl(f, F_GETLK, NUL));
    CALL(fcntl(f, F_SETLK, BAD));
    CALL(fcntl(f, F_SETLKW, BAD));
    CALL(fcntl(f, F_OFD_SETLKW, NUL));
    /* The descriptor still works as before. */
    CALL(write(s[1], "ok", 2));
    bytes("got", buf, CALL(read(s[0], buf, sizeof buf)));
}

/* select and pselect with an unmapped timeout or signal mask are left out: glibc reads
 * the timeval/timespec in user space to convert it (time64), and crashes unpatched. */
SCENARIO(bad_pointers_mux)
{
    int s[2], ep;
    struct pollfd p;
    struct epoll_event ev[4];
    fd_set r;

    pair(s);
    p = (struct pollfd){s[0], POLLIN, 0};
    ep = SETUP(epoll_create1(0));
    ev[0] = (struct epoll_event){.events = EPOLLIN, .data.fd = s[0]};
    SETUP(epoll_ctl(ep, EPOLL_CTL_ADD, s[0], ev));
    CALL(poll(NUL, 1, 0));
    CALL(poll(NUL, 0, 0));
    CALL(ppoll(NUL, 1, &(struct timespec){0, 0}, NULL));
    CALL(ppoll(&p, 1, &(struct timespec){0, 0}, BAD));
    CALL(epoll_wait(ep, NUL, 4, 0));
    CALL(epoll_pwait(ep, ev, 4, 0, BAD));
    CALL(epoll_pwait2(ep, NUL, 4, &(struct timespec){0, 0}, NULL));
    FD_ZERO(&r);
    FD_SET(s[0], &r);
    CALL(select(s[0] + 1, &r, NUL, NUL, &(struct timeval){0, 0}));
    CALL(select(s[0] + 1, NUL, BAD, NUL, &(struct timeval){0, 0}));
    CALL(write(s[1], "x", 1));
    CALL(poll(BAD, 1, 0));
    CALL(epoll_wait(ep, BAD, 4, 0));
    CALL(epoll_pwait(ep, NUL, 4, 0, NULL));
    CALL(pselect(s[0] + 1, BAD, NULL, NULL, &(struct timespec){0, 0}, NULL));
    CALL(poll(&p, 1, 0));
    say("revents 0x%x", p.revents);
}

/* Results the call writes back into memory it cannot write: read-only data (.rodata) or
 * an unmapped address, found only once the call has something to write. */
static const struct timespec ro_ts = {0, 0};
static const struct pollfd ro_pfd = {0, POLLIN, 0};
static const struct sockaddr_in ro_addr;
static const socklen_t ro_len = sizeof ro_addr;
static struct iovec ro_iov = {buf, 4};
static const struct msghdr ro_msg = {.msg_iov = &ro_iov, .msg_iovlen = 1};
static const struct mmsghdr ro_mmsg = {{.msg_iov = &ro_iov, .msg_iovlen = 1}, 0};

SCENARIO(bad_readonly_results)
{
    struct timespec ts = {2, 0};
    struct pollfd *p = (struct pollfd *)&ro_pfd;
    struct epoll_event ev = {.events = EPOLLIN};
    struct sockaddr_in a;
    sigset_t set;
    int s[2], ep, l;

    /* select with a read-only timeval is left out: glibc writes the time left into it
     * itself, and dies of SIGSEGV unpatched. */
    pair(s);
    interrupt_in(50);
    CALL(nanosleep(&ts, BAD));
    interrupt_in(50);
    CALL(nanosleep(&ts, (struct timespec *)&ro_ts));
    interrupt_in(50);
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, BAD));
    CALL(poll(p, 1, 50));
    CALL(write(s[1], "x", 1));
    ep = SETUP(epoll_create1(0));
    ev.data.fd = s[0];
    SETUP(epoll_ctl(ep, EPOLL_CTL_ADD, s[0], &ev));
    CALL(epoll_wait(ep, (struct epoll_event *)&ro_ts, 1, 50));
    l = tcp_listener(4, &a);
    tcp_client(&a);
    tcp_client(&a);
    tcp_client(&a);
    CALL(accept(l, (struct sockaddr *)&ro_addr, (socklen_t *)&ro_len));
    FD(accept4(l, NULL, (socklen_t *)&ro_len, 0));
    FD(accept(l, NULL, NULL));
    CALL(recvfrom(s[0], buf, 4, 0, (struct sockaddr *)&ro_addr, (socklen_t *)&ro_len));
    CALL(write(s[1], "y", 1));
    CALL(read(s[0], (char *)&ro_len, 1));
    CALL(recv(s[0], (char *)&ro_len, 1, 0));
    drain(s[0]);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    CALL(sigtimedwait(&set, BAD, NULL));
    CALL(sigtimedwait(&set, NULL, &(struct timespec){0, 1000}));
    raise(SIGUSR1);
    CALL(sigtimedwait(&set, (siginfo_t *)&ro_ts, &(struct timespec){1, 0}));
    CALL(sigtimedwait(&set, NULL, &(struct timespec){0, 1000}));
    say("-- descriptors and messages");
    CALL(pipe((int *)&ro_pfd));
    CALL(pipe2((int *)&ro_pfd, O_CLOEXEC));
    CALL(socketpair(AF_UNIX, SOCK_STREAM, 0, (int *)&ro_pfd));
    CALL(write(s[1], "msg", 3));
    CALL(recvmsg(s[0], (struct msghdr *)&ro_msg, 0));
    CALL(write(s[1], "mmsg", 4));
    CALL(recvmmsg(s[0], (struct mmsghdr *)&ro_mmsg, 1, 0, NULL));
    CALL(recv(s[0], buf, sizeof buf, MSG_DONTWAIT));
    say("-- a child's resource usage");
    {
        pid_t pid = SETUP(fork());
        int st;

        if (pid == 0)
            _exit(4);
        CALL(wait4(pid, &st, 0, (struct rusage *)&ro_ts));
        CALL(waitpid(pid, &st, WNOHANG));
    }
}

/* ----------------------------------------------------------- bad sizes */

/* Every receive below finds 8 bytes waiting (and whatever an earlier call left is
 * dropped first), so a call the kernel accepts returns at once instead of blocking; errno
 * is left as it was, for the transcript. */
static int refill(int s[2])
{
    int e = errno;

    drain(s[0]);
    SETUP(write(s[1], "abcdefgh", 8));
    errno = e;
    return s[0];
}

/* One readable page followed by an unmapped one: a transfer the kernel clamps to 2 GiB
 * instead of refusing faults at the end of the page, before a socket buffer fills. */
static char *edge_page(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED || munmap(p + pg, pg) < 0)
        setup_failed("edge_page");
    return p;
}

SCENARIO(bad_sizes_io)
{
    int s[2], f = regular_file(), u, r;
    static struct iovec many[IOV_MAX + 2];
    char *edge = edge_page();
    struct iovec two[2] = {{edge, SSIZE_MAX}, {edge, SSIZE_MAX}}, iov = {buf, 4};
    struct msghdr m = msg_of(many, IOV_MAX + 1);
    struct mmsghdr mm = {msg_of(&iov, 1), 0};
    struct sockaddr_in a, b;

    for (int i = 0; i < IOV_MAX + 2; i++)
        many[i] = (struct iovec){buf, 1};
    pair(s);
    CALL(read(refill(s), edge, size_max));
    CALL(read(refill(s), edge, ssize_max));
    CALL(recv(refill(s), edge, size_max, 0));
    CALL(recvfrom(refill(s), edge, ssize_max, 0, NULL, NULL));
    CALL(write(s[1], edge, size_max));
    CALL(write(s[1], edge, ssize_max));
    CALL(send(s[1], edge, ssize_max, 0));
    CALL(readv(refill(s), many, IOV_MAX + 1));
    CALL(readv(refill(s), many, int_min));
    CALL(readv(refill(s), two, 2));
    CALL(writev(s[1], many, IOV_MAX + 1));
    CALL(writev(s[1], two, 2));
    CALL(readv(refill(s), many, 0));
    CALL(writev(s[1], many, 0));
    CALL(recvmsg(refill(s), &m, 0));
    CALL(sendmsg(s[1], &m, 0));
    m.msg_iovlen = SIZE_MAX;
    CALL(recvmsg(refill(s), &m, 0));
    m = msg_of(two, 2);
    CALL(recvmsg(refill(s), &m, 0));
    CALL(sendmsg(s[1], &m, 0));
    CALL(recvmmsg(refill(s), &mm, 0, 0, NULL));
    CALL(sendmmsg(s[1], &mm, 0, 0));
    CALL(pread(f, buf, 4, -1));
    CALL(pwrite(f, "x", 1, LLONG_MIN));
    CALL(sendfile(s[1], f, &(off_t){-1}, 4));
    CALL(splice(f, &(loff_t){-1}, s[1], NULL, 4, 0));
    CALL(splice(f, NULL, s[1], NULL, 0, 0));
    CALL(splice(f, NULL, s[1], NULL, 4, 0x1000));
    bytes("left", buf, CALL(recv(s[0], buf, sizeof buf, MSG_DONTWAIT)));
    u = bound(SOCK_DGRAM, &a);
    r = bound(SOCK_DGRAM, &b);
    CALL(sendto(r, "dgram", 5, 0, (struct sockaddr *)&a, sizeof a));
    CALL(sendto(r, "x", 1, 0, (struct sockaddr *)&a, 3));
    CALL(sendto(r, "x", 1, 0, (struct sockaddr *)&a, (socklen_t)-1));
    CALL(recvfrom(u, buf, 0, 0, NULL, NULL));
    CALL(recv(u, buf, sizeof buf, MSG_DONTWAIT));
}

/* Counts beyond what there is (the kernel stops at the end of the file) and receives of
 * nothing. */
SCENARIO(bad_sizes_beyond)
{
    int s[2], f = regular_file(), p[2];
    off_t off = 0;
    loff_t loff = 0;
    struct iovec none = {buf, 0};
    struct msghdr m = msg_of(&none, 0);
    struct mmsghdr mm = {msg_of(&none, 0), 0};
    long long t0 = now_ms();

    pair(s);
    SETUP(pipe(p));
    CALL(sendfile(s[1], f, NULL, size_max));
    CALL(sendfile(s[1], f, &off, ssize_max));
    say("offset %ld", (long)off);
    CALL(splice(f, &loff, p[1], NULL, size_max, 0));
    CALL(splice(p[0], NULL, s[1], NULL, size_max, 0));
    bytes("got", buf, CALL(recv(s[0], buf, sizeof buf, 0)));
    /* A receive of nothing still waits for data on a stream socket: give it some. */
    CALL(write(s[1], "abc", 3));
    CALL(recvmsg(s[0], &m, 0));
    m.msg_iovlen = 1;
    CALL(recvmsg(s[0], &m, 0));
    CALL(recvmmsg(s[0], &mm, 1, 0, NULL));
    CALL(recv(s[0], buf, 0, 0));
    CALL(recvfrom(s[0], buf, 0, 0, NULL, NULL));
    CALL(read(s[0], buf, 0));
    CALL(send(s[1], buf, 0, 0));
    CALL(sendmsg(s[1], &m, 0));
    bytes("left", buf, CALL(recv(s[0], buf, sizeof buf, 0)));
    prompt(t0, 1000);
}

SCENARIO(bad_sizes_mux)
{
    int s[2], ep;
    struct pollfd p;
    struct epoll_event ev[4];
    struct rlimit rl;
    static fd_set huge[3][64]; /* room for 65536 descriptors each, all clear */
    fd_set r;
    struct timeval tv;
    long long t0;

    pair(s);
    SETUP(getrlimit(RLIMIT_NOFILE, &rl));
    p = (struct pollfd){s[0], POLLIN, 0};
    ep = SETUP(epoll_create1(0));
    ev[0] = (struct epoll_event){.events = EPOLLIN, .data.fd = s[0]};
    SETUP(epoll_ctl(ep, EPOLL_CTL_ADD, s[0], ev));
    CALL(poll(&p, nfds_max, 0));
    CALL(poll(&p, (nfds_t)rl.rlim_cur + 1, 0));
    CALL(ppoll(&p, (nfds_t)rl.rlim_cur + 1, NULL, NULL));
    CALL(epoll_wait(ep, ev, int_max, 0));
    CALL(epoll_wait(ep, ev, int_min, 0));
    CALL(select(INT_MIN, NULL, NULL, NULL, &(struct timeval){0, 0}));
    CALL(select(INT_MAX, NULL, NULL, NULL, &(struct timeval){0, 0}));
    CALL(select(FD_SETSIZE + 1, &huge[0][0], &huge[1][0], &huge[2][0],
                &(struct timeval){0, 0}));
    CALL(select(65536, &huge[0][0], &huge[1][0], &huge[2][0], &(struct timeval){0, 0}));
    CALL(pselect(65536, &huge[0][0], NULL, NULL, &(struct timespec){0, 0}, NULL));
    CALL(select(0, NULL, NULL, NULL, &(struct timeval){-1, 0}));
    FD_ZERO(&r);
    FD_SET(s[0], &r);
    CALL(epoll_pwait2(ep, ev, 4, &sec_neg, NULL));
    CALL(epoll_pwait2(ep, ev, 4, &ns_neg, NULL));
    CALL(ppoll(&p, 1, &sec_min, NULL));
    CALL(pselect(s[0] + 1, &r, NULL, NULL, &ns_neg, NULL));
    /* A negative poll timeout other than -1 waits without end, as -1 does. */
    t0 = now_ms();
    interrupt_in(100);
    CALL(poll(&p, 1, -5));
    waited(t0, 100);
    t0 = now_ms();
    interrupt_in(100);
    CALL(poll(&p, 1, INT_MIN));
    waited(t0, 100);
    t0 = now_ms();
    interrupt_in(100);
    CALL(epoll_wait(ep, ev, 4, -7));
    waited(t0, 100);
    CALL(write(s[1], "x", 1));
    CALL(poll(&p, 1, -5));
    CALL(epoll_wait(ep, ev, 4, INT_MIN));
    /* glibc carries a tv_usec of a million or more into the seconds (the kernel would say
     * EINVAL); with data waiting, no time is spent on it. */
    CALL(select(s[0] + 1, &r, NULL, NULL, &(struct timeval){0, 1000000}));
    FD_SET(s[0], &r);
    tv = (struct timeval){0, 5000000};
    CALL(select(s[0] + 1, &r, NULL, NULL, &tv));
    say("tv left %ld s, usec below a million: %s", (long)tv.tv_sec,
        tv.tv_usec < 1000000 ? "yes" : "no");
}

/* select's sets are as long as nfds needs, in whole longs, as the kernel reads them: a
 * program may allocate just that (OpenSSH does), or more than FD_SETSIZE bits. */
SCENARIO(bad_select_set_sizes)
{
    int s[2], hi;
    long pg = sysconf(_SC_PAGESIZE);
    fd_set *tiny = (fd_set *)(edge_page() + pg - sizeof(long));
    static fd_set big[4]; /* 4096 descriptors */
    struct rlimit rl;
    struct timeval tv;
    struct later *l;
    long long t0;

    pair(s);
    SETUP(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < 2048) {
        rl.rlim_cur = rl.rlim_max < 2048 ? rl.rlim_max : 2048;
        SETUP(setrlimit(RLIMIT_NOFILE, &rl));
    }
    hi = SETUP(dup2(s[0], 1500));
    say("-- one long at the end of the page, %s", s[0] < 64 ? "enough" : "too short");
    memset(tiny, 0, sizeof(long));
    FD_SET(s[0], tiny);
    tv = (struct timeval){0, 50000};
    t0 = now_ms();
    CALL(select(s[0] + 1, tiny, NULL, NULL, &tv));
    waited(t0, 50);
    FD_SET(s[0], tiny);
    l = after_write(50, s[1], "x");
    CALL(select(s[0] + 1, NULL, tiny, NULL, NULL));
    CALL(select(s[0] + 1, tiny, NULL, NULL, NULL));
    say("set: %d", FD_ISSET(s[0], tiny));
    finish(l);
    drain(s[0]);
    say("-- 4096 bits, descriptor 1500");
    FD_SET(hi, &big[0]);
    tv = (struct timeval){0, 50000};
    t0 = now_ms();
    CALL(select(hi + 1, &big[0], NULL, NULL, &tv));
    waited(t0, 50);
    say("set: %d", FD_ISSET(hi, &big[0]));
    FD_SET(hi, &big[0]);
    l = after_write(50, s[1], "y");
    t0 = now_ms();
    CALL(select(hi + 1, &big[0], NULL, NULL, NULL));
    say("set: %d", FD_ISSET(hi, &big[0]));
    finish(l);
    drain(s[0]);
    FD_SET(hi, &big[0]);
    l = after_write(50, s[1], "z");
    CALL(pselect(4096, &big[0], NULL, NULL, NULL, NULL));
    say("set: %d", FD_ISSET(hi, &big[0]));
    finish(l);
}

/* ------------------------------------------------------- huge timeouts */

/* Each wait ends only by SIGALRM after 60 ms, never at once. */
SCENARIO(bad_huge_timeouts_mux)
{
    int s[2], ep;
    struct pollfd p;
    struct epoll_event ev[4];
    fd_set r;
    long long t0;
    struct timeval tv;
    struct timespec ts;

    pair(s);
    p = (struct pollfd){s[0], POLLIN, 0};
    ep = SETUP(epoll_create1(0));
    ev[0] = (struct epoll_event){.events = EPOLLIN, .data.fd = s[0]};
    SETUP(epoll_ctl(ep, EPOLL_CTL_ADD, s[0], ev));
#define HUGE_WAIT(expr)                                                                     \
    do {                                                                                    \
        t0 = now_ms();                                                                      \
        interrupt_in(60);                                                                   \
        CALL(expr);                                                                         \
        waited(t0, 60);                                                                     \
    } while (0)
    HUGE_WAIT(poll(&p, 1, INT_MAX));
    ts = sec_huge;
    HUGE_WAIT(ppoll(&p, 1, &ts, NULL));
    ts = (struct timespec){LONG_MAX, 999999999};
    HUGE_WAIT(ppoll(&p, 1, &ts, NULL));
    FD_ZERO(&r);
    FD_SET(s[0], &r);
    tv = (struct timeval){LONG_MAX, 0};
    HUGE_WAIT(select(s[0] + 1, &r, NULL, NULL, &tv));
    say("tv left huge: %s", tv.tv_sec > 1000000000000000L ? "yes" : "no");
    FD_SET(s[0], &r);
    tv = (struct timeval){LONG_MAX / 1000, 999999};
    HUGE_WAIT(select(s[0] + 1, &r, NULL, NULL, &tv));
    say("tv left huge: %s", tv.tv_sec > 1000000000000000L ? "yes" : "no");
    FD_SET(s[0], &r);
    ts = sec_huge;
    HUGE_WAIT(pselect(s[0] + 1, &r, NULL, NULL, &ts, NULL));
    HUGE_WAIT(epoll_wait(ep, ev, 4, INT_MAX));
    ts = sec_huge;
    HUGE_WAIT(epoll_pwait2(ep, ev, 4, &ts, NULL));
}

SCENARIO(bad_huge_timeouts_io)
{
    int s[2], l;
    struct sockaddr_in a;
    long long t0;
    /* The kernel keeps timeouts below LONG_MAX jiffies as given (and reports them back as
     * given), more than 2^63 nanoseconds included; longer ones are "no timeout". */
    struct timeval huge = {LONG_MAX, 0}, big = {INT_MAX, 999999};
    struct timeval ns_wrap = {INT64_MAX / 1000000000 + 1, 0}, long_ago = {1L << 50, 0};

    pair(s);
    SETUP(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &huge, sizeof huge));
    HUGE_WAIT(read(s[0], buf, 4));
    HUGE_WAIT(recv(s[0], buf, 4, 0));
    SETUP(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &big, sizeof big));
    HUGE_WAIT(read(s[0], buf, 4));
    SETUP(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &ns_wrap, sizeof ns_wrap));
    HUGE_WAIT(read(s[0], buf, 4));
    l = tcp_listener(1, &a);
    SETUP(setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &ns_wrap, sizeof ns_wrap));
    HUGE_WAIT(accept(l, NULL, NULL));
    SETUP(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &long_ago, sizeof long_ago));
    HUGE_WAIT(recv(s[0], buf, 4, 0));
    fill(s[1]);
    SETUP(setsockopt(s[1], SOL_SOCKET, SO_SNDTIMEO, &huge, sizeof huge));
    HUGE_WAIT(write(s[1], buf, 4096));
}

SCENARIO(bad_huge_timeouts_time)
{
    struct timespec ts = sec_huge, rem = {0, 0};
    long long t0;

    HUGE_WAIT(nanosleep(&ts, &rem));
    say("rem huge: %s", rem.tv_sec > LONG_MAX / 2 ? "yes" : "no");
    ts = (struct timespec){LONG_MAX, 999999999};
    HUGE_WAIT(nanosleep(&ts, NULL));
    ts = sec_huge;
    t0 = now_ms();
    interrupt_in(60);
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &rem));
    waited(t0, 60);
    t0 = now_ms();
    interrupt_in(60);
    RC(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL));
    waited(t0, 60);
    t0 = now_ms();
    interrupt_in(60);
    RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL));
    waited(t0, 60);
    HUGE_WAIT(usleep(UINT_MAX));
    HUGE_WAIT(sleep(UINT_MAX));
}

SCENARIO(bad_huge_timeouts_signal)
{
    struct timespec ts = sec_huge;
    sigset_t set;
    long long t0;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    HUGE_WAIT(sigtimedwait(&set, NULL, &ts));
    ts = (struct timespec){INT64_MAX / 1000000000 + 1, 0};
    HUGE_WAIT(sigtimedwait(&set, NULL, &ts));
}

/* Waits no signal ends: another thread ends them 100 ms in. */
static pthread_mutex_t held_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond_c = PTHREAD_COND_INITIALIZER;
static sem_t sem_s;
static pthread_rwlock_t held_rw = PTHREAD_RWLOCK_INITIALIZER;
static int cond_flag;

/* The holders below say when they hold the lock and when they are about to let it go,
 * so main's timed lock provably waited for them, however late a loaded machine runs it. */
static volatile int holding, letting_go;

static void *hold_briefly(void *p)
{
    (void)p;
    pthread_mutex_lock(&held_m);
    holding = 1;
    usleep(100000);
    letting_go = 1;
    pthread_mutex_unlock(&held_m);
    return NULL;
}

static void *signal_later(void *p)
{
    (void)p;
    usleep(100000);
    pthread_mutex_lock(&held_m);
    cond_flag = 1;
    pthread_cond_signal(&cond_c);
    pthread_mutex_unlock(&held_m);
    return NULL;
}

static void *post_later(void *p)
{
    (void)p;
    usleep(100000);
    sem_post(&sem_s);
    return NULL;
}

static void *rwunlock_later(void *p)
{
    (void)p;
    pthread_rwlock_wrlock(&held_rw);
    holding = 1;
    usleep(100000);
    letting_go = 1;
    pthread_rwlock_unlock(&held_rw);
    return NULL;
}

static void *return_later(void *p)
{
    usleep(100000);
    return p;
}

static pthread_t start(void *(*fn)(void *), void *arg)
{
    pthread_t t;

    if (pthread_create(&t, NULL, fn, arg))
        setup_failed("pthread_create");
    return t;
}

/* Start fn, a holder, and return once it holds its lock. */
static pthread_t start_holder(void *(*fn)(void *))
{
    pthread_t t;

    holding = letting_go = 0;
    t = start(fn, NULL);
    while (!holding)
        usleep(1000);
    return t;
}

SCENARIO(bad_huge_timeouts_thread)
{
    struct timespec ts = sec_huge;
    pthread_t t;
    long long t0;
    void *v;
    int r;

    t = start_holder(hold_briefly);
    RC(pthread_mutex_timedlock(&held_m, &ts));
    say("after the holder let go: %s", letting_go ? "yes" : "no");
    pthread_join(t, NULL);
    t = start(signal_later, NULL);
    t0 = now_ms();
    r = 0;
    while (!cond_flag && r == 0)
        r = pthread_cond_timedwait(&cond_c, &held_m, &ts);
    say("cond_timedwait: %s flag %d", r ? errname(r) : "0", cond_flag);
    waited(t0, 100);
    pthread_mutex_unlock(&held_m);
    pthread_join(t, NULL);
    SETUP(sem_init(&sem_s, 0, 0));
    t = start(post_later, NULL);
    t0 = now_ms();
    CALL(sem_timedwait(&sem_s, &ts));
    waited(t0, 100);
    pthread_join(t, NULL);
    t = start(post_later, NULL);
    t0 = now_ms();
    CALL(sem_clockwait(&sem_s, CLOCK_MONOTONIC, &ts));
    waited(t0, 100);
    pthread_join(t, NULL);
    t = start_holder(rwunlock_later);
    RC(pthread_rwlock_timedrdlock(&held_rw, &ts));
    say("after the holder let go: %s", letting_go ? "yes" : "no");
    RC(pthread_rwlock_unlock(&held_rw));
    pthread_join(t, NULL);
    t = start(return_later, (void *)7);
    t0 = now_ms();
    RC(pthread_timedjoin_np(t, &v, &ts));
    waited(t0, 100);
    say("value %ld", (long)v);
}

/* ------------------------------------------------------- bad timespecs */

static void *lock_and_hold(void *p)
{
    (void)p;
    pthread_mutex_lock(&held_m);
    holding = 1;
    usleep(300000);
    pthread_mutex_unlock(&held_m);
    return NULL;
}

SCENARIO(bad_timespecs_thread)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    const struct timespec *bad[] = {&ns_big, &ns_neg, &sec_neg, &sec_min};
    sem_t s;
    pthread_t t;
    long long t0 = now_ms();

    SETUP(sem_init(&s, 0, 0));
    RC(pthread_mutex_lock(&m));
    for (int i = 0; i < 4; i++) {
        say("-- timespec {%ld, %ld}", (long)bad[i]->tv_sec, bad[i]->tv_nsec);
        RC(pthread_cond_timedwait(&c, &m, bad[i]));
        RC(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, bad[i]));
        CALL(sem_timedwait(&s, bad[i]));
        CALL(sem_clockwait(&s, CLOCK_MONOTONIC, bad[i]));
        RC(pthread_mutex_timedlock(&m, bad[i]));
        RC(pthread_mutex_clocklock(&m, CLOCK_REALTIME, bad[i]));
        if (RC(pthread_rwlock_timedwrlock(&rw, bad[i])) == 0)
            RC(pthread_rwlock_unlock(&rw));
    }
    say("-- bad clocks");
    RC(pthread_cond_clockwait(&c, &m, 1234, &ns_big));
    RC(pthread_cond_clockwait(&c, &m, CLOCK_PROCESS_CPUTIME_ID, &sec_neg));
    RC(pthread_cond_clockwait(&c, &m, -1, &sec_neg));
    CALL(sem_clockwait(&s, 1234, &sec_neg));
    CALL(sem_clockwait(&s, CLOCK_THREAD_CPUTIME_ID, &sec_neg));
    RC(pthread_mutex_clocklock(&m, 1234, &sec_neg));
    RC(pthread_rwlock_clockrdlock(&rw, 1234, &sec_neg));
    RC(pthread_rwlock_clockwrlock(&rw, -1, &sec_neg));
    RC(pthread_mutex_unlock(&m));
    say("-- contended");
    t = start_holder(lock_and_hold);
    for (int i = 0; i < 4; i++) {
        RC(pthread_mutex_timedlock(&held_m, bad[i]));
        RC(pthread_mutex_clocklock(&held_m, CLOCK_MONOTONIC, bad[i]));
    }
    RC(pthread_mutex_clocklock(&held_m, 1234, &ns_big));
    RC(pthread_rwlock_wrlock(&rw));
    for (int i = 0; i < 4; i++) {
        RC(pthread_rwlock_timedrdlock(&rw, bad[i]));
        RC(pthread_rwlock_timedwrlock(&rw, bad[i]));
    }
    RC(pthread_rwlock_unlock(&rw));
    for (int i = 2; i < 4; i++)
        RC(pthread_timedjoin_np(t, NULL, bad[i]));
    RC(pthread_clockjoin_np(t, NULL, 1234, &sec_neg));
    RC(pthread_join(t, NULL));
    prompt(t0, 1200);
}

SCENARIO(bad_timespecs_time)
{
    struct timespec rem = {7, 7};
    long long t0 = now_ms();

    CALL(nanosleep(&sec_min, &rem));
    CALL(nanosleep(&(struct timespec){LONG_MIN, -1}, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &sec_neg, &rem));
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, &ns_neg, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &sec_neg, NULL));
    RC(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &sec_min, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ns_big, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0x10, &(struct timespec){0, 1000}, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, -1, &sec_neg, NULL));
    RC(clock_nanosleep(-1, 0, &(struct timespec){0, 1000}, NULL));
    /* The process's CPU clock: it does not advance while the process sleeps, so only a
     * time it has already passed can end. */
    RC(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &(struct timespec){0, 1000},
                       NULL));
    RC(clock_nanosleep(CLOCK_BOOTTIME, 0, &(struct timespec){0, 1000}, NULL));
    RC(clock_nanosleep(CLOCK_TAI, TIMER_ABSTIME, &sec_neg, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC_RAW, 0, &(struct timespec){0, 1000}, NULL));
    RC(clock_nanosleep(CLOCK_REALTIME_COARSE, 0, &(struct timespec){0, 1000}, NULL));
    RC(clock_nanosleep(CLOCK_MONOTONIC, 0, NUL, NULL));
    CALL(usleep(0));
    CALL(sleep(0));
    say("rem untouched: %s", rem.tv_sec == 7 && rem.tv_nsec == 7 ? "yes" : "no");
    prompt(t0, 2000);
}

/* -------------------------------------------------- thread objects */

static void *noop(void *p)
{
    return p;
}

SCENARIO(bad_thread_args)
{
    pthread_t t, self = pthread_self();
    pthread_attr_t a;
    pthread_mutex_t m;
    pthread_cond_t c;
    pthread_rwlock_t rw;
    pthread_barrier_t b;
    pthread_key_t k;
    struct sched_param sp = {0};
    sem_t s;
    int v;
    char name[32];
    void *out;

    RC(pthread_create(&t, NULL, noop, (void *)5));
    RC(pthread_join(t, &out));
    say("value %ld", (long)out);
    RC(pthread_mutex_init(&m, NULL));
    RC(pthread_mutex_consistent(&m));
    RC(pthread_mutex_destroy(&m));
    RC(pthread_cond_init(&c, NULL));
    RC(pthread_cond_signal(&c));
    RC(pthread_cond_broadcast(&c));
    RC(pthread_cond_destroy(&c));
    RC(pthread_cond_destroy(&c));
    RC(pthread_rwlock_init(&rw, NULL));
    RC(pthread_rwlock_wrlock(&rw));
    RC(pthread_rwlock_wrlock(&rw));
    RC(pthread_rwlock_rdlock(&rw));
    RC(pthread_rwlock_tryrdlock(&rw));
    RC(pthread_rwlock_trywrlock(&rw));
    RC(pthread_rwlock_unlock(&rw));
    RC(pthread_rwlock_rdlock(&rw));
    RC(pthread_rwlock_trywrlock(&rw));
    RC(pthread_rwlock_unlock(&rw));
    RC(pthread_rwlock_destroy(&rw));
    RC(pthread_barrier_init(&b, NULL, 0));
    RC(pthread_barrier_init(&b, NULL, UINT_MAX));
    RC(pthread_barrier_init(&b, NULL, 1));
    say("barrier wait serial: %s",
        pthread_barrier_wait(&b) == PTHREAD_BARRIER_SERIAL_THREAD ? "yes" : "no");
    RC(pthread_barrier_destroy(&b));
    CALL(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1));
    CALL(sem_init(&s, 0, UINT_MAX));
    CALL(sem_init(&s, 0, SEM_VALUE_MAX));
    CALL(sem_post(&s));
    CALL(sem_getvalue(&s, &v));
    say("value %d", v);
    CALL(sem_destroy(&s));
    CALL(sem_init(&s, 0, 0));
    CALL(sem_trywait(&s));
    CALL(sem_destroy(&s));
    RC(pthread_key_delete((pthread_key_t)12345));
    RC(pthread_setspecific((pthread_key_t)12345, &v));
    RC(pthread_setspecific((pthread_key_t)-1, &v));
    RC(pthread_key_create(&k, NULL));
    RC(pthread_key_delete(k));
    RC(pthread_key_delete(k));
    RC(pthread_setcancelstate(99, NULL));
    RC(pthread_setcanceltype(99, NULL));
    RC(pthread_setcancelstate(-1, &v));
    RC(pthread_kill(self, 65));
    RC(pthread_kill(self, -1));
    RC(pthread_kill(self, 0));
    RC(pthread_setname_np(self, "a name far too long for it"));
    RC(pthread_setname_np(self, "probe-bad"));
    RC(pthread_getname_np(self, name, 2));
    RC(pthread_getname_np(self, name, sizeof name));
    say("name %s", name);
    RC(pthread_setschedparam(self, 999, &sp));
    RC(pthread_setschedprio(self, 1000));
    RC(pthread_getschedparam(self, &v, &sp));
    RC(pthread_setaffinity_np(self, 0, NUL));
    RC(pthread_getaffinity_np(self, 0, NUL));
    RC(pthread_getattr_np(self, &a));
    RC(pthread_attr_destroy(&a));
    RC(pthread_detach(start(noop, NULL)));
    /* A joinable thread created with a 1 TiB stack: glibc's mmap has no room for it. */
    pthread_attr_init(&a);
    RC(pthread_attr_setstacksize(&a, (size_t)1 << 40));
    RC(pthread_create(&t, &a, noop, NULL));
    pthread_attr_destroy(&a);
    usleep(20000);
}

/* Objects destroyed while another thread uses them: POSIX leaves it undefined, glibc's
 * answers are what programs meet.  Its cond_destroy waits for the waiters to leave; its
 * rwlock and semaphore destroy do not look.  (Its barrier_destroy waits for the waiters
 * to leave too, for ever if the count is never reached: not tried here.) */
static pthread_cond_t used_c = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t used_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t used_rw = PTHREAD_RWLOCK_INITIALIZER;
static int waiter_rc = -1, waiting;
static struct timespec waiter_deadline;

static void *cond_waiter(void *p)
{
    struct timespec ts = in_ms(CLOCK_REALTIME, 200);

    (void)p;
    pthread_mutex_lock(&used_m);
    waiting = 1;
    waiter_deadline = ts;
    waiter_rc = pthread_cond_timedwait(&used_c, &used_m, &ts);
    pthread_mutex_unlock(&used_m);
    return NULL;
}

static void *read_locker(void *p)
{
    (void)p;
    pthread_rwlock_rdlock(&used_rw);
    usleep(100000);
    return NULL;
}

static sem_t used_s;
static int sem_rc = -2;

static void *sem_waiter(void *p)
{
    struct timespec ts = in_ms(CLOCK_REALTIME, 150);

    (void)p;
    sem_rc = sem_timedwait(&used_s, &ts) ? errno : 0;
    return NULL;
}

SCENARIO(bad_destroy_in_use)
{
    pthread_t t = start(cond_waiter, NULL);
    pthread_rwlock_t rw;
    struct timespec now;
    int in;

    /* Once main has the mutex after the waiter set the flag, the waiter is in the wait. */
    do {
        usleep(1000);
        pthread_mutex_lock(&used_m);
        in = waiting;
        pthread_mutex_unlock(&used_m);
    } while (!in);
    RC(pthread_cond_destroy(&used_c));
    /* The waiter leaves the cond (and the destroy returns) once its time is up; it sets
     * waiter_rc only later, after taking the mutex again. */
    clock_gettime(CLOCK_REALTIME, &now);
    say("returned after the waiter's time was up: %s",
        now.tv_sec > waiter_deadline.tv_sec ||
                (now.tv_sec == waiter_deadline.tv_sec && now.tv_nsec >= waiter_deadline.tv_nsec)
            ? "yes"
            : "no");
    RC(pthread_join(t, NULL));
    say("the waiter saw %s", waiter_rc ? errname(waiter_rc) : "0");
    t = start(read_locker, NULL);
    usleep(50000);
    RC(pthread_rwlock_destroy(&used_rw));
    RC(pthread_join(t, NULL));
    RC(pthread_rwlock_init(&rw, NULL));
    RC(pthread_rwlock_wrlock(&rw));
    RC(pthread_rwlock_destroy(&rw));
    SETUP(sem_init(&used_s, 0, 0));
    t = start(sem_waiter, NULL);
    usleep(50000);
    CALL(sem_destroy(&used_s));
    RC(pthread_join(t, NULL));
    say("the waiter saw %s", sem_rc == -2 ? "-" : sem_rc ? errname(sem_rc) : "0");
}

/* pthread_create with a NULL pthread_t: glibc stores the new thread's id through it. */
SCENARIO(bad_create_null_thread)
{
    RC(pthread_create(NUL, NULL, noop, NULL));
}

/* ---------------------------------------------------------------- signals */

SCENARIO(bad_signal_args)
{
    struct sigaction sa, old;
    sigset_t set;
    int sigs[] = {0, -1, 65, 1000, INT_MAX, INT_MIN, SIGKILL, SIGSTOP, 32, 33};

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        say("-- signal %d", sigs[i]);
        CALL(sigaction(sigs[i], &sa, NULL));
        CALL(sigaction(sigs[i], NULL, &old));
        CALL(signal(sigs[i], SIG_IGN) == SIG_ERR ? -1 : 0);
    }
    say("-- masks and waits");
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    CALL(sigtimedwait(&set, NULL, &ns_big));
    CALL(sigtimedwait(&set, NULL, &ns_neg));
    CALL(sigtimedwait(&set, NULL, &sec_neg));
    CALL(sigtimedwait(&set, NULL, &(struct timespec){0, 0}));
    CALL(sigtimedwait(BAD, NULL, &(struct timespec){0, 0}));
    FD(signalfd(-1, BAD, 0));
    FD(signalfd(-1, &set, 0x1234));
    FD(signalfd(0, &set, 0));
    FD(signalfd(1 << 30, &set, 0));
    CALL(sigsuspend(BAD));
    CALL(sigprocmask(99, &set, NULL));
    CALL(kill(getpid(), 65));
    CALL(raise(-1));
}

/* ---------------------------------------------------------------- processes */

SCENARIO(bad_process_args)
{
    int st = 0;
    siginfo_t si;
    pid_t pid;
    char *argv[] = {"probe-bad", NULL};

    CALL(waitpid(-1, &st, 0));
    CALL(waitpid(-1, &st, WNOHANG));
    CALL(waitpid(1, &st, 0));
    CALL(waitpid(getpid(), &st, 0));
    CALL(waitpid(INT_MIN, &st, 0));
    CALL(waitpid(0, &st, 0));
    CALL(waitpid(-1, &st, 0x12345));
    CALL(waitpid(-1, &st, -1));
    CALL(wait4(-1, &st, 0, BAD));
    CALL(wait4(-1, &st, 0x12345, NULL));
    CALL(wait(&st));
    CALL(waitid(P_PID, 999999, &si, WEXITED));
    CALL(waitid(P_ALL, 0, &si, 0));
    CALL(waitid(99, 0, &si, WEXITED));
    CALL(waitid(P_PIDFD, (id_t)-1, &si, WEXITED));
    CALL(waitid(P_ALL, 0, BAD, WEXITED | WNOHANG));
    say("-- a child that exits 3");
    pid = SETUP(fork());
    if (pid == 0)
        _exit(3);
    usleep(50000);
    CALL(waitpid(pid, BAD, 0x12345));
    CALL(waitpid(pid, BAD, 0));
    CALL(waitpid(pid, &st, WNOHANG) == pid);
    CALL(waitpid(pid, &st, 0));
    say("-- spawn");
    RC(posix_spawn(&pid, "/nonexistent/probe-bad", NULL, NULL, argv, environ));
    RC(posix_spawnp(&pid, "no-such-command-probe-bad", NULL, NULL, argv, environ));
    RC(posix_spawn(&pid, "/", NULL, NULL, argv, environ));
    CALL(system(NULL) != 0);
}

/* popen's modes as glibc reads them: any sequence of r, w and e with exactly one of r
 * and w; anything else is EINVAL. */
SCENARIO(bad_popen_modes)
{
    FILE *volatile not_popen;
    const char *modes[] = {"", "x", "rw", "wr", "r+", "re", "er", "ree", "rr", "we", "ew", "e"};

    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        FILE *f;

        errno = SENTINEL;
        f = popen("exit 3", modes[i]);
        printf("popen(\"exit 3\", \"%s\") = %s", modes[i], f ? "stream" : "NULL");
        if (!f)
            printf(" %s", errname(errno));
        line_end();
        if (f) {
            int st = pclose(f);
            say("pclose: exited %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        }
    }
    /* glibc's pclose of a stream popen did not make is its fclose. */
    not_popen = fopen("/dev/null", "r");
    CALL(pclose(not_popen));
}

/* ----------------------------------------------------------------- dns */

static const char *gai(int r)
{
    static char other[16];

    switch (r) {
#define G(x)                                                                                \
    case x:                                                                                 \
        return #x;
        G(EAI_BADFLAGS) G(EAI_NONAME) G(EAI_AGAIN) G(EAI_FAIL) G(EAI_FAMILY) G(EAI_SOCKTYPE)
        G(EAI_SERVICE) G(EAI_MEMORY) G(EAI_SYSTEM) G(EAI_OVERFLOW) G(EAI_ADDRFAMILY)
        G(EAI_NODATA)
#undef G
    }
    snprintf(other, sizeof other, "%d", r);
    return other;
}

#define GAI(expr) say("%s = %s", #expr, gai(expr))

/* Only names that /etc/hosts and /etc/services answer: nothing leaves the machine. */
SCENARIO(bad_dns_args)
{
    struct addrinfo *res = NULL, h;
    struct sockaddr_in a = loopback(80);
    char host[64], serv[32];
    struct hostent he, *hp;
    int herr;

#define HINTS(family, type, proto, flags)                                                   \
    (memset(&h, 0, sizeof h), h.ai_family = (family), h.ai_socktype = (type),               \
     h.ai_protocol = (proto), h.ai_flags = (flags), &h)
    GAI(getaddrinfo(NULL, NULL, NULL, &res));
    GAI(getaddrinfo(NULL, NULL, HINTS(0, 0, 0, AI_PASSIVE), &res));
    GAI(getaddrinfo("127.0.0.1", NULL, HINTS(999, 0, 0, 0), &res));
    GAI(getaddrinfo("127.0.0.1", NULL, HINTS(-1, 0, 0, 0), &res));
    GAI(getaddrinfo("127.0.0.1", "80", HINTS(0, 999, 0, 0), &res));
    GAI(getaddrinfo("127.0.0.1", "80", HINTS(0, SOCK_DGRAM, IPPROTO_TCP, 0), &res));
    GAI(getaddrinfo("127.0.0.1", "80", HINTS(0, 0, 0, 0x10000), &res));
    GAI(getaddrinfo(NULL, "80", HINTS(0, 0, 0, AI_CANONNAME), &res));
    GAI(getaddrinfo("127.0.0.1", "no-such-service-probe-bad", HINTS(0, SOCK_STREAM, 0, 0),
                    &res));
    GAI(getaddrinfo("127.0.0.1", "http", HINTS(0, SOCK_STREAM, 0, AI_NUMERICSERV), &res));
    GAI(getaddrinfo("127.0.0.1", "-1", HINTS(0, SOCK_STREAM, 0, AI_NUMERICSERV), &res));
    GAI(getaddrinfo("127.0.0.1", "99999999999", HINTS(0, SOCK_STREAM, 0, 0), &res));
    GAI(getaddrinfo("not-a-number", NULL, HINTS(0, 0, 0, AI_NUMERICHOST), &res));
    GAI(getaddrinfo("", NULL, HINTS(0, 0, 0, AI_NUMERICHOST), &res));
    GAI(getaddrinfo("999.1.1.1", NULL, HINTS(0, 0, 0, AI_NUMERICHOST), &res));
    GAI(getaddrinfo("::1", NULL, HINTS(AF_INET, 0, 0, AI_NUMERICHOST), &res));
    say("res still NULL: %s", res ? "no" : "yes");
    GAI(getnameinfo((struct sockaddr *)&a, 0, host, sizeof host, NULL, 0, NI_NUMERICHOST));
    GAI(getnameinfo((struct sockaddr *)&a, sizeof a, NULL, 0, NULL, 0, 0));
    GAI(getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, serv, sizeof serv,
                    0x10000));
    GAI(getnameinfo((struct sockaddr *)&a, sizeof a, host, 1, NULL, 0, NI_NUMERICHOST));
    GAI(getnameinfo((struct sockaddr *)&a, sizeof a, NULL, 0, serv, 1, NI_NUMERICSERV));
    a.sin_family = 999;
    GAI(getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, NULL, 0,
                    NI_NUMERICHOST));
    RC(gethostbyname_r("localhost", &he, host, 1, &hp, &herr));
    say("result %s", hp ? "set" : "NULL");
    RC(gethostbyname2_r("localhost", 999, &he, host, sizeof host, &hp, &herr));
    say("result %s", hp ? "set" : "NULL");
}

/* ---------------------------------------------------------------- stdio */

/* A new write-only stream on a duplicate of fd, whose peer never writes. */
static FILE *wstream(int fd)
{
    int e = errno;
    FILE *f = fdopen(SETUP(dup(fd)), "w");

    if (!f)
        setup_failed("fdopen");
    errno = e;
    return f;
}

SCENARIO(bad_stdio_args)
{
    int f = regular_file(), s[2];
    FILE *ro = fdopen(SETUP(open("/dev/null", O_RDONLY)), "r");
    FILE *wo = fdopen(SETUP(open("/dev/null", O_WRONLY)), "w");
    FILE *sr, *sw;
    char *line = NULL;
    size_t n = 0;

    pair(s);
    ignore_signal(SIGPIPE);
    sr = fdopen(s[0], "r");
    sw = fdopen(dup(s[0]), "w");
    if (!ro || !wo || !sr || !sw)
        setup_failed("fdopen");
    CALL(fputs("x", ro));
    CALL(fputc('x', ro));
    CALL(fwrite("x", 1, 1, ro));
    CALL(fprintf(ro, "%d", 1));
    CALL(fflush(ro));
    CALL(fgetc(wo));
    CALL(fread(buf, 1, 4, wo));
    CALL(getline(&line, &n, wo));
    CALL(getline(NUL, &n, ro));
    CALL(getdelim(&line, NUL, '\n', ro));
    CALL(fscanf(wo, "%d", &f));
    CALL(fread(buf, 0, 4, ro));
    CALL(fread(buf, 4, 0, ro));
    CALL(fwrite(buf, 0, 4, wo));
    CALL(dprintf(-1, "x"));
    CALL(dprintf(1 << 30, "x"));
    CALL(dprintf(SETUP(open("/", O_RDONLY | O_DIRECTORY)), "x"));
    say("-- a socket's streams");
    CALL(fputs("x", sr));
    CALL(fflush(sr));
    CALL(fgetc(sw));
    CALL(fputs("to the peer", sw));
    CALL(fflush(sw));
    bytes("peer got", buf, CALL(read(s[1], buf, sizeof buf)));
    CALL(close(s[1]));
    CALL(fgetc(sr));
    CALL(feof(sr));
    CALL(fputs("after close", sw));
    CALL(fflush(sw));
    say("-- a socket's stream whose error flag is up");
    pair(s);
    sr = fdopen(s[0], "r");
    if (!sr)
        setup_failed("fdopen");
    CALL(write(s[1], "line\n", 5));
    CALL(fputs("x", sr));
    CALL(ferror(sr));
    CALL(getline(&line, &n, sr));
    bytes("fgets", buf, CALL(fgets(buf, 64, sr) ? (long)strlen(buf) : -1));
    CALL(getline(&line, &n, sr));
    say("-- every read call on a socket's write-only stream, fresh each time");
    CALL(fread(buf, 1, 4, wstream(s[1])));
    bytes("fgets", buf, CALL(fgets(buf, 4, wstream(s[1])) ? 1 : -1));
    CALL(getline(&line, &n, wstream(s[1])));
    CALL(getc(wstream(s[1])));
    CALL(getc_unlocked(wstream(s[1])));
    CALL(fgetc_unlocked(wstream(s[1])));
    CALL(fscanf(wstream(s[1]), "%d", &f));
    CALL(fread_unlocked(buf, 1, 4, wstream(s[1])));
    free(line);
}
