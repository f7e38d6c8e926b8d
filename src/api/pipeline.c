/*
 * pipeline.c — every request's way through tessera: find the token, check
 * it, strip it from the query, then route.
 */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "auth/extract.h"
#include "api/app.h"

static const route ROUTES[] = {
    {"GET",    "/healthz",                       api_health, false},
    {"HEAD",   "/healthz",                       api_health, false},
    {"GET",    "/api/{}/count",                  api_model_count, false},
    {"GET",    "/api/{}/findOne",                api_model_find_one, false},
    {"POST",   "/api/users",                     api_user_create, true},
    {"POST",   "/api/users/login",               api_user_login, true},
    {"POST",   "/api/users/logout",              api_user_logout, false},
    {"POST",   "/api/users/change-password",     api_user_change_password, true},
    {"GET",    "/api/users/{}",                  api_user_get, false},
    {"PATCH",  "/api/users/{}",                  api_user_patch, true},
    {"GET",    "/api/users/{}/accessTokens",     api_user_tokens_list, false},
    {"DELETE", "/api/users/{}/accessTokens",     api_user_tokens_delete_all, false},
    {"DELETE", "/api/users/{}/accessTokens/{}",  api_user_tokens_delete_one, false},
    /* applications and OAuth2 (issue 13) */
    {"POST",   "/api/applications/{}/secret",    api_app_rotate_secret, false},
    {"POST",   "/oauth/token",                   api_oauth_token, true},
    {"POST",   "/oauth/revoke",                  api_oauth_revoke, false},
    /* API tokens (apitokens.c, issue 14) */
    {"GET",    "/api/users/{}/apiTokens",        api_user_apitokens_list, false},
    {"POST",   "/api/users/{}/apiTokens",        api_user_apitokens_create, false},
    {"GET",    "/api/users/{}/apiTokens/{}",     api_user_apitokens_get, false},
    {"PATCH",  "/api/users/{}/apiTokens/{}",     api_user_apitokens_patch, false},
    {"DELETE", "/api/users/{}/apiTokens/{}",     api_user_apitokens_delete, false},
    {"POST",   "/api/users/{}/apiTokens/{}/regenerate", api_user_apitokens_regenerate, false},
    /* every model, built-in or declared: LoopBack's PersistedModel routes */
    {"POST",   "/api/{}/update",                 api_model_update_all, false},
    {"POST",   "/api/{}/replaceOrCreate",        api_model_replace_or_create, false},
    {"POST",   "/api/{}/upsertWithWhere",        api_model_upsert_with_where, false},
    {"GET",    "/api/{}",                        api_model_find, false},
    {"POST",   "/api/{}",                        api_model_create, false},
    {"PUT",    "/api/{}",                        api_model_upsert, false},
    {"PATCH",  "/api/{}",                        api_model_upsert, false},
    {"GET",    "/api/{}/{}/exists",              api_model_exists, false},
    {"GET",    "/api/{}/{}",                     api_model_find_by_id, false},
    {"HEAD",   "/api/{}/{}",                     api_model_head, false},
    {"PUT",    "/api/{}/{}",                     api_model_replace, false},
    {"PATCH",  "/api/{}/{}",                     api_model_patch, false},
    {"DELETE", "/api/{}/{}",                     api_model_delete, false},
    {"POST",   "/api/{}/{}/replace",             api_model_replace, false},
    {"GET",    "/api/{}/{}/{}/count",            api_rel_count, false},
    {"GET",    "/api/{}/{}/{}",                  api_rel_get, false},
    {"POST",   "/api/{}/{}/{}",                  api_rel_create, false},
    {"DELETE", "/api/{}/{}/{}",                  api_rel_delete, false},
    {"GET",    "/api/{}/{}/{}/{}",               api_rel_get_one, false},
    {"PUT",    "/api/{}/{}/{}/{}",               api_rel_update_one, false},
    {"DELETE", "/api/{}/{}/{}/{}",               api_rel_delete_one, false},
    {NULL, NULL, NULL, false},
};

const route *api_routes(void)
{
    return ROUTES;
}

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

/* ---- CSRF: cookie-authenticated writes ---------------------------------- */

/* The double-submit token's shortest accepted length. */
#define CSRF_TOKEN_MIN 16

