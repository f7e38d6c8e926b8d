/*
 * schema.c — the model registry: the built-in models (builtin.c) plus those
 * declared in the config's "models" section, checked strictly.
 *
 * Loading is two passes. The first reads each declared model on its own
 * (names, properties, the shape of relations and ACL rules); the second,
 * once every model exists, resolves each relation's target and checks its
 * foreign key. Every error names the JSON path of the offending value.
 */
#include "core/util.h"
#include "model/builtin.h"
#include "model/schema.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/isodate.h"

#define NAME_MAX_LEN 64   /* model, property, relation names and plurals */
#define PATH_LEN 512

struct model_registry {
    model_def *defs;
    size_t n;     /* models fully loaded                          */
    size_t cap;   /* allocated; entries past n are zero or partial */
};

typedef struct loader {
    model_registry *r;
    char *err;
    size_t errlen;
} loader;

static const char *const MODEL_KEYS[] = { "plural", "properties", "relations", "acls", NULL };
static const char *const PROP_KEYS[] = { "type", "required", "default", "index", "unique", NULL };
static const char *const REL_KEYS[] = { "type", "model", "foreignKey", NULL };
static const char *const ACL_KEYS[] = {
    "accessType", "property", "principalType", "principalId", "permission", NULL,
};
static const char *const TYPE_NAMES[] = {
    [PT_STRING] = "string", [PT_NUMBER] = "number", [PT_BOOLEAN] = "boolean",
    [PT_DATE] = "date", [PT_OBJECT] = "object", [PT_ARRAY] = "array", [PT_ANY] = "any",
};

/* ---- small helpers ------------------------------------------------------ */

static char *copy_str(const char *s)
{
    return util_strdup(s);
}

static int fail(const loader *ld, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_path_error(ld->err, ld->errlen, path, fmt, ap);
    va_end(ap);
    return -1;
}

/* a + b + c into out (PATH_LEN bytes), cut short if it were ever longer. */
static void join(char out[PATH_LEN], const char *a, const char *b, const char *c)
{
    const char *parts[3] = { a, b, c };
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        for (const char *s = parts[i]; s && *s && n < PATH_LEN - 1; s++)
            out[n++] = *s;
    out[n] = '\0';
}

/* fail() at path + a + b ("models.W.acls[0]" + ".permission"). */
static int fail_at(const loader *ld, const char *path, const char *a, const char *b,
                   const char *msg)
{
    char sub[PATH_LEN];
    join(sub, path, a, b);
    return fail(ld, sub, "%s", msg);
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* ASCII only, whatever the locale: these names become SQL identifiers and paths. */
static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* A name safe as an SQL identifier: [A-Z] first for a model (upper_first),
 * else a letter or '_'; then letters, digits and '_'; NAME_MAX_LEN at most. */
static bool name_ok(const char *s, bool upper_first)
{
    size_t len = strlen(s);
    if (len == 0 || len > NAME_MAX_LEN)
        return false;
    if (upper_first ? !(*s >= 'A' && *s <= 'Z') : !(is_alpha(*s) || *s == '_'))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '_')
            return false;
    return true;
}

/* ACL property: "*" or a method name (which may hold '$', as LoopBack's do). */
static bool method_name_ok(const char *s)
{
    if (strcmp(s, "*") == 0)
        return true;
    if (!*s || strlen(s) > 128 || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '_' && *s != '$')
            return false;
    return true;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* Every key of obj must be one of `allowed`; the first that is not is named. */
static int check_keys(const loader *ld, const json_t *obj, const char *const *allowed,
                      const char *path)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (!in_list(allowed, key))
            return fail_at(ld, path, ".", key, "unknown key");
    }
    return 0;
}

/* Type names as LoopBack writes them, either case ("string", "String"). */
static int parse_type(const char *s)
{
    for (size_t i = 0; i < sizeof TYPE_NAMES / sizeof TYPE_NAMES[0]; i++)
        if (strcasecmp(s, TYPE_NAMES[i]) == 0)
            return (int)i;
    return -1;
}

/* An optional boolean attribute; absent leaves *out false. */
static int get_flag(const loader *ld, const json_t *obj, const char *key, bool *out,
                    const char *path)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail_at(ld, path, ".", key, "must be a boolean");
    *out = json_is_true(v);
    return 0;
}

