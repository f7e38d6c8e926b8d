/*
 * test_acl.c — ACL resolution (the pure core, acl_decide), the method →
 * access type map, and the engine's admin, role cache and store errors
 * against a fake store.
 */
#include <string.h>

#include "auth/acl.h"
#include "store/driver.h"
#include "unit.h"


#define ANY ACC_ALL
#define RULE(prop, acc, type, id, perm) \
    { NULL, (char *)(prop), (acc), (type), (char *)(id), (perm) }
#define ROLE_RULE(prop, acc, id, perm) RULE(prop, acc, PTYPE_ROLE, id, perm)

#define ALLOW PERM_ALLOW
#define DENY PERM_DENY

/* ---- helpers ------------------------------------------------------------ */

typedef struct owner_probe {
    bool owner;
    int calls;
} owner_probe;

static bool probe_owner(void *ctx)
{
    owner_probe *p = ctx;
    p->calls++;
    return p->owner;
}

static const acl_caller anonymous = {0};

static acl_caller user(int64_t id)
{
    acl_caller c = {0};
    c.user_id = id;
    return c;
}

static acl_caller owner_of(int64_t id, owner_probe *p)
{
    acl_caller c = user(id);
    c.is_owner = probe_owner;
    c.owner_ctx = p;
    return c;
}

/* Decides method on "Widget" over rules[0..n), access type from the method. */
static acl_perm decide(const acl_rule *rules, size_t n, const char *method, const acl_caller *who,
                       bool default_allow)
{
    const acl_rule *list[32];
    for (size_t i = 0; i < n && i < 32; i++)
        list[i] = &rules[i];
    return acl_decide(list, n, "Widget", method, acl_access_of(method), who, default_allow);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define DECIDE(rules, method, who) decide((rules), N(rules), (method), (who), false)

/* ---- the method map ----------------------------------------------------- */

static void test_access_of(void)
{
    const char *reads[] = {"find", "findById", "exists", "count", "findOne", "__get__tags",
                           "__count__accessTokens", "__findById__accessTokens"};
    const char *writes[] = {"create", "patchOrCreate", "replaceOrCreate", "upsert", "replaceById",
                            "patchAttributes", "updateAttributes", "deleteById", "destroyById",
                            "updateAll", "__create__tags", "__delete__accessTokens",
                            "__destroyById__accessTokens", "__updateById__tags"};
    const char *executes[] = {"login", "logout", "changePassword", "__get__", "findby", ""};
    for (size_t i = 0; i < N(reads); i++)
        CHECK_INT(acl_access_of(reads[i]), ACC_READ);
    for (size_t i = 0; i < N(writes); i++)
        CHECK_INT(acl_access_of(writes[i]), ACC_WRITE);
    for (size_t i = 0; i < N(executes); i++)
        CHECK_INT(acl_access_of(executes[i]), ACC_EXECUTE);
    CHECK_INT(acl_access_of(NULL), ACC_EXECUTE);
}

/* ---- resolution --------------------------------------------------------- */

static void test_default_when_nothing_matches(void)
{
    acl_caller u = user(7);
    const acl_rule rules[] = {ROLE_RULE("create", ANY, "$everyone", ALLOW)};
    CHECK_INT(decide(NULL, 0, "find", &anonymous, false), PERM_DENY);
    CHECK_INT(decide(NULL, 0, "find", &anonymous, true), PERM_ALLOW);
    CHECK_INT(decide(rules, 1, "find", &u, false), PERM_DENY);
    CHECK_INT(decide(rules, 1, "find", &u, true), PERM_ALLOW);
    /* a matching rule overrides the default either way */
    const acl_rule deny[] = {ROLE_RULE("*", ANY, "$everyone", DENY)};
    CHECK_INT(decide(deny, 1, "find", &u, true), PERM_DENY);
}

static void test_exact_property_beats_wildcard(void)
{
    acl_caller u = user(7);
    const acl_rule rules[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("find", ANY, "$everyone", ALLOW),
    };
    CHECK_INT(DECIDE(rules, "find", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "count", &u), PERM_DENY);
    /* property outranks access type: exact property with "*" access wins
       over "*" property with exact access */
    const acl_rule ranked[] = {
        ROLE_RULE("*", ACC_READ, "$everyone", ALLOW),
        ROLE_RULE("find", ANY, "$everyone", DENY),
    };
    CHECK_INT(DECIDE(ranked, "find", &u), PERM_DENY);
    CHECK_INT(DECIDE(ranked, "count", &u), PERM_ALLOW);
}

static void test_exact_access_beats_wildcard(void)
{
    acl_caller u = user(7);
    const acl_rule rules[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("*", ACC_READ, "$everyone", ALLOW),
    };
    CHECK_INT(DECIDE(rules, "find", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "__get__tags", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "create", &u), PERM_DENY);
    CHECK_INT(DECIDE(rules, "login", &u), PERM_DENY);
}

/* A rule of one access type never applies to a method of another. */
static void test_access_type_matching(void)
{
    acl_caller u = user(7);
    const acl_rule rules[] = {
        ROLE_RULE("*", ACC_WRITE, "$everyone", ALLOW),
        ROLE_RULE("*", ACC_EXECUTE, "$everyone", DENY),
    };
    CHECK_INT(DECIDE(rules, "patchAttributes", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "deleteById", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "find", &u), PERM_DENY); /* default */
    CHECK_INT(decide(rules, N(rules), "find", &u, true), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "login", &u), PERM_DENY);
    CHECK_INT(decide(rules, N(rules), "login", &u, true), PERM_DENY);
}

