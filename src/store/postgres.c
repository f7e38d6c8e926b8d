/*
 * postgres.c — the PostgreSQL driver of the store (store/driver.h).
 *
 * One libpq session per thread, opened on first use; the fixed statements are
 * prepared once per session (again after a reconnect), the model queries of
 * sql.h run as parameterised statements. A session the server dropped is
 * noticed before it is used and reset; while the server is away, calls fail
 * with STORE_UNAVAILABLE (the API's 503) and retry the connection at most
 * every RECONNECT_PAUSE_MS. Every write of more than one statement is one
 * transaction, rolled back on any failure.
 *
 * Several tessera processes may share the database: migrations and model
 * DDL run under a transaction-level advisory lock, the expired-token purge
 * under a session-level one that only one process gets at a time, and every
 * revocation logged also NOTIFYs the channel that events_wait LISTENs on.
 */
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/isodate.h"
#include "core/log.h"
#include "store/backends.h"
#include "store/conns.h"
#include "store/driver.h"
#include "store/sql.h"
#include "store/store.h"

/* Advisory lock keys: fixed, so every tessera process asks for the same. */
#define LOCK_SCHEMA "7310595871306817281" /* pg_advisory_xact_lock: migrate, model_sync */
#define LOCK_PURGE  "7310595871306817282" /* pg_try_advisory_lock: token_purge_expired  */
#define EVENTS_CHANNEL "tessera_events"
#define RECONNECT_PAUSE_MS 200

/* Type oids of the result columns read (pg_type.h is a server header). */
enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25,
       OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

/* Fixed statements: the store's (queries.h) below, this file's at the top. */
enum { S_UNLOCK_PURGE = 61, S_LOCK_PURGE, S_NOTIFY };

typedef struct pg_store pg_store;

typedef struct dconn conn;

struct dconn {
    conn_node node;          /* first: the store's list of connections */
    pg_store *store;
    PGconn *pg;              /* NULL until the first connect succeeds       */
    uint64_t prepared;       /* bit id: statement id is prepared here     */
    bool broken;             /* a call found the session lost: reset first  */
    int64_t retry_at_ms;     /* after a failed connect: not before this     */
    char constraint[64];     /* the unique constraint the last write hit    */
    int timeout_ms;          /* statement_timeout set on this session ...   */
    bool timeout_set;        /* ... when true (a new session has the default) */
};

struct pg_store {
    store_t base;
    char *conninfo;
    conn_set conns;          /* one per thread, closed with the store */
    pthread_mutex_t listen_lock;  /* guards listener */
    PGconn *listener;        /* LISTENing session of events_wait, or NULL    */
};

/* ---- parameters -------------------------------------------------------- */

#define PMAX 10

/* Values of one statement: text, or binary for hashes (BYTEA). Inline
 * storage serves the fixed statements; model queries may need more. */
typedef struct params {
    int n;
    const char **v;
    int *len, *fmt;
    Oid *type;
    char (*num)[32];
    const char *v_[PMAX];
    int len_[PMAX], fmt_[PMAX];
    Oid type_[PMAX];
    char num_[PMAX][32];
    bool heap;
} params;

static void params_init(params *p)
{
    memset(p, 0, sizeof *p);
    p->v = p->v_;
    p->len = p->len_;
    p->fmt = p->fmt_;
    p->type = p->type_;
    p->num = p->num_;
}

static bool params_init_n(params *p, size_t n)
{
    params_init(p);
    if (n <= PMAX)
        return true;
    p->heap = true;
    p->v = calloc(n, sizeof *p->v);
    p->len = calloc(n, sizeof *p->len);
    p->fmt = calloc(n, sizeof *p->fmt);
    p->type = calloc(n, sizeof *p->type);
    p->num = calloc(n, sizeof *p->num);
    return p->v && p->len && p->fmt && p->type && p->num;
}

static void params_free(params *p)
{
    if (!p->heap)
        return;
    free(p->v);
    free(p->len);
    free(p->fmt);
    free(p->type);
    free(p->num);
}

static void p_str(params *p, const char *s)
{
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->type[p->n] = 0;
    p->n++;
}

static void p_int(params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof p->num[0], "%lld", (long long)x);
    p_str(p, p->num[p->n]);
}

/* One value of a fixed statement, typed, so that a NULL has a type too
 * ("?10 IS NULL"); bytes go binary. */
