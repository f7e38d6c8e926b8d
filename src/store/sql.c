/*
 * sql.c — SQL text for model rows: SELECT, count, INSERT, UPDATE, DELETE
 * and the DDL of model_sync, for SQLite and PostgreSQL (see sql.h).
 *
 * The text grows in one buffer; every value goes into q->binds and the text
 * gets its placeholder. The first failure sticks in q->failed/q->err, so the
 * steps can run on without checking each append, and the builder checks once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/isodate.h"
#include "model/regex.h"
#include "store/sql.h"

/* ---- the text buffer ------------------------------------------------- */

static void fail(sql_query *q, const char *fmt, ...)
{
    if (q->failed)
        return;
    q->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err, sizeof q->err, fmt, ap);
    va_end(ap);
}

static void put_n(sql_query *q, const char *s, size_t n)
{
    if (q->failed)
        return;
    if (q->len + n + 1 > q->cap) {
        size_t cap = q->cap ? q->cap : 256;
        while (q->len + n + 1 > cap)
            cap *= 2;
        char *t = realloc(q->text, cap);
        if (t == NULL) {
            fail(q, "out of memory");
            return;
        }
        q->text = t;
        q->cap = cap;
    }
    memcpy(q->text + q->len, s, n);
    q->len += n;
    q->text[q->len] = '\0';
}

static void put(sql_query *q, const char *s)
{
    put_n(q, s, strlen(s));
}

/* A double-quoted identifier; quotes inside are doubled, though the model
 * loader only lets [A-Za-z_][A-Za-z0-9_]* through. */
static void put_ident_parts(sql_query *q, const char *const *parts)
{
    put_n(q, "\"", 1);
    for (int i = 0; parts[i]; i++) {
        for (const char *s = parts[i]; *s;) {
            size_t run = strcspn(s, "\""); /* the whole name, in practice */
            put_n(q, s, run);
            s += run;
            if (*s == '"') {
                put_n(q, "\"\"", 2);
                s++;
            }
        }
    }
    put_n(q, "\"", 1);
}

static void put_ident(sql_query *q, const char *name)
{
    const char *const parts[] = {name, NULL};
    put_ident_parts(q, parts);
}

/* Appends v (the reference is taken) to the binds and its placeholder to the text. */
static void put_bind(sql_query *q, json_t *v)
{
    if (q->failed) {
        json_decref(v);
        return;
    }
    if (v == NULL || json_array_append_new(q->binds, v) != 0) {
        fail(q, "out of memory");
        return;
    }
    char ph[24];
    snprintf(ph, sizeof ph, "%c%zu", q->dialect == SQL_POSTGRES ? '$' : '?', json_array_size(q->binds));
    put(q, ph);
}

void sql_query_init(sql_query *q, sql_dialect d)
{
    memset(q, 0, sizeof *q);
    q->dialect = d;
    q->binds = json_array();
    if (q->binds == NULL)
        fail(q, "out of memory");
    put(q, "");
}

void sql_query_free(sql_query *q)
{
    free(q->text);
    free(q->cols);
    json_decref(q->binds);
    memset(q, 0, sizeof *q);
}

static int done(sql_query *q)
{
    return q->failed ? -1 : 0;
}

/* ---- values ---------------------------------------------------------- */

static bool is_json_type(prop_type t)
{
    return t == PT_OBJECT || t == PT_ARRAY || t == PT_ANY;
}

/* The stored text of a JSON value: compact, keys sorted, so equal values are
 * equal text whichever order a client wrote the keys in. */
static json_t *json_text_of(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_t *out = s ? json_string(s) : NULL;
    free(s);
    return out;
}

json_t *sql_value(sql_dialect d, const model_prop *p, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return json_null();
    if (is_json_type(p->type))
        return json_text_of(v);
    if (json_is_boolean(v) && d == SQL_SQLITE)
        return json_integer(json_is_true(v) ? 1 : 0);
    int64_t ms;
    if (p->ms_date && json_is_string(v) && iso_parse(json_string_value(v), &ms) == 0)
        return json_integer(ms);
    return json_incref((json_t *)v);
}

