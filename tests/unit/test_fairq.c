/*
 * test_fairq.c — the password queue's fairness: lanes served in turn, and
 * the per-lane and total bounds.
 */
#include <string.h>

#include "http/fairq.h"
#include "unit.h"

typedef struct item {
    fq_node node; /* first: the queue hands back &item.node */
    char who;
    int n;
} item;

/* A flood from one address already queued; a second address's item comes
 * out next, not after the whole flood. */
static void test_round_robin(void)
{
    fairq q;
    item a[5], b = {.who = 'b'};
    fq_init(&q, 16, 100);
    for (int i = 0; i < 5; i++) {
        a[i] = (item){.who = 'a', .n = i};
        CHECK(fq_push(&q, "127.0.0.2", &a[i].node));
    }
    CHECK(fq_push(&q, "127.0.0.1", &b.node));
    const char want[] = "baaaaa"; /* b's lane was empty: it comes first */
    for (int i = 0; i < 6; i++) {
        item *it = (item *)fq_pop(&q);
        if (!CHECK(it != NULL))
            return;
        CHECK_INT(it->who, want[i]);
    }
    CHECK(fq_pop(&q) == NULL);
    CHECK_INT(q.total, 0);
    fq_free(&q);
}

/* Busy lanes take turns, one item each. */
static void test_turns_between_busy_lanes(void)
{
    fairq q;
    item a[3], b[3];
    fq_init(&q, 16, 100);
    for (int i = 0; i < 3; i++) {
        a[i] = (item){.who = 'a', .n = i};
        b[i] = (item){.who = 'b', .n = i};
        fq_push(&q, "a", &a[i].node);
    }
    for (int i = 0; i < 3; i++)
        fq_push(&q, "b", &b[i].node);
    const char want[] = "bababa";
    for (int i = 0; i < 6; i++)
        CHECK_INT(((item *)fq_pop(&q))->who, want[i]);
    fq_free(&q);
}

/* Within a lane, first come first served. */
static void test_lane_is_fifo(void)
{
    fairq q;
    item a[3];
    fq_init(&q, 16, 100);
    for (int i = 0; i < 3; i++) {
        a[i] = (item){.who = 'a', .n = i};
        fq_push(&q, "x", &a[i].node);
    }
    for (int i = 0; i < 3; i++)
        CHECK_INT(((item *)fq_pop(&q))->n, i);
    fq_free(&q);
}

static void test_bounds(void)
{
    fairq q;
    item it[10];
    fq_init(&q, 2, 3);
    CHECK(fq_push(&q, "a", &it[0].node));
    CHECK(fq_push(&q, "a", &it[1].node));
    CHECK(!fq_push(&q, "a", &it[2].node)); /* the lane is full */
    CHECK(fq_push(&q, "b", &it[3].node));
    CHECK(!fq_push(&q, "c", &it[4].node)); /* the queue is full */
    CHECK_INT(q.total, 3);
    fq_pop(&q);                            /* one of a's */
    CHECK(fq_push(&q, "c", &it[5].node));
    fq_free(&q);
    CHECK_INT(q.total, 0);
    CHECK(q.ring_head == NULL);
}

/* An emptied lane goes away; the address starts afresh later. */
static void test_lane_reused_after_empty(void)
{
    fairq q;
    item it[4];
    fq_init(&q, 1, 10);
    CHECK(fq_push(&q, "a", &it[0].node));
    CHECK(fq_pop(&q) == &it[0].node);
    CHECK(q.ring_head == NULL);
    CHECK(fq_push(&q, "a", &it[1].node));
    CHECK(fq_pop(&q) == &it[1].node);
    fq_free(&q);
}

void suite_fairq(void)
{
    RUN(test_round_robin);
    RUN(test_turns_between_busy_lanes);
    RUN(test_lane_is_fifo);
    RUN(test_bounds);
    RUN(test_lane_reused_after_empty);
}
