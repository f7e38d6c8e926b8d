/*
 * access.h — who may touch a user's account: the user (owner) or an admin.
 *
 * Denials follow LoopBack 3: an anonymous caller gets 401
 * AUTHORIZATION_REQUIRED; an authenticated one gets server.aclErrorStatus
 * (401 AUTHORIZATION_REQUIRED by default, as LoopBack, or 403 ACCESS_DENIED).
 */
#ifndef TESSERA_ACCESS_H
#define TESSERA_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"

/* True when the caller has the role (looked up in the store). */
bool access_has_role(const request *r, const char *role);

/* Sets res to the denial for this caller. */
void access_deny(const request *r, response *res);

/*
 * Resolves a user id path segment ("me" is the caller) into *id; 0 when the
 * segment names no user. False, with res set, when the caller is anonymous.
 */
bool access_user_id(const request *r, const char *segment, int64_t *id, response *res);

/*
 * True when the caller owns user id or is an admin; otherwise sets the
 * denial in res. *is_admin tells which (may be NULL).
 */
bool access_owner_or_admin(const request *r, int64_t id, response *res, bool *is_admin);

#endif
