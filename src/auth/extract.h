/*
 * extract.h — finding the access token in a request.
 *
 * Sources are tried in a fixed order and the first one present wins:
 * Authorization: Bearer, bare Authorization, X-Access-Token, ?access_token=,
 * ?token=, the access_token cookie. Each can be switched off in config.
 */
#ifndef TESSERA_EXTRACT_H
#define TESSERA_EXTRACT_H

#include <stddef.h>

#include "core/config.h"

typedef enum tok_source {
    TOK_SRC_NONE = 0,
    TOK_SRC_BEARER,
    TOK_SRC_AUTHORIZATION,
    TOK_SRC_HEADER,
    TOK_SRC_QUERY,
    TOK_SRC_QUERY_TOKEN,
    TOK_SRC_COOKIE,
} tok_source;

/* What the request offers; any field may be NULL. */
typedef struct tok_candidates {
    const char *authorization; /* the Authorization header, verbatim */
    const char *x_access_token;
    const char *query_access_token;
    const char *query_token;
    const char *cookie_access_token;
    /* TOK_DECODED_CAP bytes where LoopBack's base64 forms are decoded
     * ("Bearer base64(t)", "Basic base64(user:t)"), or NULL: not read. */
    char *decoded;
} tok_candidates;

#define TOK_DECODED_CAP 1100

/*
 * Picks the token by the order above among the enabled sources. On success
 * *out points into one of the candidates and *outlen is its length (leading
 * and trailing blanks excluded). Returns the source used, or TOK_SRC_NONE.
 * With c->decoded, LoopBack's encoded forms are read too: a Bearer value
 * that is not a token but is the base64 of one, and "Basic base64(a:b)"
 * whose longer part is a token (source TOK_SRC_AUTHORIZATION); *out then
 * points into c->decoded. Any other scheme ("Digest ...") is not a token.
 */
tok_source tok_extract(const cfg_sources *enabled, const tok_candidates *c,
                       const char **out, size_t *outlen);

/* The source's name as in config ("bearer", "cookie", ...). */
const char *tok_source_name(tok_source s);

#endif
