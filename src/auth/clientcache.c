/*
 * clientcache.c — verified client credentials (clientcache.h): a sharded
 * table (core/shardmap.h) in 16 shards, keyed by a keyed hash. What is the
 * client cache's own: the key's derivation, the generation and the grace.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth/clientcache.h"
#include "core/shardmap.h"

#define SHARDS 16 /* power of two */

_Static_assert(CCACHE_KEY_LEN == SMAP_KEY_LEN, "a credential's key is a table key");

/* The table's value. */
typedef struct entry {
    ccache_key key;
    int64_t app_id;
    int64_t until_ms;
    uint64_t gen;
    int64_t used_ms; /* written atomically under the read lock */
} entry;

_Static_assert(offsetof(entry, key) == 0, "the key starts the value");

struct ccache {
    unsigned char hash_key[crypto_generichash_KEYBYTES];
    uint64_t gen; /* atomic */
    smap *map;
};

/* Evicts a dead entry (an old generation) first, else the least recently used. */
static int64_t rank_of(const void *value, const void *arg)
{
    const entry *e = value;
    uint64_t gen = *(const uint64_t *)arg;
    return e->gen != gen ? SMAP_DEAD : __atomic_load_n(&e->used_ms, __ATOMIC_RELAXED);
}

ccache *ccache_new(size_t capacity)
{
    ccache *c = calloc(1, sizeof *c);
    smap_spec spec = {SHARDS, capacity ? capacity : 1, sizeof(entry), rank_of};
    if (c == NULL || (c->map = smap_new(&spec)) == NULL) {
        free(c);
        return NULL;
    }
    randombytes_buf(c->hash_key, sizeof c->hash_key);
    return c;
}

void ccache_free(ccache *c)
{
    if (c == NULL)
        return;
    smap_free(c->map);
    sodium_memzero(c->hash_key, sizeof c->hash_key);
    free(c);
}

/*
 * BLAKE2b of key || id || secret: a prefix key is a sound MAC with BLAKE2b
 * (no length extension), and when the whole fits in one 128-byte block (a
 * well-formed id and secret: 32 + 28 + 48 bytes) it costs one compression,
 * as a token's hash does, where the keyed mode would add a block of its own.
 */
void ccache_key_of(const ccache *c, const char *client_id, const char *secret, size_t secret_len,
                   ccache_key *out)
{
    unsigned char block[128];
    size_t idlen = strlen(client_id), keylen = sizeof c->hash_key;
    if (keylen + idlen + secret_len <= sizeof block) {
        memcpy(block, c->hash_key, keylen);
        memcpy(block + keylen, client_id, idlen);
        memcpy(block + keylen + idlen, secret, secret_len);
        crypto_generichash(out->b, sizeof out->b, block, keylen + idlen + secret_len, NULL, 0);
        sodium_memzero(block, sizeof block);
        return;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof out->b);
    crypto_generichash_update(&st, c->hash_key, keylen);
    crypto_generichash_update(&st, (const unsigned char *)client_id, idlen);
    crypto_generichash_update(&st, (const unsigned char *)secret, secret_len);
    crypto_generichash_final(&st, out->b, sizeof out->b);
    sodium_memzero(&st, sizeof st);
}

uint64_t ccache_generation(ccache *c)
{
    return __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);
}

void ccache_invalidate(ccache *c)
{
    __atomic_add_fetch(&c->gen, 1, __ATOMIC_ACQ_REL);
}

/*
 * A put of an old generation stores nothing. Checked before the write: an
 * invalidation after the check ends the entry through its generation (a get
 * compares it), one before it keeps it out. The table compares keys with a
 * plain memcmp: how many leading bytes of a keyed hash match says nothing of
 * a secret to one who cannot compute the hash (the key never leaves this
 * process), as the token cache compares its hashes.
 */
void ccache_put(ccache *c, const ccache_key *k, int64_t app_id, int64_t until_ms, uint64_t gen)
{
    if (gen != ccache_generation(c))
        return;
    entry e = {*k, app_id, until_ms, gen, 0};
    smap_put(c->map, &e, &gen); /* out of memory: not cached, the next call reads the store */
}

/* A hit when of this generation and not past its end; notes its use. */
bool ccache_get(ccache *c, const ccache_key *k, int64_t now_ms, int64_t *app_id)
{
    smap_shard *held;
    entry *e = smap_acquire(c->map, k->b, &held);
    if (e == NULL)
        return false;
    bool hit = e->gen == ccache_generation(c) && now_ms < e->until_ms;
    if (hit) {
        __atomic_store_n(&e->used_ms, now_ms, __ATOMIC_RELAXED);
        *app_id = e->app_id;
    }
    smap_release(held);
    return hit;
}

size_t ccache_count(ccache *c)
{
    return smap_count(c->map);
}
