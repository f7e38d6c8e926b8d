/*
 * postgres.c — the PostgreSQL implementation of the storage contract (store.h).
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
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/isodate.h"
#include "store/backends.h"
#include "store/sql.h"
#include "store/store.h"

/* Advisory lock keys: fixed, so every tessera process asks for the same. */
#define LOCK_SCHEMA "7310595871306817281" /* pg_advisory_xact_lock: migrate, model_sync */
#define LOCK_PURGE  "7310595871306817282" /* pg_try_advisory_lock: token_purge_expired  */
#define EVENTS_CHANNEL "tessera_events"
#define RECONNECT_PAUSE_MS 200

/* Type oids of the result columns read (pg_type.h is a server header). */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_FLOAT4 = 700,
       OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

enum stmt_id {
    Q_USER_INSERT,
    Q_USER_GET,
    Q_USER_BY_EMAIL,
    Q_USER_BY_USERNAME,
    Q_USER_EMAIL_OWNER,
    Q_USER_USERNAME_OWNER,
    Q_ROLE_ENSURE,
    Q_ROLE_MAP,
    Q_USER_ROLES,
    Q_TOKEN_INSERT,
    Q_TOKEN_FIND,
    Q_TOKEN_LIST,
    Q_TOKEN_DELETE,
    Q_TOKEN_HANDLE_FIND,
    Q_TOKEN_DELETE_USER,
    Q_TOKEN_DELETE_USER_KEEP,
    Q_TOKEN_TOUCH,
    Q_TOKEN_PURGE,
    Q_EVENT_INSERT,
    Q_NOTIFY,
    Q_EVENTS_SINCE,
    Q_EVENTS_TRIM,
    Q_PURGE_LOCK,
    Q_PURGE_UNLOCK,
    Q_USER_VERSION,
    Q_TOKEN_INSERT_GUARDED,
    Q_TOKEN_BEYOND,
    Q_FAILURES_GET,
    Q_FAILURES_INSERT,
    Q_FAILURES_UPDATE,
    Q_FAILURES_CLEAR,
    Q_FAILURES_PURGE,
    Q_PING,
    Q_COUNT
};

#define TOKEN_COLS "hash, handle, user_id, app_id, created_ms, ttl, last_used_ms, scopes"
#define USER_COLS "id, email, username, password, email_verified, extra, created_ms, cred_version"