/* Operands of like/regexp are patterns: strings stay strings. */
static json_t *pattern_value(sql_dialect d, const model_prop *p, const json_t *v)
{
    if (json_is_string(v))
        return json_string(json_string_value(v));
    return sql_value(d, p, v);
}

/* ---- where ----------------------------------------------------------- */

static void put_where_node(sql_query *q, const fnode *n);

static void put_col(sql_query *q, const model_prop *p)
{
    put_ident(q, p->column);
}

/* col <op> ?, or col IS [NOT] NULL for eq/neq null. */
static void put_simple(sql_query *q, const fnode *n, const char *op)
{
    put_col(q, n->prop);
    if (json_is_null(n->value) && (n->op == OP_EQ || n->op == OP_NEQ)) {
        put(q, n->op == OP_EQ ? " IS NULL" : " IS NOT NULL");
        return;
    }
    put(q, op);
    put_bind(q, sql_value(q->dialect, n->prop, n->value));
}

static void put_between(sql_query *q, const fnode *n)
{
    if (!json_is_array(n->value) || json_array_size(n->value) != 2) {
        fail(q, "between of %s needs [low, high]", n->prop->name);
        return;
    }
    put_col(q, n->prop);
    put(q, " BETWEEN ");
    put_bind(q, sql_value(q->dialect, n->prop, json_array_get(n->value, 0)));
    put(q, " AND ");
    put_bind(q, sql_value(q->dialect, n->prop, json_array_get(n->value, 1)));
}

/* The non-null values as "col [NOT] IN (?, ?)"; returns how many there were. */
static size_t put_in_list(sql_query *q, const fnode *n, bool negate)
{
    size_t i, count = 0;
    json_t *v;
    json_array_foreach(n->value, i, v) {
        if (json_is_null(v))
            continue;
        if (count++ == 0) {
            put_col(q, n->prop);
            put(q, negate ? " NOT IN (" : " IN (");
        } else {
            put(q, ", ");
        }
        put_bind(q, sql_value(q->dialect, n->prop, v));
    }
    if (count)
        put(q, ")");
    return count;
}

static bool list_has_null(const json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (json_is_null(v))
            return true;
    }
    return false;
}

/*
 * inq/nin. An empty list is a constant: nothing is in it (inq false, nin
 * true). NULL never equals anything in SQL, so a null in the list becomes
 * its own IS [NOT] NULL test.
 */
static void put_inq(sql_query *q, const fnode *n)
{
    bool negate = n->op == OP_NIN;
    if (!json_is_array(n->value)) {
        fail(q, "%s of %s needs a list", negate ? "nin" : "inq", n->prop->name);
        return;
    }
    bool has_null = list_has_null(n->value);
    put(q, "(");
    size_t count = put_in_list(q, n, negate);
    if (has_null) {
        put(q, count ? (negate ? " AND " : " OR ") : "");
        put_col(q, n->prop);
        put(q, negate ? " IS NOT NULL" : " IS NULL");
    } else if (count == 0) {
        put(q, negate ? "1 = 1" : "1 = 0");
    }
    put(q, ")");
}

/* PostgreSQL's own ILIKE; on a COLLATE "C" column it folds ASCII case
 * only, as SQLite's lower() does. */
static void put_pg_like(sql_query *q, const fnode *n, bool icase, bool negate)
{
    put_col(q, n->prop);
    put(q, negate ? " NOT" : "");
    put(q, icase ? " ILIKE " : " LIKE ");
    put_bind(q, pattern_value(q->dialect, n->prop, n->value));
    /* SQLite's LIKE has no escape character; PostgreSQL's is a backslash unless told. */
    put(q, " ESCAPE ''");
}

/* like/nlike as they are; ilike/nilike compare lower() of both sides
 * (PostgreSQL: ILIKE). */
