/*
 * apitokens.h — named API tokens (issue 14): their routes, and the scope
 * check every ACL decision goes through (docs/api-tokens.md).
 */
#ifndef TESSERA_APITOKENS_H
#define TESSERA_APITOKENS_H

#include <jansson.h>
#include <stdbool.h>

#include "api/call.h"
#include "model/schema.h"
#include "store/store.h"

/*
 * After the ACL engine allowed method of m: narrows it by the caller's API
 * token, when it is one. False with 403 TOKEN_SCOPE_DENIED set when the
 * token does not allow it (or it administers, auth/scope.h).
 */
bool apitok_scope_or_reply(const api_call *c, const model_def *m, const char *method);

/* The "scopes" of a login (LoopBack's AccessToken.scopes): absent or null
 * (*scopes NULL: unrestricted), or a list of Model.method / Model.*;
 * false with 422 INVALID_PERMISSIONS set otherwise. */
bool apitok_login_scopes_or_reply(const api_call *c, const json_t *body, const json_t **scopes);

/* A write of body to a User that changes its email or password: refused to
 * an API token that may not administer. */
bool apitok_credentials_or_reply(const api_call *c, const json_t *body);

/* What an API token never does, whatever its type: log out (it is revoked
 * at its own route) or mint a login token that would outlive it. False
 * with 403 TOKEN_SCOPE_DENIED naming what set when the caller is one. */
bool apitok_not_a_key_or_reply(const principal *who, response *res, const char *what);

/* DELETE /api/users/{id}/accessTokens?includeApiTokens=true: the user's API
 * tokens go too. Returns a store error. */
store_err apitok_revoke_user_if_asked(const request *r, store_t *st, int64_t user_id);


#endif
