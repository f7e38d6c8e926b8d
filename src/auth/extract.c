/*
 * extract.c — which of a request's token sources carries the token.
 *
 * An empty value (after trimming) counts as absent, as in LoopBack, with one
 * exception: "Authorization: Bearer" with nothing after it is an attempt at a
 * bearer token, returned with length 0 so the caller rejects it as malformed.
 */
#include "auth/extract.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "auth/apikey.h"
#include "auth/token.h"

typedef struct span {
    const char *p;
    size_t len;
} span;

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static span trim(const char *s)
{
    span r = { s, 0 };
    size_t len;
    while (is_blank(*r.p))
        r.p++;
    len = strlen(r.p);
    while (len > 0 && is_blank(r.p[len - 1]))
        len--;
    r.len = len;
    return r;
}

/* p[0..len) is the scheme `lower` (given in lower case), in any case. */
static bool word_is(const char *p, size_t len, const char *lower)
{
    if (len != strlen(lower))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != lower[i])
            return false;
    }
    return true;
}

/* Standard base64 (padding optional) into buf, NUL-terminated; false when
 * it is not base64 or does not fit. */
static bool unbase64(span in, char *buf, size_t *len)
{
    /* sodium wants the padding with ORIGINAL and none without: try both */
    const int variants[] = { sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING };
    for (size_t i = 0; in.len > 0 && i < sizeof variants / sizeof variants[0]; i++) {
        if (sodium_base642bin((unsigned char *)buf, TOK_DECODED_CAP - 1, in.p, in.len, NULL, len, NULL,
                              variants[i]) == 0) {
            buf[*len] = '\0';
            return true;
        }
    }
    return false;
}

/* A login token's shape, or anything that starts as an API key does (its
 * checksum is the session's to judge, so a broken key reads as a key). */
static bool token_shaped(const char *p, size_t len)
{
    return tok_well_formed(p, len) || apikey_classify(p, len) != APIKEY_NOT_A_KEY;
}

/*
 * LoopBack's "Bearer base64(token)" (loopback-connector-remote's documented
 * setup). A raw token is [A-Za-z0-9] only, so a value that is one is read
 * raw; otherwise, when it decodes to a token's shape, the token is that.
 */
static void bearer_decoded(span *tok, char *buf)
{
    size_t n;
    if (buf == NULL || token_shaped(tok->p, tok->len) || !unbase64(*tok, buf, &n))
        return;
    if (token_shaped(buf, n))
        *tok = (span){ buf, n };
}

/*
 * LoopBack's "Basic base64(a:b)": the longer of a and b is the token (as
 * curl http://TOKEN@host sends it). Only a token's shape counts, so real
 * user:password credentials meant for something else stay ignored.
 */
static bool basic_decoded(span v, char *buf, span *tok)
{
    size_t n;
    if (buf == NULL || !unbase64(v, buf, &n) || memchr(buf, '\0', n) != NULL)
        return false;
    const char *colon = memchr(buf, ':', n);
    span t = { buf, n };
    if (colon) {
        size_t a = (size_t)(colon - buf), b = n - a - 1;
        t = b > a ? (span){ colon + 1, b } : (span){ buf, a };
    }
    if (!token_shaped(t.p, t.len))
        return false;
    *tok = t;
    return true;
}

/*
 * Splits an Authorization value into its possible readings: a bearer token
 * ("Bearer <t>", "Bearer base64(t)", or "Bearer" alone), LoopBack's Basic
 * form, or a bare token (one word, no scheme). Any other
 * "<scheme> <credentials>" is none of them.
 */
static tok_source read_authorization(const char *header, char *buf, span *tok)
{
    span v = trim(header);
    size_t word = 0;
    if (v.len == 0)
        return TOK_SRC_NONE;
    while (word < v.len && !is_blank(v.p[word]))
        word++;
    bool bearer = word_is(v.p, word, "bearer");
    /* "Basic" alone stays a one-word value: a bare (malformed) token */
    if (bearer || (word < v.len && word_is(v.p, word, "basic"))) {
        span rest = { v.p + word, v.len - word };
        while (rest.len > 0 && is_blank(*rest.p)) {
            rest.p++;
            rest.len--;
        }
        if (!bearer)
            return basic_decoded(rest, buf, tok) ? TOK_SRC_AUTHORIZATION : TOK_SRC_NONE;
        *tok = rest;
        bearer_decoded(tok, buf);
        return TOK_SRC_BEARER;
    }
    if (word == v.len) {
        *tok = v;
        return TOK_SRC_AUTHORIZATION;
    }
    return TOK_SRC_NONE;
}

static bool enabled_source(const cfg_sources *e, tok_source s)
{
    switch (s) {
    case TOK_SRC_BEARER:        return e->bearer;
    case TOK_SRC_AUTHORIZATION: return e->authorization;
    case TOK_SRC_HEADER:        return e->header;
    case TOK_SRC_QUERY:         return e->query;
    case TOK_SRC_QUERY_TOKEN:   return e->query_token;
    case TOK_SRC_COOKIE:        return e->cookie;
    default:                    return false;
    }
}

/* A plain (non-Authorization) source: present when non-blank. */
static bool read_plain(const char *value, span *tok)
{
    if (!value)
        return false;
    *tok = trim(value);
    return tok->len > 0;
}

tok_source tok_extract(const cfg_sources *enabled, const tok_candidates *c,
                       const char **out, size_t *outlen)
{
    const char *plain[] = { c->x_access_token, c->query_access_token, c->query_token,
                            c->cookie_access_token };
    const tok_source plain_src[] = { TOK_SRC_HEADER, TOK_SRC_QUERY, TOK_SRC_QUERY_TOKEN,
                                     TOK_SRC_COOKIE };
    span tok = { NULL, 0 };
    tok_source s = c->authorization ? read_authorization(c->authorization, c->decoded, &tok)
                                    : TOK_SRC_NONE;

    if (s == TOK_SRC_NONE || !enabled_source(enabled, s)) {
        s = TOK_SRC_NONE;
        for (size_t i = 0; i < sizeof plain / sizeof plain[0] && s == TOK_SRC_NONE; i++)
            if (enabled_source(enabled, plain_src[i]) && read_plain(plain[i], &tok))
                s = plain_src[i];
    }
    *out = s != TOK_SRC_NONE ? tok.p : NULL;
    *outlen = s != TOK_SRC_NONE ? tok.len : 0;
    return s;
}

const char *tok_source_name(tok_source s)
{
    switch (s) {
    case TOK_SRC_BEARER:        return "bearer";
    case TOK_SRC_AUTHORIZATION: return "authorization";
    case TOK_SRC_HEADER:        return "header";
    case TOK_SRC_QUERY:         return "query";
    case TOK_SRC_QUERY_TOKEN:   return "queryToken";
    case TOK_SRC_COOKIE:        return "cookie";
    default:                    return "none";
    }
}
