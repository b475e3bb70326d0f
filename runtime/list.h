/*
 * list.h — intrusive circular doubly linked list.  A list head is a node that links to
 * itself when empty; nodes are embedded in the structs they list, so no list operation
 * allocates.  A removed node is re-initialised to point at itself, so removing twice and
 * asking green__list_linked() after removal are both safe.
 */
#ifndef GREEN_LIST_H
#define GREEN_LIST_H

#include <stddef.h>

struct green__list {
    struct green__list *next, *prev;
};

#define green__container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void green__list_init(struct green__list *l)
{
    l->next = l->prev = l;
}

static inline int green__list_empty(const struct green__list *l)
{
    return l->next == l;
}

/* A node is linked when it is in some list (after green__list_init it is not). */
static inline int green__list_linked(const struct green__list *n)
{
    return n->next != n;
}

static inline void green__list_push_back(struct green__list *l, struct green__list *n)
{
    n->prev = l->prev;
    n->next = l;
    l->prev->next = n;
    l->prev = n;
}

static inline void green__list_remove(struct green__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

static inline struct green__list *green__list_pop_front(struct green__list *l)
{
    struct green__list *n = l->next;
    if (n == l)
        return NULL;
    green__list_remove(n);
    return n;
}

#endif
