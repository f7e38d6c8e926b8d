/*
 * sqlite.c — the SQLite implementation of the storage contract (store.h).
 *
 * One database file in WAL mode, opened once per thread: SQLite connections
 * are cheap, and a connection of its own lets every worker read while another
 * writes. Statements are prepared once per connection and reused. Writes that
 * touch more than one row run in one BEGIN IMMEDIATE transaction, so they take
 * the write lock up front instead of failing half-way on an upgrade.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/isodate.h"
#include "model/regex.h"
#include "store/backends.h"
#include "store/sql.h"
#include "store/store.h"

/* Every statement the backend runs, prepared lazily per connection. */
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
    Q_EVENTS_SINCE,
    Q_EVENTS_TRIM,
    Q_USER_VERSION,
    Q_TOKEN_INSERT_GUARDED,
    Q_TOKEN_BEYOND,
    Q_FAILURES_GET,
    Q_FAILURES_INSERT,
    Q_FAILURES_UPDATE,
    Q_FAILURES_CLEAR,
    Q_FAILURES_PURGE,
    Q_PING,
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_COUNT
};

#define TOKEN_COLS "hash, handle, user_id, app_id, created_ms, ttl, last_used_ms, scopes"
#define USER_COLS "id, email, username, password, email_verified, extra, created_ms, cred_version"