/* A required or optional string attribute; NULL in *out when absent. */
static int get_string(const loader *ld, const json_t *obj, const char *key, bool required,
                      const char **out, const char *path)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return required ? fail(ld, path, "'%s' is required", key) : 0;
    if (!json_is_string(v))
        return fail_at(ld, path, ".", key, "must be a string");
    *out = json_string_value(v);
    return 0;
}

/* ---- freeing -------------------------------------------------------------- */

static void free_model(model_def *m)
{
    for (size_t i = 0; i < m->nprops; i++) {
        free(m->props[i].name);
        free(m->props[i].column);
        json_decref(m->props[i].def);
    }
    for (size_t i = 0; i < m->nrels; i++) {
        free(m->rels[i].name);
        free(m->rels[i].model);
        free(m->rels[i].foreign_key);
    }
    for (size_t i = 0; i < m->nacls; i++) {
        free(m->acls[i].model);
        free(m->acls[i].property);
        free(m->acls[i].pid);
    }
    free(m->props);
    free(m->rels);
    free(m->acls);
    free(m->name);
    free(m->plural);
    free(m->table);
    free(m->extra_column);
}

void models_free(model_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->cap; i++)
        free_model(&r->defs[i]);
    free(r->defs);
    free(r);
}

/* ---- lookups -------------------------------------------------------------- */

size_t models_count(const model_registry *r)
{
    return r->n;
}

const model_def *models_at(const model_registry *r, size_t i)
{
    return i < r->n ? &r->defs[i] : NULL;
}

const model_def *models_by_name(const model_registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->defs[i].name, name) == 0)
            return &r->defs[i];
    return NULL;
}

const model_def *models_by_plural(const model_registry *r, const char *plural)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcasecmp(r->defs[i].plural, plural) == 0)
            return &r->defs[i];
    return NULL;
}

const model_prop *model_prop_named(const model_def *m, const char *name)
{
    for (size_t i = 0; i < m->nprops; i++)
        if (strcmp(m->props[i].name, name) == 0)
            return &m->props[i];
    return NULL;
}

const model_rel *model_rel_named(const model_def *m, const char *name)
{
    for (size_t i = 0; i < m->nrels; i++)
        if (strcmp(m->rels[i].name, name) == 0)
            return &m->rels[i];
    return NULL;
}

/* ---- coercion --------------------------------------------------------------- */

static json_t *coerce_date(const model_prop *p, const json_t *v, char *err, size_t errlen)
{
    char iso[ISODATE_LEN];
    int64_t ms;
    if (!json_is_string(v) || iso_parse(json_string_value(v), &ms) != 0) {
        set_err(err, errlen, "must be a date in ISO 8601 form (YYYY-MM-DDTHH:MM:SS.mmmZ)");
        return NULL;
    }
    if (p->ms_date)
        return util_need(json_integer(ms));
    iso_format(ms, iso);
    return util_need(json_string(iso));
}

bool model_key_value(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < -MODEL_KEY_MAX || x > MODEL_KEY_MAX)
            return false;
        *out = (long long)x;
        return true;
    }
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    if (!(fabs(d) <= (double)MODEL_KEY_MAX) || d != floor(d)) /* NaN fails too */
        return false;
    *out = (long long)d;
    return true;
}

static json_t *coerce_number(const model_prop *p, const json_t *v, char *err, size_t errlen)
{
    long long key;
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        set_err(err, errlen, "must be a number");
        return NULL;
    }
    if (!p->is_id && !p->is_key)
        return json_incref((json_t *)v);
    /* generated ids, and keys naming them, are integers */
    if (!model_key_value(v, &key)) {
        double d = json_number_value(v);
        set_err(err, errlen, d == floor(d) ? "must be an integer of at most 9007199254740991 in magnitude"
                                           : "must be an integer");
        return NULL;
    }
    return json_integer(key);
}

/* Whether v has the JSON type of p (date and number are checked elsewhere). */
static bool plain_type_ok(prop_type t, const json_t *v)
{
    switch (t) {
    case PT_STRING:  return json_is_string(v);
    case PT_BOOLEAN: return json_is_boolean(v);
    case PT_OBJECT:  return json_is_object(v);
    case PT_ARRAY:   return json_is_array(v);
    default:         return true;
    }
}

