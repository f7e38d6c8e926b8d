/*
 * test_filter.c — LoopBack filters: every operator, coercion, both query
 * forms, order/limit/skip/fields/include, and every error path.
 *
 * The models are built by hand here, so these tests need nothing from
 * schema.c. A where tree is checked through its dump: a comparison is
 * ["prop","op",value] (["prop","regexp",pattern,"i"] with /i), a group is
 * {"and":[...]} or {"or":[...]}.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/filter.h"
#include "model/regex.h"
#include "unit.h"


enum { W_ID, W_NAME, W_PRICE, W_TAGS, W_OWNER, W_CREATED, W_SECRET, W_NPROPS };

static model_prop widget_props[W_NPROPS] = {
    [W_ID] = {.name = "id", .column = "id", .type = PT_NUMBER, .is_id = true, .readonly = true},
    [W_NAME] = {.name = "name", .column = "name", .type = PT_STRING},
    [W_PRICE] = {.name = "price", .column = "price", .type = PT_NUMBER, .index = true},
    [W_TAGS] = {.name = "tags", .column = "tags", .type = PT_ARRAY},
    [W_OWNER] = {.name = "ownerId", .column = "ownerId", .type = PT_NUMBER},
    [W_CREATED] = {.name = "created", .column = "created", .type = PT_DATE},
    [W_SECRET] = {.name = "secret", .column = "secret", .type = PT_STRING, .hidden = true},
};

static model_rel widget_rels[] = {
    {.name = "owner", .type = REL_BELONGS_TO, .model = "User", .foreign_key = "ownerId"},
};

static model_def widget = {
    .name = "Widget", .plural = "widgets", .table = "m_widget", .props = widget_props,
    .nprops = W_NPROPS, .id = &widget_props[W_ID], .rels = widget_rels, .nrels = 1,
    .owner_fk = &widget_props[W_OWNER],
};

/* A text id, a boolean and a date kept as ms, as AccessToken has. */
static model_prop token_props[] = {
    {.name = "id", .column = "handle", .type = PT_STRING, .is_id = true, .id_is_text = true},
    {.name = "active", .column = "active", .type = PT_BOOLEAN},
    {.name = "created", .column = "created_ms", .type = PT_DATE, .ms_date = true},
    {.name = "userId", .column = "user_id", .type = PT_NUMBER},
};

static model_rel token_rels[] = {
    {.name = "user", .type = REL_BELONGS_TO, .model = "User", .foreign_key = "userId"},
};

static model_def token = {
    .name = "AccessToken", .plural = "accessTokens", .table = "access_tokens",
    .props = token_props, .nprops = 4, .id = &token_props[0], .rels = token_rels, .nrels = 1,
};

/* ------------------------------------------------------------------ */
/* helpers                                                              */

static const char *op_name(fop op)
{
    static const char *const names[] = {"eq", "neq", "gt", "gte", "lt", "lte", "between",
                                        "inq", "nin", "like", "nlike", "ilike", "nilike",
                                        "regexp"};
    return names[op];
}

static json_t *dump_node(const fnode *n)
{
    json_t *kids, *out;
    if (!n)
        return json_null();
    if (n->kind == FN_CMP) {
        out = json_pack("[ssO]", n->prop->name, op_name(n->op), n->value);
        char flags[8];
        if (n->regexp_flags)
            json_array_append_new(out, json_string(rx_flags_text(n->regexp_flags, flags)));
        return out;
    }
    kids = json_array();
    for (size_t i = 0; i < n->nkids; i++)
        json_array_append_new(kids, dump_node(n->kids[i]));
    return json_pack("{so}", n->kind == FN_AND ? "and" : "or", kids);
}

/* The tree as compact JSON text, in a static buffer (one at a time). */
static const char *dump(const fnode *n)
{
    static char buf[8192];
    json_t *j = dump_node(n);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, sizeof buf, "%s", s ? s : "(dump failed)");
    free(s);
    json_decref(j);
    return buf;
}

