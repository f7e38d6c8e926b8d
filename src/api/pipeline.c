/*
 * pipeline.c — every request's way through tessera: find the token, check
 * it, strip it from the query, then route.
 */
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "auth/extract.h"
#include "core/app.h"

static const route ROUTES[] = {
    {"GET",    "/healthz",                       api_health},
    {"HEAD",   "/healthz",                       api_health},
    {"GET",    "/api/{}/count",                  api_model_count},
    {"GET",    "/api/{}/findOne",                api_model_find_one},
    {"POST",   "/api/users",                     api_user_create},
    {"POST",   "/api/users/login",               api_user_login},
    {"POST",   "/api/users/logout",              api_user_logout},
    {"POST",   "/api/users/change-password",     api_user_change_password},
    {"GET",    "/api/users/{}",                  api_user_get},
    {"PATCH",  "/api/users/{}",                  api_user_patch},
    {"GET",    "/api/users/{}/accessTokens",     api_user_tokens_list},
    {"DELETE", "/api/users/{}/accessTokens",     api_user_tokens_delete_all},
    {"DELETE", "/api/users/{}/accessTokens/{}",  api_user_tokens_delete_one},
    /* every model, built-in or declared: LoopBack's PersistedModel routes */
    {"POST",   "/api/{}/update",                 api_model_update_all},
    {"GET",    "/api/{}",                        api_model_find},
    {"POST",   "/api/{}",                        api_model_create},
    {"PUT",    "/api/{}",                        api_model_upsert},
    {"PATCH",  "/api/{}",                        api_model_upsert},
    {"GET",    "/api/{}/{}/exists",              api_model_exists},
    {"GET",    "/api/{}/{}",                     api_model_find_by_id},
    {"HEAD",   "/api/{}/{}",                     api_model_head},
    {"PUT",    "/api/{}/{}",                     api_model_replace},
    {"PATCH",  "/api/{}/{}",                     api_model_patch},
    {"DELETE", "/api/{}/{}",                     api_model_delete},
    {"GET",    "/api/{}/{}/{}/count",            api_rel_count},
    {"GET",    "/api/{}/{}/{}",                  api_rel_get},
    {"POST",   "/api/{}/{}/{}",                  api_rel_create},
    {"DELETE", "/api/{}/{}/{}",                  api_rel_delete},
    {NULL, NULL, NULL},
};

/* Drops the enabled token parameters, so no handler or log ever sees them. */
static void strip_token_params(request *r, const cfg_sources *on)
{
    int kept = 0;
    for (int i = 0; i < r->nquery; i++) {
        const char *k = r->query[i].key;
        if ((on->query && strcmp(k, "access_token") == 0) || (on->query_token && strcmp(k, "token") == 0))
            continue;
        r->query[kept++] = r->query[i];
    }
    r->nquery = kept;
}

/*
 * The token decides who calls. No token: anonymous. A token that does not
 * check out is an error, never a silent fall back to anonymous: a client
 * whose session ended must learn it.
 */
static bool authenticate(request *r, response *res)
{
    const app *a = r->app;
    const cfg_sources *on = &a->cfg->auth.sources;
    tok_candidates c = {
        .authorization = req_header(r, "Authorization"),
        .x_access_token = req_header(r, "X-Access-Token"),
        .query_access_token = req_query(r, "access_token"),
        .query_token = req_query(r, "token"),
        .cookie_access_token = req_cookie(r, "access_token"),
    };
    strip_token_params(r, on);
    const char *tok = NULL;
    size_t len = 0;
    if (tok_extract(on, &c, &tok, &len) == TOK_SRC_NONE)
        return true;
    switch (sess_check(a->sessions, tok, len, &r->who)) {
    case SESS_OK:
        return true;
    case SESS_UNAVAILABLE:
        res_error(res, 503, "DATABASE_UNAVAILABLE", "the database is not reachable; try again");
        return false;
    case SESS_INVALID:
        break;
    }
    memset(&r->who, 0, sizeof r->who);
    res_fixed(res, RES_INVALID_TOKEN);
    return false;
}

/* Every write to /api/users... may hash a password: register, login,
 * change-password, PATCH of a password. Reads and token checks never do. */
bool api_is_slow(const char *method, const char *path)
{
    if (strcmp(method, "POST") != 0 && strcmp(method, "PATCH") != 0)
        return false;
    while (*path == '/')
        path++;
    return strncasecmp(path, "api/users", 9) == 0 && (path[9] == '\0' || path[9] == '/');
}

void api_handle(request *r, response *res)
{
    if (authenticate(r, res))
        route_dispatch(ROUTES, r, res);
}

void api_store_failure(response *res, int store_error)
{
    if (store_error == STORE_UNAVAILABLE)
        res_error(res, 503, "DATABASE_UNAVAILABLE", "the database is not reachable; try again");
    else if (store_error == STORE_TIMEOUT)
        res_error(res, 503, "QUERY_TIMEOUT", "the query took too long; narrow it down");
    else if (store_error == STORE_BAD_PATTERN)
        res_error(res, 400, "INVALID_FILTER", "this database cannot run the regular expression");
    else
        res_error(res, 500, "INTERNAL_ERROR", "%s", store_strerror((store_err)store_error));
}