static void p_dval(params *p, const dval *v)
{
    static const Oid TYPES[] = {[DV_INT] = OID_INT8, [DV_TEXT] = OID_TEXT, [DV_BLOB] = OID_BYTEA,
                                [DV_BOOL] = OID_BOOL};
    if (v->null)
        p_str(p, NULL);
    else if (v->type == DV_INT)
        p_int(p, v->i);
    else if (v->type == DV_BOOL)
        p_str(p, v->i ? "t" : "f");
    else
        p_str(p, v->p);
    if (v->type == DV_BLOB && !v->null) {
        p->len[p->n - 1] = (int)v->len;
        p->fmt[p->n - 1] = 1;
    }
    p->type[p->n - 1] = TYPES[v->type];
}

/*
 * One value of a model query (sql.h). Values go as text and PostgreSQL
 * takes the column's type for them; a real is typed float8, so that 1.5
 * compared with a BIGINT column compares numbers instead of failing to
 * parse "1.5" as a bigint.
 */
static bool p_json(params *p, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER: p_int(p, json_integer_value(v)); return true;
    case JSON_REAL:
        snprintf(p->num[p->n], sizeof p->num[0], "%.17g", json_real_value(v));
        p_str(p, p->num[p->n]);
        p->type[p->n - 1] = OID_FLOAT8;
        return true;
    case JSON_STRING: p_str(p, json_string_value(v)); return true;
    case JSON_TRUE:   p_str(p, "true"); return true;
    case JSON_FALSE:  p_str(p, "false"); return true;
    case JSON_NULL:   p_str(p, NULL); return true;
    case JSON_OBJECT:
    case JSON_ARRAY:
        break;
    }
    return false; /* sql_value turns containers into text */
}

/* ---- sessions ---------------------------------------------------------- */

static void quiet_notice(void *arg, const char *message) { (void)arg; (void)message; }

/* libpq's message on one line, without its trailing newline. */
static void trim_message(char *dst, size_t cap, const char *msg)
{
    snprintf(dst, cap, "%s", msg && *msg ? msg : "unknown error");
    for (char *ch = dst; *ch; ch++) {
        if (*ch == '\n' || *ch == '\t')
            *ch = ' ';
    }
    size_t n = strlen(dst);
    while (n && dst[n - 1] == ' ')
        dst[--n] = '\0';
}

/* A new session to conninfo (a URL or key=value pairs; the caller's
 * connect_timeout wins over ours), or NULL with libpq's message in err. */
static PGconn *connect_db(const char *conninfo, char *err, size_t errlen)
{
    const char *const keys[] = {"connect_timeout", "dbname", "client_encoding",
                                "fallback_application_name", NULL};
    const char *const vals[] = {"5", conninfo, "UTF8", "tessera", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg && PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, quiet_notice, NULL);
        return pg;
    }
    trim_message(err, errlen, pg ? PQerrorMessage(pg) : "out of memory");
    PQfinish(pg);
    return NULL;
}

/* A session that ran model queries gets their time budget back as soon as
 * it is connected again, so that a read exec_any retries on it is bounded
 * too. Sessions that never ran one (the sync thread's) stay unbounded. */
static void restore_timeout(conn *c)
{
    char sql[64];
    if (c->timeout_ms <= 0)
        return;
    snprintf(sql, sizeof sql, "SET statement_timeout = %d", c->timeout_ms);
    PGresult *r = PQexec(c->pg, sql);
    c->timeout_set = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
}

/*
 * (Re)connects c. A failure holds further attempts off for a moment, so
 * that while the server is down a burst of requests answers 503 at once
 * instead of each waiting on a connect of its own.
 */
static bool conn_connect(conn *c)
{
    int64_t now = iso_now_ms();
    if (now < c->retry_at_ms)
        return false;
    c->prepared = 0;
    c->broken = false;
    c->timeout_set = false;
    if (c->pg) {
        PQreset(c->pg);
    } else {
        char err[256];
        c->pg = connect_db(c->store->conninfo, err, sizeof err);
        if (c->pg == NULL)
            log_error("postgres: %s", err);
    }
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK) {
        c->retry_at_ms = 0;
        restore_timeout(c);
        return true;
    }
    c->broken = true;
    c->retry_at_ms = now + RECONNECT_PAUSE_MS;
    return false;
}

/* Reads what the server sent an idle session unasked; false when that
 * turns out to be the end of it (a restart, a terminated backend). */
