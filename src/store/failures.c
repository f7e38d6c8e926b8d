/*
 * failures.c — failed logins counted per account (auth/throttle.c), over
 * the driver (driver.h).
 */
#include "store/domain.h"
#include "store/queries.h"

static dval dv_key(const uint8_t key[STORE_FAILURE_KEY_LEN])
{
    return dv_blob(key, STORE_FAILURE_KEY_LEN);
}

store_err store_failures_get(store_t *s, const uint8_t key[STORE_FAILURE_KEY_LEN], store_failures *out)
{
    DB_OR_FAIL(s, c);
    dval v = dv_key(key);
    dcur cur;
    *out = (store_failures){0, 0};
    store_err e = db_rows(s, c, Q_FAILURES_GET, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    if (s->drv->next(&cur))
        *out = (store_failures){s->drv->col_int(&cur, 0), s->drv->col_int(&cur, 1)};
    e = s->drv->end(&cur);
    if (e != STORE_OK)
        *out = (store_failures){0, 0};
    return e;
}

/* A row never counted ({0, 0}) is inserted, any other updated, each only
 * when nobody came first. */
store_err store_failures_cas(store_t *s, const uint8_t key[STORE_FAILURE_KEY_LEN],
                             const store_failures *old, const store_failures *new_)
{
    DB_OR_FAIL(s, c);
    bool absent = old->count == 0 && old->last_ms == 0;
    dval v[] = {dv_key(key), dv_int(old->count), dv_int(old->last_ms), dv_int(new_->count),
                dv_int(new_->last_ms)};
    int64_t n = 0;
    store_err e = db_run(s, c, absent ? Q_FAILURES_INSERT : Q_FAILURES_UPDATE, v, 5, &n);
    return e == STORE_OK && n == 0 ? STORE_STALE : e;
}

store_err store_failures_clear(store_t *s, const uint8_t key[STORE_FAILURE_KEY_LEN])
{
    DB_OR_FAIL(s, c);
    dval v = dv_key(key);
    return db_run(s, c, Q_FAILURES_CLEAR, &v, 1, NULL);
}

store_err store_failures_purge(store_t *s, int64_t older_than_ms)
{
    DB_OR_FAIL(s, c);
    dval v = dv_int(older_than_ms);
    return db_run(s, c, Q_FAILURES_PURGE, &v, 1, NULL);
}