static void test_principal_type_ranking(void)
{
    acl_caller u7 = user(7), u8 = user(8);
    const acl_rule rules[] = {
        ROLE_RULE("find", ANY, "$everyone", DENY),
        RULE("find", ANY, PTYPE_APP, "3", ALLOW),
        RULE("find", ANY, PTYPE_USER, "7", DENY),
    };
    acl_caller app3 = {.app_id = 3};
    acl_caller u7app3 = {.user_id = 7, .app_id = 3};
    acl_caller u8app3 = {.user_id = 8, .app_id = 3};
    CHECK_INT(DECIDE(rules, "find", &u8), PERM_DENY);     /* ROLE only    */
    CHECK_INT(DECIDE(rules, "find", &app3), PERM_ALLOW);  /* APP > ROLE   */
    CHECK_INT(DECIDE(rules, "find", &u8app3), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "find", &u7app3), PERM_DENY); /* USER > APP   */
    CHECK_INT(DECIDE(rules, "find", &u7), PERM_DENY);
    /* principal type ranks below property: a ROLE rule on the exact
       method beats a USER rule on "*" */
    const acl_rule prop_first[] = {
        RULE("*", ANY, PTYPE_USER, "7", DENY),
        ROLE_RULE("find", ANY, "$authenticated", ALLOW),
    };
    CHECK_INT(DECIDE(prop_first, "find", &u7), PERM_ALLOW);
    CHECK_INT(DECIDE(prop_first, "count", &u7), PERM_DENY);
}

static void test_user_principal_by_id(void)
{
    acl_caller u42 = user(42), u4 = user(4), u420 = user(420);
    const acl_rule rules[] = {RULE("*", ANY, PTYPE_USER, "42", ALLOW)};
    CHECK_INT(DECIDE(rules, "find", &u42), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "create", &u42), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "find", &u4), PERM_DENY);
    CHECK_INT(DECIDE(rules, "find", &u420), PERM_DENY);
    CHECK_INT(DECIDE(rules, "find", &anonymous), PERM_DENY);
    const acl_rule zero[] = {RULE("*", ANY, PTYPE_USER, "0", ALLOW)};
    CHECK_INT(DECIDE(zero, "find", &anonymous), PERM_DENY);
}

/* At equal rank DENY wins, whatever the order of the rules. */
static void test_deny_wins_ties(void)
{
    acl_caller u = user(7);
    const acl_rule allow_first[] = {
        ROLE_RULE("find", ANY, "$everyone", ALLOW),
        ROLE_RULE("find", ANY, "$everyone", DENY),
    };
    const acl_rule deny_first[] = {
        ROLE_RULE("find", ANY, "$everyone", DENY),
        ROLE_RULE("find", ANY, "$everyone", ALLOW),
    };
    CHECK_INT(DECIDE(allow_first, "find", &u), PERM_DENY);
    CHECK_INT(DECIDE(deny_first, "find", &u), PERM_DENY);
    const acl_rule users[] = {
        RULE("*", ACC_READ, PTYPE_USER, "7", ALLOW),
        RULE("*", ACC_READ, PTYPE_USER, "7", DENY),
    };
    CHECK_INT(decide(users, 2, "find", &u, true), PERM_DENY);
    const acl_rule roles[] = {
        ROLE_RULE("find", ANY, "$authenticated", ALLOW),
        ROLE_RULE("find", ANY, "$unauthenticated", DENY),
    };
    CHECK_INT(DECIDE(roles, "find", &u), PERM_ALLOW); /* the DENY doesn't match */
}

