/*
 * session.c — access tokens over their whole life: issue, check, revoke, and
 * the background sync that keeps this process's cache true to the store.
 */
#include <errno.h>
#include <sodium.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/apikey.h"
#include "auth/clientcache.h"
#include "auth/scope.h"
#include "auth/session.h"
#include "auth/tokcache.h"
#include "core/isodate.h"

/* Last use is written to the store at most this often. */
#define LAST_USED_FLUSH_MS 30000
/* Expired tokens and old revocation events are purged this often. */
#define PURGE_EVERY_MS 60000
/* Revocation events are kept this long: long enough for every reader. */
#define EVENT_KEEP_MS (10 * 60 * 1000)

/*
 * Hashes the store said no to, direct-mapped. A token secret is 380 random
 * bits: one that was unknown once can never become valid later (nobody will
 * ever be issued it), so a hit here is a final answer, and a client retrying
 * with its revoked or expired token costs no read of the database. Entries
 * are written and read a word at a time without a lock; a torn entry only
 * fails to match.
 */
#define REJECTED_SLOTS 65536 /* power of two: 2 MiB */

/* The most client credentials (issue 13) remembered: a live application has
 * one secret, two during a rotation's grace; about 1 MiB when full. */
#define CLIENT_CACHE_CAP 16384

typedef struct rejected_slot {
    uint64_t w[TOK_HASH_LEN / 8];
} rejected_slot;

struct sess {
    cfg_auth cfg;
    store_t *store;
    tcache *cache;
    ccache *clients;           /* verified client credentials */
    rejected_slot *rejected;
    int64_t event_seq;         /* last revocation event applied */
    bool deaf;                 /* revocations cannot be heard: check the
                                  store too (atomic)                    */
    pthread_mutex_t sync_lock; /* one sync at a time            */

    pthread_t thread;
    bool running;
    int interval_ms;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;

    /* API tokens (issue 14): custom permissions by key id, as last read
       from the store with the key (a cache miss refreshes them) */
    pthread_mutex_t perms_lock;
    json_t *perms;
};

sess *sess_new(const cfg_auth *cfg, store_t *store)
{
    sess *s = calloc(1, sizeof *s);
    if (s == NULL || (s->cache = tcache_new(cfg->cache_size)) == NULL ||
        (s->clients = ccache_new(CLIENT_CACHE_CAP)) == NULL ||
        (s->rejected = calloc(REJECTED_SLOTS, sizeof *s->rejected)) == NULL) {
        if (s) {
            tcache_free(s->cache);
            ccache_free(s->clients);
        }
        free(s);
        return NULL;
    }
    s->cfg = *cfg;
    s->store = store;
    pthread_mutex_init(&s->sync_lock, NULL);
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_cond_init(&s->stop_cond, NULL);
    pthread_mutex_init(&s->perms_lock, NULL);
    s->perms = json_object();
    /* Events written before this process started concern tokens it has never
     * cached: start reading after them (the log keeps only minutes of them). */
    int64_t last = 0;
    if (store_events_since(store, 0, NULL, NULL, &last) == STORE_OK)
        s->event_seq = last;
    return s;
}

void sess_free(sess *s)
{
    if (s == NULL)
        return;
    sess_stop_sync(s);
    tcache_free(s->cache);
    ccache_free(s->clients);
    free(s->rejected);
    pthread_mutex_destroy(&s->sync_lock);
    pthread_mutex_destroy(&s->stop_lock);
    pthread_cond_destroy(&s->stop_cond);
    pthread_mutex_destroy(&s->perms_lock);
    json_decref(s->perms);
    free(s);
}

/* ---- start ------------------------------------------------------------- */

static void preload_one(const tok_record *t, void *ctx)
{
    tcache_put(((sess *)ctx)->cache, t);
}

store_err sess_preload(sess *s)
{
    return store_token_scan_live(s->store, iso_now_ms(), preload_one, s);
}

/* ---- check ------------------------------------------------------------- */

