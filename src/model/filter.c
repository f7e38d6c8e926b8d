/*
 * filter.c — LoopBack filters: parsed, checked against a model, coerced.
 *
 * The parser walks the JSON with a context that knows the model, counts the
 * nodes it makes and keeps the path it is at ("where.or[1].price.gt"), so an
 * error says exactly what is wrong and where. Values are coerced to the
 * property's type more loosely than on write, because the bracket form of a
 * query only carries strings: "50" is a number for a number property,
 * "true" a boolean, "null" a null (except for string properties), and dates
 * are normalised to what the store keeps. No SQL is built here.
 */
#include "core/util.h"
#include "model/filter.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/isodate.h"
#include "model/regex.h"

#define PATH_LEN          256
#define TEXT_ID_MAX       128
#define BRACKET_MAX_SEGS  32
#define INDEX_MAX_DIGITS  5       /* filter[x][99999] at most               */

/* ------------------------------------------------------------------ */
/* parse context: model, node count, error path                        */

typedef struct pctx {
    const model_def *m;
    int nodes;
    char *err;
    size_t errlen;
    char path[PATH_LEN];
    size_t plen;
} pctx;

static void ctx_init(pctx *c, const model_def *m, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->m = m;
    c->err = err;
    c->errlen = errlen;
}

static void path_set(pctx *c, const char *root)
{
    snprintf(c->path, sizeof c->path, "%s", root);
    c->plen = strlen(c->path);
}

/* Appends to the path (truncating, never overflowing); returns the old length. */
static size_t path_add(pctx *c, const char *fmt, const char *key, size_t idx)
{
    size_t old = c->plen;
    int n = key ? snprintf(c->path + old, sizeof c->path - old, fmt, key)
                : snprintf(c->path + old, sizeof c->path - old, fmt, idx);
    if (n > 0)
        c->plen = old + (size_t)n < sizeof c->path ? old + (size_t)n : sizeof c->path - 1;
    return old;
}

static size_t path_key(pctx *c, const char *key)
{
    return path_add(c, c->plen ? ".%s" : "%s", key, 0);
}

static size_t path_index(pctx *c, size_t i)
{
    return path_add(c, "[%zu]", NULL, i);
}

