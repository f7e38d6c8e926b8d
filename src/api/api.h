/*
 * api.h — the REST API: the request pipeline and the handlers behind it.
 *
 * A request flows one way: the token is found and checked (auth), which
 * yields the principal; the route is matched; the handler checks access,
 * calls the store and answers JSON.
 */
#ifndef TESSERA_API_H
#define TESSERA_API_H

#include "http/request.h"
#include "http/router.h"
#include "store/store.h"

/* The entry point handed to the HTTP server. */
void api_handle(request *r, response *res);

/* Requests that hash a password (argon2id), for the server's slow pool. */
bool api_is_slow(const char *method, const char *path);

/* The route table, ended by a NULL method: for the router's fuzz target,
 * which checks the real table rather than a copy. */
const route *api_routes(void);

/* Handlers, by file. */
void api_health(request *r, const char *const *args, response *res);

void api_user_create(request *r, const char *const *args, response *res);
void api_user_login(request *r, const char *const *args, response *res);
void api_user_logout(request *r, const char *const *args, response *res);
void api_user_get(request *r, const char *const *args, response *res);
void api_user_patch(request *r, const char *const *args, response *res);
void api_user_change_password(request *r, const char *const *args, response *res);
void api_user_tokens_list(request *r, const char *const *args, response *res);
void api_user_tokens_delete_all(request *r, const char *const *args, response *res);
void api_user_tokens_delete_one(request *r, const char *const *args, response *res);

/* API tokens (apitokens.c, issue 14) */
void api_user_apitokens_list(request *r, const char *const *args, response *res);
void api_user_apitokens_create(request *r, const char *const *args, response *res);
void api_user_apitokens_get(request *r, const char *const *args, response *res);
void api_user_apitokens_patch(request *r, const char *const *args, response *res);
void api_user_apitokens_delete(request *r, const char *const *args, response *res);
void api_user_apitokens_regenerate(request *r, const char *const *args, response *res);

/* The model engine (models.c): LoopBack's PersistedModel routes. */
void api_model_find(request *r, const char *const *args, response *res);
void api_model_create(request *r, const char *const *args, response *res);
void api_model_upsert(request *r, const char *const *args, response *res);
void api_model_replace_or_create(request *r, const char *const *args, response *res);
void api_model_upsert_with_where(request *r, const char *const *args, response *res);
void api_model_count(request *r, const char *const *args, response *res);
void api_model_find_one(request *r, const char *const *args, response *res);
void api_model_update_all(request *r, const char *const *args, response *res);
void api_model_find_by_id(request *r, const char *const *args, response *res);
void api_model_exists(request *r, const char *const *args, response *res);
void api_model_head(request *r, const char *const *args, response *res);
void api_model_replace(request *r, const char *const *args, response *res);
void api_model_patch(request *r, const char *const *args, response *res);
void api_model_delete(request *r, const char *const *args, response *res);
void api_rel_get(request *r, const char *const *args, response *res);
void api_rel_count(request *r, const char *const *args, response *res);
void api_rel_create(request *r, const char *const *args, response *res);
void api_rel_delete(request *r, const char *const *args, response *res);
void api_rel_get_one(request *r, const char *const *args, response *res);
void api_rel_update_one(request *r, const char *const *args, response *res);
void api_rel_delete_one(request *r, const char *const *args, response *res);
/* applications.c, oauth.c (issue 13) */
void api_oauth_token(request *r, const char *const *args, response *res);
void api_oauth_revoke(request *r, const char *const *args, response *res);
/*
 * Client credentials on any API call (Usergrid): Basic client_id:secret, or
 * ?client_id=&client_secret= (always stripped from the query). *presented
 * says whether there were any; when they check out the caller is principal
 * APP (r->who.app_id). False with 401 INVALID_CLIENT (or a store error).
 */
bool api_client_principal_or_reply(request *r, response *res, bool *presented);
void api_app_rotate_secret(request *r, const char *const *args, response *res);

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
api_pw_result api_password_check(request *r, const json_t *body, store_user *u, response *res);

/* 404 MODEL_NOT_FOUND: `Unknown "Model" id "id".` (the id cut at 64 bytes). */
void api_reply_not_found(response *res, const char *model, const char *id);

#endif
