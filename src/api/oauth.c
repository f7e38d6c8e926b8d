/*
 * oauth.c — POST /oauth/token (RFC 6749), issue 13: the tokens it answers
 * are the same AccessTokens a login makes (they work on every route, are
 * listed and revoked as any); client_credentials' are the application's
 * own, without a user. Client authentication (§2.3.1) by HTTP Basic or
 * client_id + client_secret in the body; errors as §5.2.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/app.h"
#include "auth/client.h"
#include "auth/scope.h"
#include "core/isodate.h"

/* Longest Basic credentials read: a client id, ':', a secret, with room. */
#define BASIC_CAP 256

/* RFC 6749 §5.2: {"error", "error_description"}; 401 invalid_client says
 * how to authenticate (WWW-Authenticate: Basic). Every answer of the server
 * carries Cache-Control: no-store already (http/server.c), as §5.1 asks. */
static void reply_oauth_error(response *res, int status, const char *error, const char *desc)
{
    res_json(res, status, json_pack("{s:s,s:s}", "error", error, "error_description", desc));
    if (status == 401) {
        res->header_name = "WWW-Authenticate";
        snprintf(res->header_value, sizeof res->header_value, "Basic realm=\"tessera\"");
    }
}

static const char *str_field(const json_t *body, const char *key)
{
    const json_t *v = json_object_get(body, key);
    return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
}

/* The client's credentials as presented, pointing into buf or body. */
typedef struct client_creds {
    const char *id, *secret;
    char buf[BASIC_CAP + 1];
} client_creds;

/* "Basic base64(id:secret)" into c; false when the header is no Basic
 * credential of a client (a LoopBack "Basic base64(a:token)" is not one). */
