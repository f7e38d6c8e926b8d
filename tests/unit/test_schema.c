/*
 * test_schema.c — the model registry: the built-in models, declared models in
 * LoopBack's shape, every kind of declaration error with its path, and the
 * coercion of values on write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/builtin.h"
#include "model/schema.h"
#include "unit.h"

/* Loads a "models" object written as JSON text; NULL text means no models. */
static model_registry *load(const char *json, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json ? json_loads(json, 0, &je) : NULL;
    model_registry *r;
    if (json && !doc) {
        snprintf(err, errlen, "bad test JSON: %s", je.text);
        return NULL;
    }
    err[0] = '\0';
    r = models_load(doc, err, errlen);
    json_decref(doc);
    return r;
}

/* The declaration must be refused with exactly this message. */
static bool rejects(const char *json, const char *want, const char *file, int line)
{
    char err[512];
    model_registry *r = load(json, err, sizeof err);
    bool ok = unit_check(r == NULL, json, file, line);
    ok = unit_check_str(err, want, json, file, line) && ok;
    models_free(r);
    return ok;
}

#define REJECTS(json, msg) rejects((json), (msg), __FILE__, __LINE__)

static bool has_acl(const model_def *m, const char *prop, acl_access acc, acl_ptype pt,
                    const char *pid, acl_perm perm)
{
    for (size_t i = 0; i < m->nacls; i++) {
        const acl_rule *a = &m->acls[i];
        if (strcmp(a->property, prop) == 0 && a->access == acc && a->ptype == pt &&
            strcmp(a->pid, pid) == 0 && a->perm == perm && strcmp(a->model, m->name) == 0)
            return true;
    }
    return false;
}

static void check_user(const model_registry *r)
{
    const model_def *u = models_by_name(r, "User");
    const model_prop *p;
    if (!CHECK(u != NULL))
        return;
    CHECK_STR(u->plural, "users");
    CHECK_STR(u->table, "users");
    CHECK_INT(u->kind, MODEL_USER);
    CHECK_STR(u->extra_column, "extra");
    CHECK(u->id == &u->props[0] && u->id->is_id && u->id->readonly && !u->id->id_is_text);
    CHECK_INT(u->id->type, PT_NUMBER);
    CHECK(u->owner_fk == NULL);
    p = model_prop_named(u, "password");
    CHECK(p && p->hidden && p->required);
    p = model_prop_named(u, "email");
    CHECK(p && p->unique && p->required && !p->hidden);
    p = model_prop_named(u, "emailVerified");
    CHECK(p && p->type == PT_BOOLEAN && strcmp(p->column, "email_verified") == 0);
    CHECK(u->nrels == 1 && u->rels[0].type == REL_HAS_MANY &&
          u->rels[0].target == models_by_name(r, "AccessToken") &&
          strcmp(u->rels[0].foreign_key, "userId") == 0);
    CHECK_INT(u->nacls, 12);
    CHECK(u->nacls && strcmp(u->acls[0].property, "*") == 0 && u->acls[0].perm == PERM_DENY);
    CHECK(has_acl(u, "create", ACC_ALL, PTYPE_ROLE, "$everyone", PERM_ALLOW));
    CHECK(has_acl(u, "login", ACC_ALL, PTYPE_ROLE, "$everyone", PERM_ALLOW));
    CHECK(has_acl(u, "logout", ACC_ALL, PTYPE_ROLE, "$everyone", PERM_ALLOW));
    CHECK(has_acl(u, "findById", ACC_ALL, PTYPE_ROLE, "$owner", PERM_ALLOW));
    CHECK(has_acl(u, "patchAttributes", ACC_ALL, PTYPE_ROLE, "$owner", PERM_ALLOW));
    CHECK(has_acl(u, "deleteById", ACC_ALL, PTYPE_ROLE, "$owner", PERM_ALLOW));
    CHECK(has_acl(u, "changePassword", ACC_ALL, PTYPE_ROLE, "$authenticated", PERM_ALLOW));
    CHECK(has_acl(u, "__get__accessTokens", ACC_ALL, PTYPE_ROLE, "$owner", PERM_ALLOW));
    CHECK(has_acl(u, "__destroyById__accessTokens", ACC_ALL, PTYPE_ROLE, "$owner",
                  PERM_ALLOW));
}

