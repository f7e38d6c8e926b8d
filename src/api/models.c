/*
 * models.c — LoopBack's PersistedModel REST routes, for every model.
 *
 *   POST   /M              create            GET  /M/{id}         findById
 *   GET    /M              find              HEAD /M/{id}         exists
 *   PUT    /M              replaceOrCreate   GET  /M/{id}/exists  exists
 *   PATCH  /M              patchOrCreate     PUT  /M/{id}         replaceById
 *   GET    /M/count        count             PATCH /M/{id}        patchAttributes
 *   GET    /M/findOne      findOne           DELETE /M/{id}       deleteById
 *   POST   /M/update       updateAll         POST /M/{id}/replace replaceById
 *   POST   /M/replaceOrCreate replaceOrCreate
 *   POST   /M/upsertWithWhere upsertWithWhere
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/engine.h"
#include "api/app.h"

static store_t *store_of(const mreq *q) { return q->c->app->store; }

/* Built-in models whose writes mean more than a row change refuse the
 * generic ones they cannot honour (a password, a token's secret): false
 * with the 405 answered. */
static bool generic_write_or_reply(mreq *q)
{
    const char *why = eng_hooks(q->m)->refuse_write;
    if (why)
        res_error(q->res, 405, "METHOD_NOT_ALLOWED", "%s", why);
    return why == NULL;
}

/* The stored row for a new or changed id, answered as JSON. */
static void answer_row(mreq *q, int status)
{
    if (eng_load_or_reply(q)) {
        res_json(q->res, status, q->instance);
        q->instance = NULL;
        q->instance_loaded = false;
    }
}

/* ---- collection ---------------------------------------------------------- */

/* Filters and wheres are read only once the ACL allowed the call, on every
 * route: a refused caller gets its 401/403 and costs no parsing. */

static void find_rows(api_call *c, const char *const *args, const char *method, bool one)
{
    mreq q;
    filter f;
    if (eng_begin_or_reply(&q, c, args[0], NULL) && eng_allow_or_reply(&q, method) && eng_filter_or_reply(&q, &f)) {
        eng_reply_find(&q, &f, one);
        filter_free(&f);
    }
    eng_end(&q);
}

void api_model_find(api_call *c, const char *const *args)
{
    find_rows(c, args, "find", false);
}

void api_model_find_one(api_call *c, const char *const *args)
{
    find_rows(c, args, "findOne", true);
}

void api_model_count(api_call *c, const char *const *args)
{
    mreq q;
    fnode *where;
    if (eng_begin_or_reply(&q, c, args[0], NULL) && eng_allow_or_reply(&q, "count") && eng_where_or_reply(&q, &where)) {
        int64_t n = 0;
        store_err e = store_rows_count(store_of(&q), q.m, where, &n);
        if (e == STORE_OK)
            res_json(q.res, 200, json_pack("{s:I}", "count", (json_int_t)n));
        else
            eng_reply_store_error(&q, e, NULL);
        fnode_free(where);
    }
    eng_end(&q);
}


void api_model_create(api_call *c, const char *const *args)
{
    mreq q;
    if (!eng_begin_or_reply(&q, c, args[0], NULL))
        return;
    json_t *body = eng_body_or_reply(&q);
    if (body && eng_allow_create_or_reply(&q, "create", body)) {
        const model_hooks *h = eng_hooks(q.m);
        if (h->create)
            h->create(&q, body);
        else if (generic_write_or_reply(&q))
            eng_reply_insert(&q, body);
    }
    json_decref(body);
    eng_end(&q);
}

/* Writes body over the row q->id names: all properties (replace) or those given. */
static void update_one(mreq *q, const json_t *body, body_mode mode)
{
    json_t *values = eng_validate_or_reply(q, body, mode);
    if (values == NULL)
        return;
    if (!eng_owner_allowed_or_reply(q, values)) {
        json_decref(values);
        return;
    }
    /* a replace that leaves the owner key out keeps the owner: a client
     * that never saw the key must not hand the row to nobody */
    const model_prop *fk = q->m->owner_fk;
    if (mode == BODY_REPLACE && fk && json_object_get(body, fk->name) == NULL)
        json_object_del(values, fk->name);
    fnode *where = eng_id_where_or_reply(q);
    int64_t n = 0;
    store_err e = where ? store_rows_update(store_of(q), q->m, where, values, &n) : STORE_NOT_FOUND;
    fnode_free(where);
    if (e == STORE_OK && n == 0)
        e = STORE_NOT_FOUND;
    if (e == STORE_OK) {
        eng_after_write(q, WROTE_THIS_ROW);
        answer_row(q, 200);
    } else {
        eng_reply_store_error(q, e, values);
    }
    json_decref(values);
}

