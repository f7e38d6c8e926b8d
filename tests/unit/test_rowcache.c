/*
 * test_rowcache.c — the row cache: hits and misses, tickets made stale by
 * writes, eviction within a set, and the bound on bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/rowcache.h"
#include "unit.h"

/* Only the address of a model is used as part of the key. */
static model_def widget, gadget;

static void put_text(rowcache *c, const model_def *m, const char *id, const char *text)
{
    rowcache_ticket t = rowcache_ticket_for(c, m, id);
    rowcache_put(c, m, id, t, text, strlen(text), true, 7);
}

/* The text of a hit (freed here), or "" for a miss. */
static const char *got(rowcache *c, const model_def *m, const char *id)
{
    static char buf[256];
    rowcache_hit h;
    if (!rowcache_get(c, m, id, &h))
        return "";
    snprintf(buf, sizeof buf, "%s", h.text);
    free(h.text);
    return buf;
}

static void test_hit_and_miss(void)
{
    rowcache *c = rowcache_new(64);
    put_text(c, &widget, "1", "{\"id\":1}");
    CHECK_STR(got(c, &widget, "1"), "{\"id\":1}");
    CHECK_STR(got(c, &widget, "2"), "");
    CHECK_STR(got(c, &gadget, "1"), ""); /* same id, other model */
    rowcache_hit h;
    CHECK(rowcache_get(c, &widget, "1", &h));
    CHECK_INT(h.len, 8);
    CHECK(h.has_owner);
    CHECK_INT(h.owner, 7);
    free(h.text);
    rowcache_free(c);
}

static void test_forget_one_and_all(void)
{
    rowcache *c = rowcache_new(64);
    put_text(c, &widget, "1", "one");
    put_text(c, &widget, "2", "two");
    rowcache_forget(c, &widget, "1");
    CHECK_STR(got(c, &widget, "1"), "");
    CHECK_STR(got(c, &widget, "2"), "two");
    put_text(c, &gadget, "3", "three");
    rowcache_forget(c, &widget, NULL);
    CHECK_STR(got(c, &widget, "2"), "");
    CHECK_STR(got(c, &gadget, "3"), ""); /* everything goes */
    put_text(c, &widget, "2", "two again");
    CHECK_STR(got(c, &widget, "2"), "two again");
    rowcache_free(c);
}

/* A read that started before a write must not put back what it read. */
static void test_stale_ticket_is_refused(void)
{
    rowcache *c = rowcache_new(64);
    rowcache_ticket t = rowcache_ticket_for(c, &widget, "1");
    rowcache_forget(c, &widget, "1"); /* the write lands during the read */
    rowcache_put(c, &widget, "1", t, "old", 3, false, 0);
    CHECK_STR(got(c, &widget, "1"), "");
    t = rowcache_ticket_for(c, &widget, "1");
    rowcache_forget(c, &gadget, NULL);
    rowcache_put(c, &widget, "1", t, "old", 3, false, 0);
    CHECK_STR(got(c, &widget, "1"), "");
    rowcache_free(c);
}

/* A full cache keeps the rows read most recently. */
static void test_eviction_keeps_hot_rows(void)
{
    rowcache *c = rowcache_new(16);
    put_text(c, &widget, "hot", "hot");
    char id[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "%d", i);
        put_text(c, &widget, id, "cold");
        CHECK_STR(got(c, &widget, "hot"), "hot");
    }
    int kept = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "%d", i);
        kept += strcmp(got(c, &widget, id), "cold") == 0;
    }
    CHECK(kept <= 16);
    CHECK(kept >= 4);
    rowcache_free(c);
}

static void test_bounds(void)
{
    CHECK(rowcache_new(0) == NULL);
    CHECK_STR(got(NULL, &widget, "1"), ""); /* a NULL cache is off */
    rowcache_forget(NULL, &widget, "1");
    rowcache *c = rowcache_new(4);
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    put_text(c, &widget, "1", big); /* more than the budget of 4 × 512 bytes */
    CHECK_STR(got(c, &widget, "1"), "");
    char id[80];
    memset(id, '7', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    put_text(c, &widget, id, "long id"); /* longer than ROWCACHE_ID_MAX */
    CHECK_STR(got(c, &widget, id), "");
    put_text(c, &widget, "", "empty id");
    CHECK_STR(got(c, &widget, ""), "");
    rowcache_free(c);
}

void suite_rowcache(void)
{
    RUN(test_hit_and_miss);
    RUN(test_forget_one_and_all);
    RUN(test_stale_ticket_is_refused);
    RUN(test_eviction_keeps_hot_rows);
    RUN(test_bounds);
}
