/*
 * rowcache.c — printed rows by (model, id), in sets of four ways.
 *
 * Staleness is decided by counters, not by searching for entries to drop:
 * each key hashes to one of STRIPES counters, and an entry remembers the
 * counter (and the cache-wide one) as they were when its row was read. A
 * write bumps the counter of its row (or the cache-wide one), which makes
 * every entry read before it stale at once — including a read still in
 * flight, whose ticket predates the bump. Two keys sharing a counter only
 * cost each other an extra miss.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model/rowcache.h"

#define WAYS    4
#define LOCKS   256      /* power of two */
#define STRIPES 65536    /* power of two */
/* Text kept on average per entry: the byte budget is entries × this. */
#define AVG_TEXT 512

typedef struct entry {
    const model_def *m;  /* NULL: empty                                  */
    uint64_t tag;        /* the key's hash: most ways are told apart
                            without reading their blob                  */
    rowcache_ticket t;   /* as taken before the row was read             */
    uint32_t used;       /* the set's clock at the last read             */
    bool has_owner;
    int64_t owner;
    size_t len;          /* of the text                                  */
    char *blob;          /* id, NUL, text, NUL: one allocation           */
} entry;

struct rowcache {
    entry *ways;                 /* nsets * WAYS                          */
    uint32_t *clock;             /* one per set                           */
    size_t nsets;                /* power of two                          */
    pthread_mutex_t locks[LOCKS];
    _Atomic uint64_t all;        /* bumped by a forget of every row       */
    _Atomic uint64_t *stripes;
    _Atomic size_t bytes;        /* text and ids held                     */
    size_t max_bytes;
    unsigned char key[crypto_shorthash_KEYBYTES];
};

