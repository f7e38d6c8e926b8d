/*
 * store.h — the storage contract.
 *
 * Everything tessera keeps goes through the store_X functions below,
 * written once over a small driver (store/driver.h) that SQLite
 * (store/sqlite.c) and PostgreSQL (store/postgres.c) implement. Nothing
 * outside those two files knows which database is behind a store_t.
 *
 * Every call is safe from any thread: a driver keeps one connection per
 * thread. Every write is atomic: it happens whole, in one transaction, or not
 * at all. Errors are return codes (store_err); store_strerror names them.
 */
#ifndef TESSERA_STORE_H
#define TESSERA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/filter.h"
#include "model/schema.h"
#include "model/user.h" /* the account record (store_user) */

typedef enum store_err {
    STORE_OK = 0,
    STORE_NOT_FOUND,         /* no such row                               */
    STORE_EMAIL_TAKEN,       /* unique email violated                     */
    STORE_USERNAME_TAKEN,    /* unique username violated                  */
    STORE_UNAVAILABLE,       /* the database cannot be reached right now  */
    STORE_CONFLICT,          /* a unique property of a model violated     */
    STORE_BAD_REFERENCE,     /* a foreign key names a row that is not there */
    STORE_STALE,             /* a guarded write found the row changed since
                                it was read (a credential version)        */
    STORE_ERROR,             /* anything else; the driver logged why      */
    STORE_TIMEOUT,           /* a model query ran past its time budget, or
                                a regexp match past its limits            */
    STORE_BAD_PATTERN,       /* the database refused a filter's regexp    */
} store_err;

#define STORE_HASH_LEN   32 /* a token's hash (auth computes it) */
#define STORE_HANDLE_LEN 24 /* a token's public handle */

typedef struct store_hash {
    uint8_t b[STORE_HASH_LEN];
} store_hash;

/* An access token as stored: its hash and metadata, never its secret. */
typedef struct store_token {
    store_hash hash;
    char handle[STORE_HANDLE_LEN + 1];
    int64_t user_id;
    int64_t app_id;       /* 0: none                          */
    int64_t created_ms;
    int64_t ttl;          /* seconds, or -1: never expires    */
    int64_t last_used_ms; /* 0: never                         */
    uint64_t scopes;      /* 0: unrestricted                  */
} store_token;

typedef struct store store_t; /* a driver's handle, struct store first */

/*
 * What a new token's row depends on, checked by token_insert in the same
 * statement that inserts it: the user's credential version when a password
 * was checked (cred_version >= 0), the token that asked for it when one did
 * (parent). Either is skipped when absent (-1, NULL).
 */
typedef struct store_grant {
    int64_t cred_version;
    const store_hash *parent;
} store_grant;

/* Failed logins counted for one key (an account, hashed): how many in a row,
 * and when the last one was counted. */
typedef struct store_failures {
    int64_t count;
    int64_t last_ms;
} store_failures;
#define STORE_FAILURE_KEY_LEN 32

/*
 * A revocation, as every instance sees it. Revocations are written to an
 * event log in the same transaction as the deletion, so that any process
 * sharing the database (the server, the CLI, another instance) can evict the
 * tokens from its memory cache. kind: STORE_EV_TOKEN names one token by hash;
 * STORE_EV_USER names all tokens of user_id except `keep` (when has_keep).
 */
typedef enum { STORE_EV_TOKEN = 1, STORE_EV_USER = 2, STORE_EV_APP = 3 } store_ev_kind;
/* STORE_EV_APP (issue 13): an application's secret or status changed (its
 * id in user_id): every process forgets the client credentials it verified. */

typedef struct store_event {
    int64_t seq;
    store_ev_kind kind;
    store_hash hash;   /* STORE_EV_TOKEN; STORE_EV_USER: kept token   */
    bool has_keep;
    int64_t user_id;
} store_event;

typedef void (*store_token_cb)(const store_token *t, void *ctx);
/* One row of a model as JSON: visible properties only (never hidden ones),
 * dates as ISO 8601, the extra column merged in. The callee owns row. */
