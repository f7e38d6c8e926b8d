/*
 * acl.c — LoopBack 3's ACL resolution, and the caches that feed it.
 *
 * acl_decide is pure: rules and a caller in, a permission out. The engine
 * around it gathers the rules (static ones from the registry, dynamic ones
 * from the ACL model) and the caller's custom roles (role mappings), and
 * caches both. acl_invalidate bumps a generation counter: an entry of an
 * older generation counts as missing and is reloaded on next use. Entries
 * also expire after ACL_CACHE_TTL_MS, so changes made by another process
 * sharing the database (the CLI, another instance) are seen soon too.
 *
 * Cached lists are immutable and reference-counted: a check keeps using
 * the list it started with while another thread replaces it, and locks are
 * held only to look up or swap a pointer, never during a store query.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/acl.h"

#define ACL_CACHE_TTL_MS 10000
#define ROLE_SLOTS 65536 /* power of two: 2 MiB, one slot per active user */
#define ROLE_LOCKS 64    /* power of two: checks on different users rarely wait */
#define NO_MATCH (-1L)

/* ---- methods ------------------------------------------------------------ */

/* LoopBack names some methods several ways; a rule naming any name of a
 * method applies to it (patchAttributes is also updateAttributes, ...). */
static const char *const alias_groups[][4] = {
    {"patchAttributes", "updateAttributes", NULL},
    {"deleteById", "destroyById", "removeById", NULL},
    {"patchOrCreate", "upsert", "updateOrCreate", NULL},
    {"updateAll", "update", NULL},
    {"destroyAll", "deleteAll", "remove", NULL},
};

static const char *const read_methods[] = {"find", "findById", "findOne", "exists", "count", NULL};
static const char *const write_methods[] = {
    "create", "patchOrCreate", "upsert", "updateOrCreate", "replaceOrCreate", "upsertWithWhere",
    "replaceById", "patchAttributes", "updateAttributes", "deleteById", "destroyById",
    "removeById", "updateAll", "update", "destroyAll", "deleteAll", NULL,
};
static const char *const read_rel_prefixes[] = {"__get__", "__count__", "__findById__",
                                                "__exists__", NULL};
