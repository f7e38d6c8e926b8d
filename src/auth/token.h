/*
 * token.h — what an access token is: its secret, its hash and its handle.
 *
 * The secret is tokenLength characters of [A-Za-z0-9] from libsodium's
 * CSPRNG; it is shown once, to whoever was issued it. The database and the
 * memory cache keep only its BLAKE2b-256 hash. The handle is a second, unrelated random
 * string that names the token in lists and revocations without revealing it.
 */
#ifndef TESSERA_TOKEN_H
#define TESSERA_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define TOK_MIN_LEN     32
#define TOK_MAX_LEN     512
#define TOK_HASH_LEN    STORE_HASH_LEN   /* BLAKE2b-256 */
#define TOK_HANDLE_LEN  STORE_HANDLE_LEN
#define TOK_ETERNAL     (-1)

/* A token's hash and metadata (everything but its secret) are what the
 * store keeps (store/store.h); auth computes the hash and decides expiry. */
typedef store_hash tok_hash;
typedef store_token tok_record;

/* Fills out[0..len-1] with random [A-Za-z0-9] and NUL-terminates it. */
void tok_generate(char *out, size_t len);

/* A fresh public handle ("at_" + random), NUL-terminated. */
void tok_new_handle(char out[TOK_HANDLE_LEN + 1]);

/* True when s (of length len) could be a token: 32..512 of [A-Za-z0-9]. */
bool tok_well_formed(const char *s, size_t len);

/* True when s looks like a handle made by tok_new_handle. */
bool tok_is_handle(const char *s);

/* BLAKE2b-256 of the secret: libsodium's generic hash, 3x faster than SHA-256. */
void tok_hash_of(const char *secret, size_t len, tok_hash *out);

/*
 * Expiry of a token created at created_ms with ttl seconds, in ms since the
 * epoch; INT64_MAX for an eternal token (ttl == TOK_ETERNAL).
 */
int64_t tok_expires_ms(int64_t created_ms, int64_t ttl);

#endif