static void check_token(const model_registry *r)
{
    const model_def *t = models_by_name(r, "AccessToken");
    const model_prop *p;
    if (!CHECK(t != NULL))
        return;
    CHECK_STR(t->plural, "accessTokens");
    CHECK_STR(t->table, "access_tokens");
    CHECK_INT(t->kind, MODEL_ACCESS_TOKEN);
    CHECK(t->extra_column == NULL);
    CHECK(t->id == &t->props[0] && t->id->is_id && t->id->id_is_text && t->id->readonly);
    CHECK_STR(t->id->column, "handle");
    CHECK_INT(t->id->type, PT_STRING);
    p = model_prop_named(t, "created");
    CHECK(p && p->type == PT_DATE && p->ms_date && p->readonly &&
          strcmp(p->column, "created_ms") == 0);
    p = model_prop_named(t, "lastUsed");
    CHECK(p && p->ms_date && strcmp(p->column, "last_used_ms") == 0);
    p = model_prop_named(t, "hash");
    CHECK(p && p->hidden);
    p = model_prop_named(t, "userId");
    CHECK(p && p->type == PT_NUMBER && strcmp(p->column, "user_id") == 0);
    CHECK(t->owner_fk == p);
    CHECK(model_prop_named(t, "ttl") != NULL);
    CHECK(t->nrels == 1 && t->rels[0].type == REL_BELONGS_TO &&
          strcmp(t->rels[0].name, "user") == 0 && t->rels[0].target == models_by_name(r, "User"));
    CHECK_INT(t->nacls, 2);
    CHECK(has_acl(t, "*", ACC_ALL, PTYPE_ROLE, "$everyone", PERM_DENY));
    CHECK(has_acl(t, "create", ACC_ALL, PTYPE_ROLE, "$everyone", PERM_ALLOW));
}

static void check_roles_and_acls(const model_registry *r)
{
    const model_def *role = models_by_name(r, "Role");
    const model_def *map = models_by_name(r, "RoleMapping");
    const model_def *acl = models_by_name(r, "ACL");
    const model_prop *p;
    if (!CHECK(role && map && acl))
        return;
    CHECK(strcmp(role->table, "roles") == 0 && strcmp(map->table, "role_mappings") == 0 &&
          strcmp(acl->table, "acls") == 0);
    p = model_prop_named(role, "name");
    CHECK(p && p->unique && p->required);
    CHECK(model_prop_named(role, "description") != NULL);
    p = model_prop_named(role, "created");
    CHECK(p && p->ms_date && p->readonly);
    p = model_prop_named(map, "principalId");
    CHECK(p && p->type == PT_STRING && strcmp(p->column, "principal_id") == 0);
    CHECK(map->nrels == 1 && map->rels[0].target == role && map->owner_fk == NULL &&
          strcmp(map->rels[0].foreign_key, "roleId") == 0);
    p = model_prop_named(acl, "accessType");
    CHECK(p && strcmp(p->column, "access_type") == 0 && json_is_string(p->def) &&
          strcmp(json_string_value(p->def), "*") == 0);
    CHECK(role->nacls == 1 && map->nacls == 1 && acl->nacls == 1);
    CHECK(has_acl(acl, "*", ACC_ALL, PTYPE_ROLE, "$everyone", PERM_DENY));
    CHECK(has_acl(map, "*", ACC_ALL, PTYPE_ROLE, "$everyone", PERM_DENY));
}

