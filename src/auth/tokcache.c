/*
 * tokcache.c — the token cache: a sharded table (core/shardmap.h) of token
 * records keyed by their hash, in 64 shards. What is the token cache's own:
 * the last use a check records, its draining to the store, expiry, and the
 * removal of a user's tokens.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth/tokcache.h"
#include "core/shardmap.h"

#define SHARDS 64 /* power of two */

_Static_assert(TOK_HASH_LEN == SMAP_KEY_LEN, "a token hash is a table key");
_Static_assert(offsetof(tok_record, hash) == 0, "the key starts the value");

/* The table's value: rec.last_used_ms is written atomically (under the read lock). */
typedef struct entry {
    tok_record rec;
    int64_t drained_used_ms; /* last use already handed to tcache_drain_used */
} entry;

struct tcache {
    smap *map;
};

/* Evicts the least recently used. */
static int64_t last_used(const void *value, const void *arg)
{
    const entry *e = value;
    return __atomic_load_n(&e->rec.last_used_ms, __ATOMIC_RELAXED);
}

tcache *tcache_new(size_t capacity)
{
    tcache *c = malloc(sizeof *c);
    smap_spec spec = {SHARDS, capacity, sizeof(entry), last_used};
    if (c == NULL || (c->map = smap_new(&spec)) == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void tcache_free(tcache *c)
{
    if (c == NULL)
        return;
    smap_free(c->map);
    free(c);
}

int tcache_put(tcache *c, const tok_record *rec)
{
    entry e = {*rec, rec->last_used_ms};
    return smap_put(c->map, &e, NULL);
}

/*
 * Looking a token up also records its use. That write happens under the read
 * lock, so it is an atomic store; drain reads it atomically under the write
 * lock. The copy leaves last_used_ms out, another reader may be storing it.
 */
bool tcache_get(tcache *c, const tok_hash *h, int64_t now_ms, tok_record *out)
{
    smap_shard *held;
    entry *e = smap_acquire(c->map, h->b, &held);
    if (e == NULL)
        return false;
    __atomic_store_n(&e->rec.last_used_ms, now_ms, __ATOMIC_RELAXED);
    out->hash = e->rec.hash;
    memcpy(out->handle, e->rec.handle, sizeof out->handle);
    out->user_id = e->rec.user_id;
    out->app_id = e->rec.app_id;
    out->created_ms = e->rec.created_ms;
    out->ttl = e->rec.ttl;
    out->scopes = e->rec.scopes;
    out->last_used_ms = now_ms;
    smap_release(held);
    return true;
}

bool tcache_remove(tcache *c, const tok_hash *h)
{
    return smap_remove(c->map, h->b);
}

typedef struct user_match {
    int64_t user_id;
    const tok_hash *keep;
} user_match;

static bool of_user(void *value, void *arg)
{
    const entry *e = value;
    const user_match *m = arg;
    return e->rec.user_id == m->user_id &&
           (m->keep == NULL || memcmp(e->rec.hash.b, m->keep->b, TOK_HASH_LEN) != 0);
}

/* user_id 0 names nobody: the tokens held by an application alone (user_id
 * 0, issue 13) are no user's, and a user's revocation never reaches them. */
size_t tcache_remove_user(tcache *c, int64_t user_id, const tok_hash *keep)
{
    user_match m = {user_id, keep};
    if (user_id == 0)
        return 0;
    return smap_sweep(c->map, of_user, &m);
}

static bool expired_at(void *value, void *arg)
{
    const entry *e = value;
    int64_t now = *(const int64_t *)arg;
    return tok_expires_ms(e->rec.created_ms, e->rec.ttl) <= now;
}

size_t tcache_evict_expired(tcache *c, int64_t now_ms)
{
    return smap_sweep(c->map, expired_at, &now_ms);
}

typedef struct drain_arg {
    void (*cb)(const tok_record *r, void *ctx);
    void *ctx;
} drain_arg;

/* Hands on a record used since the last drain; removes nothing. */
static bool drain_one(void *value, void *arg)
{
    entry *e = value;
    const drain_arg *d = arg;
    int64_t used = __atomic_load_n(&e->rec.last_used_ms, __ATOMIC_RELAXED);
    if (used > e->drained_used_ms) {
        e->drained_used_ms = used;
        d->cb(&e->rec, d->ctx);
    }
    return false;
}

void tcache_drain_used(tcache *c, void (*cb)(const tok_record *r, void *ctx), void *ctx)
{
    drain_arg d = {cb, ctx};
    smap_sweep(c->map, drain_one, &d);
}

size_t tcache_count(tcache *c)
{
    return smap_count(c->map);
}
