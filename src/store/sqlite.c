/*
 * sqlite.c — the SQLite driver of the store (store/driver.h).
 *
 * One database file in WAL mode, opened once per thread: SQLite connections
 * are cheap, and a connection of its own lets every worker read while another
 * writes. Statements are prepared once per connection and reused. Writes that
 * touch more than one row run in one BEGIN IMMEDIATE transaction, so they take
 * the write lock up front instead of failing half-way on an upgrade. Also
 * here: the REGEXP function (PCRE2), the time budget of a model query (a
 * progress handler), the server's claim on the file (flock), 0600 files.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "model/regex.h"
#include "store/backends.h"
#include "store/conns.h"
#include "store/driver.h"
#include "store/sql.h"
#include "store/store.h"

/* Fixed statements: the store's (queries.h) below, the transaction's at the top. */
#define STMT_MAX 64
enum { S_BEGIN = STMT_MAX - 3, S_COMMIT, S_ROLLBACK };

/* A statement built at run time (sql.h), kept for reuse by its text. */
typedef struct dyn_stmt {
    char *sql;
    sqlite3_stmt *st;
    bool busy;               /* stepping now (a row callback may query again) */
} dyn_stmt;

#define DYN_MAX 32

typedef struct dconn conn;

struct dconn {
    conn_node node;          /* first: the store's list of connections */
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_MAX];
    dyn_stmt dyn[DYN_MAX];
    unsigned dyn_next;       /* round-robin victim when the cache is full */
    int64_t deadline_ns;     /* the running model query stops here; 0: none */
};

typedef struct sqlite_store {
    store_t base;
    char *path;
    conn_set conns;          /* one per thread, closed with the store */
    int claim_fd;            /* holds the server's lock (sq_claim), or -1 */
} sqlite_store;



/* ---- connections ------------------------------------------------------- */

static void conn_close(conn *c)
{
    for (int i = 0; i < STMT_MAX; i++)
        sqlite3_finalize(c->stmt[i]);
    for (int i = 0; i < DYN_MAX; i++) {
        sqlite3_finalize(c->dyn[i].st);
        free(c->dyn[i].sql);
    }
    sqlite3_close(c->db);
    free(c);
}

static void conn_close_node(conn_node *n)
{
    conn_close((conn *)n);
}

static int conn_exec(conn *c, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    if (err)
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(c->db));
    sqlite3_free(msg);
    return -1;
}

/* ---- REGEXP ------------------------------------------------------------ */

/* A compiled pattern, cached on the statement while its pattern is constant. */
typedef struct re_cached {
    rx *re;
    unsigned flags;
} re_cached;

static void re_free(void *p)
{
    rx_free(((re_cached *)p)->re);
    free(p);
}

static re_cached *re_compile(sqlite3_context *ctx, const char *pattern, unsigned flags)
{
    re_cached *r = malloc(sizeof *r);
    char msg[192];
    if (r == NULL) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    if ((r->re = rx_compile(pattern, flags, msg, sizeof msg)) == NULL) {
        sqlite3_result_error(ctx, msg, -1);
        free(r);
        return NULL;
    }
    r->flags = flags;
    return r;
}

/*
 * regexp(pattern, text[, flags]): PCRE2, JavaScript syntax (model/regex.h);
 * flags as in "/pat/flags". "X REGEXP Y" calls regexp(Y, X). The compiled
 * pattern is kept as auxiliary data of argument 0, so a bound pattern
 * compiles once per run of the statement, not once per row. NULL text or
 * pattern: NULL (no match). A match past PCRE2's limits fails the statement
 * with SQLITE_INTERRUPT, as the time budget does: never a quiet "no".
 */
static void sql_regexp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *pattern = (const char *)sqlite3_value_text(argv[0]);
    const char *text = (const char *)sqlite3_value_text(argv[1]);
    const char *ftext = argc > 2 ? (const char *)sqlite3_value_text(argv[2]) : NULL;
    unsigned flags = 0;
    if (pattern == NULL || text == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    if (ftext && rx_parse_flags(ftext, &flags) < 0) {
        sqlite3_result_error(ctx, "regexp: unknown flags", -1);
        return;
    }
    re_cached *r = sqlite3_get_auxdata(ctx, 0);
    bool fresh = r == NULL || r->flags != flags;
    if (fresh && (r = re_compile(ctx, pattern, flags)) == NULL)
        return;
    rx_result m = rx_match(r->re, text, (size_t)sqlite3_value_bytes(argv[1]));
    if (m == RX_LIMIT) {
        sqlite3_result_error(ctx, "regexp: match limit reached", -1);
        sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
    } else if (m == RX_FAILED) {
        sqlite3_result_error(ctx, "regexp: match failed", -1);
    } else {
        sqlite3_result_int(ctx, m == RX_YES);
    }
    if (fresh) /* may free r at once: nothing uses it after this */
        sqlite3_set_auxdata(ctx, 0, r, re_free);
}