static const char *const SQL[Q_COUNT] = {
    [Q_USER_INSERT] = "INSERT INTO users (email, username, password, email_verified, extra, created_ms)"
                      " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    [Q_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = $1",
    [Q_USER_BY_EMAIL] = "SELECT " USER_COLS " FROM users WHERE email = $1",
    [Q_USER_BY_USERNAME] = "SELECT " USER_COLS " FROM users WHERE username = $1",
    [Q_USER_EMAIL_OWNER] = "SELECT id FROM users WHERE email = $1",
    [Q_USER_USERNAME_OWNER] = "SELECT id FROM users WHERE username = $1",
    [Q_ROLE_ENSURE] = "INSERT INTO roles (name, created_ms) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    [Q_ROLE_MAP] = "INSERT INTO role_mappings (role_id, principal_type, principal_id)"
                   " SELECT id, 'USER', $2::text FROM roles WHERE name = $1"
                   " ON CONFLICT DO NOTHING",
    [Q_USER_ROLES] = "SELECT r.name FROM roles r JOIN role_mappings m ON m.role_id = r.id"
                     " WHERE m.principal_type = 'USER' AND m.principal_id = $1 ORDER BY r.name",
    [Q_TOKEN_INSERT] = "INSERT INTO access_tokens (" TOKEN_COLS ", expires_ms)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    [Q_TOKEN_FIND] = "SELECT " TOKEN_COLS " FROM access_tokens WHERE hash = $1",
    /* pages of live tokens in hash order, so that filling the cache never
     * holds a million rows in one result */
    [Q_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM access_tokens WHERE expires_ms > $1 AND hash > $2"
                     " ORDER BY hash LIMIT 10000",
    [Q_TOKEN_DELETE] = "DELETE FROM access_tokens WHERE hash = $1",
    [Q_TOKEN_HANDLE_FIND] = "SELECT hash FROM access_tokens WHERE handle = $1 AND user_id = $2",
    [Q_TOKEN_DELETE_USER] = "DELETE FROM access_tokens WHERE user_id = $1",
    [Q_TOKEN_DELETE_USER_KEEP] = "DELETE FROM access_tokens WHERE user_id = $1 AND hash <> $2",
    [Q_TOKEN_TOUCH] = "UPDATE access_tokens SET last_used_ms = $2 WHERE hash = $1",
    [Q_TOKEN_PURGE] = "DELETE FROM access_tokens WHERE expires_ms <= $1",
    [Q_EVENT_INSERT] = "INSERT INTO token_events (kind, hash, user_id, at_ms) VALUES ($1, $2, $3, $4)",
    [Q_NOTIFY] = "SELECT pg_notify('" EVENTS_CHANNEL "', '')",
    [Q_EVENTS_SINCE] = "SELECT seq, kind, hash, user_id FROM token_events WHERE seq > $1 ORDER BY seq",
    [Q_EVENTS_TRIM] = "DELETE FROM token_events WHERE at_ms < $1"
                      " AND seq < (SELECT max(seq) FROM token_events)",
    [Q_PURGE_LOCK] = "SELECT pg_try_advisory_lock(" LOCK_PURGE ")",
    [Q_PURGE_UNLOCK] = "SELECT pg_advisory_unlock(" LOCK_PURGE ")",
    [Q_USER_VERSION] = "SELECT cred_version FROM users WHERE id = $1",
    /* the row only while the user exists and the grant holds; FOR SHARE
     * holds the user's row until commit, so a password change or a deletion
     * in flight is waited for and then seen, and one after waits for this */
    [Q_TOKEN_INSERT_GUARDED] = "INSERT INTO access_tokens (" TOKEN_COLS ", expires_ms)"
                               " SELECT $1::bytea, $2::text, $3::bigint, $4::bigint, $5::bigint, $6::bigint,"
                               " $7::bigint, $8::bigint, $9::bigint FROM users"
                               " WHERE id = $3::bigint AND ($10::bigint IS NULL OR cred_version = $10::bigint)"
                               " AND ($11::bytea IS NULL OR EXISTS"
                               " (SELECT 1 FROM access_tokens p WHERE p.hash = $11::bytea))"
                               " FOR SHARE OF users",
    [Q_TOKEN_BEYOND] = "SELECT " TOKEN_COLS " FROM access_tokens WHERE user_id = $1 AND expires_ms > $2"
                       " ORDER BY created_ms DESC, handle DESC LIMIT $4 OFFSET $3",
    [Q_FAILURES_GET] = "SELECT failures, last_ms FROM login_failures WHERE key = $1",
    [Q_FAILURES_INSERT] = "INSERT INTO login_failures (key, failures, last_ms) VALUES ($1, $2, $3)"
                          " ON CONFLICT (key) DO NOTHING",
    [Q_FAILURES_UPDATE] = "UPDATE login_failures SET failures = $4, last_ms = $5"
                          " WHERE key = $1 AND failures = $2 AND last_ms = $3",
    [Q_FAILURES_CLEAR] = "DELETE FROM login_failures WHERE key = $1",
    [Q_FAILURES_PURGE] = "DELETE FROM login_failures WHERE last_ms < $1",
    [Q_PING] = "SELECT 1",
};

/*
 * The schema, one entry per version, the same tables and meaning as
 * sqlite.c's. Text columns compare as bytes (COLLATE "C"), as in SQLite;
 * booleans are BOOLEAN, which is what sql.c binds for PostgreSQL.
 */
static const char *const MIGRATIONS[] = {
    /* 1: users, roles, access tokens, the revocation log */
    "CREATE TABLE users ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  email TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  username TEXT COLLATE \"C\" UNIQUE,"
    "  password TEXT NOT NULL,"
    "  email_verified BOOLEAN NOT NULL DEFAULT false,"
    "  extra TEXT,"
    "  created_ms BIGINT NOT NULL);"
    "CREATE TABLE roles ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  name TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  created_ms BIGINT NOT NULL);"
    "CREATE TABLE role_mappings ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  role_id BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
    "  principal_type TEXT COLLATE \"C\" NOT NULL,"
    "  principal_id TEXT COLLATE \"C\" NOT NULL,"
    "  UNIQUE (role_id, principal_type, principal_id));"
    "CREATE TABLE access_tokens ("
    "  hash BYTEA PRIMARY KEY,"
    "  handle TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  app_id BIGINT,"
    "  created_ms BIGINT NOT NULL,"
    "  ttl BIGINT NOT NULL,"
    "  expires_ms BIGINT NOT NULL,"
    "  last_used_ms BIGINT,"
    "  scopes BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX access_tokens_user ON access_tokens (user_id);"
    "CREATE INDEX access_tokens_expires ON access_tokens (expires_ms);"
    "CREATE TABLE token_events ("
    "  seq BIGSERIAL PRIMARY KEY,"
    "  kind INTEGER NOT NULL,"
    "  hash BYTEA,"
    "  user_id BIGINT,"
    "  at_ms BIGINT NOT NULL);",
    /* 2: models — role descriptions, dynamic ACL rules */
    "ALTER TABLE roles ADD COLUMN description TEXT COLLATE \"C\";"
    "CREATE TABLE acls ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  model TEXT COLLATE \"C\" NOT NULL,"
    "  property TEXT COLLATE \"C\" NOT NULL DEFAULT '*',"
    "  access_type TEXT COLLATE \"C\" NOT NULL DEFAULT '*',"
    "  principal_type TEXT COLLATE \"C\" NOT NULL,"
    "  principal_id TEXT COLLATE \"C\" NOT NULL,"
    "  permission TEXT COLLATE \"C\" NOT NULL);",
    /* 3: accounts — credential versions, failed logins per account */
    "ALTER TABLE users ADD COLUMN cred_version BIGINT NOT NULL DEFAULT 0;"
    "CREATE TABLE login_failures ("
    "  key BYTEA PRIMARY KEY,"
    "  failures BIGINT NOT NULL,"
    "  last_ms BIGINT NOT NULL);"
    "CREATE INDEX login_failures_last ON login_failures (last_ms);",
};
#define SCHEMA_VERSION ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

typedef struct pg_store pg_store;

typedef struct conn {
    pg_store *store;
    PGconn *pg;              /* NULL until the first connect succeeds       */
    uint64_t prepared;       /* bit id: SQL[id] is prepared on this session */
    bool broken;             /* a call found the session lost: reset first  */
    int64_t retry_at_ms;     /* after a failed connect: not before this     */
    char constraint[64];     /* the unique constraint the last write hit    */
    int timeout_ms;          /* statement_timeout set on this session ...   */
    bool timeout_set;        /* ... when true (a new session has the default) */
    struct conn *next;
} conn;

struct pg_store {
    store_t base;
    char *conninfo;
    pthread_key_t key;       /* this thread's conn; all are closed with the store */
    pthread_mutex_t lock;    /* guards conns       */
    conn *conns;             /* every conn         */
    pthread_mutex_t listen_lock;  /* guards listener */
    PGconn *listener;        /* LISTENing session of events_wait, or NULL    */
};

static const store_ops PG_OPS;

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

static void p_opt(params *p, const char *s) { p_str(p, s && *s ? s : NULL); }

static void p_int(params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof p->num[0], "%lld", (long long)x);
    p_str(p, p->num[p->n]);
}

static void p_int_or_null(params *p, int64_t x)
{
    if (x)
        p_int(p, x);
    else
        p_str(p, NULL);
}

static void p_bool(params *p, bool b) { p_str(p, b ? "t" : "f"); }

/* A hash, or its first len bytes (0: the empty BYTEA), as a binary value. */
static void p_hash_len(params *p, const tok_hash *h, size_t len)
{
    p_str(p, h ? (const char *)h->b : NULL);
    p->len[p->n - 1] = h ? (int)len : 0;
    p->fmt[p->n - 1] = 1;
}