static void put_like(sql_query *q, const fnode *n)
{
    bool icase = n->op == OP_ILIKE || n->op == OP_NILIKE;
    bool negate = n->op == OP_NLIKE || n->op == OP_NILIKE;
    if (q->dialect == SQL_POSTGRES) {
        put_pg_like(q, n, icase, negate);
        return;
    }
    put(q, icase ? "lower(" : "");
    put_col(q, n->prop);
    put(q, icase ? ")" : "");
    put(q, negate ? " NOT LIKE " : " LIKE ");
    put(q, icase ? "lower(" : "");
    put_bind(q, pattern_value(q->dialect, n->prop, n->value));
    put(q, icase ? ")" : "");
}

/*
 * PostgreSQL reads a pattern in its "advanced" syntax (ARE), which shares
 * with JavaScript's what clients use most (\d \w \s, lazy quantifiers,
 * lookahead, back-references). The m flag becomes ARE's embedded option
 * (?w) (^ and $ at line breaks); . always matches a line break there.
 */
static json_t *pg_pattern(json_t *pat, unsigned flags)
{
    if (!json_is_string(pat) || !(flags & RX_MULTILINE))
        return pat;
    size_t n = json_string_length(pat);
    char *s = malloc(n + 5);
    json_t *out = NULL;
    if (s) {
        memcpy(s, "(?w)", 4);
        memcpy(s + 4, json_string_value(pat), n + 1);
        out = json_stringn(s, n + 4);
    }
    free(s);
    json_decref(pat);
    return out;
}

/* SQLite's "X REGEXP Y" calls regexp(Y, X) (model/regex.c, PCRE2); with
 * flags, the three-argument regexp(pattern, text, flags) is called directly,
 * flags bound. */
static void put_regexp(sql_query *q, const fnode *n)
{
    json_t *pat = pattern_value(q->dialect, n->prop, n->value);
    char flags[8];
    if (q->dialect == SQL_POSTGRES) {
        pat = pg_pattern(pat, n->regexp_flags);
        put_col(q, n->prop);
        put(q, n->regexp_flags & RX_ICASE ? " ~* " : " ~ ");
        put_bind(q, pat);
    } else if (n->regexp_flags == 0) {
        put_col(q, n->prop);
        put(q, " REGEXP ");
        put_bind(q, pat);
    } else {
        put(q, "regexp(");
        put_bind(q, pat);
        put(q, ", ");
        put_col(q, n->prop);
        put(q, ", ");
        put_bind(q, json_string(rx_flags_text(n->regexp_flags, flags)));
        put(q, ")");
    }
}

static void put_cmp(sql_query *q, const fnode *n)
{
    static const char *const OPS[] = {
        [OP_EQ] = " = ", [OP_NEQ] = " <> ", [OP_GT] = " > ",
        [OP_GTE] = " >= ", [OP_LT] = " < ", [OP_LTE] = " <= ",
    };
    if (n->prop == NULL || n->prop->hidden) {
        fail(q, "condition on no visible property");
        return;
    }
    switch (n->op) {
    case OP_EQ: case OP_NEQ: case OP_GT: case OP_GTE: case OP_LT: case OP_LTE:
        put_simple(q, n, OPS[n->op]);
        return;
    case OP_BETWEEN:
        put_between(q, n);
        return;
    case OP_INQ: case OP_NIN:
        put_inq(q, n);
        return;
    case OP_LIKE: case OP_NLIKE: case OP_ILIKE: case OP_NILIKE:
        put_like(q, n);
        return;
    case OP_REGEXP:
        put_regexp(q, n);
        return;
    }
    fail(q, "unknown operator %d", (int)n->op);
}

/* (a AND b ...); an empty AND is true, an empty OR false. */
static void put_group(sql_query *q, const fnode *n)
{
    bool is_and = n->kind == FN_AND;
    if (n->nkids == 0) {
        put(q, is_and ? "1 = 1" : "1 = 0");
        return;
    }
    put(q, "(");
    for (size_t i = 0; i < n->nkids; i++) {
        if (i)
            put(q, is_and ? " AND " : " OR ");
        put_where_node(q, n->kids[i]);
    }
    put(q, ")");
}

static void put_where_node(sql_query *q, const fnode *n)
{
    if (n == NULL)
        put(q, "1 = 1");
    else if (n->kind == FN_CMP)
        put_cmp(q, n);
    else
        put_group(q, n);
}