static void principal_from(const tok_record *t, principal *out)
{
    memset(out, 0, sizeof *out);
    out->user_id = t->user_id;
    out->app_id = t->app_id;
    memcpy(out->token_handle, t->handle, sizeof out->token_handle);
    out->token_hash = t->hash;
    out->token_created_ms = t->created_ms;
    out->token_ttl = t->ttl;
    out->scopes = t->scopes;
}

static rejected_slot *rejected_slot_of(sess *s, const tok_hash *h)
{
    uint64_t k;
    memcpy(&k, h->b + 8, sizeof k); /* not the bytes the cache shards on */
    return &s->rejected[k & (REJECTED_SLOTS - 1)];
}

static bool was_rejected(sess *s, const tok_hash *h)
{
    rejected_slot *r = rejected_slot_of(s, h);
    for (size_t i = 0; i < TOK_HASH_LEN / 8; i++) {
        uint64_t want, have = __atomic_load_n(&r->w[i], __ATOMIC_RELAXED);
        memcpy(&want, h->b + 8 * i, sizeof want);
        if (have != want)
            return false;
    }
    return true;
}

static void remember_rejected(sess *s, const tok_hash *h)
{
    rejected_slot *r = rejected_slot_of(s, h);
    for (size_t i = 0; i < TOK_HASH_LEN / 8; i++) {
        uint64_t w;
        memcpy(&w, h->b + 8 * i, sizeof w);
        __atomic_store_n(&r->w[i], w, __ATOMIC_RELAXED);
    }
}

/* ---- API tokens (issue 14) ------------------------------------------- */

static void perms_key(int64_t id, char out[24])
{
    snprintf(out, 24, "%lld", (long long)id);
}

/* Remembers a key's custom permissions as the store has them now. */
static void perms_put(sess *s, int64_t id, const char *text)
{
    char k[24];
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    perms_key(id, k);
    pthread_mutex_lock(&s->perms_lock);
    if (v)
        json_object_set_new(s->perms, k, v);
    else
        json_object_del(s->perms, k);
    pthread_mutex_unlock(&s->perms_lock);
}

static json_t *perms_get(sess *s, const char *k)
{
    pthread_mutex_lock(&s->perms_lock);
    json_t *v = json_incref(json_object_get(s->perms, k));
    pthread_mutex_unlock(&s->perms_lock);
    return v;
}

/* A login token's list is kept under "h" + its hash in hex. */
static void hash_key(const tok_hash *h, char out[2 * TOK_HASH_LEN + 2])
{
    out[0] = 'h';
    sodium_bin2hex(out + 1, 2 * TOK_HASH_LEN + 1, h->b, TOK_HASH_LEN);
}

/*
 * An API token's list was read with the key itself (find_key). A scoped
 * login token's is read once per process, on first use (a token preloaded
 * or issued elsewhere): none found means none allowed, never all.
 */
json_t *sess_permissions(sess *s, const principal *p)
{
    char k[2 * TOK_HASH_LEN + 2];
    int64_t id = scope_key_id(p->scopes);
    if (id != 0) {
        perms_key(id, k);
        return perms_get(s, k);
    }
    hash_key(&p->token_hash, k);
    json_t *v = perms_get(s, k);
    char *text = NULL;
    if (v == NULL && store_token_scope_list(s->store, &p->token_hash, &text) == STORE_OK && text) {
        v = json_loads(text, 0, NULL);
        pthread_mutex_lock(&s->perms_lock);
        if (v)
            json_object_set(s->perms, k, v);
        pthread_mutex_unlock(&s->perms_lock);
    }
    free(text);
    return v;
}

store_err sess_narrow(sess *s, tok_record *rec, const json_t *list)
{
    char k[2 * TOK_HASH_LEN + 2];
    char *text = json_dumps(list, JSON_COMPACT);
    if (text == NULL)
        return STORE_ERROR;
    rec->scopes = scope_encode(SCOPE_CUSTOM, 0);
    hash_key(&rec->hash, k);
    pthread_mutex_lock(&s->perms_lock);
    json_object_set_new(s->perms, k, json_deep_copy(list));
    pthread_mutex_unlock(&s->perms_lock);
    /* out of the cache until the store has the scopes: a failed put below
     * leaves a miss, which reads them, never the unrestricted entry */
    tcache_remove(s->cache, &rec->hash);
    store_err e = store_token_set_scopes(s->store, &rec->hash, rec->scopes, text);
    free(text);
    if (e != STORE_OK)
        sess_revoke(s, &rec->hash);
    else
        tcache_put(s->cache, rec);
    return e;
}

