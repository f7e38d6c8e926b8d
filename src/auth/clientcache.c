/*
 * clientcache.c — verified client credentials (clientcache.h): a hash table
 * split into shards, each behind a read-write lock, of fixed size.
 *
 * Keys are keyed BLAKE2b hashes, uniformly random, so their first eight
 * bytes are the hash value with no further mixing. A shard's bucket array is
 * sized to its share of the capacity once and never grows.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/clientcache.h"

#define SHARDS 16 /* power of two */
/* Buckets an eviction looks into before it picks its victim. */
#define EVICT_SAMPLE 8

typedef struct node {
    ccache_key key;
    int64_t app_id;
    int64_t until_ms;
    uint64_t gen;
    int64_t used_ms; /* written atomically under the read lock */
    struct node *next;
} node;

typedef struct shard {
    pthread_rwlock_t lock;
    node **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t limit;
    size_t cursor; /* where the next eviction starts looking */
} shard;

struct ccache {
    unsigned char hash_key[crypto_generichash_KEYBYTES];
    uint64_t gen; /* atomic */
    shard shards[SHARDS];
};

static uint64_t word_of(const ccache_key *k)
{
    uint64_t w;
    memcpy(&w, k->b, sizeof w);
    return w;
}

static shard *shard_of(ccache *c, const ccache_key *k)
{
    return &c->shards[word_of(k) & (SHARDS - 1)];
}

static node **bucket_of(shard *s, const ccache_key *k)
{
    return &s->buckets[(word_of(k) / SHARDS) & (s->nbuckets - 1)];
}

ccache *ccache_new(size_t capacity)
{
    ccache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    randombytes_buf(c->hash_key, sizeof c->hash_key);
    size_t limit = capacity / SHARDS ? capacity / SHARDS : 1;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        pthread_rwlock_init(&s->lock, NULL);
        s->limit = limit;
        for (s->nbuckets = 8; s->nbuckets < limit; s->nbuckets *= 2)
            ;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
        if (s->buckets == NULL) {
            ccache_free(c);
            return NULL;
        }
    }
    return c;
}

void ccache_free(ccache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        for (size_t b = 0; s->buckets && b < s->nbuckets; b++) {
            for (node *n = s->buckets[b], *next; n; n = next) {
                next = n->next;
                sodium_memzero(n, sizeof *n);
                free(n);
            }
        }
        free(s->buckets);
        pthread_rwlock_destroy(&s->lock);
    }
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

/* A plain memcmp: how many leading bytes of a keyed hash match says nothing
 * of a secret to one who cannot compute the hash (the key never leaves this
 * process), as the token cache compares its hashes. */
static node *find_in(node *n, const ccache_key *k)
{
    for (; n; n = n->next)
        if (memcmp(n->key.b, k->b, CCACHE_KEY_LEN) == 0)
            return n;
    return NULL;
}

/*
 * Drops one entry, write lock held: the first dead one (an old generation)
 * among the next few non-empty buckets, else the least recently used of
 * them. Close enough to LRU, with no list to maintain on every lookup.
 */
static void shard_evict_one(shard *s, uint64_t gen)
{
    node **victim = NULL;
    int64_t oldest = INT64_MAX;
    size_t seen = 0, start = s->cursor;
    for (size_t i = 0; i < s->nbuckets && seen < EVICT_SAMPLE; i++) {
        size_t b = (start + i) & (s->nbuckets - 1);
        if (s->buckets[b] == NULL)
            continue;
        seen++;
        s->cursor = b + 1; /* the next eviction looks further on */
        for (node **p = &s->buckets[b]; *p; p = &(*p)->next) {
            int64_t used = (*p)->gen != gen ? INT64_MIN : __atomic_load_n(&(*p)->used_ms, __ATOMIC_RELAXED);
            if (used < oldest || victim == NULL) {
                oldest = used;
                victim = p;
            }
        }
        if (oldest == INT64_MIN)
            break;
    }
    if (victim) {
        node *dead = *victim;
        *victim = dead->next;
        free(dead);
        s->count--;
    }
}

void ccache_put(ccache *c, const ccache_key *k, int64_t app_id, int64_t until_ms, uint64_t gen)
{
    shard *s = shard_of(c, k);
    pthread_rwlock_wrlock(&s->lock);
    /* read under the lock: an invalidation after this line ends the entry
     * through its generation, one before it keeps it out */
    if (gen != ccache_generation(c)) {
        pthread_rwlock_unlock(&s->lock);
        return;
    }
    node *n = find_in(*bucket_of(s, k), k);
    if (n == NULL) {
        if (s->count >= s->limit)
            shard_evict_one(s, gen);
        n = calloc(1, sizeof *n);
        if (n == NULL) {
            pthread_rwlock_unlock(&s->lock);
            return; /* not cached: the next call reads the store */
        }
        node **b = bucket_of(s, k);
        n->key = *k;
        n->next = *b;
        *b = n;
        s->count++;
    }
    n->app_id = app_id;
    n->until_ms = until_ms;
    n->gen = gen;
    n->used_ms = 0;
    pthread_rwlock_unlock(&s->lock);
}

bool ccache_get(ccache *c, const ccache_key *k, int64_t now_ms, int64_t *app_id)
{
    shard *s = shard_of(c, k);
    bool hit = false;
    pthread_rwlock_rdlock(&s->lock);
    node *n = find_in(*bucket_of(s, k), k);
    if (n && n->gen == ccache_generation(c) && now_ms < n->until_ms) {
        __atomic_store_n(&n->used_ms, now_ms, __ATOMIC_RELAXED);
        *app_id = n->app_id;
        hit = true;
    }
    pthread_rwlock_unlock(&s->lock);
    return hit;
}

size_t ccache_count(ccache *c)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_rwlock_rdlock(&c->shards[i].lock);
        n += c->shards[i].count;
        pthread_rwlock_unlock(&c->shards[i].lock);
    }
    return n;
}
