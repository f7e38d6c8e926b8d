/*
 * store.c — choosing a driver from a database URL; what the storage
 * contract hands to the driver as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backends.h"
#include "store/driver.h"
#include "store/store.h"

store_t *store_open(const char *url, char *err, size_t errlen)
{
    if (url == NULL || *url == '\0') {
        snprintf(err, errlen, "no database given");
        return NULL;
    }
    if (strncmp(url, "sqlite:", 7) == 0)
        return store_sqlite_open(url + 7, err, errlen);
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return store_postgres_open(url, err, errlen);
    if (strstr(url, "://") == NULL && strchr(url, '=') != NULL)
        return store_postgres_open(url, err, errlen); /* "host=... dbname=..." */
    if (strstr(url, "://") == NULL)
        return store_sqlite_open(url, err, errlen); /* a bare file path */
    snprintf(err, errlen, "unsupported database URL (expected sqlite:PATH or postgresql://...)");
    return NULL;
}

const char *store_strerror(store_err e)
{
    switch (e) {
    case STORE_OK:             return "ok";
    case STORE_NOT_FOUND:      return "not found";
    case STORE_EMAIL_TAKEN:    return "email already exists";
    case STORE_USERNAME_TAKEN: return "username already exists";
    case STORE_UNAVAILABLE:    return "database unavailable";
    case STORE_CONFLICT:       return "a unique value already exists";
    case STORE_BAD_REFERENCE:  return "a referenced row does not exist";
    case STORE_STALE:          return "the row changed since it was read";
    case STORE_ERROR:          return "database error";
    case STORE_TIMEOUT:        return "query took too long";
    case STORE_BAD_PATTERN:    return "regular expression refused by the database";
    }
    return "unknown error";
}

void store_user_clear(store_user *u)
{
    free(u->extra);
    memset(u, 0, sizeof *u);
}

void store_close(store_t *s)
{
    s->drv->close(s);
}

store_err store_claim(store_t *s, bool *sole)
{
    return s->drv->claim(s, sole);
}
