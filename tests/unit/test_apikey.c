/*
 * test_apikey.c — the API-token key format: prefix, length, checksum.
 */
#include <string.h>

#include "auth/apikey.h"
#include "unit.h"

/* zlib's crc32("123456789") is the standard check value. */
static void test_crc32_known_answers(void)
{
    CHECK_INT(apikey_crc32("123456789", 9), 0xCBF43926u);
    CHECK_INT(apikey_crc32("", 0), 0);
    CHECK_INT(apikey_crc32("The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
}

static void test_checksum_text(void)
{
    char out[APIKEY_CHECK_LEN + 1];
    apikey_checksum_text(0, out);
    CHECK_STR(out, "000000");
    apikey_checksum_text(61, out);
    CHECK_STR(out, "00000z");
    apikey_checksum_text(62, out);
    CHECK_STR(out, "000010");
    apikey_checksum_text(0xFFFFFFFFu, out); /* 4294967295 = 4*62^5 + ... */
    CHECK_STR(out, "4gfFC3");
}

static void test_generate_shape(void)
{
    char k[APIKEY_LEN + 1];
    char other[APIKEY_LEN + 1];
    apikey_generate(k);
    apikey_generate(other);
    CHECK_INT(strlen(k), 53);
    CHECK(strncmp(k, "tsk_", 4) == 0);
    CHECK_INT(apikey_classify(k, strlen(k)), APIKEY_WELL_FORMED);
    CHECK(strcmp(k, other) != 0);
}

/* Every single-character change of a key is caught: CRC-32 detects all
 * one-symbol errors in a message this short. */
static void test_every_typo_refused(void)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char k[APIKEY_LEN + 1];
    apikey_generate(k);
    size_t wrong = 0, tried = 0;
    for (size_t i = APIKEY_PREFIX_LEN; i < APIKEY_LEN; i++) {
        char keep = k[i];
        for (size_t j = 0; alphabet[j]; j++) {
            if (alphabet[j] == keep)
                continue;
            k[i] = alphabet[j];
            tried++;
            wrong += apikey_classify(k, APIKEY_LEN) == APIKEY_BAD_CHECKSUM;
        }
        k[i] = keep;
    }
    CHECK_INT(wrong, tried);
    /* two neighbours swapped */
    char t = k[10];
    if (k[10] != k[11]) {
        k[10] = k[11];
        k[11] = t;
        CHECK_INT(apikey_classify(k, APIKEY_LEN), APIKEY_BAD_CHECKSUM);
    }
}

static void test_classify_shapes(void)
{
    char k[APIKEY_LEN + 2];
    apikey_generate(k);
    CHECK_INT(apikey_classify(NULL, 0), APIKEY_NOT_A_KEY);
    CHECK_INT(apikey_classify("abcdefghijklmnopqrstuvwxyzABCDEF0123", 36), APIKEY_NOT_A_KEY);
    CHECK_INT(apikey_classify("tsk", 3), APIKEY_NOT_A_KEY);
    CHECK_INT(apikey_classify("tsk_", 4), APIKEY_MALFORMED);
    CHECK_INT(apikey_classify(k, APIKEY_LEN - 1), APIKEY_MALFORMED);
    k[APIKEY_LEN] = 'A';
    k[APIKEY_LEN + 1] = '\0';
    CHECK_INT(apikey_classify(k, APIKEY_LEN + 1), APIKEY_MALFORMED);
    k[APIKEY_LEN] = '\0';
    k[20] = '-';
    CHECK_INT(apikey_classify(k, APIKEY_LEN), APIKEY_MALFORMED);
    k[20] = '\0';
    CHECK_INT(apikey_classify(k, APIKEY_LEN), APIKEY_MALFORMED);
    /* a known key, its checksum computed independently (Python's zlib.crc32) */
    const char *fixed = "tsk_0000000000000000000000000000000000000000000" "2gLip8";
    CHECK_INT(apikey_classify(fixed, strlen(fixed)), APIKEY_WELL_FORMED);
    const char *forged = "tsk_0000000000000000000000000000000000000000000" "2gLip9";
    CHECK_INT(apikey_classify(forged, strlen(forged)), APIKEY_BAD_CHECKSUM);
}

void suite_apikey(void)
{
    RUN(test_crc32_known_answers);
    RUN(test_checksum_text);
    RUN(test_generate_shape);
    RUN(test_every_typo_refused);
    RUN(test_classify_shapes);
}
