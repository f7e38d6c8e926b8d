/*
 * apitokens.c — named API tokens (issue 14).
 *
 * /api/users/{id|me}/apiTokens[/{id}[/regenerate]]: a user manages their own
 * keys, an admin anyone's. The key is shown once, by create and regenerate;
 * the store keeps its hash (store/apitokens.c). Every write that kills or
 * changes a key is logged in the revocation log by the store, and forgotten
 * here at once (sess_forget_token), so no instance's cache keeps it.
 * /api/apiTokens is the model engine's, for admins (list, filter, revoke).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/access.h"
#include "api/api.h"
#include "api/apitokens.h"
#include "api/app.h"
#include "api/engine.h"
#include "auth/apikey.h"
#include "auth/scope.h"
#include "core/isodate.h"

#define NAME_MAX_LEN 128
#define DESCRIPTION_MAX_LEN 1024
#define LIFESPAN_MAX ((int64_t)100 * 365 * 86400) /* a century, in seconds */

/* ---- scope -------------------------------------------------------------- */

static void reply_scope_denied(response *res, const char *missing)
{
    res_error(res, 403, "TOKEN_SCOPE_DENIED", "this API token does not allow %s", missing);
}

/* Administration is refused to API tokens (not to a login token whose
 * scopes list it), but to a full-access one when allowed. */
static bool may_administer(const api_call *c, scope_type t)
{
    if (scope_key_id(c->who.scopes) == 0)
        return true;
    return t == SCOPE_FULL_ACCESS && c->app->cfg->api_tokens.full_access_may_administer;
}

bool apitok_scope_or_reply(const api_call *c, const model_def *m, const char *method)
{
    scope_type t = scope_type_of(c->who.scopes);
    char missing[2 * SCOPE_ENTRY_MAX];
    if (t == SCOPE_UNRESTRICTED)
        return true;
    if (scope_administrative(m, method) && !may_administer(c, t)) {
        snprintf(missing, sizeof missing, "%s.%s", m->name, method);
        reply_scope_denied(c->res, missing);
        return false;
    }
    json_t *perms = t == SCOPE_CUSTOM ? sess_permissions(c->app->sessions, &c->who) : NULL;
    bool ok = scope_allows(t, perms, m, method, missing, sizeof missing);
    json_decref(perms);
    if (!ok)
        reply_scope_denied(c->res, missing);
    return ok;
}

bool apitok_login_scopes_or_reply(const api_call *c, const json_t *body, const json_t **scopes)
{
    char err[512];
    *scopes = json_object_get(body, "scopes");
    if (*scopes == NULL || json_is_null(*scopes)) {
        *scopes = NULL;
        return true;
    }
    if (scope_list_check(c->app->models, *scopes, err, sizeof err) < 0)
        return true;
    res_error(c->res, 422, "INVALID_PERMISSIONS", "scopes: %s", err);
    return false;
}

bool apitok_credentials_or_reply(const api_call *c, const json_t *body)
{
    scope_type t = scope_type_of(c->who.scopes);
    if (t == SCOPE_UNRESTRICTED || !scope_body_administrative(body) || may_administer(c, t))
        return true;
    reply_scope_denied(c->res, json_object_get(body, "password") ? "User.password" : "User.email");
    return false;
}

bool apitok_not_a_key_or_reply(const principal *who, response *res, const char *what)
{
    if (scope_key_id(who->scopes) == 0)
        return true;
    reply_scope_denied(res, what);
    return false;
}

store_err apitok_revoke_user_if_asked(const request *r, store_t *st, int64_t user_id)
{
    const char *v = req_query(r, "includeApiTokens");
    if (v == NULL || strcmp(v, "true") != 0)
        return STORE_OK;
    return store_apikey_delete_user(st, user_id);
}

/* ---- the user a route names ----------------------------------------------- */

static const model_def *api_token_model(const app *a)
{
    return models_by_name(a->models, "ApiToken");
}

/*
 * The user whose keys the path names, when the caller may manage them: the
 * caller themself, or anyone for an admin; never through a key that may not
 * administer. method names the action in a TOKEN_SCOPE_DENIED.
 */
