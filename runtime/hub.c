/*
 * hub.c — the only file that includes ev.h: one libev loop per OS thread, run by the hub
 * green thread whenever no other green thread is ready.
 *
 * Operations (each parks the calling green thread; all run on its own OS thread):
 *   green__hub_wait_fd(fd, events, deadline)  -> ready events (> 0), -ETIMEDOUT, -EBADF
 *                                                (closed under us, or libev found the fd
 *                                                invalid), -ECANCELED, -EDEADLK
 *   green__hub_park_until(deadline)           -> the code of whoever readied the thread,
 *                                                or -ETIMEDOUT
 *   green__hub_wait_child(pid, deadline)      -> 0 when the child has exited, -ECHILD,
 *                                                -ETIMEDOUT, ...
 *   green__hub_fd_closing(fd)                 wakes every waiter on fd with -EBADF and
 *                                                stops its watcher before the number can
 *                                                be reused ("the special problem of
 *                                                disappearing file descriptors" in libev's
 *                                                manual)
 *   green__hub_post(home, waiter)             from any OS thread: queue a claimed
 *                                                waiter's wake and ev_async_send the home
 *                                                hub, which delivers it on its own thread
 *
 * Watchers live on the waiting thread's stack and are stopped before the wait returns.
 * Timers: libev schedules a timer against its cached monotonic time, so the loop's time is
 * refreshed before arming, and a timer that fires before its deadline (a cached time, a
 * rounding) is re-armed for the rest: no wait ever ends early.
 *
 * Deadlock: the hub only blocks when nothing is runnable.  It counts the waits that an fd,
 * a timer or a pool job in flight will end (`wakers`); at zero, nothing in this loop can
 * ever wake a green thread of this OS thread.  (libev keeps such a count too, but does not
 * export it.)  The async watcher is unreferenced, so that at zero EVRUN_ONCE would not
 * block; the hub then references the loop for one blocking pass.  If, besides,
 * no other OS thread could post a wake (no other hub, no OS thread outside the pool), the
 * waits are deadlocked and green__sched_check_deadlock fails them; otherwise the hub
 * blocks on the async watcher alone.
 *
 * ev_child is not used for children: libev only offers it on the default loop, which the
 * program may own, and it takes SIGCHLD.  A pidfd (Linux 5.3+) is an fd like any other.
 * Where pidfd_open is missing (older kernels; valgrind 3.19 does not implement it) the
 * child is looked at every CHILD_POLL_NS instead, so such a wait ends up to that late.
 *
 * Every libc call libev makes from the hub goes to the real function: a hook sees that the
 * hub, not a program thread, is running.  Calls the runtime makes from a program green
 * thread (creating the loop, ev_async_send, closing a pidfd) are bracketed with
 * green__runtime_enter/leave for the same reason.
 */
#define _GNU_SOURCE
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* Idle stacks given back per hub pass, so trimming never delays the hub for long. */
#define TRIM_BATCH 64

struct fd_wait;

struct green__hub {
    struct ev_loop *loop;
    struct green__local *local;
    ev_async async;
    unsigned post_lock;
    struct green__waiter *post_head, *post_tail;
    struct fd_wait **fds; /* waiters per descriptor, for green__hub_fd_closing */
    size_t nfds;
    size_t wakers;        /* waits that an fd, a timer or a pool job will end */
    unsigned signal_seen; /* green__signal_seq when the hub last looked */
};

struct timer_wait {
    ev_timer timer;
    int64_t deadline;
    struct green_thread *thread;
};

struct fd_wait {
    ev_io io;
    struct green_thread *thread;
    struct fd_wait *next, *prev;
    int fd;
    int *follow; /* an I/O wait follows its open file to a new number (green__hub_fd_move) */
};

int green__hubs_alive;

/* ------------------------------------------------------------------ timers */

