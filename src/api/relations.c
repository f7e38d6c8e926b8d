/*
 * relations.c — belongsTo and hasMany: the relation routes
 * (GET/POST/DELETE /M/{id}/REL, GET /M/{id}/REL/count,
 * GET/PUT/DELETE /M/{id}/REL/{fk}) and `include`.
 *
 * Access to a relation route is the source model's method __VERB__REL, as in
 * LoopBack. Including a relation in a find also needs the caller to be
 * allowed `find` on the related model: an include must not read what a
 * direct query could not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/engine.h"
#include "api/app.h"

static store_t *store_of(const mreq *q) { return q->c->app->store; }

/* A where tree from a JSON where object built here (never from user text). */
static fnode *where_of(const model_def *m, json_t *json)
{
    fnode *w = NULL;
    char err[160];
    if (filter_parse_where(m, json, &w, err, sizeof err) != 0)
        w = NULL;
    json_decref(json);
    return w;
}

/* ---- include ------------------------------------------------------------ */

/*
 * Rows are matched to related rows by sorting both sides' keys, not by
 * comparing every pair: a page of 10 000 rows against as many related ones
 * would otherwise cost 10^8 comparisons, outside any query's time budget.
 */
typedef struct keyed {
    const json_t *key;   /* a number or a string                    */
    json_t *row;
    size_t at;           /* position in the input: equal keys keep their order */
} keyed;

/* Numbers before strings; numbers by value, strings by bytes. */
static int key_cmp(const json_t *a, const json_t *b)
{
    if (json_is_number(a) != json_is_number(b))
        return json_is_number(a) ? -1 : 1;
    if (json_is_number(a)) {
        double x = json_number_value(a), y = json_number_value(b);
        return (x > y) - (x < y);
    }
    return strcmp(json_string_value(a), json_string_value(b));
}

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = key_cmp(a->key, b->key);
    return c ? c : (a->at > b->at) - (a->at < b->at);
}

/* The rows whose `key` is a number or a string, sorted by it; *n gets how many. */
static keyed *sorted_by(json_t *rows, const char *key, size_t *n)
{
    keyed *k = malloc((json_array_size(rows) + 1) * sizeof *k);
    size_t i;
    json_t *row;
    *n = 0;
    if (k == NULL)
        return NULL;
    json_array_foreach(rows, i, row) {
        json_t *v = json_object_get(row, key);
        if (json_is_number(v) || json_is_string(v))
            k[(*n)++] = (keyed){v, row, i};
    }
    qsort(k, *n, sizeof *k, keyed_cmp);
    return k;
}

/* The distinct values of key across rows, as a JSON array (NULL: no memory). */
static json_t *values_of(json_t *rows, const char *key)
{
    size_t n;
    keyed *k = sorted_by(rows, key, &n);
    json_t *out = k ? json_array() : NULL;
    for (size_t i = 0; out && i < n; i++)
        if (i == 0 || key_cmp(k[i - 1].key, k[i].key) != 0)
            json_array_append(out, (json_t *)k[i].key);
    free(k);
    return out;
}

static void append_row(json_t *row, void *ctx)
{
    json_array_append_new(ctx, row);
}

/* Related rows whose `key` is among vals[from, from + n), appended to out. */
static store_err fetch_chunk(mreq *q, const model_def *target, const char *key, json_t *vals, size_t from,
                             size_t n, json_t *out)
{
    json_t *chunk = json_array();
    for (size_t i = from; i < from + n; i++)
        json_array_append(chunk, json_array_get(vals, i));
    filter f;
    filter_init(&f);
    f.where = where_of(target, json_pack("{s:{s:o}}", key, "inq", chunk));
    store_err e = f.where ? store_rows_find(store_of(q), target, &f, append_row, out) : STORE_ERROR;
    filter_free(&f);
    return e;
}

