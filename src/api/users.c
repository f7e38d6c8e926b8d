/*
 * users.c — LoopBack 3's User REST API: register, login, logout, the
 * account itself, password change, and the account's access tokens.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/access.h"
#include "api/api.h"
#include "api/apitokens.h"
#include "api/engine.h"
#include "api/tokens_api.h"
#include "auth/password.h"
#include "api/app.h"
#include "model/user.h"

/* ---- helpers ------------------------------------------------------------ */

static store_t *store_of(const api_call *c) { return c->app->store; }

static const cfg_password *cost_of(const api_call *c) { return &c->app->cfg->password; }

/* A string property, or NULL when absent or not a string. */
static const char *str_prop(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool set_password_or_reply(const cfg_password *cost, store_user *u, const char *pw, response *res)
{
    if (pw_hash(cost, pw, strlen(pw), u->password) != 0) {
        res_error(res, 500, "INTERNAL_ERROR", "could not hash the password");
        return false;
    }
    return true;
}

/* Turns a uniqueness conflict from the store into LoopBack's 422. */
static void reply_conflict(store_err e, const store_user *u, response *res)
{
    validation v;
    validation_init(&v);
    json_t *val = json_string(e == STORE_EMAIL_TAKEN ? u->email : u->username);
    if (e == STORE_EMAIL_TAKEN)
        validation_add(&v, "email", "uniqueness", "Email already exists", val);
    else
        validation_add(&v, "username", "uniqueness", "User already exists", val);
    json_decref(val);
    res_validation_finish(&v, "User", res);
}

/* A store error on the account u: 422 for a taken email or username. */
static void reply_account_error(store_err e, const store_user *u, response *res)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)u->id);
    if (e == STORE_EMAIL_TAKEN || e == STORE_USERNAME_TAKEN)
        reply_conflict(e, u, res);
    else if (e == STORE_NOT_FOUND)
        api_reply_not_found(res, "User", id);
    else
        api_reply_store_error(res, e);
}

/* The User model's rules (model/user.c); false with the 422 answered. */
static bool user_valid_or_reply(const json_t *body, bool creating, response *res)
{
    validation v;
    validation_init(&v);
    user_validate(body, creating, &v);
    if (validation_failed(&v)) {
        res_validation_finish(&v, "User", res);
        return false;
    }
    validation_free(&v);
    return true;
}

/* Parses the body; NULL when answered: 400/415, or 422 PASSWORD_TOO_LONG
 * when the password field pw_key exceeds the limit. */
static json_t *read_body_or_reply(request *r, response *res, const char *pw_key)
{
    json_t *body = req_body_object(r, res);
    const json_t *pw = body && pw_key ? json_object_get(body, pw_key) : NULL;
    if (json_is_string(pw) && json_string_length(pw) > PW_MAX_LEN) {
        res_error(res, 422, "PASSWORD_TOO_LONG", "Password too long: at most %d bytes", PW_MAX_LEN);
        json_decref(body);
        return NULL;
    }
    return body;
}

/*
 * Asks the ACL engine, through the model engine, whether the caller may run
 * User's method: on their own account (own) or on none in particular.
 */
static bool user_method_or_reply(api_call *c, const char *method, bool own)
{
    mreq q;
    bool ok = eng_begin_or_reply(&q, c, "users", NULL);
    if (ok && own) {
        snprintf(q.idbuf, sizeof q.idbuf, "%lld", (long long)c->who.user_id);
        q.id = q.idbuf;
    }
    ok = ok && eng_allow_or_reply(&q, method);
    eng_end(&q);
    return ok;
}

/*
 * The account routes (/api/users/{id|me}...) go through the model engine
 * with User's hooks: the id is resolved once (resolve_account_id), access
 * is the engine's (the account is its own owner). An anonymous caller is
 * refused before any rule is asked, as these routes always have.
 */