static void arm(struct ev_loop *loop, struct timer_wait *tw)
{
    int64_t left = tw->deadline - green_now();

    ev_timer_set(&tw->timer, left > 0 ? (double)left / 1e9 : 0., 0.);
    ev_timer_start(loop, &tw->timer);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct timer_wait *tw = (struct timer_wait *)w;

    (void)revents;
    if (green_now() < tw->deadline) {
        arm(loop, tw);
        return;
    }
    green__sched_ready(tw->thread, -ETIMEDOUT);
}

static void timer_start(struct green__hub *h, struct timer_wait *tw, int64_t deadline)
{
    tw->deadline = deadline;
    tw->thread = green__current();
    ev_init(&tw->timer, timer_cb);
    ev_now_update(h->loop);
    arm(h->loop, tw);
}

int green__hub_park_until(int64_t deadline)
{
    struct green__hub *h = green__local()->hub;
    struct timer_wait tw;
    int r;

    if (deadline == GREEN_NO_DEADLINE)
        return green__sched_park();
    timer_start(h, &tw, deadline);
    h->wakers++;
    r = green__sched_park();
    h->wakers--;
    ev_timer_stop(h->loop, &tw.timer);
    return r;
}

/* --------------------------------------------------------------------- fds */

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct fd_wait *fw = (struct fd_wait *)w;
    int events = (revents & EV_READ ? GREEN_READ : 0) | (revents & EV_WRITE ? GREEN_WRITE : 0);

    (void)loop;
    green__sched_ready(fw->thread, revents & EV_ERROR ? -EBADF : events);
}

static int fd_link(struct green__hub *h, struct fd_wait *fw, int fd)
{
    if ((size_t)fd >= h->nfds) {
        size_t n = h->nfds ? h->nfds : 64;
        struct fd_wait **p;
        while (n <= (size_t)fd)
            n *= 2;
        p = realloc(h->fds, n * sizeof *p);
        if (!p)
            return -ENOMEM;
        memset(p + h->nfds, 0, (n - h->nfds) * sizeof *p);
        h->fds = p;
        h->nfds = n;
    }
    fw->fd = fd;
    fw->prev = NULL;
    fw->next = h->fds[fd];
    if (fw->next)
        fw->next->prev = fw;
    h->fds[fd] = fw;
    return 0;
}

static void fd_unlink(struct green__hub *h, struct fd_wait *fw)
{
    if (fw->fd < 0)
        return;
    if (fw->prev)
        fw->prev->next = fw->next;
    else
        h->fds[fw->fd] = fw->next;
    if (fw->next)
        fw->next->prev = fw->prev;
}

/* Wait for fd; the green thread's wait record says kind (an fd, or a child's pidfd).
 * follow, if set, is the caller's copy of fd, updated if the wait moves to a new number.
 * held, if set, is the caller's copy of another fd the call uses but does not wait on,
 * followed the same way (linked without events, as poll's side descriptors). */
static int wait_fd_as(int fd, int events, int64_t deadline, struct green__wait desc, int *follow,
                      int *held)
{
    struct green__hub *h = green__local()->hub;
    struct green_thread *t = green__current();
    struct fd_wait fw, hw = {.fd = -1};
    struct timer_wait tw;
    int r;

    if (fd < 0)
        return -EBADF;
    /* No events: a pause until the deadline that holds a followed fd (green__hub_wait_io). */
    if (!(events & (GREEN_READ | GREEN_WRITE)) && (!follow || deadline == GREEN_NO_DEADLINE))
        return -EINVAL;
    if (fd_link(h, &fw, fd) < 0)
        return -ENOMEM;
    fw.thread = t;
    fw.follow = follow;
    ev_io_init(&fw.io, io_cb, fd,
               (events & GREEN_READ ? EV_READ : 0) | (events & GREEN_WRITE ? EV_WRITE : 0));
    if (events & (GREEN_READ | GREEN_WRITE))
        ev_io_start(h->loop, &fw.io);
    if (held && *held >= 0) {
        if (fd_link(h, &hw, *held) < 0) {
            ev_io_stop(h->loop, &fw.io);
            fd_unlink(h, &fw);
            return -ENOMEM;
        }
        hw.thread = t;
        hw.follow = held;
        ev_io_init(&hw.io, io_cb, *held, 0);
    }
    if (deadline != GREEN_NO_DEADLINE)
        timer_start(h, &tw, deadline);
    t->wait = desc;
    h->wakers++;
    r = green__sched_park();
    h->wakers--;
    ev_io_stop(h->loop, &fw.io);
    if (deadline != GREEN_NO_DEADLINE)
        ev_timer_stop(h->loop, &tw.timer);
    fd_unlink(h, &fw);
    fd_unlink(h, &hw);
    return r;
}