static bool owner_or_reply(const api_call *c, const char *segment, const char *method, int64_t *uid)
{
    if (c->who.user_id == 0) {
        access_reply_denied(c);
        return false;
    }
    if (!apitok_scope_or_reply(c, api_token_model(c->app), method))
        return false;
    *uid = access_user_named(&c->who, segment);
    if (*uid == 0) {
        api_reply_not_found(c->res, "User", segment);
        return false;
    }
    if (*uid != c->who.user_id && !access_has_role(c, "admin")) {
        access_reply_denied(c);
        return false;
    }
    return true;
}

/* A key id in the path: a positive integer, else 0. */
static int64_t key_id_of(const char *segment)
{
    char *end;
    long long v = strtoll(segment, &end, 10);
    return *segment >= '0' && *segment <= '9' && *end == '\0' && v > 0 ? v : 0;
}

/* ---- rows ------------------------------------------------------------- */

static void collect(json_t *row, void *ctx)
{
    json_array_append_new(ctx, row);
}

/* The user's keys (all, or the one id names), oldest first. */
static store_err rows_of(const app *a, int64_t uid, int64_t id, json_t **rows)
{
    const model_def *m = api_token_model(a);
    filter f;
    char err[128];
    filter_init(&f);
    json_t *w = id ? json_pack("{s:I,s:I}", "userId", (json_int_t)uid, "id", (json_int_t)id)
                   : json_pack("{s:I}", "userId", (json_int_t)uid);
    int bad = filter_parse_where(m, w, &f.where, err, sizeof err);
    json_decref(w);
    f.order[0] = (forder){model_prop_named(m, "id"), false};
    f.norder = 1;
    sess_settle(a->sessions); /* last use, as the cache has it */
    *rows = json_array();
    store_err e = bad ? STORE_ERROR : store_rows_find(a->store, m, &f, collect, *rows);
    filter_free(&f);
    return e;
}

/* The one key, answered (with the key itself when given); 404 when none. */
static void reply_row(const app *a, response *res, int64_t uid, int64_t id, const char *key)
{
    json_t *rows = NULL;
    store_err e = rows_of(a, uid, id, &rows);
    json_t *row = json_array_get(rows, 0);
    char label[24];
    snprintf(label, sizeof label, "%lld", (long long)id);
    if (e != STORE_OK)
        api_reply_store_error(res, e);
    else if (row == NULL)
        api_reply_not_found(res, "ApiToken", label);
    else {
        if (key)
            json_object_set_new(row, "key", json_string(key));
        res_json(res, 200, json_incref(row));
    }
    json_decref(rows);
}

/* ---- checking what a create or PATCH sets ---------------------------------- */

static bool invalid(response *res, const char *fmt, const char *what)
{
    res_error(res, 422, "INVALID_API_TOKEN", fmt, what);
    return false;
}

static bool text_ok_or_reply(response *res, const json_t *v, const char *name, size_t max, bool required)
{
    if (v == NULL && !required)
        return true;
    if ((v == NULL || json_is_null(v)) && required)
        return invalid(res, "%s is required", name);
    if (json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_length(v) > max || (required && json_string_length(v) == 0))
        return invalid(res, "%s must be a non-empty string of at most a few hundred characters", name);
    return true;
}

