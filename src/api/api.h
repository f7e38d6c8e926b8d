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

/* The entry point handed to the HTTP server. */
void api_handle(request *r, response *res);

/* Requests that hash a password (argon2id), for the server's slow pool. */
bool api_is_slow(const char *method, const char *path);

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

/* The model engine (models.c): LoopBack's PersistedModel routes. */
void api_model_find(request *r, const char *const *args, response *res);
void api_model_create(request *r, const char *const *args, response *res);
void api_model_upsert(request *r, const char *const *args, response *res);
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

/* 503 DATABASE_UNAVAILABLE or 500, for a store error the handler cannot use. */
void api_store_failure(response *res, int store_error);

#endif
