/*
 * health.c — GET /healthz, for load balancers and orchestrators.
 */
#include "api/api.h"
#include "core/app.h"

void api_health(request *r, const char *const *args, response *res)
{
    (void)args;
    store_t *st = r->app->store;
    if (st->ops->ping(st) == STORE_OK)
        res_json(res, 200, json_pack("{s:s}", "status", "ok"));
    else
        res_json(res, 503, json_pack("{s:s}", "status", "unavailable"));
}