static bool account_begin_or_reply(mreq *q, api_call *c, const char *segment)
{
    memset(q, 0, sizeof *q);
    if (principal_is_anonymous(&c->who)) {
        access_reply_denied(c);
        return false;
    }
    return eng_begin_or_reply(q, c, "users", segment);
}

/* Reads the account q->id names into *u; 404 when there is none. */
static bool fetch_account_or_reply(mreq *q, store_user *u)
{
    int64_t id = access_user_named(&q->c->who, q->id);
    store_err e = store_user_get(store_of(q->c), id, u);
    if (e == STORE_NOT_FOUND)
        eng_reply_not_found(q);
    else if (e != STORE_OK)
        api_reply_store_error(q->res, e);
    return e == STORE_OK;
}

/* Loads the user an account route names, once the ACL engine allows method. */
static bool load_account_or_reply(mreq *q, api_call *c, const char *segment, const char *method, store_user *u)
{
    return account_begin_or_reply(q, c, segment) && eng_allow_or_reply(q, method) &&
           fetch_account_or_reply(q, u);
}

/*
 * Every change to an account goes through here: the cached account is
 * forgotten once the change is in the store, before it is answered. A new
 * email or password is written only if no other change of them came first
 * (STORE_STALE), and ends every session but *keep in the same transaction
 * (LoopBack's logoutSessionsOnSensitiveChanges); this cache hears it here,
 * the other instances through the revocation log.
 */
static store_err update_account(api_call *c, store_user *u, unsigned fields, const tok_hash *keep)
{
    store_err e = store_user_update(store_of(c), u, fields, keep);
    mreq q = {.c = c, .r = c->r, .res = NULL, .m = models_by_name(c->app->models, "User"), .id = q.idbuf};
    snprintf(q.idbuf, sizeof q.idbuf, "%lld", (long long)u->id);
    eng_after_write(&q, WROTE_THIS_ROW);
    if (e == STORE_OK && (fields & STORE_USER_CREDENTIALS) && !(fields & STORE_USER_REHASH))
        sess_forget_user(c->app->sessions, u->id, keep);
    return e;
}

/* 409 for the loser of a race between two changes of the same credentials. */
static void credentials_changed(response *res)
{
    res_error(res, 409, "CREDENTIALS_CHANGED",
              "the email or password changed while this request was served; read the account and try again");
}

/* ---- failed logins -------------------------------------------------------- */

/*
 * Counts a password check against the client's address and the account
 * (auth/throttle.h); false when answered: 429 with Retry-After, no password
 * hashed. A known account is named by its id, so its email and its
 * username share one count; an unknown one by what was given.
 */
static bool throttle_begin_or_reply(throttle *th, const request *r, const char *account, thr_ticket *tk,
                                    response *res)
{
    int64_t wait;
    char address[46];
    thr_client_address(th, r->client_ip, req_header(r, "X-Forwarded-For"), address);
    thr_result t = thr_begin(th, address, account, tk, &wait);
    if (t == THR_OK)
        return true;
    if (t == THR_UNAVAILABLE) {
        api_reply_store_error(res, STORE_UNAVAILABLE);
        return false;
    }
    res_error(res, 429, "TOO_MANY_ATTEMPTS", "too many failed attempts; retry in %lld s", (long long)wait);
    res->header_name = "Retry-After";
    snprintf(res->header_value, sizeof res->header_value, "%lld", (long long)wait);
    return false;
}

/* The name failed logins are counted under: "id:N" for a known account,
 * whichever way it was named; what was given for an unknown one. */
static void account_name(const store_user *u, bool found, const char *email_lower, const char *username,
                         char *out, size_t cap)
{
    if (found)
        snprintf(out, cap, "id:%lld", (long long)u->id);
    else if (email_lower && *email_lower)
        snprintf(out, cap, "email:%s", email_lower);
    else
        snprintf(out, cap, "username:%s", username ? username : "");
}

/* The caller's own token survives a change the caller made to their own account. */
static const tok_hash *token_to_keep(const principal *who, int64_t user_id)
{
    return who->user_id == user_id ? &who->token_hash : NULL;
}