static const char *const write_rel_prefixes[] = {"__create__", "__delete__", "__destroyById__",
                                                 "__updateById__", "__link__", "__unlink__", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* "__get__accessTokens": a relation method needs a relation name after
 * the prefix. */
static bool has_rel_prefix(const char *const *prefixes, const char *s)
{
    for (; *prefixes; prefixes++) {
        size_t n = strlen(*prefixes);
        if (strncmp(s, *prefixes, n) == 0 && s[n] != '\0')
            return true;
    }
    return false;
}

bool acl_standard_method(const char *method)
{
    return method != NULL && (in_list(read_methods, method) || in_list(write_methods, method));
}

bool acl_relation_method(const char *method, const char **rel)
{
    static const char *const *const lists[] = {read_rel_prefixes, write_rel_prefixes};
    for (size_t l = 0; method && l < 2; l++)
        for (const char *const *p = lists[l]; *p; p++) {
            size_t n = strlen(*p);
            if (strncmp(method, *p, n) == 0 && method[n] != '\0') {
                *rel = method + n;
                return true;
            }
        }
    return false;
}

acl_access acl_access_of(const char *method)
{
    if (method == NULL)
        return ACC_EXECUTE;
    if (in_list(read_methods, method) || has_rel_prefix(read_rel_prefixes, method))
        return ACC_READ;
    if (in_list(write_methods, method) || has_rel_prefix(write_rel_prefixes, method))
        return ACC_WRITE;
    return ACC_EXECUTE;
}

static int alias_group_of(const char *name)
{
    for (size_t g = 0; g < sizeof alias_groups / sizeof alias_groups[0]; g++)
        if (in_list(alias_groups[g], name))
            return (int)g;
    return -1;
}

static bool same_method(const char *rule_prop, const char *method)
{
    if (strcmp(rule_prop, method) == 0)
        return true;
    int g = alias_group_of(method);
    return g >= 0 && g == alias_group_of(rule_prop);
}

bool acl_same_method(const char *a, const char *b)
{
    return a != NULL && b != NULL && same_method(a, b);
}

/* ---- the pure core ------------------------------------------------------ */

static bool is_any(const char *s)
{
    return s == NULL || strcmp(s, "*") == 0;
}

/* LoopBack's weight of one field: 3 exact, 2 when the rule says "*", 1
 * when only the request does; otherwise the rule does not apply. */
static int field_weight(bool exact, bool rule_any, bool req_any)
{
    if (exact)
        return 3;
    if (rule_any)
        return 2;
    if (req_any)
        return 1;
    return (int)NO_MATCH;
}

/* A rule without a model is a static rule of the model being checked. */
static int model_weight(const acl_rule *r, const char *model)
{
    if (r->model == NULL)
        return 3;
    bool exact = model != NULL && strcmp(r->model, model) == 0;
    return field_weight(exact, strcmp(r->model, "*") == 0, model == NULL);
}

static int property_weight(const acl_rule *r, const char *method)
{
    bool rule_any = is_any(r->property);
    bool req_any = is_any(method);
    bool exact = !rule_any && !req_any && same_method(r->property, method);
    return field_weight(exact, rule_any, req_any);
}

static int access_weight(const acl_rule *r, acl_access access)
{
    return field_weight(r->access == access, r->access == ACC_ALL, access == ACC_ALL);
}

static int ptype_weight(acl_ptype t)
{
    switch (t) {
    case PTYPE_USER: return 4;
    case PTYPE_APP: return 3;
    case PTYPE_ROLE: return 2;
    }
    return 1;
}

/* Among roles, LoopBack ranks custom roles above $owner above
 * $authenticated/$unauthenticated above $everyone. */
static int role_weight(const acl_rule *r)
{
    if (r->ptype != PTYPE_ROLE || r->pid == NULL)
        return 0;
    if (strcmp(r->pid, "$owner") == 0)
        return 4;
    if (strcmp(r->pid, "$related") == 0)
        return 3;
    if (strcmp(r->pid, "$authenticated") == 0 || strcmp(r->pid, "$unauthenticated") == 0)
        return 2;
    if (strcmp(r->pid, "$everyone") == 0)
        return 1;
    return 5;
}

/* The rule's rank for this request, LoopBack 3's getMatchingScore packed
 * the same way (4 per field, 8 for roles), DENY last so it wins ties;
 * NO_MATCH when model, property or access type rule it out. */
static long rule_score(const acl_rule *r, const char *model, const char *method, acl_access access)
{
    int w[3] = {model_weight(r, model), property_weight(r, method), access_weight(r, access)};
    long s = 0;
    for (int i = 0; i < 3; i++) {
        if (w[i] < 0)
            return NO_MATCH;
        s = s * 4 + w[i];
    }
    s = s * 4 + ptype_weight(r->ptype);
    s = s * 8 + role_weight(r);
    return s * 4 + (r->perm == PERM_DENY ? 3 : 0);
}

static bool id_matches(const char *pid, int64_t id)
{
    char buf[24];
    if (id == 0)
        return false;
    snprintf(buf, sizeof buf, "%" PRId64, id);
    return strcmp(buf, pid) == 0;
}

/* Built-in roles follow from the caller; other "$" names ($owner, handled
 * apart, and $related, unsupported) never match here, so a custom role
 * can't pose as one. */
static bool holds_role(const acl_caller *who, const char *role)
{
    bool authenticated = who->user_id != 0 || who->app_id != 0;
    if (strcmp(role, "$everyone") == 0)
        return true;
    if (strcmp(role, "$authenticated") == 0)
        return authenticated;
    if (strcmp(role, "$unauthenticated") == 0)
        return !authenticated;
    if (role[0] == '$')
        return false;
    for (size_t i = 0; i < who->nroles; i++)
        if (who->roles[i] && strcmp(who->roles[i], role) == 0)
            return true;
    return false;
}

static bool principal_matches(const acl_rule *r, const acl_caller *who)
{
    if (r->pid == NULL)
        return false;
    switch (r->ptype) {
    case PTYPE_USER: return id_matches(r->pid, who->user_id);
    case PTYPE_APP: return id_matches(r->pid, who->app_id);
    case PTYPE_ROLE: return holds_role(who, r->pid);
    }
    return false;
}

static bool is_owner_rule(const acl_rule *r)
{
    return r->ptype == PTYPE_ROLE && r->pid != NULL && strcmp(r->pid, "$owner") == 0;
}

static bool caller_owns(const acl_caller *who)
{
    return who->user_id != 0 && who->is_owner != NULL && who->is_owner(who->owner_ctx);
}

/* The best rule the caller matches without asking is_owner, and apart the
 * best $owner rule: is_owner is called only if that one would win. Scores
 * of a $owner rule and of any other rule never tie (role weights differ). */
acl_perm acl_decide(const acl_rule *const *rules, size_t n, const char *model, const char *method,
                    acl_access access, const acl_caller *who, bool default_allow)
{
    long best = NO_MATCH, owner_best = NO_MATCH;
    acl_perm best_perm = PERM_DENY, owner_perm = PERM_DENY;
    for (size_t i = 0; i < n; i++) {
        long s = rule_score(rules[i], model, method, access);
        if (s == NO_MATCH)
            continue;
        if (is_owner_rule(rules[i])) {
            if (s > owner_best) {
                owner_best = s;
                owner_perm = rules[i]->perm;
            }
        } else if (s > best && principal_matches(rules[i], who)) {
            best = s;
            best_perm = rules[i]->perm;
        }
    }
    if (owner_best > best && caller_owns(who))
        return owner_perm;
    if (best != NO_MATCH)
        return best_perm;
    return default_allow ? PERM_ALLOW : PERM_DENY;
}

/* ---- shared immutable lists --------------------------------------------- */

typedef struct ruleset {
    atomic_int refs;
    size_t n, cap;
    acl_rule *rules;
} ruleset;

typedef struct roleset {
    atomic_int refs;
    size_t n, cap;
    char **names;
    bool oom; /* set while loading when a name could not be kept */
} roleset;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Room for one more item: items itself, or a larger copy when n items
 * fill *cap (doubled, from 8); NULL when out of memory (items stays). */
static void *grow(void *items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return items;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(items, ncap * size);
    if (p != NULL)
        *cap = ncap;
    return p;
}

static void rule_clear(acl_rule *r)
{
    free(r->model);
    free(r->property);
    free(r->pid);
    memset(r, 0, sizeof *r);
}

static ruleset *ruleset_new(void)
{
    ruleset *rs = calloc(1, sizeof *rs);
    if (rs)
        atomic_init(&rs->refs, 1);
    return rs;
}

static ruleset *ruleset_ref(ruleset *rs)
{
    atomic_fetch_add(&rs->refs, 1);
    return rs;
}

static void ruleset_unref(ruleset *rs)
{
    if (rs == NULL || atomic_fetch_sub(&rs->refs, 1) != 1)
        return;
    for (size_t i = 0; i < rs->n; i++)
        rule_clear(&rs->rules[i]);
    free(rs->rules);
    free(rs);
}

static roleset *roleset_new(void)
{
    roleset *rs = calloc(1, sizeof *rs);
    if (rs)
        atomic_init(&rs->refs, 1);
    return rs;
}

static roleset *roleset_ref(roleset *rs)
{
    atomic_fetch_add(&rs->refs, 1);
    return rs;
}

static void roleset_unref(roleset *rs)
{
    if (rs == NULL || atomic_fetch_sub(&rs->refs, 1) != 1)
        return;
    for (size_t i = 0; i < rs->n; i++)
        free(rs->names[i]);
    free(rs->names);
    free(rs);
}

static bool roleset_has(const roleset *rs, const char *role)
{
    for (size_t i = 0; rs && i < rs->n; i++)
        if (strcmp(rs->names[i], role) == 0)
            return true;
    return false;
}

/* ---- the engine --------------------------------------------------------- */

typedef struct dyn_entry {
    char *model;
    uint64_t gen;
    int64_t loaded_ms;
    ruleset *rs;
} dyn_entry;

typedef struct role_slot {
    int64_t user_id;
    uint64_t gen;
    int64_t loaded_ms;
    roleset *rs;
} role_slot;

struct acl_engine {
    const model_registry *models;
    store_t *store;
    acl_policy policy;            /* policy.default_allow: as acl_new's   */
    atomic_uint_fast64_t gen;     /* bumped by acl_invalidate            */
    pthread_rwlock_t dyn_lock;    /* guards dyn, ndyn, cap               */
    dyn_entry *dyn;
    size_t ndyn, cap;
    pthread_mutex_t role_lock[ROLE_LOCKS]; /* slot i is guarded by lock i % ROLE_LOCKS */
    role_slot roles[ROLE_SLOTS];  /* direct-mapped by user id            */
};

acl_engine *acl_new(const model_registry *models, store_t *store, bool default_allow)
{
    acl_policy p = {.default_allow = default_allow};
    return acl_new_with(models, store, &p);
}

acl_engine *acl_new_with(const model_registry *models, store_t *store, const acl_policy *policy)
{
    acl_engine *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->models = models;
    a->store = store;
    a->policy = *policy;
    atomic_init(&a->gen, 1);
    pthread_rwlock_init(&a->dyn_lock, NULL);
    for (size_t i = 0; i < ROLE_LOCKS; i++)
        pthread_mutex_init(&a->role_lock[i], NULL);
    return a;
}

void acl_free(acl_engine *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->ndyn; i++) {
        free(a->dyn[i].model);
        ruleset_unref(a->dyn[i].rs);
    }
    free(a->dyn);
    for (size_t i = 0; i < ROLE_SLOTS; i++)
        roleset_unref(a->roles[i].rs);
    pthread_rwlock_destroy(&a->dyn_lock);
    for (size_t i = 0; i < ROLE_LOCKS; i++)
        pthread_mutex_destroy(&a->role_lock[i]);
    free(a);
}