/* The whole filter as JSON text (for comparing the two query forms). */
static char *dump_filter(const filter *f)
{
    json_t *j = json_pack("{sosIsI}", "where", dump_node(f->where), "limit",
                          (json_int_t)f->limit, "skip", (json_int_t)f->skip);
    json_t *order = json_array(), *fields = f->fields ? json_array() : json_null();
    json_t *inc = json_array();
    char *s;
    for (int i = 0; i < f->norder; i++)
        json_array_append_new(order, json_pack("[sb]", f->order[i].prop->name, f->order[i].desc));
    for (size_t i = 0; f->fields && i < f->nfields; i++)
        json_array_append_new(fields, json_string(f->fields[i]->name));
    for (int i = 0; i < f->ninclude; i++)
        json_array_append_new(inc, json_string(f->include[i].rel->name));
    json_object_set_new(j, "order", order);
    json_object_set_new(j, "fields", fields);
    json_object_set_new(j, "include", inc);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

/* Parses JSON text as a filter for m; the test fails when it does not parse. */
static bool parse_ok(const model_def *m, const char *text, filter *f, const char *file, int line)
{
    char err[512] = "";
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    int rc;
    filter_init(f);
    if (!unit_check(j != NULL, text, file, line))
        return false;
    rc = filter_parse(m, j, f, err, sizeof err);
    json_decref(j);
    if (!unit_check_int(rc, 0, text, file, line)) {
        unit_check_str(err, "", "error", file, line);
        return false;
    }
    return true;
}

/* The filter must be refused with exactly this message. */
static bool parse_err(const model_def *m, const char *text, const char *want, const char *file,
                      int line)
{
    char err[512] = "";
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    filter f;
    int rc;
    if (!unit_check(j != NULL, text, file, line))
        return false;
    rc = filter_parse(m, j, &f, err, sizeof err);
    json_decref(j);
    if (rc == 0)
        filter_free(&f);
    return unit_check_int(rc, -1, text, file, line) & unit_check_str(err, want, text, file, line);
}

/* The where of the filter text dumps as want. */
static bool where_is(const char *text, const char *want, const char *file, int line)
{
    filter f;
    bool ok;
    if (!parse_ok(&widget, text, &f, file, line))
        return false;
    ok = unit_check_str(dump(f.where), want, text, file, line);
    filter_free(&f);
    return ok;
}

/* Same for the token model. */
static bool token_where_is(const char *text, const char *want, const char *file, int line)
{
    filter f;
    bool ok;
    if (!parse_ok(&token, text, &f, file, line))
        return false;
    ok = unit_check_str(dump(f.where), want, text, file, line);
    filter_free(&f);
    return ok;
}

#define WHERE_IS(text, want) where_is((text), (want), __FILE__, __LINE__)
#define TOKEN_WHERE_IS(text, want) token_where_is((text), (want), __FILE__, __LINE__)
#define REFUSED(text, msg) parse_err(&widget, (text), (msg), __FILE__, __LINE__)
#define TOKEN_REFUSED(text, msg) parse_err(&token, (text), (msg), __FILE__, __LINE__)
#define PARSED(text, f) parse_ok(&widget, (text), (f), __FILE__, __LINE__)

/* A query from "k=v" strings (NULL-terminated; no '=' means no value). */
typedef struct query {
    const char *keys[64];
    const char *values[64];
    char store[64][256];
    int n;
} query;

static void query_make(query *q, const char *const *pairs)
{
    q->n = 0;
    for (; *pairs && q->n < 64; pairs++, q->n++) {
        char *s = q->store[q->n], *eq;
        snprintf(s, sizeof q->store[0], "%s", *pairs);
        eq = strchr(s, '=');
        if (eq)
            *eq = '\0';
        q->keys[q->n] = s;
        q->values[q->n] = eq ? eq + 1 : NULL;
    }
}

/* filter_from_query(name, pairs) as compact sorted JSON text, or "ERR: message". */
static char *from_query(const char *name, const char *const *pairs)
{
    static query q;
    char err[512] = "", *s;
    json_t *j;
    query_make(&q, pairs);
    j = filter_from_query(name, q.keys, q.values, q.n, err, sizeof err);
    if (!j) {
        size_t len = strlen(err) + 6;
        s = malloc(len);
        snprintf(s, len, "ERR: %s", err);
        return s;
    }
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static bool query_is(const char *name, const char *const *pairs, const char *want,
                     const char *file, int line)
{
    char *got = from_query(name, pairs);
    bool ok = unit_check_str(got, want, pairs[0] ? pairs[0] : "(none)", file, line);
    free(got);
    return ok;
}

#define QUERY_IS(name, want, ...) \
    query_is((name), (const char *const[]){__VA_ARGS__, NULL}, (want), __FILE__, __LINE__)

/* The JSON text and the bracket pairs must give the same parsed filter. */
static bool same_filter(const char *json, const char *const *pairs, const char *file, int line)
{
    query q;
    char err[512] = "";
    json_t *a, *b;
    filter fa, fb;
    char *sa = NULL, *sb = NULL;
    bool ok;
    query_make(&q, pairs);
    b = filter_from_query("filter", q.keys, q.values, q.n, err, sizeof err);
    a = json_loads(json, 0, NULL);
    ok = unit_check(a && b, json, file, line);
    if (ok && unit_check_int(filter_parse(&widget, a, &fa, err, sizeof err), 0, json, file, line)) {
        sa = dump_filter(&fa);
        filter_free(&fa);
    }
    if (ok && unit_check_int(filter_parse(&widget, b, &fb, err, sizeof err), 0, err, file, line)) {
        sb = dump_filter(&fb);
        filter_free(&fb);
    }
    ok = ok && unit_check(sa && sb, "both parsed", file, line) &&
         unit_check_str(sb, sa, json, file, line);
    free(sa);
    free(sb);
    json_decref(a);
    json_decref(b);
    return ok;
}

#define SAME(json, ...) \
    same_filter((json), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/* where                                                                */

static void test_empty_filters(void)
{
    filter f;
    char err[64];
    fnode *w = (fnode *)1;
    filter_init(&f);
    CHECK(f.where == NULL && f.norder == 0 && f.limit == -1 && f.skip == 0);
    CHECK(f.fields == NULL && f.nfields == 0 && f.ninclude == 0);
    CHECK_INT(filter_parse(&widget, NULL, &f, err, sizeof err), 0);
    CHECK(f.where == NULL && f.limit == -1);
    filter_free(&f);
    if (PARSED("{}", &f))
        CHECK(f.where == NULL);
    filter_free(&f);
    if (PARSED("{\"where\": {}, \"limit\": null}", &f))
        CHECK(f.where == NULL && f.limit == -1);
    filter_free(&f);
    filter_free(&f); /* twice is harmless */
    CHECK_INT(filter_parse_where(&widget, NULL, &w, err, sizeof err), 0);
    CHECK(w == NULL);
}

static void test_equality(void)
{
    WHERE_IS("{\"where\": {\"price\": 50}}", "[\"price\",\"eq\",50]");
    WHERE_IS("{\"where\": {\"price\": 2.5}}", "[\"price\",\"eq\",2.5]");
    WHERE_IS("{\"where\": {\"name\": \"pen\"}}", "[\"name\",\"eq\",\"pen\"]");
    WHERE_IS("{\"where\": {\"name\": {\"eq\": \"pen\"}}}", "[\"name\",\"eq\",\"pen\"]");
    WHERE_IS("{\"where\": {\"id\": 3}}", "[\"id\",\"eq\",3]");
    WHERE_IS("{\"where\": {\"ownerId\": null}}", "[\"ownerId\",\"eq\",null]");
    WHERE_IS("{\"where\": {\"name\": null}}", "[\"name\",\"eq\",null]");
    WHERE_IS("{\"where\": {\"ownerId\": {\"neq\": null}}}", "[\"ownerId\",\"neq\",null]");
    WHERE_IS("{\"where\": {\"tags\": null}}", "[\"tags\",\"eq\",null]");
    WHERE_IS("{\"where\": {\"tags\": {\"neq\": null}}}", "[\"tags\",\"neq\",null]");
}

static void test_several_keys_are_and(void)
{
    WHERE_IS("{\"where\": {\"name\": \"pen\", \"price\": {\"gt\": 1}}}",
             "{\"and\":[[\"name\",\"eq\",\"pen\"],[\"price\",\"gt\",1]]}");
    WHERE_IS("{\"where\": {\"price\": {\"gt\": 1, \"lt\": 9}}}",
             "{\"and\":[[\"price\",\"gt\",1],[\"price\",\"lt\",9]]}");
}

static void test_comparisons(void)
{
    static const char *const ops[] = {"neq", "gt", "gte", "lt", "lte"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char text[128], want[128];
        snprintf(text, sizeof text, "{\"where\": {\"price\": {\"%s\": 10}}}", ops[i]);
        snprintf(want, sizeof want, "[\"price\",\"%s\",10]", ops[i]);
        WHERE_IS(text, want);
        snprintf(text, sizeof text, "{\"where\": {\"name\": {\"%s\": \"m\"}}}", ops[i]);
        snprintf(want, sizeof want, "[\"name\",\"%s\",\"m\"]", ops[i]);
        WHERE_IS(text, want);
    }
    WHERE_IS("{\"where\": {\"created\": {\"gte\": \"2026-01-02T03:04:05Z\"}}}",
             "[\"created\",\"gte\",\"2026-01-02T03:04:05.000Z\"]");
    REFUSED("{\"where\": {\"price\": {\"gt\": null}}}", "where.price.gt: expected a value, not null");
    REFUSED("{\"where\": {\"price\": {\"gt\": \"abc\"}}}", "where.price.gt: expected a number");
    REFUSED("{\"where\": {\"price\": {\"lte\": true}}}", "where.price.lte: expected a number");
    REFUSED("{\"where\": {\"name\": {\"gt\": 5}}}", "where.name.gt: expected a string");
}

static void test_between(void)
{
    WHERE_IS("{\"where\": {\"price\": {\"between\": [1, 9.5]}}}",
             "[\"price\",\"between\",[1,9.5]]");
    WHERE_IS("{\"where\": {\"price\": {\"between\": [\"1\", \"9\"]}}}",
             "[\"price\",\"between\",[1,9]]");
    WHERE_IS("{\"where\": {\"created\": {\"between\": [\"2026-01-01\", \"2026-02-01\"]}}}",
             "[\"created\",\"between\",[\"2026-01-01T00:00:00.000Z\",\"2026-02-01T00:00:00.000Z\"]]");
    REFUSED("{\"where\": {\"price\": {\"between\": [1]}}}",
            "where.price.between: expected an array of 2 values [low, high]");
    REFUSED("{\"where\": {\"price\": {\"between\": [1, 2, 3]}}}",
            "where.price.between: expected an array of 2 values [low, high]");
    REFUSED("{\"where\": {\"price\": {\"between\": 5}}}",
            "where.price.between: expected an array of 2 values [low, high]");
    REFUSED("{\"where\": {\"price\": {\"between\": [1, null]}}}",
            "where.price.between[1]: expected a value, not null");
    REFUSED("{\"where\": {\"price\": {\"between\": [\"x\", 2]}}}",
            "where.price.between[0]: expected a number");
}

static void test_inq_nin(void)
{
    WHERE_IS("{\"where\": {\"id\": {\"inq\": [1, \"2\", 3]}}}", "[\"id\",\"inq\",[1,2,3]]");
    WHERE_IS("{\"where\": {\"name\": {\"nin\": [\"a\", \"b\"]}}}",
             "[\"name\",\"nin\",[\"a\",\"b\"]]");
    WHERE_IS("{\"where\": {\"id\": {\"inq\": []}}}", "[\"id\",\"inq\",[]]");
    REFUSED("{\"where\": {\"id\": {\"inq\": 5}}}", "where.id.inq: expected an array");
    REFUSED("{\"where\": {\"id\": {\"nin\": {\"a\": 1}}}}", "where.id.nin: expected an array");
    REFUSED("{\"where\": {\"id\": {\"inq\": [1, \"two\"]}}}", "where.id.inq[1]: expected a number");
    REFUSED("{\"where\": {\"id\": {\"inq\": [null]}}}", "where.id.inq[0]: expected a value, not null");
    REFUSED("{\"where\": {\"name\": {\"inq\": [\"a\", 2]}}}", "where.name.inq[1]: expected a string");
}

static void test_inq_size_limit(void)
{
    json_t *list = json_array(), *j;
    filter f;
    char err[256] = "";
    for (int i = 0; i < FILTER_MAX_LIST; i++)
        json_array_append_new(list, json_integer(i));
    j = json_pack("{s{s{sO}}}", "where", "id", "inq", list);
    if (CHECK_INT(filter_parse(&widget, j, &f, err, sizeof err), 0))
        CHECK_INT(json_array_size(f.where->value), FILTER_MAX_LIST);
    filter_free(&f);
    json_decref(j);
    json_array_append_new(list, json_integer(-1));
    j = json_pack("{s{s{sO}}}", "where", "id", "nin", list);
    CHECK_INT(filter_parse(&widget, j, &f, err, sizeof err), -1);
    CHECK_STR(err, "where.id.nin: more than 1000 values");
    json_decref(j);
    json_decref(list);
}

static void test_like_family(void)
{
    static const char *const ops[] = {"like", "nlike", "ilike", "nilike"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char text[128], want[128];
        snprintf(text, sizeof text, "{\"where\": {\"name\": {\"%s\": \"p%%n_\"}}}", ops[i]);
        snprintf(want, sizeof want, "[\"name\",\"%s\",\"p%%n_\"]", ops[i]);
        WHERE_IS(text, want);
    }
    REFUSED("{\"where\": {\"name\": {\"like\": 5}}}", "where.name.like: expected a string");
    REFUSED("{\"where\": {\"name\": {\"ilike\": null}}}", "where.name.ilike: expected a string");
    REFUSED("{\"where\": {\"price\": {\"like\": \"5%\"}}}",
            "where.price.like: only string properties support this operator");
    REFUSED("{\"where\": {\"created\": {\"nilike\": \"2026%\"}}}",
            "where.created.nilike: only string properties support this operator");
}

static void test_regexp(void)
{
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"^p.*n$\"}}}",
             "[\"name\",\"regexp\",\"^p.*n$\"]");
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"/^pen/i\"}}}",
             "[\"name\",\"regexp\",\"^pen\",\"i\"]");
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"/a/b/\"}}}", "[\"name\",\"regexp\",\"a/b\"]");
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"/abc\"}}}", "[\"name\",\"regexp\",\"/abc\"]");
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"a{2,3}(b|c)+\"}}}",
             "[\"name\",\"regexp\",\"a{2,3}(b|c)+\"]");
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"/^a/g\"}}}", "[\"name\",\"regexp\",\"^a\"]");
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"/^a$/gims\"}}}",
             "[\"name\",\"regexp\",\"^a$\",\"ims\"]");
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"(a)\\\\1\"}}}", "[\"name\",\"regexp\",\"(a)\\\\1\"]");
    WHERE_IS("{\"where\": {\"name\": {\"regexp\": \"\\\\u0041\\\\d+\"}}}",
             "[\"name\",\"regexp\",\"\\\\u0041\\\\d+\"]");
    REFUSED("{\"where\": {\"name\": {\"regexp\": \"/^a/x\"}}}",
            "where.name.regexp: unsupported regexp flags 'x' (i, m, s; g is ignored)");
    REFUSED("{\"where\": {\"name\": {\"regexp\": \"/^a/ii\"}}}",
            "where.name.regexp: unsupported regexp flags 'ii' (i, m, s; g is ignored)");
    REFUSED("{\"where\": {\"name\": {\"regexp\": \"a{1,20000}x\"}}}",
            "where.name.regexp: repetition count above 255");
    REFUSED("{\"where\": {\"name\": {\"regexp\": \"((a{100}){100}){100}\"}}}",
            "where.name.regexp: repetition counts too large");
    REFUSED("{\"where\": {\"name\": {\"regexp\": 5}}}", "where.name.regexp: expected a string");
    REFUSED("{\"where\": {\"price\": {\"regexp\": \"^5\"}}}",
            "where.price.regexp: only string properties support this operator");
}

