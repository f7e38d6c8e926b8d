/*
 * test_sql.c — the SQL builder (store/sql.h): text and bound values for
 * every operator and statement shape; then the SQLite backend's model rows
 * against a real database file: sync, insert, find/count/update/delete,
 * conflicts, injection attempts, and a 100 000-row find that uses the index.
 *
 * Models, filters and where trees are built by hand here, from the struct
 * fields only, so these tests do not depend on the model loader or the
 * filter parser.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/regex.h"
#include "store/sql.h"
#include "store/store.h"
#include "unit.h"

/* ---- a hand-built Widget --------------------------------------------- */

enum { W_ID, W_NAME, W_PRICE, W_SKU, W_TAGS, W_ACTIVE, W_MADE, W_META, W_SECRET, W_OWNER, W_N };

static model_prop wprops[W_N] = {
    [W_ID] = {.name = "id", .column = "id", .type = PT_NUMBER, .is_id = true, .readonly = true},
    [W_NAME] = {.name = "name", .column = "name", .type = PT_STRING, .required = true},
    [W_PRICE] = {.name = "price", .column = "price", .type = PT_NUMBER, .index = true},
    [W_SKU] = {.name = "sku", .column = "sku", .type = PT_STRING, .unique = true},
    [W_TAGS] = {.name = "tags", .column = "tags", .type = PT_ARRAY},
    [W_ACTIVE] = {.name = "active", .column = "active", .type = PT_BOOLEAN},
    [W_MADE] = {.name = "made", .column = "made", .type = PT_DATE},
    [W_META] = {.name = "meta", .column = "meta", .type = PT_OBJECT},
    [W_SECRET] = {.name = "secret", .column = "secret", .type = PT_STRING, .hidden = true},
    [W_OWNER] = {.name = "ownerId", .column = "ownerId", .type = PT_NUMBER},
};

static model_def widget = {
    .name = "Widget", .plural = "widgets", .table = "m_widget", .kind = MODEL_DECLARED,
    .props = wprops, .nprops = W_N, .id = &wprops[W_ID],
};

/* A model with an extra column and a millisecond date, like User/Role. */
static model_prop tprops[] = {
    {.name = "id", .column = "id", .type = PT_NUMBER, .is_id = true, .readonly = true},
    {.name = "name", .column = "name", .type = PT_STRING},
    {.name = "created", .column = "created_ms", .type = PT_DATE, .ms_date = true, .readonly = true},
};

static model_def thing = {
    .name = "Thing", .plural = "things", .table = "things", .kind = MODEL_USER,
    .props = tprops, .nprops = 3, .id = &tprops[0], .extra_column = "extra",
};

/* ---- where trees by hand --------------------------------------------- */

static const model_prop *wp(const char *name)
{
    for (size_t i = 0; i < widget.nprops; i++) {
        if (strcmp(widget.props[i].name, name) == 0)
            return &widget.props[i];
    }
    return NULL;
}

/* A condition on a Widget property; v is taken ("[1,2]" style text parsed). */
static fnode *cmp(const char *prop, fop op, const char *json)
{
    fnode *n = calloc(1, sizeof *n);
    n->kind = FN_CMP;
    n->prop = wp(prop);
    n->op = op;
    n->value = json_loads(json, JSON_DECODE_ANY, NULL);
    return n;
}

static fnode *rxf(const char *prop, const char *pattern, unsigned flags)
{
    fnode *n = calloc(1, sizeof *n);
    n->kind = FN_CMP;
    n->prop = wp(prop);
    n->op = OP_REGEXP;
    n->value = json_string(pattern);
    n->regexp_flags = flags;
    return n;
}

static fnode *rxn(const char *prop, const char *pattern, bool icase)
{
    return rxf(prop, pattern, icase ? RX_ICASE : 0);
}

/* An AND/OR of nkids trees (taken). */
static fnode *group(fnode_kind kind, size_t nkids, ...)
{
    fnode *n = calloc(1, sizeof *n);
    n->kind = kind;
    n->kids = calloc(nkids ? nkids : 1, sizeof *n->kids);
    n->nkids = nkids;
    va_list ap;
    va_start(ap, nkids);
    for (size_t i = 0; i < nkids; i++)
        n->kids[i] = va_arg(ap, fnode *);
    va_end(ap);
    return n;
}

static void tree_free(fnode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        tree_free(n->kids[i]);
    free(n->kids);
    json_decref(n->value);
    free(n);
}

static filter all_rows(void)
{
    filter f;
    memset(&f, 0, sizeof f);
    f.limit = -1;
    return f;
}

/* ---- checking built text --------------------------------------------- */

static char *binds_text(const sql_query *q)
{
    return json_dumps(q->binds, JSON_COMPACT | JSON_ENCODE_ANY);
}

static bool query_is(const sql_query *q, const char *sql, const char *binds, const char *file, int line)
{
    char *got = binds_text(q);
    bool ok = unit_check(!q->failed, q->err, file, line);
    ok = unit_check_str(q->text, sql, "sql", file, line) && ok;
    ok = unit_check_str(got, binds, "binds", file, line) && ok;
    free(got);
    return ok;
}

/* The WHERE of one tree (taken) in dialect d. */
static bool where_is(sql_dialect d, fnode *n, const char *sql, const char *binds, const char *file, int line)
{
    sql_query q;
    sql_query_init(&q, d);
    sql_append_where(&q, n);
    bool ok = query_is(&q, sql, binds, file, line);
    sql_query_free(&q);
    tree_free(n);
    return ok;
}

#define WHERE_IS(n, sql, binds) where_is(SQL_SQLITE, (n), (sql), (binds), __FILE__, __LINE__)
#define PG_WHERE_IS(n, sql, binds) where_is(SQL_POSTGRES, (n), (sql), (binds), __FILE__, __LINE__)
#define QUERY_IS(q, sql, binds) query_is((q), (sql), (binds), __FILE__, __LINE__)

/* ---- pure: operators ------------------------------------------------- */

static void test_compare_ops(void)
{
    WHERE_IS(cmp("price", OP_EQ, "50"), " WHERE \"price\" = ?1", "[50]");
    WHERE_IS(cmp("price", OP_NEQ, "50"), " WHERE \"price\" <> ?1", "[50]");
    WHERE_IS(cmp("price", OP_GT, "50.5"), " WHERE \"price\" > ?1", "[50.5]");
    WHERE_IS(cmp("price", OP_GTE, "1"), " WHERE \"price\" >= ?1", "[1]");
    WHERE_IS(cmp("price", OP_LT, "2"), " WHERE \"price\" < ?1", "[2]");
    WHERE_IS(cmp("price", OP_LTE, "3"), " WHERE \"price\" <= ?1", "[3]");
    WHERE_IS(cmp("name", OP_EQ, "\"a\""), " WHERE \"name\" = ?1", "[\"a\"]");
    WHERE_IS(NULL, "", "[]");
}

