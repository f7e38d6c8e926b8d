/*
 * scope.h — what an API token (issue 14) may do, narrower than its user.
 *
 * A token's type narrows every ACL decision, never widens it: the ACL
 * engine decides first, as for the token's user, and a scope can only turn
 * an ALLOW into a refusal (403 TOKEN_SCOPE_DENIED, naming the missing
 * permission "Model.method").
 *
 *   read-only    READ methods only (find, findById, findOne, exists, count,
 *                and the relations' __get__, __count__, __findById__, ...)
 *   full-access  whatever the user may do
 *   custom       the listed permissions: "Model.method" or "Model.*", method
 *                by any of its LoopBack names (patchAttributes is also
 *                updateAttributes)
 *
 * Whatever the type, an API token may not administer: manage API tokens,
 * applications, roles, role mappings or ACLs, nor change its user's password
 * or email, unless it is full-access and apiTokens.fullAccessMayAdminister is
 * on (scope_administrative).
 */
#ifndef TESSERA_SCOPE_H
#define TESSERA_SCOPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/schema.h"

typedef enum scope_type {
    SCOPE_UNRESTRICTED = 0, /* a login token */
    SCOPE_READ_ONLY,
    SCOPE_FULL_ACCESS,
    SCOPE_CUSTOM,
} scope_type;

/* A principal's scopes (auth/principal.h): an API token's type in the low
 * byte and its id above; 0 for a login token. */
#include <stdint.h>
static inline uint64_t scope_encode(scope_type t, int64_t key_id)
{
    return ((uint64_t)key_id << 8) | (uint64_t)t;
}
static inline scope_type scope_type_of(uint64_t scopes)
{
    return (scope_type)(scopes & 0xFF);
}
static inline int64_t scope_key_id(uint64_t scopes)
{
    return (int64_t)(scopes >> 8);
}

/* "read-only", "full-access", "custom" -> the type; -1 for anything else. */
int scope_type_parse(const char *name);
const char *scope_type_name(scope_type t);

#define SCOPE_MAX_ENTRIES 256
#define SCOPE_ENTRY_MAX   200

/*
 * Checks a custom permissions list against the registry: an array of at
 * most SCOPE_MAX_ENTRIES strings, each "Model.method" or "Model.*" where
 * Model is a model and method one it answers (a standard method, a method
 * of one of its relations, or User's login, logout, changePassword).
 * Returns -1 when it is acceptable; else the index of the first bad entry
 * (or 0 for a list that is not an array) with the reason in err.
 */
int scope_list_check(const model_registry *r, const json_t *list, char *err, size_t errlen);

/*
 * Whether a token of type t (entries: its custom list) may call method of
 * model m. When not, writes the missing permission ("Widget.create") to
 * missing.
 */
bool scope_allows(scope_type t, const json_t *entries, const model_def *m, const char *method,
                  char *missing, size_t missinglen);

/* Whether calling method of m administers (see above). */
bool scope_administrative(const model_def *m, const char *method);

/* Whether a write of body to a User changes its credentials (email, password). */
bool scope_body_administrative(const json_t *body);

#endif
