/*
 * server.c — libmicrohttpd glue.
 *
 * libmicrohttpd calls the access handler several times per request: once with
 * the headers, then once per piece of body, then once more with no data. This
 * file gathers the body (up to the configured limit), turns the connection
 * into a `request`, hands it to the application's handler, and sends back the
 * `response` as JSON. Nothing else in tessera includes microhttpd.h: the
 * request carries copies of the headers, cookies and query it needs.
 * Every answer carries X-Request-Id, and every request ends with one line
 * of the access log (http/accesslog.h).
 */
#include <stdarg.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "core/isodate.h"
#include "core/jtext.h"
#include "core/log.h"
#include "http/accesslog.h"
#include "http/fairq.h"
#include "http/guard.h"
#include "http/server.h"

/* File descriptors kept back from connections: the database, SQLite's
 * journal, logs, and each worker's epoll and wake-up descriptors. */
#define FD_RESERVE_BASE 256
#define FD_RESERVE_PER_THREAD 4
/* A bound on connections whatever RLIMIT_NOFILE says: each may hold
 * libmicrohttpd's 32 KiB buffer pool. */
#define HTTP_MAX_CONNECTIONS 65536

/* What one request accumulates between the handler's calls. */
typedef struct pending {
    fq_node node; /* in the slow pool's queue */
    char *body;
    size_t len, cap;
    size_t reserved; /* bytes counted in the server's body_bytes */
    bool too_large;
    bool no_memory;  /* the bodies of all connections hold too much */
    /* a slow request, run by the slow pool while its connection sleeps */
    bool done;
    guard_conn *gc;  /* the connection's guard record, or NULL */
    struct MHD_Connection *conn;
    const char *url, *method;
    response res;
    /* for the X-Request-Id header and the access log */
    char rid[ALOG_RID_MAX + 1];
    char log_method[16];
    char *target;        /* the logged path and query (NULL: log off)      */
    int64_t start_ms;    /* wall clock, for the line's time                */
    int64_t start_us;    /* monotonic, for the duration                    */
    int status;          /* of the answer queued, 0 before                 */
    int64_t user_id;     /* who called, 0: anonymous                       */
} pending;

/* The threads that run slow requests, and their fair queue. */
typedef struct slow_pool {
    pthread_t *threads;
    int n;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    fairq q;
    bool stopping;
} slow_pool;

struct http_server {
    struct MHD_Daemon *mhd;
    http_options opt;
    char address[300];
    int in_flight;     /* requests begun and not yet completed (atomic) */
    size_t body_bytes; /* body memory held by all requests (atomic)     */
    slow_pool slow;
    guard *guard;
    log_limiter log;   /* libmicrohttpd's own messages */
    access_log *alog;  /* NULL: off */
};

/* ---- building the request ---------------------------------------------- */

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    request *r = cls;
    (void)kind;
    if (r->nquery == REQ_MAX_QUERY) {
        r->nquery = REQ_MAX_QUERY + 1; /* marks "too many" */
        return MHD_NO;
    }
    r->query[r->nquery].key = key;
    r->query[r->nquery].value = value ? value : "";
    r->nquery++;
    return MHD_YES;
}

typedef struct collected {
    req_param *v;
    int n, cap;
} collected;

static enum MHD_Result collect_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    collected *c = cls;
    (void)kind;
    if (c->n == c->cap)
        return MHD_NO;
    c->v[c->n].key = key;
    c->v[c->n].value = value ? value : "";
    c->n++;
    return MHD_YES;
}

/* Copies the pointers to every value of one kind (headers, cookies) into a
 * new array, so that nothing above this file needs the connection. -1 when
 * out of memory. */