static void test_null_ops(void)
{
    WHERE_IS(cmp("price", OP_EQ, "null"), " WHERE \"price\" IS NULL", "[]");
    WHERE_IS(cmp("price", OP_NEQ, "null"), " WHERE \"price\" IS NOT NULL", "[]");
}

static void test_between(void)
{
    WHERE_IS(cmp("price", OP_BETWEEN, "[10, 20]"), " WHERE \"price\" BETWEEN ?1 AND ?2", "[10,20]");
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    fnode *bad = cmp("price", OP_BETWEEN, "[10]");
    CHECK(sql_append_where(&q, bad) == -1);
    CHECK(strstr(q.err, "between") != NULL);
    sql_query_free(&q);
    tree_free(bad);
}

static void test_inq_nin(void)
{
    WHERE_IS(cmp("price", OP_INQ, "[1, 2, 3]"), " WHERE (\"price\" IN (?1, ?2, ?3))", "[1,2,3]");
    WHERE_IS(cmp("price", OP_NIN, "[1, 2]"), " WHERE (\"price\" NOT IN (?1, ?2))", "[1,2]");
    WHERE_IS(cmp("price", OP_INQ, "[]"), " WHERE (1 = 0)", "[]");
    WHERE_IS(cmp("price", OP_NIN, "[]"), " WHERE (1 = 1)", "[]");
    WHERE_IS(cmp("price", OP_INQ, "[1, null]"), " WHERE (\"price\" IN (?1) OR \"price\" IS NULL)", "[1]");
    WHERE_IS(cmp("price", OP_NIN, "[1, null]"),
             " WHERE (\"price\" NOT IN (?1) AND \"price\" IS NOT NULL)", "[1]");
    WHERE_IS(cmp("price", OP_INQ, "[null]"), " WHERE (\"price\" IS NULL)", "[]");
}

static void test_like_ops(void)
{
    WHERE_IS(cmp("name", OP_LIKE, "\"a%\""), " WHERE \"name\" LIKE ?1", "[\"a%\"]");
    WHERE_IS(cmp("name", OP_NLIKE, "\"a_\""), " WHERE \"name\" NOT LIKE ?1", "[\"a_\"]");
    WHERE_IS(cmp("name", OP_ILIKE, "\"A%\""), " WHERE lower(\"name\") LIKE lower(?1)", "[\"A%\"]");
    WHERE_IS(cmp("name", OP_NILIKE, "\"A%\""), " WHERE lower(\"name\") NOT LIKE lower(?1)", "[\"A%\"]");
}

static void test_regexp(void)
{
    WHERE_IS(rxn("name", "^a.*", false), " WHERE \"name\" REGEXP ?1", "[\"^a.*\"]");
    WHERE_IS(rxn("name", "^a", true), " WHERE regexp(?1, \"name\", ?2)", "[\"^a\",\"i\"]");
    PG_WHERE_IS(rxn("name", "^a", false), " WHERE \"name\" ~ $1", "[\"^a\"]");
    PG_WHERE_IS(rxn("name", "^a", true), " WHERE \"name\" ~* $1", "[\"^a\"]");
    WHERE_IS(rxf("name", "^a", RX_ICASE | RX_MULTILINE | RX_DOTALL), " WHERE regexp(?1, \"name\", ?2)",
             "[\"^a\",\"ims\"]");
    PG_WHERE_IS(rxf("name", "^a$", RX_MULTILINE), " WHERE \"name\" ~ $1", "[\"(?w)^a$\"]");
    PG_WHERE_IS(rxf("name", "^a", RX_ICASE | RX_DOTALL), " WHERE \"name\" ~* $1", "[\"^a\"]");
}

static void test_and_or(void)
{
    WHERE_IS(group(FN_AND, 2, cmp("price", OP_GT, "1"),
                   group(FN_OR, 2, cmp("name", OP_EQ, "\"x\""), cmp("price", OP_EQ, "null"))),
             " WHERE (\"price\" > ?1 AND (\"name\" = ?2 OR \"price\" IS NULL))", "[1,\"x\"]");
    WHERE_IS(group(FN_AND, 0), " WHERE 1 = 1", "[]");
    WHERE_IS(group(FN_OR, 0), " WHERE 1 = 0", "[]");
    PG_WHERE_IS(group(FN_OR, 2, cmp("price", OP_LT, "1"), cmp("price", OP_GT, "9")),
                " WHERE (\"price\" < $1 OR \"price\" > $2)", "[1,9]");
}

/* JSON columns compare as their stored text; booleans as 0/1; ms dates as ms. */
static void test_value_conversion(void)
{
    WHERE_IS(cmp("tags", OP_EQ, "[\"a\", \"b\"]"), " WHERE \"tags\" = ?1", "[\"[\\\"a\\\",\\\"b\\\"]\"]");
    WHERE_IS(cmp("meta", OP_EQ, "{\"b\": 1, \"a\": 2}"), " WHERE \"meta\" = ?1",
             "[\"{\\\"a\\\":2,\\\"b\\\":1}\"]");
    WHERE_IS(cmp("active", OP_EQ, "true"), " WHERE \"active\" = ?1", "[1]");
    WHERE_IS(cmp("active", OP_NEQ, "false"), " WHERE \"active\" <> ?1", "[0]");
    PG_WHERE_IS(cmp("active", OP_EQ, "true"), " WHERE \"active\" = $1", "[true]");
    WHERE_IS(cmp("made", OP_GT, "\"2020-01-01T00:00:00.000Z\""), " WHERE \"made\" > ?1",
             "[\"2020-01-01T00:00:00.000Z\"]");

    json_t *s = json_string("1970-01-01T00:00:01.500Z");
    json_t *v = sql_value(SQL_SQLITE, &tprops[2], s);
    CHECK(json_is_integer(v) && json_integer_value(v) == 1500);
    json_decref(v);
    json_decref(s);
    s = json_string("x");
    v = sql_value(SQL_SQLITE, &wprops[W_TAGS], s);
    CHECK_STR(json_string_value(v), "\"x\"");
    json_decref(v);
    json_decref(s);
}

/* Values never reach the text, whatever they contain. */
static void test_values_never_in_text(void)
{
    const char *evil = "\"x'); DROP TABLE m_widget; --\"";
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    fnode *n = group(FN_OR, 2, cmp("name", OP_EQ, evil), cmp("name", OP_LIKE, "\"%' OR 1=1 --\""));
    sql_append_where(&q, n);
    QUERY_IS(&q, " WHERE (\"name\" = ?1 OR \"name\" LIKE ?2)",
             "[\"x'); DROP TABLE m_widget; --\",\"%' OR 1=1 --\"]");
    sql_query_free(&q);
    tree_free(n);
}

/* Identifiers are quoted with inner quotes doubled (the loader forbids them). */
static void test_ident_quoting(void)
{
    model_prop odd = {.name = "odd", .column = "we\"ird", .type = PT_STRING};
    fnode n = {.kind = FN_CMP, .prop = &odd, .op = OP_EQ, .value = json_string("v")};
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    sql_append_where(&q, &n);
    QUERY_IS(&q, " WHERE \"we\"\"ird\" = ?1", "[\"v\"]");
    sql_query_free(&q);
    json_decref(n.value);
}

