/*
 * engine.c — the steps every model request shares: model, access, input.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/access.h"
#include "api/api.h"
#include "api/apitokens.h"
#include "api/engine.h"
#include "api/app.h"
#include "core/jtext.h"

static store_t *store_of(const mreq *q) { return q->c->app->store; }

static const model_hooks declared_hooks = {.cached = true, .relation_writes = true};

const model_hooks *eng_hooks(const model_def *m)
{
    static const model_hooks *const BY_KIND[] = {
        [MODEL_DECLARED] = &declared_hooks,
        [MODEL_USER] = &user_hooks,
        [MODEL_ACCESS_TOKEN] = &token_hooks,
        [MODEL_ROLE] = &role_hooks,
        [MODEL_ROLE_MAPPING] = &role_mapping_hooks,
        [MODEL_ACL] = &acl_hooks,
        [MODEL_APPLICATION] = &application_hooks,
        [MODEL_API_TOKEN] = &api_token_hooks,
    };
    return BY_KIND[m->kind];
}

bool eng_begin_or_reply(mreq *q, api_call *c, const char *plural, const char *id)
{
    const request *r = c->r;
    memset(q, 0, sizeof *q);
    q->c = c;
    q->r = c->r;
    q->res = c->res;
    q->id = id;
    q->m = models_by_plural(c->app->models, plural);
    if (q->m == NULL) {
        res_no_method(c->res, r);
        return false;
    }
    const model_hooks *h = eng_hooks(q->m);
    if (h->before_read && (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0))
        h->before_read(c->app);
    if (id && h->resolve_id)
        h->resolve_id(q);
    return true;
}

void eng_end(mreq *q)
{
    json_decref(q->instance);
    q->instance = NULL;
    free(q->cached.text);
    q->cached.text = NULL;
}

/* ---- access ------------------------------------------------------------- */

/* The user a row belongs to: its owner key, or a User's own id. */
static bool row_owner(const model_def *m, const json_t *row, int64_t *owner)
{
    const json_t *key = NULL;
    if (eng_hooks(m)->owner_is_id)
        key = json_object_get(row, "id");
    else if (m->owner_fk)
        key = json_object_get(row, m->owner_fk->name);
    if (!json_is_number(key))
        return false;
    double v = json_number_value(key);
    if (fabs(v) > 9e15 || v != (double)(int64_t)v) /* not an integer: no user's id */
        return false;
    *owner = (int64_t)v;
    return true;
}

static bool owns_row(const mreq *q, const json_t *row)
{
    int64_t me = q->c->who.user_id, owner;
    return me != 0 && row != NULL && row_owner(q->m, row, &owner) && owner == me;
}

/* $owner, asked only when a rule names it: it may cost one read. */
static bool instance_owner(void *ctx)
{
    mreq *q = ctx;
    if (q->id == NULL)
        return false;
    if (eng_hooks(q->m)->owner_is_id) { /* the id says it: no read */
        char me[24];
        snprintf(me, sizeof me, "%lld", (long long)q->c->who.user_id);
        return q->c->who.user_id != 0 && strcmp(q->id, me) == 0;
    }
    if (q->from_cache || (q->rows && (q->from_cache = rowcache_get(q->rows, q->m, q->id, &q->cached))))
        return q->c->who.user_id != 0 && q->cached.has_owner && q->cached.owner == q->c->who.user_id;
    if (!q->instance_loaded)
        eng_fetch(q); /* a missing row is no owner; the 404 comes later */
    return owns_row(q, q->instance);
}

static bool decide_or_reply(mreq *q, const char *method, acl_owner_fn owner, void *ctx)
{
    const app *a = q->c->app;
    switch (acl_check(a->acl, q->m, method, acl_access_of(method), &q->c->who, owner, ctx)) {
    case ACL_ALLOWED: /* an API token narrows it, never widens (apitokens.c) */
        return apitok_scope_or_reply(q->c, q->m, method);
    case ACL_UNAVAILABLE:
        api_reply_store_error(q->res, STORE_UNAVAILABLE);
        return false;
    case ACL_DENIED:
        break;
    }
    access_reply_denied(q->c);
    return false;
}