static int collect_values(struct MHD_Connection *conn, enum MHD_ValueKind kind, req_param **out, int *n)
{
    collected c = {NULL, 0, MHD_get_connection_values(conn, kind, NULL, NULL)};
    *out = NULL;
    *n = 0;
    if (c.cap <= 0)
        return 0;
    if ((c.v = calloc((size_t)c.cap, sizeof *c.v)) == NULL)
        return -1;
    MHD_get_connection_values(conn, kind, collect_value, &c);
    *out = c.v;
    *n = c.n;
    return 0;
}

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Splits the path on '/', dropping empty segments; -1 when too deep. */
static int split_path(request *r, const char *path)
{
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (r->nseg == REQ_MAX_SEGMENTS)
            return -1;
        r->seg[r->nseg++] = strndup(p, len);
        p += len;
    }
    return 0;
}

static void free_segments(request *r)
{
    for (int i = 0; i < r->nseg; i++)
        free(r->seg[i]);
}

/* ---- sending the response ---------------------------------------------- */

/* A response for JSON text (NULL: an empty body), with the headers every
 * answer carries. */
static struct MHD_Response *mhd_response(char *text, size_t len, enum MHD_ResponseMemoryMode mode,
                                         const char *www_authenticate, const char *rid)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text ? text : (char *)"",
                                                             text ? mode : MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return NULL;
    if (text)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    if (www_authenticate)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www_authenticate);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Request-Id", rid);
    return r;
}

/* Sends res. Text already printed moves into libmicrohttpd's response; a
 * fixed answer's text is never copied. Each answer is a response object of
 * its own, since each carries its request's X-Request-Id. */
static enum MHD_Result send_response(struct MHD_Connection *conn, pending *p, response *res)
{
    const res_fixed_answer *fixed = res_fixed_answer_of(res->fixed);
    char *text = res->text;
    size_t len = res->text_len;
    enum MHD_ResponseMemoryMode mode = MHD_RESPMEM_MUST_FREE;
    res->text = NULL;
    if (fixed) {
        text = (char *)fixed->text;
        len = strlen(text);
        mode = MHD_RESPMEM_PERSISTENT;
    } else if (text == NULL && res->body) {
        text = jtext_dump(res->body);
        len = text ? strlen(text) : 0;
    }
    struct MHD_Response *r = mhd_response(text, len, mode, res->www_authenticate, p->rid);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(text);
        return MHD_NO;
    }
    if (res->header_name)
        MHD_add_response_header(r, res->header_name, res->header_value);
    if (res->close_connection)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES)
        p->status = res->status;
    return ok;
}

/* An error of the HTTP layer. close: the connection cannot be trusted
 * (or the server wants it gone), so it is closed after the answer. */
static enum MHD_Result send_error(struct MHD_Connection *conn, pending *p, int status, const char *code,
                                  const char *msg, bool close)
{
    response res = {0};
    res_error(&res, status, code, "%s", msg);
    res.close_connection = close;
    if (status == 503) {
        res.header_name = "Retry-After";
        snprintf(res.header_value, sizeof res.header_value, "1");
    }
    enum MHD_Result ok = send_response(conn, p, &res);
    res_clear(&res);
    return ok;
}

/* ---- the access handler ------------------------------------------------- */

/* Counts n more bytes of body memory; false (and nothing counted) when
 * that would pass maxBodyMemoryBytes. */
static bool reserve_body(http_server *s, pending *p, size_t n)
{
    size_t total = __atomic_add_fetch(&s->body_bytes, n, __ATOMIC_RELAXED);
    if (total > s->opt.max_body_memory) {
        __atomic_sub_fetch(&s->body_bytes, n, __ATOMIC_RELAXED);
        return false;
    }
    p->reserved += n;
    return true;
}

static void release_body(http_server *s, pending *p)
{
    if (p->reserved)
        __atomic_sub_fetch(&s->body_bytes, p->reserved, __ATOMIC_RELAXED);
    p->reserved = 0;
}

/*
 * A body of declared length was counted whole on the first call (its buffer
 * is that size); a chunked one is counted as its buffer grows, and past the
 * memory cap the rest is dropped and the request answered 503.
 */
