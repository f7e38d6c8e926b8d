/*
 * test_extract.c — which request source yields the access token.
 */
#include <string.h>

#include "auth/extract.h"
#include "unit.h"

static const cfg_sources ALL = { true, true, true, true, true, true, true };

/* Runs tok_extract and checks both the source and the token text. */
static bool extract_is(const cfg_sources *on, const tok_candidates *c, tok_source want,
                       const char *want_tok, const char *file, int line)
{
    const char *out = (const char *)1;
    size_t len = 99;
    tok_source s = tok_extract(on, c, &out, &len);
    bool ok = unit_check_str(tok_source_name(s), tok_source_name(want), "source", file, line);
    if (want == TOK_SRC_NONE)
        return unit_check(out == NULL && len == 0, "no token returned", file, line) && ok;
    return unit_check_mem(out, len, want_tok, strlen(want_tok), "token", file, line) && ok;
}

#define EXPECT(on, c, src, tok) extract_is((on), (c), (src), (tok), __FILE__, __LINE__)

static void test_bearer(void)
{
    tok_candidates c = { .authorization = "Bearer abc123" };
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "abc123");
    c.authorization = "bEaReR abc123";
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "abc123");
    c.authorization = " \tBearer \t  abc123 \t ";
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "abc123");
    c.authorization = "Bearer\tabc123";
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "abc123");
    /* a second word stays in the token: the caller finds it malformed */
    c.authorization = "Bearer abc 123";
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "abc 123");
}

static void test_bearer_empty_is_present(void)
{
    tok_candidates c = { .authorization = "Bearer", .x_access_token = "fromheader" };
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "");
    c.authorization = "bearer   ";
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "");
}

static void test_bare_authorization(void)
{
    tok_candidates c = { .authorization = "abc123" };
    EXPECT(&ALL, &c, TOK_SRC_AUTHORIZATION, "abc123");
    c.authorization = "   abc123\t";
    EXPECT(&ALL, &c, TOK_SRC_AUTHORIZATION, "abc123");
    c.authorization = "Bearerabc123"; /* no blank: a bare value, not the scheme */
    EXPECT(&ALL, &c, TOK_SRC_AUTHORIZATION, "Bearerabc123");
}

static void test_other_scheme_ignored(void)
{
    tok_candidates c = { .authorization = "Basic dXNlcjpwYXNz", .x_access_token = "hdr" };
    EXPECT(&ALL, &c, TOK_SRC_HEADER, "hdr");
    c.x_access_token = NULL;
    EXPECT(&ALL, &c, TOK_SRC_NONE, NULL);
    c.authorization = "Digest username=\"x\", realm=\"y\"";
    EXPECT(&ALL, &c, TOK_SRC_NONE, NULL);
}

/* LoopBack's encoded forms, read only with a buffer to decode into. */
static void test_base64_forms(void)
{
    static const char tok[] = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz01";
    char buf[TOK_DECODED_CAP];
    /* base64(tok): 88 characters ending in "==" */
    tok_candidates c = { .authorization = "Bearer QWJDZEVmR2hJaktsTW5PcFFyU3RVdld4WXowMTIzNDU2Nzg5QWJDZEVmR2hJaktsTW5PcFFyU3RVdld4WXowMQ==",
                         .decoded = buf };
    EXPECT(&ALL, &c, TOK_SRC_BEARER, tok);
    c.decoded = NULL; /* not decoded: the value as sent, refused later */
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "QWJDZEVmR2hJaktsTW5PcFFyU3RVdld4WXowMTIzNDU2Nzg5QWJDZEVmR2hJaktsTW5PcFFyU3RVdld4WXowMQ==");
    c.decoded = buf; /* Basic base64(tok + ":"): the longer part */
    c.authorization = "Basic QWJDZEVmR2hJaktsTW5PcFFyU3RVdld4WXowMTIzNDU2Nzg5QWJDZEVmR2hJaktsTW5PcFFyU3RVdld4WXowMTo=";
    EXPECT(&ALL, &c, TOK_SRC_AUTHORIZATION, tok);
    c.authorization = "Basic dXNlcjpwYXNz"; /* user:pass is no token: ignored */
    EXPECT(&ALL, &c, TOK_SRC_NONE, NULL);
    c.authorization = "Basic"; /* alone: one word, a bare token (malformed later) */
    EXPECT(&ALL, &c, TOK_SRC_AUTHORIZATION, "Basic");
    c.authorization = "Bearer QWJD"; /* decodes to "ABC": no token's shape, kept as sent */
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "QWJD");
}

