/*
 * router.c — matching a request's path segments against the route table.
 */
#include <string.h>
#include <strings.h>

#include "api/router.h"

/* Splits a pattern segment off; returns the next segment's start. */
static const char *pattern_next(const char *p, const char **seg, size_t *len)
{
    while (*p == '/')
        p++;
    *seg = p;
    while (*p && *p != '/')
        p++;
    *len = (size_t)(p - *seg);
    return p;
}

/* True when r's segments fit pattern; the "{}" segments go to args. */
static bool path_matches(const char *pattern, const request *r, const char **args)
{
    int i = 0, nargs = 0;
    const char *seg;
    size_t len;
    for (const char *p = pattern_next(pattern, &seg, &len); len > 0; p = pattern_next(p, &seg, &len)) {
        if (i >= r->nseg)
            return false;
        if (len == 2 && seg[0] == '{' && seg[1] == '}') {
            if (nargs == ROUTE_MAX_ARGS)
                return false;
            args[nargs++] = r->seg[i];
        } else if (strlen(r->seg[i]) != len || strncasecmp(r->seg[i], seg, len) != 0) {
            return false;
        }
        i++;
    }
    return i == r->nseg;
}

/* The next non-empty segment of a path at or after p (len 0 at the end). */
static const char *path_next(const char *p, const char **seg, size_t *len)
{
    while (*p == '/')
        p++;
    *seg = p;
    while (*p && *p != '/')
        p++;
    *len = (size_t)(p - *seg);
    return p;
}

/* path_matches for a path still in one piece. */
static bool text_matches(const char *pattern, const char *path)
{
    const char *pseg, *seg;
    size_t plen, len;
    const char *p = pattern_next(pattern, &pseg, &plen);
    const char *q = path_next(path, &seg, &len);
    for (; plen > 0; p = pattern_next(p, &pseg, &plen), q = path_next(q, &seg, &len)) {
        if (len == 0)
            return false;
        bool any = plen == 2 && pseg[0] == '{' && pseg[1] == '}';
        if (!any && (len != plen || strncasecmp(seg, pseg, len) != 0))
            return false;
    }
    return len == 0;
}

const route *route_find(const route *table, const char *method, const char *path)
{
    for (const route *rt = table; rt->method; rt++)
        if (strcasecmp(rt->method, method) == 0 && text_matches(rt->pattern, path))
            return rt;
    return NULL;
}

void route_dispatch(const route *table, api_call *c)
{
    const char *args[ROUTE_MAX_ARGS] = {0};
    const request *r = c->r;
    for (const route *rt = table; rt->method; rt++) {
        if (strcasecmp(rt->method, r->method) == 0 && path_matches(rt->pattern, r, args)) {
            rt->fn(c, args);
            return;
        }
    }
    res_no_method(c->res, r);
}