static const char *const SQL[Q_COUNT] = {
    [Q_USER_INSERT] = "INSERT INTO users (email, username, password, email_verified, extra, created_ms)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [Q_USER_BY_EMAIL] = "SELECT " USER_COLS " FROM users WHERE email = ?1",
    [Q_USER_BY_USERNAME] = "SELECT " USER_COLS " FROM users WHERE username = ?1",
    [Q_USER_EMAIL_OWNER] = "SELECT id FROM users WHERE email = ?1",
    [Q_USER_USERNAME_OWNER] = "SELECT id FROM users WHERE username = ?1",
    [Q_ROLE_ENSURE] = "INSERT INTO roles (name, created_ms) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
    [Q_ROLE_MAP] = "INSERT INTO role_mappings (role_id, principal_type, principal_id)"
                   " SELECT id, 'USER', ?2 FROM roles WHERE name = ?1"
                   " ON CONFLICT DO NOTHING",
    [Q_USER_ROLES] = "SELECT r.name FROM roles r JOIN role_mappings m ON m.role_id = r.id"
                     " WHERE m.principal_type = 'USER' AND m.principal_id = ?1 ORDER BY r.name",
    [Q_TOKEN_INSERT] = "INSERT INTO access_tokens (" TOKEN_COLS ", expires_ms)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [Q_TOKEN_FIND] = "SELECT " TOKEN_COLS " FROM access_tokens WHERE hash = ?1",
    [Q_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM access_tokens WHERE expires_ms > ?1",
    [Q_TOKEN_DELETE] = "DELETE FROM access_tokens WHERE hash = ?1",
    [Q_TOKEN_HANDLE_FIND] = "SELECT hash FROM access_tokens WHERE handle = ?1 AND user_id = ?2",
    [Q_TOKEN_DELETE_USER] = "DELETE FROM access_tokens WHERE user_id = ?1",
    [Q_TOKEN_DELETE_USER_KEEP] = "DELETE FROM access_tokens WHERE user_id = ?1 AND hash <> ?2",
    [Q_TOKEN_TOUCH] = "UPDATE access_tokens SET last_used_ms = ?2 WHERE hash = ?1",
    [Q_TOKEN_PURGE] = "DELETE FROM access_tokens WHERE expires_ms <= ?1",
    [Q_EVENT_INSERT] = "INSERT INTO token_events (kind, hash, user_id, at_ms) VALUES (?1, ?2, ?3, ?4)",
    [Q_EVENTS_SINCE] = "SELECT seq, kind, hash, user_id FROM token_events WHERE seq > ?1 ORDER BY seq",
    [Q_EVENTS_TRIM] = "DELETE FROM token_events WHERE at_ms < ?1"
                      " AND seq < (SELECT max(seq) FROM token_events)",
    [Q_USER_VERSION] = "SELECT cred_version FROM users WHERE id = ?1",
    /* the row only while the user exists and the grant holds: one statement,
     * so a password change or a deletion is either before it or after it */
    [Q_TOKEN_INSERT_GUARDED] = "INSERT INTO access_tokens (" TOKEN_COLS ", expires_ms)"
                               " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM users"
                               " WHERE id = ?3 AND (?10 IS NULL OR cred_version = ?10)"
                               " AND (?11 IS NULL OR EXISTS (SELECT 1 FROM access_tokens WHERE hash = ?11))",
    [Q_TOKEN_BEYOND] = "SELECT " TOKEN_COLS " FROM access_tokens WHERE user_id = ?1 AND expires_ms > ?2"
                       " ORDER BY created_ms DESC, handle DESC LIMIT ?4 OFFSET ?3",
    [Q_FAILURES_GET] = "SELECT failures, last_ms FROM login_failures WHERE key = ?1",
    [Q_FAILURES_INSERT] = "INSERT INTO login_failures (key, failures, last_ms) VALUES (?1, ?4, ?5)"
                          " ON CONFLICT (key) DO NOTHING",
    [Q_FAILURES_UPDATE] = "UPDATE login_failures SET failures = ?4, last_ms = ?5"
                          " WHERE key = ?1 AND failures = ?2 AND last_ms = ?3",
    [Q_FAILURES_CLEAR] = "DELETE FROM login_failures WHERE key = ?1",
    [Q_FAILURES_PURGE] = "DELETE FROM login_failures WHERE last_ms < ?1",
    [Q_PING] = "SELECT count(*) FROM schema_version",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

/*
 * The schema, one entry per version. A database at version N gets entries
 * N+1.. applied in one transaction; an entry is never edited once released.
 */
static const char *const MIGRATIONS[] = {
    /* 1: users, roles, access tokens, the revocation log */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  email TEXT NOT NULL UNIQUE,"
    "  username TEXT UNIQUE,"
    "  password TEXT NOT NULL,"
    "  email_verified INTEGER NOT NULL DEFAULT 0,"
    "  extra TEXT,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE roles ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE role_mappings ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
    "  principal_type TEXT NOT NULL,"
    "  principal_id TEXT NOT NULL,"
    "  UNIQUE (role_id, principal_type, principal_id));"
    "CREATE TABLE access_tokens ("
    "  hash BLOB PRIMARY KEY,"
    "  handle TEXT NOT NULL UNIQUE,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  app_id INTEGER,"
    "  created_ms INTEGER NOT NULL,"
    "  ttl INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL,"
    "  last_used_ms INTEGER,"
    "  scopes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX access_tokens_user ON access_tokens (user_id);"
    "CREATE INDEX access_tokens_expires ON access_tokens (expires_ms);"
    "CREATE TABLE token_events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind INTEGER NOT NULL,"
    "  hash BLOB,"
    "  user_id INTEGER,"
    "  at_ms INTEGER NOT NULL);",
    /* 2: models — role descriptions, dynamic ACL rules */
    "ALTER TABLE roles ADD COLUMN description TEXT;"
    "CREATE TABLE acls ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  model TEXT NOT NULL,"
    "  property TEXT NOT NULL DEFAULT '*',"
    "  access_type TEXT NOT NULL DEFAULT '*',"
    "  principal_type TEXT NOT NULL,"
    "  principal_id TEXT NOT NULL,"
    "  permission TEXT NOT NULL);",
    /* 3: accounts — credential versions, failed logins per account */
    "ALTER TABLE users ADD COLUMN cred_version INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE login_failures ("
    "  key BLOB PRIMARY KEY,"
    "  failures INTEGER NOT NULL,"
    "  last_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX login_failures_last ON login_failures (last_ms);",
};
#define SCHEMA_VERSION ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

/* A statement built at run time (sql.h), kept for reuse by its text. */
typedef struct dyn_stmt {
    char *sql;
    sqlite3_stmt *st;
    bool busy;               /* stepping now (a row callback may query again) */
} dyn_stmt;

#define DYN_MAX 32

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    dyn_stmt dyn[DYN_MAX];
    unsigned dyn_next;       /* round-robin victim when the cache is full */
    int64_t deadline_ns;     /* the running model query stops here; 0: none */
    struct conn *next;
} conn;

typedef struct sqlite_store {
    store_t base;
    char *path;
    pthread_key_t key;       /* this thread's conn; all are closed with the store */
    pthread_mutex_t lock;    /* guards conns       */
    conn *conns;             /* every open conn    */
    int claim_fd;            /* holds the server's lock (sq_claim), or -1 */
} sqlite_store;

static const store_ops SQLITE_OPS;

/* ---- connections ------------------------------------------------------- */

static void conn_close(conn *c)
{
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    for (int i = 0; i < DYN_MAX; i++) {
        sqlite3_finalize(c->dyn[i].st);
        free(c->dyn[i].sql);
    }
    sqlite3_close(c->db);
    free(c);
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

/* Starts the budget of one model query (server.queryTimeoutMs); budget_end
 * ends it, so the token and user statements that follow run unbounded. */
static void budget_start(conn *c, const store_t *base)
{
    c->deadline_ns = base->query_timeout_ms > 0 ? now_ns() + (int64_t)base->query_timeout_ms * 1000000 : 0;
}

static store_err budget_end(conn *c, store_err e)
{
    c->deadline_ns = 0;
    return e;
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
    conn *c = pthread_getspecific(s->key);
    if (c)
        return c;
    char err[256];
    c = conn_open(s, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "tessera: sqlite: %s\n", err);
        return NULL;
    }
    pthread_setspecific(s->key, c);
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* The statement id of this connection, reset and ready to bind. */
static sqlite3_stmt *stmt(conn *c, enum stmt_id id)
{
    if (c->stmt[id] == NULL) {
        if (sqlite3_prepare_v3(c->db, SQL[id], -1, SQLITE_PREPARE_PERSISTENT,
                               &c->stmt[id], NULL) != SQLITE_OK) {
            fprintf(stderr, "tessera: sqlite: prepare: %s\n", sqlite3_errmsg(c->db));
            return NULL;
        }
    }
    sqlite3_reset(c->stmt[id]);
    sqlite3_clear_bindings(c->stmt[id]);
    return c->stmt[id];
}

static store_err err_of(conn *c, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_OK;
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
        fprintf(stderr, "tessera: sqlite: %s\n", sqlite3_errmsg(c->db));
        return STORE_ERROR;
    }
}

/* Runs a statement that returns no rows; resets it. */
static store_err run(conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : err_of(c, rc);
}

static store_err simple(conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = stmt(c, id);
    return st ? run(c, st) : STORE_ERROR;
}

static store_err begin(conn *c) { return simple(c, Q_BEGIN); }

/* Commits when e is STORE_OK, else rolls back; returns the first failure. */
static store_err finish(conn *c, store_err e)
{
    if (e == STORE_OK) {
        e = simple(c, Q_COMMIT);
        if (e == STORE_OK)
            return STORE_OK;
    }
    if (!sqlite3_get_autocommit(c->db))
        simple(c, Q_ROLLBACK);
    return e;
}

#define CONN_OR_FAIL(s, c)                                   \
    conn *c = conn_get((sqlite_store *)(s));                 \
    if (c == NULL)                                           \
        return STORE_UNAVAILABLE

/* ---- open, close, schema ---------------------------------------------- */

static void sq_close(store_t *base)
{
    sqlite_store *s = (sqlite_store *)base;
    pthread_setspecific(s->key, NULL);
    pthread_mutex_lock(&s->lock);
    conn *c = s->conns;
    s->conns = NULL;
    pthread_mutex_unlock(&s->lock);
    while (c) {
        conn *next = c->next;
        conn_close(c);
        c = next;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
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
        fprintf(stderr, "tessera: sqlite: %s: %s\n", s->path, strerror(errno));
        return STORE_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        if (!busy)
            fprintf(stderr, "tessera: sqlite: %s: cannot lock: %s\n", s->path, strerror(errno));
        close(fd);
        return busy ? STORE_CONFLICT : STORE_ERROR;
    }
    s->claim_fd = fd;
    *sole = true;
    return STORE_OK;
}

static int schema_version(conn *c)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(c->db, "SELECT max(version) FROM schema_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/*
 * Brings the schema to SCHEMA_VERSION. The whole upgrade is one IMMEDIATE
 * transaction: a second process migrating at the same time waits for the
 * first and then finds nothing left to do.
 */
static store_err sq_migrate(store_t *base, int *version)
{
    CONN_OR_FAIL(base, c);
    char err[512];
    if (conn_exec(c, "BEGIN IMMEDIATE", err, sizeof err) != 0) {
        fprintf(stderr, "tessera: sqlite: migrate: %s\n", err);
        return STORE_UNAVAILABLE;
    }
    if (conn_exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)", err, sizeof err) != 0)
        goto fail;
    int have = schema_version(c);
    if (have < 0)
        have = 0;
    if (have > SCHEMA_VERSION) {
        snprintf(err, sizeof err, "database schema %d is newer than this tessera (%d)", have, SCHEMA_VERSION);
        goto fail;
    }
    for (int v = have + 1; v <= SCHEMA_VERSION; v++) {
        char mark[128];
        snprintf(mark, sizeof mark, "INSERT INTO schema_version VALUES (%d, %lld)", v,
                 (long long)iso_now_ms());
        if (conn_exec(c, MIGRATIONS[v - 1], err, sizeof err) != 0 ||
            conn_exec(c, mark, err, sizeof err) != 0)
            goto fail;
    }
    if (conn_exec(c, "COMMIT", err, sizeof err) != 0)
        goto fail;
    if (version)
        *version = SCHEMA_VERSION;
    return STORE_OK;
fail:
    fprintf(stderr, "tessera: sqlite: migrate: %s\n", err);
    conn_exec(c, "ROLLBACK", NULL, 0);
    return STORE_ERROR;
}

static store_err sq_ping(store_t *base)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_PING);
    if (st == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? STORE_OK : err_of(c, rc);
}

/* ---- users ------------------------------------------------------------- */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void read_user(sqlite3_stmt *st, store_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, 0);
    copy_col(u->email, sizeof u->email, st, 1);
    copy_col(u->username, sizeof u->username, st, 2);
    copy_col(u->password, sizeof u->password, st, 3);
    u->email_verified = sqlite3_column_int(st, 4) != 0;
    const unsigned char *extra = sqlite3_column_text(st, 5);
    u->extra = extra ? strdup((const char *)extra) : NULL;
    u->created_ms = sqlite3_column_int64(st, 6);
    u->cred_version = sqlite3_column_int64(st, 7);
}

