/*
 * tokens_api.c — what AccessToken means beyond a row.
 *
 * The generic engine lists, counts and filters tokens like any model (their
 * id is the public handle). Three things it must not do by itself: mint a
 * token (only for the caller, through the session layer, secret shown once),
 * delete one (the memory cache and the revocation log must hear of it), and
 * change one (a token's lifetime is fixed when issued).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/access.h"
#include "api/api.h"
#include "api/apitokens.h"
#include "api/engine.h"
#include "api/app.h"
#include "api/tokens_api.h"
#include "core/isodate.h"

/* A secret in the path names its token as well as the handle does. */
static void resolve_secret(mreq *q)
{
    size_t len = strlen(q->id);
    if (tok_is_handle(q->id) || !tok_well_formed(q->id, len))
        return;
    tok_hash h;
    tok_hash_of(q->id, len, &h);
    tok_record rec;
    store_t *st = q->c->app->store;
    if (store_token_find(st, &h, &rec) == STORE_OK) {
        snprintf(q->idbuf, sizeof q->idbuf, "%s", rec.handle);
        q->id = q->idbuf;
    }
}

/* The user a new token is for: the caller, or (admins only) another user. */
static bool token_owner_or_reply(mreq *q, const json_t *body, int64_t *user_id)
{
    const json_t *uid = json_object_get(body, "userId");
    *user_id = q->c->who.user_id;
    if (uid == NULL || json_is_null(uid))
        return true;
    if (!json_is_integer(uid) || json_integer_value(uid) <= 0) {
        res_error(q->res, 422, "INVALID_USER_ID", "userId must be a positive integer");
        return false;
    }
    if (json_integer_value(uid) != *user_id && !access_has_role(q->c, "admin")) {
        res_error(q->res, 403, "ACCESS_DENIED", "a token can only be created for yourself");
        return false;
    }
    *user_id = json_integer_value(uid);
    return true;
}

/* Tokens are minted for the caller only (admins: for anyone), through the
 * session layer, the secret shown once. */
static void mint(mreq *q, const json_t *body)
{
    const app *a = q->c->app;
    if (q->c->who.user_id == 0) {
        res_error(q->res, 401, "AUTHORIZATION_REQUIRED", "Authorization Required");
        q->res->www_authenticate = RES_BEARER_CHALLENGE;
        return;
    }
    int64_t user_id, ttl;
    char why[160];
    if (!apitok_not_a_key_or_reply(&q->c->who, q->res, "AccessToken.create") || !token_owner_or_reply(q, body, &user_id))
        return;
    if (sess_resolve_ttl(&a->cfg->auth, json_object_get(body, "ttl"), &ttl, why, sizeof why) != 0) {
        res_error(q->res, 422, "INVALID_TTL", "%s", why);
        return;
    }
    char secret[TOK_MAX_LEN + 1];
    tok_record rec;
    /* only while the caller's own token lives: one revoked meanwhile (a
     * password change, a logout) cannot leave a fresh token behind */
    store_grant grant = {-1, &q->c->who.token_hash};
    store_err e = sess_issue(a->sessions, user_id, ttl, &grant, secret, &rec);
    if (e == STORE_OK)
        res_json(q->res, 200, sess_token_json(&rec, secret));
    else if (e == STORE_STALE)
        res_fixed(q->res, RES_INVALID_TOKEN);
    else if (e == STORE_NOT_FOUND)
        res_error(q->res, 422, "INVALID_USER_ID", "no user has id %lld", (long long)user_id);
    else
        api_reply_store_error(q->res, e);
    sodium_memzero(secret, sizeof secret);
}

typedef struct doomed {
    json_t *rows;
} doomed;

static void collect(json_t *row, void *ctx)
{
    json_array_append_new(((doomed *)ctx)->rows, row);
}

