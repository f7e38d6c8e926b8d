/*
 * sql.h — SQL text for model rows, and the dialect of the store's own statements.
 *
 * A model definition (model/schema.h) and a parsed filter (model/filter.h)
 * become one statement: its text, with numbered placeholders ("?1" for
 * SQLite, "$1" for PostgreSQL), and the ordered list of values to bind to
 * them. Nothing taken from a request ever lands in the text: identifiers come
 * only from the model definition (and are double-quoted), every value is a
 * bound parameter — limit and offset included.
 *
 * Values are converted to what the column stores: booleans become 0/1
 * (SQLite), ms_date properties integer milliseconds, object/array/any values
 * their compact JSON text with sorted keys (so equal JSON compares equal as
 * text). The driver then binds each JSON value by its type: integer, real,
 * string, null.
 *
 * Operators (fnode.op): eq/neq (null → IS [NOT] NULL; neq otherwise is SQL
 * "<>", which — as in LoopBack's SQL connectors — never matches NULL), gt,
 * gte, lt, lte, between, inq/nin (an empty inq matches nothing, an empty nin
 * everything; a null in the list matches NULL), like/nlike (case-sensitive
 * SQL patterns; PostgreSQL: ESCAPE '' as SQLite has no escape character),
 * ilike/nilike (SQLite: lower(col) LIKE lower(?); PostgreSQL: ILIKE), regexp
 * (SQLite: col REGEXP ?, or regexp(?, col, flags) with the flags bound
 * when there are any; PCRE2, JavaScript syntax; PostgreSQL: ~ and ~*, its
 * advanced syntax, "(?w)" put before the pattern for the m flag). PostgreSQL ORDER BY says NULLS
 * FIRST/LAST to sort NULL as SQLite does, and its TEXT columns are COLLATE
 * "C" (byte order and ASCII-only case folding, as SQLite's).
 */
#ifndef TESSERA_SQL_H
#define TESSERA_SQL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/filter.h"
#include "model/schema.h"
#include "store/store.h"

typedef enum sql_dialect { SQL_SQLITE, SQL_POSTGRES } sql_dialect;

/* One statement being built; sql_query_init, one sql_build_*, sql_query_free. */
typedef struct sql_query {
    sql_dialect dialect;
    char *text;                 /* the SQL, NUL-terminated ("" until built)   */
    size_t len, cap;
    json_t *binds;              /* array: value of placeholder i at index i-1 */
    /* SELECT only: the model, and its result columns in order: cols[i] is
       result column i; when extra is true one more column follows, the
       model's extra_column.                                                  */
    const model_def *model;
    const model_prop **cols;
    size_t ncols;
    bool extra;
    bool failed;                /* set with err by any step that failed      */
    char err[160];
} sql_query;

void sql_query_init(sql_query *q, sql_dialect d);
void sql_query_free(sql_query *q);

/*
 * Every builder returns 0, or -1 with a message in q->err (out of memory, a
 * malformed operand, an unknown property in obj/patch).
 */

/* SELECT of f's fields (all visible properties when f or f->fields is NULL,
 * plus the extra column) — with the keys f's includes need (the id for
 * hasMany, the foreign key for belongsTo) added when fields leaves them out —
 * WHERE f->where ORDER BY f->order then id (pages never overlap; with no order
 * and no limit/skip there is no ORDER BY, so a range on an index uses it)
 * LIMIT/OFFSET, both bound. */
int sql_build_select(sql_query *q, const model_def *m, const filter *f);
int sql_build_count(sql_query *q, const model_def *m, const fnode *where);
/* obj: property name → value. Names that are no property go into the extra
 * column when the model has one (else: error). An empty obj inserts defaults.
 * PostgreSQL: ends in RETURNING "id". */
int sql_build_insert(sql_query *q, const model_def *m, const json_t *obj);
/* patch as obj; a null value clears the column (or removes the extra key). */
int sql_build_update(sql_query *q, const model_def *m, const fnode *where, const json_t *patch);
/*
 * The INSERT that logs, into token_events, the revocations a delete of rows
 * of m implies (AccessToken rows: each token; User rows: each user's tokens).
 * Returns 1 when built, 0 when deleting m revokes nothing, -1 on error.
 */
int sql_build_revocation_log(sql_query *q, const model_def *m, const fnode *where, int64_t now_ms);

/* The values to insert: obj plus "now" for an absent read-only ms_date
 * "created" (Role's). A new reference. */
json_t *sql_insert_values(const model_def *m, const json_t *obj);

int sql_build_delete(sql_query *q, const model_def *m, const fnode *where);

/* For statements of the store's own: appends text (from code, never from a
 * request), an identifier, and " WHERE <where>" (nothing when where is NULL). */
void sql_append(sql_query *q, const char *text);
void sql_append_ident(sql_query *q, const char *name);   /* double-quoted */
int sql_append_where(sql_query *q, const fnode *where);

/* DDL for model_sync: the table with every column, one added column, and the
 * index of an index/unique property, named "ix_<table>_<column>". */
int sql_build_create_table(sql_query *q, const model_def *m);
int sql_build_add_column(sql_query *q, const model_def *m, const model_prop *p);
int sql_build_create_index(sql_query *q, const model_def *m, const model_prop *p);

/* The column type of p in dialect d ("TEXT", "REAL", ...). */
const char *sql_column_type(sql_dialect d, const model_prop *p);

/* The value to bind for p given v (a new reference; NULL when out of memory). */
json_t *sql_value(sql_dialect d, const model_prop *p, const json_t *v);

/* The store's own statements, written once (store/queries.c, schema.c):
 * "?N" turned into PostgreSQL's "$N" (-1: out does not hold it), and a
 * schema template with its {WORDS} in dialect d (schema.c; malloc'd, NULL
 * when out of memory). */
int sql_number_placeholders(const char *in, char *out, size_t cap);
char *sql_dialect_text(sql_dialect d, const char *tmpl);
/* Schema template of version v (1..), NULL past the last (store/schema.c). */
const char *store_migration(int version);

/* ---- test hooks of the SQLite driver (store/sqlite.c); only tests call these ---- */

/* EXPLAIN QUERY PLAN of q on s, one plan line per "\n"-ended line; malloc'd,
 * NULL on error. */
char *store_sqlite_explain(store_t *s, const sql_query *q);
/* Runs SQL without values (e.g. "BEGIN" / "COMMIT" around a bulk load). */
store_err store_sqlite_exec(store_t *s, const char *sql);

#endif