static void test_builtin_roles(void)
{
    acl_caller u = user(7);
    acl_caller app = {.app_id = 5};
    const acl_rule rules[] = {
        ROLE_RULE("find", ANY, "$everyone", ALLOW),
        ROLE_RULE("create", ANY, "$authenticated", ALLOW),
        ROLE_RULE("login", ANY, "$unauthenticated", ALLOW),
        ROLE_RULE("count", ANY, "$related", ALLOW),
    };
    CHECK_INT(DECIDE(rules, "find", &anonymous), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "find", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "create", &anonymous), PERM_DENY);
    CHECK_INT(DECIDE(rules, "create", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "create", &app), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "login", &anonymous), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "login", &u), PERM_DENY);
    CHECK_INT(DECIDE(rules, "count", &u), PERM_DENY); /* unsupported */
    /* $authenticated outranks $everyone at equal property and access */
    const acl_rule ranked[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("*", ANY, "$authenticated", ALLOW),
    };
    CHECK_INT(DECIDE(ranked, "find", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(ranked, "find", &anonymous), PERM_DENY);
}

static void test_owner(void)
{
    const acl_rule rules[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("*", ACC_WRITE, "$owner", ALLOW),
    };
    owner_probe yes = {true, 0}, no = {false, 0};
    acl_caller owner = owner_of(7, &yes), other = owner_of(8, &no);
    CHECK_INT(DECIDE(rules, "patchAttributes", &owner), PERM_ALLOW);
    CHECK_INT(yes.calls, 1);
    CHECK_INT(DECIDE(rules, "patchAttributes", &other), PERM_DENY);
    CHECK_INT(no.calls, 1);
    /* no callback, or an anonymous caller: never the owner */
    acl_caller nocb = user(7);
    CHECK_INT(DECIDE(rules, "patchAttributes", &nocb), PERM_DENY);
    owner_probe anon_probe = {true, 0};
    acl_caller anon = owner_of(0, &anon_probe);
    CHECK_INT(DECIDE(rules, "patchAttributes", &anon), PERM_DENY);
    CHECK_INT(anon_probe.calls, 0);
}

/* is_owner may read the instance: it is asked only when a $owner rule
 * applies to the method and would outrank every other matching rule. */
static void test_owner_is_lazy(void)
{
    owner_probe p = {true, 0};
    acl_caller c = owner_of(7, &p);
    const acl_rule write_only[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("*", ACC_WRITE, "$owner", ALLOW),
        ROLE_RULE("*", ACC_READ, "$authenticated", ALLOW),
    };
    CHECK_INT(DECIDE(write_only, "find", &c), PERM_ALLOW);
    CHECK_INT(DECIDE(write_only, "login", &c), PERM_DENY);
    CHECK_INT(p.calls, 0);
    const acl_rule user_first[] = {
        ROLE_RULE("patchAttributes", ANY, "$owner", ALLOW),
        RULE("patchAttributes", ANY, PTYPE_USER, "7", DENY),
    };
    CHECK_INT(DECIDE(user_first, "patchAttributes", &c), PERM_DENY);
    CHECK_INT(p.calls, 0);
    const acl_rule none[] = {ROLE_RULE("*", ANY, "$everyone", DENY)};
    CHECK_INT(DECIDE(none, "deleteById", &c), PERM_DENY);
    CHECK_INT(p.calls, 0);
    CHECK_INT(DECIDE(write_only, "deleteById", &c), PERM_ALLOW);
    CHECK_INT(p.calls, 1);
}

