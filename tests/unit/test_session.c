/*
 * test_session.c — auth/session.c against a fake store: the cache in front
 * of the store on checks, revocation, the revocation log written by another
 * process, distrust of the cache while revocations cannot be heard, expiry.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/session.h"
#include "core/isodate.h"
#include "store/driver.h"
#include "store/queries.h"
#include "unit.h"

/* ---- the fake store ----------------------------------------------------- */

#define FAKE_TOKENS 32
#define FAKE_EVENTS 64

typedef struct fake_tokens {
    store_t base;
    pthread_mutex_t lock;            /* the sync thread reads it too */
    tok_record tok[FAKE_TOKENS];
    bool used[FAKE_TOKENS];
    store_event ev[FAKE_EVENTS];
    int nev;
    int finds;                       /* token_find calls */
    store_err find_fails;            /* STORE_OK, or what token_find answers */
    store_err wait_answer;           /* what events_wait answers */
} fake_tokens;

static int slot_of(fake_tokens *f, const tok_hash *h)
{
    for (int i = 0; i < FAKE_TOKENS; i++)
        if (f->used[i] && memcmp(f->tok[i].hash.b, h->b, TOK_HASH_LEN) == 0)
            return i;
    return -1;
}

static void log_event(fake_tokens *f, store_ev_kind kind, const tok_hash *h, int64_t user_id)
{
    if (f->nev == FAKE_EVENTS)
        return;
    store_event *e = &f->ev[f->nev];
    memset(e, 0, sizeof *e);
    e->seq = ++f->nev;
    e->kind = kind;
    if (h)
        e->hash = *h;
    e->user_id = user_id;
}

/* A token written straight into the fake, as another process would. */
static store_err put_token(fake_tokens *f, const tok_record *t)
{
    pthread_mutex_lock(&f->lock);
    store_err e = STORE_ERROR;
    for (int i = 0; i < FAKE_TOKENS; i++)
        if (!f->used[i]) {
            f->tok[i] = *t;
            f->used[i] = true;
            e = STORE_OK;
            break;
        }
    pthread_mutex_unlock(&f->lock);
    return e;
}

/* Deletes a token, logging the revocation (log: as every store does). */
static store_err remove_token(fake_tokens *f, const tok_hash *h, bool log)
{
    pthread_mutex_lock(&f->lock);
    int i = slot_of(f, h);
    if (i >= 0) {
        f->used[i] = false;
        if (log)
            log_event(f, STORE_EV_TOKEN, h, 0);
    }
    pthread_mutex_unlock(&f->lock);
    return i < 0 ? STORE_NOT_FOUND : STORE_OK;
}

/* Deletes a user's tokens but keep; how many went. Caller holds the lock. */
static int64_t drop_user_tokens(fake_tokens *f, int64_t user_id, const tok_hash *keep)
{
    int64_t n = 0;
    for (int i = 0; i < FAKE_TOKENS; i++)
        if (f->used[i] && f->tok[i].user_id == user_id &&
            !(keep && memcmp(f->tok[i].hash.b, keep->b, TOK_HASH_LEN) == 0)) {
            f->used[i] = false;
            n++;
        }
    return n;
}

/* "Log out everywhere" by another process: deleted and logged. */
static void remove_user_tokens(fake_tokens *f, int64_t user_id, const tok_hash *keep)
{
    pthread_mutex_lock(&f->lock);
    drop_user_tokens(f, user_id, keep);
    log_event(f, STORE_EV_USER, keep, user_id);
    pthread_mutex_unlock(&f->lock);
}

/*
 * The fake is a database behind the store's one implementation: a driver
 * (store/driver.h) that runs the token and revocation-log statements of
 * store/queries.h on the arrays above. A cursor's rows are copied out
 * (rows: tokens or events), so callbacks run without the lock.
 */
typedef struct fake_rows {
    int id;
    int n;
    tok_record tok[FAKE_TOKENS];
    store_event ev[FAKE_EVENTS];
} fake_rows;

static dconn *fake_conn(store_t *s) { return (dconn *)s; }

static void read_hash(const dval *v, tok_hash *h)
{
    memset(h, 0, sizeof *h);
    if (!v->null && v->len == TOK_HASH_LEN)
        memcpy(h->b, v->p, TOK_HASH_LEN);
}