int green__hub_wait_fd(int fd, int events, int64_t deadline)
{
    /* libev asserts (and the process aborts) when epoll_ctl finds the fd invalid, so an
     * fd that is not open is refused here, with the raw call a hook would not see.  The
     * hooks' green__hub_wait_io skips it: their call on the fd has just said EAGAIN. */
    if (fd >= 0 && syscall(SYS_fcntl, fd, F_GETFD) < 0)
        return -EBADF;
    return wait_fd_as(fd, events, deadline,
                      (struct green__wait){.kind = GREEN_WAIT_FD, .killable = 1, .fd = fd,
                                           .events = events, .deadline = deadline},
                      NULL, NULL);
}

int green__hub_wait_io(int *fdp, int *held, int events, int64_t deadline)
{
    return wait_fd_as(*fdp, events, deadline,
                      (struct green__wait){.kind = events ? GREEN_WAIT_FD : GREEN_WAIT_SLEEP,
                                           .killable = 1, .fd = *fdp, .events = events,
                                           .deadline = deadline},
                      fdp, held);
}

int green__hub_fd_followed(int fd)
{
    struct green__local *l = green__local_peek();
    struct green__hub *h = l ? l->hub : NULL;

    if (!h || fd < 0 || (size_t)fd >= h->nfds)
        return 0;
    for (struct fd_wait *fw = h->fds[fd]; fw; fw = fw->next)
        if (fw->follow)
            return 1;
    return 0;
}

size_t green__hub_fd_move(int fd, int newfd)
{
    struct green__local *l = green__local_peek();
    struct green__hub *h = l ? l->hub : NULL;
    struct fd_wait *fw, *next;
    size_t moved = 0;

    if (!h || fd < 0 || (size_t)fd >= h->nfds)
        return 0;
    for (fw = h->fds[fd]; fw; fw = next) {
        next = fw->next;
        if (!fw->follow)
            continue;
        ev_io_stop(h->loop, &fw->io);
        fd_unlink(h, fw);
        if (fd_link(h, fw, newfd) < 0) {
            green__sched_ready(fw->thread, -EBADF); /* no memory: as a plain close */
            fw->fd = -1;
            continue;
        }
        ev_io_set(&fw->io, newfd, fw->io.events & (EV_READ | EV_WRITE));
        if (fw->io.events & (EV_READ | EV_WRITE)) /* a poll wait's side fd has none */
            ev_io_start(h->loop, &fw->io);
        *fw->follow = newfd;
        if (fw->thread->wait.fd == fd)
            fw->thread->wait.fd = newfd;
        moved++;
    }
    return moved;
}

void green__hub_fd_closing(int fd)
{
    struct green__local *l = green__local_peek();
    struct green__hub *h = l ? l->hub : NULL;

    if (!h || fd < 0 || (size_t)fd >= h->nfds)
        return;
    for (struct fd_wait *fw = h->fds[fd]; fw; fw = fw->next) {
        ev_io_stop(h->loop, &fw->io);
        green__sched_ready(fw->thread, -EBADF);
    }
}

