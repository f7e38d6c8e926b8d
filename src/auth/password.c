/*
 * password.c — argon2id hashes through libsodium's crypto_pwhash_str API.
 */
#include "auth/password.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

_Static_assert(PW_HASH_MAX == crypto_pwhash_STRBYTES, "hash buffer is crypto_pwhash_STRBYTES");

int pw_hash(const cfg_password *cost, const char *pw, size_t len, char out[PW_HASH_MAX])
{
    if (crypto_pwhash_str_alg(out, pw, len, cost->opslimit, cost->memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -1;
    return 0;
}

bool pw_verify(const char *stored, const char *pw, size_t len)
{
    if (!stored)
        return false;
    return crypto_pwhash_str_verify(stored, pw, len) == 0;
}

/* libsodium answers -1 for a string it cannot read: hashing again fixes that too. */
bool pw_needs_rehash(const cfg_password *cost, const char *stored)
{
    if (!stored)
        return true;
    return crypto_pwhash_str_needs_rehash(stored, cost->opslimit, cost->memlimit) != 0;
}

/*
 * The decoy hash pw_burn verifies against. It is made on first use with the
 * configured cost (and made again if the cost changes), under a lock, so
 * concurrent logins share one; its password is random and never kept.
 */
static pthread_mutex_t burn_lock = PTHREAD_MUTEX_INITIALIZER;
static char burn_hash[PW_HASH_MAX];
static cfg_password burn_cost;
static bool burn_ready;

static bool decoy_hash(const cfg_password *cost, char out[PW_HASH_MAX])
{
    pthread_mutex_lock(&burn_lock);
    if (!burn_ready || burn_cost.opslimit != cost->opslimit ||
        burn_cost.memlimit != cost->memlimit) {
        char secret[33];
        randombytes_buf(secret, sizeof secret - 1);
        secret[sizeof secret - 1] = '\0';
        burn_ready = pw_hash(cost, secret, sizeof secret - 1, burn_hash) == 0;
        burn_cost = *cost;
        sodium_memzero(secret, sizeof secret);
    }
    if (burn_ready)
        memcpy(out, burn_hash, PW_HASH_MAX);
    pthread_mutex_unlock(&burn_lock);
    return burn_ready;
}

void pw_burn(const cfg_password *cost, const char *pw, size_t len)
{
    char decoy[PW_HASH_MAX];
    if (decoy_hash(cost, decoy))
        (void)pw_verify(decoy, pw, len);
}