static void put_where(sql_query *q, const fnode *where)
{
    if (where == NULL)
        return;
    put(q, " WHERE ");
    put_where_node(q, where);
}

void sql_append(sql_query *q, const char *text)
{
    put(q, text);
}

void sql_append_ident(sql_query *q, const char *name)
{
    put_ident(q, name);
}

int sql_append_where(sql_query *q, const fnode *where)
{
    put_where(q, where);
    return done(q);
}

/* ---- SELECT ---------------------------------------------------------- */

static const model_prop *prop_by_name(const model_def *m, const char *name)
{
    for (size_t i = 0; name && i < m->nprops; i++) {
        if (strcmp(m->props[i].name, name) == 0)
            return &m->props[i];
    }
    return NULL;
}

static void add_col(sql_query *q, const model_prop *p)
{
    if (p == NULL || p->hidden)
        return;
    for (size_t i = 0; i < q->ncols; i++) {
        if (q->cols[i] == p)
            return;
    }
    q->cols[q->ncols++] = p;
}

/* The columns to read: the fields asked for, plus what includes need. */
static void choose_cols(sql_query *q, const model_def *m, const filter *f)
{
    q->model = m;
    q->cols = calloc(m->nprops + 1, sizeof *q->cols);
    if (q->cols == NULL) {
        fail(q, "out of memory");
        return;
    }
    if (f->fields == NULL) {
        for (size_t i = 0; i < m->nprops; i++)
            add_col(q, &m->props[i]);
        q->extra = m->extra_column != NULL;
        return;
    }
    for (size_t i = 0; i < f->nfields; i++)
        add_col(q, f->fields[i]);
    for (int i = 0; i < f->ninclude; i++) {
        const model_rel *r = f->include[i].rel;
        if (r)
            add_col(q, r->type == REL_BELONGS_TO ? prop_by_name(m, r->foreign_key) : m->id);
    }
    if (q->ncols == 0)
        add_col(q, m->id);
}

static void put_cols(sql_query *q, const model_def *m)
{
    for (size_t i = 0; i < q->ncols; i++) {
        put(q, i ? ", " : "");
        put_col(q, q->cols[i]);
    }
    if (q->extra) {
        put(q, q->ncols ? ", " : "");
        put_ident(q, m->extra_column);
    }
    if (q->ncols == 0 && !q->extra)
        put(q, "1");
}

/* SQLite sorts NULL below every value; PostgreSQL above: say it outright. */
static void put_nulls(sql_query *q, bool desc)
{
    if (q->dialect == SQL_POSTGRES)
        put(q, desc ? " NULLS LAST" : " NULLS FIRST");
}

/*
 * ORDER BY the filter's order, then the id as tie-break, so that limit/skip
 * pages never overlap. No order: the database's own order, which is stable
 * for a given query plan. Forcing ORDER BY id there would cost either a full
 * table scan in id order or a sort of every row the WHERE's index yields
 * (4 ms for half of 100 000 rows, for a page of 10).
 */
static void put_order(sql_query *q, const model_def *m, const filter *f)
{
    bool has_id = false;
    if (f->norder == 0)
        return;
    put(q, " ORDER BY ");
    for (int i = 0; i < f->norder; i++) {
        put(q, i ? ", " : "");
        put_col(q, f->order[i].prop);
        put(q, f->order[i].desc ? " DESC" : " ASC");
        put_nulls(q, f->order[i].desc);
        has_id = has_id || f->order[i].prop == m->id;
    }
    if (!has_id && m->id) {
        put(q, ", ");
        put_col(q, m->id);
        put(q, " ASC");
    }
}

/* SQLite needs a LIMIT before an OFFSET: -1 is "no limit". */
static void put_paging(sql_query *q, const filter *f)
{
    if (f->limit >= 0) {
        put(q, " LIMIT ");
        put_bind(q, json_integer(f->limit));
    } else if (f->skip > 0 && q->dialect == SQL_SQLITE) {
        put(q, " LIMIT -1");
    }
    if (f->skip > 0) {
        put(q, " OFFSET ");
        put_bind(q, json_integer(f->skip));
    }
}