static void test_custom_roles(void)
{
    const char *editor[] = {"editor"};
    const char *pretend[] = {"$owner", "$authenticated"};
    acl_caller ed = {.user_id = 7, .roles = editor, .nroles = 1};
    acl_caller fake = {.user_id = 8, .roles = pretend, .nroles = 2};
    const acl_rule rules[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("*", ACC_WRITE, "editor", ALLOW),
        ROLE_RULE("*", ACC_WRITE, "$owner", ALLOW),
    };
    CHECK_INT(DECIDE(rules, "create", &ed), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "find", &ed), PERM_DENY);
    acl_caller plain = user(9);
    CHECK_INT(DECIDE(rules, "create", &plain), PERM_DENY);
    CHECK_INT(DECIDE(rules, "create", &fake), PERM_DENY); /* "$..." mappings count for nothing */
    /* a custom role outranks $owner, without asking is_owner */
    owner_probe p = {true, 0};
    acl_caller ed_owner = ed;
    ed_owner.is_owner = probe_owner;
    ed_owner.owner_ctx = &p;
    const acl_rule ranked[] = {
        ROLE_RULE("deleteById", ANY, "$owner", ALLOW),
        ROLE_RULE("deleteById", ANY, "editor", DENY),
    };
    CHECK_INT(DECIDE(ranked, "deleteById", &ed_owner), PERM_DENY);
    CHECK_INT(p.calls, 0);
}

static void test_model_matching(void)
{
    acl_caller u = user(7);
    const acl_rule rules[] = {
        {(char *)"*", (char *)"*", ANY, PTYPE_ROLE, (char *)"$everyone", DENY},
        {(char *)"Widget", (char *)"*", ACC_READ, PTYPE_ROLE, (char *)"$everyone", ALLOW},
        {(char *)"Gadget", (char *)"*", ACC_WRITE, PTYPE_ROLE, (char *)"$everyone", ALLOW},
    };
    CHECK_INT(DECIDE(rules, "find", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "create", &u), PERM_DENY); /* Gadget's rule */
    CHECK_INT(decide(rules, N(rules), "create", &u, true), PERM_DENY);
    /* the model ranks first: an exact model beats "*" with an exact method */
    const acl_rule ranked[] = {
        {(char *)"*", (char *)"find", ACC_READ, PTYPE_USER, (char *)"7", DENY},
        {(char *)"Widget", (char *)"*", ANY, PTYPE_ROLE, (char *)"$everyone", ALLOW},
    };
    CHECK_INT(DECIDE(ranked, "find", &u), PERM_ALLOW);
}

/* LoopBack's other names of a method: a rule on updateAttributes guards
 * patchAttributes, one on destroyById guards deleteById. */
static void test_method_aliases(void)
{
    acl_caller u = user(7);
    const acl_rule rules[] = {
        ROLE_RULE("updateAttributes", ANY, "$everyone", ALLOW),
        ROLE_RULE("destroyById", ANY, "$everyone", ALLOW),
        ROLE_RULE("upsert", ANY, "$everyone", ALLOW),
    };
    CHECK_INT(DECIDE(rules, "patchAttributes", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "deleteById", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "patchOrCreate", &u), PERM_ALLOW);
    CHECK_INT(DECIDE(rules, "replaceOrCreate", &u), PERM_DENY);
    CHECK_INT(DECIDE(rules, "replaceById", &u), PERM_DENY);
}

/* The Widget ACLs of the example. */
static void test_widget_example(void)
{
    const acl_rule widget[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("*", ACC_READ, "$authenticated", ALLOW),
        ROLE_RULE("create", ANY, "$authenticated", ALLOW),
        ROLE_RULE("*", ACC_WRITE, "$owner", ALLOW),
    };
    owner_probe mine = {true, 0}, theirs = {false, 0};
    acl_caller owner = owner_of(7, &mine), other = owner_of(8, &theirs);
    CHECK_INT(DECIDE(widget, "find", &anonymous), PERM_DENY);
    CHECK_INT(DECIDE(widget, "findById", &anonymous), PERM_DENY);
    CHECK_INT(DECIDE(widget, "create", &anonymous), PERM_DENY);
    CHECK_INT(DECIDE(widget, "find", &other), PERM_ALLOW);
    CHECK_INT(DECIDE(widget, "count", &other), PERM_ALLOW);
    CHECK_INT(DECIDE(widget, "create", &other), PERM_ALLOW);
    CHECK_INT(DECIDE(widget, "patchAttributes", &other), PERM_DENY);
    CHECK_INT(DECIDE(widget, "deleteById", &other), PERM_DENY);
    CHECK_INT(DECIDE(widget, "patchAttributes", &owner), PERM_ALLOW);
    CHECK_INT(DECIDE(widget, "deleteById", &owner), PERM_ALLOW);
    CHECK_INT(DECIDE(widget, "updateAll", &other), PERM_DENY);
    CHECK_INT(decide(widget, N(widget), "find", &anonymous, true), PERM_DENY);
}