static void p_hash(params *p, const tok_hash *h)
{
    p_hash_len(p, h, TOK_HASH_LEN);
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
            fprintf(stderr, "tessera: postgres: %s\n", err);
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
    pthread_setspecific(s->key, c);
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* This thread's session, connected (again) when needed; NULL: unreachable. */
static conn *conn_get(pg_store *s)
{
    conn *c = pthread_getspecific(s->key);
    if (c == NULL && (c = conn_new(s)) == NULL)
        return NULL;
    if (conn_usable(c) || conn_connect(c))
        return c;
    return NULL;
}

#define CONN_OR_FAIL(s, c)                                   \
    conn *c = conn_get((pg_store *)(s));                     \
    if (c == NULL)                                           \
        return STORE_UNAVAILABLE

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
    fprintf(stderr, "tessera: postgres: %s (%s): %.200s\n", msg, state, what);
    return STORE_ERROR;
}

/* One run of SQL[id] (prepared on first use) or of sql (with no values:
 * the simple protocol, which runs a migration's several statements). */
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
        PGresult *r = PQprepare(c->pg, name, sql, 0, NULL);
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

static store_err exec_stmt(conn *c, enum stmt_id id, const params *p, PGresult **out)
{
    return exec_any(c, (int)id, SQL[id], p, out);
}

static store_err exec_sql(conn *c, const char *sql) { return exec_any(c, -1, sql, NULL, NULL); }

/* Runs SQL[id]; *changes (when not NULL) gets the rows it touched. */
static store_err run_count(conn *c, enum stmt_id id, const params *p, int64_t *changes)
{
    PGresult *r = NULL;
    store_err e = exec_stmt(c, id, p, &r);
    if (changes)
        *changes = e == STORE_OK ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return e;
}

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