/* A hidden property cannot be a condition even when a tree names it. */
static void test_hidden_condition_refused(void)
{
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    fnode *n = cmp("secret", OP_EQ, "\"s\"");
    CHECK(sql_append_where(&q, n) == -1);
    sql_query_free(&q);
    tree_free(n);
}

/* ---- pure: statements ------------------------------------------------ */

#define WIDGET_COLS "\"id\", \"name\", \"price\", \"sku\", \"tags\", \"active\", \"made\", \"meta\", \"ownerId\""

static void test_select_all(void)
{
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    CHECK(sql_build_select(&q, &widget, NULL) == 0);
    QUERY_IS(&q, "SELECT " WIDGET_COLS " FROM \"m_widget\"", "[]");
    CHECK_INT(q.ncols, 9);
    CHECK(!q.extra);
    for (size_t i = 0; i < q.ncols; i++)
        CHECK(!q.cols[i]->hidden);
    sql_query_free(&q);

    sql_query_init(&q, SQL_SQLITE);
    CHECK(sql_build_select(&q, &thing, NULL) == 0);
    QUERY_IS(&q, "SELECT \"id\", \"name\", \"created_ms\", \"extra\" FROM \"things\"", "[]");
    CHECK(q.extra);
    sql_query_free(&q);
}

static void test_select_shapes(void)
{
    filter f = all_rows();
    f.where = cmp("price", OP_GT, "50");
    f.order[0] = (forder){wp("price"), true};
    f.order[1] = (forder){wp("name"), false};
    f.norder = 2;
    f.limit = 10;
    f.skip = 20;
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    CHECK(sql_build_select(&q, &widget, &f) == 0);
    QUERY_IS(&q, "SELECT " WIDGET_COLS " FROM \"m_widget\" WHERE \"price\" > ?1"
                 " ORDER BY \"price\" DESC, \"name\" ASC, \"id\" ASC LIMIT ?2 OFFSET ?3", "[50,10,20]");
    sql_query_free(&q);

    sql_query_init(&q, SQL_POSTGRES);
    CHECK(sql_build_select(&q, &widget, &f) == 0);
    QUERY_IS(&q, "SELECT " WIDGET_COLS " FROM \"m_widget\" WHERE \"price\" > $1"
                 " ORDER BY \"price\" DESC NULLS LAST, \"name\" ASC NULLS FIRST, \"id\" ASC LIMIT $2 OFFSET $3", "[50,10,20]");
    sql_query_free(&q);
    tree_free(f.where);
}

static void test_select_paging(void)
{
    filter f = all_rows();
    f.skip = 5;
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_select(&q, &thing, &f);
    /* no order asked: the database's own (no ORDER BY to sort every match) */
    QUERY_IS(&q, "SELECT \"id\", \"name\", \"created_ms\", \"extra\" FROM \"things\""
                 " LIMIT -1 OFFSET ?1", "[5]");
    sql_query_free(&q);
    sql_query_init(&q, SQL_POSTGRES);
    sql_build_select(&q, &thing, &f);
    QUERY_IS(&q, "SELECT \"id\", \"name\", \"created_ms\", \"extra\" FROM \"things\""
                 " OFFSET $1", "[5]");
    sql_query_free(&q);

    f.where = cmp("name", OP_EQ, "\"n\"");
    sql_query_init(&q, SQL_SQLITE);
    sql_build_select(&q, &thing, &f);
    QUERY_IS(&q, "SELECT \"id\", \"name\", \"created_ms\", \"extra\" FROM \"things\" WHERE \"name\" = ?1"
                 " LIMIT -1 OFFSET ?2", "[\"n\",5]");
    sql_query_free(&q);
    tree_free(f.where);

    f = all_rows();
    f.limit = 0;
    f.order[0] = (forder){&tprops[0], true};
    f.norder = 1;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_select(&q, &thing, &f);
    QUERY_IS(&q, "SELECT \"id\", \"name\", \"created_ms\", \"extra\" FROM \"things\""
                 " ORDER BY \"id\" DESC LIMIT ?1", "[0]");
    sql_query_free(&q);
}

/* fields: only those (no extra column), plus the keys includes need. */
static void test_select_fields(void)
{
    const model_prop *fields[] = {wp("name"), wp("secret"), wp("name")};
    model_rel owner = {.name = "owner", .type = REL_BELONGS_TO, .model = "User", .foreign_key = "ownerId"};
    model_rel parts = {.name = "parts", .type = REL_HAS_MANY, .model = "Part", .foreign_key = "widgetId"};
    filter f = all_rows();
    f.fields = fields;
    f.nfields = 3;
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_select(&q, &widget, &f);
    QUERY_IS(&q, "SELECT \"name\" FROM \"m_widget\"", "[]");
    CHECK_INT(q.ncols, 1);
    sql_query_free(&q);

    f.include[0].rel = &owner;
    f.include[1].rel = &parts;
    f.ninclude = 2;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_select(&q, &widget, &f);
    QUERY_IS(&q, "SELECT \"name\", \"ownerId\", \"id\" FROM \"m_widget\"", "[]");
    sql_query_free(&q);

    f = all_rows();
    f.fields = fields;
    f.nfields = 0;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_select(&q, &thing, &f);
    QUERY_IS(&q, "SELECT \"id\" FROM \"things\"", "[]");
    CHECK(!q.extra);
    sql_query_free(&q);
}

static void test_count_delete(void)
{
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_count(&q, &widget, NULL);
    QUERY_IS(&q, "SELECT count(*) FROM \"m_widget\"", "[]");
    sql_query_free(&q);

    fnode *n = cmp("price", OP_LT, "5");
    sql_query_init(&q, SQL_POSTGRES);
    sql_build_count(&q, &widget, n);
    QUERY_IS(&q, "SELECT count(*) FROM \"m_widget\" WHERE \"price\" < $1", "[5]");
    sql_query_free(&q);
    sql_query_init(&q, SQL_SQLITE);
    sql_build_delete(&q, &widget, n);
    QUERY_IS(&q, "DELETE FROM \"m_widget\" WHERE \"price\" < ?1", "[5]");
    sql_query_free(&q);
    sql_query_init(&q, SQL_SQLITE);
    sql_build_delete(&q, &widget, NULL);
    QUERY_IS(&q, "DELETE FROM \"m_widget\"", "[]");
    sql_query_free(&q);
    tree_free(n);
}

static void build_insert_is(sql_dialect d, const model_def *m, const char *obj, const char *sql,
                            const char *binds, const char *file, int line)
{
    json_t *o = json_loads(obj, 0, NULL);
    sql_query q;
    sql_query_init(&q, d);
    sql_build_insert(&q, m, o);
    query_is(&q, sql, binds, file, line);
    sql_query_free(&q);
    json_decref(o);
}

#define INSERT_IS(d, m, obj, sql, binds) build_insert_is((d), (m), (obj), (sql), (binds), __FILE__, __LINE__)