/* LoopBack 3's User ACLs (and tessera's accessTokens relation rules). */
static void test_user_defaults(void)
{
    const acl_rule u[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("create", ANY, "$everyone", ALLOW),
        ROLE_RULE("login", ANY, "$everyone", ALLOW),
        ROLE_RULE("logout", ANY, "$everyone", ALLOW),
        ROLE_RULE("findById", ANY, "$owner", ALLOW),
        ROLE_RULE("patchAttributes", ANY, "$owner", ALLOW),
        ROLE_RULE("deleteById", ANY, "$owner", ALLOW),
        ROLE_RULE("changePassword", ANY, "$authenticated", ALLOW),
        ROLE_RULE("__get__accessTokens", ANY, "$owner", ALLOW),
        ROLE_RULE("__delete__accessTokens", ANY, "$owner", ALLOW),
    };
    owner_probe self = {true, 0}, stranger = {false, 0};
    acl_caller me = owner_of(7, &self), them = owner_of(8, &stranger);
    const char *open[] = {"create", "login", "logout"};
    for (size_t i = 0; i < N(open); i++) {
        CHECK_INT(DECIDE(u, open[i], &anonymous), PERM_ALLOW);
        CHECK_INT(DECIDE(u, open[i], &them), PERM_ALLOW);
    }
    const char *mine[] = {"findById", "patchAttributes", "updateAttributes", "deleteById",
                          "__get__accessTokens", "__delete__accessTokens"};
    for (size_t i = 0; i < N(mine); i++) {
        CHECK_INT(DECIDE(u, mine[i], &me), PERM_ALLOW);
        CHECK_INT(DECIDE(u, mine[i], &them), PERM_DENY);
        CHECK_INT(DECIDE(u, mine[i], &anonymous), PERM_DENY);
    }
    CHECK_INT(DECIDE(u, "find", &me), PERM_DENY);
    CHECK_INT(DECIDE(u, "count", &me), PERM_DENY);
    CHECK_INT(DECIDE(u, "replaceById", &me), PERM_DENY);
    CHECK_INT(DECIDE(u, "changePassword", &them), PERM_ALLOW);
    CHECK_INT(DECIDE(u, "changePassword", &anonymous), PERM_DENY);
    CHECK_INT(decide(u, N(u), "find", &me, true), PERM_DENY);
}

/* ---- the engine, against a fake store ----------------------------------- */

/*
 * A fake database behind the store: a driver (store/driver.h) whose
 * statements answer from memory. The user_roles statement hands back
 * roles[]; a model query hands back the JSON array rows, column by column
 * as the query asked for them, and notes whether it asked for model = M
 * or "*". fail: what every statement returns instead.
 */
typedef struct fake_store {
    store_t base;
    const char *roles[4];
    int role_calls;
    const char *rows;  /* JSON array of ACL rows */
    int find_calls;
    bool where_ok;
    store_err fail;
    const sql_query *q; /* the model query being read */
    json_t *found;
} fake_store;

static dconn *fake_conn(store_t *s) { return (dconn *)s; }

static store_err fake_run(dconn *c, const dstmt *st, const dval *v, int n, dcur *cur, int64_t *changes)
{
    fake_store *f = (fake_store *)c;
    f->role_calls++;
    if (f->fail != STORE_OK)
        return f->fail;
    size_t k = 0;
    while (k < 4 && f->roles[k])
        k++;
    *cur = (dcur){.c = c, .res = NULL, .row = -1, .nrows = (int)k};
    return STORE_OK;
}

static bool binds_are(const sql_query *q, const char *a, const char *b)
{
    return json_array_size(q->binds) == 2 &&
           strcmp(json_string_value(json_array_get(q->binds, 0)) ? json_string_value(json_array_get(q->binds, 0)) : "", a) == 0 &&
           strcmp(json_string_value(json_array_get(q->binds, 1)) ? json_string_value(json_array_get(q->binds, 1)) : "", b) == 0;
}

static store_err fake_query(dconn *c, const sql_query *q, dcur *cur, int64_t *changes)
{
    fake_store *f = (fake_store *)c;
    f->find_calls++;
    f->where_ok = q->model && strcmp(q->model->name, "ACL") == 0 && strstr(q->text, " OR ") &&
                  binds_are(q, "Widget", "*");
    if (f->fail != STORE_OK)
        return f->fail;
    json_decref(f->found);
    f->found = json_loads(f->rows, 0, NULL);
    f->q = q;
    *cur = (dcur){.c = c, .res = f->found, .row = -1, .nrows = (int)json_array_size(f->found)};
    return STORE_OK;
}

