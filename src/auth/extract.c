/*
 * extract.c — which of a request's token sources carries the token.
 *
 * An empty value (after trimming) counts as absent, as in LoopBack, with one
 * exception: "Authorization: Bearer" with nothing after it is an attempt at a
 * bearer token, returned with length 0 so the caller rejects it as malformed.
 */
#include "auth/extract.h"

#include <stdbool.h>
#include <string.h>

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

static bool word_is_bearer(const char *p, size_t len)
{
    static const char bearer[] = "bearer";
    if (len != sizeof bearer - 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != bearer[i])
            return false;
    }
    return true;
}

/*
 * Splits an Authorization value into its two possible readings: a bearer
 * token ("Bearer <t>", or "Bearer" alone), or a bare token (one word, no
 * scheme). Any other "<scheme> <credentials>" is neither.
 */
static tok_source read_authorization(const char *header, span *tok)
{
    span v = trim(header);
    size_t word = 0;
    if (v.len == 0)
        return TOK_SRC_NONE;
    while (word < v.len && !is_blank(v.p[word]))
        word++;
    if (word_is_bearer(v.p, word)) {
        *tok = (span){ v.p + word, v.len - word };
        while (tok->len > 0 && is_blank(*tok->p)) {
            tok->p++;
            tok->len--;
        }
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
    tok_source s = c->authorization ? read_authorization(c->authorization, &tok)
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
