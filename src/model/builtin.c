/*
 * builtin.c — the five models every registry starts with: User, AccessToken,
 * Role, RoleMapping and ACL, with the tables and columns the store already
 * has (see store/sqlite.c) and LoopBack 3's default ACLs.
 *
 * Each model is a row of constant tables below; models_builtin_fill copies
 * them onto the heap so that models_free treats them like declared models.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "model/builtin.h"

enum {
    F_ID = 1 << 0,       /* the model's id                       */
    F_REQ = 1 << 1,      /* required                             */
    F_INDEX = 1 << 2,
    F_UNIQUE = 1 << 3,
    F_HIDDEN = 1 << 4,   /* never shown, never filterable        */
    F_RO = 1 << 5,       /* not writable through the API         */
    F_MS = 1 << 6,       /* a date kept as integer milliseconds  */
    F_TEXT_ID = 1 << 7,  /* the id is text                       */
};

typedef struct bprop {
    const char *name, *column;
    prop_type type;
    unsigned flags;
    const char *def;     /* a string default, or NULL */
} bprop;

typedef struct brel {
    const char *name;
    rel_type type;
    const char *model, *fk;
} brel;

/* Every built-in rule names a ROLE principal and any access type. */
typedef struct bacl {
    const char *property, *role;
    acl_perm perm;
} bacl;

typedef struct bmodel {
    const char *name, *plural, *table;
    model_kind kind;
    const bprop *props;
    size_t nprops;
    const brel *rels;
    size_t nrels;
    const bacl *acls;
    size_t nacls;
    const char *extra_column;
} bmodel;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define ID_PROP { "id", "id", PT_NUMBER, F_ID | F_RO, NULL }

static const bprop user_props[] = {
    ID_PROP,
    { "email", "email", PT_STRING, F_REQ | F_UNIQUE, NULL },
    { "username", "username", PT_STRING, F_UNIQUE, NULL },
    { "password", "password", PT_STRING, F_REQ | F_HIDDEN, NULL },
    { "emailVerified", "email_verified", PT_BOOLEAN, 0, NULL },
};
static const brel user_rels[] = {
    { "accessTokens", REL_HAS_MANY, "AccessToken", "userId" },
};
static const bacl user_acls[] = {
    { "*", "$everyone", PERM_DENY },
    { "create", "$everyone", PERM_ALLOW },
    { "login", "$everyone", PERM_ALLOW },
    { "logout", "$everyone", PERM_ALLOW },
    { "findById", "$owner", PERM_ALLOW },
    { "patchAttributes", "$owner", PERM_ALLOW },
    { "deleteById", "$owner", PERM_ALLOW },
    { "changePassword", "$authenticated", PERM_ALLOW },
    { "__get__accessTokens", "$owner", PERM_ALLOW },
    { "__count__accessTokens", "$owner", PERM_ALLOW },
    { "__delete__accessTokens", "$owner", PERM_ALLOW },
    { "__destroyById__accessTokens", "$owner", PERM_ALLOW },
};

/* The public handle is the id; the secret's hash is only ever looked up. */
static const bprop token_props[] = {
    { "id", "handle", PT_STRING, F_ID | F_RO | F_UNIQUE | F_TEXT_ID, NULL },
    { "ttl", "ttl", PT_NUMBER, 0, NULL },
    { "created", "created_ms", PT_DATE, F_RO | F_MS, NULL },
    { "userId", "user_id", PT_NUMBER, F_INDEX, NULL },
    { "lastUsed", "last_used_ms", PT_DATE, F_RO | F_MS, NULL },
    { "hash", "hash", PT_STRING, F_HIDDEN | F_RO, NULL },
};
static const brel token_rels[] = {
    { "user", REL_BELONGS_TO, "User", "userId" },
};
static const bacl token_acls[] = {
    { "*", "$everyone", PERM_DENY },
    { "create", "$everyone", PERM_ALLOW },
};

