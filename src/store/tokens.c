/*
 * tokens.c — access tokens, over the driver (driver.h).
 * The token lookup is the hot path: one prepared statement, no allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "store/domain.h"
#include "store/queries.h"

static dval dv_hash(const store_hash *h)
{
    return dv_blob(h ? h->b : NULL, STORE_HASH_LEN);
}

static void read_token(store_t *s, dcur *cur, store_token *t)
{
    const store_driver *d = s->drv;
    memset(t, 0, sizeof *t);
    d->col_blob(cur, 0, t->hash.b, STORE_HASH_LEN);
    db_copy(s, cur, 1, t->handle, sizeof t->handle);
    t->user_id = d->col_int(cur, 2);
    t->app_id = d->col_int(cur, 3);
    t->created_ms = d->col_int(cur, 4);
    t->ttl = d->col_int(cur, 5);
    t->last_used_ms = d->col_int(cur, 6);
    t->scopes = (uint64_t)d->col_int(cur, 7);
}

/* An application's own token (user_id 0: NULL in the row), inserted only
 * while the application is active; STORE_NOT_FOUND when it is not. */
static store_err insert_app_token(store_t *s, dconn *c, dval *v)
{
    int64_t n = 0;
    store_err e = v[3].null ? STORE_NOT_FOUND : db_run(s, c, Q_TOKEN_INSERT_APP, v, 9, &n);
    if (e == STORE_OK && n == 0)
        return STORE_NOT_FOUND;
    return e == STORE_CONFLICT ? STORE_ERROR : e;
}

/* inserts only while the user exists and *grant holds (store.h) */
store_err store_token_insert(store_t *s, const store_token *t, int64_t expires_ms, const store_grant *grant)
{
    DB_OR_FAIL(s, c);
    dval v[] = {dv_hash(&t->hash), dv_text(t->handle), dv_int_or_null(t->user_id), dv_int_or_null(t->app_id),
                dv_int(t->created_ms), dv_int(t->ttl), dv_int_or_null(t->last_used_ms),
                dv_int((int64_t)t->scopes), dv_int(expires_ms),
                dv_int(grant ? grant->cred_version : 0), dv_hash(grant ? grant->parent : NULL)};
    if (t->user_id == 0)
        return insert_app_token(s, c, v);
    if (grant == NULL || grant->cred_version < 0)
        v[9].null = true;
    int64_t n = 0;
    store_err e = db_run(s, c, grant ? Q_TOKEN_INSERT_GUARDED : Q_TOKEN_INSERT, v, grant ? 11 : 9, &n);
    if (e == STORE_BAD_REFERENCE)
        return STORE_NOT_FOUND; /* the user is gone */
    if (e == STORE_OK && grant && n == 0)
        return users_missed(s, c, t->user_id);
    return e == STORE_CONFLICT ? STORE_ERROR : e;
}

store_err store_token_find(store_t *s, const store_hash *h, store_token *out)
{
    DB_OR_FAIL(s, c);
    dval v = dv_hash(h);
    dcur cur;
    store_err e = db_rows(s, c, Q_TOKEN_FIND, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    bool found = s->drv->next(&cur);
    if (found)
        read_token(s, &cur, out);
    e = s->drv->end(&cur);
    return e == STORE_OK && !found ? STORE_NOT_FOUND : e;
}

/* Pages in hash order, each read whole before the next is asked for. */
store_err store_token_scan_live(store_t *s, int64_t now_ms, store_token_cb cb, void *ctx)
{
    DB_OR_FAIL(s, c);
    store_hash after = {{0}};
    size_t after_len = 0; /* the empty BLOB sorts before every hash */
    store_err e = STORE_OK;
    for (int got = TOKEN_PAGE; e == STORE_OK && got == TOKEN_PAGE;) {
        dval v[] = {dv_int(now_ms), dv_blob(after.b, after_len), dv_int(TOKEN_PAGE)};
        dcur cur;
        got = 0;
        e = db_rows(s, c, Q_TOKEN_LIST, v, 3, &cur);
        if (e != STORE_OK)
            break;
        store_token t;
        while (s->drv->next(&cur)) {
            read_token(s, &cur, &t);
            cb(&t, ctx);
            got++;
        }
        e = s->drv->end(&cur);
        if (got > 0) {
            after = t.hash;
            after_len = STORE_HASH_LEN;
        }
    }
    return e;
}

/* Deletes by hash and logs it, inside an open transaction. */
static store_err delete_hash(store_t *s, dconn *c, const store_hash *h)
{
    dval v = dv_hash(h);
    int64_t n = 0;
    store_err e = db_run(s, c, Q_TOKEN_DELETE, &v, 1, &n);
    if (e == STORE_OK && n == 0)
        e = STORE_NOT_FOUND;
    return e == STORE_OK ? events_log(s, c, STORE_EV_TOKEN, h, 0) : e;
}

store_err store_token_delete(store_t *s, const store_hash *h)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    return db_finish(s, c, delete_hash(s, c, h));
}