/* A key's record: its scope (type and id, auth/scope.h) in scopes. */
static store_err find_key(sess *s, const tok_hash *h, tok_record *t)
{
    int64_t id = 0;
    char type[16] = "", *perms = NULL;
    store_err e = store_apikey_find(s->store, h, t, &id, type, &perms);
    if (e == STORE_OK) {
        int st = scope_type_parse(type);
        t->scopes = scope_encode(st < 0 ? SCOPE_READ_ONLY : (scope_type)st, id);
        snprintf(t->handle, sizeof t->handle, "apikey:%lld", (long long)id);
        perms_put(s, id, perms);
    }
    free(perms);
    return e;
}

/* The token of hash h from the store: an API key's row, or an access token's. */
static store_err find_token(sess *s, bool key, const tok_hash *h, tok_record *t)
{
    return key ? find_key(s, h, t) : store_token_find(s->store, h, t);
}

void sess_forget_token(sess *s, const tok_hash *h)
{
    tcache_remove(s->cache, h);
}

/*
 * A cache miss: read the token from the store and cache it. Should the sync
 * thread apply revocations between the read and the insert, one of them may
 * be this very token, so then the store is asked again.
 */
static sess_result fill_from_store(sess *s, bool key, const tok_hash *h, int64_t now, tok_record *t)
{
    int64_t seq = __atomic_load_n(&s->event_seq, __ATOMIC_ACQUIRE);
    store_err e = find_token(s, key, h, t);
    if (e == STORE_NOT_FOUND)
        return SESS_INVALID;
    if (e != STORE_OK)
        return SESS_UNAVAILABLE;
    tcache_put(s->cache, t);          /* with the store's last use ...        */
    tcache_get(s->cache, h, now, t);  /* ... then this one, to be flushed later */
    if (__atomic_load_n(&s->event_seq, __ATOMIC_ACQUIRE) != seq) {
        tok_record again;
        if (find_token(s, key, h, &again) == STORE_NOT_FOUND) {
            tcache_remove(s->cache, h);
            return SESS_INVALID;
        }
    }
    return SESS_OK;
}

/*
 * While revocations from other processes cannot be heard, a cached token may
 * have been revoked elsewhere: the store decides. Should the store be down
 * too, nobody can revoke anything, and the cache is as true as it gets.
 */
static sess_result recheck(sess *s, bool key, const tok_hash *h, tok_record *t)
{
    tok_record fresh;
    store_err e = find_token(s, key, h, &fresh);
    if (e == STORE_NOT_FOUND) {
        tcache_remove(s->cache, h);
        return SESS_INVALID;
    }
    if (e == STORE_OK) {
        fresh.last_used_ms = t->last_used_ms;
        *t = fresh;
    }
    return SESS_OK;
}

/*
 * A login token, or an API key whose checksum holds: anything else is
 * refused before a hash is computed or the store asked (auth/apikey.h).
 */
bool sess_token_shaped(const char *secret, size_t len)
{
    switch (apikey_classify(secret, len)) {
    case APIKEY_NOT_A_KEY:   return tok_well_formed(secret, len);
    case APIKEY_WELL_FORMED: return true;
    default:                 return false;
    }
}

/*
 * The cache answers almost every check. A miss (a token issued by another
 * process, or before a restart) reads the store once and fills the cache. An
 * expired token is removed from both on the first check that sees it.
 */
