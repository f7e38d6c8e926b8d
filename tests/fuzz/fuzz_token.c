/*
 * fuzz_token.c — finding the access token in a request. The input is the
 * raw HTTP request as a client sends it ("GET /api/users?access_token=x
 * HTTP/1.1\r\nAuthorization: Bearer y\r\nCookie: access_token=z\r\n\r\n").
 * libmicrohttpd parses it as it does for the server (a daemon without a
 * listening socket, fed one end of a socketpair, run from this thread);
 * then the token sources are read with req_header, req_query and req_cookie
 * as api/pipeline.c reads them, and tok_extract picks the token under each
 * of the 64 combinations of enabled sources.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/extract.h"
#include "auth/token.h"
#include "fuzz.h"
#include "http/request.h"

static struct MHD_Daemon *daemon_;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    request *r = cls;
    (void)kind;
    if (r->nquery == REQ_MAX_QUERY)
        return MHD_NO;
    r->query[r->nquery].key = key;
    r->query[r->nquery++].value = value ? value : "";
    return MHD_YES;
}

/* Headers and cookies, copied into the request as http/server.c does. */
typedef struct kv_list {
    req_param items[256];
    int n;
} kv_list;

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    kv_list *l = cls;
    (void)kind;
    if (l->n == (int)(sizeof l->items / sizeof l->items[0]))
        return MHD_NO;
    l->items[l->n].key = key;
    l->items[l->n++].value = value ? value : "";
    return MHD_YES;
}

static bool blank(const char *s)
{
    return s == NULL || s[strspn(s, " \t")] == '\0';
}

static bool is_blank_char(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool on(const cfg_sources *e, tok_source s)
{
    const bool flags[] = {false, e->bearer, e->authorization, e->header, e->query,
                          e->query_token, e->cookie};
    return flags[s];
}

/* What tok_extract promises: the token lies inside the source it names, is
 * trimmed, and no earlier enabled plain source had one. */
static void check_extract(const cfg_sources *e, const tok_candidates *c)
{
    const char *from[] = {NULL, c->authorization, c->authorization, c->x_access_token,
                          c->query_access_token, c->query_token, c->cookie_access_token};
    const char *tok = (const char *)1;
    size_t len = 99;
    tok_source s = tok_extract(e, c, &tok, &len);
    FUZZ_ASSERT(tok_source_name(s) != NULL);
    if (s == TOK_SRC_NONE) {
        FUZZ_ASSERT(tok == NULL && len == 0);
        return;
    }
    FUZZ_ASSERT(s >= TOK_SRC_BEARER && s <= TOK_SRC_COOKIE && on(e, s));
    const char *src = from[s];
    bool in_decoded = c->decoded && tok >= c->decoded && tok + len <= c->decoded + TOK_DECODED_CAP;
    FUZZ_ASSERT(src != NULL && (in_decoded || (tok >= src && tok + len <= src + strlen(src))));
    FUZZ_ASSERT(!in_decoded || (s <= TOK_SRC_AUTHORIZATION && tok_well_formed(tok, len)));
    FUZZ_ASSERT(len > 0 || s == TOK_SRC_BEARER);
    if (len > 0)
        FUZZ_ASSERT(!is_blank_char(tok[0]) && !is_blank_char(tok[len - 1]));
    for (tok_source p = TOK_SRC_HEADER; p < s; p++)
        FUZZ_ASSERT(!on(e, p) || blank(from[p]));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    static kv_list headers, cookies;
    headers.n = cookies.n = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_kv, &headers);
    MHD_get_connection_values(conn, MHD_COOKIE_KIND, collect_kv, &cookies);
    request r = {.method = method, .path = url, .headers = headers.items, .nheaders = headers.n,
                 .cookies = cookies.items, .ncookies = cookies.n};
    (void)cls, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &r);
    static char decoded[TOK_DECODED_CAP];
    tok_candidates c = {
        .authorization = req_header(&r, "Authorization"),
        .x_access_token = req_header(&r, "X-Access-Token"),
        .query_access_token = req_query(&r, "access_token"),
        .query_token = req_query(&r, "token"),
        .cookie_access_token = req_cookie(&r, "access_token"),
        .decoded = decoded,
    };
    for (unsigned mask = 0; mask < 64; mask++) {
        cfg_sources e = {mask & 1, mask & 2, mask & 4, mask & 8, mask & 16, mask & 32, true};
        check_extract(&e, &c);
    }
    return MHD_NO; /* nothing to answer: close the connection */
}

static void stop(void)
{
    MHD_stop_daemon(daemon_);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    daemon_ = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, NULL,
                               MHD_OPTION_CONNECTION_TIMEOUT, 1U, MHD_OPTION_END);
    if (daemon_ == NULL) {
        fprintf(stderr, "fuzz_token: cannot start libmicrohttpd\n");
        abort();
    }
    atexit(stop);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (size > 32768 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 0;
    FUZZ_ASSERT(write(sv[0], data, size) == (ssize_t)size);
    shutdown(sv[0], SHUT_WR); /* the whole request, then end of stream */
    if (MHD_add_connection(daemon_, sv[1], (struct sockaddr *)&peer, sizeof peer) != MHD_YES) {
        close(sv[1]);
    } else {
        /* The whole request is there and the stream ends: one run reads,
         * answers (or refuses) and closes it; a second one is for safety. */
        MHD_run(daemon_);
        MHD_run(daemon_);
    }
    close(sv[0]);
    return 0;
}
