/*
 * health.c — GET /healthz, for load balancers and orchestrators.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/app.h"

/* Says which instance answered: behind a load balancer, that is how an
 * operator (or a test) sees the traffic reach every one of them. */
void api_health(api_call *c, const char *const *args)
{
    request *r = c->r;
    response *res = c->res;
    (void)args;
    res->header_name = "X-Tessera-Instance";
    snprintf(res->header_value, sizeof res->header_value, "%s", c->app->instance);
    store_t *st = c->app->store;
    uint64_t counted = store_counted_statements();
    store_count_this_thread(false); /* the probe does not count itself */
    json_t *body;
    if (store_ping(st) == STORE_OK)
        body = json_pack("{s:s}", "status", "ok");
    else
        body = json_pack("{s:s}", "status", "unavailable");
    if (body && c->app->cfg->sandbox) /* the key only when on: {"status":"ok"} stays as it was */
        json_object_set_new(body, "sandbox", json_true());
    if (body && c->app->cfg->server.expose_store_counter && req_query(r, "counters") != NULL)
        json_object_set_new(body, "storeStatements", json_integer((json_int_t)counted));
    res_json(res, strcmp(json_string_value(json_object_get(body, "status")), "ok") == 0 ? 200 : 503, body);
}
