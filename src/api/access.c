/*
 * access.c — who the caller is: roles, denials, the user a segment names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/access.h"
#include "api/api.h"
#include "api/app.h"

bool access_has_role(const api_call *c, const char *role)
{
    return acl_caller_has_role(c->app->acl, &c->who, role);
}

void access_reply_denied(const api_call *c)
{
    if (principal_is_anonymous(&c->who) || c->app->cfg->server.acl_error_status != 403)
        res_fixed(c->res, RES_AUTHORIZATION_REQUIRED);
    else
        res_fixed(c->res, RES_ACCESS_DENIED);
}

int64_t access_user_named(const principal *who, const char *segment)
{
    if (strcasecmp(segment, "me") == 0)
        return who->user_id;
    char *end;
    errno = 0;
    long long v = strtoll(segment, &end, 10);
    return (*segment && *end == '\0' && errno == 0 && v > 0) ? v : 0;
}

acl_policy access_policy(const config *cfg)
{
    static const acl_rule apps_by_users = {
        .model = (char *)"Application", .property = (char *)"create", .access = ACC_ALL,
        .ptype = PTYPE_ROLE, .pid = (char *)"$authenticated", .perm = PERM_ALLOW,
    };
    return (acl_policy){
        .default_allow = cfg->acl_default_allow,
        .sandbox = cfg->sandbox,
        .rules = cfg->apps_create_authenticated ? &apps_by_users : NULL,
        .nrules = cfg->apps_create_authenticated ? 1 : 0,
    };
}