sess_result sess_check(sess *s, const char *secret, size_t len, principal *out)
{
    if (!sess_token_shaped(secret, len))
        return SESS_INVALID;
    bool key = apikey_classify(secret, len) == APIKEY_WELL_FORMED;
    tok_hash h;
    tok_hash_of(secret, len, &h);
    int64_t now = iso_now_ms();
    tok_record t;
    sess_result r = SESS_OK;
    if (!tcache_get(s->cache, &h, now, &t))
        r = was_rejected(s, &h) ? SESS_INVALID : fill_from_store(s, key, &h, now, &t);
    else if (__atomic_load_n(&s->deaf, __ATOMIC_ACQUIRE))
        r = recheck(s, key, &h, &t);
    if (r == SESS_OK && tok_expires_ms(t.created_ms, t.ttl) <= now) {
        sess_revoke(s, &h);
        r = SESS_INVALID;
    }
    if (r == SESS_INVALID)
        remember_rejected(s, &h);
    if (r != SESS_OK)
        return r;
    principal_from(&t, out);
    return SESS_OK;
}

/* ---- issue and revoke -------------------------------------------------- */

/* The most tokens the cap revokes per issue (more go on later issues). */
#define CAP_BATCH 64

typedef struct over_cap {
    sess *s;
    const tok_hash *fresh; /* the token just issued: never its own victim */
} over_cap;

static void revoke_over_cap(const tok_record *t, void *ctx)
{
    over_cap *oc = ctx;
    if (memcmp(t->hash.b, oc->fresh->b, TOK_HASH_LEN) != 0)
        sess_revoke(oc->s, &t->hash);
}

/* Beyond maxTokensPerUser, the oldest of the user's live tokens go, each
 * through sess_revoke: the cache, the store and the revocation log. An
 * application's own tokens (no user) are capped the same way, per
 * application: a client asking for a token on every call cannot pile up
 * rows and cache entries without bound. */
static void enforce_cap(sess *s, const tok_record *fresh)
{
    over_cap oc = {s, &fresh->hash};
    if (s->cfg.max_tokens_per_user > 0)
        store_token_beyond(s->store, fresh->user_id, fresh->app_id, fresh->created_ms, s->cfg.max_tokens_per_user,
                                    CAP_BATCH, revoke_over_cap, &oc);
}

/*
 * The store first (where the grant is checked in the same statement as the
 * insert), then the cache, then the store once more: a revocation that
 * deleted the row before the cache had it would otherwise leave it cached
 * for good. Once the row is seen after the put, any later revocation
 * removes it from the cache too (directly, or through the log).
 */
store_err sess_issue(sess *s, int64_t user_id, int64_t ttl, const store_grant *grant, char *secret,
                     tok_record *rec)
{
    return sess_issue_app(s, user_id, 0, ttl, grant, secret, rec);
}

store_err sess_issue_app(sess *s, int64_t user_id, int64_t app_id, int64_t ttl, const store_grant *grant,
                         char *secret, tok_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->app_id = app_id;
    tok_generate(secret, (size_t)s->cfg.token_length);
    tok_hash_of(secret, (size_t)s->cfg.token_length, &rec->hash);
    tok_new_handle(rec->handle);
    rec->user_id = user_id;
    rec->created_ms = iso_now_ms();
    rec->ttl = ttl;
    store_err e = store_token_insert(s->store, rec, tok_expires_ms(rec->created_ms, rec->ttl), grant);
    if (e != STORE_OK)
        return e;
    tcache_put(s->cache, rec);
    tok_record again;
    e = store_token_find(s->store, &rec->hash, &again);
    if (e != STORE_OK) {
        tcache_remove(s->cache, &rec->hash);
        return e == STORE_NOT_FOUND ? STORE_STALE : e;
    }
    enforce_cap(s, rec);
    return STORE_OK;
}

store_err sess_revoke(sess *s, const tok_hash *h)
{
    tcache_remove(s->cache, h);
    return store_token_delete(s->store, h);
}

store_err sess_revoke_handle(sess *s, int64_t user_id, const char *handle)
{
    tok_hash h;
    store_err e = store_token_delete_handle(s->store, user_id, handle, &h);
    if (e == STORE_OK)
        tcache_remove(s->cache, &h);
    return e;
}

store_err sess_revoke_user(sess *s, int64_t user_id, const tok_hash *keep)
{
    tcache_remove_user(s->cache, user_id, keep);
    return store_token_delete_user(s->store, user_id, keep, NULL);
}