/* The message ends in the C library's own words. */
static void test_regexp_invalid(void)
{
    const char *bad[] = {"(unclosed", "a**(", "[z-a]", "a{3,1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128], err[256] = "";
        filter f;
        json_t *j;
        snprintf(text, sizeof text, "{\"where\": {\"name\": {\"regexp\": \"%s\"}}}", bad[i]);
        j = json_loads(text, 0, NULL);
        CHECK_INT(filter_parse(&widget, j, &f, err, sizeof err), -1);
        if (!CHECK(strncmp(err, "where.name.regexp: invalid regular expression: ", 47) == 0))
            fprintf(stderr, "    %s -> %s\n", bad[i], err);
        json_decref(j);
    }
}

/* PCRE2 under its limits: catastrophic backtracking is an error, not a "no". */
static void test_regex_limits(void)
{
    char err[192];
    size_t n = 100000;
    char *text = malloc(n + 1);
    memset(text, 'a', n);
    text[n] = '\0';
    rx *slow = rx_compile("(a|aa)*[xy]", 0, err, sizeof err);
    rx *js = rx_compile("^\\u0041\\d+$", RX_ICASE, err, sizeof err);
    unsigned flags;
    if (CHECK(slow != NULL))
        CHECK_INT(rx_match(slow, text, n), RX_LIMIT);
    if (CHECK(js != NULL)) {
        CHECK_INT(rx_match(js, "a42", 3), RX_YES);
        CHECK_INT(rx_match(js, "b42", 3), RX_NO);
    }
    CHECK(rx_compile("a{1,20000}x", 0, err, sizeof err) == NULL);
    CHECK_INT(rx_parse_flags("gims", &flags), 0);
    CHECK_INT((long long)flags, RX_ICASE | RX_MULTILINE | RX_DOTALL);
    CHECK_INT(rx_parse_flags("ii", &flags), -1);
    rx_free(slow);
    rx_free(js);
    free(text);
}

