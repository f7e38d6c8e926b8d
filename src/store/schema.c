/*
 * schema.c — the schema, written once, and its upgrades; declared models'
 * tables; the health check. Over the driver (driver.h).
 *
 * Where the databases name a type differently, the text says {NAME} and
 * sql_dialect_text puts in the dialect's own (sql.h): {ID} an integer key
 * generated on insert, {INT} a 64-bit integer, {TEXT} text compared as bytes,
 * {BOOL}/{FALSE} a boolean, {BLOB} bytes, {NOROWID} SQLite's WITHOUT ROWID.
 */
#include <stdlib.h>

#include "core/isodate.h"
#include "core/log.h"
#include "store/domain.h"
#include "store/queries.h"

/*
 * One entry per version. A database at version N gets entries N+1.. applied
 * in one transaction; an entry is never edited once released.
 */
static const char *const MIGRATIONS[] = {
    /* 1: users, roles, access tokens, the revocation log */
    "CREATE TABLE users ("
    "  id {ID},"
    "  email {TEXT} NOT NULL UNIQUE,"
    "  username {TEXT} UNIQUE,"
    "  password TEXT NOT NULL,"
    "  email_verified {BOOL} NOT NULL DEFAULT {FALSE},"
    "  extra TEXT,"
    "  created_ms {INT} NOT NULL);"
    "CREATE TABLE roles ("
    "  id {ID},"
    "  name {TEXT} NOT NULL UNIQUE,"
    "  created_ms {INT} NOT NULL);"
    "CREATE TABLE role_mappings ("
    "  id {ID},"
    "  role_id {INT} NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
    "  principal_type {TEXT} NOT NULL,"
    "  principal_id {TEXT} NOT NULL,"
    "  UNIQUE (role_id, principal_type, principal_id));"
    "CREATE TABLE access_tokens ("
    "  hash {BLOB} PRIMARY KEY,"
    "  handle {TEXT} NOT NULL UNIQUE,"
    "  user_id {INT} NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  app_id {INT},"
    "  created_ms {INT} NOT NULL,"
    "  ttl {INT} NOT NULL,"
    "  expires_ms {INT} NOT NULL,"
    "  last_used_ms {INT},"
    "  scopes {INT} NOT NULL DEFAULT 0){NOROWID};"
    "CREATE INDEX access_tokens_user ON access_tokens (user_id);"
    "CREATE INDEX access_tokens_expires ON access_tokens (expires_ms);"
    "CREATE TABLE token_events ("
    "  seq {ID},"
    "  kind INTEGER NOT NULL,"
    "  hash {BLOB},"
    "  user_id {INT},"
    "  at_ms {INT} NOT NULL);",
    /* 2: models — role descriptions, dynamic ACL rules */
    "ALTER TABLE roles ADD COLUMN description {TEXT};"
    "CREATE TABLE acls ("
    "  id {ID},"
    "  model {TEXT} NOT NULL,"
    "  property {TEXT} NOT NULL DEFAULT '*',"
    "  access_type {TEXT} NOT NULL DEFAULT '*',"
    "  principal_type {TEXT} NOT NULL,"
    "  principal_id {TEXT} NOT NULL,"
    "  permission {TEXT} NOT NULL);",
    /* 3: accounts — credential versions, failed logins per account */
    "ALTER TABLE users ADD COLUMN cred_version {INT} NOT NULL DEFAULT 0;"
    "CREATE TABLE login_failures ("
    "  key {BLOB} PRIMARY KEY,"
    "  failures {INT} NOT NULL,"
    "  last_ms {INT} NOT NULL){NOROWID};"
    "CREATE INDEX login_failures_last ON login_failures (last_ms);",
    /* 4: applications (issue 13) — client id, secret hashes, the previous
     * secret's grace */
    "CREATE TABLE applications ("
    "  id {ID},"
    "  name {TEXT} NOT NULL UNIQUE,"
    "  description {TEXT},"
    "  owner_id {INT} REFERENCES users(id) ON DELETE SET NULL,"
    "  status {TEXT} NOT NULL DEFAULT 'active',"
    "  client_id {TEXT} NOT NULL UNIQUE,"
    "  created_ms {INT} NOT NULL,"
    "  modified_ms {INT} NOT NULL,"
    "  secret_hash {TEXT} NOT NULL,"
    "  prev_hash {TEXT},"
    "  prev_until_ms {INT} NOT NULL DEFAULT 0);"
    "CREATE INDEX applications_owner ON applications (owner_id);"
    "CREATE INDEX access_tokens_app ON access_tokens (app_id);"
    /* OAuth2 refresh tokens: rotated on use; a used one presented again
     * revokes its family (the access tokens each one was issued with) */
    "CREATE TABLE refresh_tokens ("
    "  hash {BLOB} PRIMARY KEY,"
    "  family {TEXT} NOT NULL,"
    "  user_id {INT} NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  app_id {INT},"
    "  cred_version {INT} NOT NULL,"
    "  access_hash {BLOB} NOT NULL,"
    "  expires_ms {INT} NOT NULL,"
    "  used {INT} NOT NULL DEFAULT 0){NOROWID};"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens (family);",
    /* 5: API tokens (issue 14; store/apitokens.c) — a key's hash, never the key */
    "CREATE TABLE api_tokens ("
    "  id {ID},"
    "  user_id {INT} NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  name {TEXT} NOT NULL,"
    "  description {TEXT},"
    "  type {TEXT} NOT NULL,"
    "  permissions TEXT,"
    "  prefix {TEXT} NOT NULL,"
    "  hash {BLOB} NOT NULL UNIQUE,"
    "  created_ms {INT} NOT NULL,"
    "  ttl {INT} NOT NULL,"
    "  expires_ms {INT},"
    "  last_used_ms {INT},"
    "  UNIQUE (user_id, name));"
    "CREATE INDEX api_tokens_user ON api_tokens (user_id);"
    /* a login token's scopes (LoopBack's AccessToken.scopes): JSON text */
    "ALTER TABLE access_tokens ADD COLUMN scope_list TEXT;",
    /* 6: application tokens (issue 13, grant_type=client_credentials): a
     * token held by an application alone has no user (user_id NULL), never
     * by a sentinel user: deleting a user cascades only to that user's
     * tokens, and every token has a holder. SQLite cannot drop NOT NULL, so
     * the table is rebuilt (the same text for PostgreSQL); its constraints
     * are named so the names stay the same after the rename. No foreign key
     * on app_id: a deleted application's tokens go through the revocation
     * log (store_app_revoke_dead), which a cascade would bypass. */
    "CREATE TABLE access_tokens_v6 ("
    "  hash {BLOB} NOT NULL,"
    "  handle {TEXT} NOT NULL,"
    "  user_id {INT} REFERENCES users(id) ON DELETE CASCADE,"
    "  app_id {INT},"
    "  created_ms {INT} NOT NULL,"
    "  ttl {INT} NOT NULL,"
    "  expires_ms {INT} NOT NULL,"
    "  last_used_ms {INT},"
    "  scopes {INT} NOT NULL DEFAULT 0,"
    "  scope_list TEXT,"
    "  CONSTRAINT access_tokens_hash PRIMARY KEY (hash),"
    "  CONSTRAINT access_tokens_handle UNIQUE (handle),"
    "  CONSTRAINT access_tokens_holder CHECK (user_id IS NOT NULL OR app_id IS NOT NULL)){NOROWID};"
    "INSERT INTO access_tokens_v6 (hash, handle, user_id, app_id, created_ms, ttl, expires_ms, last_used_ms,"
    "  scopes, scope_list) SELECT hash, handle, user_id, app_id, created_ms, ttl, expires_ms, last_used_ms,"
    "  scopes, scope_list FROM access_tokens;"
    "DROP TABLE access_tokens;"
    "ALTER TABLE access_tokens_v6 RENAME TO access_tokens;"
    "CREATE INDEX access_tokens_user ON access_tokens (user_id);"
    "CREATE INDEX access_tokens_expires ON access_tokens (expires_ms);"
    "CREATE INDEX access_tokens_app ON access_tokens (app_id);",
};
#define SCHEMA_VERSION ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