static store_err find_handle(store_t *s, dconn *c, int64_t user_id, const char *handle, store_hash *out)
{
    dval v[] = {dv_text(handle), dv_int(user_id)};
    dcur cur;
    store_err e = db_rows(s, c, Q_TOKEN_HANDLE_FIND, v, 2, &cur);
    if (e != STORE_OK)
        return e;
    bool found = s->drv->next(&cur) && s->drv->col_blob(&cur, 0, out->b, STORE_HASH_LEN);
    e = s->drv->end(&cur);
    return e == STORE_OK && !found ? STORE_NOT_FOUND : e;
}

store_err store_token_delete_handle(store_t *s, int64_t user_id, const char *handle, store_hash *deleted)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    e = find_handle(s, c, user_id, handle, deleted);
    if (e == STORE_OK)
        e = delete_hash(s, c, deleted);
    return db_finish(s, c, e);
}

store_err tokens_delete_user_in(store_t *s, dconn *c, int64_t user_id, const store_hash *keep, int64_t *deleted)
{
    dval v[] = {dv_int(user_id), dv_hash(keep)};
    store_err e = db_run(s, c, keep ? Q_TOKEN_DELETE_USER_KEEP : Q_TOKEN_DELETE_USER, v, keep ? 2 : 1, deleted);
    return e == STORE_OK ? events_log(s, c, STORE_EV_USER, keep, user_id) : e;
}

/* *deleted is reported only once the deletion is committed. */
store_err store_token_delete_user(store_t *s, int64_t user_id, const store_hash *keep, int64_t *deleted)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    int64_t n = 0;
    e = db_finish(s, c, tokens_delete_user_in(s, c, user_id, keep, &n));
    if (deleted)
        *deleted = e == STORE_OK ? n : 0;
    return e;
}

store_err store_token_touch(store_t *s, const store_token *recs, size_t n)
{
    DB_OR_FAIL(s, c);
    store_err e = n ? db_begin(s, c) : STORE_OK;
    for (size_t i = 0; e == STORE_OK && i < n; i++) {
        dval v[] = {dv_hash(&recs[i].hash), dv_int(recs[i].last_used_ms)};
        /* an API token's record carries its row id above the low byte of
         * its scopes (auth/scope.h); a login token's never does */
        e = db_run(s, c, recs[i].scopes > 0xFF ? Q_APIKEY_TOUCH : Q_TOKEN_TOUCH, v, 2, NULL);
    }
    return n ? db_finish(s, c, e) : e;
}

/* Purges on one process at a time where several share the database: the
 * one that gets the purge lock does it, the others skip this round. */
store_err store_token_purge_expired(store_t *s, int64_t now_ms, int64_t *purged)
{
    DB_OR_FAIL(s, c);
    if (purged)
        *purged = 0;
    bool mine = true;
    store_err e = s->drv->lock_purge ? s->drv->lock_purge(c, &mine) : STORE_OK;
    if (e != STORE_OK || !mine)
        return e;
    dval v = dv_int(now_ms);
    e = db_run(s, c, Q_TOKEN_PURGE, &v, 1, purged);
    if (s->drv->unlock_purge)
        s->drv->unlock_purge(c);
    return e;
}

/* Read first, called back after: a callback may delete these very rows. */
store_err store_token_beyond(store_t *s, int64_t user_id, int64_t app_id, int64_t now_ms, int64_t keep, int max,
                             store_token_cb cb, void *ctx)
{
    DB_OR_FAIL(s, c);
    dval v[] = {dv_int(user_id ? user_id : app_id), dv_int(now_ms), dv_int(keep), dv_int(max)};
    store_token *found = calloc((size_t)(max > 0 ? max : 1), sizeof *found);
    if (found == NULL)
        return STORE_ERROR;
    dcur cur;
    int n = 0;
    store_err e = db_rows(s, c, user_id ? Q_TOKEN_BEYOND : Q_TOKEN_BEYOND_APP, v, 4, &cur);
    if (e == STORE_OK) {
        while (n < max && s->drv->next(&cur))
            read_token(s, &cur, &found[n++]);
        e = s->drv->end(&cur);
    }
    for (int i = 0; e == STORE_OK && i < n; i++)
        cb(&found[i], ctx);
    free(found);
    return e;
}