int sql_build_select(sql_query *q, const model_def *m, const filter *f)
{
    filter all;
    if (f == NULL) {
        memset(&all, 0, sizeof all);
        all.limit = -1;
        f = &all;
    }
    choose_cols(q, m, f);
    put(q, "SELECT ");
    put_cols(q, m);
    put(q, " FROM ");
    put_ident(q, m->table);
    put_where(q, f->where);
    put_order(q, m, f);
    put_paging(q, f);
    return done(q);
}

int sql_build_count(sql_query *q, const model_def *m, const fnode *where)
{
    put(q, "SELECT count(*) FROM ");
    put_ident(q, m->table);
    put_where(q, where);
    return done(q);
}

json_t *sql_insert_values(const model_def *m, const json_t *obj)
{
    json_t *full = json_copy((json_t *)obj);
    for (size_t i = 0; full && i < m->nprops; i++) {
        const model_prop *p = &m->props[i];
        if (p->ms_date && p->readonly && strcmp(p->name, "created") == 0 &&
            json_object_get(full, p->name) == NULL)
            json_object_set_new(full, p->name, json_integer(iso_now_ms()));
    }
    return full;
}

int sql_build_revocation_log(sql_query *q, const model_def *m, const fnode *where, int64_t now_ms)
{
    const char *head;
    if (m->kind == MODEL_ACCESS_TOKEN)
        head = "INSERT INTO token_events (kind, hash, user_id, at_ms) SELECT 1, hash, NULL, %lld FROM ";
    else if (m->kind == MODEL_USER)
        head = "INSERT INTO token_events (kind, hash, user_id, at_ms) SELECT 2, NULL, id, %lld FROM ";
    else
        return 0;
    char text[160];
    snprintf(text, sizeof text, head, (long long)now_ms);
    put(q, text);
    sql_append_ident(q, m->table);
    return sql_append_where(q, where) == 0 && !q->failed ? 1 : -1;
}

int sql_build_delete(sql_query *q, const model_def *m, const fnode *where)
{
    put(q, "DELETE FROM ");
    put_ident(q, m->table);
    put_where(q, where);
    return done(q);
}

/* ---- INSERT / UPDATE ------------------------------------------------- */

/*
 * The members of obj that are no property, as one object for the extra
 * column (a new reference; NULL when there are none). Without an extra
 * column they are an error: the caller validated against the model.
 */
static json_t *extra_members(sql_query *q, const model_def *m, const json_t *obj)
{
    const char *k;
    json_t *v, *extra = NULL;
    json_object_foreach((json_t *)obj, k, v) {
        if (prop_by_name(m, k))
            continue;
        if (m->extra_column == NULL) {
            fail(q, "%s has no property %s", m->name, k);
            break;
        }
        if (extra == NULL && (extra = json_object()) == NULL) {
            fail(q, "out of memory");
            break;
        }
        json_object_set(extra, k, v);
    }
    return extra;
}

static bool writable(const model_prop *p, const json_t *obj, bool insert)
{
    return json_object_get(obj, p->name) != NULL && (insert || !p->is_id);
}

static void put_insert_cols(sql_query *q, const model_def *m, const json_t *obj, const json_t *extra)
{
    int n = 0;
    for (size_t i = 0; i < m->nprops; i++) {
        if (writable(&m->props[i], obj, true)) {
            put(q, n++ ? ", " : "");
            put_col(q, &m->props[i]);
        }
    }
    if (extra) {
        put(q, n ? ", " : "");
        put_ident(q, m->extra_column);
    }
}

static void put_insert_values(sql_query *q, const model_def *m, const json_t *obj, const json_t *extra)
{
    int n = 0;
    for (size_t i = 0; i < m->nprops; i++) {
        const model_prop *p = &m->props[i];
        if (writable(p, obj, true)) {
            put(q, n++ ? ", " : "");
            put_bind(q, sql_value(q->dialect, p, json_object_get(obj, p->name)));
        }
    }
    if (extra) {
        put(q, n ? ", " : "");
        put_bind(q, json_text_of(extra));
    }
}