static bool fake_next(dcur *cur) { return ++cur->row < cur->nrows; }

static store_err fake_end(dcur *cur) { return STORE_OK; }

/* The value of column col of the current row: a role, or a property. */
static json_t *fake_cell(dcur *cur, int col)
{
    fake_store *f = (fake_store *)cur->c;
    if (cur->res == NULL)
        return NULL;
    json_t *row = json_array_get(cur->res, (size_t)cur->row);
    return (size_t)col < f->q->ncols ? json_object_get(row, f->q->cols[col]->name) : NULL;
}

static dkind fake_kind(dcur *cur, int col)
{
    json_t *v = fake_cell(cur, col);
    return json_is_integer(v) ? DK_INT : json_is_string(v) ? DK_TEXT : DK_NULL;
}

static int64_t fake_col_int(dcur *cur, int col) { return json_integer_value(fake_cell(cur, col)); }

static const char *fake_col_text(dcur *cur, int col, size_t *len)
{
    fake_store *f = (fake_store *)cur->c;
    const char *t = cur->res == NULL ? f->roles[cur->row] : json_string_value(fake_cell(cur, col));
    if (len)
        *len = t ? strlen(t) : 0;
    return t;
}

static const store_driver fake_driver = {
    .name = "fake",
    .dialect = SQL_SQLITE,
    .conn = fake_conn,
    .run = fake_run,
    .query = fake_query,
    .next = fake_next,
    .end = fake_end,
    .kind = fake_kind,
    .col_int = fake_col_int,
    .col_text = fake_col_text,
};

static model_def widget_model(acl_rule *rules, size_t n)
{
    model_def m;
    memset(&m, 0, sizeof m);
    m.name = (char *)"Widget";
    m.acls = rules;
    m.nacls = n;
    return m;
}

static void test_engine_roles_and_admin(void)
{
    fake_store fs = {.base = {&fake_driver}, .roles = {"editor"}};
    acl_rule rules[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("*", ACC_WRITE, "editor", ALLOW),
    };
    model_def m = widget_model(rules, N(rules));
    acl_engine *a = acl_new(NULL, &fs.base, false);
    if (!CHECK(a != NULL))
        return;
    principal who = {.user_id = 7};
    CHECK_INT(acl_check(a, &m, "create", ACC_WRITE, &who, NULL, NULL), ACL_ALLOWED);
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &who, NULL, NULL), ACL_DENIED);
    CHECK(acl_has_role(a, 7, "editor"));
    CHECK(!acl_has_role(a, 7, "admin"));
    CHECK(!acl_has_role(a, 0, "editor"));
    CHECK_INT(fs.role_calls, 1); /* cached */
    fs.roles[1] = "admin";
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &who, NULL, NULL), ACL_DENIED);
    acl_invalidate(a);
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &who, NULL, NULL), ACL_ALLOWED);
    CHECK_INT(acl_check(a, &m, "anything", ACC_EXECUTE, &who, NULL, NULL), ACL_ALLOWED);
    CHECK(acl_has_role(a, 7, "admin"));
    CHECK_INT(fs.role_calls, 2);
    principal anon = {0};
    CHECK_INT(acl_check(a, &m, "create", ACC_WRITE, &anon, NULL, NULL), ACL_DENIED);
    CHECK_INT(fs.role_calls, 2); /* anonymous: no lookup */
    acl_free(a);
}

static void test_engine_store_errors(void)
{
    fake_store fs = {.base = {&fake_driver}, .fail = STORE_UNAVAILABLE};
    acl_rule rules[] = {ROLE_RULE("*", ANY, "$everyone", ALLOW)};
    model_def m = widget_model(rules, N(rules));
    acl_engine *a = acl_new(NULL, &fs.base, true);
    if (!CHECK(a != NULL))
        return;
    principal who = {.user_id = 7}, anon = {0};
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &who, NULL, NULL), ACL_UNAVAILABLE);
    CHECK(!acl_has_role(a, 7, "admin"));
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &anon, NULL, NULL), ACL_ALLOWED);
    fs.fail = STORE_OK; /* errors are not cached */
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &who, NULL, NULL), ACL_ALLOWED);
    acl_free(a);
}

