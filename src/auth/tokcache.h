/*
 * tokcache.h — the in-memory map from token hash to token record that makes
 * checking a token cost one hash and one lookup, without touching the disk.
 *
 * The map is split into shards, each behind its own read-write lock, so that
 * concurrent checks on different tokens do not contend. Entries are copied in
 * and out; a caller never holds a pointer into the cache.
 */
#ifndef TESSERA_TOKCACHE_H
#define TESSERA_TOKCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/token.h"

typedef struct tcache tcache;

/*
 * A cache of at most `capacity` tokens (0: no bound). Past it, inserting
 * evicts a cold entry: the least recently used of a few sampled. An evicted
 * token stays valid; its next check reads the store again.
 */
tcache *tcache_new(size_t capacity);
void tcache_free(tcache *c);

/* Inserts or replaces the record for rec->hash. Returns 0, -1 when out of memory. */
int tcache_put(tcache *c, const tok_record *rec);

/*
 * Copies the record for h into *out and notes now_ms as its last use.
 * Returns false when h is not cached.
 */
bool tcache_get(tcache *c, const tok_hash *h, int64_t now_ms, tok_record *out);

/* Removes h; true when it was there. */
bool tcache_remove(tcache *c, const tok_hash *h);

/* Removes every token of user_id except *keep (when keep is not NULL). */
size_t tcache_remove_user(tcache *c, int64_t user_id, const tok_hash *keep);

/*
 * Calls cb for each record used since the last call (last_used_ms changed),
 * so that last use can be written to the store in batches, not per request.
 */
void tcache_drain_used(tcache *c, void (*cb)(const tok_record *r, void *ctx), void *ctx);

/* Removes the records expired at now_ms; returns how many. */
size_t tcache_evict_expired(tcache *c, int64_t now_ms);

size_t tcache_count(tcache *c);

#endif
