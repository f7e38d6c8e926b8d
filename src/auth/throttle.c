/*
 * throttle.c — failed logins counted per account (in the store) and per
 * client address (in memory), judged by one rule.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/throttle.h"
#include "core/isodate.h"

#define WAYS 4              /* addresses per set of the table      */
#define STRIPES 64          /* locks over the sets                  */
#define CAS_TRIES 16        /* a store count raced this often: give up */
#define PURGE_EVERY_MS 60000

typedef struct addr_slot {
    char address[46];       /* "" when free */
    store_failures f;
} addr_slot;

struct throttle {
    cfg_login_throttle cfg;
    store_t *store;
    addr_slot *slots;
    size_t nsets;           /* a power of two */
    unsigned char set_key[crypto_shorthash_KEYBYTES]; /* random: sets cannot be aimed at */
    pthread_mutex_t locks[STRIPES];
    int64_t last_purge_ms;  /* atomic */
};

throttle *thr_new(const cfg_login_throttle *cfg, store_t *store)
{
    throttle *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->cfg = *cfg;
    t->store = store;
    t->nsets = 1;
    while (t->nsets * WAYS < cfg->address_slots)
        t->nsets *= 2;
    if ((t->slots = calloc(t->nsets * WAYS, sizeof *t->slots)) == NULL) {
        free(t);
        return NULL;
    }
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&t->locks[i], NULL);
    randombytes_buf(t->set_key, sizeof t->set_key);
    t->last_purge_ms = iso_now_ms();
    return t;
}

void thr_free(throttle *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&t->locks[i]);
    free(t->slots);
    free(t);
}

/* ---- the rule ---------------------------------------------------------- */

/* Failures older than the forget period no longer count. */
static int64_t live_count(const cfg_login_throttle *cfg, const store_failures *f, int64_t now)
{
    return now - f->last_ms > cfg->forget_after * 1000 ? 0 : f->count;
}

/*
 * When the next attempt may come: at once while fewer than `free` failures
 * are counted, then initialDelay after the last one, doubling with every
 * further failure, up to maxDelay.
 */
static int64_t next_allowed_ms(const cfg_login_throttle *cfg, int free_n, const store_failures *f,
                               int64_t now)
{
    int64_t n = live_count(cfg, f, now);
    if (n < free_n)
        return 0;
    int64_t delay = cfg->initial_delay * 1000, cap = cfg->max_delay * 1000;
    for (int64_t i = free_n; i < n && delay < cap; i++)
        delay *= 2;
    return f->last_ms + (delay < cap ? delay : cap);
}

/* Seconds until next, rounded up, at least 1 (Retry-After). */
static int64_t seconds_until(int64_t next, int64_t now)
{
    int64_t s = (next - now + 999) / 1000;
    return s > 0 ? s : 1;
}

/*
 * One attempt judged against counts f: blocked (*wait set), or the counts
 * it leaves (*after). A blocked attempt changes nothing: an attacker who
 * keeps knocking does not keep the owner out longer.
 */
static bool judge(const cfg_login_throttle *cfg, int free_n, const store_failures *f, int64_t now,
                  store_failures *after, int64_t *wait)
{
    int64_t next = next_allowed_ms(cfg, free_n, f, now);
    if (now < next) {
        *wait = seconds_until(next, now);
        return false;
    }
    *after = (store_failures){live_count(cfg, f, now) + 1, now};
    return true;
}

/* ---- addresses, in memory ---------------------------------------------- */

/*
 * The key of a client address: IPv6 by its /64 (what one subscriber
 * usually gets, so rotating through it does not buy fresh attempts), an
 * IPv4-mapped address as the IPv4 one, anything else as written.
 */
static void address_key(const char *in, char out[46])
{
    struct in6_addr a6;
    snprintf(out, 46, "%s", in);
    if (strchr(in, ':') == NULL || inet_pton(AF_INET6, in, &a6) != 1)
        return;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        inet_ntop(AF_INET, &a6.s6_addr[12], out, 46);
        return;
    }
    memset(&a6.s6_addr[8], 0, 8);
    inet_ntop(AF_INET6, &a6, out, 46);
}

static size_t set_of(const throttle *t, const char *key)
{
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, (const unsigned char *)key, strlen(key), t->set_key);
    return (size_t)h & (t->nsets - 1);
}

/* The slot of key in its set, or the one to give it (free, or the least
 * recently failed); *fresh tells which. Called under the set's lock. */
static addr_slot *slot_for(throttle *t, size_t set, const char *key, bool *fresh)
{
    addr_slot *ways = &t->slots[set * WAYS], *victim = &ways[0];
    for (int i = 0; i < WAYS; i++) {
        if (strcmp(ways[i].address, key) == 0) {
            *fresh = false;
            return &ways[i];
        }
        if (ways[i].address[0] == '\0' || ways[i].f.last_ms < victim->f.last_ms)
            victim = &ways[i];
    }
    *fresh = true;
    return victim;
}

