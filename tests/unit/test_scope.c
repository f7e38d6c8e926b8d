/*
 * test_scope.c — API-token types and permission lists: parsing, checking
 * against the registry, narrowing, administration.
 */
#include <string.h>

#include "auth/scope.h"
#include "unit.h"

static model_registry *registry(void)
{
    char err[256] = "";
    json_t *declared = json_pack("{s:{s:{s:{s:s}}}}", "Widget", "properties", "name", "type", "string");
    model_registry *reg = models_load(declared, err, sizeof err);
    json_decref(declared);
    return reg;
}

static void test_type_names(void)
{
    CHECK_INT(scope_type_parse("read-only"), SCOPE_READ_ONLY);
    CHECK_INT(scope_type_parse("full-access"), SCOPE_FULL_ACCESS);
    CHECK_INT(scope_type_parse("custom"), SCOPE_CUSTOM);
    CHECK_INT(scope_type_parse("unrestricted"), -1);
    CHECK_INT(scope_type_parse("Read-Only"), -1);
    CHECK_INT(scope_type_parse(""), -1);
    CHECK_INT(scope_type_parse(NULL), -1);
    CHECK_STR(scope_type_name(SCOPE_CUSTOM), "custom");
}

/* Returns the index scope_list_check reports, and its message in err. */
static int check_list(model_registry *reg, const char *json, char *err, size_t errlen)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    int i = scope_list_check(reg, v, err, errlen);
    json_decref(v);
    return i;
}

static void test_list_check(void)
{
    model_registry *reg = registry();
    char err[256];
    if (!CHECK(reg != NULL))
        return;
    CHECK_INT(check_list(reg, "[]", err, sizeof err), -1);
    CHECK_INT(check_list(reg, "[\"Widget.find\", \"Widget.findById\", \"Widget.create\"]", err, sizeof err), -1);
    CHECK_INT(check_list(reg, "[\"Widget.*\", \"User.changePassword\", \"User.__get__accessTokens\"]", err,
                         sizeof err), -1);
    CHECK_INT(check_list(reg, "[\"Widget.updateAttributes\", \"Widget.destroyById\"]", err, sizeof err), -1);
    CHECK_INT(check_list(reg, "[\"Widget.find\", \"Gadget.find\"]", err, sizeof err), 1);
    CHECK(strstr(err, "no model is named Gadget") != NULL);
    CHECK_INT(check_list(reg, "[\"Widget.launch\"]", err, sizeof err), 0);
    CHECK(strstr(err, "Widget has no method launch") != NULL);
    CHECK_INT(check_list(reg, "[\"Widget.login\"]", err, sizeof err), 0);        /* User's only */
    CHECK_INT(check_list(reg, "[\"Widget.__get__owner\"]", err, sizeof err), 0); /* no such relation */
    CHECK_INT(check_list(reg, "[\"Widget\"]", err, sizeof err), 0);
    CHECK_INT(check_list(reg, "[\".find\"]", err, sizeof err), 0);
    CHECK_INT(check_list(reg, "[\"Widget.\"]", err, sizeof err), 0);
    CHECK_INT(check_list(reg, "[\"Widget.find.x\"]", err, sizeof err), 0);
    CHECK_INT(check_list(reg, "[\"Widget.find\", 3]", err, sizeof err), 1);
    CHECK(strstr(err, "permissions[1] must be a string") != NULL);
    CHECK_INT(check_list(reg, "\"Widget.find\"", err, sizeof err), 0);
    CHECK(strstr(err, "must be an array") != NULL);
    CHECK_INT(check_list(reg, "{}", err, sizeof err), 0);
    models_free(reg);
}

static bool allows(scope_type t, const char *entries, const model_def *m, const char *method, char *missing)
{
    json_t *v = entries ? json_loads(entries, 0, NULL) : NULL;
    bool ok = scope_allows(t, v, m, method, missing, 64);
    json_decref(v);
    return ok;
}

static void test_narrowing(void)
{
    model_registry *reg = registry();
    char missing[64] = "";
    if (!CHECK(reg != NULL))
        return;
    const model_def *w = models_by_name(reg, "Widget");
    const model_def *u = models_by_name(reg, "User");
    /* read-only: READ methods, relations' reads included */
    CHECK(allows(SCOPE_READ_ONLY, NULL, w, "find", missing));
    CHECK(allows(SCOPE_READ_ONLY, NULL, w, "count", missing));
    CHECK(allows(SCOPE_READ_ONLY, NULL, u, "__get__accessTokens", missing));
    CHECK(!allows(SCOPE_READ_ONLY, NULL, w, "create", missing));
    CHECK_STR(missing, "Widget.create");
    CHECK(!allows(SCOPE_READ_ONLY, NULL, u, "changePassword", missing)); /* EXECUTE */
    CHECK(!allows(SCOPE_READ_ONLY, NULL, u, "__delete__accessTokens", missing));
    /* full-access and a login token: not narrowed here (the ACL decides) */
    CHECK(allows(SCOPE_FULL_ACCESS, NULL, w, "deleteById", missing));
    CHECK(allows(SCOPE_UNRESTRICTED, NULL, w, "deleteById", missing));
    /* custom: the listed methods, any of their names, Model.* */
    const char *list = "[\"Widget.find\", \"Widget.findById\", \"Widget.updateAttributes\"]";
    CHECK(allows(SCOPE_CUSTOM, list, w, "findById", missing));
    CHECK(allows(SCOPE_CUSTOM, list, w, "patchAttributes", missing));
    CHECK(!allows(SCOPE_CUSTOM, list, w, "create", missing));
    CHECK_STR(missing, "Widget.create");
    CHECK(!allows(SCOPE_CUSTOM, list, u, "find", missing));
    CHECK_STR(missing, "User.find");
    CHECK(allows(SCOPE_CUSTOM, "[\"Widget.*\"]", w, "deleteById", missing));
    CHECK(!allows(SCOPE_CUSTOM, "[\"Widget.*\"]", u, "findById", missing));
    CHECK(!allows(SCOPE_CUSTOM, "[]", w, "find", missing));
    /* a model whose name is a prefix of another's grants nothing to it */
    CHECK(!allows(SCOPE_CUSTOM, "[\"Widge.*\"]", w, "find", missing));
    models_free(reg);
}

static void test_administrative(void)
{
    model_registry *reg = registry();
    if (!CHECK(reg != NULL))
        return;
    const model_def *u = models_by_name(reg, "User");
    CHECK(scope_administrative(models_by_name(reg, "Role"), "find"));
    CHECK(scope_administrative(models_by_name(reg, "RoleMapping"), "create"));
    CHECK(scope_administrative(models_by_name(reg, "ACL"), "find"));
    CHECK(scope_administrative(u, "changePassword"));
    CHECK(scope_administrative(u, "__create__apiTokens"));
    CHECK(scope_administrative(u, "__get__apiTokens"));
    CHECK(!scope_administrative(u, "findById"));
    CHECK(!scope_administrative(u, "__get__accessTokens"));
    CHECK(!scope_administrative(models_by_name(reg, "Widget"), "deleteById"));
    json_t *b = json_pack("{s:s}", "email", "new@example.com");
    CHECK(scope_body_administrative(b));
    json_decref(b);
    b = json_pack("{s:s}", "username", "ada");
    CHECK(!scope_body_administrative(b));
    json_decref(b);
    models_free(reg);
}

void suite_scope(void)
{
    RUN(test_type_names);
    RUN(test_list_check);
    RUN(test_narrowing);
    RUN(test_administrative);
}