bool eng_allow_or_reply(mreq *q, const char *method)
{
    return decide_or_reply(q, method, instance_owner, q);
}

typedef struct create_owner {
    mreq *q;
    const json_t *body;
} create_owner;

/* On create the caller owns what it creates for itself: the owner key is
 * absent (it will be set to the caller) or already names the caller. */
static bool creator_owns(void *ctx)
{
    create_owner *c = ctx;
    const model_prop *fk = c->q->m->owner_fk;
    if (c->q->c->who.user_id == 0 || fk == NULL)
        return false;
    const json_t *v = json_object_get(c->body, fk->name);
    return v == NULL || json_is_null(v) ||
           (json_is_number(v) && json_number_value(v) == (double)c->q->c->who.user_id);
}

bool eng_allow_create_or_reply(mreq *q, const char *method, const json_t *body)
{
    create_owner c = {q, body};
    return decide_or_reply(q, method, creator_owns, &c);
}

/* ---- reading what the request names ------------------------------------- */

void eng_reply_not_found(mreq *q)
{
    api_reply_not_found(q->res, q->m->name, q->label ? q->label : q->id ? q->id : "");
}

fnode *eng_id_where_or_reply(mreq *q)
{
    fnode *w = q->id ? filter_id_equals(q->m, q->id) : NULL;
    if (w == NULL)
        eng_reply_not_found(q);
    return w;
}

static void keep_first(json_t *row, void *ctx)
{
    json_t **slot = ctx;
    if (*slot == NULL)
        *slot = row;
    else
        json_decref(row);
}

store_err eng_fetch(mreq *q)
{
    q->instance_loaded = true;
    json_decref(q->instance);
    q->instance = NULL;
    filter f;
    filter_init(&f);
    f.where = q->id ? filter_id_equals(q->m, q->id) : NULL;
    if (f.where == NULL)
        return STORE_NOT_FOUND;
    f.limit = 1;
    store_err e = store_rows_find(store_of(q), q->m, &f, keep_first, &q->instance);
    filter_free(&f);
    return e == STORE_OK && q->instance == NULL ? STORE_NOT_FOUND : e;
}

bool eng_load_or_reply(mreq *q)
{
    store_err e = eng_fetch(q);
    if (e == STORE_NOT_FOUND)
        eng_reply_not_found(q);
    else if (e != STORE_OK)
        api_reply_store_error(q->res, e);
    return e == STORE_OK;
}

/* The query's keys and values, as filter_from_query takes them. */
static json_t *query_json(mreq *q, const char *name, char *err, size_t errlen)
{
    const char *keys[REQ_MAX_QUERY], *vals[REQ_MAX_QUERY];
    int n = q->r->nquery;
    for (int i = 0; i < n; i++) {
        keys[i] = q->r->query[i].key;
        vals[i] = q->r->query[i].value;
    }
    return filter_from_query(name, keys, vals, n, err, errlen);
}

static bool reply_bad_filter(mreq *q, const char *err)
{
    res_error(q->res, 400, "INVALID_FILTER", "%s", err);
    return false;
}

bool eng_filter_or_reply(mreq *q, filter *f)
{
    char err[256];
    filter_init(f);
    json_t *j = query_json(q, "filter", err, sizeof err);
    if (j == NULL)
        return reply_bad_filter(q, err);
    int rc = filter_parse(q->m, j, f, err, sizeof err);
    json_decref(j);
    return rc == 0 ? true : reply_bad_filter(q, err);
}

bool eng_where_or_reply(mreq *q, fnode **where)
{
    char err[256];
    *where = NULL;
    json_t *j = query_json(q, "where", err, sizeof err);
    if (j == NULL)
        return reply_bad_filter(q, err);
    int rc = filter_parse_where(q->m, j, where, err, sizeof err);
    json_decref(j);
    return rc == 0 ? true : reply_bad_filter(q, err);
}

json_t *eng_body_or_reply(mreq *q)
{
    return req_body_object(q->r, q->res);
}

/* ---- answering ---------------------------------------------------------- */