static void test_builtins(void)
{
    char err[256];
    model_registry *r = load(NULL, err, sizeof err);
    if (!CHECK(r != NULL)) {
        CHECK_STR(err, "");
        return;
    }
    CHECK_INT(models_count(r), MODELS_BUILTIN_COUNT);
    CHECK(models_at(r, MODELS_BUILTIN_COUNT) == NULL);
    CHECK(models_by_name(r, "ApiToken") != NULL);
    CHECK_STR(models_at(r, 0)->name, "User");
    check_user(r);
    check_token(r);
    check_roles_and_acls(r);
    models_free(r);
}

static void test_lookups(void)
{
    char err[256];
    model_registry *r = load("{}", err, sizeof err);
    if (!CHECK(r != NULL))
        return;
    CHECK(models_by_plural(r, "ACCESSTOKENS") == models_by_name(r, "AccessToken"));
    CHECK(models_by_plural(r, "roleMappings") == models_by_name(r, "RoleMapping"));
    CHECK(models_by_plural(r, "widgets") == NULL);
    CHECK(models_by_name(r, "user") == NULL); /* names are exact */
    CHECK(model_prop_named(models_by_name(r, "User"), "Email") == NULL);
    CHECK(model_rel_named(models_by_name(r, "User"), "accessTokens") != NULL);
    CHECK(model_rel_named(models_by_name(r, "User"), "tokens") == NULL);
    models_free(r);
}

static const char WIDGET[] =
    "{\"Widget\": {"
    "  \"plural\": \"widgets\","
    "  \"properties\": {\"name\": {\"type\": \"string\", \"required\": true},"
    "                  \"price\": {\"type\": \"number\", \"index\": true},"
    "                  \"tags\": {\"type\": \"array\"}, \"ownerId\": {\"type\": \"number\"}},"
    "  \"relations\": {\"owner\": {\"type\": \"belongsTo\", \"model\": \"User\","
    "                             \"foreignKey\": \"ownerId\"}},"
    "  \"acls\": ["
    "    {\"principalType\": \"ROLE\", \"principalId\": \"$everyone\", \"permission\": \"DENY\"},"
    "    {\"principalType\": \"ROLE\", \"principalId\": \"$authenticated\","
    "     \"accessType\": \"READ\", \"permission\": \"ALLOW\"},"
    "    {\"principalType\": \"ROLE\", \"principalId\": \"$authenticated\","
    "     \"property\": \"create\", \"permission\": \"ALLOW\"},"
    "    {\"principalType\": \"ROLE\", \"principalId\": \"$owner\", \"accessType\": \"WRITE\","
    "     \"permission\": \"ALLOW\"}]}}";

static void check_widget_props(const model_def *w)
{
    static const char *const names[] = { "id", "name", "price", "tags", "ownerId" };
    if (!CHECK_INT(w->nprops, 5))
        return;
    for (size_t i = 0; i < 5; i++) {
        CHECK_STR(w->props[i].name, names[i]);
        CHECK_STR(w->props[i].column, names[i]);
    }
    CHECK(w->id == &w->props[0] && w->id->is_id && w->id->readonly && w->id->type == PT_NUMBER);
    CHECK(w->props[1].type == PT_STRING && w->props[1].required && !w->props[1].index);
    CHECK(w->props[2].type == PT_NUMBER && w->props[2].index && !w->props[2].unique);
    CHECK(w->props[3].type == PT_ARRAY && !w->props[3].required);
    CHECK(!w->props[4].hidden && !w->props[4].readonly && !w->props[4].ms_date);
}