static bool append_body(http_server *s, pending *p, const char *data, size_t size)
{
    if (p->no_memory)
        return true;
    if (p->too_large || p->len + size > s->opt.max_body) {
        p->too_large = true;
        return true;
    }
    if (p->len + size + 1 > p->cap) {
        size_t cap = p->reserved ? p->reserved : p->cap ? p->cap : 1024;
        while (cap < p->len + size + 1)
            cap *= 2;
        if (cap > p->reserved && !reserve_body(s, p, cap - p->reserved)) {
            p->no_memory = true;
            free(p->body);
            p->body = NULL;
            p->len = p->cap = 0;
            return true;
        }
        char *b = realloc(p->body, cap);
        if (b == NULL)
            return false;
        p->body = b;
        p->cap = cap;
    }
    memcpy(p->body + p->len, data, size);
    p->len += size;
    p->body[p->len] = '\0';
    return true;
}

/* Builds the request and runs the application's handler on it. */
static void run_handler(http_server *s, struct MHD_Connection *conn, const char *url, const char *method,
                        pending *p, response *res)
{
    request r = {0};
    r.method = method;
    r.path = url;
    if (p->gc)
        memcpy(r.client_ip, p->gc->ip, sizeof r.client_ip);
    r.body = p->body ? p->body : "";
    r.body_len = p->len;
    r.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &r);
    req_param *headers = NULL, *cookies = NULL;
    int nh = 0, nc = 0;
    bool no_memory = collect_values(conn, MHD_HEADER_KIND, &headers, &nh) != 0 ||
                     collect_values(conn, MHD_COOKIE_KIND, &cookies, &nc) != 0;
    r.headers = headers;
    r.nheaders = nh;
    r.cookies = cookies;
    r.ncookies = nc;

    if (no_memory)
        res_error(res, 503, "SERVER_BUSY", "out of memory; try again");
    else if (r.nquery > REQ_MAX_QUERY)
        res_error(res, 400, "BAD_REQUEST", "too many query parameters (at most %d)", REQ_MAX_QUERY);
    else if (split_path(&r, url) != 0)
        res_no_method(res, &r);
    else
        s->opt.handler(s->opt.ctx, &r, res);
    p->user_id = res->user_id;
    if (p->target && r.nquery <= REQ_MAX_QUERY) /* the query as the handler left it: no token */
        alog_target(p->target, ALOG_TARGET_MAX, url, r.query, r.nquery);
    free_segments(&r);
    free(headers);
    free(cookies);
}

static enum MHD_Result send_and_free(struct MHD_Connection *conn, pending *p, response *res)
{
    enum MHD_Result ok = send_response(conn, p, res);
    res_clear(res);
    return ok;
}

/* ---- the slow pool ------------------------------------------------------ */

static void *slow_main(void *arg)
{
    http_server *s = arg;
    slow_pool *sp = &s->slow;
    pthread_mutex_lock(&sp->lock);
    for (;;) {
        while (sp->q.total == 0 && !sp->stopping)
            pthread_cond_wait(&sp->wake, &sp->lock);
        pending *p = (pending *)fq_pop(&sp->q);
        if (p == NULL)
            break; /* stopping, and the queue is drained */
        pthread_mutex_unlock(&sp->lock);
        run_handler(s, p->conn, p->url, p->method, p, &p->res);
        p->done = true;
        MHD_resume_connection(p->conn); /* libmicrohttpd calls on_request again */
        pthread_mutex_lock(&sp->lock);
    }
    pthread_mutex_unlock(&sp->lock);
    return NULL;
}

/*
 * Queues p in its client's lane and suspends its connection, both under the
 * pool's lock, so no slow thread can resume the connection before it is
 * suspended. false: the lane or the queue is full, nothing was done.
 */
static bool slow_enqueue(slow_pool *sp, struct MHD_Connection *conn, pending *p)
{
    pthread_mutex_lock(&sp->lock);
    bool ok = fq_push(&sp->q, p->gc ? p->gc->ip : "", &p->node);
    if (ok) {
        MHD_suspend_connection(conn);
        pthread_cond_signal(&sp->wake);
    }
    pthread_mutex_unlock(&sp->lock);
    return ok;
}

