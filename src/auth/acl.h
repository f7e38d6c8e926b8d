/*
 * acl.h — may this caller call this method of this model?
 *
 * LoopBack 3's rules: every rule that matches the model, the method (or its
 * access type) and the caller's principals is ranked by specificity — exact
 * property over "*", exact access type over "*", USER over APP over ROLE —
 * and the most specific wins; at equal specificity DENY wins. No matching
 * rule: the configured default (DENY: secure by default). The "admin" role
 * is allowed everything.
 *
 * Rules come from the model definitions (static, in the registry) and from
 * the ACL model (dynamic, cached here, reloaded after acl_invalidate). Roles
 * of a user come from role mappings, cached per user, dropped by
 * acl_invalidate. Built-in roles: $everyone, $unauthenticated,
 * $authenticated, $owner.
 */
#ifndef TESSERA_ACL_H
#define TESSERA_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/principal.h"
#include "model/schema.h"
#include "store/store.h"

typedef struct acl_engine acl_engine;

/* default_allow: LoopBack's old default when no rule matches. */
acl_engine *acl_new(const model_registry *models, store_t *store, bool default_allow);

/*
 * What the config adds to the rules, fixed at start (issue 13).
 * sandbox: Usergrid's sandbox application, where the guest role may do
 * everything: every method of every DECLARED model is allowed to every
 * caller, whatever the rules say; a built-in model (users, tokens,
 * applications, roles, mappings, ACLs, API tokens), or a relation method
 * reaching one, is decided by the rules as always. rules: rules of the
 * config (e.g. applications.create), ranked with the others; the caller
 * keeps them alive while the engine lives.
 */
typedef struct acl_policy {
    bool default_allow;
    bool sandbox;
    const acl_rule *rules;
    size_t nrules;
} acl_policy;

acl_engine *acl_new_with(const model_registry *models, store_t *store, const acl_policy *policy);

/* True when the sandbox opens this method of this model to everyone: the
 * one place that says which models the sandbox reaches. */
bool acl_sandbox_opens(const model_def *m, const char *method);
void acl_free(acl_engine *a);

/* Forgets cached dynamic rules and role mappings (after writes to ACL,
 * Role or RoleMapping). Cheap: the next check reloads them. */
void acl_invalidate(acl_engine *a);

/*
 * Whether the caller is the owner of the instance being accessed: the
 * request layer knows how to tell (it may need to read the instance), so it
 * passes a callback; NULL when the method concerns no single instance.
 */
typedef bool (*acl_owner_fn)(void *ctx);

typedef enum acl_result { ACL_ALLOWED, ACL_DENIED, ACL_UNAVAILABLE } acl_result;

acl_result acl_check(acl_engine *a, const model_def *m, const char *method, acl_access access,
                     const principal *who, acl_owner_fn is_owner, void *owner_ctx);

/*
 * Who the caller is, as far as the rules care: the pure core below needs
 * nothing else. Built-in roles are derived: $everyone always,
 * $authenticated when user_id or app_id is set ($unauthenticated
 * otherwise), $owner when is_owner says so (asked at most once, and only
 * when a $owner rule could decide the outcome).
 */
typedef struct acl_caller {
    int64_t user_id;           /* 0: no user                               */
    int64_t app_id;            /* 0: no application                        */
    const char *const *roles;  /* custom roles held (role mappings)        */
    size_t nroles;
    acl_owner_fn is_owner;     /* NULL: owns nothing                       */
    void *owner_ctx;
} acl_caller;

/*
 * The pure core: the permission the rules give `who` for `method` (of
 * access type `access`) on `model`. A rule applies when its model is
 * `model` or "*" (NULL: the model that declares it), its property is
 * `method` (or a LoopBack alias of it) or "*", its access type is `access`
 * or ACC_ALL, and its principal is the caller. Highest LoopBack 3 score
 * wins: model, then property, then access type (exact over "*"), then
 * USER > APP > ROLE, then among roles custom > $owner >
 * $authenticated/$unauthenticated > $everyone; at equal rank DENY wins.
 * No rule applies: PERM_ALLOW when default_allow, else PERM_DENY.
 */
acl_perm acl_decide(const acl_rule *const *rules, size_t n, const char *model, const char *method,
                    acl_access access, const acl_caller *who, bool default_allow);

/* True when the user has the role (custom roles and "admin"; cached). */
bool acl_has_role(acl_engine *a, int64_t user_id, const char *role);

/* The same for whoever calls: a user, or an application alone (by its APP
 * role mappings: Usergrid's application admin is one mapped to "admin"). */
bool acl_caller_has_role(acl_engine *a, const principal *who, const char *role);

/* The access type of a REST method, as LoopBack maps them. */
acl_access acl_access_of(const char *method);

/* For API-token scopes (auth/scope.c). One of LoopBack's standard methods
 * (find, create, patchAttributes, ...), any of its names. */
bool acl_standard_method(const char *method);
/* A relation method ("__get__accessTokens"): *rel points at its relation. */
bool acl_relation_method(const char *method, const char **rel);
/* The same method, perhaps by another of its LoopBack names. */
bool acl_same_method(const char *a, const char *b);

#endif