json_t *model_coerce(const model_prop *p, const json_t *v, char *err, size_t errlen)
{
    char msg[64];
    if (!v || json_is_null(v)) {
        if (p->required) {
            set_err(err, errlen, "can't be blank");
            return NULL;
        }
        return json_null();
    }
    if (p->type == PT_DATE)
        return coerce_date(p, v, err, errlen);
    if (p->type == PT_NUMBER)
        return coerce_number(p, v, err, errlen);
    if (!plain_type_ok(p->type, v)) {
        snprintf(msg, sizeof msg, "must be %s %s", p->type == PT_OBJECT || p->type == PT_ARRAY
                 ? "an" : "a", TYPE_NAMES[p->type]);
        set_err(err, errlen, msg);
        return NULL;
    }
    /* containers are copied so the caller's body can change without aliasing */
    if (json_is_object(v) || json_is_array(v))
        return util_need(json_deep_copy(v));
    return json_incref((json_t *)v);
}

/* ---- properties ------------------------------------------------------------ */

/* Reads the "type" of a property: a string, shorthand or in an object. */
static int read_type(const loader *ld, model_prop *p, const json_t *v, const char *path)
{
    char sub[PATH_LEN];
    const char *name;
    int t;
    if (json_is_object(v)) {
        join(sub, path, ".type", NULL);
        if (get_string(ld, v, "type", true, &name, path) != 0)
            return -1;
    } else {
        join(sub, path, NULL, NULL);
        name = json_string_value(v);
    }
    t = parse_type(name);
    if (t < 0)
        return fail(ld, sub, "unknown type '%s'", name);
    p->type = (prop_type)t;
    return 0;
}

static int read_default(const loader *ld, model_prop *p, const json_t *obj, const char *path)
{
    char sub[PATH_LEN], why[128];
    const json_t *v = json_object_get(obj, "default");
    bool required = p->required;
    if (!v)
        return 0;
    join(sub, path, ".default", NULL);
    if (json_is_null(v))
        return fail(ld, sub, "must not be null");
    p->required = false;
    p->def = model_coerce(p, v, why, sizeof why);
    p->required = required;
    return p->def ? 0 : fail(ld, sub, "%s", why);
}

static int load_prop(const loader *ld, model_prop *p, const char *name, const json_t *v,
                     const char *path)
{
    p->name = copy_str(name);
    p->column = copy_str(name);
    if (!json_is_string(v) && !json_is_object(v))
        return fail(ld, path, "must be a type name or an object");
    if (json_is_object(v) && check_keys(ld, v, PROP_KEYS, path) != 0)
        return -1;
    if (read_type(ld, p, v, path) != 0)
        return -1;
    if (!json_is_object(v))
        return 0;
    if (get_flag(ld, v, "required", &p->required, path) != 0 ||
        get_flag(ld, v, "index", &p->index, path) != 0 ||
        get_flag(ld, v, "unique", &p->unique, path) != 0)
        return -1;
    return read_default(ld, p, v, path);
}

/* "id" is the store's: it may be declared only as what it is, a number. */
static int check_declared_id(const loader *ld, const json_t *v, const char *path)
{
    const json_t *t = json_is_object(v) ? json_object_get(v, "type") : v;
    bool only_type = !json_is_object(v) || json_object_size(v) == 1;
    if (only_type && json_is_string(t) && parse_type(json_string_value(t)) == PT_NUMBER)
        return 0;
    return fail(ld, path, "the id is implicit (a number generated by the store); it may only "
                          "be declared as \"number\"");
}

/* Columns are named after properties, and SQL names ignore case. */
static int check_prop_name(const loader *ld, const model_def *m, size_t k, const char *name,
                           const char *path)
{
    if (!name_ok(name, false))
        return fail(ld, path, "invalid property name (must match [A-Za-z_][A-Za-z0-9_]{0,63})");
    for (size_t i = 0; i < k; i++)
        if (strcasecmp(m->props[i].name, name) == 0)
            return fail(ld, path, "clashes with property '%s' (column names ignore case)",
                        m->props[i].name);
    return 0;
}

static void set_implicit_id(model_prop *p)
{
    p->name = copy_str("id");
    p->column = copy_str("id");
    p->type = PT_NUMBER;
    p->is_id = true;
    p->readonly = true;
}

static int load_props(const loader *ld, model_def *m, const json_t *props, const char *path)
{
    char sub[PATH_LEN];
    const char *name;
    json_t *v;
    size_t k = 1;
    if (props && !json_is_object(props))
        return fail(ld, path, "must be an object");
    m->nprops = 1 + json_object_size(props);
    m->props = util_need(calloc(m->nprops, sizeof *m->props));
    set_implicit_id(&m->props[0]);
    m->id = &m->props[0];
    json_object_foreach((json_t *)props, name, v) {
        join(sub, path, ".", name);
        if (strcmp(name, "id") == 0) {
            if (check_declared_id(ld, v, sub) != 0)
                return -1;
            continue;
        }
        if (check_prop_name(ld, m, k, name, sub) != 0 ||
            load_prop(ld, &m->props[k], name, v, sub) != 0)
            return -1;
        k++;
    }
    m->nprops = k;
    return 0;
}