void acl_invalidate(acl_engine *a)
{
    atomic_fetch_add(&a->gen, 1);
}

static bool fresh(uint64_t gen, int64_t loaded_ms, uint64_t want_gen, int64_t now)
{
    return gen == want_gen && now - loaded_ms < ACL_CACHE_TTL_MS;
}

/* ---- dynamic rules ------------------------------------------------------ */

static const char *row_str(const json_t *row, const char *key, const char *dflt)
{
    const json_t *v = json_object_get(row, key);
    if (v == NULL || json_is_null(v))
        return dflt;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* principalId is text, but a user id may come back as a number. */
static char *row_pid(const json_t *row, bool *bad)
{
    const json_t *v = json_object_get(row, "principalId");
    char buf[32];
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (!json_is_integer(v)) {
        *bad = true;
        return NULL;
    }
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return strdup(buf);
}

/* 1: *out filled; 0: not a rule (skipped: the ACL handler validates rules
 * on write, so only a hand-edited database holds such rows); -1: out of
 * memory (the whole load fails rather than silently drop a DENY). */
static int rule_from_row(const json_t *row, acl_rule *out)
{
    const char *model = row_str(row, "model", NULL);
    const char *prop = row_str(row, "property", "*");
    int access = acl_access_parse(row_str(row, "accessType", "*"));
    int ptype = acl_ptype_parse(row_str(row, "principalType", NULL));
    int perm = acl_perm_parse(row_str(row, "permission", NULL));
    bool bad = model == NULL || prop == NULL || access < 0 || ptype < 0 || perm < 0;
    if (bad)
        return 0;
    memset(out, 0, sizeof *out);
    out->pid = row_pid(row, &bad);
    if (bad)
        return 0;
    out->model = strdup(model);
    out->property = strdup(prop);
    out->access = (acl_access)access;
    out->ptype = (acl_ptype)ptype;
    out->perm = (acl_perm)perm;
    if (out->model && out->property && out->pid)
        return 1;
    rule_clear(out);
    return -1;
}

typedef struct load_ctx {
    ruleset *rs;
    bool oom;
} load_ctx;

static void on_rule_row(json_t *row, void *ctx)
{
    load_ctx *lc = ctx;
    acl_rule r;
    int rc = lc->oom ? 0 : rule_from_row(row, &r);
    acl_rule *room = rc > 0 ? grow(lc->rs->rules, &lc->rs->cap, lc->rs->n, sizeof r) : NULL;
    if (rc > 0 && room == NULL) {
        rule_clear(&r);
        rc = -1;
    }
    if (rc > 0) {
        lc->rs->rules = room;
        lc->rs->rules[lc->rs->n++] = r;
    }
    if (rc < 0)
        lc->oom = true;
    json_decref(row);
}

/* One query: the rows of the ACL model whose model is `model` or "*". The
 * filter is built by hand from the ACL model's own "model" property, so no
 * caller text reaches it but the bound value. */
static store_err query_rules(store_t *st, const model_def *aclm, const char *model, load_ctx *lc)
{
    const model_prop *p = model_prop_named(aclm, "model");
    json_t *v_model = json_string(model), *v_any = json_string("*");
    fnode eq_model = {.kind = FN_CMP, .prop = p, .op = OP_EQ, .value = v_model};
    fnode eq_any = {.kind = FN_CMP, .prop = p, .op = OP_EQ, .value = v_any};
    fnode *kids[2] = {&eq_model, &eq_any};
    fnode either = {.kind = FN_OR, .kids = kids, .nkids = 2};
    filter f;
    memset(&f, 0, sizeof f);
    f.limit = -1;
    f.where = p != NULL ? &either : NULL; /* none: every row, sorted out later */
    store_err e = STORE_ERROR;
    if (v_model && v_any)
        e = store_rows_find(st, aclm, &f, on_rule_row, lc);
    json_decref(v_model);
    json_decref(v_any);
    return e;
}

/* The dynamic rules for model `model`, fresh from the store; NULL on a
 * store error or out of memory. No ACL model or no rows_find: none. */
static ruleset *dyn_load(acl_engine *a, const char *model)
{
    ruleset *rs = ruleset_new();
    const model_def *aclm = a->models ? models_by_name(a->models, "ACL") : NULL;
    if (rs == NULL || aclm == NULL || a->store == NULL)
        return rs;
    load_ctx lc = {rs, false};
    if (query_rules(a->store, aclm, model, &lc) != STORE_OK || lc.oom) {
        ruleset_unref(rs);
        return NULL;
    }
    return rs;
}

static dyn_entry *dyn_find(acl_engine *a, const char *model)
{
    for (size_t i = 0; i < a->ndyn; i++)
        if (strcmp(a->dyn[i].model, model) == 0)
            return &a->dyn[i];
    return NULL;
}

static dyn_entry *dyn_add(acl_engine *a, const char *model)
{
    char *name = strdup(model);
    dyn_entry *room = name ? grow(a->dyn, &a->cap, a->ndyn, sizeof *a->dyn) : NULL;
    if (room == NULL) {
        free(name);
        return NULL;
    }
    a->dyn = room;
    dyn_entry *e = &a->dyn[a->ndyn++];
    memset(e, 0, sizeof *e);
    e->model = name;
    return e;
}

static ruleset *dyn_cached(acl_engine *a, const char *model, uint64_t gen, int64_t now)
{
    ruleset *rs = NULL;
    pthread_rwlock_rdlock(&a->dyn_lock);
    dyn_entry *e = dyn_find(a, model);
    if (e != NULL && e->rs != NULL && fresh(e->gen, e->loaded_ms, gen, now))
        rs = ruleset_ref(e->rs);
    pthread_rwlock_unlock(&a->dyn_lock);
    return rs;
}

/* Keeps rs unless a load of a newer generation got there first. Out of
 * memory: not cached, the next check loads again. */
static void dyn_install(acl_engine *a, const char *model, uint64_t gen, int64_t now, ruleset *rs)
{
    pthread_rwlock_wrlock(&a->dyn_lock);
    dyn_entry *e = dyn_find(a, model);
    if (e == NULL)
        e = dyn_add(a, model);
    if (e != NULL && (e->rs == NULL || e->gen <= gen)) {
        ruleset_unref(e->rs);
        e->rs = ruleset_ref(rs);
        e->gen = gen;
        e->loaded_ms = now;
    }
    pthread_rwlock_unlock(&a->dyn_lock);
}

/* The generation is read before loading: an invalidation during the load
 * leaves the entry stale, so the next check reloads. */
static ruleset *dyn_get(acl_engine *a, const char *model)
{
    uint64_t gen = atomic_load(&a->gen);
    int64_t now = now_ms();
    ruleset *rs = dyn_cached(a, model, gen, now);
    if (rs != NULL)
        return rs;
    rs = dyn_load(a, model);
    if (rs != NULL)
        dyn_install(a, model, gen, now, rs);
    return rs;
}

/* ---- roles of users ----------------------------------------------------- */

static void on_role(const char *role, void *ctx)
{
    roleset *rs = ctx;
    if (rs->oom)
        return;
    char *name = strdup(role);
    char **room = name ? grow(rs->names, &rs->cap, rs->n, sizeof *rs->names) : NULL;
    if (room == NULL) {
        free(name);
        rs->oom = true;
        return;
    }
    rs->names = room;
    rs->names[rs->n++] = name;
}

/* key: a user's id, or minus an application's (issue 13: APP role
 * mappings), so both share one cache without colliding. */
static roleset *roles_load(acl_engine *a, int64_t key)
{
    roleset *rs = roleset_new();
    if (rs == NULL || a->store == NULL)
        return rs;
    if (store_principal_roles(a->store, key < 0, key < 0 ? -key : key, on_role, rs) != STORE_OK || rs->oom) {
        roleset_unref(rs);
        return NULL;
    }
    return rs;
}

static role_slot *slot_of(acl_engine *a, int64_t user_id)
{
    uint64_t h = (uint64_t)user_id * UINT64_C(0x9E3779B97F4A7C15);
    return &a->roles[(h >> 32) & (ROLE_SLOTS - 1)];
}

/* The user's custom roles (cached; a slot holds the last user hashed to
 * it); NULL on a store error. */
static roleset *roles_get(acl_engine *a, int64_t user_id)
{
    uint64_t gen = atomic_load(&a->gen);
    int64_t now = now_ms();
    role_slot *s = slot_of(a, user_id);
    pthread_mutex_t *lock = &a->role_lock[(size_t)(s - a->roles) & (ROLE_LOCKS - 1)];
    roleset *rs = NULL;
    pthread_mutex_lock(lock);
    if (s->rs != NULL && s->user_id == user_id && fresh(s->gen, s->loaded_ms, gen, now))
        rs = roleset_ref(s->rs);
    pthread_mutex_unlock(lock);
    if (rs != NULL || (rs = roles_load(a, user_id)) == NULL)
        return rs;
    pthread_mutex_lock(lock);
    if (s->rs == NULL || s->user_id != user_id || s->gen <= gen) {
        roleset_unref(s->rs);
        s->rs = roleset_ref(rs);
        s->user_id = user_id;
        s->gen = gen;
        s->loaded_ms = now;
    }
    pthread_mutex_unlock(lock);
    return rs;
}

/* The key of the roles cache for a caller: its user, or when only an
 * application calls, minus the application (its APP role mappings). */
static int64_t roles_key(const principal *who)
{
    return who->user_id != 0 ? who->user_id : -who->app_id;
}

static bool key_has_role(acl_engine *a, int64_t key, const char *role)
{
    if (key == 0 || role == NULL)
        return false;
    roleset *rs = roles_get(a, key);
    bool has = roleset_has(rs, role);
    roleset_unref(rs);
    return has;
}

bool acl_has_role(acl_engine *a, int64_t user_id, const char *role)
{
    return user_id > 0 && key_has_role(a, user_id, role);
}

bool acl_caller_has_role(acl_engine *a, const principal *who, const char *role)
{
    return key_has_role(a, roles_key(who), role);
}

/* ---- checks ------------------------------------------------------------- */

/* Static rules of m, the config's and the dynamic ones, decided in one pass. */
static acl_result decide_all(const acl_engine *a, const model_def *m, const ruleset *dyn,
                             const char *method, acl_access access, const acl_caller *who)
{
    size_t n = m->nacls + a->policy.nrules + dyn->n, k = 0;
    const acl_rule **list = malloc((n ? n : 1) * sizeof *list);
    if (list == NULL)
        return ACL_UNAVAILABLE;
    for (size_t i = 0; i < m->nacls; i++)
        list[k++] = &m->acls[i];
    for (size_t i = 0; i < a->policy.nrules; i++)
        list[k++] = &a->policy.rules[i];
    for (size_t i = 0; i < dyn->n; i++)
        list[k++] = &dyn->rules[i];
    acl_perm p = acl_decide(list, n, m->name, method, access, who, a->policy.default_allow);
    free(list);
    return p == PERM_ALLOW ? ACL_ALLOWED : ACL_DENIED;
}

bool acl_sandbox_opens(const model_def *m, const char *method)
{
    const char *rel_name;
    if (m->kind != MODEL_DECLARED)
        return false;
    if (!acl_relation_method(method, &rel_name))
        return true;
    /* /widgets/1/owner must not read a User the User rules would refuse */
    const model_rel *rel = model_rel_named(m, rel_name);
    return rel != NULL && rel->target != NULL && rel->target->kind == MODEL_DECLARED;
}

acl_result acl_check(acl_engine *a, const model_def *m, const char *method, acl_access access,
                     const principal *who, acl_owner_fn is_owner, void *owner_ctx)
{
    if (a->policy.sandbox && acl_sandbox_opens(m, method))
        return ACL_ALLOWED; /* before any role read: the sandbox asks nobody's roles */
    roleset *roles = NULL;
    /* a user's roles; a caller that is only an application has its own */
    int64_t key = roles_key(who);
    if (key != 0 && (roles = roles_get(a, key)) == NULL)
        return ACL_UNAVAILABLE;
    if (roleset_has(roles, "admin")) {
        roleset_unref(roles);
        return ACL_ALLOWED;
    }
    ruleset *dyn = dyn_get(a, m->name);
    acl_result res = ACL_UNAVAILABLE;
    if (dyn != NULL) {
        acl_caller c = {
            .user_id = who->user_id,
            .app_id = who->app_id,
            .roles = roles ? (const char *const *)roles->names : NULL,
            .nroles = roles ? roles->n : 0,
            .is_owner = is_owner,
            .owner_ctx = owner_ctx,
        };
        res = decide_all(a, m, dyn, method, access, &c);
    }
    ruleset_unref(dyn);
    roleset_unref(roles);
    return res;
}
