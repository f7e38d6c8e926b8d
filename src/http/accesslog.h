/*
 * accesslog.h — one line per request, written off the workers' path.
 *
 * A worker formats its line and copies it into a bounded buffer under a
 * short lock; a thread of the log's own writes the buffer out. When the
 * buffer is full the line is dropped and counted (a worker never waits on
 * a slow disk or a full pipe); the count is reported as a warning.
 *
 * A line:  TIME REQUEST-ID METHOD TARGET STATUS DURATION USER
 *   2026-12-01T17:30:40.123Z 3f9c0a1e5b7d2c4a6e8f0a1b GET /api/users/me?x=1 200 0.412ms 5
 * TARGET is the path and the query with the token parameters taken out,
 * every byte outside printable ASCII (and '%', '"', '\') written %XX, and
 * every run of 32 or more letters and digits (it may be a token: tokens
 * are looked up by id in some paths) written [redacted];
 * STATUS is "-" when no answer was sent; USER is "-" for an anonymous caller.
 */
#ifndef TESSERA_ACCESSLOG_H
#define TESSERA_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "http/request.h"

typedef struct access_log access_log;

#define ALOG_TARGET_MAX 1024 /* longer targets are cut, ending in "..." */
#define ALOG_RID_MAX 64      /* a client's X-Request-Id at most this long */

/* spec: "stderr", "off", or a file path (appended to, created 0640).
 * *out is NULL for "off". -1 with a message in err when it cannot open. */
int alog_open(const char *spec, access_log **out, char *err, size_t errlen);

/* Writes what is buffered, reports drops, joins the writer. NULL: nothing. */
void alog_close(access_log *l);

typedef struct alog_entry {
    int64_t start_ms;   /* wall clock when the request began */
    const char *rid;    /* request id */
    const char *method;
    const char *target; /* from alog_target */
    int status;         /* 0: no answer sent */
    int64_t micros;     /* from the first byte to the answer's end */
    int64_t user_id;    /* 0: anonymous */
} alog_entry;

/* Queues one line; never blocks on I/O. */
void alog_request(access_log *l, const alog_entry *e);

/* Writes the logged form of path + query into out (cap bytes): escaped, the
 * token parameters (access_token, token) left out whatever the config says. */
void alog_target(char *out, size_t cap, const char *path, const req_param *query, int nquery);

/* A client's request id is kept when 1..ALOG_RID_MAX of [A-Za-z0-9._:-];
 * otherwise (or when absent) out gets 24 hex digits: 8 drawn at random
 * once per process, then a 16-digit count of the ids it made. */
void alog_request_id(const char *given, char out[ALOG_RID_MAX + 1]);

#endif