static void test_insert(void)
{
    /* columns in model order, whatever the object's order */
    INSERT_IS(SQL_SQLITE, &widget, "{\"tags\":[\"a\"],\"active\":true,\"name\":\"w\",\"price\":1.5}",
              "INSERT INTO \"m_widget\" (\"name\", \"price\", \"tags\", \"active\") VALUES (?1, ?2, ?3, ?4)",
              "[\"w\",1.5,\"[\\\"a\\\"]\",1]");
    INSERT_IS(SQL_POSTGRES, &widget, "{\"name\":\"w\",\"meta\":null}",
              "INSERT INTO \"m_widget\" (\"name\", \"meta\") VALUES ($1, $2) RETURNING \"id\"", "[\"w\",null]");
    INSERT_IS(SQL_SQLITE, &widget, "{}", "INSERT INTO \"m_widget\" DEFAULT VALUES", "[]");
    INSERT_IS(SQL_SQLITE, &thing, "{\"name\":\"t\",\"created\":\"1970-01-01T00:00:02.000Z\",\"z\":1,\"a\":[true]}",
              "INSERT INTO \"things\" (\"name\", \"created_ms\", \"extra\") VALUES (?1, ?2, ?3)",
              "[\"t\",2000,\"{\\\"a\\\":[true],\\\"z\\\":1}\"]");

    json_t *o = json_pack("{s:s}", "colour", "red");
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    CHECK(sql_build_insert(&q, &widget, o) == -1);
    CHECK(strstr(q.err, "colour") != NULL);
    sql_query_free(&q);
    json_decref(o);
}

static void build_update_is(sql_dialect d, const model_def *m, fnode *where, const char *patch,
                            const char *sql, const char *binds, const char *file, int line)
{
    json_t *o = json_loads(patch, 0, NULL);
    sql_query q;
    sql_query_init(&q, d);
    sql_build_update(&q, m, where, o);
    query_is(&q, sql, binds, file, line);
    sql_query_free(&q);
    json_decref(o);
    tree_free(where);
}

#define UPDATE_IS(d, m, w, patch, sql, binds) \
    build_update_is((d), (m), (w), (patch), (sql), (binds), __FILE__, __LINE__)

static void test_update(void)
{
    UPDATE_IS(SQL_SQLITE, &widget, cmp("price", OP_GT, "5"), "{\"price\":7,\"sku\":null,\"id\":99}",
              "UPDATE \"m_widget\" SET \"price\" = ?1, \"sku\" = ?2 WHERE \"price\" > ?3", "[7,null,5]");
    UPDATE_IS(SQL_SQLITE, &widget, NULL, "{}", "UPDATE \"m_widget\" SET \"id\" = \"id\"", "[]");
    UPDATE_IS(SQL_SQLITE, &thing, NULL, "{\"name\":\"n\",\"k\":null}",
              "UPDATE \"things\" SET \"name\" = ?1, \"extra\" = json_patch(COALESCE(\"extra\", '{}'), ?2)",
              "[\"n\",\"{\\\"k\\\":null}\"]");
    UPDATE_IS(SQL_POSTGRES, &widget, cmp("name", OP_EQ, "\"a\""), "{\"active\":false}",
              "UPDATE \"m_widget\" SET \"active\" = $1 WHERE \"name\" = $2", "[false,\"a\"]");
}

static void test_ddl(void)
{
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_create_table(&q, &widget);
    QUERY_IS(&q, "CREATE TABLE IF NOT EXISTS \"m_widget\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT,"
                 " \"name\" TEXT, \"price\" REAL, \"sku\" TEXT, \"tags\" TEXT, \"active\" INTEGER,"
                 " \"made\" TEXT, \"meta\" TEXT, \"secret\" TEXT, \"ownerId\" REAL)", "[]");
    sql_query_free(&q);

    sql_query_init(&q, SQL_POSTGRES);
    sql_build_create_table(&q, &thing);
    QUERY_IS(&q, "CREATE TABLE IF NOT EXISTS \"things\" (\"id\" BIGSERIAL PRIMARY KEY, \"name\" TEXT COLLATE \"C\","
                 " \"created_ms\" BIGINT, \"extra\" TEXT COLLATE \"C\")", "[]");
    sql_query_free(&q);

    sql_query_init(&q, SQL_SQLITE);
    sql_build_add_column(&q, &widget, wp("price"));
    QUERY_IS(&q, "ALTER TABLE \"m_widget\" ADD COLUMN \"price\" REAL", "[]");
    sql_query_free(&q);
    sql_query_init(&q, SQL_SQLITE);
    CHECK(sql_build_add_column(&q, &widget, wp("id")) == -1);
    sql_query_free(&q);

    sql_query_init(&q, SQL_SQLITE);
    sql_build_create_index(&q, &widget, wp("price"));
    QUERY_IS(&q, "CREATE INDEX IF NOT EXISTS \"ix_m_widget_price\" ON \"m_widget\" (\"price\")", "[]");
    sql_query_free(&q);
    sql_query_init(&q, SQL_SQLITE);
    sql_build_create_index(&q, &widget, wp("sku"));
    QUERY_IS(&q, "CREATE UNIQUE INDEX IF NOT EXISTS \"ix_m_widget_sku\" ON \"m_widget\" (\"sku\")", "[]");
    sql_query_free(&q);
}

/* ---- the SQLite store ------------------------------------------------ */

static char tmpdir[64];

static store_t *open_temp_store(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tessera-sql-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return NULL;
    char url[128], err[256];
    snprintf(url, sizeof url, "sqlite:%s/t.db", tmpdir);
    store_t *s = store_open(url, err, sizeof err);
    if (s == NULL)
        fprintf(stderr, "store_open: %s\n", err);
    return s;
}