static void test_widget(void)
{
    char err[256];
    model_registry *r = load(WIDGET, err, sizeof err);
    const model_def *w;
    if (!CHECK(r != NULL)) {
        CHECK_STR(err, "");
        return;
    }
    CHECK_INT(models_count(r), MODELS_BUILTIN_COUNT + 1);
    w = models_by_plural(r, "Widgets");
    if (!CHECK(w != NULL && w == models_at(r, MODELS_BUILTIN_COUNT)))
        goto out;
    CHECK_STR(w->name, "Widget");
    CHECK_STR(w->table, "m_widget");
    CHECK_INT(w->kind, MODEL_DECLARED);
    CHECK(w->extra_column == NULL);
    check_widget_props(w);
    CHECK(w->nrels == 1 && w->rels[0].type == REL_BELONGS_TO &&
          w->rels[0].target == models_by_name(r, "User") &&
          model_rel_named(w, "owner") == &w->rels[0]);
    CHECK(w->owner_fk == model_prop_named(w, "ownerId"));
    CHECK_INT(w->nacls, 4);
    CHECK(has_acl(w, "*", ACC_ALL, PTYPE_ROLE, "$everyone", PERM_DENY));
    CHECK(has_acl(w, "*", ACC_READ, PTYPE_ROLE, "$authenticated", PERM_ALLOW));
    CHECK(has_acl(w, "create", ACC_ALL, PTYPE_ROLE, "$authenticated", PERM_ALLOW));
    CHECK(has_acl(w, "*", ACC_WRITE, PTYPE_ROLE, "$owner", PERM_ALLOW));
out:
    models_free(r);
}

/* Shorthand types, defaults, default plurals and keys, forward references. */
static const char SHOP[] =
    "{\"Order\": {\"properties\": {\"id\": \"number\", \"total\": \"Number\","
    "                           \"note\": {\"type\": \"string\", \"default\": \"none\"},"
    "                           \"due\": {\"type\": \"date\","
    "                                   \"default\": \"2024-01-02T03:04:05Z\"},"
    "                           \"meta\": {\"type\": \"object\", \"default\": {\"a\": [1]}},"
    "                           \"code\": {\"type\": \"string\", \"unique\": true},"
    "                           \"customerId\": \"number\"},"
    "             \"relations\": {\"customer\": {\"type\": \"belongsTo\","
    "                                          \"model\": \"Customer\"}},"
    "             \"acls\": [{\"principalType\": \"USER\", \"principalId\": 42,"
    "                         \"permission\": \"ALLOW\", \"accessType\": \"EXECUTE\"}]},"
    " \"Customer\": {\"plural\": \"clients\","
    "                \"properties\": {\"name\": \"string\", \"userId\": \"number\","
    "                               \"extra\": \"any\"},"
    "                \"relations\": {\"orders\": {\"type\": \"hasMany\", \"model\": \"Order\"},"
    "                               \"user\": {\"type\": \"belongsTo\", \"model\": \"User\","
    "                                        \"foreignKey\": \"userId\"}}},"
    " \"Empty\": {}}";

static void test_declared_details(void)
{
    char err[256];
    model_registry *r = load(SHOP, err, sizeof err);
    const model_def *o, *c, *e;
    const model_prop *p;
    if (!CHECK(r != NULL)) {
        CHECK_STR(err, "");
        return;
    }
    o = models_by_name(r, "Order");
    c = models_by_name(r, "Customer");
    e = models_by_name(r, "Empty");
    if (!CHECK(o && c && e))
        goto out;
    CHECK_STR(o->plural, "orders");
    CHECK_STR(c->plural, "clients");
    CHECK(e->nprops == 1 && e->nrels == 0 && e->nacls == 0 && strcmp(e->table, "m_empty") == 0);
    CHECK_INT(o->nprops, 7); /* the declared id is the implicit one */
    CHECK(model_prop_named(o, "total") && model_prop_named(o, "total")->type == PT_NUMBER);
    p = model_prop_named(o, "note");
    CHECK(p && json_is_string(p->def) && strcmp(json_string_value(p->def), "none") == 0);
    p = model_prop_named(o, "due");
    CHECK(p && json_is_string(p->def) &&
          strcmp(json_string_value(p->def), "2024-01-02T03:04:05.000Z") == 0);
    p = model_prop_named(o, "meta");
    CHECK(p && json_is_object(p->def));
    CHECK(model_prop_named(o, "code") && model_prop_named(o, "code")->unique);
    CHECK(o->rels[0].target == c && strcmp(o->rels[0].foreign_key, "customerId") == 0);
    CHECK(o->owner_fk == NULL); /* its belongsTo is not to User */
    CHECK(c->rels[0].target == o && strcmp(c->rels[0].foreign_key, "customerId") == 0);
    CHECK(c->owner_fk == model_prop_named(c, "userId"));
    CHECK(o->nacls == 1 && has_acl(o, "*", ACC_EXECUTE, PTYPE_USER, "42", PERM_ALLOW));
out:
    models_free(r);
}

