/*
 * access.c — the User routes' questions to the ACL engine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/access.h"
#include "api/api.h"
#include "api/app.h"

bool access_has_role(const request *r, const char *role)
{
    return r->who.user_id != 0 && acl_has_role(r->app->acl, r->who.user_id, role);
}

void access_deny(const request *r, response *res)
{
    if (principal_is_anonymous(&r->who) || r->app->cfg->server.acl_error_status != 403)
        res_fixed(res, RES_AUTHORIZATION_REQUIRED);
    else
        res_fixed(res, RES_ACCESS_DENIED);
}

bool access_user_id(const request *r, const char *segment, int64_t *id, response *res)
{
    if (principal_is_anonymous(&r->who)) {
        access_deny(r, res);
        return false;
    }
    if (strcasecmp(segment, "me") == 0) {
        *id = r->who.user_id;
        return true;
    }
    char *end;
    errno = 0;
    long long v = strtoll(segment, &end, 10);
    *id = (*segment && *end == '\0' && errno == 0 && v > 0) ? v : 0;
    return true;
}

typedef struct account {
    const request *r;
    int64_t id;
} account;

static bool owns_account(void *ctx)
{
    const account *a = ctx;
    return a->id != 0 && a->r->who.user_id == a->id;
}

bool access_user_method(const request *r, int64_t id, const char *method, response *res)
{
    const app *a = r->app;
    account acc = {r, id};
    const model_def *user = models_by_name(a->models, "User");
    switch (acl_check(a->acl, user, method, acl_access_of(method), &r->who, owns_account, &acc)) {
    case ACL_ALLOWED:
        return true;
    case ACL_UNAVAILABLE:
        api_store_failure(res, STORE_UNAVAILABLE);
        return false;
    case ACL_DENIED:
        break;
    }
    access_deny(r, res);
    return false;
}