/* Runs a one-row user query; STORE_NOT_FOUND when there is no row. */
static store_err fetch_user(conn *c, sqlite3_stmt *st, store_user *out)
{
    int rc = sqlite3_step(st);
    store_err e = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        read_user(st, out);
        e = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        e = err_of(c, rc);
    }
    sqlite3_reset(st);
    return e;
}

/* Who, other than user id, already holds this unique value (0: nobody). */
static int64_t holder_of(conn *c, enum stmt_id id, const char *value)
{
    sqlite3_stmt *st = stmt(c, id);
    if (st == NULL || value == NULL || *value == '\0')
        return 0;
    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
    int64_t who = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return who;
}

/* Unique email and username, checked inside the writing transaction. */
static store_err check_unique(conn *c, const store_user *u, unsigned fields)
{
    int64_t who;
    if ((fields & STORE_USER_EMAIL) && (who = holder_of(c, Q_USER_EMAIL_OWNER, u->email)) && who != u->id)
        return STORE_EMAIL_TAKEN;
    if ((fields & STORE_USER_USERNAME) &&
        (who = holder_of(c, Q_USER_USERNAME_OWNER, u->username)) && who != u->id)
        return STORE_USERNAME_TAKEN;
    return STORE_OK;
}

static store_err sq_user_create(store_t *base, store_user *u)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    u->id = 0;
    e = check_unique(c, u, STORE_USER_EMAIL | STORE_USER_USERNAME);
    sqlite3_stmt *st = e == STORE_OK ? stmt(c, Q_USER_INSERT) : NULL;
    if (st) {
        u->created_ms = iso_now_ms();
        sqlite3_bind_text(st, 1, u->email, -1, SQLITE_STATIC);
        bind_text_or_null(st, 2, u->username);
        sqlite3_bind_text(st, 3, u->password, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, u->email_verified);
        bind_text_or_null(st, 5, u->extra);
        sqlite3_bind_int64(st, 6, u->created_ms);
        e = run(c, st);
        if (e == STORE_OK)
            u->id = sqlite3_last_insert_rowid(c->db);
    } else if (e == STORE_OK) {
        e = STORE_ERROR;
    }
    return finish(c, e);
}

static store_err sq_user_get(store_t *base, int64_t id, store_user *out)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_USER_GET);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    return fetch_user(c, st, out);
}

static store_err sq_user_find(store_t *base, const char *email, const char *username, store_user *out)
{
    CONN_OR_FAIL(base, c);
    bool by_email = email && *email;
    sqlite3_stmt *st = stmt(c, by_email ? Q_USER_BY_EMAIL : Q_USER_BY_USERNAME);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, by_email ? email : (username ? username : ""), -1, SQLITE_STATIC);
    return fetch_user(c, st, out);
}

