/*
 * client.h — an application's credentials (issue 13): the public client id,
 * the secret shown once, the hash the store keeps instead, and the check.
 *
 * A secret is 44 characters of [A-Za-z0-9] from the CSPRNG (262 bits) after
 * a "tss_" prefix, so a leaked one is recognisable by scanners; the store
 * keeps only the hex of its BLAKE2b-256 hash: with that much entropy a fast
 * hash cannot be reversed, and a stolen database lets no application in.
 */
#ifndef TESSERA_CLIENT_H
#define TESSERA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/clientcache.h"
#include "store/store.h"

#define CLIENT_ID_PREFIX "tsa_"
#define CLIENT_ID_LEN (4 + 24)
#define CLIENT_SECRET_PREFIX "tss_"
#define CLIENT_SECRET_LEN (4 + 44)

/* A fresh client id, NUL-terminated. */
void client_new_id(char out[CLIENT_ID_LEN + 1]);

/* A fresh secret and the hex of its hash, both NUL-terminated. */
void client_new_secret(char secret[CLIENT_SECRET_LEN + 1], char hash_hex[STORE_APP_HASH_HEX + 1]);

/* True when s could be a client id (the prefix and length). */
bool client_id_well_formed(const char *s);

/*
 * Until when secret holds: INT64_MAX when it is the application's current
 * secret, the grace's end when it is its previous one still in its grace
 * period at now_ms, 0 otherwise. cred NULL (an unknown client) does the same
 * work against nothing, so the time says nothing about which client ids
 * exist. Comparisons are in constant time.
 */
int64_t client_secret_until(const store_app_cred *cred, const char *secret, size_t len, int64_t now_ms);

/*
 * Checks presented credentials (either may be NULL): STORE_OK with *app_id
 * for an active application's current secret, or its previous one in its
 * grace; STORE_NOT_FOUND for an unknown id, a wrong secret and a disabled
 * application alike, after the same work; another code for a store error.
 * cache (may be NULL: not trusted now) answers a credential verified before
 * with no store read; only a success is put in it, so a failure costs what
 * it did without the cache, whether the client exists or not.
 */
store_err client_check(store_t *st, ccache *cache, const char *id, const char *secret, int64_t now_ms,
                       int64_t *app_id);

#endif