/* ---- POST /api/users ------------------------------------------------------ */

void api_user_create(api_call *c, const char *const *args)
{
    response *res = c->res;
    (void)args;
    if (!user_method_or_reply(c, "create", false))
        return;
    json_t *body = read_body_or_reply(c->r, res, "password");
    if (body == NULL)
        return;
    if (!user_valid_or_reply(body, true, res)) {
        json_decref(body);
        return;
    }

    store_user u = {0};
    user_apply(body, c->app->cfg->auth.case_sensitive_email, &u);
    if (set_password_or_reply(cost_of(c), &u, str_prop(body, "password"), res)) {
        store_err e = store_user_create(store_of(c), &u);
        if (e == STORE_OK)
            res_json(res, 200, user_to_json(&u));
        else
            reply_account_error(e, &u, res);
    }
    store_user_clear(&u);
    json_decref(body);
}

/* ---- POST /api/users/login ------------------------------------------------ */

/* ?include[0]=user: how strong-remoting's client sends login(c, ['user']). */
static bool wants_user_indexed(const request *r)
{
    for (int i = 0; i < r->nquery; i++)
        if (strncmp(r->query[i].key, "include[", 8) == 0 && r->query[i].value &&
            strcmp(r->query[i].value, "user") == 0)
            return true;
    return false;
}

/* ?include=user, also in LoopBack's JSON forms ("user", ["user"]) and the
 * bracket form (include[0]=user). */
static bool wants_user(const request *r)
{
    const char *inc = req_query(r, "include");
    if (inc == NULL)
        return wants_user_indexed(r);
    if (strcmp(inc, "user") == 0)
        return true;
    json_t *v = json_loads(inc, JSON_DECODE_ANY, NULL);
    bool yes = json_is_string(v) && strcmp(json_string_value(v), "user") == 0;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) yes = yes || (json_is_string(item) && strcmp(json_string_value(item), "user") == 0);
    json_decref(v);
    return yes;
}

/* Finds the account named by email or username: *found says whether there
 * is one; *account gets the name its failed logins are counted under.
 * False when answered (400 for neither name given, a store error). */
static bool find_login_or_reply(const app *a, const json_t *body, store_user *u, char *account, size_t cap,
                                bool *found, response *res)
{
    const char *email = str_prop(body, "email");
    const char *username = str_prop(body, "username");
    if ((email == NULL || *email == '\0') && (username == NULL || *username == '\0')) {
        res_error(res, 400, "USERNAME_EMAIL_REQUIRED", "username or email is required");
        return false;
    }
    char lower[STORE_EMAIL_MAX + 1] = "";
    if (email && *email)
        user_email_key(email, a->cfg->auth.case_sensitive_email, lower);
    store_err e = store_user_find(a->store, lower[0] ? lower : NULL, username, u);
    account_name(u, e == STORE_OK, lower, username, account, cap);
    *found = e == STORE_OK;
    if (e != STORE_OK && e != STORE_NOT_FOUND) {
        api_reply_store_error(res, e);
        return false;
    }
    return true;
}

/*
 * A wrong password and an unknown account get the same answer after the same
 * work (one argon2id verification), and are throttled alike, so a login
 * reveals nothing about which accounts exist. The login route and the OAuth2
 * password grant (oauth.c) both check through here, so they share one
 * brute-force count. On API_PW_OK *u is the account, its hash upgraded when
 * the cost settings rose.
 */