static void test_regexp_too_long(void)
{
    char text[1024], pat[600];
    memset(pat, 'a', 513);
    pat[513] = '\0';
    snprintf(text, sizeof text, "{\"where\": {\"name\": {\"regexp\": \"%s\"}}}", pat);
    REFUSED(text, "where.name.regexp: pattern longer than 512 characters");
}

static void test_and_or(void)
{
    WHERE_IS("{\"where\": {\"or\": [{\"price\": {\"lt\": 5}}, {\"name\": \"pen\"}]}}",
             "{\"or\":[[\"price\",\"lt\",5],[\"name\",\"eq\",\"pen\"]]}");
    WHERE_IS("{\"where\": {\"and\": [{\"or\": [{\"id\": 1}, {\"id\": 2}]}, {\"price\": 3}]}}",
             "{\"and\":[{\"or\":[[\"id\",\"eq\",1],[\"id\",\"eq\",2]]},[\"price\",\"eq\",3]]}");
    WHERE_IS("{\"where\": {\"name\": \"a\", \"or\": [{\"id\": 1}]}}",
             "{\"and\":[[\"name\",\"eq\",\"a\"],{\"or\":[[\"id\",\"eq\",1]]}]}");
    REFUSED("{\"where\": {\"and\": []}}", "where.and: expected a non-empty array of conditions");
    REFUSED("{\"where\": {\"or\": {\"id\": 1}}}", "where.or: expected a non-empty array of conditions");
    REFUSED("{\"where\": {\"or\": [{\"id\": 1}, 5]}}", "where.or[1]: expected an object");
    REFUSED("{\"where\": {\"or\": [{}]}}", "where.or[0]: empty condition");
    REFUSED("{\"where\": {\"and\": [{\"or\": [{\"nope\": 1}]}]}}",
            "where.and[0].or[0].nope: unknown property");
}

/* n nested "and"s around {"id": 1}. */
static char *nested(int n)
{
    size_t len = (size_t)n * 12 + 64;
    char *s = malloc(len), *p = s;
    p += sprintf(p, "{\"where\": ");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "{\"and\":[");
    p += sprintf(p, "{\"id\":1}");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "]}");
    sprintf(p, "}");
    return s;
}

static void test_depth_limit(void)
{
    filter f;
    char *ok = nested(FILTER_MAX_DEPTH), *bad = nested(FILTER_MAX_DEPTH + 1);
    if (PARSED(ok, &f))
        CHECK(f.where && f.where->kind == FN_AND);
    filter_free(&f);
    REFUSED(bad, "where.and[0].and[0].and[0].and[0].and[0].and[0].and[0].and[0].and: "
                 "and/or nested deeper than 8 levels");
    free(ok);
    free(bad);
}

/* {"where": {"or": [{"id": 0}, ... n of them]}} */
static json_t *or_of(int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{si}", "id", i));
    return json_pack("{s{so}}", "where", "or", arr);
}

static void test_node_limit(void)
{
    filter f;
    char err[256] = "";
    /* 255 conditions + their OR = 256 nodes: fine; one more is not */
    json_t *j = or_of(FILTER_MAX_NODES - 1);
    if (CHECK_INT(filter_parse(&widget, j, &f, err, sizeof err), 0))
        CHECK_INT(f.where->nkids, FILTER_MAX_NODES - 1);
    filter_free(&f);
    json_decref(j);
    j = or_of(FILTER_MAX_NODES);
    CHECK_INT(filter_parse(&widget, j, &f, err, sizeof err), -1);
    CHECK_STR(err, "where.or[255].id: more than 256 conditions");
    json_decref(j);
}

static void test_where_errors(void)
{
    REFUSED("{\"where\": 5}", "where: expected an object");
    REFUSED("{\"where\": \"price > 5\"}", "where: expected an object");
    REFUSED("{\"where\": {\"nope\": 1}}", "where.nope: unknown property");
    REFUSED("{\"where\": {\"secret\": \"x\"}}", "where.secret: unknown property");
    REFUSED("{\"where\": {\"secret\": {\"like\": \"%\"}}}", "where.secret: unknown property");
    REFUSED("{\"where\": {\"price\": {\"near\": 5}}}", "where.price.near: unknown operator");
    REFUSED("{\"where\": {\"price\": {\"GT\": 5}}}", "where.price.GT: unknown operator");
    REFUSED("{\"where\": {\"price\": {}}}", "where.price: empty condition");
    REFUSED("{\"where\": {\"price\": [1, 2]}}", "where.price: expected a number");
    REFUSED("{\"where\": {\"name\": true}}", "where.name: expected a string");
    REFUSED("{\"where\": {\"tags\": \"red\"}}",
            "where.tags: array properties can only be compared with null");
    REFUSED("{\"where\": {\"tags\": {\"inq\": [\"red\"]}}}",
            "where.tags.inq: array properties can only be compared with null");
    REFUSED("{\"where\": {\"created\": \"yesterday\"}}", "where.created: expected a date (ISO 8601)");
}

