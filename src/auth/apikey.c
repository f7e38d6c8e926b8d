/*
 * apikey.c — generating and recognising API-token keys (see apikey.h).
 */
#include "auth/apikey.h"

#include <string.h>

#include "auth/token.h"

static const char DIGITS62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

_Static_assert(sizeof DIGITS62 - 1 == 62, "base 62");
_Static_assert(APIKEY_PREFIX_LEN == sizeof APIKEY_PREFIX - 1, "prefix length");

/* Bitwise rather than a table: a key is 47 bytes, and a check costs less
 * than the hash that follows it. */
uint32_t apikey_crc32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* 62^6 > 2^32, so six digits hold every CRC-32. */
void apikey_checksum_text(uint32_t v, char out[APIKEY_CHECK_LEN + 1])
{
    for (int i = APIKEY_CHECK_LEN - 1; i >= 0; i--) {
        out[i] = DIGITS62[v % 62];
        v /= 62;
    }
    out[APIKEY_CHECK_LEN] = '\0';
}

void apikey_generate(char out[APIKEY_LEN + 1])
{
    memcpy(out, APIKEY_PREFIX, APIKEY_PREFIX_LEN);
    tok_generate(out + APIKEY_PREFIX_LEN, APIKEY_RANDOM_LEN);
    apikey_checksum_text(apikey_crc32(out, APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN),
                         out + APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN);
}

static bool all_alnum(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

/* The checksum is public (anyone can compute it), so comparing it in
 * variable time reveals nothing: it only filters typos and forgeries. */
apikey_shape apikey_classify(const char *s, size_t len)
{
    char want[APIKEY_CHECK_LEN + 1];
    const size_t body = APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN;
    if (s == NULL || len < APIKEY_PREFIX_LEN || memcmp(s, APIKEY_PREFIX, APIKEY_PREFIX_LEN) != 0)
        return APIKEY_NOT_A_KEY;
    if (len != APIKEY_LEN || !all_alnum(s + APIKEY_PREFIX_LEN, len - APIKEY_PREFIX_LEN))
        return APIKEY_MALFORMED;
    apikey_checksum_text(apikey_crc32(s, body), want);
    return memcmp(s + body, want, APIKEY_CHECK_LEN) == 0 ? APIKEY_WELL_FORMED : APIKEY_BAD_CHECKSUM;
}

void apikey_new(char key[APIKEY_LEN + 1], tok_hash *h, char prefix[APIKEY_SHOWN_LEN + 1])
{
    apikey_generate(key);
    tok_hash_of(key, APIKEY_LEN, h);
    memcpy(prefix, key, APIKEY_SHOWN_LEN);
    prefix[APIKEY_SHOWN_LEN] = '\0';
}