static void cell_copy(char *dst, size_t cap, const PGresult *r, int row, int col)
{
    const char *v = cell(r, row, col);
    snprintf(dst, cap, "%s", v ? v : "");
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

/* A BYTEA of TOK_HASH_LEN bytes in text form ("\x" then hex); false otherwise. */
static bool cell_hash(const PGresult *r, int row, int col, tok_hash *h)
{
    const char *v = cell(r, row, col);
    if (v == NULL || strlen(v) != 2 + 2 * TOK_HASH_LEN || v[0] != '\\' || v[1] != 'x')
        return false;
    for (int i = 0; i < TOK_HASH_LEN; i++) {
        int hi = hex_digit(v[2 + 2 * i]), lo = hex_digit(v[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return false;
        h->b[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* ---- open, close, schema ---------------------------------------------- */

static void pg_close(store_t *base)
{
    pg_store *s = (pg_store *)base;
    pthread_setspecific(s->key, NULL);
    pthread_mutex_lock(&s->lock);
    conn *c = s->conns;
    s->conns = NULL;
    pthread_mutex_unlock(&s->lock);
    while (c) {
        conn *next = c->next;
        PQfinish(c->pg);
        free(c);
        c = next;
    }
    PQfinish(s->listener);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->listen_lock);
    free(s->conninfo);
    free(s);
}

/* The version in place (0: none); -1 when it cannot be read. */
static int schema_version(conn *c)
{
    PGresult *r = NULL;
    if (exec_sql(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER NOT NULL, applied_ms BIGINT NOT NULL)") != STORE_OK ||
        exec_any(c, -1, "SELECT max(version) FROM schema_version", NULL, &r) != STORE_OK)
        return -1;
    int v = (int)cell_int(r, 0, 0);
    PQclear(r);
    return v;
}

static store_err apply_migration(conn *c, int v)
{
    char mark[128];
    snprintf(mark, sizeof mark, "INSERT INTO schema_version VALUES (%d, %lld)", v, (long long)iso_now_ms());
    store_err e = exec_sql(c, MIGRATIONS[v - 1]);
    return e == STORE_OK ? exec_sql(c, mark) : e;
}

/*
 * Brings the schema to SCHEMA_VERSION in one transaction that first takes
 * the schema's advisory lock: a second process starting at the same moment
 * waits for the first, then finds nothing left to do.
 */
static store_err pg_migrate(store_t *base, int *version)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e == STORE_OK)
        e = exec_sql(c, "SELECT pg_advisory_xact_lock(" LOCK_SCHEMA ")");
    int have = e == STORE_OK ? schema_version(c) : -1;
    if (e == STORE_OK && have < 0)
        e = STORE_ERROR;
    if (e == STORE_OK && have > SCHEMA_VERSION) {
        fprintf(stderr, "tessera: postgres: database schema %d is newer than this tessera (%d)\n",
                have, SCHEMA_VERSION);
        e = STORE_ERROR;
    }
    for (int v = have + 1; e == STORE_OK && v <= SCHEMA_VERSION; v++)
        e = apply_migration(c, v);
    e = finish(c, e);
    if (e == STORE_OK && version)
        *version = SCHEMA_VERSION;
    return e;
}

static store_err pg_ping(store_t *base)
{
    CONN_OR_FAIL(base, c);
    return exec_stmt(c, Q_PING, NULL, NULL);
}

/* Several instances share one database: none may cache rows. */
static store_err pg_claim(store_t *base, bool *sole)
{
    (void)base;
    *sole = false;
    return STORE_OK;
}

/* ---- users ------------------------------------------------------------- */

static void read_user(const PGresult *r, store_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = cell_int(r, 0, 0);
    cell_copy(u->email, sizeof u->email, r, 0, 1);
    cell_copy(u->username, sizeof u->username, r, 0, 2);
    cell_copy(u->password, sizeof u->password, r, 0, 3);
    const char *verified = cell(r, 0, 4);
    u->email_verified = verified && verified[0] == 't';
    const char *extra = cell(r, 0, 5);
    u->extra = extra ? strdup(extra) : NULL;
    u->created_ms = cell_int(r, 0, 6);
    u->cred_version = cell_int(r, 0, 7);
}

/* Runs a one-row user query; STORE_NOT_FOUND when there is no row. */
static store_err fetch_user(conn *c, enum stmt_id id, const params *p, store_user *out)
{
    PGresult *r = NULL;
    store_err e = exec_stmt(c, id, p, &r);
    if (e == STORE_OK && PQntuples(r) == 0)
        e = STORE_NOT_FOUND;
    if (e == STORE_OK)
        read_user(r, out);
    PQclear(r);
    return e;
}

/* Who already holds this unique value (0: nobody). */
static store_err holder_of(conn *c, enum stmt_id id, const char *value, int64_t *who)
{
    *who = 0;
    if (value == NULL || *value == '\0')
        return STORE_OK;
    params p;
    params_init(&p);
    p_str(&p, value);
    PGresult *r = NULL;
    store_err e = exec_stmt(c, id, &p, &r);
    if (e == STORE_OK && PQntuples(r) > 0)
        *who = cell_int(r, 0, 0);
    PQclear(r);
    return e;
}

/* Unique email and username, checked inside the writing transaction. */
static store_err check_unique(conn *c, const store_user *u, unsigned fields)
{
    int64_t who = 0;
    store_err e = STORE_OK;
    if (fields & STORE_USER_EMAIL) {
        e = holder_of(c, Q_USER_EMAIL_OWNER, u->email, &who);
        if (e == STORE_OK && who && who != u->id)
            return STORE_EMAIL_TAKEN;
    }
    if (e == STORE_OK && (fields & STORE_USER_USERNAME)) {
        e = holder_of(c, Q_USER_USERNAME_OWNER, u->username, &who);
        if (e == STORE_OK && who && who != u->id)
            return STORE_USERNAME_TAKEN;
    }
    return e;
}

/* A unique violation of users that the check did not see coming (another
 * process inserted the same value meanwhile), named by its constraint. */
static store_err user_conflict(conn *c, store_err e)
{
    if (e != STORE_CONFLICT)
        return e;
    return strstr(c->constraint, "username") ? STORE_USERNAME_TAKEN : STORE_EMAIL_TAKEN;
}

static store_err insert_user(conn *c, store_user *u)
{
    params p;
    params_init(&p);
    u->created_ms = iso_now_ms();
    p_str(&p, u->email);
    p_opt(&p, u->username);
    p_str(&p, u->password);
    p_bool(&p, u->email_verified);
    p_opt(&p, u->extra);
    p_int(&p, u->created_ms);
    PGresult *r = NULL;
    store_err e = user_conflict(c, exec_stmt(c, Q_USER_INSERT, &p, &r));
    if (e == STORE_OK)
        u->id = cell_int(r, 0, 0);
    PQclear(r);
    return e;
}

static store_err pg_user_create(store_t *base, store_user *u)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    u->id = 0;
    e = check_unique(c, u, STORE_USER_EMAIL | STORE_USER_USERNAME);
    if (e == STORE_OK)
        e = insert_user(c, u);
    e = finish(c, e);
    if (e != STORE_OK)
        u->id = 0;
    return e;
}

static store_err pg_user_get(store_t *base, int64_t id, store_user *out)
{
    CONN_OR_FAIL(base, c);
    params p;
    params_init(&p);
    p_int(&p, id);
    return fetch_user(c, Q_USER_GET, &p, out);
}

static store_err pg_user_find(store_t *base, const char *email, const char *username, store_user *out)
{
    CONN_OR_FAIL(base, c);
    bool by_email = email && *email;
    params p;
    params_init(&p);
    p_str(&p, by_email ? email : (username ? username : ""));
    return fetch_user(c, by_email ? Q_USER_BY_EMAIL : Q_USER_BY_USERNAME, &p, out);
}

/* "UPDATE users SET a = $1, b = $2 WHERE id = $3" from the field mask, with
 * its values in p; a credential write also bumps the version and is
 * guarded by it. False when no field is set. */
static bool user_update_sql(const store_user *u, unsigned fields, char *sql, params *p)
{
    static const char *const COLS[] = {"email", "username", "password", "extra", "email_verified"};
    static const unsigned BITS[] = {STORE_USER_EMAIL, STORE_USER_USERNAME, STORE_USER_PASSWORD,
                                    STORE_USER_EXTRA, STORE_USER_VERIFIED};
    strcpy(sql, "UPDATE users SET ");
    for (size_t i = 0; i < sizeof BITS / sizeof BITS[0]; i++) {
        if (!(fields & BITS[i]))
            continue;
        sprintf(sql + strlen(sql), "%s%s = $%d", p->n ? ", " : "", COLS[i], p->n + 1);
        if (BITS[i] == STORE_USER_EMAIL)         p_str(p, u->email);
        else if (BITS[i] == STORE_USER_USERNAME) p_opt(p, u->username);
        else if (BITS[i] == STORE_USER_PASSWORD) p_str(p, u->password);
        else if (BITS[i] == STORE_USER_EXTRA)    p_opt(p, u->extra);
        else                                     p_bool(p, u->email_verified);
    }
    if (p->n == 0)
        return false;
    bool guarded = fields & STORE_USER_CREDENTIALS;
    if (guarded && !(fields & STORE_USER_REHASH))
        strcat(sql, ", cred_version = cred_version + 1");
    sprintf(sql + strlen(sql), " WHERE id = $%d", p->n + 1);
    p_int(p, u->id);
    if (guarded) {
        sprintf(sql + strlen(sql), " AND cred_version = $%d", p->n + 1);
        p_int(p, u->cred_version);
    }
    return true;
}

/* Why a guarded write of user id touched no row: gone, or changed. */
static store_err user_missed(conn *c, int64_t id)
{
    params p;
    params_init(&p);
    p_int(&p, id);
    PGresult *r = NULL;
    store_err e = exec_stmt(c, Q_USER_VERSION, &p, &r);
    if (e == STORE_OK)
        e = PQntuples(r) > 0 ? STORE_STALE : STORE_NOT_FOUND;
    PQclear(r);
    return e;
}

static store_err delete_user_tokens(conn *c, int64_t user_id, const tok_hash *keep, int64_t *deleted);

/*
 * One transaction: the unique values checked, the row written (a credential
 * only while its version is the one the caller read), and, when a credential
 * changed, every other token of the user deleted and the deletion logged.
 */
static store_err pg_user_update(store_t *base, store_user *u, unsigned fields, const tok_hash *keep)
{
    CONN_OR_FAIL(base, c);
    char sql[320];
    params p;
    params_init(&p);
    if (!user_update_sql(u, fields, sql, &p))
        return STORE_OK;
    bool credential = fields & STORE_USER_CREDENTIALS;
    bool bump = credential && !(fields & STORE_USER_REHASH);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    e = check_unique(c, u, fields);
    PGresult *r = NULL;
    if (e == STORE_OK)
        e = user_conflict(c, exec_any(c, -1, sql, &p, &r));
    if (e == STORE_OK && strtoll(PQcmdTuples(r), NULL, 10) == 0)
        e = credential ? user_missed(c, u->id) : STORE_NOT_FOUND;
    PQclear(r);
    if (e == STORE_OK && bump)
        e = delete_user_tokens(c, u->id, keep, NULL);
    e = finish(c, e);
    if (e == STORE_OK && bump)
        u->cred_version++;
    return e;
}

/* ---- roles ------------------------------------------------------------- */

static store_err pg_role_grant(store_t *base, int64_t user_id, const char *role)
{
    CONN_OR_FAIL(base, c);
    char principal[32];
    snprintf(principal, sizeof principal, "%lld", (long long)user_id);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    params p;
    params_init(&p);
    p_str(&p, role);
    p_int(&p, iso_now_ms());
    e = exec_stmt(c, Q_ROLE_ENSURE, &p, NULL);
    params_init(&p);
    p_str(&p, role);
    p_str(&p, principal);
    if (e == STORE_OK)
        e = exec_stmt(c, Q_ROLE_MAP, &p, NULL);
    return finish(c, e);
}

static store_err pg_user_roles(store_t *base, int64_t user_id, void (*cb)(const char *, void *), void *ctx)
{
    CONN_OR_FAIL(base, c);
    char principal[32];
    snprintf(principal, sizeof principal, "%lld", (long long)user_id);
    params p;
    params_init(&p);
    p_str(&p, principal);
    PGresult *r = NULL;
    store_err e = exec_stmt(c, Q_USER_ROLES, &p, &r);
    for (int i = 0; e == STORE_OK && i < PQntuples(r); i++)
        cb(PQgetvalue(r, i, 0), ctx);
    PQclear(r);
    return e;
}

/* ---- access tokens ----------------------------------------------------- */

static void read_token(const PGresult *r, int row, tok_record *t)
{
    memset(t, 0, sizeof *t);
    cell_hash(r, row, 0, &t->hash);
    cell_copy(t->handle, sizeof t->handle, r, row, 1);
    t->user_id = cell_int(r, row, 2);
    t->app_id = cell_int(r, row, 3);
    t->created_ms = cell_int(r, row, 4);
    t->ttl = cell_int(r, row, 5);
    t->last_used_ms = cell_int(r, row, 6);
    t->scopes = (uint64_t)cell_int(r, row, 7);
}

static store_err pg_token_insert(store_t *base, const tok_record *t, const store_grant *grant)
{
    CONN_OR_FAIL(base, c);
    params p;
    if (!params_init_n(&p, 11)) {
        params_free(&p);
        return STORE_ERROR;
    }
    p_hash(&p, &t->hash);
    p_str(&p, t->handle);
    p_int(&p, t->user_id);
    p_int_or_null(&p, t->app_id);
    p_int(&p, t->created_ms);
    p_int(&p, t->ttl);
    p_int_or_null(&p, t->last_used_ms);
    p_int(&p, (int64_t)t->scopes);
    p_int(&p, tok_expires_ms(t->created_ms, t->ttl));
    if (grant) {
        if (grant->cred_version >= 0)
            p_int(&p, grant->cred_version);
        else
            p_str(&p, NULL);
        p_hash(&p, grant->parent);
    }
    int64_t n = 0;
    store_err e = run_count(c, grant ? Q_TOKEN_INSERT_GUARDED : Q_TOKEN_INSERT, &p, &n);
    params_free(&p);
    if (e == STORE_BAD_REFERENCE)
        return STORE_NOT_FOUND;  /* the user is gone */
    if (e == STORE_OK && grant && n == 0)
        return user_missed(c, t->user_id);
    return e == STORE_CONFLICT ? STORE_ERROR : e;
}

static store_err pg_token_find(store_t *base, const tok_hash *h, tok_record *out)
{
    CONN_OR_FAIL(base, c);
    params p;
    params_init(&p);
    p_hash(&p, h);
    PGresult *r = NULL;
    store_err e = exec_stmt(c, Q_TOKEN_FIND, &p, &r);
    if (e == STORE_OK && PQntuples(r) == 0)
        e = STORE_NOT_FOUND;
    if (e == STORE_OK)
        read_token(r, 0, out);
    PQclear(r);
    return e;
}

static store_err pg_token_scan_live(store_t *base, int64_t now_ms, store_token_cb cb, void *ctx)
{
    CONN_OR_FAIL(base, c);
    tok_hash after = {{0}};
    size_t after_len = 0; /* the empty BYTEA sorts before every hash */
    store_err e = STORE_OK;
    for (int got = 1; e == STORE_OK && got > 0;) {
        params p;
        params_init(&p);
        p_int(&p, now_ms);
        p_hash_len(&p, &after, after_len);
        PGresult *r = NULL;
        e = exec_stmt(c, Q_TOKEN_LIST, &p, &r);
        got = e == STORE_OK ? PQntuples(r) : 0;
        tok_record t;
        for (int i = 0; i < got; i++) {
            read_token(r, i, &t);
            cb(&t, ctx);
            after = t.hash;
            after_len = TOK_HASH_LEN;
        }
        PQclear(r);
    }
    return e;
}

/* Appends to the revocation log and notifies the listeners, who hear it on
 * commit; part of the caller's transaction. */
static store_err log_event(conn *c, store_ev_kind kind, const tok_hash *h, int64_t user_id)
{
    params p;
    params_init(&p);
    p_int(&p, kind);
    p_hash(&p, h);
    p_int_or_null(&p, user_id);
    p_int(&p, iso_now_ms());
    store_err e = exec_stmt(c, Q_EVENT_INSERT, &p, NULL);
    return e == STORE_OK ? exec_stmt(c, Q_NOTIFY, NULL, NULL) : e;
}

/* Deletes by hash and logs it, inside an open transaction. */
static store_err delete_hash(conn *c, const tok_hash *h)
{
    params p;
    params_init(&p);
    p_hash(&p, h);
    int64_t n = 0;
    store_err e = run_count(c, Q_TOKEN_DELETE, &p, &n);
    if (e == STORE_OK && n == 0)
        e = STORE_NOT_FOUND;
    return e == STORE_OK ? log_event(c, STORE_EV_TOKEN, h, 0) : e;
}

static store_err pg_token_delete(store_t *base, const tok_hash *h)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    return finish(c, delete_hash(c, h));
}

static store_err find_handle(conn *c, int64_t user_id, const char *handle, tok_hash *out)
{
    params p;
    params_init(&p);
    p_str(&p, handle);
    p_int(&p, user_id);
    PGresult *r = NULL;
    store_err e = exec_stmt(c, Q_TOKEN_HANDLE_FIND, &p, &r);
    if (e == STORE_OK && (PQntuples(r) == 0 || !cell_hash(r, 0, 0, out)))
        e = STORE_NOT_FOUND;
    PQclear(r);
    return e;
}

static store_err pg_token_delete_handle(store_t *base, int64_t user_id, const char *handle, tok_hash *deleted)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    e = find_handle(c, user_id, handle, deleted);
    if (e == STORE_OK)
        e = delete_hash(c, deleted);
    return finish(c, e);
}