static void test_where_alone(void)
{
    char err[256] = "";
    fnode *w = NULL;
    json_t *j = json_loads("{\"price\": {\"gt\": \"50\"}}", 0, NULL);
    if (CHECK_INT(filter_parse_where(&widget, j, &w, err, sizeof err), 0))
        CHECK_STR(dump(w), "[\"price\",\"gt\",50]");
    fnode_free(w);
    json_decref(j);
    j = json_loads("{\"price\": {\"gt\": \"x\"}}", 0, NULL);
    CHECK_INT(filter_parse_where(&widget, j, &w, err, sizeof err), -1);
    CHECK_STR(err, "where.price.gt: expected a number");
    json_decref(j);
    j = json_loads("[1]", 0, NULL);
    CHECK_INT(filter_parse_where(&widget, j, &w, err, sizeof err), -1);
    CHECK_STR(err, "where: expected an object");
    json_decref(j);
    j = json_object();
    CHECK_INT(filter_parse_where(&widget, j, &w, err, sizeof err), 0);
    CHECK(w == NULL);
    json_decref(j);
}

/* ------------------------------------------------------------------ */
/* coercion                                                             */

static void test_number_coercion(void)
{
    WHERE_IS("{\"where\": {\"price\": \"50\"}}", "[\"price\",\"eq\",50]");
    WHERE_IS("{\"where\": {\"price\": \"-2.5\"}}", "[\"price\",\"eq\",-2.5]");
    WHERE_IS("{\"where\": {\"price\": \"1e3\"}}", "[\"price\",\"eq\",1000.0]");
    WHERE_IS("{\"where\": {\"price\": \"99999999999999999999\"}}",
             "[\"price\",\"eq\",1e20]");
    WHERE_IS("{\"where\": {\"price\": \"null\"}}", "[\"price\",\"eq\",null]");
    static const char *const bad[] = {"", " 5", "5 ", "5x", "0x10", "+5", "inf", "nan",
                                      "1e", "1.", ".5", "--1", "1e999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"where\": {\"price\": {\"gt\": \"%s\"}}}", bad[i]);
        REFUSED(text, "where.price.gt: expected a number");
    }
}

static void test_string_stays_string(void)
{
    WHERE_IS("{\"where\": {\"name\": \"50\"}}", "[\"name\",\"eq\",\"50\"]");
    WHERE_IS("{\"where\": {\"name\": \"null\"}}", "[\"name\",\"eq\",\"null\"]");
    WHERE_IS("{\"where\": {\"name\": \"true\"}}", "[\"name\",\"eq\",\"true\"]");
    REFUSED("{\"where\": {\"name\": 50}}", "where.name: expected a string");
}

static void test_boolean_coercion(void)
{
    TOKEN_WHERE_IS("{\"where\": {\"active\": true}}", "[\"active\",\"eq\",true]");
    TOKEN_WHERE_IS("{\"where\": {\"active\": \"false\"}}", "[\"active\",\"eq\",false]");
    TOKEN_WHERE_IS("{\"where\": {\"active\": {\"neq\": \"true\"}}}", "[\"active\",\"neq\",true]");
    TOKEN_REFUSED("{\"where\": {\"active\": \"yes\"}}", "where.active: expected a boolean");
    TOKEN_REFUSED("{\"where\": {\"active\": 1}}", "where.active: expected a boolean");
    TOKEN_REFUSED("{\"where\": {\"active\": \"TRUE\"}}", "where.active: expected a boolean");
}

static void test_date_coercion(void)
{
    WHERE_IS("{\"where\": {\"created\": \"2026-11-25T17:03:25.1+00:00\"}}",
             "[\"created\",\"eq\",\"2026-11-25T17:03:25.100Z\"]");
    WHERE_IS("{\"where\": {\"created\": \"2026-11-25\"}}",
             "[\"created\",\"eq\",\"2026-11-25T00:00:00.000Z\"]");
    TOKEN_WHERE_IS("{\"where\": {\"created\": {\"gt\": \"2026-11-25T17:03:25.123Z\"}}}",
                   "[\"created\",\"gt\",1795626205123]");
    TOKEN_WHERE_IS("{\"where\": {\"created\": {\"lt\": \"1970-01-01\"}}}", "[\"created\",\"lt\",0]");
    REFUSED("{\"where\": {\"created\": \"2026-02-30\"}}", "where.created: expected a date (ISO 8601)");
    WHERE_IS("{\"where\": {\"created\": \"2026-11-25T18:03:25+01:00\"}}",
             "[\"created\",\"eq\",\"2026-11-25T17:03:25.000Z\"]");
    REFUSED("{\"where\": {\"created\": \"2026-11-25T17:03\"}}",
            "where.created: expected a date (ISO 8601)");
    REFUSED("{\"where\": {\"created\": 1795626205123}}", "where.created: expected a date (ISO 8601)");
    TOKEN_REFUSED("{\"where\": {\"created\": \"soon\"}}", "where.created: expected a date (ISO 8601)");
}

static void test_text_id(void)
{
    TOKEN_WHERE_IS("{\"where\": {\"id\": \"h4ndle\"}}", "[\"id\",\"eq\",\"h4ndle\"]");
    TOKEN_WHERE_IS("{\"where\": {\"userId\": \"3\"}}", "[\"userId\",\"eq\",3]");
    TOKEN_REFUSED("{\"where\": {\"id\": 5}}", "where.id: expected a string");
}

/* ------------------------------------------------------------------ */
/* order, limit, skip, fields, include                                  */

static void test_order(void)
{
    filter f;
    if (PARSED("{\"order\": \"price DESC\"}", &f) && CHECK_INT(f.norder, 1))
        CHECK(f.order[0].prop == &widget_props[W_PRICE] && f.order[0].desc);
    filter_free(&f);
    if (PARSED("{\"order\": [\"price desc\", \"name\", \"id ASC\"]}", &f) && CHECK_INT(f.norder, 3)) {
        CHECK(f.order[0].prop == &widget_props[W_PRICE] && f.order[0].desc);
        CHECK(f.order[1].prop == &widget_props[W_NAME] && !f.order[1].desc);
        CHECK(f.order[2].prop == &widget_props[W_ID] && !f.order[2].desc);
    }
    filter_free(&f);
    if (PARSED("{\"order\": \"price DESC, created\"}", &f) && CHECK_INT(f.norder, 2))
        CHECK(f.order[1].prop == &widget_props[W_CREATED] && !f.order[1].desc);
    filter_free(&f);
    if (PARSED("{\"order\": []}", &f))
        CHECK_INT(f.norder, 0);
    filter_free(&f);
}