rowcache *rowcache_new(size_t entries)
{
    if (entries == 0)
        return NULL;
    size_t nsets = 1;
    while (nsets * WAYS < entries)
        nsets *= 2;
    rowcache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->nsets = nsets;
    c->ways = calloc(nsets * WAYS, sizeof *c->ways);
    c->clock = calloc(nsets, sizeof *c->clock);
    c->stripes = calloc(STRIPES, sizeof *c->stripes);
    if (!c->ways || !c->clock || !c->stripes) {
        rowcache_free(c);
        return NULL;
    }
    for (size_t i = 0; i < LOCKS; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    c->max_bytes = nsets * WAYS * AVG_TEXT;
    randombytes_buf(c->key, sizeof c->key); /* ids come from the network */
    return c;
}

void rowcache_free(rowcache *c)
{
    if (c == NULL)
        return;
    if (c->ways) {
        for (size_t i = 0; i < c->nsets * WAYS; i++)
            free(c->ways[i].blob);
        for (size_t i = 0; i < LOCKS; i++)
            pthread_mutex_destroy(&c->locks[i]);
    }
    free(c->ways);
    free(c->clock);
    free((void *)c->stripes);
    free(c);
}

static uint64_t hash_of(const rowcache *c, const model_def *m, const char *id, size_t idlen)
{
    unsigned char in[sizeof m + ROWCACHE_ID_MAX];
    unsigned char out[crypto_shorthash_BYTES];
    memcpy(in, &m, sizeof m);
    memcpy(in + sizeof m, id, idlen);
    crypto_shorthash(out, in, sizeof m + idlen, c->key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

/* Where a key lives: its set, lock and staleness counter. */
typedef struct place {
    uint64_t tag;
    entry *set;
    uint32_t *clock;
    pthread_mutex_t *lock;
    _Atomic uint64_t *stripe;
} place;

static bool place_of(rowcache *c, const model_def *m, const char *id, place *p)
{
    size_t idlen = strlen(id);
    if (idlen == 0 || idlen > ROWCACHE_ID_MAX)
        return false;
    uint64_t h = hash_of(c, m, id, idlen);
    p->tag = h;
    size_t set = (size_t)h & (c->nsets - 1);
    p->set = &c->ways[set * WAYS];
    p->clock = &c->clock[set];
    p->lock = &c->locks[set & (LOCKS - 1)];
    p->stripe = &c->stripes[(h >> 40) & (STRIPES - 1)];
    return true;
}

static void drop(rowcache *c, entry *e)
{
    if (e->blob)
        atomic_fetch_sub(&c->bytes, e->len + strlen(e->blob) + 2);
    free(e->blob);
    memset(e, 0, sizeof *e);
}

static bool fresh(rowcache *c, const place *p, const entry *e)
{
    return e->t.all == atomic_load(&c->all) && e->t.row == atomic_load(p->stripe);
}

static entry *find_in(const place *p, const model_def *m, const char *id)
{
    for (int i = 0; i < WAYS; i++) {
        const entry *e = &p->set[i];
        if (e->tag == p->tag && e->m == m && strcmp(e->blob, id) == 0)
            return &p->set[i];
    }
    return NULL;
}

bool rowcache_get(rowcache *c, const model_def *m, const char *id, rowcache_hit *out)
{
    place p;
    if (c == NULL || !place_of(c, m, id, &p))
        return false;
    bool hit = false;
    pthread_mutex_lock(p.lock);
    entry *e = find_in(&p, m, id);
    if (e && !fresh(c, &p, e)) {
        drop(c, e);
    } else if (e && (out->text = malloc(e->len + 1)) != NULL) {
        memcpy(out->text, e->blob + strlen(e->blob) + 1, e->len + 1);
        out->len = e->len;
        out->has_owner = e->has_owner;
        out->owner = e->owner;
        e->used = ++*p.clock;
        hit = true;
    }
    pthread_mutex_unlock(p.lock);
    return hit;
}

rowcache_ticket rowcache_ticket_for(rowcache *c, const model_def *m, const char *id)
{
    rowcache_ticket t = {0, 0};
    place p;
    if (c != NULL && place_of(c, m, id, &p)) {
        t.all = atomic_load(&c->all);
        t.row = atomic_load(p.stripe);
    }
    return t;
}

/* The way a new row takes: its own old entry, an empty or stale one, else
 * the least recently read. */
static entry *victim(rowcache *c, const place *p, const model_def *m, const char *id)
{
    entry *e = find_in(p, m, id);
    if (e)
        return e;
    entry *lru = &p->set[0];
    for (int i = 0; i < WAYS; i++) {
        entry *w = &p->set[i];
        if (w->m == NULL || !fresh(c, p, w))
            return w;
        if ((int32_t)(w->used - lru->used) < 0)
            lru = w;
    }
    return lru;
}

void rowcache_put(rowcache *c, const model_def *m, const char *id, rowcache_ticket t,
                  const char *text, size_t len, bool has_owner, int64_t owner)
{
    place p;
    if (c == NULL || !place_of(c, m, id, &p))
        return;
    size_t idlen = strlen(id), need = idlen + len + 2;
    char *blob = malloc(need);
    if (blob == NULL)
        return;
    memcpy(blob, id, idlen + 1);
    memcpy(blob + idlen + 1, text, len);
    blob[need - 1] = '\0';
    pthread_mutex_lock(p.lock);
    entry *e = victim(c, &p, m, id);
    drop(c, e);
    /* Stale already (a write landed since the read), or over budget: the
     * way stays empty rather than hold what may be untrue or too much. */
    bool keep = t.all == atomic_load(&c->all) && t.row == atomic_load(p.stripe) &&
                atomic_load(&c->bytes) + need <= c->max_bytes;
    if (keep) {
        *e = (entry){.m = m, .tag = p.tag, .t = t, .used = ++*p.clock, .has_owner = has_owner,
                     .owner = owner, .len = len, .blob = blob};
        atomic_fetch_add(&c->bytes, need);
    }
    pthread_mutex_unlock(p.lock);
    if (!keep)
        free(blob);
}

/*
 * Bumping the counter is enough: entries check it on every read. It is
 * bumped after the write committed and before the write is answered, so a
 * client never reads back what it has just changed from the cache.
 */
void rowcache_forget(rowcache *c, const model_def *m, const char *id)
{
    place p;
    if (c == NULL)
        return;
    if (id == NULL)
        atomic_fetch_add(&c->all, 1);
    else if (place_of(c, m, id, &p)) /* else too long to have been cached */
        atomic_fetch_add(p.stripe, 1);
}