static thr_result address_begin(throttle *t, const char *key, int64_t now, int64_t *wait)
{
    size_t set = set_of(t, key);
    pthread_mutex_t *lock = &t->locks[set % STRIPES];
    pthread_mutex_lock(lock);
    bool fresh;
    addr_slot *s = slot_for(t, set, key, &fresh);
    store_failures none = {0, 0}, after;
    bool ok = judge(&t->cfg, t->cfg.per_address, fresh ? &none : &s->f, now, &after, wait);
    if (ok) {
        snprintf(s->address, sizeof s->address, "%s", key);
        s->f = after;
    }
    pthread_mutex_unlock(lock);
    return ok ? THR_OK : THR_BLOCKED;
}

static void address_take_back(throttle *t, const char *key)
{
    size_t set = set_of(t, key);
    pthread_mutex_t *lock = &t->locks[set % STRIPES];
    pthread_mutex_lock(lock);
    bool fresh;
    addr_slot *s = slot_for(t, set, key, &fresh);
    if (!fresh && s->f.count > 0)
        s->f.count--;
    pthread_mutex_unlock(lock);
}

/* ---- accounts, in the store -------------------------------------------- */

/* Accounts are keyed by a hash of their name: the table never holds the
 * emails or usernames that were tried. */
static void account_key(const char *account, uint8_t out[STORE_FAILURE_KEY_LEN])
{
    crypto_generichash(out, STORE_FAILURE_KEY_LEN, (const unsigned char *)account, strlen(account),
                       (const unsigned char *)"tessera-login-failures", 22);
}

/* Read, judge, compare-and-set: other instances count the same row. */
static thr_result account_begin(throttle *t, const uint8_t *key, int64_t now, int64_t *wait)
{
    for (int i = 0; i < CAS_TRIES; i++) {
        store_failures f, after;
        if (store_failures_get(t->store, key, &f) != STORE_OK)
            return THR_UNAVAILABLE;
        if (!judge(&t->cfg, t->cfg.per_account, &f, now, &after, wait))
            return THR_BLOCKED;
        store_err e = store_failures_cas(t->store, key, &f, &after);
        if (e == STORE_OK)
            return THR_OK;
        if (e != STORE_STALE)
            return THR_UNAVAILABLE;
    }
    *wait = 1; /* a flood on one account: let it wait */
    return THR_BLOCKED;
}

/* At most once a minute across threads: the store forgets old failures. */
static void maybe_purge(throttle *t, int64_t now)
{
    int64_t last = __atomic_load_n(&t->last_purge_ms, __ATOMIC_RELAXED);
    if (now - last < PURGE_EVERY_MS ||
        !__atomic_compare_exchange_n(&t->last_purge_ms, &last, now, false, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return;
    store_failures_purge(t->store, now - t->cfg.forget_after * 1000);
}

/* ---- the API ----------------------------------------------------------- */

void thr_client_address(const throttle *t, const char *peer, const char *xff, char out[46])
{
    snprintf(out, 46, "%s", peer ? peer : "");
    if (t == NULL || !t->cfg.forwarded_for || xff == NULL)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ' || *last == '\t')
        last++;
    size_t n = strcspn(last, " \t");
    char ip[46];
    unsigned char bin[sizeof(struct in6_addr)];
    if (n == 0 || n >= sizeof ip)
        return;
    memcpy(ip, last, n);
    ip[n] = '\0';
    if (inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1)
        memcpy(out, ip, n + 1);
}

thr_result thr_begin(throttle *t, const char *address, const char *account, thr_ticket *tk,
                     int64_t *retry_after)
{
    memset(tk, 0, sizeof *tk);
    *retry_after = 0;
    if (t == NULL)
        return THR_OK;
    int64_t now = iso_now_ms();
    if (t->cfg.per_address > 0) {
        address_key(address ? address : "", tk->address);
        if (address_begin(t, tk->address, now, retry_after) != THR_OK)
            return THR_BLOCKED;
        tk->address_counted = true;
    }
    if (t->cfg.per_account > 0) {
        maybe_purge(t, now);
        account_key(account, tk->account);
        thr_result r = account_begin(t, tk->account, now, retry_after);
        if (r != THR_OK) {
            if (tk->address_counted) /* nothing was tried: not a failure */
                address_take_back(t, tk->address);
            tk->address_counted = false;
            return r;
        }
        tk->account_counted = true;
    }
    return THR_OK;
}

void thr_succeeded(throttle *t, const thr_ticket *tk)
{
    if (t == NULL)
        return;
    if (tk->account_counted)
        store_failures_clear(t->store, tk->account);
    if (tk->address_counted)
        address_take_back(t, tk->address);
}