/* ---- relations ------------------------------------------------------------- */

/* LoopBack's default foreign keys: belongsTo "owner" -> "ownerId"; a hasMany
 * of "Widget" -> "widgetId" on the target. */
static char *default_fk(const model_def *m, const char *rel_name, rel_type type)
{
    char buf[NAME_MAX_LEN + 8];
    snprintf(buf, sizeof buf, "%sId", type == REL_BELONGS_TO ? rel_name : m->name);
    if (type == REL_HAS_MANY)
        buf[0] = (char)tolower((unsigned char)buf[0]);
    return copy_str(buf);
}

static int parse_rel_type(const char *s)
{
    if (strcmp(s, "belongsTo") == 0)
        return REL_BELONGS_TO;
    if (strcmp(s, "hasMany") == 0)
        return REL_HAS_MANY;
    return -1;
}

/* Reads a relation's shape; its target and foreign key are checked later. */
static int load_rel(const loader *ld, const model_def *m, model_rel *rel, const char *name,
                    const json_t *v, const char *path)
{
    char sub[PATH_LEN];
    const char *type, *model, *fk;
    int t;
    if (!name_ok(name, false))
        return fail(ld, path, "invalid relation name (must match [A-Za-z_][A-Za-z0-9_]{0,63})");
    if (model_prop_named(m, name))
        return fail(ld, path, "clashes with the property of the same name");
    if (!json_is_object(v))
        return fail(ld, path, "must be an object");
    if (check_keys(ld, v, REL_KEYS, path) != 0 ||
        get_string(ld, v, "type", true, &type, path) != 0 ||
        get_string(ld, v, "model", true, &model, path) != 0 ||
        get_string(ld, v, "foreignKey", false, &fk, path) != 0)
        return -1;
    if ((t = parse_rel_type(type)) < 0) {
        join(sub, path, ".type", NULL);
        return fail(ld, sub, "must be \"belongsTo\" or \"hasMany\"");
    }
    if (fk && !name_ok(fk, false)) {
        join(sub, path, ".foreignKey", NULL);
        return fail(ld, sub, "invalid property name '%s'", fk);
    }
    rel->name = copy_str(name);
    rel->type = (rel_type)t;
    rel->model = copy_str(model);
    rel->foreign_key = fk ? copy_str(fk) : default_fk(m, name, rel->type);
    return 0;
}

static int load_rels(const loader *ld, model_def *m, const json_t *rels, const char *path)
{
    char sub[PATH_LEN];
    const char *name;
    json_t *v;
    size_t k = 0;
    if (!json_is_object(rels))
        return fail(ld, path, "must be an object");
    m->nrels = json_object_size(rels);
    m->rels = util_need(calloc(m->nrels ? m->nrels : 1, sizeof *m->rels));
    json_object_foreach((json_t *)rels, name, v) {
        join(sub, path, ".", name);
        if (load_rel(ld, m, &m->rels[k++], name, v, sub) != 0)
            return -1;
    }
    return 0;
}

/* ---- ACL rules ------------------------------------------------------------- */

/* A principal id is text ("$owner", "admin"); a USER's may be written as a number. */
static int read_pid(const loader *ld, const json_t *rule, char *out, size_t outlen,
                    const char *path)
{
    const json_t *v = json_object_get(rule, "principalId");
    char sub[PATH_LEN];
    join(sub, path, ".principalId", NULL);
    if (!v)
        return fail(ld, path, "'principalId' is required");
    if (json_is_integer(v))
        snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < outlen)
        snprintf(out, outlen, "%s", json_string_value(v));
    else
        return fail(ld, sub, "must be a non-empty string (at most %zu bytes) or an integer",
                    outlen - 1);
    return 0;
}