static store_err fake_write(fake_tokens *f, int id, const dval *v, int64_t *changes)
{
    tok_hash h;
    *changes = 0;
    switch (id) {
    case Q_TOKEN_INSERT:
    case Q_TOKEN_INSERT_GUARDED:
        for (int i = 0; i < FAKE_TOKENS; i++)
            if (!f->used[i]) {
                tok_record *t = &f->tok[i];
                memset(t, 0, sizeof *t);
                read_hash(&v[0], &t->hash);
                snprintf(t->handle, sizeof t->handle, "%s", (const char *)v[1].p);
                t->user_id = v[2].i;
                t->app_id = v[3].null ? 0 : v[3].i;
                t->created_ms = v[4].i;
                t->ttl = v[5].i;
                t->last_used_ms = v[6].null ? 0 : v[6].i;
                t->scopes = (uint64_t)v[7].i;
                f->used[i] = true;
                *changes = 1;
                return STORE_OK;
            }
        return STORE_ERROR;
    case Q_TOKEN_DELETE: {
        read_hash(&v[0], &h);
        int i = slot_of(f, &h);
        if (i >= 0)
            f->used[i] = false;
        *changes = i >= 0;
        return STORE_OK;
    }
    case Q_TOKEN_DELETE_USER:
    case Q_TOKEN_DELETE_USER_KEEP:
        read_hash(&v[1], &h);
        *changes = drop_user_tokens(f, v[0].i, id == Q_TOKEN_DELETE_USER_KEEP ? &h : NULL);
        return STORE_OK;
    case Q_EVENT_INSERT:
        read_hash(&v[1], &h);
        log_event(f, (store_ev_kind)v[0].i, v[1].null ? NULL : &h, v[2].null ? 0 : v[2].i);
        return STORE_OK;
    case Q_TOKEN_TOUCH:
    case Q_TOKEN_PURGE:
    case Q_EVENTS_TRIM:
        return STORE_OK;
    default:
        return STORE_ERROR;
    }
}

/* The rows of a read: one token by hash, or the events after a seq. */
static store_err fake_read(fake_tokens *f, int id, const dval *v, fake_rows *rows)
{
    tok_hash h;
    rows->id = id;
    if (id == Q_TOKEN_FIND) {
        f->finds++;
        if (f->find_fails != STORE_OK)
            return f->find_fails;
        read_hash(&v[0], &h);
        int i = slot_of(f, &h);
        if (i >= 0)
            rows->tok[rows->n++] = f->tok[i];
        return STORE_OK;
    }
    if (id == Q_EVENTS_SINCE) {
        for (int i = 0; i < f->nev; i++)
            if (f->ev[i].seq > v[0].i)
                rows->ev[rows->n++] = f->ev[i];
        return STORE_OK;
    }
    return STORE_ERROR;
}

static store_err fake_run(dconn *c, const dstmt *st, const dval *v, int n, dcur *cur, int64_t *changes)
{
    fake_tokens *f = (fake_tokens *)c;
    int64_t ignored;
    pthread_mutex_lock(&f->lock);
    store_err e;
    if (cur == NULL) {
        e = fake_write(f, st->id, v, changes ? changes : &ignored);
    } else {
        fake_rows *rows = calloc(1, sizeof *rows);
        e = rows ? fake_read(f, st->id, v, rows) : STORE_ERROR;
        if (e == STORE_OK)
            *cur = (dcur){.c = c, .res = rows, .row = -1, .nrows = rows->n};
        else
            free(rows);
    }
    pthread_mutex_unlock(&f->lock);
    return e;
}

static bool fake_next(dcur *cur) { return ++cur->row < cur->nrows; }

static store_err fake_end(dcur *cur)
{
    free(cur->res);
    return STORE_OK;
}

static int64_t fake_col_int(dcur *cur, int col)
{
    const fake_rows *r = cur->res;
    if (r->id == Q_EVENTS_SINCE) {
        const store_event *e = &r->ev[cur->row];
        return col == 0 ? e->seq : col == 1 ? e->kind : e->user_id;
    }
    const tok_record *t = &r->tok[cur->row];
    const int64_t cols[] = {0, 0, t->user_id, t->app_id, t->created_ms, t->ttl, t->last_used_ms,
                            (int64_t)t->scopes};
    return cols[col];
}

static const char *fake_col_text(dcur *cur, int col, size_t *len)
{
    const fake_rows *r = cur->res;
    const char *t = r->id == Q_TOKEN_FIND && col == 1 ? r->tok[cur->row].handle : NULL;
    if (len)
        *len = t ? strlen(t) : 0;
    return t;
}