static void remove_temp(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

/* Collects rows of rows_find. */
typedef struct rows {
    json_t *list;
} rows;

static void collect(json_t *row, void *ctx)
{
    json_array_append_new(((rows *)ctx)->list, row);
}

/* The rows a where tree (taken) finds, as compact JSON of [names] or whole rows. */
static char *find_text(store_t *s, filter *f, const char *only)
{
    rows r = {json_array()};
    store_err e = store_rows_find(s, &widget, f, collect, &r);
    json_t *out = r.list;
    if (e != STORE_OK) {
        json_decref(out);
        char buf[64];
        snprintf(buf, sizeof buf, "error %s", store_strerror(e));
        return strdup(buf);
    }
    if (only) {
        out = json_array();
        size_t i;
        json_t *row;
        json_array_foreach(r.list, i, row)
            json_array_append(out, json_object_get(row, only));
        json_decref(r.list);
    }
    char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    return text;
}

static bool names_where(store_t *s, fnode *where, const char *want, const char *file, int line)
{
    filter f = all_rows();
    f.where = where;
    f.order[0] = (forder){wp("id"), false};
    f.norder = 1;
    char *got = find_text(s, &f, "name");
    bool ok = unit_check_str(got, want, "names", file, line);
    free(got);
    tree_free(where);
    return ok;
}

#define NAMES_WHERE(s, where, want) names_where((s), (where), (want), __FILE__, __LINE__)

static int64_t count_where(store_t *s, fnode *where)
{
    int64_t n = -1;
    if (store_rows_count(s, &widget, where, &n) != STORE_OK)
        n = -2;
    tree_free(where);
    return n;
}

static store_err insert_json(store_t *s, const model_def *m, const char *text, json_t **row)
{
    json_t *o = json_loads(text, 0, NULL);
    store_err e = store_rows_insert(s, m, o, row);
    json_decref(o);
    return e;
}

static const char *const SEED[] = {
    "{\"name\":\"alpha\",\"price\":10,\"sku\":\"A1\",\"tags\":[\"red\",\"big\"],\"active\":true,"
    "\"made\":\"2020-01-01T00:00:00.000Z\",\"meta\":{\"k\":1},\"secret\":\"s1\",\"ownerId\":1}",
    "{\"name\":\"Beta\",\"price\":50.5,\"sku\":\"B1\",\"tags\":[\"blue\"],\"active\":false,"
    "\"made\":\"2021-06-01T12:00:00.000Z\",\"ownerId\":2}",
    "{\"name\":\"gamma\",\"price\":99,\"sku\":\"C1\",\"active\":true,\"ownerId\":1}",
    "{\"name\":\"delta\",\"sku\":\"D1\"}",
};

static void check_migrated(store_t *s)
{
    int v = 0;
    CHECK_INT(store_migrate(s, &v), STORE_OK);
    CHECK_INT(v, 6);
    CHECK_INT(store_migrate(s, &v), STORE_OK); /* again: nothing to do */
    CHECK_INT(store_sqlite_exec(s, "SELECT description FROM roles"), STORE_OK);
    CHECK_INT(store_sqlite_exec(s, "SELECT cred_version FROM users"), STORE_OK);
    CHECK_INT(store_sqlite_exec(s, "SELECT hash, permissions, expires_ms FROM api_tokens"), STORE_OK);
    CHECK_INT(store_sqlite_exec(s, "SELECT scope_list FROM access_tokens"), STORE_OK);
    CHECK_INT(store_sqlite_exec(s, "SELECT key, failures, last_ms FROM login_failures"), STORE_OK);
    CHECK_INT(store_sqlite_exec(s, "INSERT INTO acls (model, principal_type, principal_id, permission)"
                                   " VALUES ('Widget', 'ROLE', '$everyone', 'DENY')"), STORE_OK);
    CHECK_INT(store_model_sync(s, &widget), STORE_OK);
    CHECK_INT(store_model_sync(s, &widget), STORE_OK);
}

/* The row as returned: visible properties, types restored, no hidden ones. */
static void check_insert_row(store_t *s)
{
    json_t *row = NULL;
    CHECK_INT(insert_json(s, &widget, SEED[0], &row), STORE_OK);
    char *text = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(text, "{\"active\":true,\"id\":1,\"made\":\"2020-01-01T00:00:00.000Z\",\"meta\":{\"k\":1},"
                    "\"name\":\"alpha\",\"ownerId\":1,\"price\":10,\"sku\":\"A1\",\"tags\":[\"red\",\"big\"]}");
    free(text);
    json_decref(row);
    /* the same sku again: a conflict, and nothing stored */
    row = json_object();
    CHECK_INT(insert_json(s, &widget, "{\"name\":\"dup\",\"sku\":\"A1\"}", &row), STORE_CONFLICT);
    CHECK(row == NULL);
    CHECK_INT(count_where(s, NULL), 1);
    for (size_t i = 1; i < sizeof SEED / sizeof SEED[0]; i++) {
        CHECK_INT(insert_json(s, &widget, SEED[i], NULL), STORE_OK);
    }
}

static void check_finds(store_t *s)
{
    NAMES_WHERE(s, NULL, "[\"alpha\",\"Beta\",\"gamma\",\"delta\"]");
    NAMES_WHERE(s, cmp("price", OP_GT, "50"), "[\"Beta\",\"gamma\"]");
    NAMES_WHERE(s, cmp("price", OP_BETWEEN, "[10, 50.5]"), "[\"alpha\",\"Beta\"]");
    NAMES_WHERE(s, cmp("price", OP_EQ, "null"), "[\"delta\"]");
    NAMES_WHERE(s, cmp("price", OP_NEQ, "null"), "[\"alpha\",\"Beta\",\"gamma\"]");
    NAMES_WHERE(s, cmp("price", OP_NEQ, "10"), "[\"Beta\",\"gamma\"]");
    NAMES_WHERE(s, cmp("price", OP_INQ, "[10, 99, null]"), "[\"alpha\",\"gamma\",\"delta\"]");
    NAMES_WHERE(s, cmp("price", OP_NIN, "[10, 99]"), "[\"Beta\"]");
    NAMES_WHERE(s, cmp("price", OP_INQ, "[]"), "[]");
    NAMES_WHERE(s, cmp("price", OP_NIN, "[]"), "[\"alpha\",\"Beta\",\"gamma\",\"delta\"]");
    NAMES_WHERE(s, cmp("name", OP_LIKE, "\"b%\""), "[]");          /* case-sensitive */
    NAMES_WHERE(s, cmp("name", OP_LIKE, "\"B%\""), "[\"Beta\"]");
    NAMES_WHERE(s, cmp("name", OP_NLIKE, "\"%a\""), "[]");
    NAMES_WHERE(s, cmp("name", OP_ILIKE, "\"b%\""), "[\"Beta\"]");
    NAMES_WHERE(s, cmp("name", OP_NILIKE, "\"%E%\""), "[\"alpha\",\"gamma\"]");
    NAMES_WHERE(s, rxn("name", "^[a-z]+a$", false), "[\"alpha\",\"gamma\",\"delta\"]");
    NAMES_WHERE(s, rxn("name", "^b", false), "[]");
    NAMES_WHERE(s, rxn("name", "^b", true), "[\"Beta\"]");
    NAMES_WHERE(s, cmp("active", OP_EQ, "true"), "[\"alpha\",\"gamma\"]");
    NAMES_WHERE(s, cmp("tags", OP_EQ, "[\"blue\"]"), "[\"Beta\"]");
    NAMES_WHERE(s, cmp("meta", OP_EQ, "{\"k\":1}"), "[\"alpha\"]");
    NAMES_WHERE(s, cmp("made", OP_GT, "\"2020-06-01T00:00:00.000Z\""), "[\"Beta\"]");
    NAMES_WHERE(s, group(FN_OR, 2, cmp("ownerId", OP_EQ, "2"),
                         group(FN_AND, 2, cmp("ownerId", OP_EQ, "1"), cmp("price", OP_GT, "20"))),
                "[\"Beta\",\"gamma\"]");
}

static void check_find_shapes(store_t *s)
{
    filter f = all_rows();
    f.order[0] = (forder){wp("price"), true};
    f.norder = 1;
    f.limit = 2;
    f.skip = 1;
    char *got = find_text(s, &f, "name");
    CHECK_STR(got, "[\"Beta\",\"alpha\"]"); /* gamma, [Beta, alpha], delta (NULL last) */
    free(got);
    f = all_rows();
    f.skip = 3;
    got = find_text(s, &f, "name");
    CHECK_STR(got, "[\"delta\"]");
    free(got);
    const model_prop *fields[] = {wp("price")};
    f = all_rows();
    f.fields = fields;
    f.nfields = 1;
    f.where = cmp("name", OP_EQ, "\"Beta\"");
    got = find_text(s, &f, NULL);
    CHECK_STR(got, "[{\"price\":50.5}]");
    free(got);
    tree_free(f.where);
}

static void check_update_delete(store_t *s)
{
    json_t *patch = json_pack("{s:f, s:n, s:b}", "price", 11.25, "sku", "active", 1);
    fnode *w = cmp("ownerId", OP_EQ, "1");
    int64_t n = -1;
    CHECK_INT(store_rows_update(s, &widget, w, patch, &n), STORE_OK);
    CHECK_INT(n, 2);
    tree_free(w);
    json_decref(patch);
    CHECK_INT(count_where(s, cmp("price", OP_EQ, "11.25")), 2);
    CHECK_INT(count_where(s, cmp("sku", OP_EQ, "null")), 2);

    patch = json_pack("{s:s}", "sku", "B1");
    w = cmp("name", OP_EQ, "\"delta\"");
    CHECK_INT(store_rows_update(s, &widget, w, patch, &n), STORE_CONFLICT);
    tree_free(w);
    json_decref(patch);

    w = cmp("price", OP_LT, "20");
    CHECK_INT(store_rows_delete(s, &widget, w, &n), STORE_OK);
    CHECK_INT(n, 2);
    tree_free(w);
    CHECK_INT(count_where(s, NULL), 2);
}

/* Hostile text is data: stored, matched as itself, and the table survives. */
static void check_injection(store_t *s)
{
    const char *evil = "{\"name\":\"x'); DROP TABLE m_widget; --\",\"sku\":\"\\\" OR 1=1 --\"}";
    CHECK_INT(insert_json(s, &widget, evil, NULL), STORE_OK);
    CHECK_INT(count_where(s, cmp("name", OP_EQ, "\"x'); DROP TABLE m_widget; --\"")), 1);
    CHECK_INT(count_where(s, cmp("sku", OP_EQ, "\"\\\" OR 1=1 --\"")), 1);
    CHECK_INT(count_where(s, cmp("name", OP_EQ, "\"' OR '1'='1\"")), 0);
    CHECK_INT(count_where(s, cmp("name", OP_LIKE, "\"%' OR 1=1 --\"")), 0);
    CHECK_INT(count_where(s, rxn("name", "DROP TABLE", false)), 1);
    CHECK_INT(count_where(s, rxn("name", "(", false)), -2); /* a bad pattern fails, nothing breaks */
    CHECK_INT(count_where(s, NULL), 3);
}

/* A callback that queries again while its own statement is stepping. */
static void nested_count(json_t *row, void *ctx)
{
    store_t *s = ctx;
    rows r = {json_array()};
    filter f = all_rows();
    store_rows_find(s, &widget, &f, collect, &r);
    json_object_set_new(row, "n", json_integer((json_int_t)json_array_size(r.list)));
    json_decref(r.list);
    json_decref(row);
}

static void check_reentrant(store_t *s)
{
    filter f = all_rows();
    CHECK_INT(store_rows_find(s, &widget, &f, nested_count, s), STORE_OK);
}

/* model_sync adds a new property's column and index to an existing table. */
static void check_sync_adds(store_t *s)
{
    model_prop props[W_N + 1];
    memcpy(props, wprops, sizeof wprops);
    props[W_N] = (model_prop){.name = "colour", .column = "colour", .type = PT_STRING, .index = true};
    model_def w2 = widget;
    w2.props = props;
    w2.nprops = W_N + 1;
    w2.id = &props[W_ID];
    CHECK_INT(store_model_sync(s, &w2), STORE_OK);
    json_t *row = NULL;
    CHECK_INT(insert_json(s, &w2, "{\"name\":\"c\",\"colour\":\"teal\"}", &row), STORE_OK);
    CHECK_STR(json_string_value(json_object_get(row, "colour")), "teal");
    json_decref(row);
    CHECK_INT(store_sqlite_exec(s, "SELECT 1 FROM sqlite_master WHERE name = 'ix_m_widget_colour'"), STORE_OK);
}

static void test_store_widgets(void)
{
    store_t *s = open_temp_store();
    if (!CHECK(s != NULL))
        return;
    check_migrated(s);
    check_insert_row(s);
    check_finds(s);
    check_find_shapes(s);
    check_reentrant(s);
    check_update_delete(s);
    check_injection(s);
    check_sync_adds(s);
    store_close(s);
    remove_temp();
}

/* ---- built-in tables ---------------------------------------------------- */

static model_prop role_props[] = {
    {.name = "id", .column = "id", .type = PT_NUMBER, .is_id = true, .readonly = true},
    {.name = "name", .column = "name", .type = PT_STRING, .required = true, .unique = true},
    {.name = "description", .column = "description", .type = PT_STRING},
    {.name = "created", .column = "created_ms", .type = PT_DATE, .ms_date = true, .readonly = true},
};
static model_def role_model = {
    .name = "Role", .plural = "roles", .table = "roles", .kind = MODEL_ROLE,
    .props = role_props, .nprops = 4, .id = &role_props[0],
};

static model_prop user_props[] = {
    {.name = "id", .column = "id", .type = PT_NUMBER, .is_id = true, .readonly = true},
    {.name = "email", .column = "email", .type = PT_STRING, .unique = true},
    {.name = "password", .column = "password", .type = PT_STRING, .hidden = true},
    {.name = "emailVerified", .column = "email_verified", .type = PT_BOOLEAN},
};
static model_def user_model = {
    .name = "User", .plural = "users", .table = "users", .kind = MODEL_USER,
    .props = user_props, .nprops = 4, .id = &user_props[0], .extra_column = "extra",
};

static model_prop token_props[] = {
    {.name = "id", .column = "handle", .type = PT_STRING, .is_id = true, .id_is_text = true},
    {.name = "userId", .column = "user_id", .type = PT_NUMBER},
    {.name = "created", .column = "created_ms", .type = PT_DATE, .ms_date = true, .readonly = true},
    {.name = "hash", .column = "hash", .type = PT_STRING, .hidden = true},
};
static model_def token_model = {
    .name = "AccessToken", .plural = "accessTokens", .table = "access_tokens", .kind = MODEL_ACCESS_TOKEN,
    .props = token_props, .nprops = 4, .id = &token_props[0],
};

static void check_role_rows(store_t *s)
{
    json_t *row = NULL;
    CHECK_INT(insert_json(s, &role_model, "{\"name\":\"editor\",\"description\":\"edits\"}", &row), STORE_OK);
    const char *created = json_string_value(json_object_get(row, "created"));
    CHECK(created != NULL && strlen(created) == 24 && created[23] == 'Z');
    CHECK_STR(json_string_value(json_object_get(row, "description")), "edits");
    json_decref(row);
    CHECK_INT(insert_json(s, &role_model, "{\"name\":\"editor\"}", NULL), STORE_CONFLICT);
}

/* A mapping to a role that does not exist: a bad reference, not a failure. */
static void check_mapping_rows(store_t *s)
{
    json_t *row = NULL;
    model_prop mprops[] = {
        {.name = "id", .column = "id", .type = PT_NUMBER, .is_id = true, .readonly = true},
        {.name = "principalType", .column = "principal_type", .type = PT_STRING},
        {.name = "principalId", .column = "principal_id", .type = PT_STRING},
        {.name = "roleId", .column = "role_id", .type = PT_NUMBER},
    };
    model_def mapping = {.name = "RoleMapping", .table = "role_mappings", .kind = MODEL_ROLE_MAPPING,
                         .props = mprops, .nprops = 4, .id = &mprops[0]};
    const char *bad = "{\"principalType\":\"USER\",\"principalId\":\"1\",\"roleId\":987654}";
    CHECK_INT(insert_json(s, &mapping, bad, &row), STORE_BAD_REFERENCE);
    const char *good = "{\"principalType\":\"USER\",\"principalId\":\"1\",\"roleId\":1}";
    CHECK_INT(insert_json(s, &mapping, good, &row), STORE_OK);
    CHECK(json_integer_value(json_object_get(row, "roleId")) == 1);
    json_decref(row);
}

static void one_row(json_t *row, void *ctx)
{
    json_t **out = ctx;
    json_decref(*out);
    *out = row;
}

/* User: password never shown; the extra column's properties merged in. */
static void check_user_rows(store_t *s, int64_t *uid)
{
    store_user u = {0};
    snprintf(u.email, sizeof u.email, "a@example.com");
    snprintf(u.password, sizeof u.password, "$argon2id$x");
    u.extra = strdup("{\"nick\":\"al\",\"email\":\"shadow\",\"password\":\"leak\"}");
    CHECK_INT(store_user_create(s, &u), STORE_OK);
    *uid = u.id;
    store_user_clear(&u);
    json_t *row = NULL;
    CHECK_INT(store_rows_find(s, &user_model, NULL, one_row, &row), STORE_OK);
    char *text = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(text, "{\"email\":\"a@example.com\",\"emailVerified\":false,\"id\":1,\"nick\":\"al\"}");
    free(text);
    json_decref(row);

    json_t *patch = json_pack("{s:s, s:n, s:b}", "city", "Oslo", "nick", "emailVerified", 1);
    int64_t n = 0;
    CHECK_INT(store_rows_update(s, &user_model, NULL, patch, &n), STORE_OK);
    json_decref(patch);
    row = NULL;
    store_rows_find(s, &user_model, NULL, one_row, &row);
    text = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(text, "{\"city\":\"Oslo\",\"email\":\"a@example.com\",\"emailVerified\":true,\"id\":1}");
    free(text);
    json_decref(row);
}

static void count_events(const store_event *e, void *ctx)
{
    (*(int *)ctx)++;
}

/* Tokens deleted as rows are revoked for every process: logged as events. */
static void check_token_rows(store_t *s, int64_t uid)
{
    store_token t = {0};
    memset(t.hash.b, 7, STORE_HASH_LEN);
    snprintf(t.handle, sizeof t.handle, "h1");
    t.user_id = uid;
    t.created_ms = 1000;
    t.ttl = 3600;
    CHECK_INT(store_token_insert(s, &t, 1000 + 3600 * 1000, NULL), STORE_OK);
    json_t *row = NULL;
    CHECK_INT(store_rows_find(s, &token_model, NULL, one_row, &row), STORE_OK);
    char *text = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(text, "{\"created\":\"1970-01-01T00:00:01.000Z\",\"id\":\"h1\",\"userId\":1}");
    free(text);
    json_decref(row);

    int64_t last = 0, n = 0;
    int events = 0;
    store_events_since(s, 0, NULL, NULL, &last);
    fnode *w = calloc(1, sizeof *w);
    *w = (fnode){.kind = FN_CMP, .prop = &token_props[0], .op = OP_EQ, .value = json_string("h1")};
    CHECK_INT(store_rows_delete(s, &token_model, w, &n), STORE_OK);
    CHECK_INT(n, 1);
    tree_free(w);
    w = calloc(1, sizeof *w);
    *w = (fnode){.kind = FN_CMP, .prop = &user_props[0], .op = OP_EQ, .value = json_integer(uid)};
    CHECK_INT(store_rows_delete(s, &user_model, w, &n), STORE_OK);
    CHECK_INT(n, 1);
    tree_free(w);
    store_events_since(s, last, count_events, &events, &last);
    CHECK_INT(events, 2);
}

/* An application's own token (issue 13): no user, stored only while the
 * application is active, never a user's, gone when the application is
 * disabled; a row with neither a user nor an application is refused. */
static void check_app_tokens(store_t *s)
{
    int64_t app = 0;
    CHECK_INT(store_app_create(s, "svc", 0, "tsa_unit", "00", &app), STORE_OK);
    store_token t = {0}, got;
    memset(t.hash.b, 9, STORE_HASH_LEN);
    snprintf(t.handle, sizeof t.handle, "h9");
    t.app_id = app + 1; /* no such application */
    t.created_ms = 1000;
    t.ttl = 3600;
    CHECK_INT(store_token_insert(s, &t, INT64_MAX / 2, NULL), STORE_NOT_FOUND);
    t.app_id = app;
    CHECK_INT(store_token_insert(s, &t, INT64_MAX / 2, NULL), STORE_OK);
    CHECK_INT(store_token_find(s, &t.hash, &got), STORE_OK);
    CHECK_INT(got.user_id, 0);
    CHECK_INT(got.app_id, app);
    json_t *row = NULL;
    CHECK_INT(store_rows_find(s, &token_model, NULL, one_row, &row), STORE_OK);
    CHECK(json_is_null(json_object_get(row, "userId")));
    json_decref(row);
    CHECK_INT(store_token_delete_user(s, 0, NULL, NULL), STORE_OK);
    CHECK_INT(store_token_find(s, &t.hash, &got), STORE_OK); /* no user's */
    CHECK(store_sqlite_exec(s, "INSERT INTO access_tokens (hash, handle, created_ms, ttl, expires_ms)"
                               " VALUES (x'01', 'h0', 1, 1, 1)") != STORE_OK);
    CHECK_INT(store_app_set_status(s, app, "disabled"), STORE_OK);
    CHECK_INT(store_token_find(s, &t.hash, &got), STORE_NOT_FOUND);
    CHECK_INT(store_token_insert(s, &t, INT64_MAX / 2, NULL), STORE_NOT_FOUND);
}

static void test_store_builtins(void)
{
    store_t *s = open_temp_store();
    if (!CHECK(s != NULL))
        return;
    int v;
    int64_t uid = 0;
    CHECK_INT(store_migrate(s, &v), STORE_OK);
    CHECK_INT(store_model_sync(s, &role_model), STORE_OK); /* built-in: nothing to do */
    check_role_rows(s);
    check_mapping_rows(s);
    check_user_rows(s, &uid);
    check_token_rows(s, uid);
    check_app_tokens(s);
    store_close(s);
    remove_temp();
}

/* ---- 100 000 rows --------------------------------------------------------- */

/* limit/skip as in filter; skip -1: ORDER BY price DESC instead of a skip */
static bool plan_uses_price_index(store_t *s, fnode *where, int64_t limit, int64_t skip,
                                  const char *file, int line)
{
    filter f = all_rows();
    f.where = where;
    f.limit = limit;
    f.skip = skip > 0 ? skip : 0;
    if (skip < 0) {
        f.order[0] = (forder){wp("price"), true};
        f.norder = 1;
    }
    sql_query q;
    sql_query_init(&q, SQL_SQLITE);
    sql_build_select(&q, &widget, &f);
    char *plan = store_sqlite_explain(s, &q);
    bool ok = unit_check(plan && (strstr(plan, "USING INDEX ix_m_widget_price") ||
                                  strstr(plan, "USING COVERING INDEX ix_m_widget_price")),
                         plan ? plan : "no plan", file, line);
    free(plan);
    sql_query_free(&q);
    tree_free(where);
    return ok;
}

#define USES_PRICE_INDEX_(s, w, limit, skip, ...) \
    plan_uses_price_index((s), (w), (limit), (skip), __FILE__, __LINE__)
/* USES_PRICE_INDEX(s, where[, limit, skip]) */
#define USES_PRICE_INDEX(...) USES_PRICE_INDEX_(__VA_ARGS__, -1, 0, 0)

static bool load_widgets(store_t *s, int n)
{
    if (store_sqlite_exec(s, "BEGIN") != STORE_OK)
        return false;
    json_t *o = json_object();
    store_err e = STORE_OK;
    for (int i = 0; i < n && e == STORE_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "w%06d", i);
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "price", json_integer(i % 10007));
        e = store_rows_insert(s, &widget, o, NULL);
    }
    json_decref(o);
    return store_sqlite_exec(s, e == STORE_OK ? "COMMIT" : "ROLLBACK") == STORE_OK && e == STORE_OK;
}

