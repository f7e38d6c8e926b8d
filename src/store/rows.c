/*
 * rows.c — rows of any model (model/schema.h) queried with parsed filters
 * (model/filter.h), over the driver (driver.h). The SQL comes from sql.h:
 * identifiers only from the model definition, every value bound.
 */
#include <string.h>

#include "core/isodate.h"
#include "model/rowjson.h"
#include "store/domain.h"

/* Model queries run under server.queryTimeoutMs: the driver's deadline
 * where it keeps one per query (a driver without one bounds its own). */
static void budget_start(store_t *s, dconn *c)
{
    if (s->drv->budget)
        s->drv->budget(c, s->query_timeout_ms);
}

static store_err budget_end(store_t *s, dconn *c, store_err e)
{
    if (s->drv->budget)
        s->drv->budget(c, 0);
    return e;
}

/* The driver's cursor, read one cell at a time by model_row_json. */
typedef struct cursor_cells {
    const store_driver *d;
    dcur *cur;
} cursor_cells;

/* Cell i as the driver has it. A date kept as ms and a boolean property
 * are read as integers whatever the column says (rowjson.h's contract). */
static model_cell cursor_cell(void *ctx, size_t i, const model_prop *p)
{
    const cursor_cells *cc = ctx;
    const store_driver *d = cc->d;
    model_cell c = {.kind = MC_NULL};
    dkind k = d->kind(cc->cur, (int)i);
    if (k != DK_NULL && k != DK_BOOL && (p->ms_date || p->type == PT_BOOLEAN))
        k = DK_INT;
    switch (k) {
    case DK_NULL:
        break;
    case DK_BOOL:
    case DK_INT:
        c.kind = k == DK_BOOL ? MC_BOOL : MC_INT;
        c.i = d->col_int(cc->cur, (int)i);
        break;
    case DK_REAL:
        c.kind = MC_REAL;
        c.r = d->col_real(cc->cur, (int)i);
        break;
    case DK_TEXT:
        c.kind = MC_TEXT;
        c.text = d->col_text(cc->cur, (int)i, &c.len);
        break;
    }
    return c;
}

/* The current row, shaped by the model layer (model/rowjson.h) like every
 * other row the API shows; the extra column, when read, comes last. */
static json_t *read_row(const store_driver *d, dcur *cur, const sql_query *q)
{
    cursor_cells cc = {.d = d, .cur = cur};
    const char *extra = q->extra ? d->col_text(cur, (int)q->ncols, NULL) : NULL;
    return model_row_json(q->model, q->cols, q->ncols, cursor_cell, &cc, extra);
}

/* Runs a SELECT built by sql_build_select; cb gets (and owns) each row. */
static store_err query_rows(store_t *s, dconn *c, const sql_query *q, store_row_cb cb, void *ctx)
{
    const store_driver *d = s->drv;
    if (q->failed)
        return db_build_failed(s, q);
    dcur cur;
    store_err e = d->query(c, q, &cur, NULL);
    if (e != STORE_OK)
        return e;
    while (e == STORE_OK && d->next(&cur)) {
        json_t *row = read_row(d, &cur, q);
        if (row == NULL)
            e = STORE_ERROR;
        else
            cb(row, ctx);
    }
    store_err end = d->end(&cur);
    return e != STORE_OK ? e : end;
}

/* Runs a statement built by sql.h that returns no rows. */
static store_err run_built(store_t *s, dconn *c, const sql_query *q, int64_t *changes)
{
    if (changes)
        *changes = 0;
    return q->failed ? db_build_failed(s, q) : s->drv->query(c, q, NULL, changes);
}

store_err store_rows_find(store_t *s, const model_def *m, const filter *f, store_row_cb cb, void *ctx)
{
    DB_OR_FAIL(s, c);
    sql_query q;
    sql_query_init(&q, s->drv->dialect);
    budget_start(s, c);
    sql_build_select(&q, m, f);
    store_err e = query_rows(s, c, &q, cb, ctx);
    sql_query_free(&q);
    return budget_end(s, c, e);
}

store_err store_rows_count(store_t *s, const model_def *m, const fnode *where, int64_t *count)
{
    DB_OR_FAIL(s, c);
    const store_driver *d = s->drv;
    sql_query q;
    sql_query_init(&q, d->dialect);
    budget_start(s, c);
    *count = 0;
    store_err e = sql_build_count(&q, m, where) == 0 ? STORE_OK : db_build_failed(s, &q);
    dcur cur;
    if (e == STORE_OK)
        e = d->query(c, &q, &cur, NULL);
    if (e == STORE_OK) {
        bool row = d->next(&cur);
        int64_t n = row ? d->col_int(&cur, 0) : 0;
        e = d->end(&cur);
        if (e == STORE_OK && !row)
            e = STORE_ERROR;
        *count = e == STORE_OK ? n : 0;
    }
    sql_query_free(&q);
    return budget_end(s, c, e);
}

