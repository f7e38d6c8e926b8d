/*
 * test_rowjson.c — model_row_json, the one shaper of a row's JSON: values by
 * their property, hidden properties and the extra column, and user_to_json
 * printing a user as the store's row read of the User model does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/rowjson.h"
#include "model/user.h"
#include "unit.h"

/* The printed row, for CHECK_STR (freed by the next call). */
static const char *text_of(json_t *row)
{
    static char *last;
    free(last);
    last = row ? json_dumps(row, JSON_COMPACT) : NULL;
    json_decref(row);
    return last ? last : "(null)";
}

/* cells[i] for the i-th property asked for; a hidden one is never asked. */
static model_cell array_cell(void *ctx, size_t i, const model_prop *p)
{
    const model_cell *cells = ctx;
    if (p->hidden)
        return (model_cell){.kind = MC_TEXT, .text = "LEAK", .len = 4};
    return cells[i];
}

/* The built-in models and a Widget with one property of each shown kind,
 * loaded once for the suite. */
static model_registry *reg;

static model_registry *registry(void)
{
    json_t *declared = json_loads("{\"Widget\":{\"properties\":{\"name\":\"string\",\"price\":\"number\","
                                  "\"tags\":\"array\",\"meta\":\"object\",\"on\":\"boolean\"}}}",
                                  0, NULL);
    char err[256];
    model_registry *r = models_load(declared, err, sizeof err);
    json_decref(declared);
    return r;
}

static void test_values_by_property(void)
{
    const model_def *w = models_by_name(reg, "Widget");
    model_cell cells[] = {
        {.kind = MC_INT, .i = 7},                      /* id             */
        {.kind = MC_TEXT, .text = "[1]xx", .len = 3},  /* name: as is    */
        {.kind = MC_REAL, .r = 50.0},                  /* price: 50      */
        {.kind = MC_TEXT, .text = "[1,\"a\"]", .len = 7}, /* tags: parsed */
        {.kind = MC_TEXT, .text = "not json", .len = 8}, /* meta: kept as text */
        {.kind = MC_INT, .i = 1},                      /* on: a boolean  */
    };
    CHECK_STR(text_of(model_row_json(w, NULL, 0, array_cell, cells, NULL)),
              "{\"id\":7,\"name\":\"[1]\",\"price\":50,\"tags\":[1,\"a\"],\"meta\":\"not json\",\"on\":true}");
    cells[2] = (model_cell){.kind = MC_REAL, .r = 1.5};
    cells[5] = (model_cell){.kind = MC_NULL};
    cells[1] = (model_cell){.kind = MC_NULL};
    CHECK_STR(text_of(model_row_json(w, NULL, 0, array_cell, cells, NULL)),
              "{\"id\":7,\"name\":null,\"price\":1.5,\"tags\":[1,\"a\"],\"meta\":\"not json\",\"on\":null}");
    cells[2] = (model_cell){.kind = MC_REAL, .r = NAN};
    const model_prop *some[] = {model_prop_named(w, "price"), model_prop_named(w, "id")};
    model_cell two[] = {cells[2], cells[0]};
    CHECK_STR(text_of(model_row_json(w, some, 2, array_cell, two, NULL)), "{\"price\":null,\"id\":7}");
}

static void test_ms_dates_and_hidden(void)
{
    const model_def *t = models_by_name(reg, "AccessToken");
    model_cell cells[] = {
        {.kind = MC_TEXT, .text = "h1", .len = 2}, {.kind = MC_INT, .i = 60},
        {.kind = MC_INT, .i = 86400001},           {.kind = MC_INT, .i = 3},
        {.kind = MC_NULL},                         {.kind = MC_NULL}, /* hash: hidden */
    };
    CHECK_STR(text_of(model_row_json(t, NULL, 0, array_cell, cells, NULL)),
              "{\"id\":\"h1\",\"ttl\":60,\"created\":\"1970-01-02T00:00:00.001Z\",\"userId\":3,"
              "\"lastUsed\":null}");
}

/* The extra column: undeclared members after the declared ones; a member
 * naming a declared property (the hidden password above all) never shows. */
static void test_extra_column(void)
{
    const model_def *u = models_by_name(reg, "User");
    model_cell cells[] = {
        {.kind = MC_INT, .i = 2}, {.kind = MC_TEXT, .text = "a@b.co", .len = 6}, {.kind = MC_NULL},
        {.kind = MC_NULL},        {.kind = MC_INT, .i = 0},
    };
    const char *extra = "{\"password\":\"x\",\"email\":\"evil@b.co\",\"city\":\"Oslo\",\"n\":{\"a\":[1]}}";
    CHECK_STR(text_of(model_row_json(u, NULL, 0, array_cell, cells, extra)),
              "{\"id\":2,\"email\":\"a@b.co\",\"username\":null,\"emailVerified\":false,"
              "\"city\":\"Oslo\",\"n\":{\"a\":[1]}}");
    CHECK_STR(text_of(model_row_json(u, NULL, 0, array_cell, cells, "not json")),
              "{\"id\":2,\"email\":\"a@b.co\",\"username\":null,\"emailVerified\":false}");
}

/* user_to_json is model_row_json over the User model: what the store's
 * read of the same user prints (test_extra_column's row). */
static void test_user_to_json(void)
{
    store_user u = {.id = 2, .email = "a@b.co", .password = "$argon2id$secret", .email_verified = false};
    u.extra = strdup("{\"password\":\"x\",\"email\":\"evil@b.co\",\"city\":\"Oslo\",\"n\":{\"a\":[1]}}");
    CHECK_STR(text_of(user_to_json(&u)), "{\"id\":2,\"email\":\"a@b.co\",\"username\":null,"
                                         "\"emailVerified\":false,\"city\":\"Oslo\",\"n\":{\"a\":[1]}}");
    free(u.extra);
    u.extra = NULL;
    memcpy(u.username, "ada", 4);
    u.email_verified = true;
    CHECK_STR(text_of(user_to_json(&u)),
              "{\"id\":2,\"email\":\"a@b.co\",\"username\":\"ada\",\"emailVerified\":true}");
    text_of(NULL);
}

/* user_apply keeps in the extra column what is no User property (nor
 * LoopBack's verificationToken): the members user_to_json shows after them. */
static void test_user_apply_keeps_the_undeclared(void)
{
    json_t *body = json_loads("{\"id\":9,\"email\":\"A@B.co\",\"password\":\"pw\",\"emailVerified\":true,"
                              "\"verificationToken\":\"t\",\"username\":\"ada\",\"city\":\"Oslo\"}",
                              0, NULL);
    store_user u = {.id = 2};
    unsigned fields = user_apply(body, false, &u);
    CHECK_INT(fields, STORE_USER_EMAIL | STORE_USER_USERNAME | STORE_USER_EXTRA);
    CHECK_STR(u.extra, "{\"city\":\"Oslo\"}");
    CHECK_STR(text_of(user_to_json(&u)),
              "{\"id\":2,\"email\":\"a@b.co\",\"username\":\"ada\",\"emailVerified\":false,\"city\":\"Oslo\"}");
    text_of(NULL);
    free(u.extra);
    json_decref(body);
}

void suite_rowjson(void)
{
    reg = registry();
    if (!CHECK(reg != NULL))
        return;
    RUN(test_values_by_property);
    RUN(test_ms_dates_and_hidden);
    RUN(test_extra_column);
    RUN(test_user_to_json);
    RUN(test_user_apply_keeps_the_undeclared);
    models_free(reg);
}
