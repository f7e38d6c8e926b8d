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
 * Whether secret is the application's current secret, or its previous one
 * still in its grace period at now_ms. cred NULL (an unknown client) does
 * the same work against nothing, so the time says nothing about which
 * client ids exist. Comparisons are in constant time.
 */
bool client_secret_matches(const store_app_cred *cred, const char *secret, size_t len, int64_t now_ms);

#endif