static int register_regexp(conn *c, char *err, size_t errlen)
{
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    if (sqlite3_create_function_v2(c->db, "regexp", 2, flags, NULL, sql_regexp, NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_create_function_v2(c->db, "regexp", 3, flags, NULL, sql_regexp, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "regexp: %s", sqlite3_errmsg(c->db));
    return -1;
}

/* ---- the time budget of model queries ---------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Called by SQLite every PROGRESS_STEPS virtual-machine steps: non-zero
 * interrupts the statement (SQLITE_INTERRUPT) once its deadline passed. */
static int past_deadline(void *arg)
{
    conn *c = arg;
    return c->deadline_ns != 0 && now_ns() > c->deadline_ns;
}

#define PROGRESS_STEPS 1000

/* The deadline of one model query (server.queryTimeoutMs), from now; 0
 * ends it, so the token and user statements that follow run unbounded. */
static void sq_budget(conn *c, int ms)
{
    c->deadline_ns = ms > 0 ? now_ns() + (int64_t)ms * 1000000 : 0;
}

static conn *conn_open(sqlite_store *s, char *err, size_t errlen)
{
    conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(s->path, &c->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", s->path, c->db ? sqlite3_errmsg(c->db) : "cannot open");
        conn_close(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, 5000);
    /* WAL: readers never wait for the writer. synchronous=NORMAL in WAL mode
     * survives a crash of the process (kill -9); only a power loss may lose
     * the last commits, which FULL would also keep at one fsync per commit. */
    /* case_sensitive_like: LoopBack's like is case-sensitive (ilike is not). */
    /* No mmap_size: mapped pages count in the server's RSS, and the start-up
     * scan of a million tokens would map the whole token table. */
    if (conn_exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     " PRAGMA foreign_keys=ON; PRAGMA case_sensitive_like=ON;", err, errlen) != 0 ||
        register_regexp(c, err, errlen) != 0) {
        conn_close(c);
        return NULL;
    }
    sqlite3_progress_handler(c->db, PROGRESS_STEPS, past_deadline, c);
    return c;
}

/* This thread's connection, opened on first use. */
static conn *conn_get(sqlite_store *s)
{
    conn *c = (conn *)conns_mine(&s->conns);
    if (c)
        return c;
    char err[256];
    c = conn_open(s, err, sizeof err);
    if (c == NULL) {
        log_error("sqlite: %s", err);
        return NULL;
    }
    conns_add(&s->conns, &c->node);
    return c;
}

static sqlite3_stmt *dyn_prepare(conn *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        log_error("sqlite: prepare: %s", sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Keeps st in an idle or empty slot of the cache; false when all are busy. */
static bool dyn_keep(conn *c, const char *sql, sqlite3_stmt *st)
{
    for (unsigned n = 0; n < DYN_MAX; n++) {
        dyn_stmt *d = &c->dyn[(c->dyn_next + n) % DYN_MAX];
        if (d->busy)
            continue;
        char *copy = strdup(sql);
        if (copy == NULL)
            return false;
        sqlite3_finalize(d->st);
        free(d->sql);
        *d = (dyn_stmt){copy, st, true};
        c->dyn_next = (c->dyn_next + n + 1) % DYN_MAX;
        return true;
    }
    return false;
}

/*
 * A prepared statement for sql: an idle cached one, else a new one that is
 * cached when a slot is free. Release it with dyn_release. Queries of a
 * filter repeat (a page, the next page), and preparing costs more than
 * running them on an index.
 */
static sqlite3_stmt *dyn_acquire(conn *c, const char *sql)
{
    for (int i = 0; i < DYN_MAX; i++) {
        dyn_stmt *d = &c->dyn[i];
        if (d->st && !d->busy && strcmp(d->sql, sql) == 0) {
            d->busy = true;
            return d->st;
        }
    }
    sqlite3_stmt *st = dyn_prepare(c, sql);
    if (st)
        dyn_keep(c, sql, st);
    return st;
}

static void dyn_release(conn *c, sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < DYN_MAX; i++) {
        if (c->dyn[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            c->dyn[i].busy = false;
            return;
        }
    }
    sqlite3_finalize(st);
}

static int bind_one(sqlite3_stmt *st, int i, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER: return sqlite3_bind_int64(st, i, json_integer_value(v));
    case JSON_REAL:    return sqlite3_bind_double(st, i, json_real_value(v));
    case JSON_STRING:
        return sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v), SQLITE_STATIC);
    case JSON_TRUE:    return sqlite3_bind_int(st, i, 1);
    case JSON_FALSE:   return sqlite3_bind_int(st, i, 0);
    case JSON_NULL:    return sqlite3_bind_null(st, i);
    case JSON_OBJECT:
    case JSON_ARRAY:
        break;
    }
    return SQLITE_MISMATCH; /* sql_value turns containers into text */
}

/* q's statement with every value bound (the values stay owned by q). */
static sqlite3_stmt *prepare_query(conn *c, const sql_query *q)
{
    sqlite3_stmt *st = dyn_acquire(c, q->text);
    size_t i;
    json_t *v;
    json_array_foreach(q->binds, i, v) {
        if (st && bind_one(st, (int)i + 1, v) != SQLITE_OK) {
            log_error("sqlite: bind %zu: %s", i + 1, sqlite3_errmsg(c->db));
            dyn_release(c, st);
            st = NULL;
        }
    }
    return st;
}


/* ---- errors ------------------------------------------------------------ */

/* What rc means to the caller: a unique index violated is a conflict, a
 * foreign key naming no row a bad reference (the caller names them
 * further); busy or I/O trouble is unavailable; an interrupt the time
 * budget running out. Anything else is logged. */
static store_err err_of(conn *c, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_OK;
    case SQLITE_CONSTRAINT: {
        int x = sqlite3_extended_errcode(c->db);
        if (x == SQLITE_CONSTRAINT_UNIQUE || x == SQLITE_CONSTRAINT_PRIMARYKEY)
            return STORE_CONFLICT;
        if (x == SQLITE_CONSTRAINT_FOREIGNKEY)
            return STORE_BAD_REFERENCE;
        break;
    }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
        return STORE_UNAVAILABLE;
    case SQLITE_INTERRUPT:
        return STORE_TIMEOUT;
    default:
        break;
    }
    log_error("sqlite: %s", sqlite3_errmsg(c->db));
    return STORE_ERROR;
}

