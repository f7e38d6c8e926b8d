/*
 * apps.c — what client authentication needs of the applications table
 * (issue 13): the secret hashes the generic row reads never show (they are
 * hidden properties), and their rotation. Over the driver (driver.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/isodate.h"
#include "store/domain.h"
#include "store/queries.h"

static void copy_hex(const store_driver *d, dcur *cur, int col, char out[STORE_APP_HASH_HEX + 1])
{
    size_t len = 0;
    const char *t = d->col_text(cur, col, &len);
    out[0] = '\0';
    if (t && len == STORE_APP_HASH_HEX)
        snprintf(out, STORE_APP_HASH_HEX + 1, "%.*s", (int)len, t);
}

store_err store_app_by_client(store_t *s, const char *client_id, store_app_cred *out)
{
    DB_OR_FAIL(s, c);
    memset(out, 0, sizeof *out);
    dval v = dv_text(client_id);
    dcur cur;
    store_err e = db_rows(s, c, Q_APP_BY_CLIENT, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    bool found = s->drv->next(&cur);
    if (found) {
        size_t len = 0;
        const char *status = s->drv->col_text(&cur, 1, &len);
        out->id = s->drv->col_int(&cur, 0);
        out->active = status && len == 6 && memcmp(status, "active", 6) == 0;
        copy_hex(s->drv, &cur, 2, out->hash);
        copy_hex(s->drv, &cur, 3, out->prev);
        out->prev_until_ms = s->drv->col_int(&cur, 4);
    }
    e = s->drv->end(&cur);
    return e == STORE_OK && !found ? STORE_NOT_FOUND : e;
}

/* The new hash and the event that ends the old secret in every process's
 * client cache (auth/clientcache.h), in one transaction: the CLI's rotation
 * reaches running servers as the API's does. */
store_err store_app_set_secret(store_t *s, int64_t id, const char *hash_hex, int64_t prev_until_ms)
{
    DB_OR_FAIL(s, c);
    dval v[] = {dv_int(id), dv_text(hash_hex), dv_int(prev_until_ms), dv_int(iso_now_ms())};
    int64_t n = 0;
    store_err e = db_begin(s, c);
    if (e == STORE_OK)
        e = db_run(s, c, Q_APP_SET_SECRET, v, 4, &n);
    if (e == STORE_OK && n == 0)
        e = STORE_NOT_FOUND;
    if (e == STORE_OK)
        e = events_log(s, c, STORE_EV_APP, NULL, id);
    return db_finish(s, c, e);
}

/* One statement for every way an application stops being active (a patch,
 * a replace, an updateAll, a delete): no write needs to say what it did.
 * The STORE_EV_APP event (logged and notified) ends every process's cached
 * client credentials, whichever application changed. */
store_err store_app_revoke_dead(store_t *s, int64_t *revoked)
{
    DB_OR_FAIL(s, c);
    int64_t n = 0;
    dval now = dv_int(iso_now_ms());
    store_err e = db_begin(s, c);
    if (e == STORE_OK)
        e = db_run(s, c, Q_APP_DEAD_EVENTS, &now, 1, &n);
    if (e == STORE_OK && n > 0)
        e = db_run(s, c, Q_APP_DEAD_DELETE, NULL, 0, NULL);
    if (e == STORE_OK)
        e = events_log(s, c, STORE_EV_APP, NULL, 0);
    e = db_finish(s, c, e);
    if (revoked)
        *revoked = e == STORE_OK ? n : 0;
    return e;
}

/* ---- the CLI's (cli/apps.c) ---------------------------------------------- */

store_err store_app_create(store_t *s, const char *name, int64_t owner_id, const char *client_id,
                           const char *hash_hex, int64_t *id)
{
    DB_OR_FAIL(s, c);
    dval v[] = {dv_text(name), dv_int_or_null(owner_id), dv_text(client_id), dv_text(hash_hex),
                dv_int(iso_now_ms())};
    dcur cur;
    *id = 0;
    store_err e = db_rows(s, c, Q_APP_INSERT, v, 5, &cur);
    if (e != STORE_OK)
        return e;
    if (s->drv->next(&cur))
        *id = s->drv->col_int(&cur, 0);
    return s->drv->end(&cur);
}