static void take_row(json_t *row, void *ctx)
{
    json_t **out = ctx;
    json_decref(*out);
    *out = row;
}

/* The stored row whose id is id (text ids: the value given on insert). */
static store_err fetch_row(store_t *s, dconn *c, const model_def *m, json_t *id, json_t **row)
{
    fnode eq = {.kind = FN_CMP, .prop = m->id, .op = OP_EQ, .value = id};
    filter f;
    memset(&f, 0, sizeof f);
    f.limit = -1;
    f.where = &eq;
    sql_query q;
    sql_query_init(&q, s->drv->dialect);
    *row = NULL;
    sql_build_select(&q, m, &f);
    store_err e = query_rows(s, c, &q, take_row, row);
    sql_query_free(&q);
    if (e == STORE_OK && *row == NULL)
        e = STORE_NOT_FOUND;
    return e;
}

/* The INSERT, and the id it stored: generated (RETURNING or the rowid),
 * or the text id given. */
static store_err insert_only(store_t *s, dconn *c, const model_def *m, const json_t *obj, json_t **id)
{
    const store_driver *d = s->drv;
    sql_query q;
    sql_query_init(&q, d->dialect);
    store_err e = sql_build_insert(&q, m, obj) == 0 ? STORE_OK : db_build_failed(s, &q);
    dcur cur;
    if (e == STORE_OK)
        e = d->query(c, &q, &cur, NULL);
    if (e != STORE_OK) {
        sql_query_free(&q);
        return e;
    }
    bool int_id = m->id && !m->id->id_is_text;
    d->next(&cur); /* SQLite runs it here, with q's values still bound */
    int64_t generated = int_id ? d->insert_id(&cur) : 0;
    e = d->end(&cur);
    sql_query_free(&q);
    if (e == STORE_OK && m->id)
        *id = int_id ? json_integer(generated) : json_incref(json_object_get(obj, m->id->name));
    if (e == STORE_OK && int_id && d->id_chosen && json_object_get(obj, m->id->name))
        e = d->id_chosen(c, m);
    return e;
}

/*
 * Inserts one row and, when row is not NULL, reads it back whole (defaults
 * and the generated id included). Inside a transaction of the caller (a bulk
 * load) it joins that; otherwise insert and read run in one of their own.
 */
store_err store_rows_insert(store_t *s, const model_def *m, const json_t *obj, json_t **row)
{
    DB_OR_FAIL(s, c);
    json_t *full = sql_insert_values(m, obj);
    if (full == NULL)
        return STORE_ERROR;
    bool own = !s->drv->in_transaction(c);
    store_err e = own ? db_begin(s, c) : STORE_OK;
    json_t *id = NULL;
    if (e == STORE_OK)
        e = insert_only(s, c, m, full, &id);
    if (e == STORE_OK && row && id)
        e = fetch_row(s, c, m, id, row);
    json_decref(id);
    if (own)
        e = db_finish(s, c, e);
    if (e != STORE_OK && row) {
        json_decref(*row);
        *row = NULL;
    }
    json_decref(full);
    return e;
}

store_err store_rows_update(store_t *s, const model_def *m, const fnode *where, const json_t *patch,
                            int64_t *count)
{
    DB_OR_FAIL(s, c);
    sql_query q;
    sql_query_init(&q, s->drv->dialect);
    budget_start(s, c);
    sql_build_update(&q, m, where, patch);
    store_err e = run_built(s, c, &q, count);
    sql_query_free(&q);
    return budget_end(s, c, e);
}

/*
 * Before deleting tokens — directly, or through their user (ON DELETE
 * CASCADE) — log the revocations, as token_delete does, so every process
 * evicts them from its token cache. Part of the deleting transaction.
 */
static store_err log_row_revocations(store_t *s, dconn *c, const model_def *m, const fnode *where)
{
    sql_query q;
    sql_query_init(&q, s->drv->dialect);
    int built = sql_build_revocation_log(&q, m, where, iso_now_ms());
    int64_t logged = 0;
    store_err e = built > 0 ? run_built(s, c, &q, &logged) : built == 0 ? STORE_OK : db_build_failed(s, &q);
    sql_query_free(&q);
    return e == STORE_OK && logged > 0 && s->drv->notify ? s->drv->notify(c) : e;
}

store_err store_rows_delete(store_t *s, const model_def *m, const fnode *where, int64_t *count)
{
    DB_OR_FAIL(s, c);
    bool own = !s->drv->in_transaction(c);
    store_err e = own ? db_begin(s, c) : STORE_OK;
    budget_start(s, c);
    if (e == STORE_OK)
        e = log_row_revocations(s, c, m, where);
    sql_query q;
    sql_query_init(&q, s->drv->dialect);
    sql_build_delete(&q, m, where);
    if (e == STORE_OK)
        e = run_built(s, c, &q, count);
    sql_query_free(&q);
    e = budget_end(s, c, e);
    return own ? db_finish(s, c, e) : e;
}
