/*
 * shardmap.c — the sharded hash table of 32-byte keys (shardmap.h).
 *
 * Each shard is a chained table behind a read-write lock: lookups take the
 * read lock, so they run in parallel; writes take the write lock of one
 * shard only. A shard's bucket array doubles as its entries outnumber it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/shardmap.h"

/* Buckets an eviction looks into before it picks its victim. */
#define EVICT_SAMPLE 8

typedef struct node {
    struct node *next;
    uint64_t value[]; /* value_size bytes, key first; aligned for any struct of integers */
} node;

typedef struct smap_shard {
    pthread_rwlock_t lock;
    node **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t limit;  /* most entries this shard keeps; 0: no bound */
    size_t cursor; /* where the next eviction starts looking     */
} shard;

struct smap {
    size_t mask;  /* shards - 1 */
    unsigned shift; /* log2(shards): the bits that chose the shard */
    size_t value_size;
    smap_rank_fn rank;
    shard shards[];
};

static uint64_t word_of(const unsigned char *key)
{
    uint64_t w;
    memcpy(&w, key, sizeof w);
    return w;
}

static shard *shard_of(smap *m, const unsigned char *key)
{
    return &m->shards[word_of(key) & m->mask];
}

static node **bucket_of(const smap *m, shard *s, const unsigned char *key)
{
    return &s->buckets[(word_of(key) >> m->shift) & (s->nbuckets - 1)];
}

static const unsigned char *key_of(const node *n)
{
    return (const unsigned char *)n->value;
}

smap *smap_new(const smap_spec *spec)
{
    unsigned shards = spec->shards;
    if (shards == 0 || (shards & (shards - 1)) != 0 || spec->value_size < SMAP_KEY_LEN ||
        (spec->capacity && spec->rank == NULL))
        return NULL;
    smap *m = calloc(1, sizeof *m + shards * sizeof(shard));
    if (m == NULL)
        return NULL;
    m->mask = shards - 1;
    while ((1u << m->shift) < shards)
        m->shift++;
    m->value_size = spec->value_size;
    m->rank = spec->rank;
    for (unsigned i = 0; i < shards; i++) {
        shard *s = &m->shards[i];
        pthread_rwlock_init(&s->lock, NULL);
        s->limit = (spec->capacity + shards - 1) / shards;
        s->nbuckets = 8;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
        if (s->buckets == NULL) {
            smap_free(m);
            return NULL;
        }
    }
    return m;
}

static void node_free(const smap *m, node *n)
{
    explicit_bzero(n->value, m->value_size);
    free(n);
}

void smap_free(smap *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i <= m->mask; i++) {
        shard *s = &m->shards[i];
        for (size_t b = 0; s->buckets && b < s->nbuckets; b++) {
            for (node *n = s->buckets[b], *next; n; n = next) {
                next = n->next;
                node_free(m, n);
            }
        }
        free(s->buckets);
        pthread_rwlock_destroy(&s->lock);
    }
    free(m);
}

/* Doubles a shard's bucket array; keeps the old one when memory is short. */
static void shard_grow(const smap *m, shard *s)
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
            node **dst = bucket_of(m, s, key_of(x));
            x->next = *dst;
            *dst = x;
        }
    }
    free(old);
}

static node *find_in(node *n, const unsigned char *key)
{
    for (; n; n = n->next)
        if (memcmp(key_of(n), key, SMAP_KEY_LEN) == 0)
            return n;
    return NULL;
}

/*
 * Drops the lowest ranked entry among those of the next few non-empty
 * buckets (or the first SMAP_DEAD one): close enough to LRU, and O(1) with no
 * list to maintain on every lookup. The sample runs from where the last one
 * ended, from a start fixed for this call: a start that moved as it went
 * would skip ahead ever faster and could sample one bucket alone, evicting a
 * hot entry. Write lock held.
 */
static void shard_evict_one(const smap *m, shard *s, const void *arg)
{
    node **victim = NULL;
    int64_t lowest = INT64_MAX;
    size_t seen = 0, start = s->cursor;
    for (size_t i = 0; i < s->nbuckets && seen < EVICT_SAMPLE; i++) {
        size_t b = (start + i) & (s->nbuckets - 1);
        if (s->buckets[b] == NULL)
            continue;
        seen++;
        s->cursor = b + 1; /* the next eviction looks further on */
        for (node **p = &s->buckets[b]; *p; p = &(*p)->next) {
            int64_t r = m->rank((*p)->value, arg);
            if (victim == NULL || r < lowest) {
                lowest = r;
                victim = p;
            }
        }
        if (lowest == SMAP_DEAD)
            break;
    }
    if (victim) {
        node *dead = *victim;
        *victim = dead->next;
        node_free(m, dead);
        s->count--;
    }
}

int smap_put(smap *m, const void *value, const void *rank_arg)
{
    const unsigned char *key = value;
    shard *s = shard_of(m, key);
    pthread_rwlock_wrlock(&s->lock);
    node *n = find_in(*bucket_of(m, s, key), key);
    if (n == NULL) {
        if (s->limit && s->count >= s->limit)
            shard_evict_one(m, s, rank_arg);
        n = malloc(sizeof *n + m->value_size);
        if (n == NULL) {
            pthread_rwlock_unlock(&s->lock);
            return -1;
        }
        memcpy(n->value, value, m->value_size);
        node **b = bucket_of(m, s, key); /* after the eviction: the chain may have changed */
        n->next = *b;
        *b = n;
        if (++s->count > s->nbuckets)
            shard_grow(m, s);
    } else {
        memcpy(n->value, value, m->value_size);
    }
    pthread_rwlock_unlock(&s->lock);
    return 0;
}

void *smap_acquire(smap *m, const unsigned char *key, smap_shard **held)
{
    shard *s = shard_of(m, key);
    pthread_rwlock_rdlock(&s->lock);
    node *n = find_in(*bucket_of(m, s, key), key);
    if (n == NULL) {
        pthread_rwlock_unlock(&s->lock);
        return NULL;
    }
    *held = s;
    return n->value;
}

void smap_release(smap_shard *held)
{
    pthread_rwlock_unlock(&held->lock);
}

bool smap_remove(smap *m, const unsigned char *key)
{
    shard *s = shard_of(m, key);
    bool found = false;
    pthread_rwlock_wrlock(&s->lock);
    for (node **p = bucket_of(m, s, key); *p; p = &(*p)->next) {
        if (memcmp(key_of(*p), key, SMAP_KEY_LEN) == 0) {
            node *dead = *p;
            *p = dead->next;
            node_free(m, dead);
            s->count--;
            found = true;
            break;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return found;
}

/* One shard of smap_sweep. */
static size_t shard_sweep(const smap *m, shard *s, bool (*fn)(void *value, void *arg), void *arg)
{
    size_t removed = 0;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t b = 0; b < s->nbuckets; b++) {
        for (node **p = &s->buckets[b]; *p;) {
            if (fn((*p)->value, arg)) {
                node *dead = *p;
                *p = dead->next;
                node_free(m, dead);
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

size_t smap_sweep(smap *m, bool (*fn)(void *value, void *arg), void *arg)
{
    size_t n = 0;
    for (size_t i = 0; i <= m->mask; i++)
        n += shard_sweep(m, &m->shards[i], fn, arg);
    return n;
}

size_t smap_count(smap *m)
{
    size_t n = 0;
    for (size_t i = 0; i <= m->mask; i++) {
        pthread_rwlock_rdlock(&m->shards[i].lock);
        n += m->shards[i].count;
        pthread_rwlock_unlock(&m->shards[i].lock);
    }
    return n;
}