static void test_model_errors(void)
{
    char err[256];
    json_t *arr = json_array();
    CHECK(models_load(arr, err, sizeof err) == NULL);
    CHECK_STR(err, "models: must be an object");
    json_decref(arr);
    REJECTS("{\"widget\": {}}",
            "models.widget: invalid model name (must match [A-Z][A-Za-z0-9_]{0,63})");
    REJECTS("{\"Wid-get\": {}}",
            "models.Wid-get: invalid model name (must match [A-Z][A-Za-z0-9_]{0,63})");
    REJECTS("{\"User\": {}}", "models.User: is a built-in model and cannot be redeclared");
    REJECTS("{\"Widget\": {}, \"WIDGET\": {}}",
            "models.WIDGET: clashes with model 'Widget' (table names ignore case)");
    REJECTS("{\"Widget\": []}", "models.Widget: must be an object");
    REJECTS("{\"Widget\": {\"base\": \"PersistedModel\"}}", "models.Widget.base: unknown key");
    REJECTS("{\"Widget\": {\"plural\": 5}}", "models.Widget.plural: must be a string");
    REJECTS("{\"Widget\": {\"plural\": \"wid/gets\"}}",
            "models.Widget.plural: invalid plural (must match [A-Za-z][A-Za-z0-9_-]{0,63})");
    REJECTS("{\"Foo\": {\"plural\": \"Users\"}}",
            "models.Foo.plural: 'Users' is already the plural of User");
    REJECTS("{\"Acl\": {}}", "models.Acl: its default plural 'acls' is already the plural of "
                             "ACL; set \"plural\"");
    REJECTS("{\"Foo\": {}, \"Bar\": {\"plural\": \"FOOS\"}}",
            "models.Bar.plural: 'FOOS' is already the plural of Foo");
}

#define W(props) "{\"Widget\": {\"properties\": " props "}}"

static void test_property_errors(void)
{
    REJECTS(W("[]"), "models.Widget.properties: must be an object");
    REJECTS(W("{\"price\": {\"type\": \"money\"}}"),
            "models.Widget.properties.price.type: unknown type 'money'");
    REJECTS(W("{\"price\": \"money\"}"), "models.Widget.properties.price: unknown type 'money'");
    REJECTS(W("{\"price\": 5}"),
            "models.Widget.properties.price: must be a type name or an object");
    REJECTS(W("{\"price\": {\"type\": \"number\", \"hidden\": true}}"),
            "models.Widget.properties.price.hidden: unknown key");
    REJECTS(W("{\"price\": {\"required\": true}}"),
            "models.Widget.properties.price: 'type' is required");
    REJECTS(W("{\"price\": {\"type\": 1}}"),
            "models.Widget.properties.price.type: must be a string");
    REJECTS(W("{\"price\": {\"type\": \"number\", \"required\": \"yes\"}}"),
            "models.Widget.properties.price.required: must be a boolean");
    REJECTS(W("{\"price\": {\"type\": \"number\", \"index\": 1}}"),
            "models.Widget.properties.price.index: must be a boolean");
    REJECTS(W("{\"price\": {\"type\": \"number\", \"default\": \"10\"}}"),
            "models.Widget.properties.price.default: must be a number");
    REJECTS(W("{\"on\": {\"type\": \"boolean\", \"default\": null}}"),
            "models.Widget.properties.on.default: must not be null");
    REJECTS(W("{\"at\": {\"type\": \"date\", \"default\": \"yesterday\"}}"),
            "models.Widget.properties.at.default: must be a date in ISO 8601 form "
            "(YYYY-MM-DDTHH:MM:SS.mmmZ)");
    REJECTS(W("{\"tags\": {\"type\": \"array\", \"default\": {}}}"),
            "models.Widget.properties.tags.default: must be an array");
    REJECTS(W("{\"2x\": \"string\"}"), "models.Widget.properties.2x: invalid property name "
                                       "(must match [A-Za-z_][A-Za-z0-9_]{0,63})");
    REJECTS(W("{\"na me\": \"string\"}"), "models.Widget.properties.na me: invalid property "
                                          "name (must match [A-Za-z_][A-Za-z0-9_]{0,63})");
    REJECTS(W("{\"name\": \"string\", \"Name\": \"string\"}"),
            "models.Widget.properties.Name: clashes with property 'name' (column names ignore "
            "case)");
    REJECTS(W("{\"ID\": \"string\"}"),
            "models.Widget.properties.ID: clashes with property 'id' (column names ignore case)");
    REJECTS(W("{\"id\": \"string\"}"), "models.Widget.properties.id: the id is implicit (a "
                                       "number generated by the store); it may only be "
                                       "declared as \"number\"");
    REJECTS(W("{\"id\": {\"type\": \"number\", \"required\": true}}"),
            "models.Widget.properties.id: the id is implicit (a number generated by the store); "
            "it may only be declared as \"number\"");
}