static int slow_start(http_server *s)
{
    slow_pool *sp = &s->slow;
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->wake, NULL);
    fq_init(&sp->q, s->opt.slow_queue_per_client, s->opt.slow_queue_max);
    if (s->opt.is_slow == NULL || s->opt.slow_threads < 1)
        return 0;
    sp->threads = calloc((size_t)s->opt.slow_threads, sizeof *sp->threads);
    if (sp->threads == NULL)
        return -1;
    for (; sp->n < s->opt.slow_threads; sp->n++)
        if (pthread_create(&sp->threads[sp->n], NULL, slow_main, s) != 0)
            return -1;
    return 0;
}

/* Lets the queue drain, then joins the threads. */
static void slow_stop(slow_pool *sp)
{
    pthread_mutex_lock(&sp->lock);
    sp->stopping = true;
    pthread_cond_broadcast(&sp->wake);
    pthread_mutex_unlock(&sp->lock);
    for (int i = 0; i < sp->n; i++)
        pthread_join(sp->threads[i], NULL);
    free(sp->threads);
    fq_free(&sp->q);
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->wake);
}

/*
 * The last call of a request: answer it here, or hand it to the slow pool
 * (and answer when the pool wakes the connection up again).
 */
static enum MHD_Result dispatch(http_server *s, struct MHD_Connection *conn, const char *url,
                                const char *method, pending *p)
{
    if (p->done)
        return send_and_free(conn, p, &p->res);
    if (p->gc)
        guard_enter(s->guard, p->gc, GUARD_BUSY);
    if (p->too_large)
        return send_error(conn, p, 413, "PAYLOAD_TOO_LARGE", "request body exceeds the configured limit", true);
    if (p->no_memory)
        return send_error(conn, p, 503, "SERVER_BUSY", "the server holds too many request bodies; try again", true);
    if (s->slow.n > 0 && s->opt.is_slow(method, url)) {
        p->conn = conn;
        p->url = url;
        p->method = method;
        if (slow_enqueue(&s->slow, conn, p))
            return MHD_YES;
        return send_error(conn, p, 503, "SERVER_BUSY", "too many password requests are waiting; try again", false);
    }
    response res = {0};
    run_handler(s, conn, url, method, p, &res);
    return send_and_free(conn, p, &res);
}

/* How the request says its body is framed. */
typedef struct framing {
    int content_length, transfer_encoding; /* how many of each header */
    const char *length;                    /* the Content-Length value */
    const char *coding;                    /* the Transfer-Encoding value */
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                     const char *value, size_t value_size)
{
    framing *f = cls;
    (void)kind;
    (void)value_size;
    if (key_size == 14 && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->content_length++;
        f->length = value;
    } else if (key_size == 17 && strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        f->coding = value ? value : "";
    }
    return MHD_YES;
}

/* "chunked", with blanks around it allowed; no other coding is known. */
static bool is_chunked(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (strncasecmp(v, "chunked", 7) != 0)
        return false;
    for (v += 7; *v == ' ' || *v == '\t'; v++)
        ;
    return *v == '\0';
}

/*
 * Request smuggling: when two parties in a chain read a body's length
 * differently, what one takes for body the other runs as a request. So a
 * request whose framing can be read two ways is refused and its connection
 * closed: two Content-Length headers, or Content-Length with
 * Transfer-Encoding. A coding other than chunked cannot be read at all.
 */
static enum MHD_Result check_framing(struct MHD_Connection *conn, pending *p, framing *fr, bool *refused)
{
    framing f = {0};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, count_framing, &f);
    *fr = f;
    *refused = true;
    if (f.content_length > 1)
        return send_error(conn, p, 400, "BAD_REQUEST", "more than one Content-Length header", true);
    if (f.content_length && f.transfer_encoding)
        return send_error(conn, p, 400, "BAD_REQUEST", "Content-Length and Transfer-Encoding together", true);
    if (f.transfer_encoding > 1)
        return send_error(conn, p, 400, "BAD_REQUEST", "more than one Transfer-Encoding header", true);
    if (f.transfer_encoding && !is_chunked(f.coding))
        return send_error(conn, p, 501, "NOT_IMPLEMENTED", "the only transfer coding understood is chunked", true);
    *refused = false;
    return MHD_YES;
}

