/*
 * queries.c — the text of every fixed statement (queries.h).
 */
#include <stddef.h>

#include "store/queries.h"

#define TOKEN_COLS "hash, handle, user_id, app_id, created_ms, ttl, last_used_ms, scopes"
#define USER_COLS "id, email, username, password, email_verified, extra, created_ms, cred_version"

/* the row only while the user exists, the grant holds and the application
 * it carries (if any) is active: one statement, so a password change, a
 * deletion or a disabling is either before it or after it (a password
 * grant checks its client before the slow password hash: an application
 * disabled meanwhile must not get a token). lock: PostgreSQL's FOR SHARE on
 * the application's row, so its disabling waits for this insert and its
 * sweep of the application's tokens then sees the new one. */
#define TOKEN_INSERT_GUARDED_(lock)                                                       \
    "INSERT INTO access_tokens (" TOKEN_COLS ", expires_ms)"                              \
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM users"                               \
    " WHERE id = ?3 AND (?10 IS NULL OR cred_version = ?10)"                              \
    " AND (?11 IS NULL OR EXISTS (SELECT 1 FROM access_tokens p WHERE p.hash = ?11))"     \
    " AND (?4 IS NULL OR EXISTS (SELECT 1 FROM applications ap"                           \
    " WHERE ap.id = ?4 AND ap.status = 'active'" lock "))"
#define TOKEN_INSERT_GUARDED TOKEN_INSERT_GUARDED_("")

/* an application's own token (no user): only while the application is
 * active, so one disabled or deleted meanwhile cannot leave a token behind */
#define TOKEN_INSERT_APP                                                                  \
    "INSERT INTO access_tokens (" TOKEN_COLS ", expires_ms)"                              \
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM applications"                        \
    " WHERE id = ?4 AND status = 'active'"

typedef struct query_def {
    const char *sql;
    const char *pg;     /* PostgreSQL's own text, when it differs */
} query_def;

