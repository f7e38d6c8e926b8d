/*
 * user.h — the User model: which properties it has, what makes them valid,
 * and how a user looks in JSON (never with its password).
 */
#ifndef TESSERA_USER_H
#define TESSERA_USER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/validation.h"

/* The account record and its limits: defined here, below the store, so the
 * User rules work on it without looking up; the store keeps it (store.h). */
#define STORE_EMAIL_MAX    254
#define STORE_USERNAME_MAX 128

typedef struct store_user {
    int64_t id;
    char email[STORE_EMAIL_MAX + 1];
    char username[STORE_USERNAME_MAX + 1];   /* "" when none          */
    char password[128];                      /* argon2id hash string  */
    bool email_verified;
    char *extra;       /* JSON object text of other properties, or NULL;
                          owned by the struct, freed by store_user_clear  */
    int64_t created_ms;
    int64_t cred_version; /* bumped by every change of email or password */
} store_user;

/* Which user fields store_user_update writes. */
enum {
    STORE_USER_EMAIL    = 1 << 0,
    STORE_USER_USERNAME = 1 << 1,
    STORE_USER_PASSWORD = 1 << 2,
    STORE_USER_EXTRA    = 1 << 3,
    STORE_USER_VERIFIED = 1 << 4,
    /* with STORE_USER_PASSWORD: the same password hashed again at another
       cost; guarded by the credential version like a change, not bumping it */
    STORE_USER_REHASH   = 1 << 5,
};
/* The fields that are credentials: writing them is guarded and bumps the version. */
#define STORE_USER_CREDENTIALS (STORE_USER_EMAIL | STORE_USER_PASSWORD)

/* The form an email is kept and looked up in: lowercased (one address, one
 * account), or as sent with keep_case (auth.caseSensitiveEmail, LoopBack's
 * caseSensitiveEmail: exact matches only). */
void user_email_key(const char *in, bool keep_case, char out[STORE_EMAIL_MAX + 1]);

/* True when s is an acceptable email address (a deliberately plain check). */
bool user_email_valid(const char *s);

/*
 * Validates the properties in body for a new user (creating = true) or for
 * an update (only the properties present are checked), adding each failure
 * to v. Uniqueness is the store's to check.
 */
void user_validate(const json_t *body, bool creating, validation *v);

/*
 * Copies body's properties into *u: email (as user_email_key), username, and every
 * property that is not built in into u->extra (merged over what u had; a null
 * value removes it). Returns the STORE_USER_* mask of what changed. The
 * password is not copied: it is hashed by the caller.
 */
unsigned user_apply(const json_t *body, bool keep_case, store_user *u);

/* The user as the API shows it: model_row_json over the User model, as
 * every row read of the store (model/rowjson.h). */
json_t *user_to_json(const store_user *u);

#endif
