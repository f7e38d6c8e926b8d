/*
 * shardmap.h — a hash table of 32-byte keys split into shards, each behind
 * its own read-write lock, with a bound and an approximate-LRU eviction: the
 * table under the token cache (auth/tokcache.c) and the client-credentials
 * cache (auth/clientcache.c).
 *
 * Keys are cryptographic hashes, already uniformly random, so their first
 * eight bytes are the hash value with no further mixing. A value is a
 * fixed-size struct (its size given at creation) that BEGINS with its key;
 * it is copied in, and read or changed only under its shard's lock (between
 * smap_acquire and smap_release, or in a sweep's callback), so a caller never
 * keeps a pointer into the table.
 */
#ifndef TESSERA_SHARDMAP_H
#define TESSERA_SHARDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMAP_KEY_LEN 32

/* A rank that ends an eviction's sampling at once: this entry goes. */
#define SMAP_DEAD INT64_MIN

typedef struct smap smap;

/*
 * Ranks an entry for eviction (write lock held; fields a reader writes under
 * the read lock must be loaded atomically): the lowest of those sampled is
 * dropped, SMAP_DEAD at once. arg is smap_put's.
 */
typedef int64_t (*smap_rank_fn)(const void *value, const void *arg);

typedef struct smap_spec {
    unsigned shards;   /* a power of two */
    size_t capacity;   /* most entries kept (rounded up to a multiple of shards); 0: no bound */
    size_t value_size; /* >= SMAP_KEY_LEN: the value starts with its key */
    smap_rank_fn rank; /* needed when capacity > 0 */
} smap_spec;

smap *smap_new(const smap_spec *spec);
/* Frees every entry, wiped first (keys are hashes of credentials). */
void smap_free(smap *m);

/*
 * Copies value in, replacing the entry of its key. A new entry in a full
 * shard first evicts one (rank, given rank_arg). Returns 0, -1 when out of
 * memory (nothing stored).
 */
int smap_put(smap *m, const void *value, const void *rank_arg);

/* A shard, read-locked by smap_acquire for its caller. */
typedef struct smap_shard smap_shard;

/*
 * The value of key, its shard read-locked in *held until smap_release(*held);
 * NULL when key is not there (nothing held). Meanwhile the caller may read
 * the value, and write a field only atomically: other readers run alongside.
 */
void *smap_acquire(smap *m, const unsigned char *key, smap_shard **held);
void smap_release(smap_shard *held);

/* Removes key; true when it was there. */
bool smap_remove(smap *m, const unsigned char *key);

/*
 * Calls fn on every entry, one shard at a time under its write lock, and
 * removes those for which it returns true; returns how many.
 */
size_t smap_sweep(smap *m, bool (*fn)(void *value, void *arg), void *arg);

size_t smap_count(smap *m);

#endif
