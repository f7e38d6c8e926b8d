/*
 * acl_models.c — what Role, RoleMapping and ACL mean beyond rows: every
 * write to them changes who may do what, so the ACL engine's cached rules
 * and role mappings are dropped; and the words they hold have a fixed
 * meaning (model/aclrule.h), checked on write.
 */
#include "api/engine.h"
#include "api/app.h"

static void rules_changed(mreq *q, eng_wrote what)
{
    (void)what;
    acl_invalidate(q->c->app->acl);
}

/* A property holding an ACL word must hold one the parser knows. */
static void check_word(const json_t *values, const char *prop, int (*parse)(const char *), validation *v)
{
    const json_t *word = json_object_get(values, prop);
    if (word && !json_is_null(word) && (!json_is_string(word) || parse(json_string_value(word)) < 0))
        validation_add(v, prop, "inclusion", "is not one of the allowed values", (json_t *)word);
}

static void acl_words(const json_t *values, validation *v)
{
    check_word(values, "accessType", acl_access_parse, v);
    check_word(values, "principalType", acl_ptype_parse, v);
    check_word(values, "permission", acl_perm_parse, v);
}

static void mapping_words(const json_t *values, validation *v)
{
    check_word(values, "principalType", acl_ptype_parse, v);
}

const model_hooks role_hooks = {
    .after_write = rules_changed,
};

const model_hooks role_mapping_hooks = {
    .after_write = rules_changed,
    .validate = mapping_words,
    .conflict_field = "principalId",
    .conflict_message = "already has this role",
};

const model_hooks acl_hooks = {
    .after_write = rules_changed,
    .validate = acl_words,
};