static bool any_writable(const model_def *m, const json_t *obj, const json_t *extra, bool insert)
{
    for (size_t i = 0; i < m->nprops; i++) {
        if (writable(&m->props[i], obj, insert))
            return true;
    }
    return extra != NULL;
}

int sql_build_insert(sql_query *q, const model_def *m, const json_t *obj)
{
    if (!json_is_object(obj)) {
        fail(q, "insert needs an object");
        return -1;
    }
    json_t *extra = extra_members(q, m, obj);
    put(q, "INSERT INTO ");
    put_ident(q, m->table);
    if (any_writable(m, obj, extra, true)) {
        put(q, " (");
        put_insert_cols(q, m, obj, extra);
        put(q, ") VALUES (");
        put_insert_values(q, m, obj, extra);
        put(q, ")");
    } else {
        put(q, " DEFAULT VALUES");
    }
    if (q->dialect == SQL_POSTGRES && m->id) {
        put(q, " RETURNING ");
        put_col(q, m->id);
    }
    json_decref(extra);
    return done(q);
}

/* "extra" = merge-patch of the stored object: a null member removes the key. */
static void put_extra_merge(sql_query *q, const model_def *m, const json_t *extra)
{
    put_ident(q, m->extra_column);
    if (q->dialect == SQL_POSTGRES) {
        put(q, " = jsonb_strip_nulls(COALESCE(");
        put_ident(q, m->extra_column);
        put(q, ", '{}')::jsonb || ");
        put_bind(q, json_text_of(extra));
        put(q, "::jsonb)::text");
        return;
    }
    put(q, " = json_patch(COALESCE(");
    put_ident(q, m->extra_column);
    put(q, ", '{}'), ");
    put_bind(q, json_text_of(extra));
    put(q, ")");
}

static void put_sets(sql_query *q, const model_def *m, const json_t *patch, const json_t *extra)
{
    int n = 0;
    for (size_t i = 0; i < m->nprops; i++) {
        const model_prop *p = &m->props[i];
        if (!writable(p, patch, false))
            continue;
        put(q, n++ ? ", " : "");
        put_col(q, p);
        put(q, " = ");
        put_bind(q, sql_value(q->dialect, p, json_object_get(patch, p->name)));
    }
    if (extra) {
        put(q, n ? ", " : "");
        put_extra_merge(q, m, extra);
    }
}

/*
 * UPDATE ... SET each patched column. Ids never change. A patch that sets
 * nothing still matches rows ("id" = "id"), so the count is right.
 */
int sql_build_update(sql_query *q, const model_def *m, const fnode *where, const json_t *patch)
{
    if (!json_is_object(patch)) {
        fail(q, "update needs an object");
        return -1;
    }
    json_t *extra = extra_members(q, m, patch);
    put(q, "UPDATE ");
    put_ident(q, m->table);
    put(q, " SET ");
    if (any_writable(m, patch, extra, false)) {
        put_sets(q, m, patch, extra);
    } else if (m->id) {
        put_col(q, m->id);
        put(q, " = ");
        put_col(q, m->id);
    } else {
        fail(q, "%s has no id", m->name);
    }
    put_where(q, where);
    json_decref(extra);
    return done(q);
}

/* ---- DDL --------------------------------------------------------------- */

const char *sql_column_type(sql_dialect d, const model_prop *p)
{
    bool pg = d == SQL_POSTGRES;
    if (p->is_id && !p->id_is_text)
        return pg ? "BIGINT" : "INTEGER";
    switch (p->type) {
    case PT_NUMBER:  return pg ? "DOUBLE PRECISION" : "REAL";
    case PT_BOOLEAN: return pg ? "BOOLEAN" : "INTEGER";
    case PT_DATE:    return p->ms_date ? (pg ? "BIGINT" : "INTEGER") : "TEXT";
    case PT_STRING: case PT_OBJECT: case PT_ARRAY: case PT_ANY:
        break;
    }
    return "TEXT";
}