static bool idle_session_alive(PGconn *pg)
{
    struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
    if (pfd.fd < 0)
        return false;
    if (poll(&pfd, 1, 0) <= 0)
        return true;
    if (!PQconsumeInput(pg))
        return false;
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL)
        PQfreemem(n);
    return PQstatus(pg) == CONNECTION_OK;
}

static bool conn_usable(conn *c)
{
    if (c->pg == NULL || c->broken || PQstatus(c->pg) != CONNECTION_OK)
        return false;
    return PQtransactionStatus(c->pg) != PQTRANS_IDLE || idle_session_alive(c->pg);
}

static conn *conn_new(pg_store *s)
{
    conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->store = s;
    conns_add(&s->conns, &c->node);
    return c;
}

/* This thread's session, connected (again) when needed; NULL: unreachable. */
static conn *conn_get(pg_store *s)
{
    conn *c = (conn *)conns_mine(&s->conns);
    if (c == NULL && (c = conn_new(s)) == NULL)
        return NULL;
    if (conn_usable(c) || conn_connect(c))
        return c;
    return NULL;
}

/* ---- running statements ------------------------------------------------ */

static bool conn_lost(conn *c, const PGresult *r)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return true;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state == NULL || strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
}

/*
 * What a result means to the caller. A lost session is STORE_UNAVAILABLE
 * and marked for reset; so are the transient refusals (serialization,
 * deadlock, too many connections). Unique and foreign-key violations are
 * STORE_CONFLICT and STORE_BAD_REFERENCE, for the caller to name further.
 */
static store_err result_err(conn *c, const PGresult *r, const char *what)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return STORE_OK;
    if (conn_lost(c, r)) {
        c->broken = true;
        return STORE_UNAVAILABLE;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (strcmp(state, "23505") == 0) {
        const char *name = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
        snprintf(c->constraint, sizeof c->constraint, "%s", name ? name : "");
        return STORE_CONFLICT;
    }
    if (strcmp(state, "23503") == 0)
        return STORE_BAD_REFERENCE;
    if (strcmp(state, "57014") == 0) /* query_canceled: statement_timeout */
        return STORE_TIMEOUT;
    if (strcmp(state, "2201B") == 0) /* a regexp PCRE2 reads and PostgreSQL does not */
        return STORE_BAD_PATTERN;
    if (strncmp(state, "40", 2) == 0 || strncmp(state, "53", 2) == 0)
        return STORE_UNAVAILABLE;
    char msg[512];
    trim_message(msg, sizeof msg, PQresultErrorMessage(r));
    log_error("postgres: %s (%s): %.200s", msg, state, what);
    return STORE_ERROR;
}

/* One run of statement id (prepared on first use, its "?N" numbered
 * "$N") or of sql (with no values: the simple protocol, which runs a
 * migration's several statements). */