void sess_forget_user(sess *s, int64_t user_id, const tok_hash *keep)
{
    tcache_remove_user(s->cache, user_id, keep);
}

/* ---- sync with the store ----------------------------------------------- */

static void apply_event(const store_event *ev, void *ctx)
{
    sess *s = ctx;
    if (ev->kind == STORE_EV_TOKEN)
        tcache_remove(s->cache, &ev->hash);
    else if (ev->kind == STORE_EV_USER)
        tcache_remove_user(s->cache, ev->user_id, ev->has_keep ? &ev->hash : NULL);
    else if (ev->kind == STORE_EV_APP)
        ccache_invalidate(s->clients);
}

/* ---- client credentials (issue 13) -------------------------------------- */

/*
 * While revocations cannot be heard, a remembered credential may have been
 * rotated or disabled elsewhere: then there is no cache to trust, and every
 * client check reads the store, as every token check does.
 */
ccache *sess_clients(sess *s)
{
    return __atomic_load_n(&s->deaf, __ATOMIC_ACQUIRE) ? NULL : s->clients;
}

void sess_forget_clients(sess *s)
{
    ccache_invalidate(s->clients);
}

bool sess_sync_once(sess *s)
{
    pthread_mutex_lock(&s->sync_lock);
    int64_t last = s->event_seq;
    bool ok = store_events_since(s->store, s->event_seq, apply_event, s, &last) == STORE_OK;
    if (ok)
        __atomic_store_n(&s->event_seq, last, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->sync_lock);
    return ok;
}

typedef struct used_batch {
    tok_record *v;
    size_t n, cap;
} used_batch;

static void collect_used(const tok_record *r, void *ctx)
{
    used_batch *b = ctx;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        tok_record *v = realloc(b->v, cap * sizeof *v);
        if (v == NULL)
            return;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *r;
}

/* Writes last use of the tokens used since the previous flush. The records
 * are copied out first, so no shard lock is held while the store writes. */
void sess_flush_used(sess *s)
{
    used_batch b = {0};
    tcache_drain_used(s->cache, collect_used, &b);
    if (b.n)
        store_token_touch(s->store, b.v, b.n);
    free(b.v);
}

void sess_settle(sess *s)
{
    int64_t now = iso_now_ms();
    sess_flush_used(s);
    tcache_evict_expired(s->cache, now);
    store_token_purge_expired(s->store, now, NULL);
}

static void purge(sess *s)
{
    int64_t now = iso_now_ms();
    tcache_evict_expired(s->cache, now);
    store_token_purge_expired(s->store, now, NULL);
    store_events_trim(s->store, now - EVENT_KEEP_MS);
}

/* Sleeps up to ms, waking early when asked to stop. False when stopping. */
static bool nap(sess *s, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->stop_lock);
    while (s->running) {
        if (pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &until) == ETIMEDOUT)
            break;
    }
    bool running = s->running;
    pthread_mutex_unlock(&s->stop_lock);
    return running;
}

static bool still_running(sess *s)
{
    pthread_mutex_lock(&s->stop_lock);
    bool running = s->running;
    pthread_mutex_unlock(&s->stop_lock);
    return running;
}

/*
 * Waits for the next chance that revocations were logged elsewhere: a push
 * from the store when it can (PostgreSQL's NOTIFY), else the poll interval.
 * *listening tells whether pushes could be heard during the wait. Returns
 * false when the sync thread is to stop.
 */
static bool wait_for_events(sess *s, bool *listening)
{
    *listening = true;
    if (!store_can_wait(s->store))
        return nap(s, s->interval_ms);
    if (store_events_wait(s->store, s->interval_ms) == STORE_UNAVAILABLE) {
        *listening = false;
        __atomic_store_n(&s->deaf, true, __ATOMIC_RELEASE);
        if (!nap(s, s->interval_ms))
            return false;
    }
    return still_running(s);
}