/* Deletes the tokens where names, each through the session layer. */
static void revoke_rows(mreq *q, const fnode *where)
{
    const app *a = q->c->app;
    filter f;
    filter_init(&f);
    f.where = (fnode *)where;
    doomed d = {json_array()};
    store_err e = store_rows_find(a->store, q->m, &f, collect, &d);
    f.where = NULL;
    filter_free(&f);
    int64_t n = 0;
    size_t i;
    json_t *row;
    json_array_foreach(d.rows, i, row) {
        if (e != STORE_OK)
            break;
        const char *handle = json_string_value(json_object_get(row, "id"));
        int64_t uid = json_integer_value(json_object_get(row, "userId"));
        store_err one = handle ? sess_revoke_handle(a->sessions, uid, handle) : STORE_NOT_FOUND;
        if (one == STORE_OK)
            n++;
        else if (one != STORE_NOT_FOUND)
            e = one;
    }
    json_decref(d.rows);
    if (e == STORE_OK)
        res_json(q->res, 200, json_pack("{s:I}", "count", (json_int_t)n));
    else
        api_reply_store_error(q->res, e);
}

/* The shape issue 2's clients know: the handle is named "handle". */
static bool live_and_renamed(json_t *row, int64_t now)
{
    int64_t created;
    json_t *ttl = json_object_get(row, "ttl");
    const char *c = json_string_value(json_object_get(row, "created"));
    if (c && json_is_integer(ttl) && json_integer_value(ttl) != TOK_ETERNAL && iso_parse(c, &created) == 0 &&
        tok_expires_ms(created, json_integer_value(ttl)) <= now)
        return false;
    json_t *id = json_object_get(row, "id");
    if (id) {
        json_object_set(row, "handle", id);
        json_object_del(row, "id");
    }
    return true;
}

static void keep_live(json_t *row, void *ctx)
{
    if (live_and_renamed(row, iso_now_ms()))
        json_array_append(ctx, row);
    json_decref(row);
}

/*
 * ?limit= and ?skip= (or ?offset=), beside the filter's own: a whole number
 * from 0 (limit: up to FILTER_MAX_LIMIT). False when answered (400).
 */
static bool page_param_or_reply(request *r, const char *key, int64_t max, int64_t *out, response *res)
{
    const char *v = req_query(r, key);
    if (v == NULL)
        return true;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || errno || n > max) {
        res_error(res, 400, "INVALID_FILTER", "%s must be a whole number from 0 to %lld", key, (long long)max);
        return false;
    }
    *out = n;
    return true;
}

static bool page_params_or_reply(request *r, filter *f, response *res)
{
    bool ok = page_param_or_reply(r, "limit", FILTER_MAX_LIMIT, &f->limit, res) &&
              page_param_or_reply(r, "skip", INT64_MAX, &f->skip, res) &&
              page_param_or_reply(r, "offset", INT64_MAX, &f->skip, res);
    if (!ok)
        filter_free(f);
    return ok;
}

/* The user's live tokens, oldest first unless the filter orders them; a
 * page of them with limit and skip (in the filter or as parameters). */
void tokapi_reply_user_tokens(api_call *c, int64_t user_id)
{
    request *r = c->r;
    response *res = c->res;
    mreq t = {.c = c, .r = r, .res = res, .m = models_by_name(c->app->models, "AccessToken")};
    filter f;
    if (!eng_filter_or_reply(&t, &f) || !page_params_or_reply(r, &f, res))
        return;
    if (f.norder == 0) { /* oldest first; tokens of one millisecond by handle, so pages never overlap */
        f.order[0] = (forder){model_prop_named(t.m, "created"), false};
        f.order[1] = (forder){model_prop_named(t.m, "id"), false};
        f.norder = 2;
    }
    char err[128];
    fnode *mine = NULL;
    json_t *w = json_pack("{s:I}", "userId", (json_int_t)user_id);
    filter_parse_where(t.m, w, &mine, err, sizeof err);
    json_decref(w);
    f.where = filter_and(f.where, mine);
    sess_settle(c->app->sessions);
    json_t *rows = json_array();
    store_t *st = c->app->store;
    store_err e = store_rows_find(st, t.m, &f, keep_live, rows);
    filter_free(&f);
    if (e == STORE_OK) {
        res_json(res, 200, rows);
    } else {
        json_decref(rows);
        api_reply_store_error(res, e);
    }
}

/* Reads show last use, which the session cache holds until its next flush. */
static void settle_last_use(const app *a)
{
    sess_settle(a->sessions);
}

const model_hooks token_hooks = {
    .create = mint,
    .delete = revoke_rows,
    .refuse_write = "access tokens cannot be changed: revoke this one and issue a new one",
    .resolve_id = resolve_secret,
    .before_read = settle_last_use,
};
