/*
 * applications.c — what Application means beyond a row (issue 13): its
 * client id and secret are minted here, never taken from a body; the secret
 * is answered once (by create and by POST /api/applications/{id}/secret) and
 * stored only as its hash (auth/client.h).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/app.h"
#include "api/engine.h"
#include "auth/client.h"
#include "core/isodate.h"
#include "core/log.h"

/* The longest grace a rotation may give the previous secret: 30 days. */
#define GRACE_MAX_S (30 * 24 * 3600)

static void status_word(const json_t *values, validation *v)
{
    const json_t *s = json_object_get(values, "status");
    if (s && !json_is_null(s) &&
        (!json_is_string(s) ||
         (strcmp(json_string_value(s), "active") != 0 && strcmp(json_string_value(s), "disabled") != 0)))
        validation_add(v, "status", "inclusion", "is not one of the allowed values", (json_t *)s);
}

/* The row as stored plus the secret, shown this once. */
static void reply_with_secret(mreq *q, json_t *row, const char *secret)
{
    json_object_set_new(row, "clientSecret", json_string(secret));
    res_json(q->res, 200, row);
}

/* POST /api/applications: a client id and a secret are minted, the body's
 * other values checked and stored as any row's. */
static void create_app(mreq *q, const json_t *body)
{
    json_t *values = eng_validate_or_reply(q, body, BODY_CREATE);
    if (values == NULL)
        return;
    /* applications.create may let non-admins in: they own what they make */
    if (!eng_owner_allowed_or_reply(q, values)) {
        json_decref(values);
        return;
    }
    char id[CLIENT_ID_LEN + 1], secret[CLIENT_SECRET_LEN + 1], hex[STORE_APP_HASH_HEX + 1];
    client_new_id(id);
    client_new_secret(secret, hex);
    eng_default_owner(q, values);
    json_object_set_new(values, "clientId", json_string(id));
    json_object_set_new(values, "secretHash", json_string(hex));
    json_object_set_new(values, "modified", json_integer(iso_now_ms()));
    json_t *row = NULL;
    store_err e = store_rows_insert(q->c->app->store, q->m, values, &row);
    if (e == STORE_OK) {
        eng_after_write(q, WROTE_NEW_ROW);
        reply_with_secret(q, row, secret);
    } else {
        eng_reply_store_error(q, e, values);
    }
    sodium_memzero(secret, sizeof secret);
    json_decref(values);
}

/*
 * Disabling or deleting an application ends every token it holds, on every
 * instance: the store logs them as a logout does (the other instances' sync
 * threads hear it), and this instance's cache applies the log at once.
 */
static void app_changed(mreq *q, eng_wrote what)
{
    if (what == WROTE_NEW_ROW)
        return;
    int64_t n = 0;
    store_err e = store_app_revoke_dead(q->c->app->store, &n);
    sess_forget_clients(q->c->app->sessions); /* a rotation, a disable, a delete: at once here */
    if (e != STORE_OK)
        log_error("applications: revoking the tokens of disabled applications: %s", store_strerror(e));
    if (n > 0)
        sess_sync_once(q->c->app->sessions);
}

const model_hooks application_hooks = {
    .create = create_app,
    .after_write = app_changed,
    .validate = status_word,
};

/* graceSeconds of a rotation's body: 0..GRACE_MAX_S; false with 422. */
static bool grace_or_reply(mreq *q, const json_t *body, int64_t *grace)
{
    const json_t *g = json_object_get(body, "graceSeconds");
    *grace = 0;
    if (g == NULL || json_is_null(g))
        return true;
    if (json_is_string(g)) { /* a form body's value */
        char *end = NULL;
        long long v = strtoll(json_string_value(g), &end, 10);
        if (*json_string_value(g) && end && *end == '\0' && v >= 0 && v <= GRACE_MAX_S) {
            *grace = v;
            return true;
        }
    } else if (json_is_integer(g) && json_integer_value(g) >= 0 && json_integer_value(g) <= GRACE_MAX_S) {
        *grace = json_integer_value(g);
        return true;
    }
    res_error(q->res, 422, "INVALID_GRACE", "graceSeconds must be an integer from 0 to %d", GRACE_MAX_S);
    return false;
}

/*
 * POST /api/applications/{id}/secret: a new secret replaces the old, which
 * stays valid graceSeconds longer (default 0) so a fleet can roll over.
 */
void api_app_rotate_secret(api_call *c, const char *const *args)
{
    mreq q;
    json_t *body = NULL;
    int64_t grace;
    if (!eng_begin_or_reply(&q, c, "applications", args[0]) || !eng_allow_or_reply(&q, "rotateSecret") ||
        !eng_load_or_reply(&q) || (body = eng_body_or_reply(&q)) == NULL || !grace_or_reply(&q, body, &grace))
        goto out;
    char secret[CLIENT_SECRET_LEN + 1], hex[STORE_APP_HASH_HEX + 1];
    client_new_secret(secret, hex);
    int64_t id = json_integer_value(json_object_get(q.instance, "id"));
    store_err e = store_app_set_secret(c->app->store, id, hex, grace > 0 ? iso_now_ms() + grace * 1000 : 0);
    if (e == STORE_OK) {
        eng_after_write(&q, WROTE_THIS_ROW);
        json_t *out = json_pack("{s:I,s:O}", "id", (json_int_t)id, "clientId",
                                json_object_get(q.instance, "clientId"));
        reply_with_secret(&q, out, secret);
    } else if (e == STORE_NOT_FOUND) {
        eng_reply_not_found(&q);
    } else {
        api_reply_store_error(q.res, e);
    }
    sodium_memzero(secret, sizeof secret);
out:
    json_decref(body);
    eng_end(&q);
}
