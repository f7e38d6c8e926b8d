/*
 * apikey.h — the shape of a named API token's key (issue 14).
 *
 *     tsk_ + 43 random [A-Za-z0-9] + 6 checksum [0-9A-Za-z]   (53 characters)
 *
 * The random part is libsodium's CSPRNG, uniform over 62 symbols: 43 of them
 * carry 256.03 bits. The checksum is the CRC-32 (IEEE, as zlib's crc32) of
 * the first 47 characters, written as 6 base-62 digits, most significant
 * first, over the alphabet 0-9 A-Z a-z. The fixed prefix lets secret
 * scanners find a leaked key by pattern (docs/api-tokens.md gives the regular
 * expression); the checksum lets tessera refuse a mistyped or forged key from
 * its shape alone, before any hash is looked up. Like every token, a key is
 * kept only as its hash.
 */
#ifndef TESSERA_APIKEY_H
#define TESSERA_APIKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIKEY_PREFIX      "tsk_"
#define APIKEY_PREFIX_LEN  4
#define APIKEY_RANDOM_LEN  43
#define APIKEY_CHECK_LEN   6
#define APIKEY_LEN         (APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN + APIKEY_CHECK_LEN)
/* What lists show of a key so a person can tell keys apart: "tsk_" + 8. */
#define APIKEY_SHOWN_LEN   12

typedef enum apikey_shape {
    APIKEY_NOT_A_KEY = 0,  /* no "tsk_" prefix: some other kind of token  */
    APIKEY_MALFORMED,      /* the prefix, but wrong length or characters */
    APIKEY_BAD_CHECKSUM,   /* the right shape, the checksum does not hold */
    APIKEY_WELL_FORMED,
} apikey_shape;

/* Writes a fresh key and its NUL to out. */
void apikey_generate(char out[APIKEY_LEN + 1]);

/* A fresh key, its hash (what the store keeps) and the prefix lists show. */
#include "auth/token.h"
void apikey_new(char key[APIKEY_LEN + 1], tok_hash *h, char prefix[APIKEY_SHOWN_LEN + 1]);

/* What s (len bytes, not necessarily NUL-terminated) is, from its shape. */
apikey_shape apikey_classify(const char *s, size_t len);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()) of len bytes. */
uint32_t apikey_crc32(const void *data, size_t len);

/* v as exactly APIKEY_CHECK_LEN base-62 digits (0-9A-Za-z) and a NUL. */
void apikey_checksum_text(uint32_t v, char out[APIKEY_CHECK_LEN + 1]);

#endif
