/*
 * wait.c — the waiter protocol (internal.h): how a green thread waits on an object that any
 * OS thread may signal, without lost or doubled wake-ups.
 *
 * Invariants, all under the object's lock:
 *   - a waiter is either queued on the object, or claimed by exactly one waker;
 *   - a claimed waiter receives exactly one wake: a direct green__sched_ready when the
 *     waker runs on the waiter's home OS thread, or one post to the home hub otherwise;
 *   - a waiter never returns while a post to it is in flight, because the post lives in
 *     the waiter, on the waiter's stack.
 * When a wait ends otherwise (deadline, kill, deadlock) the waiter re-takes the lock: if it
 * is still queued it leaves with that error; if a waker claimed it meanwhile, the waker's
 * hand-off (a lock, a token, a signal) stands, and the wait succeeds.
 */
#include <string.h>

#include "internal.h"

void green__waitq_push(struct green__waitq *q, struct green__waiter *w)
{
    struct green__waiter *tail = q->tail;

    w->next = NULL;
    w->prev = tail;
    if (tail)
        tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

void green__waitq_remove(struct green__waitq *q, struct green__waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
}

struct green__waiter *green__waitq_pop(struct green__waitq *q)
{
    struct green__waiter *w = q->head;

    if (w)
        green__waitq_remove(q, w);
    return w;
}

void green__waiter_init(struct green__waiter *w)
{
    memset(w, 0, sizeof *w);
    w->thread = green__current();
}

void green__waiter_wake(struct green__waiter *w, int code)
{
    struct green_thread *t = w->thread;

    w->code = code;
    w->claimed = 1;
    if (t->home == green__local_peek()) {
        green__sched_ready(t, code);
    } else {
        w->remote = 1;
        green__hub_post(t->home, w);
    }
}

int green__waiter_wait(struct green__waiter *w, unsigned *lock, struct green__waitq *q,
                       int64_t deadline, int kind, const void *obj)
{
    struct green_thread *t = w->thread;
    int r;

    t->wait = (struct green__wait){.kind = kind, .killable = kind != GREEN_WAIT_POOL,
                                   .obj = obj, .deadline = deadline};
    green__spin_unlock(lock);
    r = green__hub_park_until(deadline);
    green__spin_lock(lock);
    if (!w->claimed) {
        green__waitq_remove(q, w);
        green__spin_unlock(lock);
        return r;
    }
    green__spin_unlock(lock);
    while (w->remote && !w->delivered) {
        t->wait = (struct green__wait){.kind = GREEN_WAIT_HANDOFF, .obj = obj,
                                       .deadline = GREEN_NO_DEADLINE};
        green__sched_park();
    }
    return w->code;
}