/*
 * Related rows whose `key` is among vals. An inq takes at most
 * FILTER_MAX_LIST values, and a page of parents may name more (a find may
 * return up to FILTER_MAX_LIMIT rows), so the lookup runs in chunks.
 */
static bool fetch_related_or_reply(mreq *q, const model_def *target, const char *key, json_t *vals, json_t **out)
{
    *out = json_array();
    size_t total = json_array_size(vals);
    store_err e = STORE_OK;
    for (size_t from = 0; from < total && e == STORE_OK; from += FILTER_MAX_LIST) {
        size_t n = total - from < FILTER_MAX_LIST ? total - from : FILTER_MAX_LIST;
        e = fetch_chunk(q, target, key, vals, from, n, *out);
    }
    if (e != STORE_OK)
        api_reply_store_error(q->res, e);
    return e == STORE_OK;
}

/* The first of k[0..n) whose key is not below key. */
static size_t lower_bound(const keyed *k, size_t n, const json_t *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(k[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Puts into each row, under the relation's name, what matches it (related
 * rows in the order the store gave them). False when out of memory. */
static bool attach(json_t *rows, const model_rel *rel, json_t *related)
{
    bool belongs = rel->type == REL_BELONGS_TO;
    const char *mine = belongs ? rel->foreign_key : "id";
    const char *theirs = belongs ? rel->target->id->name : rel->foreign_key;
    size_t n, i;
    keyed *k = sorted_by(related, theirs, &n);
    json_t *row;
    if (k == NULL)
        return false;
    json_array_foreach(rows, i, row) {
        json_t *key = json_object_get(row, mine);
        json_t *found = belongs ? json_null() : json_array();
        bool keyed_row = json_is_number(key) || json_is_string(key);
        for (size_t j = keyed_row ? lower_bound(k, n, key) : n; j < n && key_cmp(k[j].key, key) == 0; j++) {
            if (belongs) {
                json_decref(found);
                found = json_incref(k[j].row);
                break;
            }
            json_array_append(found, k[j].row);
        }
        json_object_set_new(row, rel->name, found);
    }
    free(k);
    return true;
}

bool eng_include_or_reply(mreq *q, const filter *f, json_t *rows)
{
    for (int i = 0; i < f->ninclude; i++) {
        const model_rel *rel = f->include[i].rel;
        mreq t = {.c = q->c, .r = q->r, .res = q->res, .m = rel->target};
        if (!eng_allow_or_reply(&t, "find"))
            return false;
        if (eng_hooks(rel->target)->before_read)
            eng_hooks(rel->target)->before_read(q->c->app);
        bool belongs = rel->type == REL_BELONGS_TO;
        json_t *vals = values_of(rows, belongs ? rel->foreign_key : "id");
        json_t *related = NULL;
        bool ok = vals && fetch_related_or_reply(q, rel->target, belongs ? rel->target->id->name : rel->foreign_key,
                                        vals, &related);
        if (ok && !(ok = attach(rows, rel, related)))
            api_reply_store_error(q->res, STORE_ERROR);
        else if (!vals)
            api_reply_store_error(q->res, STORE_ERROR);
        json_decref(vals);
        json_decref(related);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- relation routes ---------------------------------------------------- */

/* Model, relation and parent instance of /M/{id}/REL, after the ACL check. */
static const model_rel *begin_relation_or_reply(mreq *q, api_call *c, const char *const *args, const char *verb)
{
    if (!eng_begin_or_reply(q, c, args[0], args[1]))
        return NULL;
    const model_rel *rel = model_rel_named(q->m, args[2]);
    if (rel == NULL) {
        res_no_method(c->res, c->r);
        return NULL;
    }
    char method[160];
    snprintf(method, sizeof method, "__%s__%s", verb, rel->name);
    if (eng_hooks(rel->target)->before_read)
        eng_hooks(rel->target)->before_read(c->app);
    if (!eng_allow_or_reply(q, method))
        return NULL;
    if (q->instance == NULL && !eng_load_or_reply(q))
        return NULL;
    return rel;
}

/* The where "fk = parent id" on the target of a hasMany. */
static fnode *children_of(const mreq *q, const model_rel *rel)
{
    json_t *id = json_object_get(q->instance, "id");
    return where_of(rel->target, json_pack("{s:O}", rel->foreign_key, id));
}

static bool writable_target_or_reply(mreq *q, const model_rel *rel)
{
    if (rel->type == REL_HAS_MANY && eng_hooks(rel->target)->relation_writes)
        return true;
    res_error(q->res, 405, "METHOD_NOT_ALLOWED", "relation %s cannot be written through this route", rel->name);
    return false;
}

void api_rel_get(api_call *c, const char *const *args)
{
    mreq q;
    const model_rel *rel = begin_relation_or_reply(&q, c, args, "get");
    if (rel && rel->type == REL_BELONGS_TO) {
        mreq t = {.c = c, .r = c->r, .res = c->res, .m = rel->target};
        json_t *fk = json_object_get(q.instance, rel->foreign_key);
        char id[64] = "";
        long long key;
        if (model_key_value(fk, &key)) /* a stored 1e300 names no row: 404 */
            snprintf(id, sizeof id, "%lld", key);
        t.id = id;
        /* the related row is read as the target model's findById would be */
        if (eng_allow_or_reply(&t, "findById") && eng_load_or_reply(&t)) {
            res_json(q.res, 200, t.instance);
            t.instance = NULL;
        }
        eng_end(&t);
    } else if (rel) {
        mreq t = {.c = c, .r = c->r, .res = c->res, .m = rel->target};
        filter f;
        if (eng_filter_or_reply(&t, &f)) {
            f.where = filter_and(f.where, children_of(&q, rel));
            eng_reply_find(&t, &f, false);
            filter_free(&f);
        }
    }
    eng_end(&q);
}

void api_rel_count(api_call *c, const char *const *args)
{
    mreq q;
    const model_rel *rel = begin_relation_or_reply(&q, c, args, "count");
    if (rel && rel->type != REL_HAS_MANY) {
        res_error(q.res, 404, "NOT_FOUND", "relation %s is not a list", rel->name);
    } else if (rel) {
        mreq t = {.c = c, .r = c->r, .res = c->res, .m = rel->target};
        fnode *where;
        if (eng_where_or_reply(&t, &where)) {
            where = filter_and(where, children_of(&q, rel));
            int64_t n = 0;
            store_err e = store_rows_count(store_of(&q), rel->target, where, &n);
            if (e == STORE_OK)
                res_json(q.res, 200, json_pack("{s:I}", "count", (json_int_t)n));
            else
                api_reply_store_error(q.res, e);
            fnode_free(where);
        }
    }
    eng_end(&q);
}

void api_rel_create(api_call *c, const char *const *args)
{
    mreq q;
    const model_rel *rel = begin_relation_or_reply(&q, c, args, "create");
    if (rel && writable_target_or_reply(&q, rel)) {
        mreq t = {.c = c, .r = c->r, .res = c->res, .m = rel->target};
        json_t *body = eng_body_or_reply(&t);
        if (body) {
            json_object_set(body, rel->foreign_key, json_object_get(q.instance, "id"));
            eng_reply_insert(&t, body);
        }
        json_decref(body);
    }
    eng_end(&q);
}

void api_rel_delete(api_call *c, const char *const *args)
{
    mreq q;
    const model_rel *rel = begin_relation_or_reply(&q, c, args, "delete");
    if (rel && writable_target_or_reply(&q, rel)) {
        fnode *where = children_of(&q, rel);
        int64_t n = 0;
        store_err e = store_rows_delete(store_of(&q), rel->target, where, &n);
        mreq t = {.c = c, .r = c->r, .res = c->res, .m = rel->target};
        if (e == STORE_OK) {
            eng_after_write(&t, WROTE_ROWS);
            res_no_content(q.res);
        }
        else
            api_reply_store_error(q.res, e);
        fnode_free(where);
    }
    eng_end(&q);
}

/* ---- one related instance: /M/{id}/REL/{fk} ------------------------------ */

/*
 * A hasMany's related row by its id, within the parent: LoopBack's
 * __findById__REL, __updateById__REL, __destroyById__REL. The where ties the
 * row to the parent too, so a row of another parent is a 404, never a reach
 * across. *t is set up as the target model's request for that row.
 */
static fnode *related_row_or_reply(mreq *q, mreq *t, api_call *c, const char *const *args, const char *verb,
                                   const model_rel **out)
{
    const model_rel *rel = begin_relation_or_reply(q, c, args, verb);
    *t = (mreq){.c = c, .r = c->r, .res = c->res, .id = args[3]};
    if (rel == NULL)
        return NULL;
    t->m = rel->target;
    if (rel->type != REL_HAS_MANY) {
        res_error(c->res, 404, "NOT_FOUND", "relation %s is not a list", rel->name);
        return NULL;
    }
    fnode *id = eng_id_where_or_reply(t);
    *out = rel;
    return id ? filter_and(children_of(q, rel), id) : NULL;
}

void api_rel_get_one(api_call *c, const char *const *args)
{
    mreq q, t;
    const model_rel *rel;
    fnode *where = related_row_or_reply(&q, &t, c, args, "findById", &rel);
    filter f;
    if (where && eng_filter_or_reply(&t, &f)) {
        f.where = filter_and(f.where, where);
        where = NULL;
        eng_reply_find(&t, &f, true);
        filter_free(&f);
    }
    fnode_free(where);
    eng_end(&t);
    eng_end(&q);
}

void api_rel_update_one(api_call *c, const char *const *args)
{
    mreq q, t;
    const model_rel *rel = NULL;
    fnode *where = related_row_or_reply(&q, &t, c, args, "updateById", &rel);
    json_t *body = NULL, *values = NULL;
    if (where == NULL || !writable_target_or_reply(&q, rel) || (body = eng_body_or_reply(&t)) == NULL)
        goto out;
    json_object_del(body, "id");
    json_object_set(body, rel->foreign_key, json_object_get(q.instance, "id")); /* stays this parent's */
    values = eng_validate_or_reply(&t, body, BODY_PATCH);
    if (values == NULL || !eng_owner_allowed_or_reply(&t, values))
        goto out;
    int64_t n = 0;
    store_err e = store_rows_update(store_of(&t), t.m, where, values, &n);
    if (e == STORE_OK && n == 0) {
        eng_reply_not_found(&t);
    } else if (e != STORE_OK) {
        eng_reply_store_error(&t, e, values);
    } else {
        eng_after_write(&t, WROTE_THIS_ROW);
        if (eng_load_or_reply(&t)) {
            res_json(q.res, 200, t.instance);
            t.instance = NULL;
        }
    }
out:
    json_decref(values);
    json_decref(body);
    fnode_free(where);
    eng_end(&t);
    eng_end(&q);
}

void api_rel_delete_one(api_call *c, const char *const *args)
{
    mreq q, t;
    const model_rel *rel = NULL;
    fnode *where = related_row_or_reply(&q, &t, c, args, "destroyById", &rel);
    if (where && writable_target_or_reply(&q, rel)) {
        int64_t n = 0;
        store_err e = store_rows_delete(store_of(&t), t.m, where, &n);
        if (e == STORE_OK && n == 0) {
            eng_reply_not_found(&t);
        } else if (e != STORE_OK) {
            api_reply_store_error(q.res, e);
        } else {
            eng_after_write(&t, WROTE_THIS_ROW);
            res_no_content(q.res);
        }
    }
    fnode_free(where);
    eng_end(&t);
    eng_end(&q);
}