/* Deletes a user's tokens but *keep and logs it, inside an open transaction. */
static store_err delete_user_tokens(conn *c, int64_t user_id, const tok_hash *keep, int64_t *deleted)
{
    params p;
    params_init(&p);
    p_int(&p, user_id);
    if (keep)
        p_hash(&p, keep);
    store_err e = run_count(c, keep ? Q_TOKEN_DELETE_USER_KEEP : Q_TOKEN_DELETE_USER, &p, deleted);
    return e == STORE_OK ? log_event(c, STORE_EV_USER, keep, user_id) : e;
}

static store_err pg_token_delete_user(store_t *base, int64_t user_id, const tok_hash *keep, int64_t *deleted)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    int64_t n = 0;
    e = finish(c, delete_user_tokens(c, user_id, keep, &n));
    if (deleted)
        *deleted = e == STORE_OK ? n : 0;
    return e;
}

static store_err pg_token_touch(store_t *base, const tok_record *recs, size_t n)
{
    CONN_OR_FAIL(base, c);
    store_err e = n ? begin(c) : STORE_OK;
    for (size_t i = 0; e == STORE_OK && i < n; i++) {
        params p;
        params_init(&p);
        p_hash(&p, &recs[i].hash);
        p_int(&p, recs[i].last_used_ms);
        e = exec_stmt(c, Q_TOKEN_TOUCH, &p, NULL);
    }
    return n ? finish(c, e) : e;
}