typedef void (*store_row_cb)(json_t *row, void *ctx);
typedef void (*store_event_cb)(const store_event *e, void *ctx);

/* Every store is one database behind a driver (store/driver.h); the
 * contract below is implemented once over it (store/users.c, tokens.c,
 * failures.c, events.c, rows.c, schema.c). */
struct store_driver;

struct store {
    const struct store_driver *drv;
    /* time budget of each model query (rows_*), ms; 0: none. Set by the
       server from server.queryTimeoutMs before it serves. */
    int query_timeout_ms;
};

/*
 * Opens the database named by url: "sqlite:PATH" (or a bare file path), or
 * PostgreSQL: "postgresql://..." / "postgres://..." / "host=... dbname=...".
 * Returns NULL and writes a message to err when it cannot.
 */
store_t *store_open(const char *url, char *err, size_t errlen);

void      store_close(store_t *s);
/* creates or upgrades the schema; *version gets the version now in place */
store_err store_migrate(store_t *s, int *version);
store_err store_ping(store_t *s);
/*
 * Called once by a server before it serves. STORE_OK with *sole true:
 * no other server can write this database while this process lives
 * (SQLite: a lock on the file), so what this process has not written is
 * unchanged and its rows may be cached; *sole false: other instances
 * share the database (PostgreSQL). STORE_CONFLICT: another server
 * already serves this database, and this one must not start.
 */
store_err store_claim(store_t *s, bool *sole);

/* users */
store_err store_user_create(store_t *s, store_user *u);   /* sets u->id, created_ms */
store_err store_user_get(store_t *s, int64_t id, store_user *out);
store_err store_user_find(store_t *s, const char *email, const char *username, store_user *out);
/*
 * Writes the fields named. A write of a credential (STORE_USER_CREDENTIALS)
 * happens only while the row's cred_version is still u->cred_version
 * (else STORE_STALE), bumps it (not for STORE_USER_REHASH; u gets the new
 * one), and in the same transaction deletes every token of the user but
 * *keep (when not NULL), logging it as token_delete_user does.
 */
store_err store_user_update(store_t *s, store_user *u, unsigned fields, const store_hash *keep);
/* roles: grant creates the role on demand; list calls cb per role name */
store_err store_role_grant(store_t *s, int64_t user_id, const char *role);
store_err store_user_roles(store_t *s, int64_t user_id, void (*cb)(const char *role, void *ctx), void *ctx);
/* store_role_grant for a user (app false) or an application (issue 13) */
store_err store_principal_grant(store_t *s, bool app, int64_t id, const char *role);
/* the roles mapped to a user (app false) or to an application (issue 13) */
store_err store_principal_roles(store_t *s, bool app, int64_t id, void (*cb)(const char *role, void *ctx), void *ctx);

/* access tokens */
/* inserts only while the user exists and *grant holds (grant may be NULL):
   STORE_NOT_FOUND when the user is gone, STORE_STALE when the grant no
   longer holds. user_id 0: an application's own token (issue 13), stored
   without a user, inserted only while application app_id is active
   (STORE_NOT_FOUND when not; grant unused). expires_ms: when it stops being live (the caller decides;
   the purge and the live scan go by it). */
store_err store_token_insert(store_t *s, const store_token *t, int64_t expires_ms, const store_grant *grant);
store_err store_token_find(store_t *s, const store_hash *h, store_token *out);
/* every token live at now_ms, streamed (to fill the cache at start) */
store_err store_token_scan_live(store_t *s, int64_t now_ms, store_token_cb cb, void *ctx);
store_err store_token_delete(store_t *s, const store_hash *h);
/* the token of that handle and user (0: an application's own token) */
store_err store_token_delete_handle(store_t *s, int64_t user_id, const char *handle, store_hash *deleted);
/* deletes all of a user's tokens, except *keep when not NULL; *deleted
   (when not NULL) gets how many went, once committed */
