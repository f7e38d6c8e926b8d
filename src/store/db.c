/*
 * db.c — the few steps every domain file of the store takes over the driver:
 * a fixed statement run or opened, a transaction begun and finished, a
 * column copied, a failed build logged.
 */
#include <stdio.h>

#include "core/log.h"
#include "store/driver.h"
#include "store/queries.h"

static dstmt stmt_of(const store_t *s, int id)
{
    return (dstmt){id, query_text(s->drv->dialect, (enum stmt_id)id)};
}

store_err db_run(store_t *s, dconn *c, int id, const dval *v, int n, int64_t *changes)
{
    dstmt st = stmt_of(s, id);
    return s->drv->run(c, &st, v, n, NULL, changes);
}

store_err db_rows(store_t *s, dconn *c, int id, const dval *v, int n, dcur *cur)
{
    dstmt st = stmt_of(s, id);
    return s->drv->run(c, &st, v, n, cur, NULL);
}

store_err db_build_failed(const store_t *s, const sql_query *q)
{
    log_error("%s: %s", s->drv->name, q->err);
    return STORE_ERROR;
}

store_err db_begin(store_t *s, dconn *c)
{
    return s->drv->begin(c);
}

store_err db_finish(store_t *s, dconn *c, store_err e)
{
    return s->drv->finish(c, e);
}

void db_copy(store_t *s, dcur *cur, int col, char *dst, size_t cap)
{
    const char *t = s->drv->col_text(cur, col, NULL);
    snprintf(dst, cap, "%s", t ? t : "");
}

/* ---- counted statements (store.h) ---- */

static _Thread_local bool counting;
static uint64_t counted; /* atomic */

void store_count_this_thread(bool on)
{
    counting = on;
}

void db_counted(void)
{
    if (counting)
        __atomic_add_fetch(&counted, 1, __ATOMIC_RELAXED);
}

uint64_t store_counted_statements(void)
{
    return __atomic_load_n(&counted, __ATOMIC_RELAXED);
}
