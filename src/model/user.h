/*
 * user.h — the User model: which properties it has, what makes them valid,
 * and how a user looks in JSON (never with its password).
 */
#ifndef TESSERA_USER_H
#define TESSERA_USER_H

#include <jansson.h>
#include <stdbool.h>

#include "model/validation.h"
#include "store/store.h"

/* Emails are kept and looked up lowercased: one address, one account. */
void user_email_lower(const char *in, char out[STORE_EMAIL_MAX + 1]);

/* True when s is an acceptable email address (a deliberately plain check). */
bool user_email_valid(const char *s);

/*
 * Validates the properties in body for a new user (creating = true) or for
 * an update (only the properties present are checked), adding each failure
 * to v. Uniqueness is the store's to check.
 */
void user_validate(const json_t *body, bool creating, validation *v);

/*
 * Copies body's properties into *u: email (lowercased), username, and every
 * property that is not built in into u->extra (merged over what u had; a null
 * value removes it). Returns the STORE_USER_* mask of what changed. The
 * password is not copied: it is hashed by the caller.
 */
unsigned user_apply(const json_t *body, store_user *u);

/* The user as the API shows it. */
json_t *user_to_json(const store_user *u);

#endif