static bool basic_creds(const char *auth, client_creds *c)
{
    if (auth == NULL || strncasecmp(auth, "Basic ", 6) != 0)
        return false;
    size_t len = 0;
    if (sodium_base642bin((unsigned char *)c->buf, BASIC_CAP, auth + 6, strlen(auth + 6), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    c->buf[len] = '\0';
    char *colon = memchr(c->buf, ':', len);
    if (colon == NULL || strlen(c->buf) != len || strncmp(c->buf, CLIENT_ID_PREFIX, 4) != 0)
        return false;
    *colon = '\0';
    c->id = c->buf;
    c->secret = colon + 1;
    return true;
}

typedef enum { CLIENT_NONE, CLIENT_OK, CLIENT_ANSWERED } client_result;

/*
 * Checks presented credentials: STORE_OK with *app_id, STORE_NOT_FOUND for
 * an unknown id, a wrong secret and a disabled application alike, after the
 * same work (client_check; a credential verified before is answered by the
 * session's client cache); another code for a store error. The credentials
 * are wiped.
 */
static store_err client_verify(const app *a, client_creds *c, int64_t *app_id)
{
    store_err e = client_check(a->store, sess_clients(a->sessions), c->id, c->secret, iso_now_ms(), app_id);
    sodium_memzero(c, sizeof *c);
    return e;
}

/* Authenticates the client of a token-endpoint request when it presents
 * itself (Basic, or the body), answering nothing then; 401 invalid_client. */
static client_result client_or_reply(const app *a, const request *r, const json_t *body, int64_t *app_id,
                                     response *res)
{
    client_creds c = {0};
    if (!basic_creds(req_header(r, "Authorization"), &c)) {
        c.id = str_field(body, "client_id");
        c.secret = str_field(body, "client_secret");
    }
    if (c.id == NULL && c.secret == NULL)
        return CLIENT_NONE;
    store_err e = client_verify(a, &c, app_id);
    if (e == STORE_NOT_FOUND)
        reply_oauth_error(res, 401, "invalid_client", "client authentication failed");
    else if (e != STORE_OK)
        api_reply_store_error(res, e);
    return e == STORE_OK ? CLIENT_OK : CLIENT_ANSWERED;
}

/* Drops client_id and client_secret from the query: no handler and no log
 * line ever sees them, as the token parameters. */
void api_strip_client_params(request *r)
{
    int kept = 0;
    for (int i = 0; i < r->nquery; i++) {
        const char *k = r->query[i].key;
        if (strcmp(k, "client_id") != 0 && strcmp(k, "client_secret") != 0)
            r->query[kept++] = r->query[i];
    }
    r->nquery = kept;
}

bool api_client_principal_or_reply(api_call *call, bool *presented)
{
    request *r = call->r;
    response *res = call->res;
    client_creds c = {0};
    /* auth.sources.clientQuery off: the query's pair is only stripped */
    if (!basic_creds(req_header(r, "Authorization"), &c) && call->app->cfg->auth.sources.client_query) {
        c.id = req_query(r, "client_id");
        c.secret = req_query(r, "client_secret");
    }
    *presented = c.id != NULL || c.secret != NULL;
    int64_t app_id = 0;
    store_err e = *presented ? client_verify(call->app, &c, &app_id) : STORE_OK;
    api_strip_client_params(r);
    if (e == STORE_OK) {
        call->who.app_id = app_id;
        return true;
    }
    if (e == STORE_NOT_FOUND)
        res_error(res, 401, "INVALID_CLIENT", "Invalid client credentials");
    else
        api_reply_store_error(res, e);
    return false;
}

/* The answer of §5.1, with a refresh token when one was issued and the
 * scope when the token was narrowed (§3.3). */
static void reply_token(response *res, const tok_record *rec, const char *secret, const char *refresh,
                        const char *scope)
{
    json_t *out = json_pack("{s:s,s:s}", "access_token", secret, "token_type", "Bearer");
    if (rec->ttl > 0)
        json_object_set_new(out, "expires_in", json_integer(rec->ttl));
    if (refresh && *refresh)
        json_object_set_new(out, "refresh_token", json_string(refresh));
    if (scope)
        json_object_set_new(out, "scope", json_string(scope));
    res_json(res, 200, out);
}

/* ---- refresh tokens (§6), rotated on every use ------------------------------ */

#define REFRESH_LEN 64

/*
 * A new refresh token of family (a new family when NULL) for the access
 * token rec, into refresh (REFRESH_LEN + 1); "" when they are off or the
 * store failed (the access token stands alone then).
 */
static void issue_refresh(const app *a, const tok_record *rec, int64_t cred_version, const char *family,
                          char *refresh)
{
    const cfg_auth *cfg = &a->cfg->auth;
    refresh[0] = '\0';
    if (!cfg->refresh_tokens)
        return;
    store_refresh rf = {.user_id = rec->user_id, .app_id = rec->app_id, .cred_version = cred_version,
                        .access_hash = rec->hash, .expires_ms = iso_now_ms() + cfg->refresh_ttl * 1000};
    if (family)
        snprintf(rf.family, sizeof rf.family, "%s", family);
    else
        tok_new_handle(rf.family);
    tok_generate(refresh, REFRESH_LEN);
    tok_hash_of(refresh, REFRESH_LEN, &rf.hash);
    if (store_refresh_insert(a->store, &rf) != STORE_OK)
        sodium_memzero(refresh, REFRESH_LEN + 1);
}

static void revoke_access(const store_hash *h, void *ctx)
{
    sess_revoke(ctx, h); /* one already dead is fine */
}

/*
 * grant_type=refresh_token: the token is used once. Presented again, it is
 * a stolen copy or a replay: its whole family (every access token of the
 * chain) is revoked, as the OAuth 2.0 Security BCP's reuse detection says.
 * A token issued through a client is refreshed only by that client; one
 * whose user changed their password since is refused (credential version).
 */
static void refresh_grant(const app *a, const json_t *body, int64_t app_id, response *res)
{
    const char *t = str_field(body, "refresh_token");
    if (t == NULL) {
        reply_oauth_error(res, 400, "invalid_request", "refresh_token is required");
        return;
    }
    store_refresh rf;
    tok_hash h;
    tok_hash_of(t, strlen(t), &h);
    store_err e = tok_well_formed(t, strlen(t)) ? store_refresh_use(a->store, &h, iso_now_ms(), &rf)
                                                : STORE_NOT_FOUND;
    if (e == STORE_STALE)
        e = store_refresh_family_delete(a->store, rf.family, revoke_access, a->sessions) == STORE_OK
                ? STORE_NOT_FOUND : STORE_UNAVAILABLE;
    if (e == STORE_OK && rf.app_id != app_id)
        e = STORE_NOT_FOUND;
    char secret[TOK_MAX_LEN + 1], refresh[REFRESH_LEN + 1];
    tok_record rec;
    store_grant grant = {e == STORE_OK ? rf.cred_version : 0, NULL};
    if (e == STORE_OK)
        e = sess_issue_app(a->sessions, rf.user_id, rf.app_id, a->cfg->auth.ttl, &grant, secret, &rec);
    if (e == STORE_NOT_FOUND || e == STORE_STALE) {
        reply_oauth_error(res, 400, "invalid_grant", "the refresh token is invalid, expired or used");
        return;
    }
    if (e != STORE_OK) {
        api_reply_store_error(res, e);
        return;
    }
    issue_refresh(a, &rec, rf.cred_version, rf.family, refresh);
    reply_token(res, &rec, secret, refresh, NULL);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(refresh, sizeof refresh);
}

/* The login's body for the password check: "username" may be an email, as
 * Usergrid's /token takes either. */
static json_t *login_body(const json_t *body)
{
    const char *name = str_field(body, "username");
    const char *email = str_field(body, "email");
    json_t *b = json_object();
    if (email || (name && strchr(name, '@')))
        json_object_set_new(b, "email", json_string(email ? email : name));
    else if (name)
        json_object_set_new(b, "username", json_string(name));
    json_object_set(b, "password", json_object_get(body, "password"));
    return b;
}

/*
 * The `scope` parameter (§3.3): space-separated entries of the API tokens'
 * vocabulary (`Model.method`, `Model.*`), as a JSON list for sess_narrow.
 * NULL with *bad false when there is none; NULL with *bad true (and the
 * 400 invalid_scope answered) when an entry is unknown.
 */
static json_t *scope_list_or_reply(const app *a, const json_t *body, response *res, bool *bad)
{
    const char *text = str_field(body, "scope");
    *bad = false;
    if (text == NULL || text[strspn(text, " ")] == '\0')
        return NULL;
    json_t *list = json_array();
    char *copy = strdup(text), *save = NULL;
    for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w; w = strtok_r(NULL, " ", &save))
        json_array_append_new(list, json_string(w));
    free(copy);
    char err[256];
    if (scope_list_check(a->models, list, err, sizeof err) >= 0) {
        reply_oauth_error(res, 400, "invalid_scope", err);
        json_decref(list);
        *bad = true;
        return NULL;
    }
    return list;
}

/* grant_type=password (§4.3): the user's token, carrying the client's id
 * when one authenticated; checked and throttled as a login. A token
 * narrowed by `scope` gets no refresh token: a refresh would not carry
 * the narrowing, and must never widen what was granted. */
static void password_grant(api_call *c, const json_t *body, int64_t app_id)
{
    const app *a = c->app;
    response *res = c->res;
    if ((str_field(body, "username") == NULL && str_field(body, "email") == NULL) ||
        str_field(body, "password") == NULL) {
        reply_oauth_error(res, 400, "invalid_request", "username and password are required");
        return;
    }
    bool bad_scope;
    json_t *scopes = scope_list_or_reply(a, body, res, &bad_scope);
    if (bad_scope)
        return;
    json_t *login = login_body(body);
    store_user u = {0};
    api_pw_result checked = api_password_check(c, login, &u);
    json_decref(login);
    char secret[TOK_MAX_LEN + 1];
    tok_record rec;
    store_grant grant = {u.cred_version, NULL};
    store_err e = checked == API_PW_OK ? sess_issue_app(a->sessions, u.id, app_id, a->cfg->auth.ttl,
                                                        &grant, secret, &rec)
                                       : STORE_NOT_FOUND;
    if (e == STORE_OK && scopes)
        e = sess_narrow(a->sessions, &rec, scopes);
    if (checked == API_PW_ANSWERED)
        ;
    else if (e == STORE_NOT_FOUND || e == STORE_STALE)
        reply_oauth_error(res, 400, "invalid_grant", "the username or password is wrong");
    else if (e != STORE_OK)
        api_reply_store_error(res, e);
    else {
        char refresh[REFRESH_LEN + 1] = "";
        if (scopes == NULL)
            issue_refresh(a, &rec, u.cred_version, NULL, refresh);
        reply_token(res, &rec, secret, refresh, scopes ? str_field(body, "scope") : NULL);
        sodium_memzero(refresh, sizeof refresh);
    }
    sodium_memzero(secret, sizeof secret);
    json_decref(scopes);
    store_user_clear(&u);
}

/*
 * grant_type=client_credentials (§4.4): a token of the application itself,
 * no user (principal APP: its ACL rules and role mappings, never $owner).
 * The client must authenticate (§4.4.2; none: 401 invalid_client); no
 * refresh token (§4.4.3). `scope` narrows it as a password grant's; it
 * lives the login's default ttl. An application disabled since its
 * credentials were checked gets no token (the store's insert checks).
 */
static void client_grant(api_call *c, const json_t *body, client_result client, int64_t app_id)
{
    const app *a = c->app;
    response *res = c->res;
    if (client != CLIENT_OK) {
        reply_oauth_error(res, 401, "invalid_client", "client authentication is required");
        return;
    }
    bool bad_scope;
    json_t *scopes = scope_list_or_reply(a, body, res, &bad_scope);
    if (bad_scope)
        return;
    char secret[TOK_MAX_LEN + 1], why[160];
    tok_record rec;
    int64_t ttl = 0;
    sess_resolve_ttl(&a->cfg->auth, NULL, &ttl, why, sizeof why); /* the default: never refused */
    store_err e = sess_issue_app(a->sessions, 0, app_id, ttl, NULL, secret, &rec);
    if (e == STORE_OK && scopes)
        e = sess_narrow(a->sessions, &rec, scopes);
    if (e == STORE_NOT_FOUND || e == STORE_STALE)
        reply_oauth_error(res, 401, "invalid_client", "client authentication failed");
    else if (e != STORE_OK)
        api_reply_store_error(res, e);
    else
        reply_token(res, &rec, secret, NULL, scopes ? str_field(body, "scope") : NULL);
    sodium_memzero(secret, sizeof secret);
    json_decref(scopes);
}

/* ---- POST /oauth/revoke (RFC 7009) ---------------------------------------- */

/*
 * A refresh token revoked ends its whole family, access tokens included
 * (§2.1: "SHOULD also invalidate all access tokens based on the same
 * authorization grant"). app_id -1: the caller is the user c->who names.
 * An unknown token is answered as revoked.
 */
static void revoke_refresh(const api_call *c, const tok_hash *h, int64_t app_id, response *res)
{
    store_refresh rf;
    store_err e = store_refresh_get(c->app->store, h, &rf);
    bool holder = e == STORE_OK && (app_id >= 0 ? rf.app_id == app_id : rf.user_id == c->who.user_id);
    if (e == STORE_OK && !holder)
        reply_oauth_error(res, 400, "unauthorized_client", "the token was not issued to this client or user");
    else if (e == STORE_OK)
        e = store_refresh_family_delete(c->app->store, rf.family, revoke_access, c->app->sessions);
    if (e != STORE_OK && e != STORE_NOT_FOUND)
        api_reply_store_error(res, e);
    else if (e == STORE_NOT_FOUND || holder)
        res_json(res, 200, json_object());
}

/*
 * Who may revoke: the client the token was issued through (authenticated
 * as for the token endpoint), or the token's own user (by a bearer token).
 * An unknown or already dead token is answered 200 as a revoked one (§2.2):
 * the caller learns nothing from it. The revocation goes through the session
 * layer, so it reaches every instance as a logout does.
 */
void api_oauth_revoke(api_call *c, const char *const *args)
{
    request *r = c->r;
    response *res = c->res;
    (void)args;
    json_t *body = req_body_object(r, res);
    if (body == NULL)
        return;
    int64_t app_id = 0;
    const char *t = str_field(body, "token");
    client_result client = client_or_reply(c->app, r, body, &app_id, res);
    tok_record rec;
    tok_hash h;
    store_err e = STORE_NOT_FOUND;
    if (client == CLIENT_ANSWERED)
        goto out;
    if (client == CLIENT_NONE && c->who.user_id == 0) {
        reply_oauth_error(res, 401, "invalid_client", "client authentication or a bearer token is required");
        goto out;
    }
    if (t == NULL) {
        reply_oauth_error(res, 400, "invalid_request", "token is required");
        goto out;
    }
    if (tok_well_formed(t, strlen(t))) {
        tok_hash_of(t, strlen(t), &h);
        e = store_token_find(c->app->store, &h, &rec);
    }
    if (e == STORE_NOT_FOUND && tok_well_formed(t, strlen(t))) {
        revoke_refresh(c, &h, client == CLIENT_OK ? app_id : -1, res);
        goto out;
    }
    bool holder = e == STORE_OK && (client == CLIENT_OK ? rec.app_id == app_id : rec.user_id == c->who.user_id);
    if (e == STORE_OK && !holder)
        reply_oauth_error(res, 400, "unauthorized_client", "the token was not issued to this client or user");
    else if (e == STORE_OK && (e = sess_revoke(c->app->sessions, &h)) != STORE_OK && e != STORE_NOT_FOUND)
        api_reply_store_error(res, e);
    else if (e != STORE_OK && e != STORE_NOT_FOUND)
        api_reply_store_error(res, e);
    else
        res_json(res, 200, json_object());
out:
    json_decref(body);
}

void api_oauth_token(api_call *c, const char *const *args)
{
    request *r = c->r;
    response *res = c->res;
    (void)args;
    json_t *body = req_body_object(r, res);
    if (body == NULL)
        return;
    int64_t app_id = 0;
    const char *grant = str_field(body, "grant_type");
    client_result client = client_or_reply(c->app, r, body, &app_id, res);
    if (client == CLIENT_ANSWERED)
        ;
    else if (grant == NULL)
        reply_oauth_error(res, 400, "invalid_request", "grant_type is required");
    else if (strcmp(grant, "password") == 0)
        password_grant(c, body, app_id);
    else if (strcmp(grant, "refresh_token") == 0)
        refresh_grant(c->app, body, app_id, res);
    else if (strcmp(grant, "client_credentials") == 0)
        client_grant(c, body, client, app_id);
    else
        reply_oauth_error(res, 400, "unsupported_grant_type", "this grant type is not supported");
    json_decref(body);
}
