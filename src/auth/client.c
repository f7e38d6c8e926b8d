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
bool client_secret_matches(const store_app_cred *cred, const char *secret, size_t len, int64_t now_ms)
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
    return cred != NULL && len == CLIENT_SECRET_LEN && ((a && cur != nothing) || (b && prev != nothing));
}