/* Descriptors polled for what libev cannot watch: no event at all (poll(2) still reports
 * POLLHUP and POLLERR), POLLPRI, POLLRDHUP, the band events.  Watched for reading or writing
 * instead, they would end the wait for readiness the program did not ask for, and the
 * caller, asking the kernel again, would find nothing and wait again at once: a busy loop.
 * They go in an epoll instance of the wait's own (*side, made on first use) with their
 * exact events (poll's and epoll's bits are the same numbers), which makes that instance
 * readable exactly when poll would report them.  An fd epoll refuses (a regular file, for
 * which poll reports nothing beyond POLLIN and POLLOUT) is left out. */
#define LIBEV_EVENTS (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM)
#define EXACT_EVENTS (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | \
                      EPOLLWRBAND | EPOLLRDHUP)
static void side_add(int *side, int fd, short events)
{
    struct epoll_event ev = {.events = (uint32_t)(uint16_t)events & EXACT_EVENTS};

    green__runtime_enter(); /* the runtime's own descriptor: the hooks pass through */
    if (*side < 0)
        *side = epoll_create1(EPOLL_CLOEXEC);
    if (*side >= 0)
        epoll_ctl(*side, EPOLL_CTL_ADD, fd, &ev);
    green__runtime_leave();
}

/* Wait until any of the descriptors in pfds (poll(2)'s array: negative fds are skipped) may
 * be ready.  Returns > 0 when one is (the caller asks the kernel which), or the errors of
 * green__hub_wait_fd.  follow, if not NULL, holds a copy of each fd: the wait follows an
 * fd's file to a new number as an I/O wait does (green__hub_fd_move), instead of ending
 * with -EBADF when it is closed.  desc names the wait in reports. */
int green__hub_wait_pollfds(const struct pollfd *pfds, size_t n, int *follow,
                            int64_t deadline, const char *desc)
{
    struct green__hub *h = green__local()->hub;
    struct green_thread *t = green__current();
    struct fd_wait small[16], *fw = n <= 16 ? small : malloc(n * sizeof *fw);
    struct fd_wait side_wait = {.fd = -1};
    struct timer_wait tw;
    size_t i, armed = 0;
    int r, side = -1;

    if (!fw)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        int ev = (pfds[i].events & (POLLIN | POLLRDNORM) ? EV_READ : 0) |
                 (pfds[i].events & (POLLOUT | POLLWRNORM) ? EV_WRITE : 0);
        int exact = ev && !(pfds[i].events & ~LIBEV_EVENTS);

        fw[i].thread = NULL;
        fw[i].follow = follow ? &follow[i] : NULL;
        if (pfds[i].fd < 0 || fd_link(h, &fw[i], pfds[i].fd) < 0)
            continue;
        /* Linked even when watched through the side instance, so that its file is followed
         * (or the wait ended) when the number is closed, as for the others. */
        fw[i].thread = t;
        ev_io_init(&fw[i].io, io_cb, pfds[i].fd, exact ? ev : 0);
        if (!exact) {
            side_add(&side, pfds[i].fd, pfds[i].events);
            continue;
        }
        ev_io_start(h->loop, &fw[i].io);
        armed++;
    }
    if (side >= 0) {
        side_wait.thread = t;
        ev_io_init(&side_wait.io, io_cb, side, EV_READ);
        ev_io_start(h->loop, &side_wait.io);
        armed++;
    }
    if (deadline != GREEN_NO_DEADLINE)
        timer_start(h, &tw, deadline);
    t->wait = (struct green__wait){.kind = GREEN_WAIT_OTHER, .killable = 1, .fd = -1,
                                   .deadline = deadline, .desc = desc};
    if (armed || deadline != GREEN_NO_DEADLINE)
        h->wakers++;
    r = green__sched_park();
    if (armed || deadline != GREEN_NO_DEADLINE)
        h->wakers--;
    if (deadline != GREEN_NO_DEADLINE)
        ev_timer_stop(h->loop, &tw.timer);
    for (i = 0; i < n; i++) {
        if (!fw[i].thread)
            continue;
        ev_io_stop(h->loop, &fw[i].io);
        fd_unlink(h, &fw[i]);
    }
    if (side >= 0) {
        ev_io_stop(h->loop, &side_wait.io);
        green__runtime_enter();
        close(side);
        green__runtime_leave();
    }
    if (fw != small)
        free(fw);
    return r;
}

