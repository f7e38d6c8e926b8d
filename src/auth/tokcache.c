/*
 * tokcache.c — the token cache: a hash table split into shards.
 *
 * Keys are BLAKE2b hashes, already uniformly random, so the first eight bytes
 * serve as the hash value with no further mixing. Each shard is a chained
 * table behind a read-write lock: checks take the read lock, so they run in
 * parallel; issue and revoke take the write lock of one shard only.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/tokcache.h"

#define SHARDS 64 /* power of two */

typedef struct node {
    tok_record rec;          /* rec.last_used_ms is written atomically      */
    int64_t drained_used_ms; /* last use already handed to tcache_drain_used */
    struct node *next;
} node;

typedef struct shard {
    pthread_rwlock_t lock;
    node **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t limit;    /* most entries this shard keeps; 0: no bound */
    size_t cursor;   /* where the next eviction starts looking     */
} shard;

struct tcache {
    shard shards[SHARDS];
};

/* Buckets an eviction looks into before it picks its victim. */
#define EVICT_SAMPLE 8

static uint64_t key_of(const tok_hash *h)
{
    uint64_t k;
    memcpy(&k, h->b, sizeof k);
    return k;
}

static shard *shard_of(tcache *c, const tok_hash *h)
{
    return &c->shards[key_of(h) & (SHARDS - 1)];
}

static node **bucket_of(shard *s, const tok_hash *h)
{
    return &s->buckets[(key_of(h) / SHARDS) & (s->nbuckets - 1)];
}

tcache *tcache_new(size_t capacity)
{
    tcache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        s->limit = capacity ? (capacity + SHARDS - 1) / SHARDS : 0;
        pthread_rwlock_init(&s->lock, NULL);
        s->nbuckets = 64;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
        if (s->buckets == NULL) {
            tcache_free(c);
            return NULL;
        }
    }
    return c;
}

void tcache_free(tcache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        for (size_t b = 0; s->buckets && b < s->nbuckets; b++) {
            for (node *n = s->buckets[b], *next; n; n = next) {
                next = n->next;
                free(n);
            }
        }
        free(s->buckets);
        pthread_rwlock_destroy(&s->lock);
    }
    free(c);
}

/* Doubles a shard's bucket array; keeps the old one when memory is short. */
static void shard_grow(shard *s)
{
    size_t n = s->nbuckets * 2;
    node **b = calloc(n, sizeof *b);
    if (b == NULL)
        return;
    node **old = s->buckets;
    size_t oldn = s->nbuckets;
    s->buckets = b;
    s->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (node *x = old[i], *next; x; x = next) {
            next = x->next;
            node **dst = bucket_of(s, &x->rec.hash);
            x->next = *dst;
            *dst = x;
        }
    }
    free(old);
}

static node *find_in(node *n, const tok_hash *h)
{
    for (; n; n = n->next)
        if (memcmp(n->rec.hash.b, h->b, TOK_HASH_LEN) == 0)
            return n;
    return NULL;
}

/*
 * Drops the least recently used entry among those of the next few non-empty
 * buckets: close enough to LRU for a cache this size, and O(1) with no list
 * to maintain on every check. Write lock held.
 */
static void shard_evict_one(shard *s)
{
    node **victim = NULL;
    int64_t oldest = INT64_MAX;
    size_t seen = 0;
    for (size_t i = 0; i < s->nbuckets && seen < EVICT_SAMPLE; i++) {
        size_t b = (s->cursor + i) & (s->nbuckets - 1);
        if (s->buckets[b] == NULL)
            continue;
        seen++;
        for (node **p = &s->buckets[b]; *p; p = &(*p)->next) {
            int64_t used = __atomic_load_n(&(*p)->rec.last_used_ms, __ATOMIC_RELAXED);
            if (used < oldest) {
                oldest = used;
                victim = p;
            }
        }
        s->cursor = b + 1;
    }
    if (victim) {
        node *dead = *victim;
        *victim = dead->next;
        free(dead);
        s->count--;
    }
}

int tcache_put(tcache *c, const tok_record *rec)
{
    shard *s = shard_of(c, &rec->hash);
    pthread_rwlock_wrlock(&s->lock);
    node **b = bucket_of(s, &rec->hash);
    node *n = find_in(*b, &rec->hash);
    if (n == NULL && s->limit && s->count >= s->limit) {
        shard_evict_one(s);
        b = bucket_of(s, &rec->hash); /* the chain may have changed */
    }
    if (n == NULL) {
        n = calloc(1, sizeof *n);
        if (n == NULL) {
            pthread_rwlock_unlock(&s->lock);
            return -1;
        }
        n->next = *b;
        *b = n;
        s->count++;
    }
    n->rec = *rec;
    n->drained_used_ms = rec->last_used_ms;
    if (s->count > s->nbuckets)
        shard_grow(s);
    pthread_rwlock_unlock(&s->lock);
    return 0;
}