store_err store_app_id(store_t *s, const char *name, int64_t *id)
{
    DB_OR_FAIL(s, c);
    dval v = dv_text(name);
    dcur cur;
    *id = 0;
    store_err e = db_rows(s, c, Q_APP_ID_BY_NAME, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    if (s->drv->next(&cur))
        *id = s->drv->col_int(&cur, 0);
    e = s->drv->end(&cur);
    return e == STORE_OK && *id == 0 ? STORE_NOT_FOUND : e;
}

store_err store_app_set_status(store_t *s, int64_t id, const char *status)
{
    DB_OR_FAIL(s, c);
    dval v[] = {dv_int(id), dv_text(status), dv_int(iso_now_ms())};
    int64_t n = 0;
    store_err e = db_run(s, c, Q_APP_SET_STATUS, v, 3, &n);
    if (e == STORE_OK && n == 0)
        return STORE_NOT_FOUND;
    return e == STORE_OK ? store_app_revoke_dead(s, NULL) : e;
}

store_err store_app_list(store_t *s, store_app_cb cb, void *ctx)
{
    DB_OR_FAIL(s, c);
    dcur cur;
    store_err e = db_rows(s, c, Q_APP_LIST, NULL, 0, &cur);
    if (e != STORE_OK)
        return e;
    while (s->drv->next(&cur)) {
        const char *name = s->drv->col_text(&cur, 1, NULL), *cid = s->drv->col_text(&cur, 2, NULL);
        const char *status = s->drv->col_text(&cur, 3, NULL);
        cb(s->drv->col_int(&cur, 0), name ? name : "", cid ? cid : "", status ? status : "",
           s->drv->col_int(&cur, 4), ctx);
    }
    return s->drv->end(&cur);
}

/* ---- OAuth2 refresh tokens (issue 13) -------------------------------------- */

store_err store_refresh_insert(store_t *s, const store_refresh *r)
{
    DB_OR_FAIL(s, c);
    dval v[] = {dv_blob(r->hash.b, STORE_HASH_LEN), dv_text(r->family), dv_int(r->user_id), dv_int_or_null(r->app_id),
                dv_int(r->cred_version), dv_blob(r->access_hash.b, STORE_HASH_LEN), dv_int(r->expires_ms)};
    return db_run(s, c, Q_REFRESH_INSERT, v, 7, NULL);
}

static store_err refresh_read(store_t *s, dconn *c, const store_hash *h, store_refresh *out)
{
    dval v = dv_blob(h->b, STORE_HASH_LEN);
    dcur cur;
    store_err e = db_rows(s, c, Q_REFRESH_GET, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    bool found = s->drv->next(&cur);
    if (found) {
        size_t len = 0;
        const char *fam = s->drv->col_text(&cur, 0, &len);
        snprintf(out->family, sizeof out->family, "%.*s", fam ? (int)len : 0, fam ? fam : "");
        out->hash = *h;
        out->user_id = s->drv->col_int(&cur, 1);
        out->app_id = s->drv->col_int(&cur, 2);
        out->cred_version = s->drv->col_int(&cur, 3);
        out->used = s->drv->col_int(&cur, 4) != 0;
        out->expires_ms = s->drv->col_int(&cur, 5);
    }
    e = s->drv->end(&cur);
    return e == STORE_OK && !found ? STORE_NOT_FOUND : e;
}

store_err store_refresh_get(store_t *s, const store_hash *h, store_refresh *out)
{
    DB_OR_FAIL(s, c);
    memset(out, 0, sizeof *out);
    return refresh_read(s, c, h, out);
}

/* One transaction: the mark and the read agree, and of two requests racing
 * with the same token exactly one marks it. */
store_err store_refresh_use(store_t *s, const store_hash *h, int64_t now_ms, store_refresh *out)
{
    DB_OR_FAIL(s, c);
    memset(out, 0, sizeof *out);
    dval v[] = {dv_blob(h->b, STORE_HASH_LEN), dv_int(now_ms)};
    int64_t n = 0;
    store_err e = db_begin(s, c);
    if (e == STORE_OK)
        e = db_run(s, c, Q_REFRESH_USE, v, 2, &n);
    if (e == STORE_OK)
        e = refresh_read(s, c, h, out);
    if (e == STORE_OK && n == 0)
        e = out->used ? STORE_STALE : STORE_NOT_FOUND; /* used before, or expired */
    store_err fin = db_finish(s, c, e == STORE_STALE || e == STORE_NOT_FOUND ? STORE_OK : e);
    return fin == STORE_OK ? e : fin;
}

store_err store_refresh_family_delete(store_t *s, const char *family, void (*cb)(const store_hash *, void *),
                                      void *ctx)
{
    DB_OR_FAIL(s, c);
    dval v = dv_text(family);
    dcur cur;
    store_err e = db_rows(s, c, Q_REFRESH_FAMILY, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    while (s->drv->next(&cur)) {
        store_hash h;
        if (s->drv->col_blob(&cur, 0, h.b, STORE_HASH_LEN))
            cb(&h, ctx);
    }
    e = s->drv->end(&cur);
    return e == STORE_OK ? db_run(s, c, Q_REFRESH_FAMILY_DELETE, &v, 1, NULL) : e;
}
