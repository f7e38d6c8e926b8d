/*
 * rowjson.c — a row of any model as the API shows it (see rowjson.h).
 */
#include <math.h>
#include <string.h>

#include "core/isodate.h"
#include "model/rowjson.h"

/* REAL columns hold whole numbers too: 50, not 50.0, as JSON shows them. */
static json_t *number_json(double d)
{
    if (!isfinite(d))
        return json_null();
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

static json_t *int_json(const model_prop *p, int64_t i)
{
    if (p->ms_date) {
        char iso[ISODATE_LEN];
        iso_format(i, iso);
        return json_string(iso);
    }
    if (p->type == PT_BOOLEAN)
        return json_boolean(i != 0);
    return json_integer(i);
}

static json_t *text_json(const model_prop *p, const char *text, size_t len)
{
    json_t *v = NULL;
    if (p->type == PT_OBJECT || p->type == PT_ARRAY || p->type == PT_ANY)
        v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    return v ? v : json_stringn(text, len);
}

/* One value as property p shows it. A new reference. */
static json_t *cell_json(const model_prop *p, const model_cell *c)
{
    switch (c->kind) {
    case MC_BOOL:
        return json_boolean(c->i != 0);
    case MC_INT:
        return int_json(p, c->i);
    case MC_REAL:
        return number_json(c->r);
    case MC_TEXT:
        return text_json(p, c->text ? c->text : "", c->text ? c->len : 0);
    case MC_NULL:
        break;
    }
    return json_null();
}

/* The undeclared properties kept in the extra column. A key that names a
 * declared property is skipped: the column wins, and a hidden one (the
 * password) must not come back through the extra object either. */
static void merge_extra(json_t *row, const model_def *m, const char *text)
{
    json_t *extra = json_loads(text, 0, NULL);
    const char *k;
    json_t *v;
    if (json_is_object(extra)) {
        json_object_foreach(extra, k, v) {
            if (model_prop_named(m, k) == NULL)
                json_object_set(row, k, v);
        }
    }
    json_decref(extra);
}

json_t *model_row_json(const model_def *m, const model_prop *const *props, size_t nprops,
                       model_cell_fn cell, void *ctx, const char *extra)
{
    json_t *row = json_object();
    size_t n = props ? nprops : m->nprops;
    for (size_t i = 0; row && i < n; i++) {
        const model_prop *p = props ? props[i] : &m->props[i];
        if (p->hidden)
            continue;
        model_cell c = cell(ctx, i, p);
        if (json_object_set_new(row, p->name, cell_json(p, &c)) != 0) {
            json_decref(row);
            return NULL;
        }
    }
    if (row && extra)
        merge_extra(row, m, extra);
    return row;
}