static void test_order_errors(void)
{
    REFUSED("{\"order\": \"nope\"}", "order: unknown property 'nope'");
    REFUSED("{\"order\": \"secret DESC\"}", "order: unknown property 'secret'");
    REFUSED("{\"order\": \"price UP\"}", "order: direction must be ASC or DESC, not 'UP'");
    REFUSED("{\"order\": \"price DESC NULLS\"}", "order: expected \"property [ASC|DESC]\"");
    REFUSED("{\"order\": [\"name\", 5]}", "order[1]: expected a string");
    REFUSED("{\"order\": {\"price\": \"DESC\"}}", "order: expected a string or an array of strings");
    REFUSED("{\"order\": \"tags\"}", "order: cannot sort by array property 'tags'");
    REFUSED("{\"order\": \"id,id,id,id,id,id,id,id,id\"}", "order: more than 8 properties");
}

static void test_limit_skip(void)
{
    filter f;
    if (PARSED("{\"limit\": 10, \"skip\": 20}", &f))
        CHECK(f.limit == 10 && f.skip == 20);
    filter_free(&f);
    if (PARSED("{\"limit\": \"10\", \"offset\": \"5\"}", &f))
        CHECK(f.limit == 10 && f.skip == 5);
    filter_free(&f);
    if (PARSED("{\"limit\": 10000, \"skip\": 0}", &f))
        CHECK(f.limit == 10000 && f.skip == 0);
    filter_free(&f);
    if (PARSED("{\"limit\": 0}", &f))
        CHECK(f.limit == -1); /* as LoopBack's SQL connectors: no limit */
    filter_free(&f);
    if (PARSED("{\"limit\": 3.0}", &f))
        CHECK(f.limit == 3);
    filter_free(&f);
    REFUSED("{\"limit\": 10001}", "limit: at most 10000");
    REFUSED("{\"limit\": \"10001\"}", "limit: at most 10000");
    REFUSED("{\"limit\": -1}", "limit: expected an integer >= 0");
    REFUSED("{\"limit\": 2.5}", "limit: expected an integer >= 0");
    REFUSED("{\"limit\": \"ten\"}", "limit: expected an integer >= 0");
    REFUSED("{\"limit\": \"\"}", "limit: expected an integer >= 0");
    REFUSED("{\"limit\": \"-1\"}", "limit: expected an integer >= 0");
    REFUSED("{\"limit\": true}", "limit: expected an integer >= 0");
    REFUSED("{\"skip\": -5}", "skip: expected an integer >= 0");
    REFUSED("{\"offset\": \"-5\"}", "offset: expected an integer >= 0");
    REFUSED("{\"skip\": 1, \"offset\": 1}", "filter: give skip or offset, not both");
}

/* The fields of a parsed filter, as "a,b,c" ("*" for all). */
static const char *fields_of(const filter *f)
{
    static char buf[256];
    size_t len = 0;
    if (!f->fields)
        return "*";
    buf[0] = '\0';
    for (size_t i = 0; i < f->nfields; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "," : "",
                                f->fields[i]->name);
    return buf;
}

static bool fields_are(const char *text, const char *want, const char *file, int line)
{
    filter f;
    bool ok;
    if (!parse_ok(&widget, text, &f, file, line))
        return false;
    ok = unit_check_str(fields_of(&f), want, text, file, line);
    filter_free(&f);
    return ok;
}

#define FIELDS_ARE(text, want) fields_are((text), (want), __FILE__, __LINE__)

static void test_fields(void)
{
    FIELDS_ARE("{\"fields\": {\"price\": true, \"name\": true}}", "name,price");
    FIELDS_ARE("{\"fields\": {\"price\": false, \"tags\": false}}", "id,name,ownerId,created");
    FIELDS_ARE("{\"fields\": {\"price\": true, \"tags\": false}}", "price");
    FIELDS_ARE("{\"fields\": [\"price\", \"id\"]}", "id,price");
    FIELDS_ARE("{\"fields\": \"price,name\"}", "name,price");
    FIELDS_ARE("{\"fields\": {\"name\": \"true\"}}", "name");
    FIELDS_ARE("{\"fields\": []}", "*");
    FIELDS_ARE("{\"fields\": {}}", "*");
    FIELDS_ARE("{}", "*");
    REFUSED("{\"fields\": {\"secret\": true}}", "fields.secret: unknown property");
    REFUSED("{\"fields\": {\"nope\": false}}", "fields.nope: unknown property");
    REFUSED("{\"fields\": [\"name\", \"secret\"]}", "fields[1]: unknown property 'secret'");
    REFUSED("{\"fields\": {\"name\": 1}}", "fields.name: expected true or false");
    REFUSED("{\"fields\": [5]}", "fields[0]: expected a property name");
    REFUSED("{\"fields\": 5}", "fields: expected an object, an array or a string");
}

static void test_exclude_everything(void)
{
    filter f;
    if (PARSED("{\"fields\": {\"id\": false, \"name\": false, \"price\": false, \"tags\": false,"
               " \"ownerId\": false, \"created\": false}}", &f))
        CHECK(f.fields != NULL && f.nfields == 0);
    filter_free(&f);
}

static void test_include(void)
{
    filter f;
    if (PARSED("{\"include\": \"owner\"}", &f) && CHECK_INT(f.ninclude, 1))
        CHECK(f.include[0].rel == &widget_rels[0]);
    filter_free(&f);
    if (PARSED("{\"include\": [\"owner\", {\"owner\": true}]}", &f))
        CHECK_INT(f.ninclude, 1);
    filter_free(&f);
    if (PARSED("{\"include\": {\"owner\": {}}}", &f))
        CHECK_INT(f.ninclude, 1);
    filter_free(&f);
    if (PARSED("{\"include\": {\"relation\": \"owner\"}}", &f))
        CHECK_INT(f.ninclude, 1);
    filter_free(&f);
    if (PARSED("{\"include\": {\"relation\": \"owner\", \"scope\": {}}}", &f))
        CHECK_INT(f.ninclude, 1);
    filter_free(&f);
    REFUSED("{\"include\": \"nope\"}", "include: unknown relation 'nope'");
    REFUSED("{\"include\": [\"owner\", \"ownerId\"]}", "include[1]: unknown relation 'ownerId'");
    REFUSED("{\"include\": {\"owner\": \"accessTokens\"}}",
            "include.owner: nested includes and scopes are not supported");
    REFUSED("{\"include\": {\"relation\": \"owner\", \"scope\": {\"limit\": 1}}}",
            "include: include scopes are not supported");
    REFUSED("{\"include\": 5}", "include: expected a relation name or an object");
}

static void test_top_level(void)
{
    REFUSED("{\"where\": {}, \"limt\": 5}", "filter: unknown key 'limt'");
    REFUSED("{\"sort\": \"price\"}", "filter: unknown key 'sort'");
    REFUSED("[1, 2]", "filter: expected an object");
    REFUSED("\"price\"", "filter: expected an object");
}

/* ------------------------------------------------------------------ */
/* injection-looking input is only data                                 */

