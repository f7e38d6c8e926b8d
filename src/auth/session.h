/*
 * session.h — issuing, checking and revoking access tokens.
 *
 * This is the one place that keeps the store and the memory cache in step:
 * a token is written to the store and the cache together, checked against the
 * cache (the store only on a miss), and revoked from both. A background
 * thread reads the store's revocation log, so a token revoked by another
 * process (the CLI, another instance) leaves this cache too, and writes last
 * use in batches.
 */
#ifndef TESSERA_SESSION_H
#define TESSERA_SESSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/clientcache.h"
#include "auth/principal.h"
#include "core/config.h"
#include "store/store.h"

typedef struct sess sess;

typedef enum sess_result {
    SESS_OK = 0,
    SESS_INVALID,      /* malformed, unknown, expired or revoked */
    SESS_UNAVAILABLE,  /* the store could not answer             */
} sess_result;

sess *sess_new(const cfg_auth *cfg, store_t *store);
void sess_free(sess *s);

/*
 * Fills the cache with the live tokens of the store (up to its capacity), so
 * that checks after a start never wait for the disk. Returns a store error.
 */
store_err sess_preload(sess *s);

/* Starts and stops the background sync thread (serve only). */
int sess_start_sync(sess *s, int interval_ms);
void sess_stop_sync(sess *s);

/* True when secret could be a token: a login token's shape, or an API key
 * with a valid checksum (auth/apikey.h). A check refuses anything else
 * without a store call. */
bool sess_token_shaped(const char *secret, size_t len);

/* API tokens (issue 14): the permissions a custom-scoped caller has (an API
 * token's as last read, or a scoped login token's), a new reference or
 * NULL; and forgetting a key this process revoked (the others hear it
 * through the revocation log). */
json_t *sess_permissions(sess *s, const principal *p);
void sess_forget_token(sess *s, const tok_hash *h);

/* Narrows a token just issued (not yet handed out) to a custom list of
 * Model.method entries (LoopBack's AccessToken.scopes); revoked if the
 * store cannot record it. */
store_err sess_narrow(sess *s, tok_record *rec, const json_t *list);

/* Resolves a presented secret to a principal. */
sess_result sess_check(sess *s, const char *secret, size_t len, principal *out);

/*
 * Issues a token for user_id with ttl seconds (already resolved by
 * sess_resolve_ttl), only while *grant holds (store_grant: the credential
 * version a password was checked against, the token that asked; NULL: no
 * condition). Writes the secret (tokenLength + 1 bytes) to secret and the
 * record to *rec. Returns a store error code: STORE_NOT_FOUND when the user
 * is gone, STORE_STALE when the grant no longer holds (also when the token
 * was revoked before this call returned). Beyond auth.maxTokensPerUser live
 * tokens, the user's oldest are revoked, as a logout would.
 */
store_err sess_issue(sess *s, int64_t user_id, int64_t ttl, const store_grant *grant, char *secret,
                     tok_record *rec);

/* sess_issue for a token that carries an application's id (issue 13: the
 * OAuth2 password grant of an authenticated client); 0: none. user_id 0:
 * the application's own token (grant_type=client_credentials), issued only
 * while the application is active (STORE_NOT_FOUND when not), checked as
 * principal {user_id 0, app_id}; grant is not used then. */
store_err sess_issue_app(sess *s, int64_t user_id, int64_t app_id, int64_t ttl, const store_grant *grant,
                         char *secret, tok_record *rec);

store_err sess_revoke(sess *s, const tok_hash *h);
store_err sess_revoke_handle(sess *s, int64_t user_id, const char *handle);
/* All of a user's tokens, except *keep when not NULL. */
store_err sess_revoke_user(sess *s, int64_t user_id, const tok_hash *keep);
/* The cache's part of sess_revoke_user, for tokens the store has already
 * deleted (store_user_update on a credential change). */
void sess_forget_user(sess *s, int64_t user_id, const tok_hash *keep);

/* Issue 13: the cache of verified client credentials (auth/clientcache.h),
 * NULL while revocations cannot be heard (then the store decides); and
 * forgetting every one of them at once (an application was changed by this
 * process: the others hear it through the revocation log). */
ccache *sess_clients(sess *s);
void sess_forget_clients(sess *s);

/* Writes the last use of tokens used since the previous flush to the store. */
void sess_flush_used(sess *s);

/*
 * Before tokens are read as rows (lists, counts, filters): writes pending
 * last use and purges expired tokens, so the rows match what checks see.
 */
void sess_settle(sess *s);

/* Reads the revocation log once and applies it to the cache. */
bool sess_sync_once(sess *s);

/*
 * LoopBack's ttl rules for a requested ttl (NULL/absent, 0 → the default;
 * -1 → eternal when allowed; above maxTTL → capped to maxTTL). Returns 0 and
 * sets *ttl, or -1 with a message in err when the value is not acceptable.
 */
int sess_resolve_ttl(const cfg_auth *cfg, const json_t *requested, int64_t *ttl,
                     char *err, size_t errlen);

/* The token as LoopBack shows it: {"id"?, "ttl", "created", "userId", ...}. */
json_t *sess_token_json(const tok_record *rec, const char *secret /* or NULL */);

#endif