/*
 * The first call, headers in and no body read yet: whatever is refused here
 * is answered before the body is read (libmicrohttpd then sends no
 * "100 Continue" and closes the connection after the answer).
 */
static enum MHD_Result first_call(http_server *s, struct MHD_Connection *conn, pending *p)
{
    if (p->gc && p->gc->refused)
        return send_error(conn, p, 503, "SERVER_BUSY", "too many connections; try again", true);
    bool refused;
    framing f;
    enum MHD_Result ok = check_framing(conn, p, &f, &refused);
    if (refused)
        return ok;
    /* libmicrohttpd has checked it is digits only (or answered 400 itself) */
    unsigned long long declared = f.length ? strtoull(f.length, NULL, 10) : 0;
    if (declared > s->opt.max_body)
        return send_error(conn, p, 413, "PAYLOAD_TOO_LARGE", "request body exceeds the configured limit", true);
    if (declared > 0 && !reserve_body(s, p, (size_t)declared + 1))
        return send_error(conn, p, 503, "SERVER_BUSY", "the server holds too many request bodies; try again", true);
    return MHD_YES;
}

/* What the access log and X-Request-Id need, taken when the headers are in:
 * an answer may be sent before the handler runs. */
static void begin_request(http_server *s, struct MHD_Connection *conn, const char *url, const char *method,
                          pending *p)
{
    p->start_us = monotonic_us();
    p->start_ms = iso_now_ms();
    alog_request_id(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id"), p->rid);
    if (s->alog == NULL)
        return;
    snprintf(p->log_method, sizeof p->log_method, "%s", method);
    for (char *c = p->log_method; *c; c++)
        if (*c <= ' ' || *c >= 0x7f || *c == '"' || *c == '\\' || *c == '%')
            *c = '?';
    p->target = malloc(ALOG_TARGET_MAX);
    if (p->target)
        alog_target(p->target, ALOG_TARGET_MAX, url, NULL, 0); /* the query waits for the handler */
}

/* One line in the access log for the request p, now that it is over. */
static void log_request(http_server *s, const pending *p)
{
    if (s->alog == NULL)
        return;
    alog_entry e = {
        .start_ms = p->start_ms,
        .rid = p->rid,
        .method = p->log_method,
        .target = p->target ? p->target : "-",
        .status = p->status,
        .micros = monotonic_us() - p->start_us,
        .user_id = p->user_id,
    };
    alog_request(s->alog, &e);
}

static guard_conn *guard_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    http_server *s = cls;
    (void)version;
    pending *p = *con_cls;
    if (p == NULL) {
        p = calloc(1, sizeof *p);
        if (p == NULL)
            return MHD_NO;
        *con_cls = p;
        __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
        begin_request(s, conn, url, method, p);
        p->gc = guard_of(conn);
        if (p->gc)
            guard_enter(s->guard, p->gc, GUARD_BODY);
        return first_call(s, conn, p);
    }
    if (*upload_data_size > 0) {
        if (!append_body(s, p, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(s, conn, url, method, p);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    (void)toe;
    pending *p = *con_cls;
    if (p == NULL)
        return;
    guard_conn *gc = guard_of(conn); /* afresh: NULL once the connection is closed */
    if (gc)
        guard_enter(s->guard, gc, GUARD_HEADERS); /* the next request's header deadline */
    log_request(s, p);
    release_body(s, p);
    res_clear(&p->res);
    free(p->body);
    free(p->target);
    free(p);
    *con_cls = NULL;
    __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
}

/* ---- start and stop ----------------------------------------------------- */

/* Resolves "HOST:PORT" (or "[V6]:PORT") into a socket address. */
static int resolve(const char *listen, struct sockaddr_storage *sa, socklen_t *salen, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0') {
        snprintf(err, errlen, "listen address '%s' is not HOST:PORT", listen);
        return -1;
    }
    size_t hlen = (size_t)(colon - listen);
    if (listen[0] == '[' && hlen >= 2 && listen[hlen - 1] == ']') {
        listen++;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        snprintf(err, errlen, "listen host is too long");
        return -1;
    }
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address '%s': %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    *salen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    http_server *s = cls;
    log_limited(&s->log, fmt, ap);
}

/* Accepted and closed connections: the guard counts them per address. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (fd)
            *socket_context = guard_open(s->guard, fd->connect_fd, ad ? ad->client_addr : NULL);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        guard_close(s->guard, *socket_context);
        *socket_context = NULL;
    }
}

/*
 * Every connection costs a descriptor, so the soft RLIMIT_NOFILE is raised
 * to the hard one. Returns how many connections that leaves room for, after
 * a reserve for everything else the process opens.
 */
static unsigned connection_limit(int threads)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 512;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t reserve = FD_RESERVE_BASE + (rlim_t)FD_RESERVE_PER_THREAD * (rlim_t)threads;
    rlim_t n = rl.rlim_cur > reserve * 2 ? rl.rlim_cur - reserve : rl.rlim_cur / 2;
    if (n > HTTP_MAX_CONNECTIONS)
        n = HTTP_MAX_CONNECTIONS;
    return n < 16 ? 16 : (unsigned)n;
}

/* The guard's limits: past soft_total (1/16 under libmicrohttpd's hard
 * limit) connections are answered 503 instead of dropped unanswered. */
static guard_limits guard_limits_of(const http_options *opt, unsigned limit)
{
    guard_limits gl = {
        .per_client = opt->max_conn_per_client,
        .soft_total = limit - limit / 16,
        .header_ms = opt->header_timeout_ms,
        .body_ms = opt->body_timeout_ms,
    };
    return gl;
}

/* Frees what http_start set up around the daemon, which is stopped. */
static void stop_parts(http_server *s)
{
    guard_free(s->guard);
    log_limiter_finish(&s->log);
    alog_close(s->alog);
    free(s);
}

http_server *http_start(const http_options *opt, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    if (resolve(opt->listen, &sa, &salen, err, errlen) != 0)
        return NULL;
    http_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opt = *opt;
    int threads = opt->threads > 1 ? opt->threads : 1;
    unsigned limit = connection_limit(threads);
    guard_limits gl = guard_limits_of(opt, limit);
    if (alog_open(opt->access_log, &s->alog, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    log_limiter_init(&s->log, "http");
    s->guard = guard_new(&gl);
    if (s->guard == NULL) {
        snprintf(err, errlen, "out of memory");
        stop_parts(s);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                              MHD_OPTION_CONNECTION_LIMIT, limit,
                              MHD_OPTION_CONNECTION_TIMEOUT, 30U,
                              MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024U,
                              MHD_OPTION_END);
    if (s->mhd == NULL) {
        snprintf(err, errlen, "cannot listen on %s (address in use, or not allowed?)", opt->listen);
        stop_parts(s);
        return NULL;
    }
    if (slow_start(s) != 0) {
        snprintf(err, errlen, "cannot start the threads for slow requests");
        slow_stop(&s->slow);
        MHD_stop_daemon(s->mhd);
        stop_parts(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    const char *colon = strrchr(opt->listen, ':');
    snprintf(s->address, sizeof s->address, "%.*s:%u", (int)(colon - opt->listen), opt->listen, port);
    return s;
}

const char *http_address(const http_server *s)
{
    return s->address;
}

void http_stop(http_server *s, int grace_ms)
{
    if (s == NULL)
        return;
    MHD_quiesce_daemon(s->mhd); /* the listening socket closes: no new connections */
    struct timespec tick = {0, 10 * 1000000L};
    for (int waited = 0; waited < grace_ms; waited += 10) {
        if (__atomic_load_n(&s->in_flight, __ATOMIC_RELAXED) == 0)
            break;
        nanosleep(&tick, NULL);
    }
    slow_stop(&s->slow); /* every suspended connection is resumed by then */
    MHD_stop_daemon(s->mhd);
    stop_parts(s); /* after the daemon: every connection is closed, every line queued */
}