static void test_injection_is_data(void)
{
    WHERE_IS("{\"where\": {\"name\": \"x' OR '1'='1\"}}", "[\"name\",\"eq\",\"x' OR '1'='1\"]");
    WHERE_IS("{\"where\": {\"name\": {\"like\": \"%'; DROP TABLE m_widget; --\"}}}",
             "[\"name\",\"like\",\"%'; DROP TABLE m_widget; --\"]");
    REFUSED("{\"where\": {\"price; DROP TABLE m_widget\": 1}}",
            "where.price; DROP TABLE m_widget: unknown property");
    REFUSED("{\"where\": {\"price\": {\"gt\": \"1; DROP TABLE m_widget\"}}}",
            "where.price.gt: expected a number");
    REFUSED("{\"where\": {\"price\": {\"gt) OR (1\": 1}}}", "where.price.gt) OR (1: unknown operator");
    REFUSED("{\"order\": \"price; DROP TABLE m_widget\"}",
            "order: expected \"property [ASC|DESC]\"");
    REFUSED("{\"order\": \"price;DROP\"}", "order: unknown property 'price;DROP'");
    REFUSED("{\"order\": \"price DESC; DROP TABLE m_widget\"}",
            "order: expected \"property [ASC|DESC]\"");
    REFUSED("{\"order\": \"(SELECT 1)\"}", "order: unknown property '(SELECT'");
    REFUSED("{\"fields\": [\"name FROM users --\"]}", "fields[0]: unknown property 'name FROM users --'");
    REFUSED("{\"include\": \"owner; DELETE\"}", "include: unknown relation 'owner; DELETE'");
    REFUSED("{\"limit\": \"1; DROP TABLE m_widget\"}", "limit: expected an integer >= 0");
    REFUSED("{\"skip\": \"1 OR 1=1\"}", "skip: expected an integer >= 0");
}

/* ------------------------------------------------------------------ */
/* ids and AND                                                          */

static void test_id_equals(void)
{
    fnode *n = filter_id_equals(&widget, "42");
    if (CHECK(n != NULL))
        CHECK_STR(dump(n), "[\"id\",\"eq\",42]");
    fnode_free(n);
    static const char *const bad[] = {"", "0", "-1", "042", "4x", " 4", "1.5",
                                      "99999999999999999999", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!CHECK(filter_id_equals(&widget, bad[i]) == NULL))
            fprintf(stderr, "    id \"%s\"\n", bad[i]);
    CHECK(filter_id_equals(&widget, NULL) == NULL);
    n = filter_id_equals(&token, "abc-DEF_1");
    if (CHECK(n != NULL))
        CHECK_STR(dump(n), "[\"id\",\"eq\",\"abc-DEF_1\"]");
    fnode_free(n);
    CHECK(filter_id_equals(&token, "") == NULL);
    char long_id[200];
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    CHECK(filter_id_equals(&token, long_id) == NULL);
    long_id[128] = '\0';
    n = filter_id_equals(&token, long_id);
    CHECK(n != NULL);
    fnode_free(n);
}

static void test_filter_and(void)
{
    fnode *a = filter_id_equals(&widget, "1"), *b = filter_id_equals(&widget, "2"), *n;
    CHECK(filter_and(NULL, NULL) == NULL);
    CHECK(filter_and(a, NULL) == a);
    CHECK(filter_and(NULL, b) == b);
    n = filter_and(a, b);
    CHECK_STR(dump(n), "{\"and\":[[\"id\",\"eq\",1],[\"id\",\"eq\",2]]}");
    fnode_free(n);
    fnode_free(NULL);
}

/* ------------------------------------------------------------------ */
/* query strings                                                        */

static void test_query_json(void)
{
    QUERY_IS("filter", "{\"limit\":10,\"where\":{\"price\":{\"gt\":50}}}",
             "filter={\"where\":{\"price\":{\"gt\":50}},\"limit\":10}");
    QUERY_IS("filter", "{}", "access_token=abc");
    QUERY_IS("filter", "{}", "filter=");
    QUERY_IS("filter", "{}", "filter");
    QUERY_IS("filter", "{\"limit\":2}", "filter={\"limit\":1}", "filter={\"limit\":2}");
    QUERY_IS("filter", "ERR: filter: malformed JSON at position 9: end of file expected near '}'",
             "filter={\"a\": 1}}");
    QUERY_IS("filter",
             "ERR: filter: malformed JSON at position 6: string or '}' expected near 'where'",
             "filter={where: 1}");
    QUERY_IS("filter", "ERR: filter: malformed JSON at position 2: '[' or '{' expected near '50'",
             "filter=50");
    QUERY_IS("filter", "ERR: filter: expected a JSON object", "filter=[1]");
    QUERY_IS("filter", "ERR: filter: malformed JSON at position 18: duplicate object key near '\"limit\"'",
             "filter={\"limit\":1,\"limit\":2}");
    QUERY_IS("where", "{\"price\":{\"gt\":50}}", "where={\"price\":{\"gt\":50}}");
    QUERY_IS("where", "ERR: where: malformed JSON at position 2: string or '}' expected near 'x'",
             "where={x}");
    QUERY_IS("filter", "ERR: filter: give either JSON or the bracket form, not both",
             "filter={}", "filter[limit]=1");
}

static void test_query_brackets(void)
{
    QUERY_IS("filter", "{\"limit\":\"10\",\"where\":{\"price\":{\"gt\":\"50\"}}}",
             "filter[where][price][gt]=50", "filter[limit]=10");
    QUERY_IS("filter", "{\"where\":{\"id\":{\"inq\":[\"1\",\"2\"]}}}",
             "filter[where][id][inq][0]=1", "filter[where][id][inq][1]=2");
    QUERY_IS("filter", "{\"where\":{\"id\":{\"inq\":[\"1\",\"2\",\"3\"]}}}",
             "filter[where][id][inq][]=1", "filter[where][id][inq][]=2", "filter[where][id][inq][]=3");
    QUERY_IS("filter", "{\"where\":{\"id\":{\"inq\":[\"a\",\"b\"]}}}",
             "filter[where][id][inq][1]=b", "filter[where][id][inq][0]=a");
    QUERY_IS("filter", "{\"where\":{\"id\":{\"inq\":[\"a\",\"b\"]}}}",
             "filter[where][id][inq][7]=a", "filter[where][id][inq][30]=b");
    QUERY_IS("filter", "{\"order\":[\"price DESC\",\"name\"]}", "filter[order]=price DESC",
             "filter[order]=name");
    QUERY_IS("filter", "{\"order\":[\"a\",\"b\",\"c\"]}", "filter[order]=a", "filter[order]=b",
             "filter[order]=c");
    QUERY_IS("filter", "{\"where\":{\"or\":[{\"id\":\"1\"},{\"name\":\"x\"}]}}",
             "filter[where][or][0][id]=1", "filter[where][or][1][name]=x");
    QUERY_IS("filter", "{\"where\":{\"name\":\"\"}}", "filter[where][name]");
    QUERY_IS("filter", "{\"include\":\"owner\"}", "filter[include]=owner", "filterx=1", "filters[a]=1");
    QUERY_IS("where", "{\"price\":{\"gt\":\"50\"}}", "where[price][gt]=50", "filter[limit]=1");
    QUERY_IS("filter", "{\"where\":{\"007\":\"a\"}}", "filter[where][007]=a");
}

