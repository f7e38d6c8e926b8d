/*
 * test_response.c — the fixed answers are the very text res_error prints.
 */
#include <stdlib.h>
#include <string.h>

#include "core/jtext.h"
#include "http/request.h"
#include "unit.h"

static void check_same_as_res_error(res_fixed_kind k, int status, const char *code, const char *msg)
{
    response built = {0}, fixed = {0};
    res_error(&built, status, code, "%s", msg);
    res_fixed(&fixed, k);
    char *text = jtext_dump(built.body);
    const res_fixed_answer *a = res_fixed_answer_of(k);
    if (CHECK(text != NULL && a != NULL)) {
        CHECK_STR(a->text, text);
        CHECK_INT(a->status, status);
        CHECK_INT(fixed.status, status);
        CHECK(fixed.fixed == k);
    }
    free(text);
    res_clear(&built);
    res_clear(&fixed);
    CHECK(fixed.fixed == RES_NOT_FIXED);
}

static void test_fixed_answers_print_as_res_error(void)
{
    check_same_as_res_error(RES_AUTHORIZATION_REQUIRED, 401, "AUTHORIZATION_REQUIRED", "Authorization Required");
    check_same_as_res_error(RES_ACCESS_DENIED, 403, "ACCESS_DENIED", "Access Denied");
    check_same_as_res_error(RES_INVALID_TOKEN, 401, "INVALID_TOKEN", "Invalid Access Token");
    CHECK_STR(res_fixed_answer_of(RES_INVALID_TOKEN)->www_authenticate, "Bearer realm=\"tessera\", error=\"invalid_token\"");
    CHECK_STR(res_fixed_answer_of(RES_AUTHORIZATION_REQUIRED)->www_authenticate, "Bearer realm=\"tessera\"");
    CHECK(res_fixed_answer_of(RES_NOT_FIXED) == NULL);
    CHECK(res_fixed_answer_of(RES_FIXED_COUNT) == NULL);
}

/* A later answer replaces a fixed one whole. */
static void test_json_replaces_fixed(void)
{
    response r = {0};
    res_fixed(&r, RES_ACCESS_DENIED);
    res_json(&r, 200, json_object());
    CHECK(r.fixed == RES_NOT_FIXED);
    CHECK_INT(r.status, 200);
    res_clear(&r);
}

void suite_response(void)
{
    RUN(test_fixed_answers_print_as_res_error);
    RUN(test_json_replaces_fixed);
}
