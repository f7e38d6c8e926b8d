/*
 * test_token.c — secrets, handles, hashes and expiry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "unit.h"

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static bool all_alnum(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !strchr(ALPHABET, s[i]))
            return false;
    return true;
}

/* Exactly len characters and a NUL, nothing written past them. */
static void test_generate_length_and_bounds(void)
{
    static const size_t lens[] = { 1, 32, 64, 513 };
    char buf[600];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t len = lens[i];
        memset(buf, '#', sizeof buf);
        tok_generate(buf, len);
        CHECK_INT(strlen(buf), len);
        CHECK(all_alnum(buf, len));
        CHECK(buf[len + 1] == '#');
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_generate_unique(void)
{
    enum { N = 20000, LEN = 32 };
    char *toks[N];
    size_t dups = 0;
    for (size_t i = 0; i < N; i++) {
        toks[i] = malloc(LEN + 1);
        tok_generate(toks[i], LEN);
    }
    qsort(toks, N, sizeof toks[0], cmp_str);
    for (size_t i = 1; i < N; i++)
        dups += strcmp(toks[i - 1], toks[i]) == 0;
    CHECK_INT(dups, 0);
    for (size_t i = 0; i < N; i++)
        free(toks[i]);
}

/*
 * Chi-square over 62 symbols (61 degrees of freedom, mean 61, sd ~11): a
 * "byte % 62" generator would score in the hundreds, a fair one rarely
 * passes 120. Every character must also occur.
 */
static void test_generate_uniform(void)
{
    enum { PER = 2000, LEN = 62 * PER };
    static char buf[LEN + 1];
    long counts[62] = { 0 };
    double chi = 0;
    tok_generate(buf, LEN);
    for (size_t i = 0; i < LEN; i++)
        counts[strchr(ALPHABET, buf[i]) - ALPHABET]++;
    for (size_t i = 0; i < 62; i++) {
        double d = (double)counts[i] - PER;
        CHECK(counts[i] > 0);
        chi += d * d / PER;
    }
    CHECK(chi < 140.0);
}

static void test_well_formed(void)
{
    char s[TOK_MAX_LEN + 2];
    memset(s, 'a', sizeof s);
    CHECK(!tok_well_formed(s, TOK_MIN_LEN - 1));
    CHECK(tok_well_formed(s, TOK_MIN_LEN));
    CHECK(tok_well_formed(s, TOK_MAX_LEN));
    CHECK(!tok_well_formed(s, TOK_MAX_LEN + 1));
    CHECK(!tok_well_formed(s, 0));
    CHECK(!tok_well_formed(NULL, 64));
    tok_generate(s, 64);
    CHECK(tok_well_formed(s, 64));
    s[63] = '-';
    CHECK(!tok_well_formed(s, 64));
    s[63] = '_';
    CHECK(!tok_well_formed(s, 64));
    s[63] = '\0'; /* length says 64: an embedded NUL is not alphanumeric */
    CHECK(!tok_well_formed(s, 64));
    s[63] = (char)0xC3;
    CHECK(!tok_well_formed(s, 64));
    s[63] = 'Z';
    s[0] = ' ';
    CHECK(!tok_well_formed(s, 64));
    CHECK(tok_well_formed(s + 1, 63));
}

static void test_handle_format(void)
{
    char h[TOK_HANDLE_LEN + 1], other[TOK_HANDLE_LEN + 1];
    tok_new_handle(h);
    tok_new_handle(other);
    CHECK_INT(strlen(h), TOK_HANDLE_LEN);
    CHECK(strncmp(h, "at_", 3) == 0);
    CHECK(all_alnum(h + 3, TOK_HANDLE_LEN - 3));
    CHECK(tok_is_handle(h));
    CHECK(strcmp(h, other) != 0);
}

static void test_is_handle_edges(void)
{
    CHECK(tok_is_handle("at_abcdefghijklmnopqrstu"));
    CHECK(tok_is_handle("at_ABCDEFGHIJ0123456789Z"));
    CHECK(!tok_is_handle("at_abcdefghijklmnopqrst"));   /* 23 */
    CHECK(!tok_is_handle("at_abcdefghijklmnopqrstuv")); /* 25 */
    CHECK(!tok_is_handle("AT_abcdefghijklmnopqrstu"));
    CHECK(!tok_is_handle("at-abcdefghijklmnopqrstu"));
    CHECK(!tok_is_handle("at_abcdefghij_lmnopqrstu"));
    CHECK(!tok_is_handle("at_"));
    CHECK(!tok_is_handle(""));
    CHECK(!tok_is_handle(NULL));
}

static void hex(const tok_hash *h, char out[2 * TOK_HASH_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < TOK_HASH_LEN; i++) {
        out[2 * i] = digits[h->b[i] >> 4];
        out[2 * i + 1] = digits[h->b[i] & 15];
    }
    out[2 * TOK_HASH_LEN] = '\0';
}

static void test_hash_known_answers(void)
{
    tok_hash h;
    char x[2 * TOK_HASH_LEN + 1];
    tok_hash_of("abc", 3, &h);
    hex(&h, x);
    CHECK_STR(x, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    tok_hash_of("", 0, &h);
    hex(&h, x);
    CHECK_STR(x, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    tok_hash_of("abcdef", 3, &h); /* only len bytes count */
    hex(&h, x);
    CHECK_STR(x, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

static void test_expires(void)
{
    CHECK_INT(tok_expires_ms(1000, 60), 61000);
    CHECK_INT(tok_expires_ms(1795626205123LL, 1209600), 1795626205123LL + 1209600000LL);
    CHECK_INT(tok_expires_ms(1000, 0), 1000);
    CHECK_INT(tok_expires_ms(-5000, 2), -3000);
    CHECK_INT(tok_expires_ms(1000, TOK_ETERNAL), INT64_MAX);
    CHECK_INT(tok_expires_ms(0, TOK_ETERNAL), INT64_MAX);
    /* a negative ttl that is not "eternal" is already over */
    CHECK_INT(tok_expires_ms(1000, -2), 1000);
}

static void test_expires_overflow(void)
{
    CHECK_INT(tok_expires_ms(1000, INT64_MAX), INT64_MAX);
    CHECK_INT(tok_expires_ms(1000, INT64_MAX / 1000), INT64_MAX);
    CHECK_INT(tok_expires_ms(INT64_MAX - 500, 1), INT64_MAX);
    CHECK_INT(tok_expires_ms(INT64_MAX - 1000, 1), INT64_MAX);
    CHECK_INT(tok_expires_ms(INT64_MAX - 1001, 1), INT64_MAX - 1);
    CHECK_INT(tok_expires_ms(INT64_MIN, INT64_MAX / 1000), INT64_MIN + (INT64_MAX / 1000) * 1000);
}

void suite_token(void)
{
    RUN(test_generate_length_and_bounds);
    RUN(test_generate_unique);
    RUN(test_generate_uniform);
    RUN(test_well_formed);
    RUN(test_handle_format);
    RUN(test_is_handle_edges);
    RUN(test_hash_known_answers);
    RUN(test_expires);
    RUN(test_expires_overflow);
}