/* "UPDATE users SET a = ?, b = ? WHERE id = ?" from the field mask; a
 * credential write also bumps the version and is guarded by it. False when
 * no field is set. */
static bool user_update_sql(unsigned fields, char sql[320])
{
    static const struct { unsigned bit; const char *col; } COLS[] = {
        {STORE_USER_EMAIL, "email"},       {STORE_USER_USERNAME, "username"},
        {STORE_USER_PASSWORD, "password"}, {STORE_USER_EXTRA, "extra"},
        {STORE_USER_VERIFIED, "email_verified"},
    };
    strcpy(sql, "UPDATE users SET ");
    int n = 0;
    for (size_t i = 0; i < sizeof COLS / sizeof COLS[0]; i++) {
        if (fields & COLS[i].bit) {
            strcat(sql, n++ ? ", " : "");
            strcat(sql, COLS[i].col);
            strcat(sql, " = ?");
        }
    }
    bool guarded = fields & STORE_USER_CREDENTIALS;
    if (guarded && !(fields & STORE_USER_REHASH))
        strcat(sql, ", cred_version = cred_version + 1");
    strcat(sql, guarded ? " WHERE id = ? AND cred_version = ?" : " WHERE id = ?");
    return n > 0;
}

/* Why a guarded write of user id touched no row: gone, or changed. */
static store_err user_missed(conn *c, int64_t id)
{
    sqlite3_stmt *st = stmt(c, Q_USER_VERSION);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? STORE_STALE : rc == SQLITE_DONE ? STORE_NOT_FOUND : err_of(c, rc);
}

static store_err user_write(conn *c, const store_user *u, unsigned fields, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return err_of(c, SQLITE_ERROR);
    int i = 1;
    if (fields & STORE_USER_EMAIL)    sqlite3_bind_text(st, i++, u->email, -1, SQLITE_STATIC);
    if (fields & STORE_USER_USERNAME) bind_text_or_null(st, i++, u->username);
    if (fields & STORE_USER_PASSWORD) sqlite3_bind_text(st, i++, u->password, -1, SQLITE_STATIC);
    if (fields & STORE_USER_EXTRA)    bind_text_or_null(st, i++, u->extra);
    if (fields & STORE_USER_VERIFIED) sqlite3_bind_int(st, i++, u->email_verified);
    sqlite3_bind_int64(st, i++, u->id);
    if (fields & STORE_USER_CREDENTIALS)
        sqlite3_bind_int64(st, i, u->cred_version);
    int rc = sqlite3_step(st);
    store_err e = rc == SQLITE_DONE ? STORE_OK : err_of(c, rc);
    if (e == STORE_OK && sqlite3_changes(c->db) == 0)
        e = (fields & STORE_USER_CREDENTIALS) ? user_missed(c, u->id) : STORE_NOT_FOUND;
    sqlite3_finalize(st);
    return e;
}

static store_err delete_user_tokens(conn *c, int64_t user_id, const tok_hash *keep, int64_t *deleted);

/*
 * One transaction: the unique values checked, the row written (a credential
 * only while its version is the one the caller read), and, when a credential
 * changed, every other token of the user deleted and the deletion logged.
 */
static store_err sq_user_update(store_t *base, store_user *u, unsigned fields, const tok_hash *keep)
{
    CONN_OR_FAIL(base, c);
    char sql[320];
    if (!user_update_sql(fields, sql))
        return STORE_OK;
    bool credential = fields & STORE_USER_CREDENTIALS;
    bool bump = credential && !(fields & STORE_USER_REHASH);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    e = check_unique(c, u, fields);
    if (e == STORE_OK)
        e = user_write(c, u, fields, sql);
    if (e == STORE_OK && bump)
        e = delete_user_tokens(c, u->id, keep, NULL);
    e = finish(c, e);
    if (e == STORE_OK && bump)
        u->cred_version++;
    return e;
}

/* ---- roles ------------------------------------------------------------- */

static store_err sq_role_grant(store_t *base, int64_t user_id, const char *role)
{
    CONN_OR_FAIL(base, c);
    char principal[32];
    snprintf(principal, sizeof principal, "%lld", (long long)user_id);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    sqlite3_stmt *st = stmt(c, Q_ROLE_ENSURE);
    if (st) {
        sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, iso_now_ms());
        e = run(c, st);
    }
    st = e == STORE_OK ? stmt(c, Q_ROLE_MAP) : NULL;
    if (st) {
        sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, principal, -1, SQLITE_STATIC);
        e = run(c, st);
    }
    return finish(c, e);
}

static store_err sq_user_roles(store_t *base, int64_t user_id, void (*cb)(const char *, void *), void *ctx)
{
    CONN_OR_FAIL(base, c);
    char principal[32];
    snprintf(principal, sizeof principal, "%lld", (long long)user_id);
    sqlite3_stmt *st = stmt(c, Q_USER_ROLES);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, principal, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb((const char *)sqlite3_column_text(st, 0), ctx);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : err_of(c, rc);
}

/* ---- access tokens ----------------------------------------------------- */

static void read_token(sqlite3_stmt *st, tok_record *t)
{
    memset(t, 0, sizeof *t);
    if (sqlite3_column_bytes(st, 0) == TOK_HASH_LEN)
        memcpy(t->hash.b, sqlite3_column_blob(st, 0), TOK_HASH_LEN);
    copy_col(t->handle, sizeof t->handle, st, 1);
    t->user_id = sqlite3_column_int64(st, 2);
    t->app_id = sqlite3_column_int64(st, 3);
    t->created_ms = sqlite3_column_int64(st, 4);
    t->ttl = sqlite3_column_int64(st, 5);
    t->last_used_ms = sqlite3_column_int64(st, 6);
    t->scopes = (uint64_t)sqlite3_column_int64(st, 7);
}

