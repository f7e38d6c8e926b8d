/*
 * access.c — owner-or-admin checks for the account routes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/access.h"
#include "core/app.h"

typedef struct role_probe {
    const char *want;
    bool found;
} role_probe;

static void probe_role(const char *role, void *ctx)
{
    role_probe *p = ctx;
    if (strcmp(role, p->want) == 0)
        p->found = true;
}

bool access_has_role(const request *r, const char *role)
{
    if (r->who.user_id == 0)
        return false;
    store_t *st = r->app->store;
    role_probe p = {role, false};
    st->ops->user_roles(st, r->who.user_id, probe_role, &p);
    return p.found;
}

void access_deny(const request *r, response *res)
{
    if (principal_is_anonymous(&r->who) || r->app->cfg->server.acl_error_status != 403)
        res_error(res, 401, "AUTHORIZATION_REQUIRED", "Authorization Required");
    else
        res_error(res, 403, "ACCESS_DENIED", "Access Denied");
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

bool access_owner_or_admin(const request *r, int64_t id, response *res, bool *is_admin)
{
    bool admin = false;
    if (id == 0 || r->who.user_id != id)
        admin = access_has_role(r, "admin");
    if (is_admin)
        *is_admin = admin;
    if (admin || (id != 0 && r->who.user_id == id))
        return true;
    access_deny(r, res);
    return false;
}
