/*
 * fuzz_router.c — route_dispatch on the input's first line, "METHOD PATH"
 * (no space: GET and the whole line as the path). The path is split into
 * segments as http/server.c splits it (empty segments dropped; more than
 * REQ_MAX_SEGMENTS is answered 404 before routing, so never routed). The
 * table is api/pipeline.c's own (api_routes), each route's handler replaced by
 * one that checks what it was given against an independent reading of the
 * pattern.
 */
#include <jansson.h>
#include <strings.h>

#include "fuzz.h"
#include "api/api.h"
#include "api/router.h"

static const route *called;
static int ncalls;

static void handled(api_call *c, const char *const *args);

/* api/pipeline.c's table, each route's handler replaced by `handled`. */
static route ROUTES[64];

static void load_routes(void)
{
    if (ROUTES[0].method)
        return;
    const route *real = api_routes();
    size_t n = 0;
    for (; real[n].method; n++) {
        FUZZ_ASSERT(n + 1 < sizeof ROUTES / sizeof ROUTES[0]);
        ROUTES[n] = real[n];
        ROUTES[n].fn = handled;
    }
}

/* The oracle: does rt take r? (pattern split with strtok, compared by hand) */
static bool takes(const route *rt, const request *r, const char **args, int *nargs)
{
    char copy[128];
    char *save = NULL;
    int i = 0;
    *nargs = 0;
    if (strcasecmp(rt->method, r->method) != 0)
        return false;
    snprintf(copy, sizeof copy, "%s", rt->pattern);
    for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save), i++) {
        if (i >= r->nseg)
            return false;
        if (strcmp(seg, "{}") == 0)
            args[(*nargs)++] = r->seg[i];
        else if (strcasecmp(seg, r->seg[i]) != 0)
            return false;
    }
    return i == r->nseg;
}

static void handled(api_call *c, const char *const *args)
{
    const char *want[ROUTE_MAX_ARGS];
    int nwant = 0;
    const route *rt = ROUTES;
    while (rt->method && !takes(rt, c->r, want, &nwant))
        rt++;
    FUZZ_ASSERT(rt->method != NULL); /* the first route that takes r ... */
    for (int i = 0; i < nwant; i++)
        FUZZ_ASSERT(args[i] == want[i]); /* ... with its {} segments, in order */
    called = rt;
    ncalls++;
    res_json(c->res, 200, json_object());
}

static int split(request *r, char *path)
{
    char *save = NULL;
    for (char *seg = strtok_r(path, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (r->nseg == REQ_MAX_SEGMENTS)
            return -1;
        r->seg[r->nseg++] = seg;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_routes();
    char *line = fuzz_cstr(data, size);
    line[strcspn(line, "\r\n")] = '\0';
    char *sp = strchr(line, ' ');
    const char *method = sp ? line : "GET";
    char *path = sp ? sp + 1 : line;
    if (sp)
        *sp = '\0';
    char *pathcopy = strdup(path);
    FUZZ_ASSERT(pathcopy != NULL);
    request r = {.method = method, .path = path};
    response res = {0};
    api_call c = {.r = &r, .res = &res};
    called = NULL;
    ncalls = 0;
    if (split(&r, pathcopy) == 0) {
        route_dispatch(ROUTES, &c);
        FUZZ_ASSERT(ncalls <= 1);
        if (ncalls == 0) {
            const char *w[ROUTE_MAX_ARGS];
            int nw;
            for (const route *rt = ROUTES; rt->method; rt++)
                FUZZ_ASSERT(!takes(rt, &r, w, &nw)); /* a 404 only when no route takes r */
            FUZZ_ASSERT(res.status == 404 && res.body != NULL);
        }
    }
    res_clear(&res);
    free(pathcopy);
    free(line);
    return 0;
}