/* Custom keys' permissions: known models and methods only (422 naming the entry). */
static bool permissions_ok_or_reply(const app *a, response *res, const json_t *v, scope_type t)
{
    char err[512];
    if (t != SCOPE_CUSTOM) {
        if (v == NULL || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
            return true;
        return invalid(res, "%s: permissions are only for custom tokens", scope_type_name(t));
    }
    if (v == NULL || json_is_null(v))
        return invalid(res, "%s", "a custom token needs permissions: [\"Model.method\", ...]");
    if (scope_list_check(a->models, v, err, sizeof err) >= 0) {
        res_error(res, 422, "INVALID_PERMISSIONS", "%s", err);
        return false;
    }
    return true;
}

/* lifespan: seconds, or null (or absent) for a key that never expires. */
static bool lifespan_or_reply(const app *a, response *res, const json_t *v, int64_t *ttl)
{
    if (v == NULL || json_is_null(v)) {
        if (!a->cfg->api_tokens.allow_unlimited) {
            res_error(res, 422, "INVALID_LIFESPAN", "lifespan is required: keys that never expire are "
                      "turned off (apiTokens.allowUnlimited)");
            return false;
        }
        *ttl = TOK_ETERNAL;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > LIFESPAN_MAX) {
        res_error(res, 422, "INVALID_LIFESPAN", "lifespan must be a number of seconds from 1 to %lld, or null",
                  (long long)LIFESPAN_MAX);
        return false;
    }
    *ttl = json_integer_value(v);
    return true;
}

static void reply_write_error(response *res, store_err e)
{
    if (e == STORE_CONFLICT)
        res_error(res, 422, "API_TOKEN_NAME_TAKEN", "this user already has an API token of that name");
    else if (e == STORE_NOT_FOUND)
        res_error(res, 404, "MODEL_NOT_FOUND", "no such user or API token");
    else
        api_reply_store_error(res, e);
}

/* ---- the routes ---------------------------------------------------------- */

void api_user_apitokens_list(api_call *c, const char *const *args)
{
    response *res = c->res;
    int64_t uid;
    json_t *rows = NULL;
    if (!owner_or_reply(c, args[0], "find", &uid))
        return;
    store_err e = rows_of(c->app, uid, 0, &rows);
    if (e == STORE_OK)
        res_json(res, 200, json_incref(rows));
    else
        api_reply_store_error(res, e);
    json_decref(rows);
}

void api_user_apitokens_create(api_call *c, const char *const *args)
{
    response *res = c->res;
    int64_t uid, ttl, id = 0;
    if (!owner_or_reply(c, args[0], "create", &uid))
        return;
    json_t *body = req_body_object(c->r, res);
    if (body == NULL)
        return;
    const json_t *name = json_object_get(body, "name"), *desc = json_object_get(body, "description");
    int t = scope_type_parse(json_string_value(json_object_get(body, "type")));
    if (!text_ok_or_reply(res, name, "name", NAME_MAX_LEN, true) ||
        !text_ok_or_reply(res, desc, "description", DESCRIPTION_MAX_LEN, false))
        goto out;
    if (t < 0) {
        invalid(res, "%s", "type must be read-only, full-access or custom");
        goto out;
    }
    const json_t *perms = json_object_get(body, "permissions");
    if (!permissions_ok_or_reply(c->app, res, perms, (scope_type)t) ||
        !lifespan_or_reply(c->app, res, json_object_get(body, "lifespan"), &ttl))
        goto out;
    char key[APIKEY_LEN + 1], prefix[APIKEY_SHOWN_LEN + 1];
    char *ptext = t == SCOPE_CUSTOM ? json_dumps(perms, JSON_COMPACT) : NULL;
    store_apikey_new k = {.user_id = uid, .name = json_string_value(name), .description = json_string_value(desc),
                          .type = scope_type_name((scope_type)t), .permissions = ptext,
                          .created_ms = iso_now_ms(), .ttl = ttl};
    apikey_new(key, &k.hash, prefix);
    k.prefix = prefix;
    store_err e = store_apikey_insert(c->app->store, &k, &id);
    free(ptext);
    if (e == STORE_OK)
        reply_row(c->app, res, uid, id, key);
    else
        reply_write_error(res, e);
    sodium_memzero(key, sizeof key);
out:
    json_decref(body);
}

/* The key the path names, of the user it names; 0 with 404 set when none. */
static int64_t named_key_or_reply(const api_call *c, const char *const *args, const char *method, int64_t *uid)
{
    if (!owner_or_reply(c, args[0], method, uid))
        return 0;
    int64_t id = key_id_of(args[1]);
    if (id == 0)
        api_reply_not_found(c->res, "ApiToken", args[1]);
    return id;
}

void api_user_apitokens_get(api_call *c, const char *const *args)
{
    int64_t uid, id = named_key_or_reply(c, args, "findById", &uid);
    if (id)
        reply_row(c->app, c->res, uid, id, NULL);
}

void api_user_apitokens_delete(api_call *c, const char *const *args)
{
    response *res = c->res;
    int64_t uid, id = named_key_or_reply(c, args, "deleteById", &uid);
    store_hash old;
    if (id == 0)
        return;
    store_err e = store_apikey_delete(c->app->store, id, uid, &old);
    if (e == STORE_OK) {
        sess_forget_token(c->app->sessions, &old);
        res_no_content(res);
    } else if (e == STORE_NOT_FOUND) {
        api_reply_not_found(res, "ApiToken", args[1]);
    } else {
        api_reply_store_error(res, e);
    }
}

void api_user_apitokens_regenerate(api_call *c, const char *const *args)
{
    response *res = c->res;
    int64_t uid, id = named_key_or_reply(c, args, "regenerate", &uid);
    if (id == 0)
        return;
    char key[APIKEY_LEN + 1], prefix[APIKEY_SHOWN_LEN + 1];
    store_hash fresh, old;
    apikey_new(key, &fresh, prefix);
    store_err e = store_apikey_rehash(c->app->store, id, uid, &fresh, prefix, &old);
    if (e == STORE_OK) {
        sess_forget_token(c->app->sessions, &old);
        reply_row(c->app, res, uid, id, key);
    } else if (e == STORE_NOT_FOUND) {
        api_reply_not_found(res, "ApiToken", args[1]);
    } else {
        api_reply_store_error(res, e);
    }
    sodium_memzero(key, sizeof key);
}

/* PATCH: name, description and (custom keys) permissions; nothing else. */
static bool patch_ok_or_reply(const app *a, response *res, const json_t *body, const json_t *row)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (strcmp(k, "name") != 0 && strcmp(k, "description") != 0 && strcmp(k, "permissions") != 0)
            return invalid(res, "%s cannot be changed: only name, description and permissions can", k);
    }
    int t = scope_type_parse(json_string_value(json_object_get(row, "type")));
    const json_t *perms = json_object_get(body, "permissions");
    return text_ok_or_reply(res, json_object_get(body, "name"), "name", NAME_MAX_LEN, json_object_get(body, "name") != NULL) &&
           text_ok_or_reply(res, json_object_get(body, "description"), "description", DESCRIPTION_MAX_LEN, false) &&
           (perms == NULL || permissions_ok_or_reply(a, res, perms, t < 0 ? SCOPE_READ_ONLY : (scope_type)t));
}