#define R(rels) "{\"Widget\": {\"properties\": {\"ownerId\": \"number\", \"label\": \"string\"}," \
                "\"relations\": " rels "}}"

static void test_relation_errors(void)
{
    REJECTS(R("[]"), "models.Widget.relations: must be an object");
    REJECTS(R("{\"owner\": 1}"), "models.Widget.relations.owner: must be an object");
    REJECTS(R("{\"owner\": {\"type\": \"belongsTo\", \"model\": \"User\", \"through\": \"X\"}}"),
            "models.Widget.relations.owner.through: unknown key");
    REJECTS(R("{\"owner\": {\"type\": \"hasOne\", \"model\": \"User\"}}"),
            "models.Widget.relations.owner.type: must be \"belongsTo\" or \"hasMany\"");
    REJECTS(R("{\"owner\": {\"type\": \"belongsTo\"}}"),
            "models.Widget.relations.owner: 'model' is required");
    REJECTS(R("{\"owner\": {\"type\": \"belongsTo\", \"model\": \"Usr\"}}"),
            "models.Widget.relations.owner.model: unknown model 'Usr'");
    REJECTS(R("{\"maker\": {\"type\": \"belongsTo\", \"model\": \"User\"}}"),
            "models.Widget.relations.maker.foreignKey: 'makerId' is not a property of Widget");
    REJECTS(R("{\"owner\": {\"type\": \"belongsTo\", \"model\": \"User\", \"foreignKey\": "
              "\"label\"}}"),
            "models.Widget.relations.owner.foreignKey: 'label' must be a number property");
    REJECTS(R("{\"owner\": {\"type\": \"belongsTo\", \"model\": \"User\", \"foreignKey\": "
              "\"id\"}}"),
            "models.Widget.relations.owner.foreignKey: 'id' is not a property of Widget");
    REJECTS(R("{\"owner\": {\"type\": \"belongsTo\", \"model\": \"User\", \"foreignKey\": "
              "\"a-b\"}}"),
            "models.Widget.relations.owner.foreignKey: invalid property name 'a-b'");
    REJECTS(R("{\"tokens\": {\"type\": \"hasMany\", \"model\": \"AccessToken\"}}"),
            "models.Widget.relations.tokens.foreignKey: 'widgetId' is not a property of "
            "AccessToken");
    REJECTS(R("{\"token\": {\"type\": \"belongsTo\", \"model\": \"AccessToken\", "
              "\"foreignKey\": \"ownerId\"}}"),
            "models.Widget.relations.token.model: AccessToken has a text id; a belongsTo "
            "needs a number id");
    REJECTS(R("{\"label\": {\"type\": \"belongsTo\", \"model\": \"User\"}}"),
            "models.Widget.relations.label: clashes with the property of the same name");
}

