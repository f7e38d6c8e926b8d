/*
 * request.h — one HTTP request as the handlers see it, and the response they
 * give back. The libmicrohttpd glue (http/server.c) builds the request; after
 * that nothing above the http/ folder knows about libmicrohttpd.
 */
#ifndef TESSERA_REQUEST_H
#define TESSERA_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/validation.h"

#define REQ_MAX_SEGMENTS 8
#define REQ_MAX_QUERY    64

typedef struct req_param {
    const char *key;
    const char *value;
} req_param;

typedef struct request {
    const char *method;              /* "GET", "POST", ...                  */
    const char *path;                /* decoded path, without the query     */
    char *seg[REQ_MAX_SEGMENTS];     /* path split on '/', owned            */
    int nseg;
    req_param query[REQ_MAX_QUERY];  /* query arguments, token ones removed */
    int nquery;
    const char *content_type;        /* NULL when absent                    */
    const char *body;                /* NUL-terminated, may be empty        */
    size_t body_len;
    const req_param *headers;        /* every header, in order (server.c)   */
    int nheaders;
    const req_param *cookies;        /* every cookie, in order (server.c)   */
    int ncookies;
    char client_ip[46];              /* the peer's address, text ("" unknown) */
} request;

/*
 * Answers whose text never varies, sent to every caller that earns them: a
 * missing or bad token, a denial. The HTTP layer builds each one once.
 */
typedef enum res_fixed_kind {
    RES_NOT_FIXED = 0,
    RES_AUTHORIZATION_REQUIRED,  /* 401: no caller, or not allowed (LoopBack) */
    RES_ACCESS_DENIED,           /* 403: a known caller not allowed           */
    RES_INVALID_TOKEN,           /* 401 with WWW-Authenticate                 */
    RES_FIXED_COUNT
} res_fixed_kind;

typedef struct res_fixed_answer {
    int status;
    const char *text;                /* the JSON body                       */
    const char *www_authenticate;    /* or NULL                             */
} res_fixed_answer;

const res_fixed_answer *res_fixed_answer_of(res_fixed_kind k);

typedef struct response {
    int status;
    res_fixed_kind fixed;            /* when set, the whole answer          */
    json_t *body;                    /* owned; NULL for an empty body (204) */
    char *text;                      /* owned: the body already printed
                                        (core/jtext.h), sent instead of body */
    size_t text_len;
    const char *www_authenticate;    /* static string or NULL               */
    const char *header_name;         /* one more header (static), or NULL   */
    char header_value[128];
    bool close_connection;           /* send Connection: close, then close  */
    int64_t user_id;                 /* the caller's user id, for the access
                                        log; 0 anonymous                    */
} response;

/* A query argument's value, or NULL. */
const char *req_query(const request *r, const char *key);

/* A request header's value (the first of that name, case ignored), or NULL. */
const char *req_header(const request *r, const char *name);

/* A cookie's value, or NULL. Names are case-sensitive (RFC 6265). */
const char *req_cookie(const request *r, const char *name);

/*
 * Parses the body as a JSON object (application/json) or form fields
 * (application/x-www-form-urlencoded). An empty body gives an empty object.
 * On error returns NULL and fills *res with the 400/415 error to send.
 */
json_t *req_body_object(const request *r, response *res);

/* Sets *res to body with status; takes ownership of body. */
void res_json(response *res, int status, json_t *body);

/* Sets *res to JSON text already printed (malloc'd); takes ownership. */
void res_text(response *res, int status, char *text, size_t len);

/* RFC 6750 §3's challenge on a 401 that should have presented a token. */
#define RES_BEARER_CHALLENGE "Bearer realm=\"tessera\""

/* Sets *res to a fixed answer (LoopBack's error envelope, as res_error). */
void res_fixed(response *res, res_fixed_kind k);

/* Sets *res to 404 NOT_FOUND "There is no method to handle METHOD PATH":
 * no handler for this method and path (LoopBack's answer). */
void res_no_method(response *res, const request *r);

/* Frees what *res holds. */
void res_clear(response *res);

/* Sets *res to an empty 204. */
void res_no_content(response *res);

/*
 * Sets *res to LoopBack's error envelope:
 * {"error":{"statusCode":S,"name":"Error","message":M,"code":C}}.
 * code may be NULL.
 */
void res_error(response *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* LoopBack's ValidationError (422) for v (model names the model, e.g.
 * "User"); frees v. */
void res_validation_finish(validation *v, const char *model, response *res);

#endif