static store_err apply_patch(const app *a, int64_t id, const json_t *body)
{
    const model_def *m = api_token_model(a);
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", (long long)id);
    fnode *w = filter_id_equals(m, idtext);
    int64_t n = 0;
    store_err e = store_rows_update(a->store, m, w, body, &n);
    fnode_free(w);
    if (e == STORE_OK && json_object_get(body, "permissions")) {
        store_hash h; /* every cache reads the key, and its permissions, again */
        e = store_apikey_changed(a->store, id, &h);
        if (e == STORE_OK)
            sess_forget_token(a->sessions, &h);
    }
    return e;
}

void api_user_apitokens_patch(api_call *c, const char *const *args)
{
    response *res = c->res;
    int64_t uid, id = named_key_or_reply(c, args, "patchAttributes", &uid);
    json_t *rows = NULL, *body = NULL;
    if (id == 0)
        return;
    store_err e = rows_of(c->app, uid, id, &rows);
    if (e != STORE_OK || json_array_size(rows) == 0) {
        if (e == STORE_OK)
            api_reply_not_found(res, "ApiToken", args[1]);
        else
            api_reply_store_error(res, e);
    } else if ((body = req_body_object(c->r, res)) != NULL &&
               patch_ok_or_reply(c->app, res, body, json_array_get(rows, 0))) {
        e = apply_patch(c->app, id, body);
        if (e == STORE_OK)
            reply_row(c->app, res, uid, id, NULL);
        else
            reply_write_error(res, e);
    }
    json_decref(rows);
    json_decref(body);
}

/* ---- /api/apiTokens, the model engine's (admins) ------------------------------ */

/* DELETE by id or where: each key revoked as its owner's DELETE would. */
static void revoke_rows(mreq *q, const fnode *where)
{
    filter f;
    filter_init(&f);
    f.where = (fnode *)where;
    json_t *rows = json_array();
    store_err e = store_rows_find(q->c->app->store, q->m, &f, collect, rows);
    f.where = NULL;
    filter_free(&f);
    int64_t n = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        store_hash old;
        store_err one = e == STORE_OK ? store_apikey_delete(q->c->app->store,
                                                            json_integer_value(json_object_get(row, "id")), 0, &old)
                                      : e;
        if (one == STORE_OK) {
            sess_forget_token(q->c->app->sessions, &old);
            n++;
        } else if (one != STORE_NOT_FOUND) {
            e = one;
        }
    }
    json_decref(rows);
    if (e == STORE_OK)
        res_json(q->res, 200, json_pack("{s:I}", "count", (json_int_t)n));
    else
        api_reply_store_error(q->res, e);
}

static void settle_last_use(const app *a)
{
    sess_settle(a->sessions);
}

const model_hooks api_token_hooks = {
    .delete = revoke_rows,
    .refuse_write = "API tokens are created and changed at /api/users/{id}/apiTokens",
    .before_read = settle_last_use,
};