/* Purges on one process at a time: whoever holds the purge lock does it,
 * the others (finding it taken) skip this round. */
static store_err pg_token_purge_expired(store_t *base, int64_t now_ms, int64_t *purged)
{
    CONN_OR_FAIL(base, c);
    if (purged)
        *purged = 0;
    PGresult *r = NULL;
    store_err e = exec_stmt(c, Q_PURGE_LOCK, NULL, &r);
    bool mine = e == STORE_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!mine)
        return e;
    params p;
    params_init(&p);
    p_int(&p, now_ms);
    e = run_count(c, Q_TOKEN_PURGE, &p, purged);
    exec_stmt(c, Q_PURGE_UNLOCK, NULL, NULL);
    return e;
}

static store_err pg_token_beyond(store_t *base, int64_t user_id, int64_t now_ms, int64_t keep, int max,
                                store_token_cb cb, void *ctx)
{
    CONN_OR_FAIL(base, c);
    params p;
    params_init(&p);
    p_int(&p, user_id);
    p_int(&p, now_ms);
    p_int(&p, keep);
    p_int(&p, max);
    PGresult *r = NULL;
    store_err e = exec_stmt(c, Q_TOKEN_BEYOND, &p, &r);
    tok_record t;
    for (int i = 0; e == STORE_OK && i < PQntuples(r); i++) {
        read_token(r, i, &t);
        cb(&t, ctx);
    }
    PQclear(r);
    return e;
}

/* ---- failed logins ----------------------------------------------------- */

static void p_key(params *p, const uint8_t key[STORE_FAILURE_KEY_LEN])
{
    p_str(p, (const char *)key);
    p->len[p->n - 1] = STORE_FAILURE_KEY_LEN;
    p->fmt[p->n - 1] = 1;
}

static store_err pg_failures_get(store_t *base, const uint8_t key[STORE_FAILURE_KEY_LEN], store_failures *out)
{
    CONN_OR_FAIL(base, c);
    params p;
    params_init(&p);
    p_key(&p, key);
    PGresult *r = NULL;
    *out = (store_failures){0, 0};
    store_err e = exec_stmt(c, Q_FAILURES_GET, &p, &r);
    if (e == STORE_OK && PQntuples(r) > 0)
        *out = (store_failures){cell_int(r, 0, 0), cell_int(r, 0, 1)};
    PQclear(r);
    return e;
}

/* A row never counted ({0, 0}) is inserted, any other updated, each only
 * when nobody came first. */
static store_err pg_failures_cas(store_t *base, const uint8_t key[STORE_FAILURE_KEY_LEN],
                                 const store_failures *old, const store_failures *new_)
{
    CONN_OR_FAIL(base, c);
    bool absent = old->count == 0 && old->last_ms == 0;
    params p;
    params_init(&p);
    p_key(&p, key);
    if (!absent) {
        p_int(&p, old->count);
        p_int(&p, old->last_ms);
    }
    p_int(&p, new_->count);
    p_int(&p, new_->last_ms);
    int64_t n = 0;
    store_err e = run_count(c, absent ? Q_FAILURES_INSERT : Q_FAILURES_UPDATE, &p, &n);
    return e == STORE_OK && n == 0 ? STORE_STALE : e;
}

static store_err pg_failures_clear(store_t *base, const uint8_t key[STORE_FAILURE_KEY_LEN])
{
    CONN_OR_FAIL(base, c);
    params p;
    params_init(&p);
    p_key(&p, key);
    return exec_stmt(c, Q_FAILURES_CLEAR, &p, NULL);
}

static store_err pg_failures_purge(store_t *base, int64_t older_than_ms)
{
    CONN_OR_FAIL(base, c);
    params p;
    params_init(&p);
    p_int(&p, older_than_ms);
    return exec_stmt(c, Q_FAILURES_PURGE, &p, NULL);
}

/* ---- revocation log ---------------------------------------------------- */