api_pw_result api_password_check(api_call *c, const json_t *body, store_user *u)
{
    const char *pw = str_prop(body, "password");
    size_t pwlen = pw ? strlen(pw) : 0;
    bool found;
    char account[STORE_EMAIL_MAX + 16];
    thr_ticket tk;
    if (!find_login_or_reply(c->app, body, u, account, sizeof account, &found, c->res) ||
        !throttle_begin_or_reply(c->app->throttle, c->r, account, &tk, c->res))
        return API_PW_ANSWERED;
    if (!found || pw == NULL) {
        pw_burn(cost_of(c), pw ? pw : "", pwlen);
        return API_PW_WRONG;
    }
    if (!pw_verify(u->password, pw, pwlen))
        return API_PW_WRONG;
    thr_succeeded(c->app->throttle, &tk);
    if (pw_needs_rehash(cost_of(c), u->password) && pw_hash(cost_of(c), pw, pwlen, u->password) == 0)
        update_account(c, u, STORE_USER_PASSWORD | STORE_USER_REHASH, NULL);
    return API_PW_OK;
}

/*
 * The token is inserted only if the password checked is still the account's
 * (its credential version), in the insert itself: a login in flight cannot
 * outlive a password change or the account's deletion (both answer 401
 * LOGIN_FAILED, as a wrong password).
 */
void api_user_login(api_call *c, const char *const *args)
{
    response *res = c->res;
    (void)args;
    const app *a = c->app;
    if (!user_method_or_reply(c, "login", false))
        return;
    json_t *body = read_body_or_reply(c->r, res, "password");
    if (body == NULL)
        return;
    int64_t ttl;
    char why[160];
    store_user u = {0};
    api_pw_result checked = api_password_check(c, body, &u);
    if (checked == API_PW_WRONG)
        res_error(res, 401, "LOGIN_FAILED", "login failed");
    if (checked != API_PW_OK)
        goto out;
    if (sess_resolve_ttl(&a->cfg->auth, json_object_get(body, "ttl"), &ttl, why, sizeof why) != 0) {
        res_error(res, 422, "INVALID_TTL", "%s", why);
        goto out;
    }
    const json_t *scopes;
    if (!apitok_login_scopes_or_reply(c, body, &scopes))
        goto out;

    char secret[TOK_MAX_LEN + 1];
    tok_record rec;
    store_grant grant = {u.cred_version, NULL};
    store_err e = sess_issue(a->sessions, u.id, ttl, &grant, secret, &rec);
    if (e == STORE_OK && scopes)
        e = sess_narrow(a->sessions, &rec, scopes);
    if (e == STORE_STALE || e == STORE_NOT_FOUND) {
        sodium_memzero(secret, sizeof secret);
        res_error(res, 401, "LOGIN_FAILED", "login failed");
        goto out;
    }
    if (e != STORE_OK) {
        api_reply_store_error(res, e);
        goto out;
    }
    json_t *out = sess_token_json(&rec, secret);
    sodium_memzero(secret, sizeof secret);
    if (scopes)
        json_object_set(out, "scopes", (json_t *)scopes);
    if (wants_user(c->r))
        json_object_set_new(out, "user", user_to_json(&u));
    res_json(res, 200, out);
out:
    store_user_clear(&u);
    json_decref(body);
}

/* ---- POST /api/users/logout ----------------------------------------------- */

void api_user_logout(api_call *c, const char *const *args)
{
    response *res = c->res;
    (void)args;
    if (!user_method_or_reply(c, "logout", false))
        return;
    if (!principal_has_token(&c->who)) { /* an application's own token logs out too */
        res_error(res, 401, "AUTHORIZATION_REQUIRED", "accessToken is required to logout");
        res->www_authenticate = RES_BEARER_CHALLENGE;
        return;
    }
    if (!apitok_not_a_key_or_reply(&c->who, res, "User.logout"))
        return;
    store_err e = sess_revoke(c->app->sessions, &c->who.token_hash);
    if (e == STORE_OK || e == STORE_NOT_FOUND)
        res_no_content(res);
    else
        api_reply_store_error(res, e);
}

/* ---- GET and PATCH /api/users/{id} ---------------------------------------- */

/* findById through the engine, without ?filter= (this route never read
 * one): the row, from the row cache when it has it. */
