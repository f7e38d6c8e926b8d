/*
 * test_clientcache.c — the cache of verified client credentials (issue 13):
 * lookups by (client id, secret), the end of a grace, invalidation by
 * generation (also of a verification that raced with it), and the bound.
 */
#include <stdio.h>
#include <string.h>

#include "auth/clientcache.h"
#include "unit.h"

#define ID "tsa_abcdefghijklmnopqrstuvwx"
#define SECRET "tss_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"

static void key(ccache *c, const char *secret, ccache_key *k)
{
    ccache_key_of(c, ID, secret, strlen(secret), k);
}

static void test_put_get(void)
{
    ccache *c = ccache_new(64);
    ccache_key k, other;
    int64_t app = 0;
    key(c, SECRET, &k);
    key(c, SECRET "x", &other);
    CHECK(!ccache_get(c, &k, 1000, &app));
    ccache_put(c, &k, 42, INT64_MAX, ccache_generation(c));
    CHECK(ccache_get(c, &k, 1000, &app));
    CHECK_INT(app, 42);
    CHECK(!ccache_get(c, &other, 1000, &app)); /* another secret, another key */
    CHECK_INT(ccache_count(c), 1);
    ccache_free(c);
}

static void test_key_is_keyed_and_covers_both(void)
{
    ccache *a = ccache_new(16), *b = ccache_new(16);
    ccache_key ka, kb, kid;
    ccache_key_of(a, ID, SECRET, strlen(SECRET), &ka);
    ccache_key_of(b, ID, SECRET, strlen(SECRET), &kb);
    ccache_key_of(a, "tsa_abcdefghijklmnopqrstuvwy", SECRET, strlen(SECRET), &kid);
    CHECK(memcmp(ka.b, kb.b, CCACHE_KEY_LEN) != 0); /* a key per process */
    CHECK(memcmp(ka.b, kid.b, CCACHE_KEY_LEN) != 0);
    ccache_free(a);
    ccache_free(b);
}

static void test_grace_ends(void)
{
    ccache *c = ccache_new(64);
    ccache_key k;
    int64_t app = 0;
    key(c, SECRET, &k);
    ccache_put(c, &k, 7, 5000, ccache_generation(c));
    CHECK(ccache_get(c, &k, 4999, &app));
    CHECK(!ccache_get(c, &k, 5000, &app));
    ccache_free(c);
}

static void test_invalidate_ends_every_entry(void)
{
    ccache *c = ccache_new(64);
    ccache_key k;
    int64_t app = 0;
    key(c, SECRET, &k);
    ccache_put(c, &k, 7, INT64_MAX, ccache_generation(c));
    ccache_invalidate(c);
    CHECK(!ccache_get(c, &k, 1000, &app));
    ccache_put(c, &k, 7, INT64_MAX, ccache_generation(c)); /* verified again */
    CHECK(ccache_get(c, &k, 1000, &app));
    ccache_free(c);
}

/* A verification that read the store before a change, and finishes after
 * it, must not cache what it read. */
static void test_put_of_an_old_generation_is_dropped(void)
{
    ccache *c = ccache_new(64);
    ccache_key k;
    int64_t app = 0;
    key(c, SECRET, &k);
    uint64_t gen = ccache_generation(c);
    ccache_invalidate(c);
    ccache_put(c, &k, 7, INT64_MAX, gen);
    CHECK(!ccache_get(c, &k, 1000, &app));
    CHECK_INT(ccache_count(c), 0);
    ccache_free(c);
}

static void test_capacity_bound(void)
{
    enum { CAP = 256 };
    ccache *c = ccache_new(CAP);
    ccache_key hot, k;
    int64_t app = 0;
    key(c, SECRET, &hot);
    ccache_put(c, &hot, 1, INT64_MAX, ccache_generation(c));
    for (int i = 0; i < 20 * CAP; i++) {
        char s[64];
        snprintf(s, sizeof s, "secret-%d", i);
        key(c, s, &k);
        ccache_put(c, &k, i, INT64_MAX, ccache_generation(c));
        ccache_get(c, &hot, 1000000 + i, &app); /* keeps it hot */
    }
    CHECK(ccache_count(c) <= CAP);
    CHECK(ccache_count(c) >= CAP / 2);
    CHECK(ccache_get(c, &hot, 1, &app));
    CHECK_INT(app, 1);
    ccache_free(c);
}

void suite_clientcache(void)
{
    RUN(test_put_get);
    RUN(test_key_is_keyed_and_covers_both);
    RUN(test_grace_ends);
    RUN(test_invalidate_ends_every_entry);
    RUN(test_put_of_an_old_generation_is_dropped);
    RUN(test_capacity_bound);
}