/* Column 0 of a token, column 2 of an event (when it names one). */
static bool fake_col_blob(dcur *cur, int col, void *dst, size_t len)
{
    const fake_rows *r = cur->res;
    const tok_hash *h = NULL;
    static const tok_hash none;
    if (r->id == Q_TOKEN_FIND && col == 0)
        h = &r->tok[cur->row].hash;
    else if (r->id == Q_EVENTS_SINCE && col == 2 && memcmp(&r->ev[cur->row].hash, &none, sizeof none) != 0)
        h = &r->ev[cur->row].hash;
    if (h == NULL || len != TOK_HASH_LEN)
        return false;
    memcpy(dst, h->b, len);
    return true;
}

static store_err fake_begin(dconn *c) { return STORE_OK; }

static store_err fake_finish(dconn *c, store_err e) { return e; }

static store_err fake_events_wait(store_t *s, int timeout_ms)
{
    fake_tokens *f = (fake_tokens *)s;
    pthread_mutex_lock(&f->lock);
    store_err e = f->wait_answer;
    pthread_mutex_unlock(&f->lock);
    if (e == STORE_OK) { /* nothing pushed: the whole wait */
        struct timespec ts = {0, (long)timeout_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    return e;
}

static const store_driver fake_polling_ops = {
    .name = "fake-tokens",
    .dialect = SQL_SQLITE,
    .conn = fake_conn,
    .run = fake_run,
    .next = fake_next,
    .end = fake_end,
    .col_int = fake_col_int,
    .col_text = fake_col_text,
    .col_blob = fake_col_blob,
    .begin = fake_begin,
    .finish = fake_finish,
};

/* The same, able to push (events_wait), as PostgreSQL's LISTEN is. */
static const store_driver fake_pushing_ops = {
    .name = "fake-tokens-push",
    .dialect = SQL_SQLITE,
    .conn = fake_conn,
    .run = fake_run,
    .next = fake_next,
    .end = fake_end,
    .col_int = fake_col_int,
    .col_text = fake_col_text,
    .col_blob = fake_col_blob,
    .begin = fake_begin,
    .finish = fake_finish,
    .events_wait = fake_events_wait,
};

static void fake_init(fake_tokens *f, const store_driver *drv)
{
    memset(f, 0, sizeof *f);
    f->base.drv = drv;
    pthread_mutex_init(&f->lock, NULL);
}

static int finds_of(fake_tokens *f)
{
    pthread_mutex_lock(&f->lock);
    int n = f->finds;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static void set_answers(fake_tokens *f, store_err find_fails, store_err wait_answer)
{
    pthread_mutex_lock(&f->lock);
    f->find_fails = find_fails;
    f->wait_answer = wait_answer;
    pthread_mutex_unlock(&f->lock);
}

/* ---- helpers ------------------------------------------------------------ */

#define SECRET_LEN 64

static cfg_auth auth_cfg(void)
{
    cfg_auth c;
    memset(&c, 0, sizeof c);
    c.ttl = 3600;
    c.max_ttl = 3600;
    c.token_length = SECRET_LEN;
    c.cache_size = 1000;
    c.max_tokens_per_user = 0;
    return c;
}

/* A token of user_id written to the store by "another process": the
 * session has never seen it. */
static void foreign_token(fake_tokens *f, int64_t user_id, int64_t created_ms, int64_t ttl,
                          char secret[SECRET_LEN + 1], tok_hash *h)
{
    tok_record t;
    memset(&t, 0, sizeof t);
    tok_generate(secret, SECRET_LEN);
    tok_hash_of(secret, SECRET_LEN, &t.hash);
    tok_new_handle(t.handle);
    t.user_id = user_id;
    t.created_ms = created_ms;
    t.ttl = ttl;
    put_token(f, &t);
    *h = t.hash;
}

static sess_result check(sess *s, const char *secret, int64_t *user_id)
{
    principal p;
    memset(&p, 0, sizeof p);
    sess_result r = sess_check(s, secret, strlen(secret), &p);
    if (user_id)
        *user_id = p.user_id;
    return r;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the tests ---------------------------------------------------------- */

/* A miss reads the store once, then the cache answers; an unknown secret is
 * read once and then remembered as rejected. */
static void test_check_miss_then_hit(void)
{
    fake_tokens f;
    fake_init(&f, &fake_polling_ops);
    cfg_auth cfg = auth_cfg();
    sess *s = sess_new(&cfg, &f.base);
    if (!CHECK(s != NULL))
        return;
    char secret[SECRET_LEN + 1];
    tok_hash h;
    foreign_token(&f, 7, iso_now_ms(), 3600, secret, &h);
    int64_t uid = 0;
    CHECK_INT(check(s, secret, &uid), SESS_OK);
    CHECK_INT(uid, 7);
    CHECK_INT(finds_of(&f), 1);
    CHECK_INT(check(s, secret, NULL), SESS_OK);
    CHECK_INT(finds_of(&f), 1);

    char unknown[SECRET_LEN + 1];
    tok_generate(unknown, SECRET_LEN);
    CHECK_INT(check(s, unknown, NULL), SESS_INVALID);
    CHECK_INT(finds_of(&f), 2);
    CHECK_INT(check(s, unknown, NULL), SESS_INVALID);
    CHECK_INT(finds_of(&f), 2);
    /* malformed: never reaches the store */
    CHECK_INT(check(s, "short", NULL), SESS_INVALID);
    CHECK_INT(finds_of(&f), 2);
    sess_free(s);
}

/* A store that cannot answer a miss is "unavailable", never "invalid". */
static void test_check_store_down(void)
{
    fake_tokens f;
    fake_init(&f, &fake_polling_ops);
    cfg_auth cfg = auth_cfg();
    sess *s = sess_new(&cfg, &f.base);
    char secret[SECRET_LEN + 1];
    tok_hash h;
    foreign_token(&f, 7, iso_now_ms(), 3600, secret, &h);
    set_answers(&f, STORE_UNAVAILABLE, STORE_OK);
    CHECK_INT(check(s, secret, NULL), SESS_UNAVAILABLE);
    set_answers(&f, STORE_OK, STORE_OK);
    CHECK_INT(check(s, secret, NULL), SESS_OK); /* not remembered as rejected */
    sess_free(s);
}

/* An issued token checks without a read; revoked, it is gone from the
 * cache and the store, and the revocation is logged. */
static void test_issue_and_revoke(void)
{
    fake_tokens f;
    fake_init(&f, &fake_polling_ops);
    cfg_auth cfg = auth_cfg();
    sess *s = sess_new(&cfg, &f.base);
    char secret[SECRET_LEN + 1];
    tok_record rec;
    if (!CHECK_INT(sess_issue(s, 9, 3600, NULL, secret, &rec), STORE_OK))
        return;
    int finds = finds_of(&f); /* issue reads the row back once */
    CHECK_INT(check(s, secret, NULL), SESS_OK);
    CHECK_INT(finds_of(&f), finds);
    CHECK_INT(sess_revoke(s, &rec.hash), STORE_OK);
    CHECK_INT(slot_of(&f, &rec.hash), -1);
    CHECK_INT(f.nev, 1);
    CHECK_INT(check(s, secret, NULL), SESS_INVALID);
    sess_free(s);
}

/* Another process revokes (the store and its log, not this cache): the
 * cache keeps answering until the log is read, then refuses. */
static void test_revocation_log_from_another_process(void)
{
    fake_tokens f;
    fake_init(&f, &fake_polling_ops);
    cfg_auth cfg = auth_cfg();
    sess *s = sess_new(&cfg, &f.base);
    char a[SECRET_LEN + 1], b[SECRET_LEN + 1], c[SECRET_LEN + 1];
    tok_hash ha, hb, hc;
    foreign_token(&f, 1, iso_now_ms(), 3600, a, &ha);
    foreign_token(&f, 2, iso_now_ms(), 3600, b, &hb);
    foreign_token(&f, 2, iso_now_ms(), 3600, c, &hc);
    CHECK_INT(check(s, a, NULL), SESS_OK);
    CHECK_INT(check(s, b, NULL), SESS_OK);
    CHECK_INT(check(s, c, NULL), SESS_OK);

    remove_token(&f, &ha, true);                 /* `tessera token revoke` */
    remove_user_tokens(&f, 2, &hc);              /* "log out everywhere" but c */
    CHECK_INT(check(s, a, NULL), SESS_OK);       /* not heard yet */
    CHECK(sess_sync_once(s));
    CHECK_INT(check(s, a, NULL), SESS_INVALID);
    CHECK_INT(check(s, b, NULL), SESS_INVALID);
    CHECK_INT(check(s, c, NULL), SESS_OK);
    sess_free(s);
}

/* Events logged before the session started are not replayed: they concern
 * tokens it never cached, and the log is read from where it stood. */
static void test_old_events_are_skipped(void)
{
    fake_tokens f;
    fake_init(&f, &fake_polling_ops);
    char a[SECRET_LEN + 1];
    tok_hash ha;
    foreign_token(&f, 1, iso_now_ms(), 3600, a, &ha);
    log_event(&f, STORE_EV_TOKEN, &ha, 0); /* an old event about a live token */
    cfg_auth cfg = auth_cfg();
    sess *s = sess_new(&cfg, &f.base);
    CHECK_INT(check(s, a, NULL), SESS_OK);
    CHECK(sess_sync_once(s));
    CHECK_INT(check(s, a, NULL), SESS_OK);
    sess_free(s);
}

/* Waits up to 2 s for check(secret) to give want. */
static sess_result settle_to(sess *s, const char *secret, sess_result want)
{
    sess_result r = check(s, secret, NULL);
    for (int i = 0; i < 200 && r != want; i++) {
        sleep_ms(10);
        r = check(s, secret, NULL);
    }
    return r;
}

/*
 * While events_wait says STORE_UNAVAILABLE (the listening connection is
 * lost), a revocation elsewhere could be missed, so every cached token is
 * read from the store again: a row gone without an event is refused. With
 * the store down as well, the cache answers. Once listening again, the
 * cache is trusted alone.
 */
static void test_distrust_while_deaf(void)
{
    fake_tokens f;
    fake_init(&f, &fake_pushing_ops);
    cfg_auth cfg = auth_cfg();
    sess *s = sess_new(&cfg, &f.base);
    char a[SECRET_LEN + 1], b[SECRET_LEN + 1], c[SECRET_LEN + 1];
    tok_hash ha, hb, hc;
    foreign_token(&f, 1, iso_now_ms(), 3600, a, &ha);
    foreign_token(&f, 1, iso_now_ms(), 3600, b, &hb);
    foreign_token(&f, 1, iso_now_ms(), 3600, c, &hc);
    CHECK_INT(check(s, a, NULL), SESS_OK);
    CHECK_INT(check(s, b, NULL), SESS_OK);
    CHECK_INT(check(s, c, NULL), SESS_OK);

    set_answers(&f, STORE_OK, STORE_UNAVAILABLE);
    if (!CHECK_INT(sess_start_sync(s, 10), 0))
        return;
    remove_token(&f, &ha, false); /* a revocation this process cannot hear */
    CHECK_INT(settle_to(s, a, SESS_INVALID), SESS_INVALID);

    set_answers(&f, STORE_UNAVAILABLE, STORE_UNAVAILABLE);
    CHECK_INT(check(s, b, NULL), SESS_OK);

    set_answers(&f, STORE_OK, STORE_OK);
    sleep_ms(100); /* a wait that hears, then a sync: trusted again */
    remove_token(&f, &hc, false);
    int finds = finds_of(&f);
    CHECK_INT(check(s, c, NULL), SESS_OK); /* the cache alone, no read */
    CHECK_INT(finds_of(&f), finds);
    sess_stop_sync(s);
    sess_free(s);
}

/* An expired token is refused and deleted from the store on first sight;
 * a cached one is refused once its time is up. */
static void test_expiry(void)
{
    fake_tokens f;
    fake_init(&f, &fake_polling_ops);
    cfg_auth cfg = auth_cfg();
    sess *s = sess_new(&cfg, &f.base);
    char old[SECRET_LEN + 1], soon[SECRET_LEN + 1];
    tok_hash ho, hs;
    int64_t now = iso_now_ms();
    foreign_token(&f, 3, now - 10000, 5, old, &ho);
    CHECK_INT(check(s, old, NULL), SESS_INVALID);
    CHECK_INT(slot_of(&f, &ho), -1);

    foreign_token(&f, 3, now - 1000 + 150, 1, soon, &hs); /* 150 ms to live */
    CHECK_INT(check(s, soon, NULL), SESS_OK);
    sleep_ms(250);
    CHECK_INT(check(s, soon, NULL), SESS_INVALID);
    CHECK_INT(slot_of(&f, &hs), -1);
    sess_free(s);
}

void suite_session(void)
{
    RUN(test_check_miss_then_hit);
    RUN(test_check_store_down);
    RUN(test_issue_and_revoke);
    RUN(test_revocation_log_from_another_process);
    RUN(test_old_events_are_skipped);
    RUN(test_distrust_while_deaf);
    RUN(test_expiry);
}