static const query_def QUERIES[Q_COUNT] = {
    [Q_USER_INSERT] = {"INSERT INTO users (email, username, password, email_verified, extra, created_ms)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id", NULL},
    [Q_USER_GET] = {"SELECT " USER_COLS " FROM users WHERE id = ?1", NULL},
    [Q_USER_BY_EMAIL] = {"SELECT " USER_COLS " FROM users WHERE email = ?1", NULL},
    [Q_USER_BY_USERNAME] = {"SELECT " USER_COLS " FROM users WHERE username = ?1", NULL},
    [Q_USER_EMAIL_OWNER] = {"SELECT id FROM users WHERE email = ?1", NULL},
    [Q_USER_USERNAME_OWNER] = {"SELECT id FROM users WHERE username = ?1", NULL},
    [Q_USER_VERSION] = {"SELECT cred_version FROM users WHERE id = ?1", NULL},
    [Q_ROLE_ENSURE] = {"INSERT INTO roles (name, created_ms) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING", NULL},
    [Q_ROLE_MAP] = {"INSERT INTO role_mappings (role_id, principal_type, principal_id)"
                    " SELECT id, 'USER', ?2 FROM roles WHERE name = ?1 ON CONFLICT DO NOTHING", NULL},
    [Q_USER_ROLES] = {"SELECT r.name FROM roles r JOIN role_mappings m ON m.role_id = r.id"
                      " WHERE m.principal_type = 'USER' AND m.principal_id = ?1 ORDER BY r.name", NULL},
    [Q_TOKEN_INSERT] = {"INSERT INTO access_tokens (" TOKEN_COLS ", expires_ms)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", NULL},
    /* PostgreSQL: FOR SHARE holds the user's row until commit, so a password
     * change or a deletion in flight is waited for and then seen */
    [Q_TOKEN_INSERT_GUARDED] = {TOKEN_INSERT_GUARDED, TOKEN_INSERT_GUARDED_(" FOR SHARE") " FOR SHARE OF users"},
    [Q_TOKEN_INSERT_APP] = {TOKEN_INSERT_APP, TOKEN_INSERT_APP " FOR SHARE OF applications"},
    [Q_TOKEN_FIND] = {"SELECT " TOKEN_COLS " FROM access_tokens WHERE hash = ?1", NULL},
    /* pages of live tokens in hash order, so that filling the cache never
     * holds a million rows in one result (the empty BLOB sorts first) */
    [Q_TOKEN_LIST] = {"SELECT " TOKEN_COLS " FROM access_tokens WHERE expires_ms > ?1 AND hash > ?2"
                      " ORDER BY hash LIMIT ?3", NULL},
    [Q_TOKEN_DELETE] = {"DELETE FROM access_tokens WHERE hash = ?1", NULL},
    /* user 0: an application's own token (no user), as a row shows it */
    [Q_TOKEN_HANDLE_FIND] = {"SELECT hash FROM access_tokens WHERE handle = ?1 AND COALESCE(user_id, 0) = ?2", NULL},
    [Q_TOKEN_DELETE_USER] = {"DELETE FROM access_tokens WHERE user_id = ?1", NULL},
    [Q_TOKEN_DELETE_USER_KEEP] = {"DELETE FROM access_tokens WHERE user_id = ?1 AND hash <> ?2", NULL},
    [Q_TOKEN_TOUCH] = {"UPDATE access_tokens SET last_used_ms = ?2 WHERE hash = ?1", NULL},
    [Q_TOKEN_PURGE] = {"DELETE FROM access_tokens WHERE expires_ms <= ?1", NULL},
    [Q_TOKEN_BEYOND] = {"SELECT " TOKEN_COLS " FROM access_tokens WHERE user_id = ?1 AND expires_ms > ?2"
                        " ORDER BY created_ms DESC, handle DESC LIMIT ?4 OFFSET ?3", NULL},
    [Q_TOKEN_BEYOND_APP] = {"SELECT " TOKEN_COLS " FROM access_tokens WHERE user_id IS NULL AND app_id = ?1"
                            " AND expires_ms > ?2 ORDER BY created_ms DESC, handle DESC LIMIT ?4 OFFSET ?3", NULL},
    [Q_EVENT_INSERT] = {"INSERT INTO token_events (kind, hash, user_id, at_ms) VALUES (?1, ?2, ?3, ?4)", NULL},
    [Q_EVENTS_SINCE] = {"SELECT seq, kind, hash, user_id FROM token_events WHERE seq > ?1 ORDER BY seq", NULL},
    [Q_EVENTS_TRIM] = {"DELETE FROM token_events WHERE at_ms < ?1"
                       " AND seq < (SELECT max(seq) FROM token_events)", NULL},
    [Q_FAILURES_GET] = {"SELECT failures, last_ms FROM login_failures WHERE key = ?1", NULL},
    [Q_FAILURES_INSERT] = {"INSERT INTO login_failures (key, failures, last_ms) VALUES (?1, ?4, ?5)"
                           " ON CONFLICT (key) DO NOTHING", NULL},
    [Q_FAILURES_UPDATE] = {"UPDATE login_failures SET failures = ?4, last_ms = ?5"
                           " WHERE key = ?1 AND failures = ?2 AND last_ms = ?3", NULL},
    [Q_FAILURES_CLEAR] = {"DELETE FROM login_failures WHERE key = ?1", NULL},
    [Q_FAILURES_PURGE] = {"DELETE FROM login_failures WHERE last_ms < ?1", NULL},
    [Q_PING] = {"SELECT count(*) FROM schema_version", "SELECT 1"},
    /* applications (issue 13): the previous hash is kept only with a grace */
    [Q_APP_BY_CLIENT] = {"SELECT id, status, secret_hash, prev_hash, prev_until_ms FROM applications"
                         " WHERE client_id = ?1", NULL},
    [Q_APP_SET_SECRET] = {"UPDATE applications SET prev_hash = CASE WHEN ?3 > 0 THEN secret_hash END,"
                          " prev_until_ms = ?3, secret_hash = ?2, modified_ms = ?4 WHERE id = ?1", NULL},
    /* the tokens of applications disabled or deleted: logged, then deleted */
    [Q_APP_DEAD_EVENTS] = {"INSERT INTO token_events (kind, hash, user_id, at_ms) SELECT 1, hash, NULL, ?1"
                           " FROM access_tokens t WHERE t.app_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
                           " applications a WHERE a.id = t.app_id AND a.status = 'active')", NULL},
    [Q_APP_ROLES] = {"SELECT r.name FROM roles r JOIN role_mappings m ON m.role_id = r.id"
                     " WHERE m.principal_type = 'APP' AND m.principal_id = ?1 ORDER BY r.name", NULL},
    /* the CLI's (cli/apps.c) */
    [Q_APP_INSERT] = {"INSERT INTO applications (name, owner_id, client_id, secret_hash, created_ms, modified_ms)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id", NULL},
    [Q_APP_ID_BY_NAME] = {"SELECT id FROM applications WHERE name = ?1", NULL},
    [Q_APP_SET_STATUS] = {"UPDATE applications SET status = ?2, modified_ms = ?3 WHERE id = ?1", NULL},
    [Q_APP_LIST] = {"SELECT id, name, client_id, status, owner_id FROM applications ORDER BY id", NULL},
    [Q_APP_ROLE_MAP] = {"INSERT INTO role_mappings (role_id, principal_type, principal_id)"
                        " SELECT id, 'APP', ?2 FROM roles WHERE name = ?1 ON CONFLICT DO NOTHING", NULL},
    /* refresh tokens (issue 13, store/apps.c) */
    [Q_REFRESH_INSERT] = {"INSERT INTO refresh_tokens (hash, family, user_id, app_id, cred_version, access_hash,"
                          " expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", NULL},
    [Q_REFRESH_USE] = {"UPDATE refresh_tokens SET used = 1 WHERE hash = ?1 AND used = 0 AND expires_ms > ?2", NULL},
    [Q_REFRESH_GET] = {"SELECT family, user_id, app_id, cred_version, used, expires_ms FROM refresh_tokens"
                       " WHERE hash = ?1", NULL},
    [Q_REFRESH_FAMILY] = {"SELECT access_hash FROM refresh_tokens WHERE family = ?1", NULL},
    [Q_REFRESH_FAMILY_DELETE] = {"DELETE FROM refresh_tokens WHERE family = ?1", NULL},
    [Q_APP_DEAD_DELETE] = {"DELETE FROM access_tokens WHERE app_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
                           " applications a WHERE a.id = access_tokens.app_id AND a.status = 'active')", NULL},
    /* API tokens (store/apitokens.c) */
    [Q_APIKEY_INSERT] = {"INSERT INTO api_tokens (user_id, name, description, type, permissions, prefix, hash,"
                         " created_ms, ttl, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                         " RETURNING id", NULL},
    [Q_APIKEY_FIND] = {"SELECT id, user_id, created_ms, ttl, last_used_ms, type, permissions"
                       " FROM api_tokens WHERE hash = ?1", NULL},
    [Q_APIKEY_HASH_OF] = {"SELECT hash FROM api_tokens WHERE id = ?1 AND (?2 = 0 OR user_id = ?2)", NULL},
    [Q_APIKEY_DELETE] = {"DELETE FROM api_tokens WHERE id = ?1", NULL},
    [Q_APIKEY_REHASH] = {"UPDATE api_tokens SET hash = ?2, prefix = ?3 WHERE id = ?1", NULL},
    [Q_APIKEY_DELETE_USER] = {"DELETE FROM api_tokens WHERE user_id = ?1", NULL},
    /* at most once a minute per key: a script's key used all day costs its
     * row one write a minute, whatever the traffic */
    [Q_APIKEY_TOUCH] = {"UPDATE api_tokens SET last_used_ms = ?2 WHERE hash = ?1"
                        " AND (last_used_ms IS NULL OR last_used_ms <= ?2 - 60000)", NULL},
    [Q_TOKEN_SET_SCOPES] = {"UPDATE access_tokens SET scopes = ?2, scope_list = ?3 WHERE hash = ?1", NULL},
    [Q_TOKEN_SCOPE_LIST] = {"SELECT scope_list FROM access_tokens WHERE hash = ?1", NULL},
};

const char *query_text(sql_dialect d, enum stmt_id id)
{
    const query_def *q = &QUERIES[id];
    return d == SQL_POSTGRES && q->pg ? q->pg : q->sql;
}
