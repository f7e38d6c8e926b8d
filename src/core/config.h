/*
 * config.h — tessera's settings: defaults, the JSON config file, the
 * TESSERA_* environment variables and command-line flags, in that order of
 * precedence (flags win).
 */
#ifndef TESSERA_CONFIG_H
#define TESSERA_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a request may carry its access token; each can be switched off. */
typedef struct cfg_sources {
    bool bearer;        /* Authorization: Bearer <t>            */
    bool authorization; /* Authorization: <t> (bare, LoopBack)  */
    bool header;        /* X-Access-Token: <t>                  */
    bool query;         /* ?access_token=<t>                    */
    bool query_token;   /* ?token=<t> (Strapi's form)           */
    bool cookie;        /* Cookie: access_token=<t>             */
    bool client_query;  /* ?client_id=&client_secret= (issue 13): an
                           application's credentials; off, they are
                           still stripped from the query, never read */
} cfg_sources;

/* Failed logins: a few free, then an exponential wait (auth/throttle.c). */
typedef struct cfg_login_throttle {
    int per_account;          /* free failures per account; 0: no limit  */
    int per_address;          /* free failures per client address; 0: no limit */
    int64_t initial_delay;    /* seconds to wait after the free ones      */
    int64_t max_delay;        /* the wait doubles up to this, seconds     */
    int64_t forget_after;     /* seconds without a failure that clear them */
    size_t address_slots;     /* client addresses remembered in memory    */
    bool forwarded_for;       /* the client is the last X-Forwarded-For entry
                                 (only behind a proxy that sets it)       */
} cfg_login_throttle;

typedef struct cfg_auth {
    int64_t ttl;              /* default token lifetime, seconds        */
    int64_t max_ttl;          /* a requested ttl above this is capped    */
    bool allow_eternal;       /* accept ttl = -1                        */
    int token_length;         /* characters of [A-Za-z0-9], >= 32       */
    size_t cache_size;        /* tokens kept in memory; 0: no bound     */
    cfg_sources sources;
    /* accounts (docs/security/accounts.md) */
    cfg_login_throttle login_throttle;
    int64_t max_tokens_per_user; /* live tokens per user; 0: no cap    */
    bool case_sensitive_email;   /* LoopBack's caseSensitiveEmail: emails
                                    kept and matched as sent (default:
                                    lower-cased, matched whatever the case) */
    /* OAuth2 refresh tokens (issue 13, docs/oauth2.md) */
    bool refresh_tokens;         /* the password grant issues them        */
    int64_t refresh_ttl;         /* seconds                               */
} cfg_auth;

typedef struct cfg_password {
    uint64_t opslimit;        /* argon2id passes                        */
    size_t memlimit;          /* argon2id memory, bytes                 */
} cfg_password;

typedef struct cfg_server {
    char *listen;             /* "HOST:PORT"                             */
    int threads;              /* worker threads; 0 = one per core, min 2 */
    size_t max_body;          /* bytes; a larger body is refused with 413 */
    int acl_error_status;     /* 401 (LoopBack's default) or 403         */
    size_t row_cache;         /* rows findById keeps printed; 0: none    */
    /* HTTP defences (docs/security/http.md) */
    int max_conn_per_client;  /* open connections from one address       */
    int header_timeout_ms;    /* a whole header block must arrive within */
    int body_timeout_ms;      /* a whole body must arrive within         */
    size_t max_body_memory;   /* bytes of bodies held, all connections   */
    int slow_queue_per_client;/* queued password requests per address    */
    int slow_queue_max;       /* queued password requests, all addresses */
    json_t *allowed_origins;  /* array of "scheme://host[:port]" (owned), or
                                 NULL: cross-site origins trusted for
                                 cookie-authenticated writes             */
    int query_timeout_ms;     /* time budget of one model query; 0: none */
    /* logging (docs/design.md, "Logs") */
    char *access_log;         /* "stderr", "off", or a file path (owned) */
    /* API tokens (docs/api-tokens.md) */
    bool expose_store_counter;/* /healthz?counters shows the statements
                                 request threads ran (tests, diagnosis)   */
} cfg_server;

/* API tokens (issue 14, docs/api-tokens.md) */
typedef struct cfg_api_tokens {
    bool allow_unlimited;          /* a key may never expire (lifespan null) */
    bool full_access_may_administer; /* a full-access key may manage keys,
                                      roles, ACLs, its user's credentials */
} cfg_api_tokens;

typedef struct config {
    char *database;           /* "sqlite:PATH" or a PostgreSQL URL       */
    cfg_server server;
    cfg_auth auth;
    cfg_password password;
    json_t *models;           /* the "models" object as written (owned), or
                                 NULL; model/schema.c checks its contents  */
    bool acl_default_allow;   /* acl.defaultPermission: when no ACL rule
                                 matches, ALLOW (true) or DENY (false)    */
    cfg_api_tokens api_tokens;
    /* applications and the sandbox (issue 13, docs/applications.md) */
    bool apps_create_authenticated; /* applications.create: "$authenticated"
                                       (true) or "$admin" (false, default) */
    bool sandbox;             /* every declared model open to everyone   */
} config;

/* Fills *c with the built-in defaults. */
void cfg_defaults(config *c);

/*
 * Reads a JSON config file over the current values of *c. Every unknown key
 * and every value of the wrong type or range is an error; on error returns -1
 * and writes "PATH: message" (e.g. "auth.ttl: must be an integer") to err.
 */
int cfg_load_file(config *c, const char *path, char *err, size_t errlen);

/* Same as cfg_load_file, for a JSON text already in memory. */
int cfg_load_string(config *c, const char *json, char *err, size_t errlen);

/* Overlays TESSERA_LISTEN and TESSERA_DATABASE when set. */
void cfg_apply_env(config *c);

/* Replaces a string setting (listen, database), freeing the old value. */
void cfg_set_string(char **slot, const char *value);

/* Frees what the config owns. */
void cfg_free(config *c);

#endif