static store_err pg_events_since(store_t *base, int64_t seq, store_event_cb cb, void *ctx, int64_t *last_seq)
{
    CONN_OR_FAIL(base, c);
    params p;
    params_init(&p);
    p_int(&p, seq);
    PGresult *r = NULL;
    *last_seq = seq;
    store_err e = exec_stmt(c, Q_EVENTS_SINCE, &p, &r);
    for (int i = 0; e == STORE_OK && i < PQntuples(r); i++) {
        store_event ev = {0};
        ev.seq = cell_int(r, i, 0);
        ev.kind = (store_ev_kind)cell_int(r, i, 1);
        ev.has_keep = cell_hash(r, i, 2, &ev.hash) && ev.kind == STORE_EV_USER;
        ev.user_id = cell_int(r, i, 3);
        *last_seq = ev.seq;
        if (cb)
            cb(&ev, ctx);
    }
    PQclear(r);
    return e;
}

static store_err pg_events_trim(store_t *base, int64_t older_than_ms)
{
    CONN_OR_FAIL(base, c);
    params p;
    params_init(&p);
    p_int(&p, older_than_ms);
    return exec_stmt(c, Q_EVENTS_TRIM, &p, NULL);
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

/* ---- model rows (statements from sql.h) -------------------------------- */

static store_err build_failed(const sql_query *q)
{
    fprintf(stderr, "tessera: postgres: %s\n", q->err);
    return STORE_ERROR;
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
        return build_failed(q);
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
            fprintf(stderr, "tessera: postgres: bind %zu: not a scalar\n", i + 1);
            e = STORE_ERROR;
            break;
        }
    }
    if (e == STORE_OK)
        e = exec_any(c, -1, q->text, &p, out);
    params_free(&p);
    return e;
}

static store_err run_query(conn *c, const sql_query *q, int64_t *changes)
{
    PGresult *r = NULL;
    store_err e = exec_query(c, q, &r);
    if (changes)
        *changes = e == STORE_OK ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return e;
}

/* DOUBLE PRECISION holds whole numbers too: 50, not 50.0, as JSON shows them. */
static json_t *number_json(double d)
{
    if (!isfinite(d))
        return json_null();
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

/* One cell as sqlite.c shows the same value: by the property, then by the
 * column's type. */
static json_t *cell_json(const PGresult *r, int row, int col, const model_prop *p)
{
    const char *v = cell(r, row, col);
    if (v == NULL)
        return json_null();
    Oid t = PQftype(r, col);
    if (p->ms_date) {
        char iso[ISODATE_LEN];
        iso_format(strtoll(v, NULL, 10), iso);
        return json_string(iso);
    }
    if (t == OID_BOOL)
        return json_boolean(v[0] == 't');
    if (p->type == PT_BOOLEAN)
        return json_boolean(strtoll(v, NULL, 10) != 0);
    if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2)
        return json_integer(strtoll(v, NULL, 10));
    if (t == OID_FLOAT8 || t == OID_FLOAT4 || t == OID_NUMERIC)
        return number_json(strtod(v, NULL));
    size_t len = (size_t)PQgetlength(r, row, col);
    json_t *j = NULL;
    if (p->type == PT_OBJECT || p->type == PT_ARRAY || p->type == PT_ANY)
        j = json_loadb(v, len, JSON_DECODE_ANY, NULL);
    return j ? j : json_stringn(v, len);
}

static bool is_declared(const model_def *m, const char *name)
{
    for (size_t i = 0; i < m->nprops; i++) {
        if (strcmp(m->props[i].name, name) == 0)
            return true;
    }
    return false;
}

/* The undeclared properties kept in the extra column; a key that names a
 * declared property is skipped (the column wins, hidden ones stay hidden). */