static void bind_hash(sqlite3_stmt *st, int i, const tok_hash *h)
{
    sqlite3_bind_blob(st, i, h->b, TOK_HASH_LEN, SQLITE_STATIC);
}

static store_err sq_token_insert(store_t *base, const tok_record *t, const store_grant *grant)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, grant ? Q_TOKEN_INSERT_GUARDED : Q_TOKEN_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    bind_hash(st, 1, &t->hash);
    sqlite3_bind_text(st, 2, t->handle, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, t->user_id);
    if (t->app_id)
        sqlite3_bind_int64(st, 4, t->app_id);
    sqlite3_bind_int64(st, 5, t->created_ms);
    sqlite3_bind_int64(st, 6, t->ttl);
    if (t->last_used_ms)
        sqlite3_bind_int64(st, 7, t->last_used_ms);
    sqlite3_bind_int64(st, 8, (int64_t)t->scopes);
    sqlite3_bind_int64(st, 9, tok_expires_ms(t->created_ms, t->ttl));
    if (grant && grant->cred_version >= 0)
        sqlite3_bind_int64(st, 10, grant->cred_version);
    if (grant && grant->parent)
        bind_hash(st, 11, grant->parent);
    store_err e = run(c, st);
    if (e == STORE_ERROR && sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        e = STORE_NOT_FOUND;
    if (e == STORE_OK && grant && sqlite3_changes(c->db) == 0)
        e = user_missed(c, t->user_id);
    return e;
}

static store_err sq_token_find(store_t *base, const tok_hash *h, tok_record *out)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_TOKEN_FIND);
    if (st == NULL)
        return STORE_ERROR;
    bind_hash(st, 1, h);
    int rc = sqlite3_step(st);
    store_err e = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        read_token(st, out);
        e = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        e = err_of(c, rc);
    }
    sqlite3_reset(st);
    return e;
}

static store_err sq_token_scan_live(store_t *base, int64_t now_ms, store_token_cb cb, void *ctx)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_TOKEN_LIST);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, now_ms);
    int rc;
    tok_record t;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_token(st, &t);
        cb(&t, ctx);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : err_of(c, rc);
}

/* Appends to the revocation log; part of the caller's transaction. */
static store_err log_event(conn *c, store_ev_kind kind, const tok_hash *h, int64_t user_id)
{
    sqlite3_stmt *st = stmt(c, Q_EVENT_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int(st, 1, kind);
    if (h)
        bind_hash(st, 2, h);
    if (user_id)
        sqlite3_bind_int64(st, 3, user_id);
    sqlite3_bind_int64(st, 4, iso_now_ms());
    return run(c, st);
}

/* Deletes by hash and logs it, inside an open transaction. */
static store_err delete_hash(conn *c, const tok_hash *h)
{
    sqlite3_stmt *st = stmt(c, Q_TOKEN_DELETE);
    if (st == NULL)
        return STORE_ERROR;
    bind_hash(st, 1, h);
    store_err e = run(c, st);
    if (e == STORE_OK && sqlite3_changes(c->db) == 0)
        e = STORE_NOT_FOUND;
    return e == STORE_OK ? log_event(c, STORE_EV_TOKEN, h, 0) : e;
}

static store_err sq_token_delete(store_t *base, const tok_hash *h)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    return finish(c, delete_hash(c, h));
}

static store_err sq_token_delete_handle(store_t *base, int64_t user_id, const char *handle, tok_hash *deleted)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    sqlite3_stmt *st = stmt(c, Q_TOKEN_HANDLE_FIND);
    if (st == NULL)
        return finish(c, STORE_ERROR);
    sqlite3_bind_text(st, 1, handle, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == TOK_HASH_LEN) {
        memcpy(deleted->b, sqlite3_column_blob(st, 0), TOK_HASH_LEN);
        e = STORE_OK;
    } else {
        e = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_NOT_FOUND : err_of(c, rc);
    }
    sqlite3_reset(st);
    if (e == STORE_OK)
        e = delete_hash(c, deleted);
    return finish(c, e);
}

/* Deletes a user's tokens but *keep and logs it, inside an open transaction. */
static store_err delete_user_tokens(conn *c, int64_t user_id, const tok_hash *keep, int64_t *deleted)
{
    sqlite3_stmt *st = stmt(c, keep ? Q_TOKEN_DELETE_USER_KEEP : Q_TOKEN_DELETE_USER);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, user_id);
    if (keep)
        bind_hash(st, 2, keep);
    store_err e = run(c, st);
    if (deleted)
        *deleted = e == STORE_OK ? sqlite3_changes(c->db) : 0;
    return e == STORE_OK ? log_event(c, STORE_EV_USER, keep, user_id) : e;
}

static store_err sq_token_delete_user(store_t *base, int64_t user_id, const tok_hash *keep,
                                      int64_t *deleted)
{
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    return finish(c, delete_user_tokens(c, user_id, keep, deleted));
}

static store_err sq_token_touch(store_t *base, const tok_record *recs, size_t n)
{
    CONN_OR_FAIL(base, c);
    store_err e = n ? begin(c) : STORE_OK;
    for (size_t i = 0; e == STORE_OK && i < n; i++) {
        sqlite3_stmt *st = stmt(c, Q_TOKEN_TOUCH);
        if (st == NULL) {
            e = STORE_ERROR;
            break;
        }
        bind_hash(st, 1, &recs[i].hash);
        sqlite3_bind_int64(st, 2, recs[i].last_used_ms);
        e = run(c, st);
    }
    return n ? finish(c, e) : e;
}

static store_err sq_token_purge_expired(store_t *base, int64_t now_ms, int64_t *purged)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_TOKEN_PURGE);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, now_ms);
    store_err e = run(c, st);
    if (purged)
        *purged = e == STORE_OK ? sqlite3_changes(c->db) : 0;
    return e;
}