/* Names the unique properties whose values already exist, as LoopBack does. */
static void unique_conflict(mreq *q, const json_t *values)
{
    validation v;
    validation_init(&v);
    for (size_t i = 0; i < q->m->nprops; i++) {
        const model_prop *p = &q->m->props[i];
        json_t *val = values ? json_object_get(values, p->name) : NULL;
        if (p->unique && val)
            validation_add(&v, p->name, "uniqueness", "already exists", val);
    }
    const model_hooks *h = eng_hooks(q->m);
    if (!validation_failed(&v) && h->conflict_field)
        validation_add(&v, h->conflict_field, "uniqueness", h->conflict_message, NULL);
    if (!validation_failed(&v))
        validation_add(&v, "id", "uniqueness", "already exists", NULL);
    res_validation_finish(&v, q->m->name, q->res);
}

/* Names the foreign keys given, when one of them points nowhere. */
static void bad_reference(mreq *q, const json_t *values)
{
    validation v;
    validation_init(&v);
    for (size_t i = 0; i < q->m->nrels; i++) {
        const model_rel *rel = &q->m->rels[i];
        json_t *val = values ? json_object_get(values, rel->foreign_key) : NULL;
        if (rel->type == REL_BELONGS_TO && val && !json_is_null(val))
            validation_add(&v, rel->foreign_key, "reference", "names no existing row", val);
    }
    if (!validation_failed(&v))
        validation_add(&v, "id", "reference", "names no existing row", NULL);
    res_validation_finish(&v, q->m->name, q->res);
}

void eng_reply_store_error(mreq *q, store_err store_error, const json_t *values)
{
    if (store_error == STORE_BAD_REFERENCE)
        bad_reference(q, values);
    else if (store_error == STORE_CONFLICT)
        unique_conflict(q, values);
    else if (store_error == STORE_NOT_FOUND)
        eng_reply_not_found(q);
    else
        api_reply_store_error(q->res, store_error);
}

static void append_row(json_t *row, void *ctx)
{
    json_array_append_new(ctx, row);
}

/*
 * With `fields`, the store still returns the keys an include needs (the
 * foreign key, the id); once the include is done they go, so the answer has
 * exactly the fields asked for, plus the included relations.
 */
static void keep_requested(json_t *rows, const filter *f)
{
    if (f->fields == NULL || f->ninclude == 0)
        return;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(row, tmp, key, v) {
            bool keep = false;
            for (size_t k = 0; k < f->nfields && !keep; k++)
                keep = strcmp(f->fields[k]->name, key) == 0;
            for (int k = 0; k < f->ninclude && !keep; k++)
                keep = strcmp(f->include[k].rel->name, key) == 0;
            if (!keep)
                json_object_del(row, key);
        }
    }
}

void eng_reply_find(mreq *q, filter *f, bool one)
{
    if (one)
        f->limit = 1;
    json_t *rows = json_array();
    store_err e = store_rows_find(store_of(q), q->m, f, append_row, rows);
    if (e != STORE_OK) {
        json_decref(rows);
        eng_reply_store_error(q, e, NULL);
        return;
    }
    if (!eng_include_or_reply(q, f, rows)) {
        json_decref(rows);
        return;
    }
    keep_requested(rows, f);
    if (!one) {
        res_json(q->res, 200, rows);
        return;
    }
    json_t *first = json_array_get(rows, 0);
    if (first)
        res_json(q->res, 200, json_incref(first));
    else
        api_reply_not_found(q->res, q->m->name, q->label ? q->label : q->id ? q->id : "undefined");
    json_decref(rows);
}

/* ---- findById and the row cache ----------------------------------------- */

/*
 * A declared model's row read whole (no where, fields, include or order of
 * the client's) prints the same for every caller allowed to see it, so it
 * may be answered from the row cache. Built-in models are left out here:
 * tokens, roles and ACLs change through paths of their own, and accounts
 * have their own route and cache use (api/users.c).
 */
static rowcache *cache_for(const mreq *q, const filter *f)
{
    bool whole = f->where == NULL && f->norder == 0 && f->skip == 0 && f->fields == NULL &&
                 f->ninclude == 0;
    return whole && eng_hooks(q->m)->cached && q->id ? q->c->app->rows : NULL;
}