#define A(acls) "{\"Widget\": {\"acls\": " acls "}}"
#define RULE "\"principalType\": \"ROLE\", \"principalId\": \"$everyone\""

static void test_acl_errors(void)
{
    REJECTS(A("{}"), "models.Widget.acls: must be an array");
    REJECTS(A("[1]"), "models.Widget.acls[0]: must be an object");
    REJECTS(A("[{" RULE ", \"permission\": \"DENY\"}, {" RULE ", \"permission\": \"ALLOW\","
              " \"model\": \"Widget\"}]"),
            "models.Widget.acls[1].model: unknown key");
    REJECTS(A("[{" RULE ", \"permission\": \"deny\"}]"),
            "models.Widget.acls[0].permission: must be ALLOW or DENY");
    REJECTS(A("[{" RULE "}]"), "models.Widget.acls[0]: 'permission' is required");
    REJECTS(A("[{\"principalId\": \"x\", \"permission\": \"DENY\"}]"),
            "models.Widget.acls[0]: 'principalType' is required");
    REJECTS(A("[{\"principalType\": \"ROLE\", \"permission\": \"DENY\"}]"),
            "models.Widget.acls[0]: 'principalId' is required");
    REJECTS(A("[{\"principalType\": \"GROUP\", \"principalId\": \"x\", \"permission\": "
              "\"DENY\"}]"),
            "models.Widget.acls[0].principalType: must be ROLE, USER or APP");
    REJECTS(A("[{\"principalType\": \"ROLE\", \"principalId\": \"\", \"permission\": "
              "\"DENY\"}]"),
            "models.Widget.acls[0].principalId: must be a non-empty string (at most 255 bytes) "
            "or an integer");
    REJECTS(A("[{" RULE ", \"permission\": \"DENY\", \"accessType\": \"DELETE\"}]"),
            "models.Widget.acls[0].accessType: must be READ, WRITE, EXECUTE or *");
    REJECTS(A("[{" RULE ", \"permission\": \"DENY\", \"property\": \"find by\"}]"),
            "models.Widget.acls[0].property: must be \"*\" or a method name");
    REJECTS(A("[{" RULE ", \"permission\": \"DENY\", \"property\": 3}]"),
            "models.Widget.acls[0].property: must be a string");
}

/* The first error in document order is the one reported. */
static void test_first_error_wins(void)
{
    REJECTS("{\"Widget\": {\"properties\": {\"a\": \"money\", \"b\": \"gold\"}}, \"x\": {}}",
            "models.Widget.properties.a: unknown type 'money'");
    REJECTS("{\"Widget\": {\"acls\": 1, \"nope\": 2}}", "models.Widget.nope: unknown key");
}

static json_t *coerce_text(const model_prop *p, const char *json, char *err, size_t errlen)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    json_t *out = model_coerce(p, v, err, errlen);
    json_decref(v);
    return out;
}

/* Coerces json for p; want is the expected result as compact JSON, or the error. */
static bool coerces(const model_prop *p, const char *json, const char *want, const char *file,
                    int line)
{
    char err[256] = "";
    json_t *out = coerce_text(p, json, err, sizeof err);
    char *got = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    bool ok = unit_check_str(got ? got : err, want, json, file, line);
    free(got);
    json_decref(out);
    return ok;
}

#define COERCES(p, json, want) coerces((p), (json), (want), __FILE__, __LINE__)

