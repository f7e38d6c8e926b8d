/*
 * builtin.h — inside src/model only: builtin.c hands its models to schema.c
 * (and the User model to user.c).
 */
#ifndef TESSERA_BUILTIN_H
#define TESSERA_BUILTIN_H

#include "model/schema.h"

/* User, AccessToken, Role, RoleMapping, ACL, Application, ApiToken: the first models of a registry. */
#define MODELS_BUILTIN_COUNT 7

/*
 * Fills defs[0 .. MODELS_BUILTIN_COUNT) with the built-in models, every
 * string and array on the heap as models_free expects. Relation targets and
 * owner_fk are left for models_load to resolve, as for declared models.
 */
void models_builtin_fill(model_def *defs);

/*
 * The User model alone, as every registry has it (config cannot redeclare
 * it): for user_to_json, which shapes a user where no registry is at hand
 * (the account routes' store_user, the CLI). Built on first use, kept for
 * the life of the process; safe from any thread.
 */
const model_def *models_builtin_user(void);

#endif