static const bprop role_props[] = {
    ID_PROP,
    { "name", "name", PT_STRING, F_REQ | F_UNIQUE, NULL },
    { "description", "description", PT_STRING, 0, NULL },
    { "created", "created_ms", PT_DATE, F_RO | F_MS, NULL },
};

static const bprop mapping_props[] = {
    ID_PROP,
    { "principalType", "principal_type", PT_STRING, F_REQ, NULL },
    { "principalId", "principal_id", PT_STRING, F_REQ, NULL },
    { "roleId", "role_id", PT_NUMBER, F_REQ, NULL },
};
static const brel mapping_rels[] = {
    { "role", REL_BELONGS_TO, "Role", "roleId" },
};

static const bprop acl_props[] = {
    ID_PROP,
    { "model", "model", PT_STRING, F_REQ, NULL },
    { "property", "property", PT_STRING, 0, "*" },
    { "accessType", "access_type", PT_STRING, 0, "*" },
    { "principalType", "principal_type", PT_STRING, F_REQ, NULL },
    { "principalId", "principal_id", PT_STRING, F_REQ, NULL },
    { "permission", "permission", PT_STRING, F_REQ, NULL },
};

/* Role, RoleMapping, ACL: nobody but an admin (who is allowed everything). */
static const bacl admin_only_acls[] = {
    { "*", "$everyone", PERM_DENY },
};

/* ---- Application (issue 13): a client id shown to all, a secret kept only
 * as its hash (api/applications.c mints both). The owner manages their own. */
static const bprop application_props[] = {
    ID_PROP,
    { "name", "name", PT_STRING, F_REQ | F_UNIQUE, NULL },
    { "description", "description", PT_STRING, 0, NULL },
    { "ownerId", "owner_id", PT_NUMBER, F_INDEX, NULL },
    { "status", "status", PT_STRING, 0, "active" },
    { "clientId", "client_id", PT_STRING, F_RO | F_UNIQUE, NULL },
    { "created", "created_ms", PT_DATE, F_RO | F_MS, NULL },
    { "modified", "modified_ms", PT_DATE, F_RO | F_MS, NULL },
    { "secretHash", "secret_hash", PT_STRING, F_HIDDEN | F_RO, NULL },
};
static const brel application_rels[] = {
    { "owner", REL_BELONGS_TO, "User", "ownerId" },
};
static const bacl application_acls[] = {
    { "*", "$everyone", PERM_DENY },
    { "findById", "$owner", PERM_ALLOW },
    { "patchAttributes", "$owner", PERM_ALLOW },
    { "deleteById", "$owner", PERM_ALLOW },
    { "rotateSecret", "$owner", PERM_ALLOW },
};

/* API tokens (issue 14): the key's hash is only ever looked up, never shown;
 * managed at /api/users/{id}/apiTokens (api/apitokens.c), listed and revoked
 * by admins at /api/apiTokens. */
static const bprop api_token_props[] = {
    ID_PROP,
    { "name", "name", PT_STRING, F_REQ, NULL },
    { "description", "description", PT_STRING, 0, NULL },
    { "userId", "user_id", PT_NUMBER, F_INDEX | F_RO, NULL },
    { "type", "type", PT_STRING, F_RO, NULL },
    { "permissions", "permissions", PT_ARRAY, 0, NULL },
    { "prefix", "prefix", PT_STRING, F_RO, NULL },
    { "created", "created_ms", PT_DATE, F_RO | F_MS, NULL },
    { "expiresAt", "expires_ms", PT_DATE, F_RO | F_MS, NULL },
    { "lastUsed", "last_used_ms", PT_DATE, F_RO | F_MS, NULL },
};
static const brel api_token_rels[] = {
    { "user", REL_BELONGS_TO, "User", "userId" },
};