void eng_keep_answer(response *res, rowcache *rc, const model_def *m, const char *id, rowcache_ticket t)
{
    if (rc == NULL || res->status != 200 || !json_is_object(res->body))
        return;
    char *text = jtext_dump(res->body);
    if (text == NULL)
        return;
    size_t len = strlen(text);
    int64_t owner = 0;
    bool has_owner = row_owner(m, res->body, &owner);
    rowcache_put(rc, m, id, t, text, len, has_owner, owner);
    res_text(res, 200, text, len);
}

/*
 * The cache is asked after access is granted (or while deciding $owner),
 * so refused callers cost it nothing; the filter is read after access too.
 * While deciding, the cache may tell the row's owner whatever the filter
 * turns out to be; it answers the row only when the filter asks for it whole.
 */
void eng_reply_find_by_id(mreq *q, bool with_filter)
{
    q->rows = eng_hooks(q->m)->cached && q->id ? q->c->app->rows : NULL;
    filter f;
    if (!eng_allow_or_reply(q, "findById"))
        return;
    if (!with_filter)
        filter_init(&f);
    else if (!eng_filter_or_reply(q, &f))
        return;
    rowcache *rc = cache_for(q, &f);
    if (rc && (q->from_cache || (q->from_cache = rowcache_get(rc, q->m, q->id, &q->cached)))) {
        res_text(q->res, 200, q->cached.text, q->cached.len);
        q->cached.text = NULL;
        filter_free(&f);
        return;
    }
    rowcache_ticket t = rowcache_ticket_for(rc, q->m, q->id); /* before the read */
    fnode *id = eng_id_where_or_reply(q);
    if (id != NULL) {
        f.where = filter_and(f.where, id);
        eng_reply_find(q, &f, true);
        eng_keep_answer(q->res, rc, q->m, q->id, t);
    }
    filter_free(&f);
}

/*
 * Who a row belongs to is the caller's to say only for himself: a body
 * whose owner key names another user (other than `keep`, the row's owner
 * now, when there is one) is refused unless the caller is an admin, so no
 * one can plant rows in another user's owner-only space. A null owner key
 * names no one.
 */
static bool owner_allowed_or_reply(mreq *q, const json_t *values, const json_t *keep)
{
    const model_prop *fk = q->m->owner_fk;
    const json_t *v = fk ? json_object_get(values, fk->name) : NULL;
    long long who, now;
    if (v == NULL || json_is_null(v))
        return true;
    if (model_key_value(v, &who) && ((q->c->who.user_id != 0 && who == q->c->who.user_id) ||
                                     (model_key_value(keep, &now) && who == now)))
        return true;
    if (access_has_role(q->c, "admin"))
        return true;
    res_error(q->res, 403, "OWNER_MISMATCH", "%s may name only the caller as owner (%s); only an admin may name another user",
              q->m->name, fk->name);
    return false;
}

bool eng_owner_allowed_or_reply(mreq *q, const json_t *values)
{
    const model_prop *fk = q->m->owner_fk;
    const json_t *v = fk ? json_object_get(values, fk->name) : NULL;
    if (v == NULL || json_is_null(v) || q->id == NULL)
        return owner_allowed_or_reply(q, values, NULL);
    /* a change by id may keep the row's present owner */
    if (!q->instance_loaded)
        eng_fetch(q); /* a missing row: the update answers its 404 */
    return owner_allowed_or_reply(q, values, q->instance ? json_object_get(q->instance, fk->name) : NULL);
}

void eng_reply_insert(mreq *q, const json_t *body)
{
    json_t *values = eng_validate_or_reply(q, body, BODY_CREATE);
    if (values == NULL)
        return;
    if (!owner_allowed_or_reply(q, values, NULL)) {
        json_decref(values);
        return;
    }
    eng_default_owner(q, values);
    json_t *row = NULL;
    store_err e = store_rows_insert(store_of(q), q->m, values, &row);
    if (e == STORE_OK) {
        eng_after_write(q, WROTE_NEW_ROW);
        res_json(q->res, 200, row);
    } else {
        eng_reply_store_error(q, e, values);
    }
    json_decref(values);
}