static void test_engine_owner_callback(void)
{
    fake_store fs = {.base = {&fake_driver}};
    acl_rule rules[] = {
        ROLE_RULE("*", ANY, "$everyone", DENY),
        ROLE_RULE("*", ACC_WRITE, "$owner", ALLOW),
    };
    model_def m = widget_model(rules, N(rules));
    acl_engine *a = acl_new(NULL, &fs.base, false);
    if (!CHECK(a != NULL))
        return;
    principal who = {.user_id = 7};
    owner_probe p = {true, 0};
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &who, probe_owner, &p), ACL_DENIED);
    CHECK_INT(p.calls, 0);
    CHECK_INT(acl_check(a, &m, "patchAttributes", ACC_WRITE, &who, probe_owner, &p), ACL_ALLOWED);
    CHECK_INT(p.calls, 1);
    p.owner = false;
    CHECK_INT(acl_check(a, &m, "patchAttributes", ACC_WRITE, &who, probe_owner, &p), ACL_DENIED);
    acl_free(a);
}

static void test_engine_dynamic_rules(void)
{
    char err[256];
    model_registry *reg = models_load(NULL, err, sizeof err);
    if (!CHECK(reg != NULL))
        return;
    fake_store fa = {.base = {&fake_driver}, .rows = "[]"};
    acl_rule rules[] = {ROLE_RULE("*", ANY, "$everyone", DENY)};
    model_def m = widget_model(rules, N(rules));
    acl_engine *a = acl_new(reg, &fa.base, false);
    principal anon = {0};
    if (!CHECK(a != NULL))
        goto out;
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &anon, NULL, NULL), ACL_DENIED);
    CHECK(fa.where_ok);
    fa.rows = "[{\"id\":1,\"model\":\"Widget\",\"property\":\"find\",\"accessType\":\"*\","
              "\"principalType\":\"ROLE\",\"principalId\":\"$everyone\",\"permission\":\"ALLOW\"},"
              "{\"id\":2,\"model\":\"*\",\"property\":\"count\",\"accessType\":\"READ\","
              "\"principalType\":\"ROLE\",\"principalId\":\"$everyone\",\"permission\":\"ALLOW\"},"
              "{\"id\":3,\"model\":\"Gadget\",\"property\":\"exists\",\"accessType\":\"*\","
              "\"principalType\":\"ROLE\",\"principalId\":\"$everyone\",\"permission\":\"ALLOW\"},"
              "{\"id\":4,\"model\":\"Widget\",\"property\":\"findOne\",\"accessType\":\"*\","
              "\"principalType\":\"GROUP\",\"principalId\":\"x\",\"permission\":\"ALLOW\"}]";
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &anon, NULL, NULL), ACL_DENIED); /* cached */
    CHECK_INT(fa.find_calls, 1);
    acl_invalidate(a);
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &anon, NULL, NULL), ACL_ALLOWED);
    /* a "*" rule ranks below any rule naming the model (LoopBack ranks the
       model first), so it applies only where Widget's own rules don't */
    CHECK_INT(acl_check(a, &m, "count", ACC_READ, &anon, NULL, NULL), ACL_DENIED);
    model_def bare = widget_model(NULL, 0);
    CHECK_INT(acl_check(a, &bare, "count", ACC_READ, &anon, NULL, NULL), ACL_ALLOWED);
    CHECK_INT(acl_check(a, &bare, "create", ACC_WRITE, &anon, NULL, NULL), ACL_DENIED);
    CHECK_INT(acl_check(a, &m, "exists", ACC_READ, &anon, NULL, NULL), ACL_DENIED);
    CHECK_INT(acl_check(a, &m, "findOne", ACC_READ, &anon, NULL, NULL), ACL_DENIED);
    CHECK_INT(fa.find_calls, 2);
    fa.fail = STORE_UNAVAILABLE;
    acl_invalidate(a);
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &anon, NULL, NULL), ACL_UNAVAILABLE);
    fa.fail = STORE_OK;
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &anon, NULL, NULL), ACL_ALLOWED);
    acl_free(a);
out:
    json_decref(fa.found);
    models_free(reg);
}

/* The sandbox (issue 13): a declared model is open before any rule or role
 * is read; a built-in model, or a relation reaching one, is the rules'. */
