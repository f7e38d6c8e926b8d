/*
 * app.h — what a running tessera is made of, handed to every request.
 */
#ifndef TESSERA_APP_H
#define TESSERA_APP_H

#include "auth/acl.h"
#include "auth/session.h"
#include "auth/throttle.h"
#include "model/rowcache.h"
#include "model/schema.h"
#include "core/config.h"
#include "store/store.h"

typedef struct app {
    const config *cfg;
    store_t *store;
    sess *sessions;
    model_registry *models;
    acl_engine *acl;
    rowcache *rows;      /* NULL when rows cannot be cached (store_claim) */
    char instance[128];  /* "HOST:PORT" this process listens on */
    throttle *throttle;  /* failed logins (NULL: none throttled) */
} app;

#endif
