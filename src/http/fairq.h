/*
 * fairq.h — a bounded queue that takes turns between clients.
 *
 * Each client (keyed by its address) has a lane of its own; fq_pop serves
 * the lanes round-robin, one item each, and a lane that was empty comes
 * first. A client flooding the queue only lengthens its own lane, so another
 * client's item waits behind at most one item of every other busy client. A lane holds at most per_lane items and
 * the whole queue at most total; fq_push refuses past either.
 * Not thread-safe: the caller holds its own lock.
 */
#ifndef TESSERA_FAIRQ_H
#define TESSERA_FAIRQ_H

#include <stdbool.h>

#define FQ_KEY_MAX 46

typedef struct fq_node {
    struct fq_node *next;
} fq_node;

typedef struct fq_lane fq_lane;

typedef struct fairq {
    fq_lane *ring_head, *ring_tail; /* lanes with items, in turn order */
    int total, per_lane, max_total;
} fairq;

void fq_init(fairq *q, int per_lane, int max_total);

/* Appends n to key's lane. false when the lane or the queue is full (or
 * out of memory): n is not queued then. */
bool fq_push(fairq *q, const char *key, fq_node *n);

/* The next item in turn, or NULL when empty. */
fq_node *fq_pop(fairq *q);

/* Frees the lanes (the queue must be empty). */
void fq_free(fairq *q);

#endif
