/*
 * queries.h — every fixed statement of the storage contract, written once.
 *
 * The text (store/queries.c) numbers its values "?N", which both databases
 * read once the PostgreSQL driver has turned them into "$N"; an entry has a
 * text of its own for a dialect only where the SQL itself differs.
 */
#ifndef TESSERA_QUERIES_H
#define TESSERA_QUERIES_H

#include "store/sql.h"

enum stmt_id {
    Q_USER_INSERT,
    Q_USER_GET,
    Q_USER_BY_EMAIL,
    Q_USER_BY_USERNAME,
    Q_USER_EMAIL_OWNER,
    Q_USER_USERNAME_OWNER,
    Q_USER_VERSION,
    Q_ROLE_ENSURE,
    Q_ROLE_MAP,
    Q_USER_ROLES,
    Q_TOKEN_INSERT,
    Q_TOKEN_INSERT_GUARDED,
    Q_TOKEN_INSERT_APP,
    Q_TOKEN_FIND,
    Q_TOKEN_LIST,
    Q_TOKEN_DELETE,
    Q_TOKEN_HANDLE_FIND,
    Q_TOKEN_DELETE_USER,
    Q_TOKEN_DELETE_USER_KEEP,
    Q_TOKEN_TOUCH,
    Q_TOKEN_PURGE,
    Q_TOKEN_BEYOND,
    Q_TOKEN_BEYOND_APP,
    Q_EVENT_INSERT,
    Q_EVENTS_SINCE,
    Q_EVENTS_TRIM,
    Q_FAILURES_GET,
    Q_FAILURES_INSERT,
    Q_FAILURES_UPDATE,
    Q_FAILURES_CLEAR,
    Q_FAILURES_PURGE,
    Q_PING,
    /* applications (issue 13) */
    Q_APP_BY_CLIENT,
    Q_APP_SET_SECRET,
    Q_APP_DEAD_EVENTS,
    Q_APP_DEAD_DELETE,
    Q_APP_ROLES,
    Q_REFRESH_INSERT,
    Q_REFRESH_USE,
    Q_REFRESH_GET,
    Q_REFRESH_FAMILY,
    Q_REFRESH_FAMILY_DELETE,
    Q_APP_INSERT,
    Q_APP_ID_BY_NAME,
    Q_APP_SET_STATUS,
    Q_APP_LIST,
    Q_APP_ROLE_MAP,
    /* API tokens (store/apitokens.c) */
    Q_APIKEY_INSERT,
    Q_APIKEY_FIND,
    Q_APIKEY_HASH_OF,
    Q_APIKEY_DELETE,
    Q_APIKEY_REHASH,
    Q_APIKEY_DELETE_USER,
    Q_APIKEY_TOUCH,
    Q_TOKEN_SET_SCOPES,
    Q_TOKEN_SCOPE_LIST,
    Q_COUNT
};

/* The text of statement id in dialect d. */
const char *query_text(sql_dialect d, enum stmt_id id);

/* Rows of one page of Q_TOKEN_LIST. */
#define TOKEN_PAGE 10000

#endif