/* ---------------------------------------------------------------- children */

#define CHILD_POLL_NS 10000000

/* 0 if child pid has exited (still unreaped), 1 if it runs, -ECHILD if it is not ours. */
static int child_running(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof si);
    if (syscall(SYS_waitid, P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT, NULL) < 0)
        return -errno;
    return si.si_pid != pid;
}

/* green__hub_wait_child without a pidfd: look at the child every CHILD_POLL_NS. */
static int wait_child_polling(pid_t pid, int64_t deadline)
{
    for (;;) {
        int64_t next = green_now() + CHILD_POLL_NS;
        int r;

        green__current()->wait = (struct green__wait){
            .kind = GREEN_WAIT_CHILD, .killable = 1, .fd = pid, .deadline = deadline};
        r = green__hub_park_until(next < deadline ? next : deadline);
        if (r != -ETIMEDOUT)
            return r;
        r = child_running(pid);
        if (r <= 0)
            return r;
        if (next >= deadline)
            return -ETIMEDOUT;
    }
}

int green__hub_wait_child(pid_t pid, int64_t deadline)
{
    int fd, r;

    if (pid <= 0)
        return -EINVAL;
    /* Not a child (or reaped already): ECHILD, as waitpid would say. */
    r = child_running(pid);
    if (r <= 0)
        return r;
    fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0 && errno == ENOSYS)
        return wait_child_polling(pid, deadline);
    if (fd < 0)
        return errno == ESRCH ? -ECHILD : -errno;
    /* A pidfd becomes readable when the process exits.  The wait record names the pid. */
    r = wait_fd_as(fd, GREEN_READ, deadline,
                   (struct green__wait){.kind = GREEN_WAIT_CHILD, .killable = 1, .fd = pid,
                                        .deadline = deadline},
                   NULL, NULL);
    syscall(SYS_close, fd);
    return r > 0 ? 0 : r;
}

/* ------------------------------------------------------------ remote wakes */

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    struct green__hub *h = ev_userdata(loop);
    struct green__waiter *p;

    (void)w;
    (void)revents;
    green__spin_lock(&h->post_lock);
    p = h->post_head;
    h->post_head = h->post_tail = NULL;
    green__spin_unlock(&h->post_lock);
    while (p) {
        struct green__waiter *next = p->post_next;
        struct green_thread *t = p->thread;
        int code = p->code;
        p->delivered = 1; /* from here on the waiter may return and p may vanish */
        green__sched_ready(t, code);
        p = next;
    }
}

void green__hub_post(struct green__local *home, struct green__waiter *w)
{
    struct green__hub *h = home->hub;

    w->post_next = NULL;
    /* ev_async_send under the lock: the home thread cannot tear the hub down (which
     * takes this lock) between the queueing and the send. */
    green__runtime_enter();
    green__spin_lock(&h->post_lock);
    if (h->post_tail)
        h->post_tail->post_next = w;
    else
        h->post_head = w;
    h->post_tail = w;
    ev_async_send(h->loop, &h->async);
    green__spin_unlock(&h->post_lock);
    green__runtime_leave();
}

/* A job has no watcher of its own: its wake comes through the unreferenced async watcher,
 * so the job references the loop to keep EVRUN_ONCE blocking while it runs. */
void green__hub_job_begin(void)
{
    struct green__hub *h = green__local()->hub;
    h->wakers++;
    ev_ref(h->loop);
}

void green__hub_job_end(void)
{
    struct green__hub *h = green__local()->hub;
    h->wakers--;
    ev_unref(h->loop);
}

/* ------------------------------------------------------------------- hub */

/* Could an OS thread other than this one and the idle pool post a wake?  Reads
 * /proc/self/stat only when everything here waits on nothing, which is rare. */