/* PostgreSQL text compares by the database's locale unless told otherwise;
 * "C" compares bytes, as SQLite does, for ORDER BY, ranges and lower(). */
static void put_type(sql_query *q, const char *type)
{
    put(q, type);
    if (q->dialect == SQL_POSTGRES && strcmp(type, "TEXT") == 0)
        put(q, " COLLATE \"C\"");
}

static void put_column_def(sql_query *q, const model_prop *p)
{
    put_col(q, p);
    put(q, " ");
    if (p->is_id && !p->id_is_text)
        put(q, q->dialect == SQL_POSTGRES ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT");
    else
        put_type(q, sql_column_type(q->dialect, p));
    if (p->is_id && p->id_is_text)
        put(q, " PRIMARY KEY");
}

int sql_build_create_table(sql_query *q, const model_def *m)
{
    put(q, "CREATE TABLE IF NOT EXISTS ");
    put_ident(q, m->table);
    put(q, " (");
    for (size_t i = 0; i < m->nprops; i++) {
        put(q, i ? ", " : "");
        put_column_def(q, &m->props[i]);
    }
    if (m->extra_column) {
        put(q, m->nprops ? ", " : "");
        put_ident(q, m->extra_column);
        put(q, " ");
        put_type(q, "TEXT");
    }
    put(q, ")");
    return done(q);
}

int sql_build_add_column(sql_query *q, const model_def *m, const model_prop *p)
{
    if (p->is_id) {
        fail(q, "the id of %s cannot be added to an existing table", m->name);
        return -1;
    }
    put(q, "ALTER TABLE ");
    put_ident(q, m->table);
    put(q, q->dialect == SQL_POSTGRES ? " ADD COLUMN IF NOT EXISTS " : " ADD COLUMN ");
    put_column_def(q, p);
    return done(q);
}

int sql_build_create_index(sql_query *q, const model_def *m, const model_prop *p)
{
    put(q, p->unique ? "CREATE UNIQUE INDEX IF NOT EXISTS " : "CREATE INDEX IF NOT EXISTS ");
    const char *const name[] = {"ix_", m->table, "_", p->column, NULL};
    put_ident_parts(q, name);
    put(q, " ON ");
    put_ident(q, m->table);
    put(q, " (");
    put_col(q, p);
    put(q, ")");
    return done(q);
}

/* ---- text of the store's own statements -------------------------------- */

int sql_number_placeholders(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (n + 1 >= cap)
            return -1;
        out[n++] = *p == '?' && p[1] >= '0' && p[1] <= '9' ? '$' : *p;
    }
    if (cap == 0)
        return -1;
    out[n] = '\0';
    return 0;
}

typedef struct dialect_word {
    const char *name;
    const char *sqlite, *postgres;
} dialect_word;

static const dialect_word WORDS[] = {
    {"{ID}", "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"},
    {"{INT}", "INTEGER", "BIGINT"},
    {"{TEXT}", "TEXT", "TEXT COLLATE \"C\""},
    {"{BOOL}", "INTEGER", "BOOLEAN"},
    {"{FALSE}", "0", "false"},
    {"{BLOB}", "BLOB", "BYTEA"},
    {"{NOROWID}", " WITHOUT ROWID", ""},
};

char *sql_dialect_text(sql_dialect d, const char *tmpl)
{
    sql_query q;
    sql_query_init(&q, d);
    for (const char *p = tmpl; *p && !q.failed;) {
        const dialect_word *w = NULL;
        for (size_t i = 0; *p == '{' && i < sizeof WORDS / sizeof WORDS[0]; i++) {
            if (strncmp(p, WORDS[i].name, strlen(WORDS[i].name)) == 0)
                w = &WORDS[i];
        }
        if (w) {
            put(&q, d == SQL_POSTGRES ? w->postgres : w->sqlite);
            p += strlen(w->name);
        } else {
            put_n(&q, p++, 1);
        }
    }
    char *out = q.failed ? NULL : strdup(q.text);
    sql_query_free(&q);
    return out;
}
