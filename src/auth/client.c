/*
 * client.c — an application's credentials (client.h).
 */
#include <sodium.h>
#include <string.h>

#include "auth/client.h"
#include "auth/token.h"

void client_new_id(char out[CLIENT_ID_LEN + 1])
{
    memcpy(out, CLIENT_ID_PREFIX, 4);
    tok_generate(out + 4, CLIENT_ID_LEN - 4);
}

static void hash_hex(const char *secret, size_t len, char out[STORE_APP_HASH_HEX + 1])
{
    tok_hash h;
    tok_hash_of(secret, len, &h);
    sodium_bin2hex(out, STORE_APP_HASH_HEX + 1, h.b, sizeof h.b);
}

void client_new_secret(char secret[CLIENT_SECRET_LEN + 1], char hex[STORE_APP_HASH_HEX + 1])
{
    memcpy(secret, CLIENT_SECRET_PREFIX, 4);
    tok_generate(secret + 4, CLIENT_SECRET_LEN - 4);
    hash_hex(secret, CLIENT_SECRET_LEN, hex);
}

bool client_id_well_formed(const char *s)
{
    return s && strlen(s) == CLIENT_ID_LEN && memcmp(s, CLIENT_ID_PREFIX, 4) == 0;
}

/* Both candidates are always compared, so the answer's time does not tell
 * which (or whether a previous secret exists). */
int64_t client_secret_until(const store_app_cred *cred, const char *secret, size_t len, int64_t now_ms)
{
    static const char nothing[STORE_APP_HASH_HEX + 1] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    char got[STORE_APP_HASH_HEX + 1];
    hash_hex(secret, len, got);
    const char *cur = cred && cred->hash[0] ? cred->hash : nothing;
    bool prev_live = cred && cred->prev[0] && now_ms < cred->prev_until_ms;
    const char *prev = prev_live ? cred->prev : nothing;
    bool a = sodium_memcmp(got, cur, STORE_APP_HASH_HEX) == 0;
    bool b = sodium_memcmp(got, prev, STORE_APP_HASH_HEX) == 0;
    sodium_memzero(got, sizeof got);
    if (cred == NULL || len != CLIENT_SECRET_LEN)
        return 0;
    return a && cur != nothing ? INT64_MAX : b && prev != nothing ? cred->prev_until_ms : 0;
}

/*
 * A hit costs a keyed hash and a lookup. A miss does exactly what the check
 * did before the cache (a store read, both hashes compared), and every
 * failure is a miss: the cache's key covers the secret, so a wrong secret
 * for a known client misses as one for an unknown client does, and the
 * timing still tells nothing about which client ids exist.
 */
store_err client_check(store_t *st, ccache *cache, const char *id, const char *secret, int64_t now_ms,
                       int64_t *app_id)
{
    bool shaped = id && secret && client_id_well_formed(id);
    size_t len = secret ? strlen(secret) : 0;
    ccache_key k;
    uint64_t gen = 0;
    *app_id = 0;
    if (shaped && cache) {
        ccache_key_of(cache, id, secret, len, &k);
        if (ccache_get(cache, &k, now_ms, app_id))
            return STORE_OK;
        gen = ccache_generation(cache); /* before the read: see ccache_put */
    }
    store_app_cred cred = {0};
    store_err e = shaped ? store_app_by_client(st, id, &cred) : STORE_NOT_FOUND;
    if (e != STORE_OK && e != STORE_NOT_FOUND)
        return e;
    int64_t until = client_secret_until(e == STORE_OK ? &cred : NULL, secret ? secret : "", len, now_ms);
    if (until == 0 || !cred.active) /* 0: neither secret, or the previous past its grace */
        return STORE_NOT_FOUND;
    *app_id = cred.id;
    if (shaped && cache)
        ccache_put(cache, &k, cred.id, until, gen);
    return STORE_OK;
}