static void merge_extra(json_t *row, const model_def *m, const char *text)
{
    json_t *extra = text ? json_loads(text, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    if (json_is_object(extra)) {
        json_object_foreach(extra, k, v) {
            if (!is_declared(m, k))
                json_object_set(row, k, v);
        }
    }
    json_decref(extra);
}

static json_t *read_row(const PGresult *r, int row, const sql_query *q)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < q->ncols; i++) {
        if (json_object_set_new(obj, q->cols[i]->name, cell_json(r, row, (int)i, q->cols[i])) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    if (obj && q->extra)
        merge_extra(obj, q->model, cell(r, row, (int)q->ncols));
    return obj;
}

/* Runs a SELECT built by sql_build_select; cb gets (and owns) each row. The
 * result is read whole first, so cb may query the store again. */
static store_err query_rows(conn *c, const sql_query *q, store_row_cb cb, void *ctx)
{
    PGresult *r = NULL;
    store_err e = exec_query(c, q, &r);
    for (int i = 0; e == STORE_OK && i < PQntuples(r); i++) {
        json_t *row = read_row(r, i, q);
        if (row == NULL)
            e = STORE_ERROR;
        else
            cb(row, ctx);
    }
    PQclear(r);
    return e;
}

static store_err pg_rows_find(store_t *base, const model_def *m, const filter *f, store_row_cb cb, void *ctx)
{
    CONN_OR_FAIL(base, c);
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    store_err e = sql_build_select(&q, m, f) == 0 ? query_rows(c, &q, cb, ctx) : build_failed(&q);
    sql_query_free(&q);
    return e;
}

static store_err pg_rows_count(store_t *base, const model_def *m, const fnode *where, int64_t *count)
{
    CONN_OR_FAIL(base, c);
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    PGresult *r = NULL;
    store_err e = sql_build_count(&q, m, where) == 0 ? exec_query(c, &q, &r) : build_failed(&q);
    *count = e == STORE_OK ? cell_int(r, 0, 0) : 0;
    PQclear(r);
    sql_query_free(&q);
    return e;
}

static void take_row(json_t *row, void *ctx)
{
    json_t **out = ctx;
    json_decref(*out);
    *out = row;
}

/* The stored row whose id is id. */
static store_err fetch_row(conn *c, const model_def *m, json_t *id, json_t **row)
{
    fnode eq = {.kind = FN_CMP, .prop = m->id, .op = OP_EQ, .value = id};
    filter f;
    memset(&f, 0, sizeof f);
    f.limit = -1;
    f.where = &eq;
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    *row = NULL;
    store_err e = sql_build_select(&q, m, &f) == 0 ? query_rows(c, &q, take_row, row) : build_failed(&q);
    sql_query_free(&q);
    if (e == STORE_OK && *row == NULL)
        e = STORE_NOT_FOUND;
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

static store_err insert_row(conn *c, const model_def *m, const json_t *obj, json_t **row)
{
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    PGresult *r = NULL;
    store_err e = sql_build_insert(&q, m, obj) == 0 ? exec_query(c, &q, &r) : build_failed(&q);
    sql_query_free(&q);
    bool int_id = m->id && !m->id->id_is_text;
    json_t *id = NULL;
    if (e == STORE_OK && m->id)
        id = int_id ? json_integer(cell_int(r, 0, 0)) : json_incref(json_object_get(obj, m->id->name));
    PQclear(r);
    if (e == STORE_OK && int_id && json_object_get(obj, m->id->name))
        e = bump_sequence(c, m);
    if (e == STORE_OK && row && id)
        e = fetch_row(c, m, id, row);
    json_decref(id);
    return e;
}

/*
 * Inserts one row and, when row is not NULL, reads it back whole (defaults
 * and the generated id included), in one transaction of its own unless the
 * caller has one open.
 */
static store_err pg_rows_insert(store_t *base, const model_def *m, const json_t *obj, json_t **row)
{
    CONN_OR_FAIL(base, c);
    json_t *full = sql_insert_values(m, obj);
    if (full == NULL)
        return STORE_ERROR;
    bool own = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    store_err e = own ? begin(c) : STORE_OK;
    if (e == STORE_OK)
        e = insert_row(c, m, full, row);
    if (own)
        e = finish(c, e);
    if (e != STORE_OK && row) {
        json_decref(*row);
        *row = NULL;
    }
    json_decref(full);
    return e;
}

static store_err pg_rows_update(store_t *base, const model_def *m, const fnode *where, const json_t *patch,
                                int64_t *count)
{
    CONN_OR_FAIL(base, c);
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    store_err e = sql_build_update(&q, m, where, patch) == 0 ? run_query(c, &q, count) : build_failed(&q);
    sql_query_free(&q);
    return e;
}

/*
 * Before deleting tokens — directly, or through their user (ON DELETE
 * CASCADE) — log the revocations and notify, as token_delete does, so every
 * process evicts them from its token cache. Part of the deleting transaction.
 */
static store_err log_row_revocations(conn *c, const model_def *m, const fnode *where)
{
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    int built = sql_build_revocation_log(&q, m, where, iso_now_ms());
    int64_t logged = 0;
    store_err e = built > 0 ? run_query(c, &q, &logged) : built == 0 ? STORE_OK : build_failed(&q);
    sql_query_free(&q);
    return e == STORE_OK && logged > 0 ? exec_stmt(c, Q_NOTIFY, NULL, NULL) : e;
}

static store_err pg_rows_delete(store_t *base, const model_def *m, const fnode *where, int64_t *count)
{
    CONN_OR_FAIL(base, c);
    bool own = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    store_err e = own ? begin(c) : STORE_OK;
    if (e == STORE_OK)
        e = log_row_revocations(c, m, where);
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    if (e == STORE_OK)
        e = sql_build_delete(&q, m, where) == 0 ? run_query(c, &q, count) : build_failed(&q);
    sql_query_free(&q);
    return own ? finish(c, e) : e;
}

/* ---- model_sync -------------------------------------------------------- */

typedef int (*ddl_builder)(sql_query *q, const model_def *m, const model_prop *p);

static store_err ddl(conn *c, const model_def *m, const model_prop *p, ddl_builder build)
{
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    store_err e = build(&q, m, p) == 0 ? exec_query(c, &q, NULL) : build_failed(&q);
    sql_query_free(&q);
    return e;
}

static store_err sync_table(conn *c, const model_def *m)
{
    sql_query q;
    sql_query_init(&q, SQL_POSTGRES);
    store_err e = sql_build_create_table(&q, m) == 0 ? exec_query(c, &q, NULL) : build_failed(&q);
    sql_query_free(&q);
    for (size_t i = 0; e == STORE_OK && i < m->nprops; i++) {
        const model_prop *p = &m->props[i];
        if (!p->is_id)
            e = ddl(c, m, p, sql_build_add_column);   /* ADD COLUMN IF NOT EXISTS */
        if (e == STORE_OK && (p->index || p->unique) && !p->is_id)
            e = ddl(c, m, p, sql_build_create_index);
    }
    return e;
}

/* Tables, columns and indexes of a declared model, added when missing (never
 * dropped), under the schema lock so that instances starting together do not
 * race on the same DDL; built-in models live in the migrations. */
static store_err pg_model_sync(store_t *base, const model_def *m)
{
    if (m->kind != MODEL_DECLARED)
        return STORE_OK;
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e == STORE_OK)
        e = exec_sql(c, "SELECT pg_advisory_xact_lock(" LOCK_SCHEMA ")");
    if (e == STORE_OK)
        e = sync_table(c, m);
    return finish(c, e);
}

/* ---- the contract ------------------------------------------------------ */

static const store_ops PG_OPS = {
    .name = "postgresql",
    .close = pg_close,
    .migrate = pg_migrate,
    .ping = pg_ping,
    .claim = pg_claim,
    .user_create = pg_user_create,
    .user_get = pg_user_get,
    .user_find = pg_user_find,
    .user_update = pg_user_update,
    .role_grant = pg_role_grant,
    .user_roles = pg_user_roles,
    .token_insert = pg_token_insert,
    .token_find = pg_token_find,
    .token_scan_live = pg_token_scan_live,
    .token_delete = pg_token_delete,
    .token_delete_handle = pg_token_delete_handle,
    .token_delete_user = pg_token_delete_user,
    .token_touch = pg_token_touch,
    .token_purge_expired = pg_token_purge_expired,
    .token_beyond = pg_token_beyond,
    .failures_get = pg_failures_get,
    .failures_cas = pg_failures_cas,
    .failures_clear = pg_failures_clear,
    .failures_purge = pg_failures_purge,
    .events_since = pg_events_since,
    .events_trim = pg_events_trim,
    .events_wait = pg_events_wait,
    .model_sync = pg_model_sync,
    .rows_find = pg_rows_find,
    .rows_count = pg_rows_count,
    .rows_insert = pg_rows_insert,
    .rows_update = pg_rows_update,
    .rows_delete = pg_rows_delete,
};

store_t *store_postgres_open(const char *conninfo, char *err, size_t errlen)
{
    pg_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &PG_OPS;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->listen_lock, NULL);
    pthread_key_create(&s->key, NULL);
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
