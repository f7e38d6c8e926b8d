/*
 * user.c — the User model's rules and shape.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/builtin.h"
#include "model/rowjson.h"
#include "model/user.h"

/* Properties with a meaning of their own: the User model's declared ones,
 * and LoopBack's verificationToken (ignored). Everything else is kept as is. */
static bool is_built_in(const char *key)
{
    return model_prop_named(models_builtin_user(), key) != NULL || strcmp(key, "verificationToken") == 0;
}

bool user_email_valid(const char *s)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len == 0 || len > STORE_EMAIL_MAX || at == NULL || at == s || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>' || *p == ',' || *p == ';')
            return false;
    const char *domain = at + 1;
    size_t dlen = strlen(domain);
    return (size_t)(at - s) <= 64 && dlen >= 3 && strchr(domain, '.') && domain[0] != '.' &&
           domain[dlen - 1] != '.' && strstr(domain, "..") == NULL;
}

static bool blank(const json_t *v)
{
    return v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

static void validate_email(const json_t *v, bool creating, validation *out)
{
    if (!creating && v == NULL)
        return;
    if (blank(v))
        validation_add(out, "email", "presence", "can't be blank", NULL);
    else if (!json_is_string(v) || !user_email_valid(json_string_value(v)))
        validation_add(out, "email", "format", "Must provide a valid email", (json_t *)v);
}

static void validate_username(const json_t *v, validation *out)
{
    if (v == NULL || json_is_null(v))
        return;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > STORE_USERNAME_MAX)
        validation_add(out, "username", "format", "must be a string of 1 to 128 characters", NULL);
}

static void validate_password(const json_t *v, bool creating, validation *out)
{
    if (!creating && v == NULL)
        return;
    if (blank(v))
        validation_add(out, "password", "presence", "can't be blank", NULL);
    else if (!json_is_string(v))
        validation_add(out, "password", "format", "must be a string", NULL);
}

void user_validate(const json_t *body, bool creating, validation *v)
{
    validate_email(json_object_get(body, "email"), creating, v);
    validate_username(json_object_get(body, "username"), v);
    validate_password(json_object_get(body, "password"), creating, v);
}

static void lowercase_into(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

/* Merges body's non-built-in properties into the JSON text u->extra. */
static bool merge_extra(const json_t *body, store_user *u)
{
    json_t *extra = u->extra ? json_loads(u->extra, 0, NULL) : NULL;
    if (!json_is_object(extra)) {
        json_decref(extra);
        extra = json_object();
    }
    bool changed = false;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)body, key, val) {
        if (is_built_in(key))
            continue;
        if (json_is_null(val))
            json_object_del(extra, key);
        else
            json_object_set(extra, key, val);
        changed = true;
    }
    if (changed) {
        free(u->extra);
        u->extra = json_object_size(extra) ? json_dumps(extra, JSON_COMPACT) : NULL;
    }
    json_decref(extra);
    return changed;
}

void user_email_key(const char *in, bool keep_case, char out[STORE_EMAIL_MAX + 1])
{
    if (keep_case)
        snprintf(out, STORE_EMAIL_MAX + 1, "%s", in);
    else
        lowercase_into(out, STORE_EMAIL_MAX + 1, in);
}

unsigned user_apply(const json_t *body, bool keep_case, store_user *u)
{
    unsigned fields = 0;
    const json_t *email = json_object_get(body, "email");
    if (json_is_string(email)) {
        char lower[sizeof u->email];
        user_email_key(json_string_value(email), keep_case, lower);
        if (strcmp(lower, u->email) != 0) {
            memcpy(u->email, lower, sizeof lower);
            fields |= STORE_USER_EMAIL;
        }
    }
    const json_t *username = json_object_get(body, "username");
    if (username) {
        const char *name = json_is_string(username) ? json_string_value(username) : "";
        if (strcmp(name, u->username) != 0) {
            snprintf(u->username, sizeof u->username, "%s", name);
            fields |= STORE_USER_USERNAME;
        }
    }
    if (merge_extra(body, u))
        fields |= STORE_USER_EXTRA;
    return fields;
}

static model_cell text_cell(const char *s)
{
    return (model_cell){.kind = MC_TEXT, .text = s, .len = strlen(s)};
}

/* A store_user's fields as the User model's columns hold them: what the
 * store's row read gets from the users table, property by property. */
static model_cell user_cell(void *ctx, size_t i, const model_prop *p)
{
    (void)i;
    const store_user *u = ctx;
    if (strcmp(p->name, "id") == 0)
        return (model_cell){.kind = MC_INT, .i = u->id};
    if (strcmp(p->name, "email") == 0)
        return text_cell(u->email);
    if (strcmp(p->name, "username") == 0 && u->username[0])
        return text_cell(u->username);
    if (strcmp(p->name, "emailVerified") == 0)
        return (model_cell){.kind = MC_BOOL, .i = u->email_verified};
    return (model_cell){.kind = MC_NULL}; /* no username; the hidden password is never asked */
}

/* The user through the one row shaper the store's reads use too, over the
 * User model's schema: the same bytes as GET /api/users/{id}. */
json_t *user_to_json(const store_user *u)
{
    return model_row_json(models_builtin_user(), NULL, 0, user_cell, (void *)u, u->extra);
}