static bool method_is_safe(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* Origin "http[s]://X" where X is the Host header: the page that sent the
 * request was served by this very server (under that name). */
static bool origin_is_host(const char *origin, const char *host)
{
    const char *rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
                                                                 : NULL;
    return rest && host && *host && strcasecmp(rest, host) == 0;
}

static bool origin_listed(const json_t *allowed, const char *origin)
{
    size_t i;
    json_t *item;
    json_array_foreach(allowed, i, item)
        if (strcasecmp(json_string_value(item), origin) == 0)
            return true;
    return false;
}

/* Double submit: a page of our origin can read the csrf_token cookie and
 * copy it into a header; a cross-site page can do neither. */
static bool csrf_double_submit(const request *r)
{
    const char *header = req_header(r, "X-CSRF-Token");
    const char *cookie = req_cookie(r, "csrf_token");
    if (header == NULL || cookie == NULL)
        return false;
    size_t len = strlen(header);
    if (len < CSRF_TOKEN_MIN || strlen(cookie) != len)
        return false;
    return sodium_memcmp(header, cookie, len) == 0;
}

/*
 * A browser sends the access_token cookie with every request to this host,
 * whichever site's page made it: a cross-site form post would act as the
 * signed-in user. A write authenticated by the cookie must therefore show it
 * comes from our own origin (Origin or Sec-Fetch-Site, both set by the
 * browser and not settable by a page's script), from a configured origin,
 * or carry the double-submit token. Reads are left alone: they change
 * nothing, and the same-origin policy keeps their answers from other sites.
 */
static bool csrf_allows(const request *r, const json_t *allowed)
{
    if (method_is_safe(r->method))
        return true;
    const char *origin = req_header(r, "Origin");
    if (origin && strcmp(origin, "null") != 0) {
        if (origin_is_host(origin, req_header(r, "Host")) || (allowed && origin_listed(allowed, origin)))
            return true;
    }
    const char *site = req_header(r, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") == 0)
        return true;
    return csrf_double_submit(r);
}

/* The routes that take credentials instead of a token: register, login
 * and the OAuth2 endpoints, where a client authenticates by HTTP Basic
 * (password reset belongs here when it comes). */
static bool takes_credentials(const request *r)
{
    const route *rt = route_find(ROUTES, r->method, r->path);
    return rt != NULL && (rt->fn == api_user_create || rt->fn == api_user_login || rt->fn == api_oauth_token ||
                          rt->fn == api_oauth_revoke);
}

/*
 * The token decides who calls. No token: anonymous. A token that does not
 * check out is an error, never a silent fall back to anonymous: a client
 * whose session ended must learn it. Except on the routes that take
 * credentials instead (register, login): clients, LoopBack's SDKs among
 * them, attach their stored token to every call, and a dead one must not
 * keep them from logging in again.
 */
static bool authenticate_or_reply(api_call *call)
{
    request *r = call->r;
    response *res = call->res;
    const app *a = call->app;
    const cfg_sources *on = &a->cfg->auth.sources;
    char decoded[TOK_DECODED_CAP];
    tok_candidates c = {
        .authorization = req_header(r, "Authorization"),
        .x_access_token = req_header(r, "X-Access-Token"),
        .query_access_token = req_query(r, "access_token"),
        .query_token = req_query(r, "token"),
        .cookie_access_token = req_cookie(r, "access_token"),
        .decoded = decoded,
    };
    strip_token_params(r, on);
    /* an application's credentials make it the caller (principal APP);
     * the OAuth2 endpoints read client credentials themselves, never from
     * the query */
    if (strncmp(r->path, "/oauth/", 7) != 0) {
        bool client = false;
        if (!api_client_principal_or_reply(call, &client))
            return false;
        if (client)
            return true;
    } else
        api_strip_client_params(r);
    const char *tok = NULL;
    size_t len = 0;
    tok_source src = tok_extract(on, &c, &tok, &len);
    if (src == TOK_SRC_NONE)
        return true;
    if (src == TOK_SRC_COOKIE && !csrf_allows(r, a->cfg->server.allowed_origins)) {
        res_error(res, 403, "CSRF_REJECTED",
                  "a cookie-authenticated %s must come from this site's origin or carry X-CSRF-Token", r->method);
        return false;
    }
    sess_result checked = sess_check(a->sessions, tok, len, &call->who);
    sodium_memzero(decoded, sizeof decoded); /* a decoded secret stays nowhere */
    switch (checked) {
    case SESS_OK:
        return true;
    case SESS_UNAVAILABLE:
        api_reply_store_error(res, STORE_UNAVAILABLE);
        return false;
    case SESS_INVALID:
        break;
    }
    memset(&call->who, 0, sizeof call->who);
    if (takes_credentials(r))
        return true;
    res_fixed(res, RES_INVALID_TOKEN);
    return false;
}

/* The routes marked slow may hash a password: register, login,
 * change-password, PATCH of an account. Reads and token checks never do. */
bool api_is_slow(const char *method, const char *path)
{
    const route *rt = route_find(ROUTES, method, path);
    return rt != NULL && rt->slow;
}

/* Statements a request runs are counted (store_counted_statements), so a
 * test can prove a refused key never reached the database. The access log
 * gets the caller's user id through res, the HTTP layer knowing no principal. */
void api_handle(void *ctx, request *r, response *res)
{
    api_call c = {.r = r, .res = res, .app = ctx};
    store_count_this_thread(true);
    if (authenticate_or_reply(&c))
        route_dispatch(ROUTES, &c);
    store_count_this_thread(false);
    res->user_id = c.who.user_id;
}