/* ---- running statements ------------------------------------------------ */

/* The fixed statement id of this connection (prepared on first use),
 * reset and ready to bind. */
static sqlite3_stmt *fixed(conn *c, int id, const char *sql)
{
    if (c->stmt[id] == NULL &&
        sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL) != SQLITE_OK) {
        log_error("sqlite: prepare: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    sqlite3_reset(c->stmt[id]);
    sqlite3_clear_bindings(c->stmt[id]);
    return c->stmt[id];
}

static int bind_val(sqlite3_stmt *st, int i, const dval *v)
{
    if (v->null)
        return sqlite3_bind_null(st, i);
    switch (v->type) {
    case DV_INT:
    case DV_BOOL: return sqlite3_bind_int64(st, i, v->i);
    case DV_TEXT: return sqlite3_bind_text(st, i, v->p, -1, SQLITE_STATIC);
    case DV_BLOB: return sqlite3_bind_blob(st, i, v->len ? v->p : "", (int)v->len, SQLITE_STATIC);
    }
    return SQLITE_MISMATCH;
}

/* Hands st (bound) to cur, or runs it to its end. */
static store_err start(conn *c, sqlite3_stmt *st, bool dyn, dcur *cur, int64_t *changes)
{
    if (cur) {
        *cur = (dcur){.c = c, .res = st, .dyn = dyn};
        return STORE_OK;
    }
    int rc = sqlite3_step(st);
    store_err e = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : err_of(c, rc);
    if (changes)
        *changes = e == STORE_OK ? sqlite3_changes(c->db) : 0;
    if (dyn)
        dyn_release(c, st);
    else
        sqlite3_reset(st);
    return e;
}

static store_err sq_run(conn *c, const dstmt *s, const dval *v, int n, dcur *cur, int64_t *changes)
{
    bool dyn = s->id < 0;
    db_counted();
    sqlite3_stmt *st = dyn ? dyn_acquire(c, s->sql) : fixed(c, s->id, s->sql);
    if (st == NULL)
        return STORE_ERROR;
    for (int i = 0; i < n; i++) {
        if (bind_val(st, i + 1, &v[i]) != SQLITE_OK) {
            log_error("sqlite: bind %d: %s", i + 1, sqlite3_errmsg(c->db));
            if (dyn)
                dyn_release(c, st);
            return STORE_ERROR;
        }
    }
    return start(c, st, dyn, cur, changes);
}

static store_err sq_query(conn *c, const sql_query *q, dcur *cur, int64_t *changes)
{
    sqlite3_stmt *st = prepare_query(c, q);
    db_counted();
    return st ? start(c, st, true, cur, changes) : STORE_ERROR;
}

/* Several statements, no values (a migration, DDL): run once, unprepared. */
static store_err sq_script(conn *c, const char *sql)
{
    db_counted();
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? STORE_OK : err_of(c, rc);
}

/* row < 0 once the statement is done: stepping it again would rerun it. */
static bool sq_next(dcur *cur)
{
    if (cur->row < 0)
        return false;
    int rc = sqlite3_step(cur->res);
    if (rc == SQLITE_ROW)
        return true;
    cur->row = -1;
    cur->changes = sqlite3_changes(cur->c->db);
    cur->err = rc == SQLITE_DONE ? STORE_OK : err_of(cur->c, rc);
    return false;
}

static store_err sq_end(dcur *cur)
{
    if (cur->dyn)
        dyn_release(cur->c, cur->res);
    else
        sqlite3_reset(cur->res);
    return cur->err;
}

static dkind sq_kind(dcur *cur, int col)
{
    switch (sqlite3_column_type(cur->res, col)) {
    case SQLITE_NULL:    return DK_NULL;
    case SQLITE_INTEGER: return DK_INT;
    case SQLITE_FLOAT:   return DK_REAL;
    default:             return DK_TEXT;
    }
}

static int64_t sq_col_int(dcur *cur, int col) { return sqlite3_column_int64(cur->res, col); }

static double sq_col_real(dcur *cur, int col) { return sqlite3_column_double(cur->res, col); }

static const char *sq_col_text(dcur *cur, int col, size_t *len)
{
    const char *t = (const char *)sqlite3_column_text(cur->res, col);
    if (len)
        *len = (size_t)sqlite3_column_bytes(cur->res, col);
    return t;
}

static bool sq_col_blob(dcur *cur, int col, void *dst, size_t len)
{
    if ((size_t)sqlite3_column_bytes(cur->res, col) != len)
        return false;
    memcpy(dst, sqlite3_column_blob(cur->res, col), len);
    return true;
}

static int64_t sq_insert_id(dcur *cur) { return sqlite3_last_insert_rowid(cur->c->db); }

/* ---- transactions ------------------------------------------------------ */

static store_err simple(conn *c, int id, const char *sql)
{
    dstmt s = {id, sql};
    return sq_run(c, &s, NULL, 0, NULL, NULL);
}

static store_err sq_begin(conn *c) { return simple(c, S_BEGIN, "BEGIN IMMEDIATE"); }

static store_err sq_finish(conn *c, store_err e)
{
    if (e == STORE_OK) {
        e = simple(c, S_COMMIT, "COMMIT");
        if (e == STORE_OK)
            return STORE_OK;
    }
    if (!sqlite3_get_autocommit(c->db))
        simple(c, S_ROLLBACK, "ROLLBACK");
    return e;
}

static bool sq_in_transaction(conn *c) { return !sqlite3_get_autocommit(c->db); }

static const char *sq_conflict(conn *c) { return sqlite3_errmsg(c->db); }

static int sq_has_column(conn *c, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static conn *sq_conn(store_t *base) { return conn_get((sqlite_store *)base); }

/* ---- open, close, claim ----------------------------------------------- */

static void sq_close(store_t *base)
{
    sqlite_store *s = (sqlite_store *)base;
    conns_close(&s->conns, conn_close_node);
    /* only now: closing any descriptor of the file drops the process's
     * POSIX locks on it, SQLite's included */
    if (s->claim_fd >= 0)
        close(s->claim_fd);
    free(s->path);
    free(s);
}

/*
 * One server per file: an flock on the database file itself. SQLite's own
 * locks are POSIX (fcntl) locks, which flock locks do not touch on a local
 * filesystem, and the descriptor stays open until the store closes. The
 * CLI never claims, so it keeps working beside the server.
 */
static store_err sq_claim(store_t *base, bool *sole)
{
    sqlite_store *s = (sqlite_store *)base;
    *sole = strcmp(s->path, ":memory:") == 0; /* no other process can see it */
    if (*sole)
        return STORE_OK;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_error("sqlite: %s: %s", s->path, strerror(errno));
        return STORE_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        if (!busy)
            log_error("sqlite: %s: cannot lock: %s", s->path, strerror(errno));
        close(fd);
        return busy ? STORE_CONFLICT : STORE_ERROR;
    }
    s->claim_fd = fd;
    *sole = true;
    return STORE_OK;
}

/* ---- test hooks (sql.h) ------------------------------------------------ */

static bool append_line(char **out, size_t *len, const char *line)
{
    size_t n = strlen(line);
    char *t = realloc(*out, *len + n + 2);
    if (t == NULL)
        return false;
    memcpy(t + *len, line, n);
    t[*len + n] = '\n';
    t[*len + n + 1] = '\0';
    *out = t;
    *len += n + 1;
    return true;
}

char *store_sqlite_explain(store_t *base, const sql_query *q)
{
    conn *c = conn_get((sqlite_store *)base);
    sql_query plan;
    sql_query_init(&plan, SQL_SQLITE);
    sql_append(&plan, "EXPLAIN QUERY PLAN ");
    sql_append(&plan, q->text);
    json_decref(plan.binds);
    plan.binds = json_incref(q->binds);
    sqlite3_stmt *st = c && !plan.failed ? prepare_query(c, &plan) : NULL;
    char *out = NULL;
    size_t len = 0;
    bool ok = st != NULL;
    while (ok && sqlite3_step(st) == SQLITE_ROW)
        ok = append_line(&out, &len, (const char *)sqlite3_column_text(st, 3));
    if (c)
        dyn_release(c, st);
    sql_query_free(&plan);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out ? out : strdup("");
}

store_err store_sqlite_exec(store_t *base, const char *sql)
{
    conn *c = conn_get((sqlite_store *)base);
    if (c == NULL)
        return STORE_UNAVAILABLE;
    char err[256];
    if (conn_exec(c, sql, err, sizeof err) == 0)
        return STORE_OK;
    log_error("sqlite: %s", err);
    return STORE_ERROR;
}


static const store_driver SQLITE_DRIVER = {
    .name = "sqlite",
    .dialect = SQL_SQLITE,
    .close = sq_close,
    .conn = sq_conn,
    .claim = sq_claim,
    .run = sq_run,
    .query = sq_query,
    .script = sq_script,
    .next = sq_next,
    .end = sq_end,
    .kind = sq_kind,
    .col_int = sq_col_int,
    .col_real = sq_col_real,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .insert_id = sq_insert_id,
    .begin = sq_begin,
    .finish = sq_finish,
    .in_transaction = sq_in_transaction,
    .conflict = sq_conflict,
    .budget = sq_budget,
    .has_column = sq_has_column,
};

/*
 * SQLite counts its memory under one global mutex by default: with a
 * connection per thread, every allocation of every query would queue on it.
 * Nothing here reads those counts, so they are turned off, once, before the
 * library starts.
 */
static void configure_library(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

/* Takes the group's and others' bits off an existing file. */
static void owner_only(const char *file)
{
    struct stat st;
    if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
        chmod(file, st.st_mode & 0700);
}

/*
 * The database holds emails and password hashes: only its owner may read
 * it, whatever the umask. The file is created here with mode 0600 (or has
 * the group's and others' bits taken off); SQLite creates its -wal, -shm
 * and -journal files with the mode of the database file, and those already
 * there are narrowed too.
 */
static void restrict_files(const char *path)
{
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
            fchmod(fd, st.st_mode & 0700);
        close(fd);
    }
    static const char *const SUFFIXES[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof SUFFIXES / sizeof SUFFIXES[0]; i++) {
        char side[4096];
        if ((size_t)snprintf(side, sizeof side, "%s%s", path, SUFFIXES[i]) < sizeof side)
            owner_only(side);
    }
}

store_t *store_sqlite_open(const char *path, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_library);
    if (*path == '\0') {
        snprintf(err, errlen, "sqlite: empty file path");
        return NULL;
    }
    sqlite_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.drv = &SQLITE_DRIVER;
    s->claim_fd = -1;
    conns_init(&s->conns);
    restrict_files(path);
    /* Open once now, so a bad path fails at start, not on the first request. */
    conn *c = conn_open(s, err, errlen);
    if (c == NULL) {
        sq_close(&s->base);
        return NULL;
    }
    conns_add(&s->conns, &c->node);
    return &s->base;
}