static store_err sq_token_beyond(store_t *base, int64_t user_id, int64_t now_ms, int64_t keep, int max,
                                store_token_cb cb, void *ctx)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_TOKEN_BEYOND);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, keep);
    sqlite3_bind_int(st, 4, max);
    /* read first, call back after: a callback may delete these very rows */
    tok_record *found = calloc((size_t)(max > 0 ? max : 1), sizeof *found);
    if (found == NULL)
        return STORE_ERROR;
    int rc = SQLITE_DONE, n = 0;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        read_token(st, &found[n++]);
    if (n < max && rc != SQLITE_DONE) {
        sqlite3_reset(st);
        free(found);
        return err_of(c, rc);
    }
    sqlite3_reset(st);
    for (int i = 0; i < n; i++)
        cb(&found[i], ctx);
    free(found);
    return STORE_OK;
}

/* ---- failed logins ----------------------------------------------------- */

static void bind_key(sqlite3_stmt *st, const uint8_t key[STORE_FAILURE_KEY_LEN])
{
    sqlite3_bind_blob(st, 1, key, STORE_FAILURE_KEY_LEN, SQLITE_STATIC);
}

static store_err sq_failures_get(store_t *base, const uint8_t key[STORE_FAILURE_KEY_LEN], store_failures *out)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_FAILURES_GET);
    if (st == NULL)
        return STORE_ERROR;
    bind_key(st, key);
    int rc = sqlite3_step(st);
    *out = (store_failures){0, 0};
    if (rc == SQLITE_ROW)
        *out = (store_failures){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)};
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : err_of(c, rc);
}

/* A row never counted ({0, 0}) is inserted, any other updated, each only
 * when nobody came first. */
static store_err sq_failures_cas(store_t *base, const uint8_t key[STORE_FAILURE_KEY_LEN],
                                 const store_failures *old, const store_failures *new_)
{
    CONN_OR_FAIL(base, c);
    bool absent = old->count == 0 && old->last_ms == 0;
    sqlite3_stmt *st = stmt(c, absent ? Q_FAILURES_INSERT : Q_FAILURES_UPDATE);
    if (st == NULL)
        return STORE_ERROR;
    bind_key(st, key);
    sqlite3_bind_int64(st, 2, old->count);
    sqlite3_bind_int64(st, 3, old->last_ms);
    sqlite3_bind_int64(st, 4, new_->count);
    sqlite3_bind_int64(st, 5, new_->last_ms);
    store_err e = run(c, st);
    return e == STORE_OK && sqlite3_changes(c->db) == 0 ? STORE_STALE : e;
}

static store_err sq_failures_clear(store_t *base, const uint8_t key[STORE_FAILURE_KEY_LEN])
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_FAILURES_CLEAR);
    if (st == NULL)
        return STORE_ERROR;
    bind_key(st, key);
    return run(c, st);
}

static store_err sq_failures_purge(store_t *base, int64_t older_than_ms)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_FAILURES_PURGE);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, older_than_ms);
    return run(c, st);
}

/* ---- revocation log ---------------------------------------------------- */

static store_err sq_events_since(store_t *base, int64_t seq, store_event_cb cb, void *ctx, int64_t *last_seq)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_EVENTS_SINCE);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, seq);
    int rc;
    *last_seq = seq;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_event ev = {0};
        ev.seq = sqlite3_column_int64(st, 0);
        ev.kind = (store_ev_kind)sqlite3_column_int(st, 1);
        if (sqlite3_column_bytes(st, 2) == TOK_HASH_LEN) {
            memcpy(ev.hash.b, sqlite3_column_blob(st, 2), TOK_HASH_LEN);
            ev.has_keep = ev.kind == STORE_EV_USER;
        }
        ev.user_id = sqlite3_column_int64(st, 3);
        *last_seq = ev.seq;
        if (cb)
            cb(&ev, ctx);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : err_of(c, rc);
}

static store_err sq_events_trim(store_t *base, int64_t older_than_ms)
{
    CONN_OR_FAIL(base, c);
    sqlite3_stmt *st = stmt(c, Q_EVENTS_TRIM);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, older_than_ms);
    return run(c, st);
}

/* ---- model rows (statements from sql.h) -------------------------------- */

static sqlite3_stmt *dyn_prepare(conn *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "tessera: sqlite: prepare: %s\n", sqlite3_errmsg(c->db));
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
            fprintf(stderr, "tessera: sqlite: bind %zu: %s\n", i + 1, sqlite3_errmsg(c->db));
            dyn_release(c, st);
            st = NULL;
        }
    }
    return st;
}

static store_err build_failed(const sql_query *q)
{
    fprintf(stderr, "tessera: sqlite: %s\n", q->err);
    return STORE_ERROR;
}

/* A write's failure: a unique index violated is a conflict, a foreign key
 * naming no row (a role mapping's roleId) a bad reference: client errors. */
static store_err write_err(conn *c, int rc)
{
    int x = sqlite3_extended_errcode(c->db);
    if (x == SQLITE_CONSTRAINT_UNIQUE || x == SQLITE_CONSTRAINT_PRIMARYKEY)
        return STORE_CONFLICT;
    if (x == SQLITE_CONSTRAINT_FOREIGNKEY)
        return STORE_BAD_REFERENCE;
    return err_of(c, rc);
}