/* A row's id as the {id} segment would name it; "" when it has none. */
static void id_text(const json_t *id, char *buf, size_t cap)
{
    long long idnum;
    buf[0] = '\0';
    if (model_key_value(id, &idnum))
        snprintf(buf, cap, "%lld", idnum);
    else if (json_is_string(id))
        snprintf(buf, cap, "%s", json_string_value(id));
}

/*
 * PUT and PATCH on the collection (and POST /M/replaceOrCreate, LoopBack's
 * first route for it): with an id of an existing row, replace or patch it
 * (the caller must be allowed that on that row); otherwise create.
 */
static void upsert(api_call *c, const char *const *args, bool put)
{
    mreq q;
    if (!eng_begin_or_reply(&q, c, args[0], NULL))
        return;
    const char *method = put ? "replaceOrCreate" : "patchOrCreate";
    json_t *body = eng_body_or_reply(&q);
    if (body == NULL)
        goto out;
    if (eng_hooks(q.m)->refuse_write) {
        if (eng_allow_or_reply(&q, method))
            generic_write_or_reply(&q);
        goto out;
    }
    char idtext[64];
    if (!eng_body_id_or_reply(&q, body))
        goto out;
    id_text(json_object_get(body, "id"), idtext, sizeof idtext);
    q.id = idtext[0] ? idtext : NULL;
    bool exists = q.id && eng_fetch(&q) == STORE_OK;
    json_t *rest = json_deep_copy(body);
    json_object_del(rest, "id");
    if (exists) {
        if (eng_allow_or_reply(&q, method))
            update_one(&q, rest, put ? BODY_REPLACE : BODY_PATCH);
    } else if (eng_allow_create_or_reply(&q, method, rest)) {
        q.id = NULL;
        eng_reply_insert(&q, rest);
    }
    json_decref(rest);
out:
    json_decref(body);
    eng_end(&q);
}

void api_model_upsert(api_call *c, const char *const *args)
{
    upsert(c, args, strcmp(c->r->method, "PUT") == 0);
}

void api_model_replace_or_create(api_call *c, const char *const *args)
{
    upsert(c, args, true);
}

/* Keeps the first two rows' ids: one is the row to patch, two too many. */
static void keep_ids(json_t *row, void *ctx)
{
    json_t *ids = ctx;
    if (json_array_size(ids) < 2)
        json_array_append(ids, json_object_get(row, "id"));
    json_decref(row);
}

/*
 * POST /M/upsertWithWhere?where=...: LoopBack's upsertWithWhere. No row
 * matches: create one from the body; one: patch it; more: 400, as LoopBack
 * refuses to pick one.
 */
void api_model_upsert_with_where(api_call *c, const char *const *args)
{
    mreq q;
    filter f;
    filter_init(&f);
    json_t *body = NULL, *ids = json_array();
    if (!eng_begin_or_reply(&q, c, args[0], NULL) || !eng_allow_or_reply(&q, "upsertWithWhere") ||
        !eng_where_or_reply(&q, &f.where) || (body = eng_body_or_reply(&q)) == NULL || !generic_write_or_reply(&q) ||
        !eng_body_id_or_reply(&q, body))
        goto out;
    f.limit = 2;
    store_err e = store_rows_find(store_of(&q), q.m, &f, keep_ids, ids);
    char idtext[64];
    if (e != STORE_OK) {
        eng_reply_store_error(&q, e, NULL);
    } else if (json_array_size(ids) > 1) {
        res_error(q.res, 400, "MULTIPLE_INSTANCES",
                  "There are multiple instances found. Upsert Operation will not be performed!");
    } else if (json_array_size(ids) == 1) {
        json_object_del(body, "id");
        id_text(json_array_get(ids, 0), idtext, sizeof idtext);
        q.id = idtext;
        update_one(&q, body, BODY_PATCH);
    } else if (eng_allow_create_or_reply(&q, "upsertWithWhere", body)) {
        json_object_del(body, "id");
        eng_reply_insert(&q, body);
    }
out:
    json_decref(ids);
    json_decref(body);
    filter_free(&f);
    eng_end(&q);
}

