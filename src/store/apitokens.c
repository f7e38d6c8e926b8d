/*
 * apitokens.c — named API tokens (issue 14), over the driver (driver.h).
 *
 * A key is checked like an access token (auth/session.c: the memory cache,
 * the store on a miss), so every write that kills or changes a key logs its
 * hash in the revocation log in the same transaction: every instance's
 * cache forgets it, as it forgets a logged-out token.
 */
#include <stdlib.h>
#include <string.h>

#include "store/domain.h"
#include "store/queries.h"

static dval dv_key_hash(const store_hash *h)
{
    return dv_blob(h->b, STORE_HASH_LEN);
}

store_err store_apikey_insert(store_t *s, const store_apikey_new *k, int64_t *id)
{
    DB_OR_FAIL(s, c);
    int64_t expires = k->ttl < 0 ? 0 : k->created_ms + k->ttl * 1000;
    dval v[] = {dv_int(k->user_id), dv_text(k->name), dv_text_opt(k->description), dv_text(k->type),
                dv_text_opt(k->permissions), dv_text(k->prefix), dv_key_hash(&k->hash),
                dv_int(k->created_ms), dv_int(k->ttl), dv_int_or_null(expires)};
    dcur cur;
    *id = 0;
    store_err e = db_rows(s, c, Q_APIKEY_INSERT, v, 10, &cur);
    if (e == STORE_OK) {
        if (s->drv->next(&cur))
            *id = s->drv->col_int(&cur, 0);
        e = s->drv->end(&cur);
    }
    if (e == STORE_BAD_REFERENCE)
        return STORE_NOT_FOUND;
    return e == STORE_OK && *id == 0 ? STORE_ERROR : e;
}

store_err store_apikey_find(store_t *s, const store_hash *h, store_token *out, int64_t *id, char type[16],
                            char **permissions)
{
    DB_OR_FAIL(s, c);
    dval v = dv_key_hash(h);
    dcur cur;
    *permissions = NULL;
    store_err e = db_rows(s, c, Q_APIKEY_FIND, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    bool found = s->drv->next(&cur);
    if (found) {
        memset(out, 0, sizeof *out);
        out->hash = *h;
        *id = s->drv->col_int(&cur, 0);
        out->user_id = s->drv->col_int(&cur, 1);
        out->created_ms = s->drv->col_int(&cur, 2);
        out->ttl = s->drv->col_int(&cur, 3);
        out->last_used_ms = s->drv->col_int(&cur, 4);
        db_copy(s, &cur, 5, type, 16);
        const char *p = s->drv->col_text(&cur, 6, NULL);
        *permissions = p ? strdup(p) : NULL;
    }
    e = s->drv->end(&cur);
    if (e != STORE_OK || !found) {
        free(*permissions);
        *permissions = NULL;
    }
    return e == STORE_OK && !found ? STORE_NOT_FOUND : e;
}

/* Inside an open transaction: the hash of key id (of user_id unless 0). */
static store_err hash_of(store_t *s, dconn *c, int64_t id, int64_t user_id, store_hash *out)
{
    dval v[] = {dv_int(id), dv_int(user_id)};
    dcur cur;
    store_err e = db_rows(s, c, Q_APIKEY_HASH_OF, v, 2, &cur);
    if (e != STORE_OK)
        return e;
    bool found = s->drv->next(&cur) && s->drv->col_blob(&cur, 0, out->b, STORE_HASH_LEN);
    e = s->drv->end(&cur);
    return e == STORE_OK && !found ? STORE_NOT_FOUND : e;
}

store_err store_apikey_delete(store_t *s, int64_t id, int64_t user_id, store_hash *old)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    e = hash_of(s, c, id, user_id, old);
    dval v = dv_int(id);
    if (e == STORE_OK)
        e = db_run(s, c, Q_APIKEY_DELETE, &v, 1, NULL);
    if (e == STORE_OK)
        e = events_log(s, c, STORE_EV_TOKEN, old, 0);
    return db_finish(s, c, e);
}

store_err store_apikey_rehash(store_t *s, int64_t id, int64_t user_id, const store_hash *fresh,
                              const char *prefix, store_hash *old)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    e = hash_of(s, c, id, user_id, old);
    dval v[] = {dv_int(id), dv_key_hash(fresh), dv_text(prefix)};
    if (e == STORE_OK)
        e = db_run(s, c, Q_APIKEY_REHASH, v, 3, NULL);
    if (e == STORE_OK)
        e = events_log(s, c, STORE_EV_TOKEN, old, 0);
    return db_finish(s, c, e);
}

store_err store_apikey_changed(store_t *s, int64_t id, store_hash *h)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    e = hash_of(s, c, id, 0, h);
    if (e == STORE_OK)
        e = events_log(s, c, STORE_EV_TOKEN, h, 0);
    return db_finish(s, c, e);
}

store_err store_apikey_delete_user(store_t *s, int64_t user_id)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    dval v = dv_int(user_id);
    e = db_run(s, c, Q_APIKEY_DELETE_USER, &v, 1, NULL);
    if (e == STORE_OK)
        e = events_log(s, c, STORE_EV_USER, NULL, user_id);
    return db_finish(s, c, e);
}

store_err store_token_set_scopes(store_t *s, const store_hash *h, uint64_t scopes, const char *list)
{
    DB_OR_FAIL(s, c);
    dval v[] = {dv_key_hash(h), dv_int((int64_t)scopes), dv_text_opt(list)};
    int64_t n = 0;
    store_err e = db_run(s, c, Q_TOKEN_SET_SCOPES, v, 3, &n);
    return e == STORE_OK && n == 0 ? STORE_NOT_FOUND : e;
}

store_err store_token_scope_list(store_t *s, const store_hash *h, char **list)
{
    DB_OR_FAIL(s, c);
    dval v = dv_key_hash(h);
    dcur cur;
    *list = NULL;
    store_err e = db_rows(s, c, Q_TOKEN_SCOPE_LIST, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    bool found = s->drv->next(&cur);
    const char *t = found ? s->drv->col_text(&cur, 0, NULL) : NULL;
    *list = t ? strdup(t) : NULL;
    e = s->drv->end(&cur);
    if (e != STORE_OK) {
        free(*list);
        *list = NULL;
    }
    return e == STORE_OK && !found ? STORE_NOT_FOUND : e;
}