static const bmodel builtins[MODELS_BUILTIN_COUNT] = {
    { "User", "users", "users", MODEL_USER, user_props, COUNT(user_props), user_rels,
      COUNT(user_rels), user_acls, COUNT(user_acls), "extra" },
    { "AccessToken", "accessTokens", "access_tokens", MODEL_ACCESS_TOKEN, token_props,
      COUNT(token_props), token_rels, COUNT(token_rels), token_acls, COUNT(token_acls), NULL },
    { "Role", "roles", "roles", MODEL_ROLE, role_props, COUNT(role_props), NULL, 0,
      admin_only_acls, COUNT(admin_only_acls), NULL },
    { "RoleMapping", "roleMappings", "role_mappings", MODEL_ROLE_MAPPING, mapping_props,
      COUNT(mapping_props), mapping_rels, COUNT(mapping_rels), admin_only_acls,
      COUNT(admin_only_acls), NULL },
    { "ACL", "acls", "acls", MODEL_ACL, acl_props, COUNT(acl_props), NULL, 0,
      admin_only_acls, COUNT(admin_only_acls), NULL },
    { "Application", "applications", "applications", MODEL_APPLICATION, application_props,
      COUNT(application_props), application_rels, COUNT(application_rels), application_acls,
      COUNT(application_acls), NULL },
    { "ApiToken", "apiTokens", "api_tokens", MODEL_API_TOKEN, api_token_props, COUNT(api_token_props),
      api_token_rels, COUNT(api_token_rels), admin_only_acls, COUNT(admin_only_acls), NULL },
};

static char *copy_str(const char *s)
{
    return util_strdup(s);
}

static void fill_prop(model_prop *p, const bprop *b)
{
    p->name = copy_str(b->name);
    p->column = copy_str(b->column);
    p->type = b->type;
    p->is_id = b->flags & F_ID;
    p->required = b->flags & F_REQ;
    p->index = b->flags & F_INDEX;
    p->unique = b->flags & F_UNIQUE;
    p->hidden = b->flags & F_HIDDEN;
    p->readonly = b->flags & F_RO;
    p->ms_date = b->flags & F_MS;
    p->id_is_text = b->flags & F_TEXT_ID;
    p->def = b->def ? util_need(json_string(b->def)) : NULL;
}

static void fill_acl(acl_rule *r, const char *model, const bacl *b)
{
    r->model = copy_str(model);
    r->property = copy_str(b->property);
    r->access = ACC_ALL;
    r->ptype = PTYPE_ROLE;
    r->pid = copy_str(b->role);
    r->perm = b->perm;
}

static void fill_model(model_def *m, const bmodel *b)
{
    m->name = copy_str(b->name);
    m->plural = copy_str(b->plural);
    m->table = copy_str(b->table);
    m->kind = b->kind;
    m->extra_column = copy_str(b->extra_column);
    m->props = util_need(calloc(b->nprops, sizeof *m->props));
    for (m->nprops = 0; m->nprops < b->nprops; m->nprops++)
        fill_prop(&m->props[m->nprops], &b->props[m->nprops]);
    m->id = &m->props[0];
    m->rels = b->nrels ? util_need(calloc(b->nrels, sizeof *m->rels)) : NULL;
    for (m->nrels = 0; m->nrels < b->nrels; m->nrels++) {
        model_rel *r = &m->rels[m->nrels];
        r->name = copy_str(b->rels[m->nrels].name);
        r->type = b->rels[m->nrels].type;
        r->model = copy_str(b->rels[m->nrels].model);
        r->foreign_key = copy_str(b->rels[m->nrels].fk);
    }
    m->acls = util_need(calloc(b->nacls, sizeof *m->acls));
    for (m->nacls = 0; m->nacls < b->nacls; m->nacls++)
        fill_acl(&m->acls[m->nacls], b->name, &b->acls[m->nacls]);
}

void models_builtin_fill(model_def *defs)
{
    for (size_t i = 0; i < MODELS_BUILTIN_COUNT; i++)
        fill_model(&defs[i], &builtins[i]);
}

static model_def user_model;
static pthread_once_t user_model_once = PTHREAD_ONCE_INIT;

static void fill_user_model(void)
{
    fill_model(&user_model, &builtins[0]);
}

const model_def *models_builtin_user(void)
{
    pthread_once(&user_model_once, fill_user_model);
    return &user_model;
}
