/*
 * server.h — the HTTP server: libmicrohttpd underneath, requests and
 * responses (http/request.h) above.
 */
#ifndef TESSERA_SERVER_H
#define TESSERA_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "http/request.h"

typedef struct http_server http_server;

/* Called once per complete request, from a worker thread, with the ctx of
 * http_options. It sets res->user_id for the access log. */
typedef void (*http_handler)(void *ctx, request *r, response *res);

typedef struct http_options {
    const char *listen;   /* "HOST:PORT"; port 0 picks a free one      */
    int threads;          /* worker threads, >= 1                      */
    size_t max_body;      /* larger bodies get 413                     */
    http_handler handler;
    void *ctx;            /* handed to the handler, opaque here        */
    /*
     * Requests for which is_slow says true (logins: one argon2id hash each)
     * run on slow_threads threads of their own, with their connection
     * suspended meanwhile, so they never hold up the workers that check
     * tokens. NULL: every request runs on the workers.
     */
    bool (*is_slow)(const char *method, const char *path);
    int slow_threads;
    /* The slow pool's queue takes turns between client addresses; past
     * either bound a slow request gets 503 SERVER_BUSY. */
    int slow_queue_per_client;
    int slow_queue_max;
    /* Defences (docs/security/http.md): connections per client address
     * (past it 503, past twice it dropped), the time a request's whole
     * header block and whole body may take, and the body memory held by
     * all connections together (past it 503). */
    int max_conn_per_client;
    int header_timeout_ms;
    int body_timeout_ms;
    size_t max_body_memory;
    /* The access log: "stderr", a file path, or "off"/NULL (http/accesslog.h). */
    const char *access_log;
} http_options;

/* Binds and starts serving. NULL with a message in err when it cannot. */
http_server *http_start(const http_options *opt, char *err, size_t errlen);

/* The address actually bound, "HOST:PORT". */
const char *http_address(const http_server *s);

/*
 * Stops accepting, lets requests in flight finish (up to grace_ms), then
 * closes every connection and frees the server.
 */
void http_stop(http_server *s, int grace_ms);

#endif