static int others_could_post(void)
{
    char buf[1024];
    ssize_t n;
    int fd, field = 1;
    long threads = 0;
    char *p;

    if (__atomic_load_n(&green__hubs_alive, __ATOMIC_RELAXED) > 1)
        return 1;
    fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0)
        return 1;
    buf[n] = 0;
    p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p)
        return 1;
    for (field = 2; *p && field < 20; p++)
        if (*p == ' ')
            field++;
    threads = strtol(p, NULL, 10);
    return threads - 1 - green__pool_threads() > 0;
}

unsigned green__signal_seq, green__signal_norestart_seq;
int green__signal_handlers;

/* Could a signal handler still end main's wait? */
static int signal_could_wake(struct green__local *l)
{
    struct green_thread *m = l->sched.main;

    return m->state == GREEN_WAITING && m->intr != GREEN_INTR_NONE &&
           __atomic_load_n(&green__signal_handlers, __ATOMIC_RELAXED) > 0;
}

void green__signal_note(int restart)
{
    struct green__local *l = green__local_peek();
    unsigned seq = __atomic_add_fetch(&green__signal_seq, 1, __ATOMIC_ACQ_REL);

    if (!restart)
        __atomic_store_n(&green__signal_norestart_seq, seq, __ATOMIC_RELEASE);
    /* Wake the hub in case it was about to block (ev_async_send is async-signal-safe). */
    if (l && l->hub) {
        l->in_runtime++;
        ev_async_send(l->hub->loop, &l->hub->async);
        l->in_runtime--;
    }
}

/* A handler ran since the hub last looked: end the main green thread's wait if it is an
 * interruptible one that began before the handler ran. */
static void deliver_signals(struct green__local *l, struct green__hub *h)
{
    unsigned seq = __atomic_load_n(&green__signal_seq, __ATOMIC_ACQUIRE);
    unsigned norestart = __atomic_load_n(&green__signal_norestart_seq, __ATOMIC_ACQUIRE);
    struct green_thread *m = l->sched.main;

    if (GREEN_LIKELY(seq == h->signal_seen))
        return;
    h->signal_seen = seq;
    if (m->state != GREEN_WAITING || m->intr == GREEN_INTR_NONE)
        return;
    if ((m->intr == GREEN_INTR_ALWAYS && seq != m->intr_seq) ||
        (m->intr == GREEN_INTR_RESTARTABLE && (int)(norestart - m->intr_seq) > 0))
        green__sched_ready(m, -EINTR);
}

void green__hub_main(void *arg)
{
    struct green__local *l = arg;
    struct green__hub *h = l->hub;

    for (;;) {
        deliver_signals(l, h);
        if (!green__list_empty(&l->sched.runq)) {
            ev_run(h->loop, EVRUN_NOWAIT);
        } else if (green__stack_trim(TRIM_BATCH) == TRIM_BATCH) {
            ev_run(h->loop, EVRUN_NOWAIT); /* more to trim: poll, and come back */
        } else if (h->wakers > 0) {
            ev_run(h->loop, EVRUN_ONCE);
        } else if (signal_could_wake(l) || others_could_post() ||
                   !green__sched_check_deadlock(0)) {
            ev_ref(h->loop);
            ev_run(h->loop, EVRUN_ONCE);
            ev_unref(h->loop);
        }
        deliver_signals(l, h);
        green__sched_run_ready();
    }
}

static void syserr(const char *msg)
{
    green__panic("hub: libev: %s (errno %d)", msg, errno);
}

/* libev calls these around its blocking poll: the OS thread is idle in between (stats.c,
 * and the blocking monitor, which must not take an idle hub for a busy thread). */
static void idle_begin(struct ev_loop *loop)
{
    struct green__local *l = ((struct green__hub *)ev_userdata(loop))->local;

    __atomic_store_n(&l->stats.idle, 1, __ATOMIC_RELAXED);
    if (green__stats_on)
        l->stats.idle_since = green_now();
}

