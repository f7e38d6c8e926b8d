/*
 * test_api.c — the api layer's tables: which routes run in the slow pool
 * (a flag on the route entry), which hooks each model kind has, and the one
 * parser of the ACL words.
 */
#include <string.h>

#include "api/api.h"
#include "api/engine.h"
#include "model/aclrule.h"
#include "model/schema.h"
#include "unit.h"

static void test_slow_routes_are_the_flagged_ones(void)
{
    CHECK(api_is_slow("POST", "/api/users"));
    CHECK(api_is_slow("POST", "/api/Users/login"));
    CHECK(api_is_slow("POST", "//api//users/change-password/"));
    CHECK(api_is_slow("PATCH", "/api/users/me"));
    CHECK(api_is_slow("post", "/api/users/login"));
    /* writes under /api/users that hash nothing stay in the fast pool */
    CHECK(!api_is_slow("POST", "/api/users/logout"));
    CHECK(!api_is_slow("POST", "/api/users/1/accessTokens"));
    CHECK(!api_is_slow("PATCH", "/api/users"));
    CHECK(!api_is_slow("GET", "/api/users/me"));
    CHECK(!api_is_slow("PATCH", "/api/widgets/1"));
    CHECK(!api_is_slow("POST", "/api/usersx"));
    CHECK(!api_is_slow("POST", "/api/users/login/more/and/more"));
    CHECK(!api_is_slow("POST", ""));
}

static void test_hooks_by_kind(void)
{
    char err[256] = "";
    json_t *declared = json_pack("{s:{s:{s:{s:s}}}}", "Widget", "properties", "name", "type", "string");
    model_registry *reg = models_load(declared, err, sizeof err);
    json_decref(declared);
    if (!CHECK(reg != NULL))
        return;
    const model_hooks *user = eng_hooks(models_by_name(reg, "User"));
    const model_hooks *token = eng_hooks(models_by_name(reg, "AccessToken"));
    const model_hooks *acl = eng_hooks(models_by_name(reg, "ACL"));
    const model_hooks *mapping = eng_hooks(models_by_name(reg, "RoleMapping"));
    const model_hooks *widget = eng_hooks(models_by_name(reg, "Widget"));
    CHECK(user->owner_is_id && user->resolve_id && user->refuse_write && user->delete && !user->create);
    CHECK(token->create && token->delete && token->resolve_id && token->before_read && token->refuse_write);
    CHECK(!token->cached && !token->owner_is_id);
    CHECK(acl->after_write && acl->validate && !acl->cached);
    CHECK(mapping->after_write && mapping->validate);
    CHECK_STR(mapping->conflict_field, "principalId");
    CHECK(widget->cached && widget->relation_writes && !widget->create && !widget->refuse_write);
    CHECK(!widget->owner_is_id && widget->after_write == NULL);
    models_free(reg);
}

static void test_acl_words_one_parser(void)
{
    CHECK_INT(acl_access_parse("*"), ACC_ALL);
    CHECK_INT(acl_access_parse("READ"), ACC_READ);
    CHECK_INT(acl_access_parse("WRITE"), ACC_WRITE);
    CHECK_INT(acl_access_parse("EXECUTE"), ACC_EXECUTE);
    CHECK_INT(acl_access_parse("read"), -1);
    CHECK_INT(acl_access_parse(NULL), -1);
    for (int a = ACC_ALL; a <= ACC_EXECUTE; a++)
        CHECK_INT(acl_access_parse(acl_access_name((acl_access)a)), a);
    CHECK_INT(acl_ptype_parse("USER"), PTYPE_USER);
    CHECK_INT(acl_ptype_parse("APP"), PTYPE_APP);
    CHECK_INT(acl_ptype_parse("ROLE"), PTYPE_ROLE);
    CHECK_INT(acl_ptype_parse("*"), -1);
    CHECK_INT(acl_ptype_parse(NULL), -1);
    CHECK_INT(acl_perm_parse("ALLOW"), PERM_ALLOW);
    CHECK_INT(acl_perm_parse("DENY"), PERM_DENY);
    CHECK_INT(acl_perm_parse("deny"), -1);
    CHECK_INT(acl_perm_parse(""), -1);
}

void suite_api(void)
{
    RUN(test_slow_routes_are_the_flagged_ones);
    RUN(test_hooks_by_kind);
    RUN(test_acl_words_one_parser);
}
