/*
 * call.h — one API call as the handlers see it: the HTTP request and its
 * response (http/request.h), plus what only the api layer knows about: who
 * is calling (auth/principal.h) and the running tessera (api/app.h). Built
 * by api_handle for each request; the HTTP layer never sees it.
 */
#ifndef TESSERA_CALL_H
#define TESSERA_CALL_H

#include "auth/principal.h"
#include "http/request.h"

struct app;

typedef struct api_call {
    request *r;
    response *res;
    principal who;           /* who is calling (pipeline.c authenticates) */
    const struct app *app;
} api_call;

#endif
