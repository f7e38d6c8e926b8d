/*
 * fairq.c — round-robin between per-client lanes (see fairq.h).
 *
 * Lanes are found by a walk along the ring: there are at most max_total of
 * them, and only requests that hash a password (milliseconds of argon2id
 * each) come through here, so a table would buy nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "http/fairq.h"

struct fq_lane {
    char key[FQ_KEY_MAX];
    fq_node *head, *tail;
    int n;
    fq_lane *next; /* in the ring */
};

void fq_init(fairq *q, int per_lane, int max_total)
{
    memset(q, 0, sizeof *q);
    q->per_lane = per_lane;
    q->max_total = max_total;
}

static fq_lane *find_lane(fairq *q, const char *key)
{
    for (fq_lane *l = q->ring_head; l; l = l->next)
        if (strcmp(l->key, key) == 0)
            return l;
    return NULL;
}

/*
 * A client with nothing queued gets the next turn: its lane goes to the
 * front of the ring (as "new flows" do in fq_codel). A flooding client's lane
 * never empties, so it never jumps ahead this way; a client with one login
 * waits for the first hashing thread to come free, not for all of them.
 */
static fq_lane *new_lane(fairq *q, const char *key)
{
    fq_lane *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    strncpy(l->key, key, sizeof l->key - 1);
    l->next = q->ring_head;
    q->ring_head = l;
    if (q->ring_tail == NULL)
        q->ring_tail = l;
    return l;
}

bool fq_push(fairq *q, const char *key, fq_node *n)
{
    if (q->total >= q->max_total)
        return false;
    fq_lane *l = find_lane(q, key);
    if (l == NULL && (l = new_lane(q, key)) == NULL)
        return false;
    if (l->n >= q->per_lane)
        return false;
    n->next = NULL;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    l->n++;
    q->total++;
    return true;
}

/* Takes the first lane off the ring: it goes to the back if it has more,
 * and is freed if not. */
fq_node *fq_pop(fairq *q)
{
    fq_lane *l = q->ring_head;
    if (l == NULL)
        return NULL;
    fq_node *n = l->head;
    l->head = n->next;
    if (l->head == NULL)
        l->tail = NULL;
    l->n--;
    q->total--;
    q->ring_head = l->next;
    if (q->ring_head == NULL)
        q->ring_tail = NULL;
    l->next = NULL;
    if (l->n == 0) {
        free(l);
    } else {
        if (q->ring_tail)
            q->ring_tail->next = l;
        else
            q->ring_head = l;
        q->ring_tail = l;
    }
    n->next = NULL;
    return n;
}

void fq_free(fairq *q)
{
    while (fq_pop(q) != NULL)
        ;
}