void api_user_get(api_call *c, const char *const *args)
{
    mreq q;
    if (account_begin_or_reply(&q, c, args[0]))
        eng_reply_find_by_id(&q, true);
    eng_end(&q);
}

/* Copies what PATCH may change into u, the STORE_USER_* mask of them into
 * *fields; false when answered (422, or a password that could not be hashed). */
static bool patch_fields_or_reply(const app *a, const json_t *body, bool is_admin, store_user *u, unsigned *fields,
                                  response *res)
{
    if (!user_valid_or_reply(body, false, res))
        return false;
    *fields = user_apply(body, a->cfg->auth.case_sensitive_email, u);
    const json_t *verified = json_object_get(body, "emailVerified");
    if (is_admin && json_is_boolean(verified)) {
        u->email_verified = json_is_true(verified);
        *fields |= STORE_USER_VERIFIED;
    }
    const char *pw = str_prop(body, "password");
    if (pw) {
        if (!set_password_or_reply(&a->cfg->password, u, pw, res))
            return false;
        *fields |= STORE_USER_PASSWORD;
    }
    return true;
}

/*
 * A new email or password ends every other session of the account (LoopBack's
 * logoutSessionsOnSensitiveChanges): whoever held the old credentials must not
 * keep a way in. Two changes racing: one wins, the other gets 409.
 */
void api_user_patch(api_call *c, const char *const *args)
{
    response *res = c->res;
    mreq q;
    store_user u = {0};
    json_t *body = NULL;
    if (!load_account_or_reply(&q, c, args[0], "patchAttributes", &u))
        goto out;
    if ((body = read_body_or_reply(c->r, res, "password")) == NULL ||
        !apitok_credentials_or_reply(c, body))
        goto out;
    unsigned fields;
    if (!patch_fields_or_reply(c->app, body, access_has_role(c, "admin"), &u, &fields, res))
        goto out;
    store_err e = update_account(c, &u, fields, token_to_keep(&c->who, u.id));
    if (e == STORE_OK)
        res_json(res, 200, user_to_json(&u));
    else if (e == STORE_STALE)
        credentials_changed(res);
    else
        reply_account_error(e, &u, res);
out:
    store_user_clear(&u);
    json_decref(body);
    eng_end(&q);
}

/* ---- POST /api/users/change-password -------------------------------------- */

/* The old password is checked against the version it was read at: of two
 * changes racing with the same old password, one gets 204, the other 409. */
void api_user_change_password(api_call *c, const char *const *args)
{
    response *res = c->res;
    (void)args;
    if (c->who.user_id == 0) {
        access_reply_denied(c);
        return;
    }
    if (!user_method_or_reply(c, "changePassword", true))
        return;
    json_t *body = read_body_or_reply(c->r, res, "newPassword");
    if (body == NULL)
        return;
    const char *old = str_prop(body, "oldPassword");
    const char *new = str_prop(body, "newPassword");
    store_user u = {0};
    if (new == NULL || *new == '\0' || old == NULL) {
        validation v;
        validation_init(&v);
        if (old == NULL)
            validation_add(&v, "oldPassword", "presence", "can't be blank", NULL);
        if (new == NULL || *new == '\0')
            validation_add(&v, "newPassword", "presence", "can't be blank", NULL);
        res_validation_finish(&v, "User", res);
        goto out;
    }
    store_err e = store_user_get(store_of(c), c->who.user_id, &u);
    if (e != STORE_OK) {
        reply_account_error(e, &u, res);
        goto out;
    }
    char account[32];
    thr_ticket tk;
    account_name(&u, true, NULL, NULL, account, sizeof account);
    if (!throttle_begin_or_reply(c->app->throttle, c->r, account, &tk, res))
        goto out;
    if (!pw_verify(u.password, old, strlen(old))) {
        res_error(res, 400, "INVALID_PASSWORD", "Invalid current password");
        goto out;
    }
    thr_succeeded(c->app->throttle, &tk);
    if (!set_password_or_reply(cost_of(c), &u, new, res))
        goto out;
    e = update_account(c, &u, STORE_USER_PASSWORD, &c->who.token_hash);
    if (e == STORE_OK)
        res_no_content(res);
    else if (e == STORE_STALE)
        credentials_changed(res);
    else
        reply_account_error(e, &u, res);
out:
    store_user_clear(&u);
    json_decref(body);
}