/*
 * Looking a token up also records its use. That write happens under the read
 * lock, so it is an atomic store; drain reads it atomically under the write lock.
 */
bool tcache_get(tcache *c, const tok_hash *h, int64_t now_ms, tok_record *out)
{
    shard *s = shard_of(c, h);
    pthread_rwlock_rdlock(&s->lock);
    node *n = find_in(*bucket_of(s, h), h);
    if (n) {
        __atomic_store_n(&n->rec.last_used_ms, now_ms, __ATOMIC_RELAXED);
        out->hash = n->rec.hash;
        memcpy(out->handle, n->rec.handle, sizeof out->handle);
        out->user_id = n->rec.user_id;
        out->app_id = n->rec.app_id;
        out->created_ms = n->rec.created_ms;
        out->ttl = n->rec.ttl;
        out->scopes = n->rec.scopes;
        out->last_used_ms = now_ms;
    }
    pthread_rwlock_unlock(&s->lock);
    return n != NULL;
}

bool tcache_remove(tcache *c, const tok_hash *h)
{
    shard *s = shard_of(c, h);
    bool found = false;
    pthread_rwlock_wrlock(&s->lock);
    for (node **p = bucket_of(s, h); *p; p = &(*p)->next) {
        if (memcmp((*p)->rec.hash.b, h->b, TOK_HASH_LEN) == 0) {
            node *dead = *p;
            *p = dead->next;
            free(dead);
            s->count--;
            found = true;
            break;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return found;
}

/* Removes, from one shard, the nodes for which doomed() says so. */
static size_t shard_remove_if(shard *s, bool (*doomed)(const node *, const void *), const void *arg)
{
    size_t removed = 0;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t b = 0; b < s->nbuckets; b++) {
        for (node **p = &s->buckets[b]; *p;) {
            if (doomed(*p, arg)) {
                node *dead = *p;
                *p = dead->next;
                free(dead);
                s->count--;
                removed++;
            } else {
                p = &(*p)->next;
            }
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return removed;
}

typedef struct user_match {
    int64_t user_id;
    const tok_hash *keep;
} user_match;

static bool of_user(const node *n, const void *arg)
{
    const user_match *m = arg;
    return n->rec.user_id == m->user_id &&
           (m->keep == NULL || memcmp(n->rec.hash.b, m->keep->b, TOK_HASH_LEN) != 0);
}

/* user_id 0 names nobody: the tokens held by an application alone (user_id
 * 0, issue 13) are no user's, and a user's revocation never reaches them. */
size_t tcache_remove_user(tcache *c, int64_t user_id, const tok_hash *keep)
{
    user_match m = {user_id, keep};
    size_t n = 0;
    if (user_id == 0)
        return 0;
    for (int i = 0; i < SHARDS; i++)
        n += shard_remove_if(&c->shards[i], of_user, &m);
    return n;
}

static bool expired_at(const node *n, const void *arg)
{
    int64_t now = *(const int64_t *)arg;
    return tok_expires_ms(n->rec.created_ms, n->rec.ttl) <= now;
}

size_t tcache_evict_expired(tcache *c, int64_t now_ms)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++)
        n += shard_remove_if(&c->shards[i], expired_at, &now_ms);
    return n;
}

void tcache_drain_used(tcache *c, void (*cb)(const tok_record *r, void *ctx), void *ctx)
{
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        pthread_rwlock_wrlock(&s->lock);
        for (size_t b = 0; b < s->nbuckets; b++) {
            for (node *n = s->buckets[b]; n; n = n->next) {
                int64_t used = __atomic_load_n(&n->rec.last_used_ms, __ATOMIC_RELAXED);
                if (used > n->drained_used_ms) {
                    n->drained_used_ms = used;
                    cb(&n->rec, ctx);
                }
            }
        }
        pthread_rwlock_unlock(&s->lock);
    }
}

size_t tcache_count(tcache *c)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_rwlock_rdlock(&c->shards[i].lock);
        n += c->shards[i].count;
        pthread_rwlock_unlock(&c->shards[i].lock);
    }
    return n;
}