store_err store_token_delete_user(store_t *s, int64_t user_id, const store_hash *keep, int64_t *deleted);
/* writes last_used_ms of n tokens, in one transaction */
store_err store_token_touch(store_t *s, const store_token *recs, size_t n);
store_err store_token_purge_expired(store_t *s, int64_t now_ms, int64_t *purged);
/* the hashes of a user's live tokens beyond the newest `keep` (the oldest
   first), at most `max` of them; user_id 0: application app_id's own
   (user-less) tokens */
store_err store_token_beyond(store_t *s, int64_t user_id, int64_t app_id, int64_t now_ms, int64_t keep, int max,
                             store_token_cb cb, void *ctx);

/* failed logins per account (auth/throttle.c): read (a key never
   counted reads as zero), compare-and-set (STORE_STALE when the row is
   no longer *old), forget one, forget those older than a time */
store_err store_failures_get(store_t *s, const uint8_t key[STORE_FAILURE_KEY_LEN], store_failures *out);
store_err store_failures_cas(store_t *s, const uint8_t key[STORE_FAILURE_KEY_LEN],
                             const store_failures *old, const store_failures *new_);
store_err store_failures_clear(store_t *s, const uint8_t key[STORE_FAILURE_KEY_LEN]);
store_err store_failures_purge(store_t *s, int64_t older_than_ms);

/* applications (issue 13, store/apps.c): what client authentication reads,
   and a new secret hash (the old one kept until prev_until_ms when > 0) */
#define STORE_APP_HASH_HEX 64
typedef struct store_app_cred {
    int64_t id;
    bool active;                                /* status "active"       */
    char hash[STORE_APP_HASH_HEX + 1];          /* hex of the secret's hash */
    char prev[STORE_APP_HASH_HEX + 1];          /* "" when none          */
    int64_t prev_until_ms;
} store_app_cred;
store_err store_app_by_client(store_t *s, const char *client_id, store_app_cred *out);
store_err store_app_set_secret(store_t *s, int64_t id, const char *hash_hex, int64_t prev_until_ms);
/* revokes (logs, then deletes, in one transaction) every token whose
   application is disabled or gone; *revoked: how many (may be NULL) */
store_err store_app_revoke_dead(store_t *s, int64_t *revoked);
/* OAuth2 refresh tokens (issue 13): a family is one login's chain */
typedef struct store_refresh {
    store_hash hash, access_hash;
    char family[STORE_HANDLE_LEN + 1];
    int64_t user_id, app_id, cred_version, expires_ms;
    bool used;
} store_refresh;
store_err store_refresh_insert(store_t *s, const store_refresh *r);
/* marks it used: STORE_OK the first time (*out read), STORE_STALE when it
   was used before (*out read: its family), STORE_NOT_FOUND unknown/expired */
store_err store_refresh_use(store_t *s, const store_hash *h, int64_t now_ms, store_refresh *out);
/* reads one (used or not, expired or not); STORE_NOT_FOUND when unknown */
store_err store_refresh_get(store_t *s, const store_hash *h, store_refresh *out);
/* deletes a family, calling cb with the access-token hash of each member */
store_err store_refresh_family_delete(store_t *s, const char *family, void (*cb)(const store_hash *, void *),
                                      void *ctx);
/* the CLI's: a new application (STORE_CONFLICT: the name is taken), its id
   by name, its status (then its tokens revoked when not active), the list */
store_err store_app_create(store_t *s, const char *name, int64_t owner_id, const char *client_id,
                           const char *hash_hex, int64_t *id);
store_err store_app_id(store_t *s, const char *name, int64_t *id);
store_err store_app_set_status(store_t *s, int64_t id, const char *status);
typedef void (*store_app_cb)(int64_t id, const char *name, const char *client_id, const char *status,
                             int64_t owner_id, void *ctx);
store_err store_app_list(store_t *s, store_app_cb cb, void *ctx);