void api_model_update_all(api_call *c, const char *const *args)
{
    mreq q;
    fnode *where = NULL;
    if (!eng_begin_or_reply(&q, c, args[0], NULL) || !eng_allow_or_reply(&q, "updateAll") || !eng_where_or_reply(&q, &where))
        goto out;
    json_t *body = eng_body_or_reply(&q);
    if (body && generic_write_or_reply(&q)) {
        json_t *values = eng_validate_or_reply(&q, body, BODY_PATCH);
        if (values && !eng_owner_allowed_or_reply(&q, values)) {
            json_decref(values);
            values = NULL;
        }
        int64_t n = 0;
        store_err e = values ? store_rows_update(store_of(&q), q.m, where, values, &n) : STORE_OK;
        if (values && e == STORE_OK) {
            eng_after_write(&q, WROTE_ROWS);
            res_json(q.res, 200, json_pack("{s:I}", "count", (json_int_t)n));
        } else if (values) {
            eng_reply_store_error(&q, e, values);
        }
        json_decref(values);
    }
    json_decref(body);
out:
    fnode_free(where);
    eng_end(&q);
}

/* ---- one instance -------------------------------------------------------- */

void api_model_find_by_id(api_call *c, const char *const *args)
{
    mreq q;
    if (eng_begin_or_reply(&q, c, args[0], args[1]))
        eng_reply_find_by_id(&q, true);
    eng_end(&q);
}

static bool instance_exists_or_reply(mreq *q, bool *exists)
{
    if (!eng_allow_or_reply(q, "exists"))
        return false;
    fnode *where = filter_id_equals(q->m, q->id);
    int64_t n = 0;
    store_err e = where ? store_rows_count(store_of(q), q->m, where, &n) : STORE_OK;
    fnode_free(where);
    if (e != STORE_OK) {
        eng_reply_store_error(q, e, NULL);
        return false;
    }
    *exists = n > 0;
    return true;
}

void api_model_exists(api_call *c, const char *const *args)
{
    mreq q;
    bool exists;
    if (eng_begin_or_reply(&q, c, args[0], args[1]) && instance_exists_or_reply(&q, &exists))
        res_json(q.res, 200, json_pack("{s:b}", "exists", exists));
    eng_end(&q);
}

/* HEAD /M/{id}: 200 when the instance exists, 404 when not; no body. */
void api_model_head(api_call *c, const char *const *args)
{
    mreq q;
    bool exists;
    if (eng_begin_or_reply(&q, c, args[0], args[1]) && instance_exists_or_reply(&q, &exists)) {
        if (exists)
            res_json(q.res, 200, json_pack("{s:b}", "exists", true));
        else
            eng_reply_not_found(&q);
    }
    eng_end(&q);
}

static void write_instance(api_call *c, const char *const *args, const char *method, body_mode mode)
{
    mreq q;
    if (!eng_begin_or_reply(&q, c, args[0], args[1]))
        return;
    json_t *body = eng_body_or_reply(&q);
    if (body && eng_allow_or_reply(&q, method) && generic_write_or_reply(&q) && eng_body_id_or_reply(&q, body)) {
        json_object_del(body, "id");
        update_one(&q, body, mode);
    }
    json_decref(body);
    eng_end(&q);
}

void api_model_replace(api_call *c, const char *const *args)
{
    write_instance(c, args, "replaceById", BODY_REPLACE);
}

void api_model_patch(api_call *c, const char *const *args)
{
    write_instance(c, args, "patchAttributes", BODY_PATCH);
}

void api_model_delete(api_call *c, const char *const *args)
{
    mreq q;
    if (!eng_begin_or_reply(&q, c, args[0], args[1]) || !eng_allow_or_reply(&q, "deleteById"))
        goto out;
    fnode *where = eng_id_where_or_reply(&q);
    if (where == NULL)
        goto out;
    const model_hooks *h = eng_hooks(q.m);
    if (h->delete)
        h->delete(&q, where);
    else
        eng_reply_delete(&q, where);
    fnode_free(where);
out:
    eng_end(&q);
}