static void test_engine_sandbox(void)
{
    char err[256];
    json_t *decl = json_loads(
        "{\"Widget\":{\"properties\":{\"name\":\"string\",\"ownerId\":\"number\"},"
        "\"relations\":{\"owner\":{\"type\":\"belongsTo\",\"model\":\"User\",\"foreignKey\":\"ownerId\"},"
        "\"parts\":{\"type\":\"hasMany\",\"model\":\"Part\",\"foreignKey\":\"widgetId\"}},"
        "\"acls\":[{\"principalType\":\"ROLE\",\"principalId\":\"$everyone\",\"permission\":\"DENY\"}]},"
        "\"Part\":{\"properties\":{\"widgetId\":\"number\"}}}",
        0, NULL);
    model_registry *reg = models_load(decl, err, sizeof err);
    json_decref(decl);
    if (!CHECK(reg != NULL))
        return;
    const model_def *w = models_by_name(reg, "Widget"), *u = models_by_name(reg, "User");
    CHECK(acl_sandbox_opens(w, "find"));
    CHECK(acl_sandbox_opens(w, "deleteById"));
    CHECK(acl_sandbox_opens(w, "__get__parts"));
    CHECK(!acl_sandbox_opens(w, "__get__owner"));
    CHECK(!acl_sandbox_opens(w, "__get__nosuch"));
    CHECK(!acl_sandbox_opens(u, "find"));
    fake_store fa = {.base = {&fake_driver}, .rows = "[]"};
    acl_policy on = {.sandbox = true};
    acl_engine *a = acl_new_with(reg, &fa.base, &on);
    principal anon = {0};
    if (CHECK(a != NULL)) {
        CHECK_INT(acl_check(a, w, "create", ACC_WRITE, &anon, NULL, NULL), ACL_ALLOWED);
        CHECK_INT(fa.find_calls, 0); /* no rule was read */
        CHECK_INT(acl_check(a, w, "__get__owner", ACC_READ, &anon, NULL, NULL), ACL_DENIED);
        CHECK_INT(acl_check(a, u, "find", ACC_READ, &anon, NULL, NULL), ACL_DENIED);
    }
    acl_free(a);
    json_decref(fa.found);
    models_free(reg);
}

/* Rules of the config (applications.create) rank with the model's. */
static void test_engine_config_rules(void)
{
    fake_store fs = {.base = {&fake_driver}, .rows = "[]"};
    acl_rule rules[] = {ROLE_RULE("*", ANY, "$everyone", DENY)};
    acl_rule extra[] = {
        {(char *)"Widget", (char *)"create", ANY, PTYPE_ROLE, (char *)"$authenticated", ALLOW},
        {(char *)"Gadget", (char *)"find", ANY, PTYPE_ROLE, (char *)"$everyone", ALLOW},
    };
    model_def m = widget_model(rules, N(rules));
    acl_policy p = {.rules = extra, .nrules = N(extra)};
    acl_engine *a = acl_new_with(NULL, &fs.base, &p);
    if (!CHECK(a != NULL))
        return;
    principal who = {.user_id = 7}, anon = {0};
    CHECK_INT(acl_check(a, &m, "create", ACC_WRITE, &who, NULL, NULL), ACL_ALLOWED);
    CHECK_INT(acl_check(a, &m, "create", ACC_WRITE, &anon, NULL, NULL), ACL_DENIED);
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &anon, NULL, NULL), ACL_DENIED); /* Gadget's */
    CHECK_INT(acl_check(a, &m, "find", ACC_READ, &who, NULL, NULL), ACL_DENIED);
    acl_free(a);
    json_decref(fs.found);
}

void suite_acl(void)
{
    RUN(test_access_of);
    RUN(test_default_when_nothing_matches);
    RUN(test_exact_property_beats_wildcard);
    RUN(test_exact_access_beats_wildcard);
    RUN(test_access_type_matching);
    RUN(test_principal_type_ranking);
    RUN(test_user_principal_by_id);
    RUN(test_deny_wins_ties);
    RUN(test_builtin_roles);
    RUN(test_owner);
    RUN(test_owner_is_lazy);
    RUN(test_custom_roles);
    RUN(test_model_matching);
    RUN(test_method_aliases);
    RUN(test_widget_example);
    RUN(test_user_defaults);
    RUN(test_engine_roles_and_admin);
    RUN(test_engine_store_errors);
    RUN(test_engine_owner_callback);
    RUN(test_engine_dynamic_rules);
    RUN(test_engine_sandbox);
    RUN(test_engine_config_rules);
}