const char *store_migration(int version)
{
    return version >= 1 && version <= SCHEMA_VERSION ? MIGRATIONS[version - 1] : NULL;
}

/* Runs a template of this file in the store's dialect. */
static store_err script(store_t *s, dconn *c, const char *tmpl)
{
    char *sql = sql_dialect_text(s->drv->dialect, tmpl);
    store_err e = sql ? s->drv->script(c, sql) : STORE_ERROR;
    free(sql);
    return e;
}

/* The version in place (0: none); -1 when it cannot be read. */
static int schema_version(store_t *s, dconn *c)
{
    if (script(s, c, "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER NOT NULL, applied_ms {INT} NOT NULL)") != STORE_OK)
        return -1;
    dstmt st = {-1, "SELECT max(version) FROM schema_version"};
    dcur cur;
    if (s->drv->run(c, &st, NULL, 0, &cur, NULL) != STORE_OK)
        return -1;
    int v = s->drv->next(&cur) ? (int)s->drv->col_int(&cur, 0) : 0;
    return s->drv->end(&cur) == STORE_OK ? v : -1;
}

static store_err apply_migration(store_t *s, dconn *c, int v)
{
    store_err e = script(s, c, MIGRATIONS[v - 1]);
    dval mark[] = {dv_int(v), dv_int(iso_now_ms())};
    dstmt st = {-1, "INSERT INTO schema_version VALUES (?1, ?2)"};
    return e == STORE_OK ? s->drv->run(c, &st, mark, 2, NULL, NULL) : e;
}