static void test_each_plain_source(void)
{
    tok_candidates h = { .x_access_token = " hdr " };
    tok_candidates q = { .query_access_token = "qry" };
    tok_candidates t = { .query_token = "qtok" };
    tok_candidates k = { .cookie_access_token = "cook" };
    tok_candidates none = { 0 };
    EXPECT(&ALL, &h, TOK_SRC_HEADER, "hdr");
    EXPECT(&ALL, &q, TOK_SRC_QUERY, "qry");
    EXPECT(&ALL, &t, TOK_SRC_QUERY_TOKEN, "qtok");
    EXPECT(&ALL, &k, TOK_SRC_COOKIE, "cook");
    EXPECT(&ALL, &none, TOK_SRC_NONE, NULL);
}

/* With every source present, removing the winner each time walks the order. */
static void test_order(void)
{
    tok_candidates c = { "Bearer b", "h", "q", "t", "k", NULL };
    EXPECT(&ALL, &c, TOK_SRC_BEARER, "b");
    c.authorization = "bare";
    EXPECT(&ALL, &c, TOK_SRC_AUTHORIZATION, "bare");
    c.authorization = NULL;
    EXPECT(&ALL, &c, TOK_SRC_HEADER, "h");
    c.x_access_token = NULL;
    EXPECT(&ALL, &c, TOK_SRC_QUERY, "q");
    c.query_access_token = NULL;
    EXPECT(&ALL, &c, TOK_SRC_QUERY_TOKEN, "t");
    c.query_token = NULL;
    EXPECT(&ALL, &c, TOK_SRC_COOKIE, "k");
}

static void test_disabled_sources_skipped(void)
{
    tok_candidates c = { "Bearer b", "h", "q", "t", "k", NULL };
    cfg_sources on = ALL;
    on.bearer = false; /* "Bearer b" is not then a bare token either */
    EXPECT(&on, &c, TOK_SRC_HEADER, "h");
    on.header = false;
    EXPECT(&on, &c, TOK_SRC_QUERY, "q");
    on.query = false;
    EXPECT(&on, &c, TOK_SRC_QUERY_TOKEN, "t");
    on.query_token = false;
    EXPECT(&on, &c, TOK_SRC_COOKIE, "k");
    on.cookie = false;
    EXPECT(&on, &c, TOK_SRC_NONE, NULL);
    c.authorization = "bare";
    EXPECT(&on, &c, TOK_SRC_AUTHORIZATION, "bare");
    on = ALL;
    on.authorization = false;
    EXPECT(&on, &c, TOK_SRC_HEADER, "h");
    c.authorization = "Bearer";
    on.bearer = false;
    EXPECT(&on, &c, TOK_SRC_HEADER, "h");
}

static void test_blank_values_absent(void)
{
    tok_candidates c = { "   ", "", " \t ", "", "k", NULL };
    EXPECT(&ALL, &c, TOK_SRC_COOKIE, "k");
    c.cookie_access_token = "";
    EXPECT(&ALL, &c, TOK_SRC_NONE, NULL);
}

static void test_source_names(void)
{
    CHECK_STR(tok_source_name(TOK_SRC_NONE), "none");
    CHECK_STR(tok_source_name(TOK_SRC_BEARER), "bearer");
    CHECK_STR(tok_source_name(TOK_SRC_AUTHORIZATION), "authorization");
    CHECK_STR(tok_source_name(TOK_SRC_HEADER), "header");
    CHECK_STR(tok_source_name(TOK_SRC_QUERY), "query");
    CHECK_STR(tok_source_name(TOK_SRC_QUERY_TOKEN), "queryToken");
    CHECK_STR(tok_source_name(TOK_SRC_COOKIE), "cookie");
}

void suite_extract(void)
{
    RUN(test_bearer);
    RUN(test_bearer_empty_is_present);
    RUN(test_bare_authorization);
    RUN(test_other_scheme_ignored);
    RUN(test_base64_forms);
    RUN(test_each_plain_source);
    RUN(test_order);
    RUN(test_disabled_sources_skipped);
    RUN(test_blank_values_absent);
    RUN(test_source_names);
}
