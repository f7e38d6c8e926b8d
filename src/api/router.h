/*
 * router.h — which handler answers a request.
 *
 * A route is a method and a pattern of path segments; "{}" in a pattern
 * matches any one segment and is passed to the handler. Literal segments
 * match case-insensitively, as LoopBack's do (/api/Users = /api/users).
 */
#ifndef TESSERA_ROUTER_H
#define TESSERA_ROUTER_H

#include <stdbool.h>

#include "api/call.h"

#define ROUTE_MAX_ARGS 4

typedef void (*route_fn)(api_call *c, const char *const *args);

typedef struct route {
    const char *method;
    const char *pattern;   /* e.g. "/api/users/{}/accessTokens" */
    route_fn fn;
    bool slow;             /* may hash a password: run by the slow pool */
} route;

/*
 * Finds the route for c->r in the table (terminated by a NULL method) and
 * calls it. When none matches: 404 NOT_FOUND in the error envelope
 * (res_no_method), as LoopBack answers for a path or a method it has no
 * handler for.
 */
void route_dispatch(const route *table, api_call *c);

/*
 * The route a method and a raw path (as the server has it before the
 * request is built) would be dispatched to, or NULL: the same first match
 * as route_dispatch, for deciding before the body is read.
 */
const route *route_find(const route *table, const char *method, const char *path);

#endif
