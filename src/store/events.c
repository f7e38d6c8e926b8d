/*
 * events.c — the revocation log (store.h), over the driver (driver.h).
 */
#include "core/isodate.h"
#include "store/domain.h"
#include "store/queries.h"

store_err events_log(store_t *s, dconn *c, store_ev_kind kind, const store_hash *h, int64_t user_id)
{
    dval v[] = {dv_int(kind), dv_blob(h ? h->b : NULL, STORE_HASH_LEN), dv_int_or_null(user_id),
                dv_int(iso_now_ms())};
    store_err e = db_run(s, c, Q_EVENT_INSERT, v, 4, NULL);
    return e == STORE_OK && s->drv->notify ? s->drv->notify(c) : e;
}

store_err store_events_since(store_t *s, int64_t seq, store_event_cb cb, void *ctx, int64_t *last_seq)
{
    DB_OR_FAIL(s, c);
    dval v = dv_int(seq);
    dcur cur;
    *last_seq = seq;
    store_err e = db_rows(s, c, Q_EVENTS_SINCE, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    while (s->drv->next(&cur)) {
        store_event ev = {0};
        ev.seq = s->drv->col_int(&cur, 0);
        ev.kind = (store_ev_kind)s->drv->col_int(&cur, 1);
        ev.has_keep = s->drv->col_blob(&cur, 2, ev.hash.b, STORE_HASH_LEN) && ev.kind == STORE_EV_USER;
        ev.user_id = s->drv->col_int(&cur, 3);
        *last_seq = ev.seq;
        if (cb)
            cb(&ev, ctx);
    }
    return s->drv->end(&cur);
}

store_err store_events_trim(store_t *s, int64_t older_than_ms)
{
    DB_OR_FAIL(s, c);
    dval v = dv_int(older_than_ms);
    return db_run(s, c, Q_EVENTS_TRIM, &v, 1, NULL);
}

bool store_can_wait(const store_t *s)
{
    return s->drv->events_wait != NULL;
}

store_err store_events_wait(store_t *s, int timeout_ms)
{
    return s->drv->events_wait(s, timeout_ms);
}
