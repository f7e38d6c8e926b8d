/*
 * token.c — generating, checking and hashing access-token secrets and handles.
 */
#include "auth/token.h"

#include <sodium.h>
#include <string.h>

static const char ALNUM[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#define ALNUM_COUNT 62
#define HANDLE_PREFIX "at_"
#define HANDLE_PREFIX_LEN 3

_Static_assert(sizeof ALNUM - 1 == ALNUM_COUNT, "alphabet is [A-Za-z0-9]");
_Static_assert(TOK_HASH_LEN >= crypto_generichash_BYTES_MIN && TOK_HASH_LEN <= crypto_generichash_BYTES_MAX, "token hash is BLAKE2b");

static bool is_alnum(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* randombytes_uniform rejects biased draws, so every character is equally likely. */
void tok_generate(char *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = ALNUM[randombytes_uniform(ALNUM_COUNT)];
    out[len] = '\0';
}

void tok_new_handle(char out[TOK_HANDLE_LEN + 1])
{
    memcpy(out, HANDLE_PREFIX, HANDLE_PREFIX_LEN);
    tok_generate(out + HANDLE_PREFIX_LEN, TOK_HANDLE_LEN - HANDLE_PREFIX_LEN);
}

bool tok_well_formed(const char *s, size_t len)
{
    if (!s || len < TOK_MIN_LEN || len > TOK_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]))
            return false;
    return true;
}

bool tok_is_handle(const char *s)
{
    if (!s || strncmp(s, HANDLE_PREFIX, HANDLE_PREFIX_LEN) != 0)
        return false;
    for (size_t i = HANDLE_PREFIX_LEN; i < TOK_HANDLE_LEN; i++)
        if (!is_alnum(s[i]))  /* also stops at a NUL: the string is too short */
            return false;
    return s[TOK_HANDLE_LEN] == '\0';
}

void tok_hash_of(const char *secret, size_t len, tok_hash *out)
{
    crypto_generichash(out->b, TOK_HASH_LEN, (const unsigned char *)secret, len, NULL, 0);
}

/*
 * Saturates at INT64_MAX rather than overflowing, so an absurd ttl reads as
 * "never expires" instead of wrapping into the past. A negative ttl other
 * than TOK_ETERNAL is not a lifetime at all: such a token is already expired.
 */
int64_t tok_expires_ms(int64_t created_ms, int64_t ttl)
{
    int64_t span;
    if (ttl == TOK_ETERNAL)
        return INT64_MAX;
    if (ttl < 0)
        return created_ms;
    if (ttl > INT64_MAX / 1000)
        return INT64_MAX;
    span = ttl * 1000;
    if (created_ms > 0 && span > INT64_MAX - created_ms)
        return INT64_MAX;
    return created_ms + span;
}
