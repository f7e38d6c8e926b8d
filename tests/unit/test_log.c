/*
 * test_log.c — what log lines may say: the access log's target (token
 * parameters out, escaped, token-like runs redacted, bounded), request ids,
 * log level names, and database URLs without their password.
 */
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "http/accesslog.h"
#include "unit.h"

static void test_target_drops_token_parameters(void)
{
    char out[256];
    const req_param q[] = {{"x", "1"}, {"access_token", "secret1"}, {"token", "secret2"}, {"y", "a b"}};
    alog_target(out, sizeof out, "/api/users/me", q, 4);
    CHECK_STR(out, "/api/users/me?x=1&y=a%20b");
    alog_target(out, sizeof out, "/healthz", NULL, 0);
    CHECK_STR(out, "/healthz");
}

static void test_target_escapes_and_redacts(void)
{
    char out[256];
    alog_target(out, sizeof out, "/a \"b\"\\%\n\xc3\xa9", NULL, 0);
    CHECK_STR(out, "/a%20%22b%22%5C%25%0A%C3%A9");
    char path[80] = "/api/accessTokens/";
    memset(path + strlen(path), 'k', 32);
    strcat(path, "/exists");
    alog_target(out, sizeof out, path, NULL, 0);
    CHECK_STR(out, "/api/accessTokens/[redacted]/exists");
    const req_param q[] = {{"filter", "{\"where\":{\"id\":\"0123456789abcdef0123456789ABCDEF\"}}"}};
    alog_target(out, sizeof out, "/api/accessTokens", q, 1);
    CHECK_STR(out, "/api/accessTokens?filter={%22where%22:{%22id%22:%22[redacted]%22}}");
    /* 31 letters and digits are not a token */
    alog_target(out, sizeof out, "/0123456789012345678901234567890", NULL, 0);
    CHECK_STR(out, "/0123456789012345678901234567890");
}

static void test_target_is_bounded(void)
{
    char out[16];
    alog_target(out, sizeof out, "/abcdefghij/klmnopqrstuvwxyz", NULL, 0);
    CHECK_STR(out, "/abcdefghij/...");
}

static void test_request_id(void)
{
    char rid[ALOG_RID_MAX + 1], other[ALOG_RID_MAX + 1];
    alog_request_id("req-1.a_b:c", rid);
    CHECK_STR(rid, "req-1.a_b:c");
    alog_request_id(NULL, rid);
    alog_request_id("", other);
    CHECK_INT(strlen(rid), 24);
    CHECK_INT(strspn(rid, "0123456789abcdef"), 24);
    CHECK(strcmp(rid, other) != 0);
    char longest[ALOG_RID_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[ALOG_RID_MAX] = '\0';
    alog_request_id(longest, rid);
    CHECK_STR(rid, longest);
    longest[ALOG_RID_MAX] = 'a';
    longest[ALOG_RID_MAX + 1] = '\0';
    alog_request_id(longest, rid);
    CHECK_INT(strlen(rid), 24);
    alog_request_id("a b", rid);
    CHECK_INT(strlen(rid), 24);
}

static void test_level_names(void)
{
    log_level l = LOG_INFO;
    CHECK_INT(log_level_parse("debug", &l), 0);
    CHECK_INT(l, LOG_DEBUG);
    CHECK_INT(log_level_parse("WARN", &l), 0);
    CHECK_INT(l, LOG_WARN);
    CHECK_INT(log_level_parse("warning", &l), 0);
    CHECK_INT(l, LOG_WARN);
    CHECK_INT(log_level_parse("error", &l), 0);
    CHECK_INT(l, LOG_ERROR);
    CHECK_INT(log_level_parse("loud", &l), -1);
}

static void test_database_url_without_password(void)
{
    char b[256];
    CHECK_STR(cli_db_for_log("sqlite:/tmp/t.db", b, sizeof b), "sqlite:/tmp/t.db");
    CHECK_STR(cli_db_for_log("postgresql://app:s3cret@db:5432/x", b, sizeof b), "postgresql://app:***@db:5432/x");
    CHECK_STR(cli_db_for_log("postgresql://app@db/x", b, sizeof b), "postgresql://app@db/x");
    CHECK_STR(cli_db_for_log("host=db password=s3cret dbname=x", b, sizeof b), "host=db password=*** dbname=x");
    CHECK_STR(cli_db_for_log("postgresql://db/x?password=s3cret&sslmode=require", b, sizeof b),
              "postgresql://db/x?password=***&sslmode=require");
}

void suite_log(void)
{
    RUN(test_target_drops_token_parameters);
    RUN(test_target_escapes_and_redacts);
    RUN(test_target_is_bounded);
    RUN(test_request_id);
    RUN(test_level_names);
    RUN(test_database_url_without_password);
}