/* The enumerated fields of a rule, each checked against its allowed words. */
static int read_acl_words(const loader *ld, const json_t *v, acl_rule *rule, const char *path)
{
    const char *access, *prop, *ptype, *perm;
    int a, t, p;
    if (get_string(ld, v, "accessType", false, &access, path) != 0 ||
        get_string(ld, v, "property", false, &prop, path) != 0 ||
        get_string(ld, v, "principalType", true, &ptype, path) != 0 ||
        get_string(ld, v, "permission", true, &perm, path) != 0)
        return -1;
    if ((a = access ? acl_access_parse(access) : ACC_ALL) < 0)
        return fail_at(ld, path, ".accessType", NULL, "must be READ, WRITE, EXECUTE or *");
    if (prop && !method_name_ok(prop))
        return fail_at(ld, path, ".property", NULL, "must be \"*\" or a method name");
    if ((t = acl_ptype_parse(ptype)) < 0)
        return fail_at(ld, path, ".principalType", NULL, "must be ROLE, USER or APP");
    if ((p = acl_perm_parse(perm)) < 0)
        return fail_at(ld, path, ".permission", NULL, "must be ALLOW or DENY");
    rule->access = (acl_access)a;
    rule->property = copy_str(prop ? prop : "*");
    rule->ptype = (acl_ptype)t;
    rule->perm = (acl_perm)p;
    return 0;
}

static int load_acl(const loader *ld, const model_def *m, acl_rule *rule, const json_t *v,
                    const char *path)
{
    char pid[256];
    if (!json_is_object(v))
        return fail(ld, path, "must be an object");
    if (check_keys(ld, v, ACL_KEYS, path) != 0 || read_acl_words(ld, v, rule, path) != 0 ||
        read_pid(ld, v, pid, sizeof pid, path) != 0)
        return -1;
    rule->model = copy_str(m->name);
    rule->pid = copy_str(pid);
    return 0;
}

static int load_acls(const loader *ld, model_def *m, const json_t *acls, const char *path)
{
    char sub[PATH_LEN];
    if (!json_is_array(acls))
        return fail(ld, path, "must be an array");
    m->nacls = json_array_size(acls);
    m->acls = util_need(calloc(m->nacls ? m->nacls : 1, sizeof *m->acls));
    for (size_t i = 0; i < m->nacls; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "[%zu]", i);
        join(sub, path, idx, NULL);
        if (load_acl(ld, m, &m->acls[i], json_array_get(acls, i), sub) != 0)
            return -1;
    }
    return 0;
}

/* ---- models ------------------------------------------------------------------ */

static int check_model_name(const loader *ld, const char *name, const char *path)
{
    const model_registry *r = ld->r;
    if (!name_ok(name, true))
        return fail(ld, path, "invalid model name (must match [A-Z][A-Za-z0-9_]{0,63})");
    for (size_t i = 0; i < r->n; i++) {
        if (r->defs[i].kind != MODEL_DECLARED && strcmp(r->defs[i].name, name) == 0)
            return fail(ld, path, "is a built-in model and cannot be redeclared");
        if (r->defs[i].kind == MODEL_DECLARED && strcasecmp(r->defs[i].name, name) == 0)
            return fail(ld, path, "clashes with model '%s' (table names ignore case)",
                        r->defs[i].name);
    }
    return 0;
}

/* A plural is a path segment: letters, digits, '_' and '-'. */
static bool plural_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > NAME_MAX_LEN || !is_alpha(*s))
        return false;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

