/*
 * access.h — the ACL engine, as the User routes ask it.
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

/* True when the caller has the role (cached by the ACL engine). */
bool access_has_role(const request *r, const char *role);

/* Sets res to the denial for this caller. */
void access_reply_denied(const request *r, response *res);

/* LoopBack's /users/me: the one test for "me", the caller's own account. */
bool access_names_me(const char *segment);

/*
 * Resolves a user id path segment ("me" is the caller) into *id; 0 when the
 * segment names no user. False, with res set, when the caller is anonymous.
 */
bool access_user_id_or_reply(const request *r, const char *segment, int64_t *id, response *res);

/*
 * Asks the ACL engine whether the caller may run User's method on user id
 * (0: no particular user); the caller owns the account whose id it has.
 * Otherwise sets the denial in res.
 */
bool access_user_method_or_reply(const request *r, int64_t id, const char *method, response *res);

#endif
