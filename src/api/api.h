/*
 * api.h — the REST API: the request pipeline and the handlers behind it.
 *
 * A request flows one way: the token is found and checked (auth), which
 * yields the principal; the route is matched; the handler checks access,
 * calls the store and answers JSON.
 */
#ifndef TESSERA_API_H
#define TESSERA_API_H

#include "api/call.h"
#include "api/router.h"
#include "store/store.h"

/* The entry point handed to the HTTP server (http_handler): ctx is the
 * app (api/app.h). Sets res->user_id to the caller's, for the access log. */
void api_handle(void *ctx, request *r, response *res);

/* Requests that hash a password (argon2id), for the server's slow pool. */
bool api_is_slow(const char *method, const char *path);

/* The route table, ended by a NULL method: for the router's fuzz target,
 * which checks the real table rather than a copy. */
const route *api_routes(void);

/* Handlers, by file. */
void api_health(api_call *c, const char *const *args);

void api_user_create(api_call *c, const char *const *args);
void api_user_login(api_call *c, const char *const *args);
void api_user_logout(api_call *c, const char *const *args);
void api_user_get(api_call *c, const char *const *args);
void api_user_patch(api_call *c, const char *const *args);
void api_user_change_password(api_call *c, const char *const *args);
void api_user_tokens_list(api_call *c, const char *const *args);
void api_user_tokens_delete_all(api_call *c, const char *const *args);
void api_user_tokens_delete_one(api_call *c, const char *const *args);

/* API tokens (apitokens.c, issue 14) */
void api_user_apitokens_list(api_call *c, const char *const *args);
void api_user_apitokens_create(api_call *c, const char *const *args);
void api_user_apitokens_get(api_call *c, const char *const *args);
void api_user_apitokens_patch(api_call *c, const char *const *args);
void api_user_apitokens_delete(api_call *c, const char *const *args);
void api_user_apitokens_regenerate(api_call *c, const char *const *args);

/* The model engine (models.c): LoopBack's PersistedModel routes. */
void api_model_find(api_call *c, const char *const *args);
void api_model_create(api_call *c, const char *const *args);
void api_model_upsert(api_call *c, const char *const *args);
void api_model_replace_or_create(api_call *c, const char *const *args);
void api_model_upsert_with_where(api_call *c, const char *const *args);
void api_model_count(api_call *c, const char *const *args);
void api_model_find_one(api_call *c, const char *const *args);
void api_model_update_all(api_call *c, const char *const *args);
void api_model_find_by_id(api_call *c, const char *const *args);
void api_model_exists(api_call *c, const char *const *args);
void api_model_head(api_call *c, const char *const *args);
void api_model_replace(api_call *c, const char *const *args);
void api_model_patch(api_call *c, const char *const *args);
void api_model_delete(api_call *c, const char *const *args);
void api_rel_get(api_call *c, const char *const *args);
void api_rel_count(api_call *c, const char *const *args);
void api_rel_create(api_call *c, const char *const *args);
void api_rel_delete(api_call *c, const char *const *args);
void api_rel_get_one(api_call *c, const char *const *args);
void api_rel_update_one(api_call *c, const char *const *args);
void api_rel_delete_one(api_call *c, const char *const *args);
/* applications.c, oauth.c (issue 13) */
void api_oauth_token(api_call *c, const char *const *args);
void api_oauth_revoke(api_call *c, const char *const *args);
/* Drops client_id and client_secret from the query, so no handler and no
 * log line sees them. The OAuth2 endpoints never read them there (RFC 6749
 * §2.3.1: not in the request URI); other routes read them first. */
void api_strip_client_params(request *r);
/*
 * Client credentials on any API call (Usergrid): Basic client_id:secret, or
 * ?client_id=&client_secret= (always stripped from the query). *presented
 * says whether there were any; when they check out the caller is principal
 * APP (c->who.app_id). False with 401 INVALID_CLIENT (or a store error).
 */
bool api_client_principal_or_reply(api_call *c, bool *presented);
void api_app_rotate_secret(api_call *c, const char *const *args);

/*
 * Handler convention (docs/design.md, "Handler conventions"): a function
 * that may answer is named X_or_reply and returns true (or non-NULL) to go
 * on, false (or NULL) when it has set the response; one that always answers
 * is named reply_X; any other function never touches the response.
 */

/* 503 DATABASE_UNAVAILABLE or QUERY_TIMEOUT, 400 for a pattern, else 500:
 * for a store error the handler has no better answer to. */
void api_reply_store_error(response *res, store_err e);

/* A password check shared by login and the OAuth2 password grant (users.c):
 * body names the account ("email" or "username") and holds "password". */
typedef enum api_pw_result {
    API_PW_OK,        /* *u is the account                                  */
    API_PW_WRONG,     /* unknown account or wrong password: caller answers  */
    API_PW_ANSWERED,  /* answered: 400 no name, 429 throttled, store error  */
} api_pw_result;
api_pw_result api_password_check(api_call *c, const json_t *body, store_user *u);

/* 404 MODEL_NOT_FOUND: `Unknown "Model" id "id".` (the id cut at 64 bytes). */
void api_reply_not_found(response *res, const char *model, const char *id);

#endif