/* Runs a statement that returns no rows; *changes gets the rows it touched. */
static store_err run_query(conn *c, const sql_query *q, int64_t *changes)
{
    sqlite3_stmt *st = prepare_query(c, q);
    if (st == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    store_err e = rc == SQLITE_DONE ? STORE_OK : write_err(c, rc);
    if (changes)
        *changes = e == STORE_OK ? sqlite3_changes(c->db) : 0;
    dyn_release(c, st);
    return e;
}

/* REAL columns hold whole numbers too: 50, not 50.0, as JSON shows them. */
static json_t *number_json(double d)
{
    if (!isfinite(d))
        return json_null();
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

static json_t *column_json(sqlite3_stmt *st, int i, const model_prop *p)
{
    int t = sqlite3_column_type(st, i);
    if (t == SQLITE_NULL)
        return json_null();
    if (p->ms_date) {
        char iso[ISODATE_LEN];
        iso_format(sqlite3_column_int64(st, i), iso);
        return json_string(iso);
    }
    if (p->type == PT_BOOLEAN)
        return json_boolean(sqlite3_column_int64(st, i) != 0);
    if (t == SQLITE_INTEGER)
        return json_integer(sqlite3_column_int64(st, i));
    if (t == SQLITE_FLOAT)
        return number_json(sqlite3_column_double(st, i));
    const char *text = (const char *)sqlite3_column_text(st, i);
    size_t len = (size_t)sqlite3_column_bytes(st, i);
    json_t *v = NULL;
    if (p->type == PT_OBJECT || p->type == PT_ARRAY || p->type == PT_ANY)
        v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    return v ? v : json_stringn(text, len);
}

static bool is_declared(const model_def *m, const char *name)
{
    for (size_t i = 0; i < m->nprops; i++) {
        if (strcmp(m->props[i].name, name) == 0)
            return true;
    }
    return false;
}

/* The undeclared properties kept in the extra column. A key that names a
 * declared property is skipped: the column wins, and a hidden one (the
 * password) must not come back through the extra object either. */
static void merge_extra(json_t *row, const model_def *m, sqlite3_stmt *st, int i)
{
    const char *text = (const char *)sqlite3_column_text(st, i);
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

static json_t *read_row(sqlite3_stmt *st, const sql_query *q)
{
    json_t *row = json_object();
    for (size_t i = 0; row && i < q->ncols; i++) {
        if (json_object_set_new(row, q->cols[i]->name, column_json(st, (int)i, q->cols[i])) != 0) {
            json_decref(row);
            return NULL;
        }
    }
    if (row && q->extra)
        merge_extra(row, q->model, st, (int)q->ncols);
    return row;
}

/* Runs a SELECT built by sql_build_select; cb gets (and owns) each row. */
static store_err query_rows(conn *c, const sql_query *q, store_row_cb cb, void *ctx)
{
    sqlite3_stmt *st = prepare_query(c, q);
    if (st == NULL)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = read_row(st, q);
        if (row == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        cb(row, ctx);
    }
    store_err e = rc == SQLITE_DONE ? STORE_OK : err_of(c, rc);
    dyn_release(c, st);
    return e;
}

static store_err sq_rows_find(store_t *base, const model_def *m, const filter *f, store_row_cb cb, void *ctx)
{
    CONN_OR_FAIL(base, c);
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    budget_start(c, base);
    store_err e = sql_build_select(&q, m, f) == 0 ? query_rows(c, &q, cb, ctx) : build_failed(&q);
    sql_query_free(&q);
    return budget_end(c, e);
}

static store_err sq_rows_count(store_t *base, const model_def *m, const fnode *where, int64_t *count)
{
    CONN_OR_FAIL(base, c);
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    budget_start(c, base);
    store_err e = sql_build_count(&q, m, where) == 0 ? STORE_OK : build_failed(&q);
    sqlite3_stmt *st = e == STORE_OK ? prepare_query(c, &q) : NULL;
    if (st) {
        int rc = sqlite3_step(st);
        e = rc == SQLITE_ROW ? STORE_OK : err_of(c, rc);
        *count = e == STORE_OK ? sqlite3_column_int64(st, 0) : 0;
    } else if (e == STORE_OK) {
        e = STORE_ERROR;
    }
    dyn_release(c, st);
    sql_query_free(&q);
    return budget_end(c, e);
}

static void take_row(json_t *row, void *ctx)
{
    json_t **out = ctx;
    json_decref(*out);
    *out = row;
}

/* The stored row whose id is id (text ids: the value given on insert). */
static store_err fetch_row(conn *c, const model_def *m, json_t *id, json_t **row)
{
    fnode eq = {.kind = FN_CMP, .prop = m->id, .op = OP_EQ, .value = id};
    filter f;
    memset(&f, 0, sizeof f);
    f.limit = -1;
    f.where = &eq;
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    *row = NULL;
    store_err e = sql_build_select(&q, m, &f) == 0 ? query_rows(c, &q, take_row, row) : build_failed(&q);
    sql_query_free(&q);
    if (e == STORE_OK && *row == NULL)
        e = STORE_NOT_FOUND;
    return e;
}


static store_err insert_row(conn *c, const model_def *m, const json_t *obj, json_t **row)
{
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    store_err e = sql_build_insert(&q, m, obj) == 0 ? run_query(c, &q, NULL) : build_failed(&q);
    sql_query_free(&q);
    if (e != STORE_OK || row == NULL || m->id == NULL)
        return e;
    json_t *id = m->id->id_is_text ? json_incref(json_object_get(obj, m->id->name))
                                   : json_integer(sqlite3_last_insert_rowid(c->db));
    e = fetch_row(c, m, id, row);
    json_decref(id);
    return e;
}

/*
 * Inserts one row and, when row is not NULL, reads it back whole (defaults
 * and the generated id included). Inside a transaction of the caller (a bulk
 * load) it joins that; otherwise insert and read run in one of their own.
 */
static store_err sq_rows_insert(store_t *base, const model_def *m, const json_t *obj, json_t **row)
{
    CONN_OR_FAIL(base, c);
    json_t *full = sql_insert_values(m, obj);
    if (full == NULL)
        return STORE_ERROR;
    bool own = sqlite3_get_autocommit(c->db) && row != NULL;
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

static store_err sq_rows_update(store_t *base, const model_def *m, const fnode *where, const json_t *patch,
                                int64_t *count)
{
    CONN_OR_FAIL(base, c);
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    budget_start(c, base);
    store_err e = sql_build_update(&q, m, where, patch) == 0 ? run_query(c, &q, count) : build_failed(&q);
    sql_query_free(&q);
    return budget_end(c, e);
}

/*
 * Before deleting tokens — directly, or through their user (ON DELETE
 * CASCADE) — log the revocations, as token_delete does, so every process
 * evicts them from its token cache. Part of the deleting transaction.
 */
static store_err log_row_revocations(conn *c, const model_def *m, const fnode *where)
{
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    int built = sql_build_revocation_log(&q, m, where, iso_now_ms());
    store_err e = built > 0 ? run_query(c, &q, NULL) : built == 0 ? STORE_OK : build_failed(&q);
    sql_query_free(&q);
    return e;
}

static store_err sq_rows_delete(store_t *base, const model_def *m, const fnode *where, int64_t *count)
{
    CONN_OR_FAIL(base, c);
    bool own = sqlite3_get_autocommit(c->db);
    store_err e = own ? begin(c) : STORE_OK;
    budget_start(c, base);
    if (e == STORE_OK)
        e = log_row_revocations(c, m, where);
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    if (e == STORE_OK)
        e = sql_build_delete(&q, m, where) == 0 ? run_query(c, &q, count) : build_failed(&q);
    sql_query_free(&q);
    e = budget_end(c, e);
    return own ? finish(c, e) : e;
}

/* ---- model_sync -------------------------------------------------------- */

/* Runs DDL once, uncached: the schema it changes outdates cached plans anyway. */
static store_err run_ddl(conn *c, const sql_query *q)
{
    sqlite3_stmt *st = NULL;
    if (q->failed)
        return build_failed(q);
    if (sqlite3_prepare_v2(c->db, q->text, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "tessera: sqlite: %s: %s\n", q->text, sqlite3_errmsg(c->db));
        return STORE_ERROR;
    }
    int rc = sqlite3_step(st);
    store_err e = rc == SQLITE_DONE ? STORE_OK : write_err(c, rc);
    sqlite3_finalize(st);
    return e;
}

static int has_column(conn *c, const char *table, const char *column)
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

typedef int (*ddl_builder)(sql_query *q, const model_def *m, const model_prop *p);

static store_err ddl(conn *c, const model_def *m, const model_prop *p, ddl_builder build)
{
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    build(&q, m, p);
    store_err e = run_ddl(c, &q);
    sql_query_free(&q);
    return e;
}

static store_err sync_table(conn *c, const model_def *m)
{
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_create_table(&q, m);
    store_err e = run_ddl(c, &q);
    sql_query_free(&q);
    for (size_t i = 0; e == STORE_OK && i < m->nprops; i++) {
        const model_prop *p = &m->props[i];
        int have = p->is_id ? 1 : has_column(c, m->table, p->column);
        if (have < 0)
            e = err_of(c, SQLITE_ERROR);
        else if (!have)
            e = ddl(c, m, p, sql_build_add_column);
        if (e == STORE_OK && (p->index || p->unique) && !p->is_id)
            e = ddl(c, m, p, sql_build_create_index);
    }
    return e;
}

/* Tables, columns and indexes of a declared model, added when missing (never
 * dropped); built-in models live in the migrations. */
static store_err sq_model_sync(store_t *base, const model_def *m)
{
    if (m->kind != MODEL_DECLARED)
        return STORE_OK;
    CONN_OR_FAIL(base, c);
    store_err e = begin(c);
    if (e != STORE_OK)
        return e;
    return finish(c, sync_table(c, m));
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
    CONN_OR_FAIL(base, c);
    char err[256];
    if (conn_exec(c, sql, err, sizeof err) == 0)
        return STORE_OK;
    fprintf(stderr, "tessera: sqlite: %s\n", err);
    return STORE_ERROR;
}

/* ---- the contract ------------------------------------------------------ */

static const store_ops SQLITE_OPS = {
    .name = "sqlite",
    .close = sq_close,
    .migrate = sq_migrate,
    .ping = sq_ping,
    .claim = sq_claim,
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .user_find = sq_user_find,
    .user_update = sq_user_update,
    .role_grant = sq_role_grant,
    .user_roles = sq_user_roles,
    .token_insert = sq_token_insert,
    .token_find = sq_token_find,
    .token_scan_live = sq_token_scan_live,
    .token_delete = sq_token_delete,
    .token_delete_handle = sq_token_delete_handle,
    .token_delete_user = sq_token_delete_user,
    .token_touch = sq_token_touch,
    .token_purge_expired = sq_token_purge_expired,
    .token_beyond = sq_token_beyond,
    .failures_get = sq_failures_get,
    .failures_cas = sq_failures_cas,
    .failures_clear = sq_failures_clear,
    .failures_purge = sq_failures_purge,
    .events_since = sq_events_since,
    .events_trim = sq_events_trim,
    .model_sync = sq_model_sync,
    .rows_find = sq_rows_find,
    .rows_count = sq_rows_count,
    .rows_insert = sq_rows_insert,
    .rows_update = sq_rows_update,
    .rows_delete = sq_rows_delete,
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
    s->base.ops = &SQLITE_OPS;
    s->claim_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_key_create(&s->key, NULL);
    restrict_files(path);
    /* Open once now, so a bad path fails at start, not on the first request. */
    conn *c = conn_open(s, err, errlen);
    if (c == NULL) {
        pthread_key_delete(s->key);
        pthread_mutex_destroy(&s->lock);
        free(s->path);
        free(s);
        return NULL;
    }
    pthread_setspecific(s->key, c);
    c->next = s->conns;
    s->conns = c;
    return &s->base;
}
