/*
 * driver.h — what really differs between the SQL databases behind a store.
 *
 * The storage contract (store.h) is implemented once, over this driver
 * (store/users.c, tokens.c, failures.c, events.c, rows.c, schema.c), as
 * SQLite's VFS sits under everything above it. A driver (store/sqlite.c,
 * store/postgres.c) gives: this thread's connection; running a statement
 * with bound values and reading its rows; transactions; error mapping; and
 * the few extras only one database needs (PostgreSQL: NOTIFY, advisory
 * locks, LISTEN; SQLite: the time budget of a query, the server's claim).
 *
 * Statement text is written once, with "?N" placeholders; a driver whose
 * database numbers them otherwise rewrites them when it prepares
 * (sql_placeholders). Every error a driver returns is already a store_err,
 * and whatever it could not map it logged.
 */
#ifndef TESSERA_DRIVER_H
#define TESSERA_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/sql.h"
#include "store/store.h"

typedef struct dconn dconn; /* a driver's connection of this thread */

/* One bound value. A NULL keeps its type: PostgreSQL prepares with it. */
typedef enum { DV_INT, DV_TEXT, DV_BLOB, DV_BOOL } dval_type;

typedef struct dval {
    dval_type type;
    bool null;
    int64_t i;          /* DV_INT, DV_BOOL */
    const void *p;      /* DV_TEXT (NUL-terminated), DV_BLOB */
    size_t len;         /* DV_BLOB */
} dval;

static inline dval dv_int(int64_t x) { return (dval){.type = DV_INT, .i = x}; }
static inline dval dv_int_or_null(int64_t x) { return (dval){.type = DV_INT, .i = x, .null = x == 0}; }
static inline dval dv_bool(bool b) { return (dval){.type = DV_BOOL, .i = b}; }
static inline dval dv_text(const char *s) { return (dval){.type = DV_TEXT, .p = s}; }
/* NULL or "" binds NULL */
static inline dval dv_text_opt(const char *s) { return (dval){.type = DV_TEXT, .p = s, .null = s == NULL || *s == '\0'}; }
static inline dval dv_blob(const void *b, size_t len) { return (dval){.type = DV_BLOB, .p = b, .len = len, .null = b == NULL}; }

/*
 * The rows of one run. The fields are the driver's: res is its statement or
 * result, row/nrows where it reads a buffered result. changes: the rows a
 * write touched. err: why next() stopped early.
 */
typedef struct dcur {
    dconn *c;
    void *res;
    int row, nrows;
    int64_t changes;
    store_err err;
    bool dyn;
} dcur;

/* How a column of a model row is stored (rows.c turns it into JSON). */
typedef enum { DK_NULL, DK_INT, DK_REAL, DK_BOOL, DK_TEXT } dkind;

/* A fixed statement: its slot in the per-connection cache, and its text. */
typedef struct dstmt {
    int id;
    const char *sql;
} dstmt;

typedef struct store_driver {
    const char *name;       /* "sqlite", "postgresql"; the log's prefix too */
    sql_dialect dialect;

    void (*close)(store_t *s);
    dconn *(*conn)(store_t *s);          /* this thread's; NULL: unavailable */
    /* STORE_OK, *sole: no other server can write this database (store.h) */
    store_err (*claim)(store_t *s, bool *sole);

    /*
     * Runs a fixed statement (prepared once per connection), or a built one
     * (sql.h, values from q->binds). With cur: its rows are read with next()
     * and released with end(); without: it runs to completion. Either way
     * cur->changes / *changes gets the rows a write touched.
     */
    store_err (*run)(dconn *c, const dstmt *s, const dval *v, int n, dcur *cur, int64_t *changes);
    store_err (*query)(dconn *c, const sql_query *q, dcur *cur, int64_t *changes);
    /* several statements without values: a migration */
    store_err (*script)(dconn *c, const char *sql);
    bool (*next)(dcur *cur);
    store_err (*end)(dcur *cur);

    /* columns of the current row */
    dkind (*kind)(dcur *cur, int col);
    int64_t (*col_int)(dcur *cur, int col);
    double (*col_real)(dcur *cur, int col);
    const char *(*col_text)(dcur *cur, int col, size_t *len); /* NULL: SQL NULL */
    /* exactly len bytes into dst; false (dst untouched) otherwise */
    bool (*col_blob)(dcur *cur, int col, void *dst, size_t len);
    /* the id the INSERT just run generated (RETURNING, or the rowid) */
    int64_t (*insert_id)(dcur *cur);

    store_err (*begin)(dconn *c);
    /* commits when e is STORE_OK, else rolls back; the first failure */
    store_err (*finish)(dconn *c, store_err e);
    bool (*in_transaction)(dconn *c);
    /* what the last unique violation named (a constraint, or a message) */
    const char *(*conflict)(dconn *c);

    /* Optional: NULL where the database does not need it. */
    void (*budget)(dconn *c, int ms);                /* a model query's deadline; 0 ends it */
    int (*has_column)(dconn *c, const char *table, const char *column); /* else ADD COLUMN IF NOT EXISTS */
    store_err (*notify)(dconn *c);                   /* revocations logged: wake the listeners */
    store_err (*lock_schema)(dconn *c);              /* inside a transaction: migrations, DDL */
    store_err (*lock_purge)(dconn *c, bool *got);    /* one purger at a time */
    void (*unlock_purge)(dconn *c);
    /* after an insert that chose its own integer id */
    store_err (*id_chosen)(dconn *c, const model_def *m);
    store_err (*events_wait)(store_t *s, int timeout_ms);
} store_driver;

/* The driver's connection or STORE_UNAVAILABLE, for the domain files. */
#define DB_OR_FAIL(st, c)                                    \
    dconn *c = (st)->drv->conn(st);                          \
    if (c == NULL)                                           \
        return STORE_UNAVAILABLE

/* ---- helpers of the domain files (store/db.c) ---- */

/* A driver calls it for each statement it sends (store_counted_statements). */
void db_counted(void);

/* Runs a fixed statement of the domain's list (store/queries.h) to its end. */
store_err db_run(store_t *s, dconn *c, int id, const dval *v, int n, int64_t *changes);
/* Opens its rows. */
store_err db_rows(store_t *s, dconn *c, int id, const dval *v, int n, dcur *cur);
/* A failed sql_build_*: logged, STORE_ERROR. */
store_err db_build_failed(const store_t *s, const sql_query *q);
/* A begin .. finish around f. */
store_err db_begin(store_t *s, dconn *c);
store_err db_finish(store_t *s, dconn *c, store_err e);
/* The text of a column copied into dst (truncated; "" for NULL). */
void db_copy(store_t *s, dcur *cur, int col, char *dst, size_t cap);

#endif
