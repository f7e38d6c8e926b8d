/*
 * access.h — who the caller is, as the handlers ask it: roles, denials,
 * the user a path segment names.
 *
 * Denials follow LoopBack 3: an anonymous caller gets 401
 * AUTHORIZATION_REQUIRED; an authenticated one gets server.aclErrorStatus
 * (401 AUTHORIZATION_REQUIRED by default, as LoopBack, or 403 ACCESS_DENIED).
 */
#ifndef TESSERA_ACCESS_H
#define TESSERA_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/call.h"
#include "auth/acl.h"
#include "core/config.h"

/* True when the caller has the role (cached by the ACL engine). */
bool access_has_role(const api_call *c, const char *role);

/* Sets c->res to the denial for this caller. */
void access_reply_denied(const api_call *c);

/*
 * The user a path segment names: the caller for "me" (LoopBack's
 * /users/me; 0 when anonymous), else the positive integer it spells
 * ("5", "05", "+5"); 0 when it names no user. The one "me" resolver.
 */
int64_t access_user_named(const principal *who, const char *segment);

/*
 * The ACL engine's policy as the config sets it: acl.defaultPermission,
 * the sandbox, and the rules settings stand for (applications.create:
 * "$authenticated" is the rule "ROLE $authenticated ALLOW create on
 * Application", ranked with every other rule). Static storage: valid for
 * the life of the process.
 */
acl_policy access_policy(const config *cfg);

#endif
