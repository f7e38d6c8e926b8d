/*
 * password.h — argon2id password hashes (libsodium's crypto_pwhash_str).
 */
#ifndef TESSERA_PASSWORD_H
#define TESSERA_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

#define PW_MAX_LEN  4096 /* a longer password is refused */
#define PW_HASH_MAX 128  /* crypto_pwhash_STRBYTES */

/* Hashes pw with the configured cost. Returns 0, or -1 (out of memory). */
int pw_hash(const cfg_password *cost, const char *pw, size_t len, char out[PW_HASH_MAX]);

/* True when pw matches the stored hash. */
bool pw_verify(const char *stored, const char *pw, size_t len);

/* True when the stored hash was made with a cost other than the configured. */
bool pw_needs_rehash(const cfg_password *cost, const char *stored);

/*
 * Spends the time of one verification against a fixed hash, so that an
 * unknown user costs a login as long as a wrong password does.
 */
void pw_burn(const cfg_password *cost, const char *pw, size_t len);

#endif
