/*
 * principal.h — who is calling. Built once per request from the access token
 * (or left anonymous), then read by routing, ACLs and handlers.
 *
 * It already has room for what later kinds of caller need: an application
 * (client id), and the scopes of a named API token. The caller's roles are
 * not copied here: they are resolved, and cached, by the role layer from
 * user_id when a rule asks for them.
 */
#ifndef TESSERA_PRINCIPAL_H
#define TESSERA_PRINCIPAL_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/token.h"

typedef struct principal {
    int64_t user_id;                       /* 0: anonymous                 */
    int64_t app_id;                        /* 0: no application            */
    char token_handle[TOK_HANDLE_LEN + 1]; /* "" when anonymous            */
    tok_hash token_hash;                   /* valid when token_handle[0]   */
    int64_t token_created_ms;
    int64_t token_ttl;
    uint64_t scopes;                       /* 0: unrestricted (a login)    */
} principal;

static inline bool principal_is_anonymous(const principal *p)
{
    return p->user_id == 0 && p->app_id == 0;
}

/* A token (a user's, or an application's own: user_id 0, app_id set)
 * made the caller; false for client credentials and for anonymous. */
static inline bool principal_has_token(const principal *p)
{
    return p->token_handle[0] != '\0';
}

#endif