static void path_pop(pctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static int fail(pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "path: message" to the caller's buffer; always returns -1. */
static int fail(pctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_path_error(c->err, c->errlen, c->path, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------------ */
/* model lookups (hidden properties are as good as absent)              */

static long prop_index(const model_def *m, const char *name)
{
    for (size_t i = 0; i < m->nprops; i++)
        if (!m->props[i].hidden && strcmp(m->props[i].name, name) == 0)
            return (long)i;
    return -1;
}

static const model_prop *visible_prop(const model_def *m, const char *name)
{
    long i = prop_index(m, name);
    return i < 0 ? NULL : &m->props[i];
}

static const model_rel *rel_named(const model_def *m, const char *name)
{
    for (size_t i = 0; i < m->nrels; i++)
        if (strcmp(m->rels[i].name, name) == 0)
            return &m->rels[i];
    return NULL;
}

static bool is_structured(prop_type t)
{
    return t == PT_OBJECT || t == PT_ARRAY || t == PT_ANY;
}

static const char *type_name(prop_type t)
{
    static const char *const names[] = {"string", "number", "boolean", "date",
                                        "object", "array", "any"};
    return names[t];
}

static const char *type_wanted(prop_type t)
{
    static const char *const words[] = {"a string", "a number", "a boolean",
                                        "a date (ISO 8601)", "an object", "an array", "a value"};
    return words[t];
}

/* ------------------------------------------------------------------ */
/* coercion of one operand                                              */

/* JSON number syntax (leading zeros allowed); 1: integer, 2: real, 0: not a number. */
static int number_syntax(const char *s)
{
    int kind = 1;
    if (*s == '-')
        s++;
    if (*s < '0' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9')
        s++;
    if (*s == '.') {
        kind = 2;
        if (*++s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        kind = 2;
        if (*++s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s ? 0 : kind;
}

static json_t *number_from_text(const char *s)
{
    int kind = number_syntax(s);
    char *end;
    double d;
    if (kind == 1) {
        long long x;
        errno = 0;
        x = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_integer(x);
    }
    if (kind == 0)
        return NULL;
    errno = 0;
    d = strtod(s, &end);
    return *end == '\0' && isfinite(d) ? json_real(d) : NULL;
}

static json_t *to_number(const json_t *v)
{
    if (json_is_number(v))
        return json_incref((json_t *)v);
    return json_is_string(v) ? number_from_text(json_string_value(v)) : NULL;
}

/* Ids and foreign keys: integers only, within MODEL_KEY_MAX (model/schema.h). */
static json_t *to_key(const json_t *v)
{
    json_t *n = to_number(v);
    long long key;
    bool ok = n && model_key_value(n, &key);
    json_decref(n);
    return ok ? json_integer(key) : NULL;
}

static json_t *to_boolean(const json_t *v)
{
    if (json_is_boolean(v))
        return json_incref((json_t *)v);
    if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0)
        return json_true();
    if (json_is_string(v) && strcmp(json_string_value(v), "false") == 0)
        return json_false();
    return NULL;
}

/* ISO 8601 UTC, or a bare "YYYY-MM-DD" meaning midnight UTC. */
static int date_parse(const char *s, int64_t *ms)
{
    char full[32];
    if (strlen(s) == 10) {
        snprintf(full, sizeof full, "%sT00:00:00Z", s);
        s = full;
    }
    return iso_parse(s, ms);
}

/* Dates become what the store keeps: normalised ISO text, or ms for ms_date. */
static json_t *to_date(const json_t *v, bool ms_date)
{
    int64_t ms;
    char buf[ISODATE_LEN];
    if (!json_is_string(v) || date_parse(json_string_value(v), &ms) < 0)
        return NULL;
    if (ms_date)
        return json_integer(ms);
    iso_format(ms, buf);
    return json_string(buf);
}

/* A null operand: JSON null, or the text "null" where a string cannot mean itself. */
static bool is_null_value(const model_prop *p, const json_t *v)
{
    if (json_is_null(v))
        return true;
    return p->type != PT_STRING && json_is_string(v) && strcmp(json_string_value(v), "null") == 0;
}

/* A non-null operand coerced to p's type; NULL with the error set. */
static json_t *scalar_value(pctx *c, const model_prop *p, const json_t *v)
{
    json_t *out = NULL;
    switch (p->type) {
    case PT_STRING:  out = json_is_string(v) ? json_incref((json_t *)v) : NULL; break;
    case PT_NUMBER:  out = p->is_id || p->is_key ? to_key(v) : to_number(v); break;
    case PT_BOOLEAN: out = to_boolean(v); break;
    case PT_DATE:    out = to_date(v, p->ms_date); break;
    default:         break;
    }
    if (!out && p->type == PT_NUMBER && (p->is_id || p->is_key) && (out = to_number(v)) != NULL) {
        json_decref(out);
        out = NULL;
        fail(c, "expected an integer key (at most 9007199254740991 in magnitude)");
    } else if (!out) {
        fail(c, "expected %s", type_wanted(p->type));
    }
    return out;
}

static json_t *eq_value(pctx *c, const model_prop *p, const json_t *v)
{
    return is_null_value(p, v) ? json_null() : scalar_value(c, p, v);
}

/* between (exactly 2) and inq/nin (0..FILTER_MAX_LIST): an array of non-null values. */
static json_t *list_value(pctx *c, const model_prop *p, const json_t *v, bool pair)
{
    json_t *out, *item;
    size_t i;
    if (!json_is_array(v) || (pair && json_array_size(v) != 2)) {
        fail(c, pair ? "expected an array of 2 values [low, high]" : "expected an array");
        return NULL;
    }
    if (json_array_size(v) > FILTER_MAX_LIST) {
        fail(c, "more than %d values", FILTER_MAX_LIST);
        return NULL;
    }
    out = json_array();
    json_array_foreach(v, i, item) {
        size_t old = path_index(c, i);
        json_t *x = NULL;
        if (is_null_value(p, item))
            fail(c, "expected a value, not null");
        else
            x = scalar_value(c, p, item);
        if (!x || json_array_append_new(out, x) < 0) {
            json_decref(out);
            return NULL;
        }
        path_pop(c, old);
    }
    return out;
}

static json_t *text_value(pctx *c, const json_t *v)
{
    if (json_is_string(v))
        return json_incref((json_t *)v);
    fail(c, "expected a string");
    return NULL;
}

/* ------------------------------------------------------------------ */
/* regexp: "pat" or "/pat/flags", JavaScript syntax (model/regex.h)     */

/*
 * The pattern is checked for size by a scan and compiled once, to answer a
 * bad one with 400 instead of failing the query. Filters are parsed only
 * after the ACL allowed the call, so a refused caller costs neither.
 */
static int regexp_check(pctx *c, const char *pat, unsigned flags)
{
    char msg[192];
    rx *re = rx_compile(pat, flags, msg, sizeof msg);
    if (re == NULL)
        return fail(c, "%s", msg);
    rx_free(re);
    return 0;
}

static json_t *regexp_value(pctx *c, const json_t *v, unsigned *flags)
{
    const char *s, *last;
    char *pat;
    json_t *out = NULL;
    if (!json_is_string(v))
        return text_value(c, v);
    s = json_string_value(v);
    last = strrchr(s, '/');
    *flags = 0;
    if (s[0] != '/' || last == s)
        return regexp_check(c, s, 0) < 0 ? NULL : json_incref((json_t *)v);
    if (rx_parse_flags(last + 1, flags) < 0) {
        char shown[16];
        snprintf(shown, sizeof shown, "%s", last + 1);
        fail(c, "unsupported regexp flags '%s' (i, m, s; g is ignored)", shown);
        return NULL;
    }
    pat = strndup(s + 1, (size_t)(last - s - 1));
    if (pat && regexp_check(c, pat, *flags) == 0)
        out = json_string(pat);
    free(pat);
    return out;
}

/* ------------------------------------------------------------------ */
/* where trees                                                          */

static const struct {
    const char *name;
    fop op;
} OPS[] = {
    {"eq", OP_EQ},           {"neq", OP_NEQ},       {"gt", OP_GT},         {"gte", OP_GTE},
    {"lt", OP_LT},           {"lte", OP_LTE},       {"between", OP_BETWEEN},
    {"inq", OP_INQ},         {"nin", OP_NIN},       {"like", OP_LIKE},     {"nlike", OP_NLIKE},
    {"ilike", OP_ILIKE},     {"nilike", OP_NILIKE}, {"regexp", OP_REGEXP},
};

static int op_named(const char *name)
{
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (strcmp(OPS[i].name, name) == 0)
            return (int)OPS[i].op;
    return -1;
}

static fnode *cmp_new(const model_prop *p, fop op, json_t *val, unsigned flags)
{
    fnode *n = calloc(1, sizeof *n);
    if (!n) {
        json_decref(val);
        return NULL;
    }
    n->kind = FN_CMP;
    n->prop = p;
    n->op = op;
    n->value = val;
    n->regexp_flags = flags;
    return n;
}

/* Counts a node against FILTER_MAX_NODES before it is made. */
static int count_node(pctx *c)
{
    if (++c->nodes > FILTER_MAX_NODES)
        return fail(c, "more than %d conditions", FILTER_MAX_NODES);
    return 0;
}

static int add_kid(pctx *c, fnode *parent, fnode *kid)
{
    fnode **k = realloc(parent->kids, (parent->nkids + 1) * sizeof *k);
    if (!k) {
        fnode_free(kid);
        return fail(c, "out of memory");
    }
    parent->kids = k;
    parent->kids[parent->nkids++] = kid;
    return 0;
}

/* Which operators a property type takes: structured ones only "is (not) null". */
static int op_allowed(pctx *c, const model_prop *p, fop op, const json_t *v)
{
    if (is_structured(p->type) && !((op == OP_EQ || op == OP_NEQ) && is_null_value(p, v)))
        return fail(c, "%s properties can only be compared with null", type_name(p->type));
    if (op >= OP_LIKE && p->type != PT_STRING)
        return fail(c, "only string properties support this operator");
    return 0;
}

static json_t *operand(pctx *c, const model_prop *p, fop op, const json_t *v, unsigned *flags)
{
    switch (op) {
    case OP_EQ: case OP_NEQ:   return eq_value(c, p, v);
    case OP_BETWEEN:           return list_value(c, p, v, true);
    case OP_INQ: case OP_NIN:  return list_value(c, p, v, false);
    case OP_REGEXP:            return regexp_value(c, v, flags);
    case OP_LIKE: case OP_NLIKE: case OP_ILIKE: case OP_NILIKE:
        return text_value(c, v);
    default:
        if (is_null_value(p, v)) {
            fail(c, "expected a value, not null");
            return NULL;
        }
        return scalar_value(c, p, v);
    }
}

static int parse_cmp(pctx *c, const model_prop *p, fop op, const json_t *v, fnode **out)
{
    unsigned flags = 0;
    json_t *val;
    if (op_allowed(c, p, op, v) < 0 || count_node(c) < 0)
        return -1;
    if (!(val = operand(c, p, op, v, &flags)))
        return -1;
    if (!(*out = cmp_new(p, op, val, flags)))
        return fail(c, "out of memory");
    return 0;
}

/* One node per key of obj (made by each()), under an AND when there are several. */
static int gather(pctx *c, const json_t *obj, fnode **out,
                  int (*each)(pctx *, const void *, const char *, const json_t *, fnode **),
                  const void *arg)
{
    fnode *all = calloc(1, sizeof *all);
    const char *key;
    json_t *v;
    if (!all)
        return fail(c, "out of memory");
    all->kind = FN_AND;
    json_object_foreach((json_t *)obj, key, v) {
        size_t old = path_key(c, key);
        fnode *n = NULL;
        if (each(c, arg, key, v, &n) < 0 || add_kid(c, all, n) < 0) {
            fnode_free(all);
            return -1;
        }
        path_pop(c, old);
    }
    if (all->nkids == 1) {
        *out = all->kids[0];
        all->nkids = 0;
        fnode_free(all);
        return 0;
    }
    if (count_node(c) < 0) {
        fnode_free(all);
        return -1;
    }
    *out = all;
    return 0;
}

static int one_op(pctx *c, const void *prop, const char *key, const json_t *v, fnode **out)
{
    int op = op_named(key);
    if (op < 0)
        return fail(c, "unknown operator");
    return parse_cmp(c, prop, (fop)op, v, out);
}

static int parse_object(pctx *c, const json_t *obj, int depth, fnode **out);

static int parse_logic(pctx *c, fnode_kind kind, const json_t *arr, int depth, fnode **out)
{
    fnode *n;
    size_t i;
    json_t *item;
    if (depth >= FILTER_MAX_DEPTH)
        return fail(c, "and/or nested deeper than %d levels", FILTER_MAX_DEPTH);
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fail(c, "expected a non-empty array of conditions");
    if (count_node(c) < 0)
        return -1;
    if (!(n = calloc(1, sizeof *n)))
        return fail(c, "out of memory");
    n->kind = kind;
    json_array_foreach(arr, i, item) {
        size_t old = path_index(c, i);
        fnode *kid = NULL;
        if (parse_object(c, item, depth + 1, &kid) < 0 || add_kid(c, n, kid) < 0) {
            fnode_free(n);
            return -1;
        }
        path_pop(c, old);
    }
    *out = n;
    return 0;
}

static int one_entry(pctx *c, const void *depthp, const char *key, const json_t *v, fnode **out)
{
    int depth = *(const int *)depthp;
    const model_prop *p;
    if (strcmp(key, "and") == 0 || strcmp(key, "or") == 0)
        return parse_logic(c, key[0] == 'a' ? FN_AND : FN_OR, v, depth, out);
    if (!(p = visible_prop(c->m, key)))
        return fail(c, "unknown property");
    if (!json_is_object(v))
        return parse_cmp(c, p, OP_EQ, v, out);
    if (json_object_size(v) == 0)
        return fail(c, "empty condition");
    return gather(c, v, out, one_op, p);
}

/* A non-empty object of conditions; several keys are ANDed. */
static int parse_object(pctx *c, const json_t *obj, int depth, fnode **out)
{
    if (!json_is_object(obj))
        return fail(c, "expected an object");
    if (json_object_size(obj) == 0)
        return fail(c, "empty condition");
    return gather(c, obj, out, one_entry, &depth);
}

static int where_in(pctx *c, const json_t *json, fnode **where)
{
    *where = NULL;
    if (!json || json_is_null(json))
        return 0;
    if (!json_is_object(json))
        return fail(c, "expected an object");
    if (json_object_size(json) == 0)
        return 0;
    return parse_object(c, json, 0, where);
}

/* ------------------------------------------------------------------ */
/* order                                                                */

/* One "prop [ASC|DESC]" (tok is modified). */
static int order_item(pctx *c, char *tok, filter *f)
{
    char *save = NULL;
    char *name = strtok_r(tok, " \t", &save);
    char *dir = name ? strtok_r(NULL, " \t", &save) : NULL;
    const model_prop *p;
    if (!name)
        return 0;
    if (dir && strtok_r(NULL, " \t", &save))
        return fail(c, "expected \"property [ASC|DESC]\"");
    if (!(p = visible_prop(c->m, name)))
        return fail(c, "unknown property '%s'", name);
    if (is_structured(p->type))
        return fail(c, "cannot sort by %s property '%s'", type_name(p->type), name);
    if (dir && strcasecmp(dir, "ASC") != 0 && strcasecmp(dir, "DESC") != 0)
        return fail(c, "direction must be ASC or DESC, not '%s'", dir);
    if (f->norder >= FILTER_MAX_ORDER)
        return fail(c, "more than %d properties", FILTER_MAX_ORDER);
    f->order[f->norder].prop = p;
    f->order[f->norder++].desc = dir && strcasecmp(dir, "DESC") == 0;
    return 0;
}

/* "price DESC, name" — comma-separated items. */
static int order_text(pctx *c, const char *s, filter *f)
{
    char *copy = strdup(s), *save = NULL;
    int rc = 0;
    if (!copy)
        return fail(c, "out of memory");
    for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save))
        rc = order_item(c, t, f);
    free(copy);
    return rc;
}

static int parse_order(pctx *c, const json_t *v, filter *f)
{
    size_t i;
    json_t *item;
    if (json_is_string(v))
        return order_text(c, json_string_value(v), f);
    if (!json_is_array(v))
        return fail(c, "expected a string or an array of strings");
    json_array_foreach(v, i, item) {
        size_t old = path_index(c, i);
        if (!json_is_string(item))
            return fail(c, "expected a string");
        if (order_text(c, json_string_value(item), f) < 0)
            return -1;
        path_pop(c, old);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* limit, skip / offset                                                 */

/* An integer >= 0: a JSON integer, an integral real, or a digit string. */
static int count_value(pctx *c, const json_t *v, int64_t max, int64_t *out)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    double d = json_is_real(v) ? json_real_value(v) : -1;
    int64_t x = -1;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (d >= 0 && d < 9007199254740992.0 && d == floor(d))
        x = (int64_t)d;
    else if (s && *s && strlen(s) <= 18 && strspn(s, "0123456789") == strlen(s))
        x = strtoll(s, NULL, 10);
    if (x < 0)
        return fail(c, "expected an integer >= 0");
    if (x > max)
        return fail(c, "at most %lld", (long long)max);
    *out = x;
    return 0;
}

/* LoopBack's SQL connectors read limit 0 as "no limit"; so does tessera. */
static int parse_limit(pctx *c, const json_t *v, filter *f)
{
    if (count_value(c, v, FILTER_MAX_LIMIT, &f->limit) < 0)
        return -1;
    if (f->limit == 0)
        f->limit = -1;
    return 0;
}

static int parse_skip(pctx *c, const json_t *v, filter *f)
{
    return count_value(c, v, INT64_MAX, &f->skip);
}

/* ------------------------------------------------------------------ */
/* fields                                                               */

static int select_name(pctx *c, const char *name, bool *sel, bool on)
{
    long i = prop_index(c->m, name);
    if (i < 0)
        return fail(c, "unknown property '%s'", name);
    sel[i] = on;
    return 0;
}

static int flag_value(const json_t *v)
{
    json_t *b = to_boolean(v);
    int r = b ? json_is_true(b) : -1;
    json_decref(b);
    return r;
}

/* {"a": true, ...} keeps only the true ones; all false: everything but those. */
static int fields_object(pctx *c, const json_t *v, bool *sel)
{
    const char *key;
    json_t *flag;
    bool any_true = false;
    json_object_foreach((json_t *)v, key, flag) {
        size_t old = path_key(c, key);
        int on = flag_value(flag);
        if (on < 0)
            return fail(c, "expected true or false");
        if (prop_index(c->m, key) < 0)
            return fail(c, "unknown property");
        any_true |= on;
        path_pop(c, old);
    }
    for (size_t i = 0; i < c->m->nprops; i++)
        sel[i] = !any_true && !c->m->props[i].hidden;
    json_object_foreach((json_t *)v, key, flag)
        if (flag_value(flag) == any_true)
            select_name(c, key, sel, any_true);
    return 0;
}

static int fields_list(pctx *c, const json_t *v, bool *sel)
{
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        size_t old = path_index(c, i);
        if (!json_is_string(item))
            return fail(c, "expected a property name");
        if (select_name(c, json_string_value(item), sel, true) < 0)
            return -1;
        path_pop(c, old);
    }
    return 0;
}

/* "name,price": the bracket form's filter[fields]=name,price */
static int fields_text(pctx *c, const char *s, bool *sel)
{
    char *copy = strdup(s), *save = NULL;
    int rc = copy ? 0 : fail(c, "out of memory");
    for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t && rc == 0;
         t = strtok_r(NULL, ", ", &save))
        rc = select_name(c, t, sel, true);
    free(copy);
    return rc;
}

static int fields_build(pctx *c, const bool *sel, filter *f)
{
    f->fields = calloc(c->m->nprops + 1, sizeof *f->fields);
    if (!f->fields)
        return fail(c, "out of memory");
    for (size_t i = 0; i < c->m->nprops; i++)
        if (sel[i])
            f->fields[f->nfields++] = &c->m->props[i];
    return 0;
}

static int parse_fields(pctx *c, const json_t *v, filter *f)
{
    bool *sel;
    int rc;
    if ((json_is_array(v) && json_array_size(v) == 0) ||
        (json_is_object(v) && json_object_size(v) == 0))
        return 0; /* {} and [] mean every property, as in LoopBack */
    if (!json_is_array(v) && !json_is_object(v) && !json_is_string(v))
        return fail(c, "expected an object, an array or a string");
    if (!(sel = calloc(c->m->nprops + 1, sizeof *sel)))
        return fail(c, "out of memory");
    if (json_is_object(v))
        rc = fields_object(c, v, sel);
    else if (json_is_array(v))
        rc = fields_list(c, v, sel);
    else
        rc = fields_text(c, json_string_value(v), sel);
    if (rc == 0)
        rc = fields_build(c, sel, f);
    free(sel);
    return rc;
}

/* ------------------------------------------------------------------ */
/* include                                                              */

static int include_add(pctx *c, const char *name, filter *f)
{
    const model_rel *r = rel_named(c->m, name);
    if (!r)
        return fail(c, "unknown relation '%s'", name);
    for (int i = 0; i < f->ninclude; i++)
        if (f->include[i].rel == r)
            return 0;
    if (f->ninclude >= FILTER_MAX_INCLUDE)
        return fail(c, "more than %d relations", FILTER_MAX_INCLUDE);
    f->include[f->ninclude++].rel = r;
    return 0;
}

/* Scopes and nested includes are not supported: only "nothing more" passes. */
static bool empty_scope(const json_t *v)
{
    return !v || json_is_true(v) || json_is_null(v) ||
           (json_is_string(v) && strcmp(json_string_value(v), "true") == 0) ||
           (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* {"rel": true, ...} or LoopBack's {"relation": "rel", "scope": {...}}. */
static int include_object(pctx *c, const json_t *o, filter *f)
{
    const json_t *rel = json_object_get(o, "relation");
    const char *key;
    json_t *v;
    if (json_is_string(rel) && !rel_named(c->m, "relation")) {
        json_object_foreach((json_t *)o, key, v)
            if (strcmp(key, "relation") != 0 && strcmp(key, "scope") != 0)
                return fail(c, "unknown key '%s'", key);
        if (!empty_scope(json_object_get(o, "scope")))
            return fail(c, "include scopes are not supported");
        return include_add(c, json_string_value(rel), f);
    }
    json_object_foreach((json_t *)o, key, v) {
        size_t old = path_key(c, key);
        if (!empty_scope(v))
            return fail(c, "nested includes and scopes are not supported");
        path_pop(c, old);
        if (include_add(c, key, f) < 0)
            return -1;
    }
    return 0;
}

static int include_one(pctx *c, const json_t *v, filter *f)
{
    if (json_is_string(v))
        return include_add(c, json_string_value(v), f);
    if (json_is_object(v))
        return include_object(c, v, f);
    return fail(c, "expected a relation name or an object");
}

static int parse_include(pctx *c, const json_t *v, filter *f)
{
    size_t i;
    json_t *item;
    if (!json_is_array(v))
        return include_one(c, v, f);
    json_array_foreach(v, i, item) {
        size_t old = path_index(c, i);
        if (include_one(c, item, f) < 0)
            return -1;
        path_pop(c, old);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* the whole filter                                                     */

static int parse_where_key(pctx *c, const json_t *v, filter *f)
{
    return where_in(c, v, &f->where);
}

static const struct {
    const char *name;
    int (*parse)(pctx *c, const json_t *v, filter *f);
} SECTIONS[] = {
    {"where", parse_where_key}, {"order", parse_order},   {"limit", parse_limit},
    {"skip", parse_skip},       {"offset", parse_skip},   {"fields", parse_fields},
    {"include", parse_include},
};

static int section_named(const char *name)
{
    for (size_t i = 0; i < sizeof SECTIONS / sizeof SECTIONS[0]; i++)
        if (strcmp(SECTIONS[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int parse_sections(pctx *c, const json_t *json, filter *f)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)json, key, v) {
        int s = section_named(key);
        if (s < 0)
            return fail(c, "unknown key '%s'", key);
        if (json_is_null(v))
            continue;
        path_set(c, key);
        if (SECTIONS[s].parse(c, v, f) < 0)
            return -1;
        path_set(c, "filter");
    }
    return 0;
}

void filter_init(filter *f)
{
    memset(f, 0, sizeof *f);
    f->limit = -1;
}

void filter_free(filter *f)
{
    if (!f)
        return;
    fnode_free(f->where);
    free((void *)f->fields);
    filter_init(f);
}

int filter_parse(const model_def *m, const json_t *json, filter *f, char *err, size_t errlen)
{
    pctx c;
    ctx_init(&c, m, err, errlen);
    path_set(&c, "filter");
    filter_init(f);
    if (!json || json_is_null(json))
        return 0;
    if (!json_is_object(json))
        return fail(&c, "expected an object");
    if (json_object_get(json, "skip") && json_object_get(json, "offset"))
        return fail(&c, "give skip or offset, not both");
    if (parse_sections(&c, json, f) < 0) {
        filter_free(f);
        return -1;
    }
    return 0;
}

int filter_parse_where(const model_def *m, const json_t *json, fnode **where, char *err,
                       size_t errlen)
{
    pctx c;
    ctx_init(&c, m, err, errlen);
    path_set(&c, "where");
    return where_in(&c, json, where);
}

/* ------------------------------------------------------------------ */
/* trees made by the API itself                                         */

/* A positive integer without sign, spaces or leading zeros. */
static json_t *number_id(const char *v)
{
    size_t len = strlen(v);
    long long x;
    if (len == 0 || len > 19 || v[0] == '0' || strspn(v, "0123456789") != len)
        return NULL;
    errno = 0;
    x = strtoll(v, NULL, 10);
    return errno || x > MODEL_KEY_MAX ? NULL : json_integer(x);
}

fnode *filter_id_equals(const model_def *m, const char *v)
{
    const model_prop *id = m ? m->id : NULL;
    json_t *val;
    if (!id || !v)
        return NULL;
    if (id->id_is_text)
        val = *v && strlen(v) <= TEXT_ID_MAX ? json_string(v) : NULL;
    else
        val = number_id(v);
    return val ? cmp_new(id, OP_EQ, val, 0) : NULL;
}

/*
 * Callers AND a restriction (the owner's rows, an id) into a user's filter.
 * Failing to allocate must not drop either side — that would widen what the
 * caller sees — and there is no way to report it, so it aborts.
 */
fnode *filter_and(fnode *a, fnode *b)
{
    fnode *n;
    if (!a)
        return b;
    if (!b)
        return a;
    n = calloc(1, sizeof *n);
    if (!n || !(n->kids = malloc(2 * sizeof *n->kids)))
        abort();
    n->kind = FN_AND;
    n->kids[0] = a;
    n->kids[1] = b;
    n->nkids = 2;
    return n;
}

void fnode_free(fnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        fnode_free(n->kids[i]);
    free(n->kids);
    json_decref(n->value);
    free(n);
}

/* ------------------------------------------------------------------ */
/* query strings: ?filter={...} or ?filter[where][price][gt]=50         */

static int qfail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int qfail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A copy of untrusted text fit for a message: printable ASCII, at most 80 bytes. */
static void printable(const char *s, char *out, size_t outlen)
{
    size_t i = 0;
    for (; *s && i + 1 < outlen && i < 80; s++)
        out[i++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
    out[i] = '\0';
}

static json_t *from_json(const char *name, const char *text, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v;
    if (!text || !*text)
        return json_object();
    v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        qfail(err, errlen, "%s: malformed JSON at position %d: %s", name, je.position, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        qfail(err, errlen, "%s: expected a JSON object", name);
        return NULL;
    }
    return v;
}

/* "0", "1" ... "99999": a key that stands for an array index. */
static bool is_index_key(const char *s)
{
    size_t len = strlen(s);
    return len > 0 && len <= INDEX_MAX_DIGITS && strspn(s, "0123456789") == len &&
           (s[0] != '0' || len == 1);
}

static bool is_index_object(const json_t *o)
{
    const char *key;
    json_t *v;
    if (!json_is_object(o))
        return false;
    json_object_foreach((json_t *)o, key, v)
        if (!is_index_key(key))
            return false;
    return true;
}

static void next_index(const json_t *o, char buf[16])
{
    size_t i = json_object_size(o);
    do
        snprintf(buf, 16, "%zu", i++);
    while (json_object_get(o, buf));
}

/* "[a][b][]" → segments (s is modified). -1 malformed, -2 too many. */
static int split_segments(char *s, char **segs)
{
    int n = 0;
    while (*s) {
        char *close = strchr(s, ']');
        if (*s != '[' || !close)
            return -1;
        *close = '\0';
        if (strchr(s + 1, '['))
            return -1;
        if (n == BRACKET_MAX_SEGS)
            return -2;
        segs[n++] = s + 1;
        s = close + 1;
    }
    for (int i = 0; i + 1 < n; i++)
        if (!*segs[i])
            return -1; /* "[]" only at the end */
    return n;
}

/*
 * Sets obj[key] = val. Arrays are built as objects with index keys ("0",
 * "1", ...) and turned into arrays at the end, so that [2] before [1] and
 * [] work; a key given twice becomes a list, as LoopBack's qs makes it.
 * -1: conflicts with what is there; -2: not UTF-8 (or out of memory).
 */
static int leaf_put(json_t *obj, const char *key, const char *val)
{
    char idx[16];
    json_t *old, *s = json_string(val), *pair;
    if (!s)
        return -2;
    if (!*key) {
        if (!is_index_object(obj))
            return json_decref(s), -1;
        next_index(obj, idx);
        key = idx;
    }
    if (!(old = json_object_get(obj, key)))
        return json_object_set_new(obj, key, s) < 0 ? -2 : 0;
    if (json_is_string(old)) {
        pair = json_pack("{sOso}", "0", old, "1", s);
        return pair && json_object_set_new(obj, key, pair) == 0 ? 0 : -2;
    }
    if (!is_index_object(old))
        return json_decref(s), -1;
    next_index(old, idx);
    return json_object_set_new(old, idx, s) < 0 ? -2 : 0;
}

static int insert_path(json_t *cur, char **segs, int nseg, const char *val)
{
    for (int i = 0; i + 1 < nseg; i++) {
        json_t *child = json_object_get(cur, segs[i]);
        if (!child) {
            if (json_object_set_new(cur, segs[i], child = json_object()) < 0)
                return -2;
        } else if (!json_is_object(child)) {
            return -1;
        }
        cur = child;
    }
    return leaf_put(cur, segs[nseg - 1], val);
}

static int bracket_put(json_t *root, const char *name, const char *key, const char *val,
                       char *err, size_t errlen)
{
    char *segs[BRACKET_MAX_SEGS], shown[96];
    char *buf = strdup(key + strlen(name));
    int n = buf ? split_segments(buf, segs) : -3, rc = -3;
    if (n > 0)
        rc = insert_path(root, segs, n, val ? val : "");
    free(buf);
    printable(key, shown, sizeof shown);
    if (n == -1)
        return qfail(err, errlen, "%s: malformed key '%s'", name, shown);
    if (n == -2)
        return qfail(err, errlen, "%s: key '%s' nested too deeply", name, shown);
    if (rc == -1)
        return qfail(err, errlen, "%s: key '%s' conflicts with another key", name, shown);
    if (rc < 0)
        return qfail(err, errlen, "%s: key '%s' or its value is not valid UTF-8", name, shown);
    return 0;
}

typedef struct indexed {
    long i;
    json_t *v;
} indexed;

static int by_index(const void *a, const void *b)
{
    long x = ((const indexed *)a)->i, y = ((const indexed *)b)->i;
    return (x > y) - (x < y);
}

/* {"1": b, "0": a} → [a, b]; a new reference, NULL when out of memory. */
static json_t *to_array(json_t *o)
{
    size_t n = 0, size = json_object_size(o);
    indexed *items = calloc(size, sizeof *items);
    json_t *arr = items ? json_array() : NULL, *v;
    const char *key;
    if (!arr) {
        free(items);
        return NULL;
    }
    json_object_foreach(o, key, v)
        items[n++] = (indexed){strtol(key, NULL, 10), v};
    qsort(items, n, sizeof *items, by_index);
    for (size_t i = 0; i < n; i++)
        json_array_append(arr, items[i].v);
    free(items);
    return arr;
}

/* Turns every index object below o into an array (o itself stays an object). */
static int finalize_members(json_t *o)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (!json_is_object(v))
            continue;
        if (finalize_members(v) < 0)
            return -1;
        if (json_object_size(v) > 0 && is_index_object(v)) {
            json_t *arr = to_array(v);
            if (!arr || json_object_set_new(o, key, arr) < 0)
                return -1;
        }
    }
    return 0;
}

static bool is_bracket_key(const char *key, const char *name, size_t nlen)
{
    return key && strncmp(key, name, nlen) == 0 && key[nlen] == '[';
}

static json_t *from_brackets(const char *name, const char *const *keys,
                             const char *const *values, int n, char *err, size_t errlen)
{
    json_t *root = json_object();
    size_t nlen = strlen(name);
    if (!root)
        return qfail(err, errlen, "out of memory"), NULL;
    for (int i = 0; i < n; i++) {
        if (!is_bracket_key(keys[i], name, nlen))
            continue;
        if (bracket_put(root, name, keys[i], values[i], err, errlen) < 0) {
            json_decref(root);
            return NULL;
        }
    }
    if (finalize_members(root) < 0) {
        json_decref(root);
        return qfail(err, errlen, "out of memory"), NULL;
    }
    return root;
}

json_t *filter_from_query(const char *name, const char *const *keys, const char *const *values,
                          int n, char *err, size_t errlen)
{
    int json_at = -1;
    bool brackets = false;
    size_t nlen = strlen(name);
    for (int i = 0; i < n; i++) {
        if (keys[i] && strcmp(keys[i], name) == 0)
            json_at = i; /* repeated: the last one counts */
        else if (is_bracket_key(keys[i], name, nlen))
            brackets = true;
    }
    if (json_at >= 0 && brackets) {
        qfail(err, errlen, "%s: give either JSON or the bracket form, not both", name);
        return NULL;
    }
    if (json_at >= 0)
        return from_json(name, values[json_at], err, errlen);
    return from_brackets(name, keys, values, n, err, errlen);
}
