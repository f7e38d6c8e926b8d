/*
 * test_tokcache.c — the token cache: lookups, removals, last use, expiry,
 * and the bound on its size.
 */
#include <stdio.h>
#include <string.h>

#include "auth/tokcache.h"
#include "unit.h"

/* A record whose hash is derived from n (first bytes vary, as real ones do). */
static tok_record rec_of(int n, int64_t user_id)
{
    tok_record r;
    memset(&r, 0, sizeof r);
    char secret[32];
    snprintf(secret, sizeof secret, "token-%d", n);
    tok_hash_of(secret, strlen(secret), &r.hash);
    snprintf(r.handle, sizeof r.handle, "at_%021d", n);
    r.user_id = user_id;
    r.created_ms = 1000;
    r.ttl = 3600;
    return r;
}

static void test_put_get_remove(void)
{
    tcache *c = tcache_new(0);
    tok_record a = rec_of(1, 7), b = rec_of(2, 8), out;
    CHECK(tcache_put(c, &a) == 0);
    CHECK(tcache_put(c, &b) == 0);
    CHECK_INT(tcache_count(c), 2);
    CHECK(tcache_get(c, &a.hash, 5000, &out));
    CHECK_INT(out.user_id, 7);
    CHECK_STR(out.handle, a.handle);
    CHECK_INT(out.last_used_ms, 5000);
    CHECK(tcache_remove(c, &a.hash));
    CHECK(!tcache_remove(c, &a.hash));
    CHECK(!tcache_get(c, &a.hash, 5000, &out));
    CHECK(tcache_get(c, &b.hash, 5000, &out));
    tcache_put(c, &b); /* replacing keeps one entry */
    CHECK_INT(tcache_count(c), 1);
    tcache_free(c);
}

static void test_remove_user_keeps_one(void)
{
    tcache *c = tcache_new(0);
    tok_record r[6];
    for (int i = 0; i < 6; i++) {
        r[i] = rec_of(i, i < 4 ? 1 : 2);
        tcache_put(c, &r[i]);
    }
    CHECK_INT(tcache_remove_user(c, 1, &r[0].hash), 3);
    tok_record out;
    CHECK(tcache_get(c, &r[0].hash, 1, &out));
    CHECK(!tcache_get(c, &r[1].hash, 1, &out));
    CHECK(tcache_get(c, &r[5].hash, 1, &out)); /* another user's stays */
    CHECK_INT(tcache_remove_user(c, 2, NULL), 2);
    CHECK_INT(tcache_count(c), 1);
    tok_record app = rec_of(7, 0); /* an application's own token: no user */
    tcache_put(c, &app);
    CHECK_INT(tcache_remove_user(c, 0, NULL), 0); /* user 0 is nobody */
    CHECK_INT(tcache_count(c), 2);
    tcache_free(c);
}

static void count_used(const tok_record *r, void *ctx)
{
    (void)r;
    (*(int *)ctx)++;
}

static void test_drain_used_reports_each_use_once(void)
{
    tcache *c = tcache_new(0);
    tok_record a = rec_of(1, 1), b = rec_of(2, 1), out;
    tcache_put(c, &a);
    tcache_put(c, &b);
    int n = 0;
    tcache_drain_used(c, count_used, &n);
    CHECK_INT(n, 0); /* nothing used yet */
    tcache_get(c, &a.hash, 10, &out);
    tcache_drain_used(c, count_used, &n);
    CHECK_INT(n, 1);
    tcache_drain_used(c, count_used, &n);
    CHECK_INT(n, 1); /* not twice */
    tcache_free(c);
}

static void test_evict_expired(void)
{
    tcache *c = tcache_new(0);
    tok_record short_lived = rec_of(1, 1), eternal = rec_of(2, 1);
    short_lived.ttl = 1;
    eternal.ttl = TOK_ETERNAL;
    tcache_put(c, &short_lived);
    tcache_put(c, &eternal);
    CHECK_INT(tcache_evict_expired(c, 1999), 0);
    CHECK_INT(tcache_evict_expired(c, 2000), 1);
    tok_record out;
    CHECK(tcache_get(c, &eternal.hash, 3000, &out));
    tcache_free(c);
}

/* Past its capacity the cache drops cold entries, not the ones in use. */
static void test_capacity_bound(void)
{
    enum { CAP = 640, MORE = 2000 };
    tcache *c = tcache_new(CAP);
    tok_record hot = rec_of(0, 1), out;
    tcache_put(c, &hot);
    for (int i = 1; i < MORE; i++) {
        tok_record r = rec_of(i, 1);
        r.last_used_ms = i; /* older than the hot one's use below */
        tcache_put(c, &r);
        tcache_get(c, &hot.hash, 1000000 + i, &out); /* keeps it hot */
    }
    CHECK(tcache_count(c) <= CAP + 64); /* per-shard rounding */
    CHECK(tcache_count(c) >= CAP / 2);
    CHECK(tcache_get(c, &hot.hash, 1, &out));
    tcache_free(c);
}

void suite_tokcache(void)
{
    RUN(test_put_get_remove);
    RUN(test_remove_user_keeps_one);
    RUN(test_drain_used_reports_each_use_once);
    RUN(test_evict_expired);
    RUN(test_capacity_bound);
}