/* revocation log */
store_err store_events_since(store_t *s, int64_t seq, store_event_cb cb, void *ctx, int64_t *last_seq);
store_err store_events_trim(store_t *s, int64_t older_than_ms);
/* Whether the database can push news of revocations (events_wait). */
bool store_can_wait(const store_t *s);
/*
 * Only when store_can_wait: blocks up to timeout_ms until another process
 * may have logged revocations. STORE_OK: read the log now;
 * STORE_UNAVAILABLE: this process cannot hear revocations at the moment,
 * so its cache must not be trusted alone.
 */
store_err store_events_wait(store_t *s, int timeout_ms);

/*
 * Rows of any model (model/schema.h), queried with parsed filters
 * (model/filter.h). A filter becomes SQL whose values are all bound
 * parameters; identifiers come only from the model definition.
 */
/* creates the table, its columns and indexes when missing (declared models) */
store_err store_model_sync(store_t *s, const model_def *m);
store_err store_rows_find(store_t *s, const model_def *m, const filter *f, store_row_cb cb, void *ctx);
store_err store_rows_count(store_t *s, const model_def *m, const fnode *where, int64_t *count);
/* obj holds coerced, validated values by property name; *row gets the stored row */
store_err store_rows_insert(store_t *s, const model_def *m, const json_t *obj, json_t **row);
/* sets the properties in patch on every row matching where; null clears */
store_err store_rows_update(store_t *s, const model_def *m, const fnode *where, const json_t *patch,
                            int64_t *count);
store_err store_rows_delete(store_t *s, const model_def *m, const fnode *where, int64_t *count);

const char *store_strerror(store_err e);

void store_user_clear(store_user *u);

/* ---- API tokens (issue 14; store/apitokens.c) ----
 * A named key's row: its hash (never the key), owner, type and permissions
 * (JSON text). Lists, reads and edits of names go through the model engine
 * (the ApiToken model); these are the writes that must also reach every
 * instance's memory cache, through the revocation log. */
typedef struct store_apikey_new {
    int64_t user_id;
    const char *name, *description, *type, *permissions /* JSON text or NULL */, *prefix;
    store_hash hash;
    int64_t created_ms, ttl; /* ttl: seconds, or -1: never expires */
} store_apikey_new;

/* *id of the new row. STORE_CONFLICT: the user has a token of this name;
 * STORE_NOT_FOUND: no such user. */
store_err store_apikey_insert(store_t *s, const store_apikey_new *k, int64_t *id);
/* The key of hash h, as a token record (scopes 0: the caller sets them), its
 * id, type (e.g. "read-only") and permissions (malloc'd JSON text or NULL). */
store_err store_apikey_find(store_t *s, const store_hash *h, store_token *out, int64_t *id, char type[16],
                            char **permissions);
/* Deletes key id (of user_id, unless 0) and logs its hash as revoked; *old
 * gets the hash. */
store_err store_apikey_delete(store_t *s, int64_t id, int64_t user_id, store_hash *old);
/* Gives key id (of user_id, unless 0) a new hash and prefix, the old one
 * logged as revoked. */
store_err store_apikey_rehash(store_t *s, int64_t id, int64_t user_id, const store_hash *fresh,
                              const char *prefix, store_hash *old);
/* Logs key id's hash as revoked without deleting it: every cache forgets it
 * and reads it again (after its permissions changed). */
store_err store_apikey_changed(store_t *s, int64_t id, store_hash *h);
/* Deletes every key of user_id; logged as a revocation of all the user's tokens. */
store_err store_apikey_delete_user(store_t *s, int64_t user_id);
/* A login token's scopes (LoopBack's AccessToken.scopes, issue 14): its
 * scopes word and its list (JSON text); and reading the list back
 * (malloc'd, or NULL for none). */
store_err store_token_set_scopes(store_t *s, const store_hash *h, uint64_t scopes, const char *list);
store_err store_token_scope_list(store_t *s, const store_hash *h, char **list);

/*
 * Statements run on the database by threads that asked to be counted (the
 * request threads, api/pipeline.c), so a test can see from outside that a
 * refused key cost no database read (server.exposeStoreCounter). Background
 * work (revocation log, last-use batches) is not counted.
 */
void store_count_this_thread(bool on);
uint64_t store_counted_statements(void);

#endif