static char *lowered(const char *prefix, const char *name, const char *suffix)
{
    size_t len = strlen(prefix) + strlen(name) + strlen(suffix) + 1;
    char *s = util_need(malloc(len));
    snprintf(s, len, "%s%s%s", prefix, name, suffix);
    for (char *c = s; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return s;
}

/* The REST path: given, or the name lowercased plus "s"; unique, ignoring case. */
static int load_plural(const loader *ld, model_def *m, const json_t *v, const char *path)
{
    char sub[PATH_LEN];
    const model_def *other;
    join(sub, path, ".plural", NULL);
    if (v && !json_is_string(v))
        return fail(ld, sub, "must be a string");
    if (v && !plural_ok(json_string_value(v)))
        return fail(ld, sub, "invalid plural (must match [A-Za-z][A-Za-z0-9_-]{0,63})");
    m->plural = v ? copy_str(json_string_value(v)) : lowered("", m->name, "s");
    other = models_by_plural(ld->r, m->plural);
    if (other && v)
        return fail(ld, sub, "'%s' is already the plural of %s", m->plural, other->name);
    if (other)
        return fail(ld, path, "its default plural '%s' is already the plural of %s; set "
                              "\"plural\"", m->plural, other->name);
    return 0;
}

static int load_model(const loader *ld, model_def *m, const char *name, const json_t *v)
{
    char path[PATH_LEN], sub[PATH_LEN];
    const json_t *rels = json_object_get(v, "relations");
    const json_t *acls = json_object_get(v, "acls");
    join(path, "models.", name, NULL);
    if (check_model_name(ld, name, path) != 0)
        return -1;
    if (!json_is_object(v))
        return fail(ld, path, "must be an object");
    if (check_keys(ld, v, MODEL_KEYS, path) != 0)
        return -1;
    m->name = copy_str(name);
    m->kind = MODEL_DECLARED;
    m->table = lowered("m_", name, "");
    if (load_plural(ld, m, json_object_get(v, "plural"), path) != 0)
        return -1;
    join(sub, path, ".properties", NULL);
    if (load_props(ld, m, json_object_get(v, "properties"), sub) != 0)
        return -1;
    join(sub, path, ".relations", NULL);
    if (rels && load_rels(ld, m, rels, sub) != 0)
        return -1;
    join(sub, path, ".acls", NULL);
    return acls ? load_acls(ld, m, acls, sub) : 0;
}

/* ---- resolution -------------------------------------------------------------- */

/* The foreign key must be a number property other than the id. */
static int check_fk(const loader *ld, const model_def *holder, const char *fk,
                    const char *path)
{
    const model_prop *p = model_prop_named(holder, fk);
    if (!p || p->is_id)
        return fail(ld, path, "'%s' is not a property of %s", fk, holder->name);
    if (p->type != PT_NUMBER)
        return fail(ld, path, "'%s' must be a number property", fk);
    return 0;
}

/* The registry owns every definition it resolves, the targets' included. */
static void mark_key(const model_def *holder, const char *name)
{
    for (size_t i = 0; i < holder->nprops; i++)
        if (strcmp(holder->props[i].name, name) == 0)
            holder->props[i].is_key = true;
}

/*
 * Points the relation at its target and checks its foreign key. The first
 * belongsTo User relation of a model names its owner ($owner).
 */
static int resolve_rel(const loader *ld, model_def *m, model_rel *rel)
{
    char path[PATH_LEN], sub[PATH_LEN];
    const model_def *t = models_by_name(ld->r, rel->model);
    join(path, "models.", m->name, ".relations.");
    join(sub, path, rel->name, NULL);
    memcpy(path, sub, sizeof path);
    join(sub, path, ".model", NULL);
    if (!t)
        return fail(ld, sub, "unknown model '%s'", rel->model);
    rel->target = t;
    join(sub, path, ".foreignKey", NULL);
    const model_def *holder = rel->type == REL_HAS_MANY ? t : m;
    if (check_fk(ld, holder, rel->foreign_key, sub) != 0)
        return -1;
    mark_key(holder, rel->foreign_key);
    if (rel->type == REL_HAS_MANY)
        return 0;
    if (t->id->id_is_text) {
        join(sub, path, ".model", NULL);
        return fail(ld, sub, "%s has a text id; a belongsTo needs a number id", t->name);
    }
    if (t->kind == MODEL_USER && !m->owner_fk)
        m->owner_fk = model_prop_named(m, rel->foreign_key);
    return 0;
}

static int resolve_all(const loader *ld)
{
    for (size_t i = 0; i < ld->r->n; i++) {
        model_def *m = &ld->r->defs[i];
        for (size_t j = 0; j < m->nrels; j++)
            if (resolve_rel(ld, m, &m->rels[j]) != 0)
                return -1;
    }
    return 0;
}

model_registry *models_load(const json_t *declared, char *err, size_t errlen)
{
    loader ld = { NULL, err, errlen };
    const char *name;
    json_t *v;
    if (declared && !json_is_object(declared)) {
        fail(&ld, "models", "must be an object");
        return NULL;
    }
    ld.r = util_need(calloc(1, sizeof *ld.r));
    ld.r->cap = MODELS_BUILTIN_COUNT + json_object_size(declared);
    ld.r->defs = util_need(calloc(ld.r->cap, sizeof *ld.r->defs));
    models_builtin_fill(ld.r->defs);
    ld.r->n = MODELS_BUILTIN_COUNT;
    json_object_foreach((json_t *)declared, name, v) {
        if (load_model(&ld, &ld.r->defs[ld.r->n], name, v) != 0)
            goto bad;
        ld.r->n++;
    }
    if (resolve_all(&ld) == 0)
        return ld.r;
bad:
    models_free(ld.r);
    return NULL;
}