/* ---- /api/users/{id}/accessTokens ----------------------------------------- */

void api_user_tokens_list(api_call *c, const char *const *args)
{
    mreq q;
    store_user u = {0};
    if (load_account_or_reply(&q, c, args[0], "__get__accessTokens", &u))
        tokapi_reply_user_tokens(c, u.id);
    store_user_clear(&u);
    eng_end(&q);
}

void api_user_tokens_delete_all(api_call *c, const char *const *args)
{
    mreq q;
    store_user u = {0};
    if (load_account_or_reply(&q, c, args[0], "__delete__accessTokens", &u)) {
        store_err e = apitok_revoke_user_if_asked(c->r, store_of(c), u.id);
        if (e == STORE_OK)
            e = sess_revoke_user(c->app->sessions, u.id, NULL);
        if (e == STORE_OK)
            res_no_content(q.res);
        else
            api_reply_store_error(q.res, e);
    }
    store_user_clear(&u);
    eng_end(&q);
}

/* A token named by its handle, or (as LoopBack clients do) by its secret. */
static store_err revoke_named(const app *a, int64_t user_id, const char *name)
{
    size_t len = strlen(name);
    if (tok_is_handle(name))
        return sess_revoke_handle(a->sessions, user_id, name);
    if (!tok_well_formed(name, len))
        return STORE_NOT_FOUND;
    tok_hash h;
    tok_record rec;
    store_t *st = a->store;
    tok_hash_of(name, len, &h);
    store_err e = store_token_find(st, &h, &rec);
    if (e == STORE_OK && rec.user_id != user_id)
        e = STORE_NOT_FOUND;
    return e == STORE_OK ? sess_revoke(a->sessions, &h) : e;
}

void api_user_tokens_delete_one(api_call *c, const char *const *args)
{
    mreq q;
    store_user u = {0};
    if (load_account_or_reply(&q, c, args[0], "__destroyById__accessTokens", &u)) {
        store_err e = revoke_named(c->app, u.id, args[1]);
        if (e == STORE_OK)
            res_no_content(q.res);
        else if (e == STORE_NOT_FOUND)
            api_reply_not_found(q.res, "AccessToken", args[1]);
        else
            api_reply_store_error(q.res, e);
    }
    store_user_clear(&u);
    eng_end(&q);
}

/* ---- User through the model engine ---------------------------------------- */

/* /api/users/me/... is the caller's own account, as in LoopBack; an id
 * written another way ("05") names the account it spells. Either becomes
 * the decimal id the store and the row cache key on; a 404 still shows the
 * id as written. */
static void resolve_account_id(mreq *q)
{
    int64_t id = access_user_named(&q->c->who, q->id);
    if (id == 0)
        return;
    snprintf(q->idbuf, sizeof q->idbuf, "%lld", (long long)id);
    if (strcmp(q->idbuf, q->id) != 0)
        q->label = q->id;
    q->id = q->idbuf;
}

/* Deleting an account ends its sessions before the answer, whoever the caller
 * is: the store deletes the tokens with the row and logs them for the other
 * processes; this one's token cache forgets them here, after the row is gone,
 * so a login racing with the delete cannot leave one behind. */
static void delete_account(mreq *q, const fnode *where)
{
    eng_reply_delete(q, where);
    sess_forget_user(q->c->app->sessions, strtoll(q->id, NULL, 10), NULL);
}

const model_hooks user_hooks = {
    .delete = delete_account,
    .refuse_write = "users are created with POST /api/users and changed with PATCH /api/users/{id}",
    .resolve_id = resolve_account_id,
    .cached = true,
    .owner_is_id = true,
};