static PGresult *exec_once(conn *c, int id, const char *sql, const params *p)
{
    int n = p ? p->n : 0;
    const char *const *v = p ? p->v : NULL;
    const int *len = p ? p->len : NULL, *fmt = p ? p->fmt : NULL;
    if (id < 0 && p == NULL)
        return PQexec(c->pg, sql);   /* may hold several statements */
    if (id < 0)
        return PQexecParams(c->pg, sql, n, p ? p->type : NULL, v, len, fmt, 0);
    char name[16];
    snprintf(name, sizeof name, "tq%d", id);
    if (!(c->prepared & (1ULL << id))) {
        char text[2048];
        if (sql_number_placeholders(sql, text, sizeof text) != 0)
            return NULL;
        PGresult *r = PQprepare(c->pg, name, text, n, p ? p->type : NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return r;
        PQclear(r);
        c->prepared |= 1ULL << id;
    }
    return PQexecPrepared(c->pg, name, n, v, len, fmt, 0);
}

/*
 * Runs a statement; *out (when not NULL) gets the result on STORE_OK, to
 * PQclear. A read outside a transaction that finds the session lost (the
 * server restarted since its last use) runs once more on a new session:
 * it changes nothing, so running it twice is safe. Writes are not retried:
 * whether a lost one committed cannot be known.
 */
static store_err exec_any(conn *c, int id, const char *sql, const params *p, PGresult **out)
{
    bool idle = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    bool retry = idle && (strncmp(sql, "SELECT", 6) == 0 || strcmp(sql, "BEGIN") == 0);
    PGresult *r = exec_once(c, id, sql, p);
    store_err e = result_err(c, r, sql);
    if (e == STORE_UNAVAILABLE && c->broken && retry && conn_connect(c)) {
        PQclear(r);
        r = exec_once(c, id, sql, p);
        e = result_err(c, r, sql);
    }
    if (e == STORE_OK && out)
        *out = r;
    else
        PQclear(r);
    return e;
}

static store_err exec_sql(conn *c, const char *sql) { return exec_any(c, -1, sql, NULL, NULL); }

static store_err begin(conn *c) { return exec_sql(c, "BEGIN"); }

/* Commits when e is STORE_OK, else rolls back; returns the first failure. */
static store_err finish(conn *c, store_err e)
{
    if (e == STORE_OK) {
        e = exec_sql(c, "COMMIT");
        if (e == STORE_OK)
            return STORE_OK;
    }
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
        PQclear(PQexec(c->pg, "ROLLBACK"));
    return e;
}

/* ---- reading results --------------------------------------------------- */

static const char *cell(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t cell_int(const PGresult *r, int row, int col)
{
    const char *v = cell(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A BYTEA of len bytes in text form ("\\x" then hex) into dst; false
 * (dst untouched) otherwise. */
static bool cell_blob(const PGresult *r, int row, int col, void *dst, size_t len)
{
    const char *v = cell(r, row, col);
    if (v == NULL || strlen(v) != 2 + 2 * len || v[0] != '\\' || v[1] != 'x')
        return false;
    for (size_t i = 0; i < 2 * len; i++) {
        if (hex_digit(v[2 + i]) < 0)
            return false;
    }
    uint8_t *out = dst;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(hex_digit(v[2 + 2 * i]) << 4 | hex_digit(v[3 + 2 * i]));
    return true;
}

/* ---- open, close, claim ----------------------------------------------- */

static void conn_free(conn_node *n)
{
    PQfinish(((conn *)n)->pg);
    free(n);
}

static void pg_close(store_t *base)
{
    pg_store *s = (pg_store *)base;
    conns_close(&s->conns, conn_free);
    PQfinish(s->listener);
    pthread_mutex_destroy(&s->listen_lock);
    free(s->conninfo);
    free(s);
}

/* Several instances share one database: none may cache rows. */
static store_err pg_claim(store_t *base, bool *sole)
{
    (void)base;
    *sole = false;
    return STORE_OK;
}

/* The listener, connected and LISTENing; NULL when the server cannot be
 * reached. Caller holds listen_lock. */
static PGconn *listener_get(pg_store *s, bool *fresh)
{
    *fresh = false;
    if (s->listener && PQstatus(s->listener) == CONNECTION_OK)
        return s->listener;
    PQfinish(s->listener);
    char err[256];
    s->listener = connect_db(s->conninfo, err, sizeof err);
    if (s->listener == NULL)
        return NULL;
    PGresult *r = PQexec(s->listener, "LISTEN " EVENTS_CHANNEL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        PQfinish(s->listener);
        s->listener = NULL;
        return NULL;
    }
    *fresh = true;
    return s->listener;
}

/* Reads what arrived; 1: a notification, 0: none, -1: the session is lost. */
static int drain_notifies(PGconn *pg)
{
    if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
        return -1;
    int heard = 0;
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
        heard = 1;
        PQfreemem(n);
    }
    return heard;
}

/*
 * Waits up to timeout_ms for a NOTIFY of the revocation log on a session of
 * its own. Returns at once after (re)LISTENing, since whatever was logged
 * while not listening must be read now. A lost listener is
 * STORE_UNAVAILABLE; the next call connects and LISTENs again.
 */
static store_err pg_events_wait(store_t *base, int timeout_ms)
{
    pg_store *s = (pg_store *)base;
    pthread_mutex_lock(&s->listen_lock);
    bool fresh;
    PGconn *pg = listener_get(s, &fresh);
    int heard = pg ? drain_notifies(pg) : -1;
    if (pg && !fresh && heard == 0) {
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) > 0)
            heard = drain_notifies(pg);
    }
    if (heard < 0 && pg) {
        PQfinish(s->listener);
        s->listener = NULL;
    }
    pthread_mutex_unlock(&s->listen_lock);
    return heard < 0 ? STORE_UNAVAILABLE : STORE_OK;
}

/*
 * Model queries run under server.queryTimeoutMs: statement_timeout, set on
 * the session the first time it runs one (and again after a reconnect).
 * The other statements of the session then share it, which their index
 * lookups never come near.
 */
static store_err apply_timeout(conn *c)
{
    int want = c->store->base.query_timeout_ms;
    if (c->timeout_set && c->timeout_ms == want)
        return STORE_OK;
    /* inside a transaction a SET is undone by a rollback: SET LOCAL then,
     * and the session's own value is set by the next query outside one */
    bool idle = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    char sql[64];
    snprintf(sql, sizeof sql, "SET %sstatement_timeout = %d", idle ? "" : "LOCAL ", want > 0 ? want : 0);
    store_err e = exec_sql(c, sql);
    c->timeout_set = idle && e == STORE_OK;
    c->timeout_ms = want;
    return e;
}

/* Runs q with its values bound; *out (when not NULL) gets the result. */
static store_err exec_query(conn *c, const sql_query *q, PGresult **out)
{
    if (q->failed)
        return STORE_ERROR; /* the domain logged it */
    store_err te = apply_timeout(c);
    if (te != STORE_OK)
        return te;
    params p;
    size_t n = json_array_size(q->binds);
    if (!params_init_n(&p, n)) {
        params_free(&p);
        return STORE_ERROR;
    }
    size_t i;
    json_t *v;
    store_err e = STORE_OK;
    json_array_foreach(q->binds, i, v) {
        if (!p_json(&p, v)) {
            log_error("postgres: bind %zu: not a scalar", i + 1);
            e = STORE_ERROR;
            break;
        }
    }
    if (e == STORE_OK)
        e = exec_any(c, -1, q->text, &p, out);
    params_free(&p);
    return e;
}

/*
 * After an insert that chose its own integer id: moves the id sequence past
 * it, so the next generated id is max(id) + 1 as with SQLite's AUTOINCREMENT
 * instead of colliding with it. Never moves the sequence back.
 */
static store_err bump_sequence(conn *c, const model_def *m)
{
    sql_query table;
    sql_query_init(&table, SQL_POSTGRES);
    sql_append_ident(&table, m->table);
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    sql_append(&q, "SELECT setval(s, top) FROM (SELECT pg_get_serial_sequence($1, $2) AS s, max(");
    sql_append_ident(&q, m->id->column);
    sql_append(&q, ") AS top FROM ");
    sql_append_ident(&q, m->table);
    sql_append(&q, ") x WHERE s IS NOT NULL AND top > COALESCE(pg_sequence_last_value(s::regclass), 0)");
    params p;
    params_init(&p);
    p_str(&p, table.text);
    p_str(&p, m->id->column);
    store_err e = table.failed || q.failed ? STORE_ERROR : exec_any(c, -1, q.text, &p, NULL);
    sql_query_free(&q);
    sql_query_free(&table);
    return e;
}


/* ---- the driver -------------------------------------------------------- */

/* Hands r to cur (rows read from the buffered result), or drops it. */
static store_err deliver(PGresult *r, conn *c, dcur *cur, int64_t *changes)
{
    int64_t n = r ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
    if (changes)
        *changes = n;
    if (cur == NULL) {
        PQclear(r);
        return STORE_OK;
    }
    *cur = (dcur){.c = c, .res = r, .row = -1, .nrows = r ? PQntuples(r) : 0, .changes = n};
    return STORE_OK;
}

static store_err pg_run(conn *c, const dstmt *s, const dval *v, int n, dcur *cur, int64_t *changes)
{
    params p;
    db_counted();
    if (!params_init_n(&p, (size_t)n)) {
        params_free(&p);
        return STORE_ERROR;
    }
    for (int i = 0; i < n; i++)
        p_dval(&p, &v[i]);
    char text[2048];
    const char *sql = s->sql;
    if (s->id < 0) { /* prepared ones are numbered once, in exec_once */
        if (sql_number_placeholders(s->sql, text, sizeof text) != 0) {
            params_free(&p);
            return STORE_ERROR;
        }
        sql = text;
    }
    PGresult *r = NULL;
    store_err e = exec_any(c, s->id, sql, &p, &r);
    params_free(&p);
    if (changes)
        *changes = 0;
    return e == STORE_OK ? deliver(r, c, cur, changes) : e;
}

static store_err pg_query(conn *c, const sql_query *q, dcur *cur, int64_t *changes)
{
    PGresult *r = NULL;
    db_counted();
    if (changes)
        *changes = 0;
    store_err e = exec_query(c, q, &r);
    return e == STORE_OK ? deliver(r, c, cur, changes) : e;
}

static store_err pg_script(conn *c, const char *sql)
{
    db_counted();
    return exec_sql(c, sql);
}

static bool pg_next(dcur *cur) { return ++cur->row < cur->nrows; }

static store_err pg_end(dcur *cur)
{
    PQclear(cur->res);
    return STORE_OK;
}

static dkind pg_kind(dcur *cur, int col)
{
    if (PQgetisnull(cur->res, cur->row, col))
        return DK_NULL;
    switch (PQftype(cur->res, col)) {
    case OID_BOOL:    return DK_BOOL;
    case OID_INT8:
    case OID_INT4:
    case OID_INT2:    return DK_INT;
    case OID_FLOAT8:
    case OID_FLOAT4:
    case OID_NUMERIC: return DK_REAL;
    default:          return DK_TEXT;
    }
}

/* Integers, and booleans as 1/0. */
static int64_t pg_col_int(dcur *cur, int col)
{
    const char *v = cell(cur->res, cur->row, col);
    if (v && (v[0] == 't' || v[0] == 'f') && v[1] == '\0')
        return v[0] == 't';
    return v ? strtoll(v, NULL, 10) : 0;
}

static double pg_col_real(dcur *cur, int col)
{
    const char *v = cell(cur->res, cur->row, col);
    return v ? strtod(v, NULL) : 0;
}

static const char *pg_col_text(dcur *cur, int col, size_t *len)
{
    const char *v = cell(cur->res, cur->row, col);
    if (len)
        *len = v ? (size_t)PQgetlength(cur->res, cur->row, col) : 0;
    return v;
}

static bool pg_col_blob(dcur *cur, int col, void *dst, size_t len)
{
    return cell_blob(cur->res, cur->row, col, dst, len);
}

/* The INSERT said RETURNING id (sql.h). */
static int64_t pg_insert_id(dcur *cur)
{
    return cur->nrows > 0 ? cell_int(cur->res, 0, 0) : 0;
}

static bool pg_in_transaction(conn *c) { return PQtransactionStatus(c->pg) != PQTRANS_IDLE; }

static const char *pg_conflict(conn *c) { return c->constraint; }

static store_err fixed(conn *c, int id, const char *sql, PGresult **out)
{
    return exec_any(c, id, sql, NULL, out);
}

static store_err pg_notify(conn *c)
{
    return fixed(c, S_NOTIFY, "SELECT pg_notify('" EVENTS_CHANNEL "', '')", NULL);
}

static store_err pg_lock_schema(conn *c)
{
    return exec_sql(c, "SELECT pg_advisory_xact_lock(" LOCK_SCHEMA ")");
}

static store_err pg_lock_purge(conn *c, bool *got)
{
    PGresult *r = NULL;
    store_err e = fixed(c, S_LOCK_PURGE, "SELECT pg_try_advisory_lock(" LOCK_PURGE ")", &r);
    *got = e == STORE_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return e;
}

static void pg_unlock_purge(conn *c)
{
    fixed(c, S_UNLOCK_PURGE, "SELECT pg_advisory_unlock(" LOCK_PURGE ")", NULL);
}

static conn *pg_conn(store_t *base) { return conn_get((pg_store *)base); }

static const store_driver PG_DRIVER = {
    .name = "postgres",
    .dialect = SQL_POSTGRES,
    .close = pg_close,
    .conn = pg_conn,
    .claim = pg_claim,
    .run = pg_run,
    .query = pg_query,
    .script = pg_script,
    .next = pg_next,
    .end = pg_end,
    .kind = pg_kind,
    .col_int = pg_col_int,
    .col_real = pg_col_real,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .insert_id = pg_insert_id,
    .begin = begin,
    .finish = finish,
    .in_transaction = pg_in_transaction,
    .conflict = pg_conflict,
    .notify = pg_notify,
    .lock_schema = pg_lock_schema,
    .lock_purge = pg_lock_purge,
    .unlock_purge = pg_unlock_purge,
    .id_chosen = bump_sequence,
    .events_wait = pg_events_wait,
};

store_t *store_postgres_open(const char *conninfo, char *err, size_t errlen)
{
    pg_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.drv = &PG_DRIVER;
    conns_init(&s->conns);
    pthread_mutex_init(&s->listen_lock, NULL);
    /* Connect once now, so an unreachable server fails at start. */
    char why[256];
    PGconn *pg = connect_db(conninfo, why, sizeof why);
    conn *c = pg ? conn_new(s) : NULL;
    if (c == NULL) {
        snprintf(err, errlen, "postgresql: cannot connect: %s", pg ? "out of memory" : why);
        PQfinish(pg);
        pg_close(&s->base);
        return NULL;
    }
    c->pg = pg;
    return &s->base;
}