static void test_100k_uses_index(void)
{
    store_t *s = open_temp_store();
    if (!CHECK(s != NULL))
        return;
    int v;
    CHECK_INT(store_migrate(s, &v), STORE_OK);
    CHECK_INT(store_model_sync(s, &widget), STORE_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(load_widgets(s, 100000));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (secs > 5)
        fprintf(stderr, "  note: loading 100000 rows took %.1f s\n", secs);
    CHECK_INT(count_where(s, NULL), 100000);

    USES_PRICE_INDEX(s, cmp("price", OP_EQ, "5000"));
    USES_PRICE_INDEX(s, cmp("price", OP_GT, "9990"));
    USES_PRICE_INDEX(s, cmp("price", OP_BETWEEN, "[100, 110]"));
    USES_PRICE_INDEX(s, cmp("price", OP_INQ, "[1, 2, 3]"));
    USES_PRICE_INDEX(s, cmp("price", OP_GT, "9990"), 20, 0);   /* a page, no order */
    USES_PRICE_INDEX(s, cmp("price", OP_LT, "10"), -1, 40);
    USES_PRICE_INDEX(s, cmp("price", OP_GT, "9990"), 20, -1);  /* ORDER BY price DESC */
    CHECK_INT(count_where(s, cmp("price", OP_GT, "10000")), 6 * 9);
    CHECK_INT(count_where(s, cmp("price", OP_EQ, "5000")), 10);

    filter f = all_rows();
    f.where = cmp("price", OP_GT, "10005");
    f.order[0] = (forder){wp("price"), true};
    f.norder = 1;
    f.limit = 3;
    char *got = find_text(s, &f, "name");
    CHECK_STR(got, "[\"w010006\",\"w020013\",\"w030020\"]");
    free(got);
    tree_free(f.where);
    store_close(s);
    remove_temp();
}

/* The store's statements are written once with "?N": PostgreSQL's driver
 * numbers them "$N", and nothing else in the text changes. */
static void test_number_placeholders(void)
{
    char out[64];
    CHECK_INT(sql_number_placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?12", out, sizeof out), 0);
    CHECK_STR(out, "SELECT a FROM t WHERE b = $1 AND c = $12");
    CHECK_INT(sql_number_placeholders("SELECT '?' || x", out, sizeof out), 0);
    CHECK_STR(out, "SELECT '?' || x");
    CHECK_INT(sql_number_placeholders("SELECT 1 WHERE ?1 = ?2", out, 10), -1);
}

/* One schema list: each dialect gets its own type names, and text without
 * a {WORD} comes back as it is. */
static void test_dialect_text(void)
{
    const char *t = "CREATE TABLE x (id {ID}, n {INT}, s {TEXT}, b {BOOL} DEFAULT {FALSE}, h {BLOB}){NOROWID};";
    char *lite = sql_dialect_text(SQL_SQLITE, t);
    char *pg = sql_dialect_text(SQL_POSTGRES, t);
    CHECK_STR(lite, "CREATE TABLE x (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, s TEXT,"
                    " b INTEGER DEFAULT 0, h BLOB) WITHOUT ROWID;");
    CHECK_STR(pg, "CREATE TABLE x (id BIGSERIAL PRIMARY KEY, n BIGINT, s TEXT COLLATE \"C\","
                  " b BOOLEAN DEFAULT false, h BYTEA);");
    free(lite);
    free(pg);
    char *plain = sql_dialect_text(SQL_POSTGRES, "SELECT '{x}' {NOPE}");
    CHECK_STR(plain, "SELECT '{x}' {NOPE}");
    free(plain);
    CHECK(store_migration(1) != NULL);
    CHECK(store_migration(0) == NULL);
    CHECK(store_migration(4) != NULL); /* applications (issue 13) */
    CHECK(store_migration(5) != NULL); /* API tokens (issue 14) */
    CHECK(store_migration(6) != NULL); /* application tokens without a user (issue 13) */
    CHECK(store_migration(7) == NULL);
}

void suite_sql(void)
{
    RUN(test_compare_ops);
    RUN(test_null_ops);
    RUN(test_between);
    RUN(test_inq_nin);
    RUN(test_like_ops);
    RUN(test_regexp);
    RUN(test_and_or);
    RUN(test_value_conversion);
    RUN(test_values_never_in_text);
    RUN(test_ident_quoting);
    RUN(test_hidden_condition_refused);
    RUN(test_select_all);
    RUN(test_select_shapes);
    RUN(test_select_paging);
    RUN(test_select_fields);
    RUN(test_count_delete);
    RUN(test_insert);
    RUN(test_update);
    RUN(test_ddl);
    RUN(test_store_widgets);
    RUN(test_store_builtins);
    RUN(test_100k_uses_index);
    RUN(test_number_placeholders);
    RUN(test_dialect_text);
}
