/*
 * scope.c — API-token types and permission lists (see scope.h).
 */
#include "auth/scope.h"

#include <stdio.h>
#include <string.h>

#include "auth/acl.h"

static const char *const TYPE_NAMES[] = {
    [SCOPE_UNRESTRICTED] = "unrestricted",
    [SCOPE_READ_ONLY] = "read-only",
    [SCOPE_FULL_ACCESS] = "full-access",
    [SCOPE_CUSTOM] = "custom",
};

int scope_type_parse(const char *name)
{
    for (int t = SCOPE_READ_ONLY; name && t <= SCOPE_CUSTOM; t++)
        if (strcmp(name, TYPE_NAMES[t]) == 0)
            return t;
    return -1;
}

const char *scope_type_name(scope_type t)
{
    return (unsigned)t <= SCOPE_CUSTOM ? TYPE_NAMES[t] : "?";
}

/* User's own remote methods, beyond the standard ones. */
static bool user_method(const char *method)
{
    static const char *const names[] = {"login", "logout", "changePassword", NULL};
    for (const char *const *n = names; *n; n++)
        if (strcmp(*n, method) == 0)
            return true;
    return false;
}

static bool has_relation(const model_def *m, const char *name)
{
    for (size_t i = 0; i < m->nrels; i++)
        if (strcmp(m->rels[i].name, name) == 0)
            return true;
    return false;
}

/* A method m answers, by any of its names. */
static bool known_method(const model_def *m, const char *method)
{
    const char *rel;
    if (strcmp(method, "*") == 0 || acl_standard_method(method))
        return true;
    if (acl_relation_method(method, &rel))
        return has_relation(m, rel);
    return m->kind == MODEL_USER && user_method(method);
}

/* One entry: "Model.method" or "Model.*". */
static bool entry_ok(const model_registry *r, const char *e, char *err, size_t errlen)
{
    const char *dot = strchr(e, '.');
    char model[SCOPE_ENTRY_MAX + 1];
    size_t n = dot ? (size_t)(dot - e) : 0;
    if (dot == NULL || n == 0 || n > SCOPE_ENTRY_MAX || dot[1] == '\0' || strchr(dot + 1, '.')) {
        snprintf(err, errlen, "\"%.*s\" is not Model.method or Model.*", SCOPE_ENTRY_MAX, e);
        return false;
    }
    memcpy(model, e, n);
    model[n] = '\0';
    const model_def *m = models_by_name(r, model);
    if (m == NULL) {
        snprintf(err, errlen, "\"%.*s\": no model is named %s", SCOPE_ENTRY_MAX, e, model);
        return false;
    }
    if (!known_method(m, dot + 1)) {
        snprintf(err, errlen, "\"%.*s\": %s has no method %.*s", SCOPE_ENTRY_MAX, e, model,
                 SCOPE_ENTRY_MAX, dot + 1);
        return false;
    }
    return true;
}

int scope_list_check(const model_registry *r, const json_t *list, char *err, size_t errlen)
{
    if (!json_is_array(list)) {
        snprintf(err, errlen, "permissions must be an array of \"Model.method\" strings");
        return 0;
    }
    if (json_array_size(list) > SCOPE_MAX_ENTRIES) {
        snprintf(err, errlen, "at most %d permissions", SCOPE_MAX_ENTRIES);
        return SCOPE_MAX_ENTRIES;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        const char *e = json_string_value(v);
        if (e == NULL || strlen(e) > SCOPE_ENTRY_MAX) {
            snprintf(err, errlen, "permissions[%zu] must be a string of at most %d characters", i,
                     SCOPE_ENTRY_MAX);
            return (int)i;
        }
        if (!entry_ok(r, e, err, errlen))
            return (int)i;
    }
    return -1;
}

/* "Model.method" or "Model.*" names method of m. */
static bool entry_grants(const char *e, const model_def *m, const char *method)
{
    size_t n = strlen(m->name);
    if (strncmp(e, m->name, n) != 0 || e[n] != '.')
        return false;
    return strcmp(e + n + 1, "*") == 0 || acl_same_method(e + n + 1, method);
}

bool scope_allows(scope_type t, const json_t *entries, const model_def *m, const char *method,
                  char *missing, size_t missinglen)
{
    bool ok = false;
    switch (t) {
    case SCOPE_UNRESTRICTED:
    case SCOPE_FULL_ACCESS:
        return true;
    case SCOPE_READ_ONLY:
        ok = acl_access_of(method) == ACC_READ;
        break;
    case SCOPE_CUSTOM: {
        size_t i;
        const json_t *v;
        json_array_foreach(entries, i, v) {
            const char *e = json_string_value(v);
            if (e && entry_grants(e, m, method)) {
                ok = true;
                break;
            }
        }
        break;
    }
    }
    if (!ok)
        snprintf(missing, missinglen, "%s.%s", m->name, method);
    return ok;
}

/* Models whose every method administers the server or its accounts. */
static bool administrative_model(const char *name)
{
    static const char *const names[] = {"ApiToken", "Application", "Role", "RoleMapping", "ACL", NULL};
    for (const char *const *n = names; *n; n++)
        if (strcmp(*n, name) == 0)
            return true;
    return false;
}

bool scope_administrative(const model_def *m, const char *method)
{
    const char *rel;
    if (administrative_model(m->name))
        return true;
    if (acl_relation_method(method, &rel) && strcmp(rel, "apiTokens") == 0)
        return true;
    return m->kind == MODEL_USER && strcmp(method, "changePassword") == 0;
}

bool scope_body_administrative(const json_t *body)
{
    return json_object_get(body, "email") != NULL || json_object_get(body, "password") != NULL;
}