static void test_query_bracket_errors(void)
{
    QUERY_IS("filter", "ERR: filter: malformed key 'filter[where'", "filter[where");
    QUERY_IS("filter", "ERR: filter: malformed key 'filter[where]x'", "filter[where]x=1");
    QUERY_IS("filter", "ERR: filter: malformed key 'filter[wh[ere]'", "filter[wh[ere]=1");
    QUERY_IS("filter", "ERR: filter: malformed key 'filter[][a]'", "filter[][a]=1");
    QUERY_IS("filter", "ERR: filter: key 'filter[where][price]' conflicts with another key",
             "filter[where][price][gt]=1", "filter[where][price]=5");
    QUERY_IS("filter", "ERR: filter: key 'filter[where][price][gt]' conflicts with another key",
             "filter[where][price]=5", "filter[where][price][gt]=1");
    QUERY_IS("filter", "ERR: filter: key 'filter[order][]' conflicts with another key",
             "filter[order][x]=5", "filter[order][]=1");
    QUERY_IS("filter", "ERR: filter: key 'filter[where][n?]' or its value is not valid UTF-8",
             "filter[where][n\xff]=1");
    QUERY_IS("filter", "ERR: filter: key 'filter[where][n]' or its value is not valid UTF-8",
             "filter[where][n]=\xff");
    char deep[512] = "filter";
    for (int i = 0; i < 33; i++)
        strcat(deep, "[a]");
    strcat(deep, "=1");
    char *got = from_query("filter", (const char *const[]){deep, NULL});
    CHECK(strncmp(got, "ERR: filter: key 'filter[a][a]", 30) == 0 && strstr(got, "nested too deeply"));
    free(got);
}

/* A message echoes a raw key only as printable ASCII. */
static void test_query_error_printable(void)
{
    char *got = from_query("filter", (const char *const[]){"filter[a\x01\xff]x=1", NULL});
    CHECK_STR(got, "ERR: filter: malformed key 'filter[a??]x'");
    free(got);
}

static void test_forms_agree(void)
{
    SAME("{\"where\":{\"price\":{\"gt\":50}},\"limit\":10}", "filter[where][price][gt]=50",
         "filter[limit]=10");
    SAME("{\"where\":{\"id\":{\"inq\":[1,2,3]}},\"skip\":4}", "filter[where][id][inq][0]=1",
         "filter[where][id][inq][1]=2", "filter[where][id][inq][2]=3", "filter[skip]=4");
    SAME("{\"where\":{\"price\":{\"between\":[1,9]}},\"order\":[\"price DESC\",\"name\"]}",
         "filter[where][price][between][0]=1", "filter[where][price][between][1]=9",
         "filter[order][0]=price DESC", "filter[order][1]=name");
    SAME("{\"where\":{\"or\":[{\"name\":{\"like\":\"p%\"}},{\"ownerId\":null}]}}",
         "filter[where][or][0][name][like]=p%", "filter[where][or][1][ownerId]=null");
    SAME("{\"where\":{\"and\":[{\"created\":{\"gte\":\"2026-01-01T00:00:00.000Z\"}},"
         "{\"name\":{\"regexp\":\"/^p/i\"}}]}}",
         "filter[where][and][0][created][gte]=2026-01-01", "filter[where][and][1][name][regexp]=/^p/i");
    SAME("{\"fields\":{\"name\":true,\"price\":true},\"include\":[\"owner\"],\"offset\":3}",
         "filter[fields][name]=true", "filter[fields][price]=true", "filter[include][0]=owner",
         "filter[offset]=3");
    SAME("{\"fields\":[\"name\",\"price\"],\"include\":{\"owner\":true}}", "filter[fields]=name,price",
         "filter[include][owner]=true");
    SAME("{\"where\":{\"id\":{\"nin\":[4,5]},\"name\":{\"nilike\":\"%x\"}}}",
         "filter[where][id][nin][]=4", "filter[where][id][nin][]=5",
         "filter[where][name][nilike]=%x");
}

/* Bracket values reach the parser as strings and still fail like JSON would. */
static void test_bracket_errors_through_parse(void)
{
    query q;
    char err[256] = "";
    filter f;
    json_t *j;
    query_make(&q, (const char *const[]){"filter[where][id][inq]=1", NULL});
    j = filter_from_query("filter", q.keys, q.values, q.n, err, sizeof err);
    CHECK_INT(filter_parse(&widget, j, &f, err, sizeof err), -1);
    CHECK_STR(err, "where.id.inq: expected an array");
    json_decref(j);
    query_make(&q, (const char *const[]){"filter[limit]=1", "filter[limit]=2", NULL});
    j = filter_from_query("filter", q.keys, q.values, q.n, err, sizeof err);
    CHECK_INT(filter_parse(&widget, j, &f, err, sizeof err), -1);
    CHECK_STR(err, "limit: expected an integer >= 0");
    json_decref(j);
    query_make(&q, (const char *const[]){"filter[where][price][gt]=abc", NULL});
    j = filter_from_query("filter", q.keys, q.values, q.n, err, sizeof err);
    CHECK_INT(filter_parse(&widget, j, &f, err, sizeof err), -1);
    CHECK_STR(err, "where.price.gt: expected a number");
    json_decref(j);
}

void suite_filter(void)
{
    RUN(test_empty_filters);
    RUN(test_equality);
    RUN(test_several_keys_are_and);
    RUN(test_comparisons);
    RUN(test_between);
    RUN(test_inq_nin);
    RUN(test_inq_size_limit);
    RUN(test_like_family);
    RUN(test_regexp);
    RUN(test_regexp_invalid);
    RUN(test_regexp_too_long);
    RUN(test_regex_limits);
    RUN(test_and_or);
    RUN(test_depth_limit);
    RUN(test_node_limit);
    RUN(test_where_errors);
    RUN(test_where_alone);
    RUN(test_number_coercion);
    RUN(test_string_stays_string);
    RUN(test_boolean_coercion);
    RUN(test_date_coercion);
    RUN(test_text_id);
    RUN(test_order);
    RUN(test_order_errors);
    RUN(test_limit_skip);
    RUN(test_fields);
    RUN(test_exclude_everything);
    RUN(test_include);
    RUN(test_top_level);
    RUN(test_injection_is_data);
    RUN(test_id_equals);
    RUN(test_filter_and);
    RUN(test_query_json);
    RUN(test_query_brackets);
    RUN(test_query_bracket_errors);
    RUN(test_query_error_printable);
    RUN(test_forms_agree);
    RUN(test_bracket_errors_through_parse);
}
