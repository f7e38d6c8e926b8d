/*
 * clientcache.h — the in-memory map from verified client credentials to the
 * application they belong to (issue 13), so that an application calling with
 * its client id and secret costs one hash and one lookup, as a token does,
 * instead of a database read and a hash per request.
 *
 * The key is a BLAKE2b-256 of a 32-byte key drawn at start and never stored,
 * then the client id and the secret (a keyed hash, in one block): the cache
 * holds no secret, nor anything that could test a guess offline. Only a
 * verification that succeeded is ever put in.
 *
 * Invalidation is by generation: every entry carries the generation it was
 * verified in, and an entry of an older generation is a miss. Bumping the
 * generation (ccache_invalidate) is one atomic increment, so any change to
 * any application (a rotation, a disable, a delete, on this process or read
 * from the revocation log) ends every cached credential at once; the next
 * call of each client reads the store again. Application changes are rare
 * administrative events, so the cost is a handful of reads.
 */
#ifndef TESSERA_CLIENTCACHE_H
#define TESSERA_CLIENTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCACHE_KEY_LEN 32

typedef struct ccache ccache;

typedef struct ccache_key {
    unsigned char b[CCACHE_KEY_LEN];
} ccache_key;

/* A cache of at most about `capacity` credentials (> 0): past it, inserting
 * evicts a dead entry or the least recently used of a few sampled. */
ccache *ccache_new(size_t capacity);
void ccache_free(ccache *c);

/* The key of a client id and a secret (any bytes; the id is fixed-length,
 * so the concatenation is unambiguous). */
void ccache_key_of(const ccache *c, const char *client_id, const char *secret, size_t secret_len,
                   ccache_key *out);

/* The current generation: read it BEFORE reading the store, and pass it to
 * ccache_put, so a change that lands in between is never cached over. */
uint64_t ccache_generation(ccache *c);

/*
 * Remembers that key verified as app_id in generation gen, valid until
 * until_ms (a previous secret's grace end; INT64_MAX for the current one).
 * Nothing is stored when gen is no longer the current generation.
 */
void ccache_put(ccache *c, const ccache_key *k, int64_t app_id, int64_t until_ms, uint64_t gen);

/* The application of key when it is cached, of this generation and not past
 * its end at now_ms; false otherwise. */
bool ccache_get(ccache *c, const ccache_key *k, int64_t now_ms, int64_t *app_id);

/* Ends every cached credential (a new generation). */
void ccache_invalidate(ccache *c);

/* Entries held, live or not (for tests and the bound). */
size_t ccache_count(ccache *c);

#endif