static void idle_end(struct ev_loop *loop)
{
    struct green__local *l = ((struct green__hub *)ev_userdata(loop))->local;

    if (green__stats_on)
        l->stats.idle_ns += green_now() - l->stats.idle_since;
    __atomic_store_n(&l->stats.idle, 0, __ATOMIC_RELAXED);
}

struct green__hub *green__hub_init(struct green__local *l)
{
    struct green__hub *h = calloc(1, sizeof *h);

    if (!h)
        green__panic("hub: no memory");
    h->local = l;
    ev_set_syserr_cb(syserr);
    green__runtime_enter();
    h->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
    if (!h->loop)
        h->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
    if (!h->loop)
        green__panic("hub: libev could not create a loop");
    ev_set_userdata(h->loop, h);
    if (green__stats_on || green__config()->block_warn_ms)
        ev_set_loop_release_cb(h->loop, idle_begin, idle_end);
    ev_async_init(&h->async, async_cb);
    ev_async_start(h->loop, &h->async);
    ev_unref(h->loop);
    green__runtime_leave();
    __atomic_add_fetch(&green__hubs_alive, 1, __ATOMIC_RELAXED);
    return h;
}

void green__hub_term(struct green__local *l)
{
    struct green__hub *h = l->hub;

    __atomic_sub_fetch(&green__hubs_alive, 1, __ATOMIC_RELAXED);
    green__spin_lock(&h->post_lock);
    green__runtime_enter();
    ev_ref(h->loop);
    ev_async_stop(h->loop, &h->async);
    ev_loop_destroy(h->loop);
    green__runtime_leave();
    green__spin_unlock(&h->post_lock);
    free(h->fds);
    free(h);
    l->hub = NULL;
}

/* -------------------------------------------------------------- public API */

GREEN_EXPORT int64_t green_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An abstime too far to represent in nanoseconds (tv_sec LONG_MAX) is no deadline, one
 * too far in the past is 0: both sums would otherwise wrap to the other side. */
GREEN_EXPORT int64_t green_deadline(clockid_t clock, const struct timespec *abstime)
{
    int64_t at, left;
    struct timespec now;

    if (__builtin_mul_overflow((int64_t)abstime->tv_sec, (int64_t)1000000000, &at) ||
        __builtin_add_overflow(at, abstime->tv_nsec, &at))
        return abstime->tv_sec < 0 ? 0 : GREEN_NO_DEADLINE;
    if (clock == CLOCK_MONOTONIC)
        return at;
    clock_gettime(clock, &now);
    if (__builtin_sub_overflow(at, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, &left))
        return at < 0 ? 0 : GREEN_NO_DEADLINE;
    if (__builtin_add_overflow(green_now(), left, &at))
        return left < 0 ? 0 : GREEN_NO_DEADLINE;
    return at;
}

GREEN_EXPORT int green_sleep_until(int64_t deadline)
{
    struct green_thread *t = green__current();
    int r;

    if (deadline <= green_now())
        return green_yield();
    t->wait = (struct green__wait){
        .kind = GREEN_WAIT_SLEEP, .killable = 1, .deadline = deadline};
    r = green__hub_park_until(deadline);
    return r == -ETIMEDOUT ? 0 : green__api_result(r);
}

GREEN_EXPORT int green_sleep(double seconds)
{
    if (seconds != seconds)
        return EINVAL;
    if (seconds <= 0)
        return green_yield();
    if (seconds > 9e9)
        return green_sleep_until(GREEN_NO_DEADLINE - 1);
    return green_sleep_until(green_now() + (int64_t)(seconds * 1e9));
}

GREEN_EXPORT int green_wait_fd(int fd, int events, int64_t deadline)
{
    int r = green__hub_wait_fd(fd, events, deadline);
    return r > 0 ? 0 : green__api_result(r);
}

GREEN_EXPORT void green_close_fd(int fd)
{
    green__hub_fd_closing(fd);
}

GREEN_EXPORT int green_wait_child(pid_t pid, int64_t deadline)
{
    return green__api_result(green__hub_wait_child(pid, deadline));
}