static void *sync_main(void *arg)
{
    sess *s = arg;
    int64_t last_flush = iso_now_ms(), last_purge = 0;
    bool listening;
    while (wait_for_events(s, &listening)) {
        /* Listening again, then caught up with the log: whatever was missed
         * while deaf is applied, and what comes next will be heard. */
        if (sess_sync_once(s) && listening && __atomic_load_n(&s->deaf, __ATOMIC_ACQUIRE)) {
            /* the log may have been trimmed past what was missed: client
             * credentials verified before or during the deafness go too */
            ccache_invalidate(s->clients);
            __atomic_store_n(&s->deaf, false, __ATOMIC_RELEASE);
        }
        int64_t now = iso_now_ms();
        if (now - last_flush >= LAST_USED_FLUSH_MS) {
            sess_flush_used(s);
            last_flush = now;
        }
        if (now - last_purge >= PURGE_EVERY_MS) {
            purge(s);
            last_purge = now;
        }
    }
    sess_flush_used(s);
    return NULL;
}

int sess_start_sync(sess *s, int interval_ms)
{
    s->interval_ms = interval_ms > 0 ? interval_ms : 250;
    s->running = true;
    if (pthread_create(&s->thread, NULL, sync_main, s) != 0) {
        s->running = false;
        return -1;
    }
    return 0;
}

void sess_stop_sync(sess *s)
{
    pthread_mutex_lock(&s->stop_lock);
    bool was = s->running;
    s->running = false;
    pthread_cond_broadcast(&s->stop_cond);
    pthread_mutex_unlock(&s->stop_lock);
    if (was)
        pthread_join(s->thread, NULL);
}

/* ---- LoopBack's rules and shapes --------------------------------------- */

int sess_resolve_ttl(const cfg_auth *cfg, const json_t *requested, int64_t *ttl, char *err, size_t errlen)
{
    long long v = 0;
    if (requested == NULL || json_is_null(requested)) {
        v = 0;
    } else if (json_is_integer(requested)) {
        v = json_integer_value(requested);
    } else if (json_is_real(requested) && fabs(json_real_value(requested)) < 9e15 &&
               json_real_value(requested) == (double)(long long)json_real_value(requested)) {
        v = (long long)json_real_value(requested);
    } else if (json_is_string(requested)) {
        const char *str = json_string_value(requested);
        char *end;
        errno = 0;
        v = strtoll(str, &end, 10);
        if (*str == '\0' || *end != '\0' || errno) {
            snprintf(err, errlen, "ttl must be an integer number of seconds");
            return -1;
        }
    } else {
        snprintf(err, errlen, "ttl must be an integer number of seconds");
        return -1;
    }
    if (v == 0) {
        *ttl = cfg->ttl > cfg->max_ttl ? cfg->max_ttl : cfg->ttl; /* LoopBack caps both */
    } else if (v == TOK_ETERNAL) {
        if (!cfg->allow_eternal) {
            snprintf(err, errlen, "eternal tokens (ttl -1) are not allowed");
            return -1;
        }
        *ttl = TOK_ETERNAL;
    } else if (v < 0) {
        snprintf(err, errlen, "ttl must be a positive number of seconds, or -1 for an eternal token");
        return -1;
    } else {
        *ttl = v > cfg->max_ttl ? cfg->max_ttl : v;
    }
    return 0;
}

json_t *sess_token_json(const tok_record *rec, const char *secret)
{
    char created[ISODATE_LEN];
    iso_format(rec->created_ms, created);
    json_t *o = json_object();
    if (secret)
        json_object_set_new(o, "id", json_string(secret));
    json_object_set_new(o, "ttl", json_integer(rec->ttl));
    json_object_set_new(o, "created", json_string(created));
    json_object_set_new(o, "userId", rec->user_id ? json_integer(rec->user_id) : json_null());
    json_object_set_new(o, "handle", json_string(rec->handle));
    if (secret == NULL) {
        if (rec->last_used_ms > 0) {
            char used[ISODATE_LEN];
            iso_format(rec->last_used_ms, used);
            json_object_set_new(o, "lastUsed", json_string(used));
        } else {
            json_object_set_new(o, "lastUsed", json_null());
        }
    }
    return o;
}
