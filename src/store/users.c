/*
 * users.c — users and their roles, over the driver (driver.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/isodate.h"
#include "store/domain.h"
#include "store/queries.h"

static void read_user(store_t *s, dcur *cur, store_user *u)
{
    const store_driver *d = s->drv;
    memset(u, 0, sizeof *u);
    u->id = d->col_int(cur, 0);
    db_copy(s, cur, 1, u->email, sizeof u->email);
    db_copy(s, cur, 2, u->username, sizeof u->username);
    db_copy(s, cur, 3, u->password, sizeof u->password);
    u->email_verified = d->col_int(cur, 4) != 0;
    const char *extra = d->col_text(cur, 5, NULL);
    u->extra = extra ? strdup(extra) : NULL;
    u->created_ms = d->col_int(cur, 6);
    u->cred_version = d->col_int(cur, 7);
}

/* Runs a one-row user query; STORE_NOT_FOUND when there is no row. */
static store_err fetch_user(store_t *s, dconn *c, enum stmt_id id, dval v, store_user *out)
{
    dcur cur;
    store_err e = db_rows(s, c, id, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    bool found = s->drv->next(&cur);
    if (found)
        read_user(s, &cur, out);
    e = s->drv->end(&cur);
    if (e != STORE_OK && found)
        store_user_clear(out);
    return e == STORE_OK && !found ? STORE_NOT_FOUND : e;
}

/* The first column of the first row as an integer; *found: there was one. */
static store_err fetch_int(store_t *s, dconn *c, enum stmt_id id, dval v, int64_t *out, bool *found)
{
    dcur cur;
    store_err e = db_rows(s, c, id, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    *found = s->drv->next(&cur);
    *out = *found ? s->drv->col_int(&cur, 0) : 0;
    return s->drv->end(&cur);
}

/* Who already holds this unique value (0: nobody). */
static store_err holder_of(store_t *s, dconn *c, enum stmt_id id, const char *value, int64_t *who)
{
    bool found;
    *who = 0;
    if (value == NULL || *value == '\0')
        return STORE_OK;
    return fetch_int(s, c, id, dv_text(value), who, &found);
}

/* Unique email and username, checked inside the writing transaction. */
static store_err check_unique(store_t *s, dconn *c, const store_user *u, unsigned fields)
{
    int64_t who = 0;
    store_err e = STORE_OK;
    if (fields & STORE_USER_EMAIL) {
        e = holder_of(s, c, Q_USER_EMAIL_OWNER, u->email, &who);
        if (e == STORE_OK && who && who != u->id)
            return STORE_EMAIL_TAKEN;
    }
    if (e == STORE_OK && (fields & STORE_USER_USERNAME)) {
        e = holder_of(s, c, Q_USER_USERNAME_OWNER, u->username, &who);
        if (e == STORE_OK && who && who != u->id)
            return STORE_USERNAME_TAKEN;
    }
    return e;
}

/* A unique violation of users that the check did not see coming (another
 * process inserted the same value meanwhile), named by its constraint. */
static store_err user_conflict(store_t *s, dconn *c, store_err e)
{
    if (e != STORE_CONFLICT)
        return e;
    return strstr(s->drv->conflict(c), "username") ? STORE_USERNAME_TAKEN : STORE_EMAIL_TAKEN;
}

static store_err insert_user(store_t *s, dconn *c, store_user *u)
{
    u->created_ms = iso_now_ms();
    dval v[] = {dv_text(u->email), dv_text_opt(u->username), dv_text(u->password),
                dv_bool(u->email_verified), dv_text_opt(u->extra), dv_int(u->created_ms)};
    dcur cur;
    store_err e = user_conflict(s, c, db_rows(s, c, Q_USER_INSERT, v, 6, &cur));
    if (e != STORE_OK)
        return e;
    if (s->drv->next(&cur))
        u->id = s->drv->col_int(&cur, 0);
    return user_conflict(s, c, s->drv->end(&cur));
}

/* u->id stays 0 unless the row is committed. */
store_err store_user_create(store_t *s, store_user *u)
{
    DB_OR_FAIL(s, c);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    u->id = 0;
    e = check_unique(s, c, u, STORE_USER_EMAIL | STORE_USER_USERNAME);
    if (e == STORE_OK)
        e = insert_user(s, c, u);
    e = db_finish(s, c, e);
    if (e != STORE_OK)
        u->id = 0;
    return e;
}

store_err store_user_get(store_t *s, int64_t id, store_user *out)
{
    DB_OR_FAIL(s, c);
    return fetch_user(s, c, Q_USER_GET, dv_int(id), out);
}

store_err store_user_find(store_t *s, const char *email, const char *username, store_user *out)
{
    DB_OR_FAIL(s, c);
    bool by_email = email && *email;
    dval v = dv_text(by_email ? email : (username ? username : ""));
    return fetch_user(s, c, by_email ? Q_USER_BY_EMAIL : Q_USER_BY_USERNAME, v, out);
}

store_err users_missed(store_t *s, dconn *c, int64_t id)
{
    int64_t version;
    bool found;
    store_err e = fetch_int(s, c, Q_USER_VERSION, dv_int(id), &version, &found);
    return e != STORE_OK ? e : found ? STORE_STALE : STORE_NOT_FOUND;
}

#define USER_UPDATE_VALS 7

/*
 * "UPDATE users SET a = ?1, b = ?2 WHERE id = ?3" from the field mask, with
 * its values in v; a credential write also bumps the version (not a rehash)
 * and is guarded by it. The number of values; 0 when no field is set.
 */
static int user_update_sql(const store_user *u, unsigned fields, char sql[320], dval v[USER_UPDATE_VALS])
{
    static const struct { unsigned bit; const char *col; } COLS[] = {
        {STORE_USER_EMAIL, "email"},       {STORE_USER_USERNAME, "username"},
        {STORE_USER_PASSWORD, "password"}, {STORE_USER_EXTRA, "extra"},
        {STORE_USER_VERIFIED, "email_verified"},
    };
    int n = 0;
    strcpy(sql, "UPDATE users SET ");
    for (size_t i = 0; i < sizeof COLS / sizeof COLS[0]; i++) {
        if (!(fields & COLS[i].bit))
            continue;
        sprintf(sql + strlen(sql), "%s%s = ?%d", n ? ", " : "", COLS[i].col, n + 1);
        switch (COLS[i].bit) {
        case STORE_USER_EMAIL:    v[n++] = dv_text(u->email); break;
        case STORE_USER_USERNAME: v[n++] = dv_text_opt(u->username); break;
        case STORE_USER_PASSWORD: v[n++] = dv_text(u->password); break;
        case STORE_USER_EXTRA:    v[n++] = dv_text_opt(u->extra); break;
        default:                  v[n++] = dv_bool(u->email_verified); break;
        }
    }
    if (n == 0)
        return 0;
    bool guarded = fields & STORE_USER_CREDENTIALS;
    if (guarded && !(fields & STORE_USER_REHASH))
        strcat(sql, ", cred_version = cred_version + 1");
    sprintf(sql + strlen(sql), " WHERE id = ?%d", n + 1);
    v[n++] = dv_int(u->id);
    if (guarded) {
        sprintf(sql + strlen(sql), " AND cred_version = ?%d", n + 1);
        v[n++] = dv_int(u->cred_version);
    }
    return n;
}

/*
 * One transaction: the unique values checked, the row written (a credential
 * only while its version is the one the caller read), and, when a credential
 * changed, every other token of the user deleted and the deletion logged.
 */
store_err store_user_update(store_t *s, store_user *u, unsigned fields, const store_hash *keep)
{
    DB_OR_FAIL(s, c);
    char sql[320];
    dval v[USER_UPDATE_VALS];
    int n = user_update_sql(u, fields, sql, v);
    if (n == 0)
        return STORE_OK;
    bool credential = fields & STORE_USER_CREDENTIALS;
    bool bump = credential && !(fields & STORE_USER_REHASH);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    e = check_unique(s, c, u, fields);
    int64_t changed = 0;
    dstmt st = {-1, sql};
    if (e == STORE_OK)
        e = user_conflict(s, c, s->drv->run(c, &st, v, n, NULL, &changed));
    if (e == STORE_OK && changed == 0)
        e = credential ? users_missed(s, c, u->id) : STORE_NOT_FOUND;
    if (e == STORE_OK && bump)
        e = tokens_delete_user_in(s, c, u->id, keep, NULL);
    e = db_finish(s, c, e);
    if (e == STORE_OK && bump)
        u->cred_version++;
    return e;
}

/* ---- roles ------------------------------------------------------------- */

store_err store_role_grant(store_t *s, int64_t user_id, const char *role)
{
    return store_principal_grant(s, false, user_id, role);
}

/* A role (created on demand) mapped to a user, or (issue 13) an application. */
store_err store_principal_grant(store_t *s, bool app, int64_t id, const char *role)
{
    DB_OR_FAIL(s, c);
    char principal[32];
    snprintf(principal, sizeof principal, "%lld", (long long)id);
    store_err e = db_begin(s, c);
    if (e != STORE_OK)
        return e;
    dval ensure[] = {dv_text(role), dv_int(iso_now_ms())};
    dval map[] = {dv_text(role), dv_text(principal)};
    e = db_run(s, c, Q_ROLE_ENSURE, ensure, 2, NULL);
    if (e == STORE_OK)
        e = db_run(s, c, app ? Q_APP_ROLE_MAP : Q_ROLE_MAP, map, 2, NULL);
    return db_finish(s, c, e);
}

store_err store_user_roles(store_t *s, int64_t user_id, void (*cb)(const char *, void *), void *ctx)
{
    return store_principal_roles(s, false, user_id, cb, ctx);
}

/* A user's roles or (issue 13) an application's: one query each, one reader. */
store_err store_principal_roles(store_t *s, bool app, int64_t id, void (*cb)(const char *, void *), void *ctx)
{
    DB_OR_FAIL(s, c);
    char principal[32];
    snprintf(principal, sizeof principal, "%lld", (long long)id);
    dval v = dv_text(principal);
    dcur cur;
    store_err e = db_rows(s, c, app ? Q_APP_ROLES : Q_USER_ROLES, &v, 1, &cur);
    if (e != STORE_OK)
        return e;
    while (s->drv->next(&cur)) {
        const char *name = s->drv->col_text(&cur, 0, NULL);
        cb(name ? name : "", ctx);
    }
    return s->drv->end(&cur);
}
