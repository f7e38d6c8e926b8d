/*
 * test_shardmap.c — the sharded table under the token and client caches:
 * put, get, replace, remove, sweep, the bound, and which entry an eviction
 * picks (a hot one never, a dead one first).
 */
#include <sodium.h>
#include <string.h>

#include "core/shardmap.h"
#include "unit.h"

typedef struct val {
    unsigned char key[SMAP_KEY_LEN];
    int64_t rank; /* what the eviction compares; SMAP_DEAD: dead */
    int64_t n;
} val;

/* A value whose key is the hash of n (uniform, as real keys are). */
static val val_of(int64_t n, int64_t rank)
{
    val v;
    memset(&v, 0, sizeof v);
    crypto_generichash(v.key, sizeof v.key, (const unsigned char *)&n, sizeof n, NULL, 0);
    v.rank = rank;
    v.n = n;
    return v;
}

static int64_t rank_of(const void *value, const void *arg)
{
    return ((const val *)value)->rank;
}

/* Whether key is there; its n in *n when it is. */
static bool get_n(smap *m, const unsigned char *key, int64_t *n)
{
    smap_shard *held;
    val *v = smap_acquire(m, key, &held);
    if (v == NULL)
        return false;
    *n = v->n;
    smap_release(held);
    return true;
}

static smap *map_of(unsigned shards, size_t capacity)
{
    smap_spec spec = {shards, capacity, sizeof(val), rank_of};
    return smap_new(&spec);
}

static void test_put_get_replace_remove(void)
{
    smap *m = map_of(4, 0);
    val a = val_of(1, 0), b = val_of(2, 0);
    int64_t n = 0;
    CHECK_INT(smap_put(m, &a, NULL), 0);
    CHECK_INT(smap_put(m, &b, NULL), 0);
    CHECK(get_n(m, a.key, &n));
    CHECK_INT(n, 1);
    a.n = 10; /* replacing keeps one entry */
    smap_put(m, &a, NULL);
    CHECK(get_n(m, a.key, &n));
    CHECK_INT(n, 10);
    CHECK_INT(smap_count(m), 2);
    CHECK(smap_remove(m, a.key));
    CHECK(!smap_remove(m, a.key));
    CHECK(!get_n(m, a.key, &n));
    CHECK_INT(smap_count(m), 1);
    smap_free(m);
}

static void test_spec_must_be_sound(void)
{
    smap_spec three = {3, 0, sizeof(val), rank_of}, short_value = {4, 0, 8, rank_of},
              bound_without_rank = {4, 10, sizeof(val), NULL};
    CHECK(smap_new(&three) == NULL);
    CHECK(smap_new(&short_value) == NULL);
    CHECK(smap_new(&bound_without_rank) == NULL);
}

static bool odd(void *value, void *arg)
{
    (*(int *)arg)++;
    return ((val *)value)->n % 2 == 1;
}

/* Visits every entry once (across growth of the buckets) and removes those said. */
static void test_sweep_visits_all_removes_some(void)
{
    smap *m = map_of(8, 0);
    for (int i = 0; i < 1000; i++) {
        val v = val_of(i, 0);
        smap_put(m, &v, NULL);
    }
    int visited = 0;
    CHECK_INT(smap_sweep(m, odd, &visited), 500);
    CHECK_INT(visited, 1000);
    CHECK_INT(smap_count(m), 500);
    val even = val_of(2, 0), other = val_of(3, 0);
    int64_t n;
    CHECK(get_n(m, even.key, &n));
    CHECK(!get_n(m, other.key, &n));
    smap_free(m);
}

static void test_bound_per_shard(void)
{
    smap *m = map_of(4, 10); /* 3 a shard */
    for (int i = 0; i < 1000; i++) {
        val v = val_of(i, i);
        smap_put(m, &v, NULL);
    }
    CHECK(smap_count(m) <= 12);
    CHECK(smap_count(m) >= 10);
    smap_free(m);
}

/*
 * One shard, far more buckets than entries, a hot entry ranked above every
 * other: each of thousands of evictions must sample past it. (A sample whose
 * start moved on as it went could see the hot entry's bucket alone.)
 */
static void test_eviction_spares_the_hot_entry(void)
{
    smap *m = map_of(1, 4);
    val hot = val_of(-1, INT64_MAX - 1);
    smap_put(m, &hot, NULL);
    bool kept = true;
    for (int i = 0; i < 5000 && kept; i++) {
        val v = val_of(i, i);
        smap_put(m, &v, NULL);
        int64_t n;
        kept = get_n(m, hot.key, &n);
    }
    CHECK(kept);
    CHECK_INT(smap_count(m), 4);
    smap_free(m);
}

/* A dead entry goes before a live one ranked lower than any other. */
static void test_eviction_takes_a_dead_entry_first(void)
{
    smap *m = map_of(1, 4);
    val cold = val_of(1, 1), dead = val_of(2, SMAP_DEAD), c = val_of(3, 30), d = val_of(4, 40),
        e = val_of(5, 50);
    smap_put(m, &cold, NULL);
    smap_put(m, &c, NULL);
    smap_put(m, &dead, NULL);
    smap_put(m, &d, NULL);
    smap_put(m, &e, NULL); /* full: one goes */
    int64_t n;
    CHECK(!get_n(m, dead.key, &n));
    CHECK(get_n(m, cold.key, &n));
    CHECK_INT(smap_count(m), 4);
    smap_free(m);
}

void suite_shardmap(void)
{
    RUN(test_put_get_replace_remove);
    RUN(test_spec_must_be_sound);
    RUN(test_sweep_visits_all_removes_some);
    RUN(test_bound_per_shard);
    RUN(test_eviction_spares_the_hot_entry);
    RUN(test_eviction_takes_a_dead_entry_first);
}
