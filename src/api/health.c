/*
 * health.c — GET /healthz, for load balancers and orchestrators.
 */
#include <stdio.h>

#include "api/api.h"
#include "api/app.h"

/* Says which instance answered: behind a load balancer, that is how an
 * operator (or a test) sees the traffic reach every one of them. */
void api_health(request *r, const char *const *args, response *res)
{
    (void)args;
    res->header_name = "X-Tessera-Instance";
    snprintf(res->header_value, sizeof res->header_value, "%s", r->app->instance);
    store_t *st = r->app->store;
    if (store_ping(st) == STORE_OK)
        res_json(res, 200, json_pack("{s:s}", "status", "ok"));
    else
        res_json(res, 503, json_pack("{s:s}", "status", "unavailable"));
}