void eng_reply_delete(mreq *q, const fnode *where)
{
    int64_t n = 0;
    store_err e = store_rows_delete(store_of(q), q->m, where, &n);
    if (e == STORE_OK) {
        eng_after_write(q, WROTE_THIS_ROW);
        res_json(q->res, 200, json_pack("{s:I}", "count", (json_int_t)n));
    } else {
        eng_reply_store_error(q, e, NULL);
    }
}

void eng_after_write(mreq *q, eng_wrote what)
{
    const model_hooks *h = eng_hooks(q->m);
    if (h->after_write)
        h->after_write(q, what);
    if (what == WROTE_ROWS)
        rowcache_forget(q->c->app->rows, q->m, NULL);
    else if (what == WROTE_THIS_ROW)
        rowcache_forget(q->c->app->rows, q->m, q->id);
}

/* ---- bodies ------------------------------------------------------------- */

/* Sets the owner key of a new row to the caller when the body leaves it out. */
void eng_default_owner(mreq *q, json_t *values)
{
    const model_prop *fk = q->m->owner_fk;
    json_t *v = fk ? json_object_get(values, fk->name) : NULL;
    if (fk && q->c->who.user_id && (v == NULL || json_is_null(v)))
        json_object_set_new(values, fk->name, json_integer(q->c->who.user_id));
}


static void check_prop(const model_prop *p, const json_t *v, body_mode mode, json_t *out, validation *val)
{
    char err[160];
    if (v == NULL || json_is_null(v)) {
        if (p->required && (mode != BODY_PATCH || v != NULL))
            validation_add(val, p->name, "presence", "can't be blank", NULL);
        else if (mode == BODY_CREATE && v == NULL && p->def)
            json_object_set(out, p->name, p->def);
        else if (mode != BODY_CREATE || v != NULL)
            json_object_set_new(out, p->name, json_null());
        return;
    }
    json_t *c = model_coerce(p, v, err, sizeof err);
    if (c == NULL)
        validation_add(val, p->name, "type", err, NULL);
    else
        json_object_set_new(out, p->name, c);
}

/* A body's id (ignored on create, the row to write on upsert) given as a
 * JSON number must be a key: 1.5 or 1e300 names no row and is no id. (Text
 * is read as a path id is: "5" names row 5, "abc" none.) */
static bool body_id_bad(const mreq *q, const json_t *body)
{
    const json_t *id = json_object_get(body, "id");
    long long key;
    return q->m->id && !q->m->id->id_is_text && json_is_number(id) && !model_key_value(id, &key);
}

static const char BAD_ID[] = "must be an integer of at most 9007199254740991 in magnitude";

bool eng_body_id_or_reply(mreq *q, const json_t *body)
{
    if (!body_id_bad(q, body))
        return true;
    validation val;
    validation_init(&val);
    validation_add(&val, "id", "type", BAD_ID, NULL);
    res_validation_finish(&val, q->m->name, q->res);
    return false;
}

json_t *eng_validate_or_reply(mreq *q, const json_t *body, body_mode mode)
{
    const model_def *m = q->m;
    json_t *out = json_object();
    validation val;
    validation_init(&val);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        const model_prop *p = model_prop_named(m, key);
        if (p == NULL || p->hidden)
            validation_add(&val, key, "unknown-property", "is not defined in the model", NULL);
    }
    for (size_t i = 0; i < m->nprops; i++) {
        const model_prop *p = &m->props[i];
        if (p->is_id || p->readonly || p->hidden)
            continue;
        v = json_object_get(body, p->name);
        if (mode == BODY_PATCH && v == NULL)
            continue;
        check_prop(p, v, mode, out, &val);
    }
    if (eng_hooks(m)->validate)
        eng_hooks(m)->validate(out, &val);
    if (body_id_bad(q, body))
        validation_add(&val, "id", "type", BAD_ID, NULL);
    if (validation_failed(&val)) {
        res_validation_finish(&val, m->name, q->res);
        json_decref(out);
        return NULL;
    }
    validation_free(&val);
    return out;
}