static void test_coerce(void)
{
    model_prop p = { 0 };
    p.type = PT_STRING;
    COERCES(&p, "\"abc\"", "\"abc\"");
    COERCES(&p, "5", "must be a string");
    COERCES(&p, "null", "null");
    p.required = true;
    COERCES(&p, "null", "can't be blank");
    p.required = false;
    p.type = PT_NUMBER;
    COERCES(&p, "5", "5");
    COERCES(&p, "2.5", "2.5");
    COERCES(&p, "\"50\"", "must be a number"); /* bodies are JSON: no strings */
    COERCES(&p, "true", "must be a number");
    p.is_id = true;
    COERCES(&p, "7", "7");
    COERCES(&p, "7.5", "must be an integer");
    p.is_id = false;
    p.type = PT_BOOLEAN;
    COERCES(&p, "false", "false");
    COERCES(&p, "0", "must be a boolean");
    p.type = PT_OBJECT;
    COERCES(&p, "{\"a\":[1,2]}", "{\"a\":[1,2]}");
    COERCES(&p, "[]", "must be an object");
    p.type = PT_ARRAY;
    COERCES(&p, "[1,\"x\"]", "[1,\"x\"]");
    COERCES(&p, "{}", "must be an array");
    p.type = PT_ANY;
    COERCES(&p, "{\"k\":null}", "{\"k\":null}");
    COERCES(&p, "\"s\"", "\"s\"");
}

static void test_coerce_dates(void)
{
    static const char bad[] = "must be a date in ISO 8601 form (YYYY-MM-DDTHH:MM:SS.mmmZ)";
    model_prop p = { 0 };
    p.type = PT_DATE;
    COERCES(&p, "\"2024-01-02T03:04:05Z\"", "\"2024-01-02T03:04:05.000Z\"");
    COERCES(&p, "\"2024-01-02T03:04:05.1234+00:00\"", "\"2024-01-02T03:04:05.123Z\"");
    COERCES(&p, "\"2024-02-30T00:00:00Z\"", bad);
    COERCES(&p, "\"2024-01-02\"", "\"2024-01-02T00:00:00.000Z\"");
    COERCES(&p, "\"2024-01-02T05:04:05+02:00\"", "\"2024-01-02T03:04:05.000Z\"");
    COERCES(&p, "\"2024-01-02T03:04\"", bad);
    COERCES(&p, "1704164645000", bad);
    p.ms_date = true;
    COERCES(&p, "\"2024-01-02T03:04:05.678Z\"", "1704164645678");
    COERCES(&p, "\"1969-12-31T23:59:59.999Z\"", "-1");
}

/* A container is copied: changing the body later leaves the value alone. */
static void test_coerce_copies_containers(void)
{
    char err[64];
    model_prop p = { 0 };
    json_t *in = json_pack("{s:i}", "a", 1);
    json_t *out;
    p.type = PT_OBJECT;
    out = model_coerce(&p, in, err, sizeof err);
    if (!CHECK(out != NULL))
        return;
    CHECK(out != in);
    json_object_set_new(in, "b", json_integer(2));
    CHECK_INT(json_object_size(out), 1);
    json_decref(in);
    json_decref(out);
}

static void test_access_names(void)
{
    static const char *const names[] = { "*", "READ", "WRITE", "EXECUTE" };
    for (int i = 0; i < 4; i++) {
        int a = acl_access_parse(names[i]);
        CHECK(a >= 0);
        CHECK_STR(acl_access_name((acl_access)a), names[i]);
    }
    CHECK_INT(acl_access_parse("READ"), ACC_READ);
    CHECK_INT(acl_access_parse("*"), ACC_ALL);
    CHECK_INT(acl_access_parse("read"), -1);
    CHECK_INT(acl_access_parse(""), -1);
    CHECK_INT(acl_access_parse(NULL), -1);
}

/* Declared in unit.h once main.c runs it; declared here too for -Wmissing-prototypes. */
void suite_schema(void);

void suite_schema(void)
{
    RUN(test_builtins);
    RUN(test_lookups);
    RUN(test_widget);
    RUN(test_declared_details);
    RUN(test_model_errors);
    RUN(test_property_errors);
    RUN(test_relation_errors);
    RUN(test_acl_errors);
    RUN(test_first_error_wins);
    RUN(test_coerce);
    RUN(test_coerce_dates);
    RUN(test_coerce_copies_containers);
    RUN(test_access_names);
}