/*
 * Brings the schema to SCHEMA_VERSION in one transaction that holds the
 * schema for itself (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
 * lock): a second process migrating at the same moment waits for the
 * first, then finds nothing left to do.
 */
store_err store_migrate(store_t *s, int *version)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e == STORE_OK && s->drv->lock_schema)
        e = s->drv->lock_schema(c);
    int have = e == STORE_OK ? schema_version(s, c) : -1;
    if (e == STORE_OK && have < 0)
        e = STORE_ERROR;
    if (e == STORE_OK && have > SCHEMA_VERSION) {
        log_error("%s: database schema %d is newer than this tessera (%d)", s->drv->name, have,
                  SCHEMA_VERSION);
        e = STORE_ERROR;
    }
    for (int v = have + 1; e == STORE_OK && v <= SCHEMA_VERSION; v++)
        e = apply_migration(s, c, v);
    e = db_finish(s, c, e);
    if (e == STORE_OK && version)
        *version = SCHEMA_VERSION;
    return e;
}

store_err store_ping(store_t *s)
{
    DB_OR_FAIL(s, c);
    dcur cur;
    store_err e = db_rows(s, c, Q_PING, NULL, 0, &cur);
    if (e != STORE_OK)
        return e;
    s->drv->next(&cur);
    return s->drv->end(&cur);
}

/* ---- model_sync -------------------------------------------------------- */

typedef int (*ddl_builder)(sql_query *q, const model_def *m, const model_prop *p);

/* DDL runs once, unprepared: the schema it changes outdates cached plans anyway. */
static store_err ddl(store_t *s, dconn *c, const model_def *m, const model_prop *p, ddl_builder build)
{
    sql_query q;
    sql_query_init(&q, s->drv->dialect);
    store_err e = build(&q, m, p) == 0 ? s->drv->script(c, q.text) : db_build_failed(s, &q);
    sql_query_free(&q);
    return e;
}

static int create_table(sql_query *q, const model_def *m, const model_prop *p)
{
    (void)p;
    return sql_build_create_table(q, m);
}

/* A column is added when missing: asked where the database cannot say
 * IF NOT EXISTS (SQLite), else by ADD COLUMN IF NOT EXISTS (sql.h). */
static store_err sync_table(store_t *s, dconn *c, const model_def *m)
{
    store_err e = ddl(s, c, m, NULL, create_table);
    for (size_t i = 0; e == STORE_OK && i < m->nprops; i++) {
        const model_prop *p = &m->props[i];
        int have = p->is_id ? 1 : s->drv->has_column ? s->drv->has_column(c, m->table, p->column) : 0;
        if (have < 0)
            e = STORE_ERROR;
        else if (!have)
            e = ddl(s, c, m, p, sql_build_add_column);
        if (e == STORE_OK && (p->index || p->unique) && !p->is_id)
            e = ddl(s, c, m, p, sql_build_create_index);
    }
    return e;
}

/* Tables, columns and indexes of a declared model, added when missing (never
 * dropped), under the schema lock so that instances starting together do not
 * race on the same DDL; built-in models live in the migrations. */
store_err store_model_sync(store_t *s, const model_def *m)
{
    if (m->kind != MODEL_DECLARED)
        return STORE_OK;
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e == STORE_OK && s->drv->lock_schema)
        e = s->drv->lock_schema(c);
    if (e == STORE_OK)
        e = sync_table(s, c, m);
    return db_finish(s, c, e);
}
