/*
 * test_config.c — defaults, the JSON file's keys, types and ranges, errors
 * and the environment overlay.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "unit.h"

/* Loads json over the defaults; returns cfg_load_string's result, err in err. */
static int load(config *c, const char *json, char *err, size_t errlen)
{
    cfg_defaults(c);
    err[0] = '\0';
    return cfg_load_string(c, json, err, errlen);
}

/* The config must be refused with exactly this message. */
static bool rejects(const char *json, const char *want, const char *file, int line)
{
    config c;
    char err[512];
    int rc = load(&c, json, err, sizeof err);
    bool ok = unit_check_int(rc, -1, json, file, line);
    ok = unit_check_str(err, want, json, file, line) && ok;
    cfg_free(&c);
    return ok;
}

static bool accepts(const char *json, const char *file, int line)
{
    config c;
    char err[512];
    int rc = load(&c, json, err, sizeof err);
    bool ok = unit_check_int(rc, 0, json, file, line);
    if (!ok)
        unit_check_str(err, "", "error", file, line);
    cfg_free(&c);
    return ok;
}

#define REJECTS(json, msg) rejects((json), (msg), __FILE__, __LINE__)
#define ACCEPTS(json) accepts((json), __FILE__, __LINE__)

static void test_defaults(void)
{
    config c;
    cfg_defaults(&c);
    CHECK_STR(c.database, "sqlite:tessera.db");
    CHECK_STR(c.server.listen, "127.0.0.1:3000");
    CHECK_INT(c.server.threads, 0);
    CHECK_INT(c.server.max_body, 1048576);
    CHECK_INT(c.server.acl_error_status, 401);
    CHECK_INT(c.auth.ttl, 1209600);
    CHECK_INT(c.auth.max_ttl, 31556926);
    CHECK(!c.auth.allow_eternal);
    CHECK_INT(c.auth.token_length, 64);
    CHECK(c.auth.sources.bearer && c.auth.sources.authorization && c.auth.sources.header &&
          c.auth.sources.query && c.auth.sources.query_token && c.auth.sources.cookie);
    CHECK_INT(c.password.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    CHECK_INT(c.password.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    CHECK(c.models == NULL);
    CHECK(!c.acl_default_allow);
    cfg_free(&c);
}

static const char FULL[] =
    "{\"database\": \"sqlite:/var/lib/t.db\","
    " \"server\": {\"listen\": \"[::1]:8080\", \"threads\": 8, \"maxBodyBytes\": 4096,"
    "              \"aclErrorStatus\": 403},"
    " \"auth\": {\"ttl\": 3600, \"maxTTL\": 86400, \"allowEternalTokens\": true,"
    "            \"tokenLength\": 48,"
    "            \"sources\": {\"bearer\": false, \"authorization\": true, \"header\": false,"
    "                        \"query\": true, \"queryToken\": false, \"cookie\": false}},"
    " \"password\": {\"opslimit\": 3, \"memlimit\": 16384},"
    " \"models\": {\"Widget\": {\"properties\": {\"name\": \"string\"}}},"
    " \"acl\": {\"defaultPermission\": \"ALLOW\"}}";

static void test_every_key(void)
{
    config c;
    char err[256];
    if (!CHECK_INT(load(&c, FULL, err, sizeof err), 0)) {
        CHECK_STR(err, "");
        cfg_free(&c);
        return;
    }
    CHECK_STR(c.database, "sqlite:/var/lib/t.db");
    CHECK_STR(c.server.listen, "[::1]:8080");
    CHECK_INT(c.server.threads, 8);
    CHECK_INT(c.server.max_body, 4096);
    CHECK_INT(c.server.acl_error_status, 403);
    CHECK_INT(c.auth.ttl, 3600);
    CHECK_INT(c.auth.max_ttl, 86400);
    CHECK(c.auth.allow_eternal);
    CHECK_INT(c.auth.token_length, 48);
    CHECK(!c.auth.sources.bearer && c.auth.sources.authorization && !c.auth.sources.header &&
          c.auth.sources.query && !c.auth.sources.query_token && !c.auth.sources.cookie);
    CHECK_INT(c.password.opslimit, 3);
    CHECK_INT(c.password.memlimit, 16384);
    CHECK(json_is_object(c.models) && json_object_get(c.models, "Widget") != NULL);
    CHECK(c.acl_default_allow);
    cfg_free(&c);
}

/* Keys not in the file keep their earlier values; sections may be partial. */
static void test_partial_keeps_rest(void)
{
    config c;
    char err[256];
    CHECK_INT(load(&c, "{\"auth\": {\"sources\": {\"cookie\": false}}}", err, sizeof err), 0);
    CHECK(!c.auth.sources.cookie);
    CHECK(c.auth.sources.bearer && c.auth.sources.query_token);
    CHECK_INT(c.auth.ttl, 1209600);
    CHECK_STR(c.server.listen, "127.0.0.1:3000");
    /* a second file overlays the first */
    CHECK_INT(cfg_load_string(&c, "{\"auth\": {\"ttl\": 60}}", err, sizeof err), 0);
    CHECK_INT(c.auth.ttl, 60);
    CHECK(!c.auth.sources.cookie);
    CHECK_INT(cfg_load_string(&c, "{}", err, sizeof err), 0);
    CHECK_INT(c.auth.ttl, 60);
    cfg_free(&c);
}

static void test_unknown_keys(void)
{
    REJECTS("{\"databse\": \"x\"}", "databse: unknown key");
    REJECTS("{\"server\": {\"port\": 3000}}", "server.port: unknown key");
    REJECTS("{\"auth\": {\"sources\": {\"jwt\": true}}}", "auth.sources.jwt: unknown key");
    REJECTS("{\"password\": {\"opsLimit\": 2}}", "password.opsLimit: unknown key");
    REJECTS("{\"Auth\": {}}", "Auth: unknown key");
}

static void test_wrong_types(void)
{
    REJECTS("{\"auth\": {\"ttl\": \"3600\"}}", "auth.ttl: must be an integer");
    REJECTS("{\"auth\": {\"ttl\": 1.5}}", "auth.ttl: must be an integer");
    REJECTS("{\"auth\": {\"ttl\": 60.0}}", "auth.ttl: must be an integer");
    REJECTS("{\"auth\": {\"ttl\": null}}", "auth.ttl: must be an integer");
    REJECTS("{\"auth\": {\"allowEternalTokens\": 1}}",
            "auth.allowEternalTokens: must be a boolean");
    REJECTS("{\"auth\": {\"sources\": {\"cookie\": \"no\"}}}",
            "auth.sources.cookie: must be a boolean");
    REJECTS("{\"auth\": {\"sources\": true}}", "auth.sources: must be an object");
    REJECTS("{\"server\": []}", "server: must be an object");
    REJECTS("{\"database\": 5}", "database: must be a string");
    REJECTS("{\"server\": {\"listen\": 3000}}", "server.listen: must be a string");
    REJECTS("{\"server\": {\"threads\": true}}", "server.threads: must be an integer");
}

static void test_integer_ranges(void)
{
    REJECTS("{\"auth\": {\"ttl\": 0}}", "auth.ttl: must be at least 1");
    REJECTS("{\"auth\": {\"maxTTL\": -1}}", "auth.maxTTL: must be at least 1");
    REJECTS("{\"auth\": {\"tokenLength\": 31}}", "auth.tokenLength: must be between 32 and 512");
    REJECTS("{\"auth\": {\"tokenLength\": 513}}", "auth.tokenLength: must be between 32 and 512");
    ACCEPTS("{\"auth\": {\"tokenLength\": 32, \"ttl\": 1, \"maxTTL\": 1}}");
    ACCEPTS("{\"auth\": {\"tokenLength\": 512}}");
    REJECTS("{\"server\": {\"threads\": -1}}", "server.threads: must be between 0 and 256");
    REJECTS("{\"server\": {\"threads\": 257}}", "server.threads: must be between 0 and 256");
    ACCEPTS("{\"server\": {\"threads\": 256}}");
    REJECTS("{\"server\": {\"maxBodyBytes\": 0}}",
            "server.maxBodyBytes: must be between 1 and 1073741824");
    REJECTS("{\"server\": {\"maxBodyBytes\": 1073741825}}",
            "server.maxBodyBytes: must be between 1 and 1073741824");
    ACCEPTS("{\"server\": {\"maxBodyBytes\": 1}}");
    REJECTS("{\"server\": {\"aclErrorStatus\": 402}}", "server.aclErrorStatus: must be 401 or 403");
    REJECTS("{\"server\": {\"aclErrorStatus\": 500}}", "server.aclErrorStatus: must be 401 or 403");
    REJECTS("{\"password\": {\"opslimit\": 0}}", "password.opslimit: must be between 1 and 16");
    REJECTS("{\"password\": {\"opslimit\": 17}}", "password.opslimit: must be between 1 and 16");
    REJECTS("{\"password\": {\"memlimit\": 8191}}",
            "password.memlimit: must be between 8192 and 4294967296");
    REJECTS("{\"password\": {\"memlimit\": 4294967297}}",
            "password.memlimit: must be between 8192 and 4294967296");
    ACCEPTS("{\"password\": {\"opslimit\": 1, \"memlimit\": 8192}}");
}

/* server.queryTimeoutMs: the time budget of one model query. */
static void test_query_timeout(void)
{
    config c;
    char err[512];
    cfg_defaults(&c);
    CHECK_INT(c.server.query_timeout_ms, 2000);
    cfg_free(&c);
    CHECK_INT(load(&c, "{\"server\": {\"queryTimeoutMs\": 0}}", err, sizeof err), 0);
    CHECK_INT(c.server.query_timeout_ms, 0);
    cfg_free(&c);
    REJECTS("{\"server\": {\"queryTimeoutMs\": -1}}", "server.queryTimeoutMs: must be between 0 and 3600000");
    REJECTS("{\"server\": {\"queryTimeoutMs\": 3600001}}",
            "server.queryTimeoutMs: must be between 0 and 3600000");
    ACCEPTS("{\"server\": {\"queryTimeoutMs\": 3600000}}");
}

static void test_listen_and_database(void)
{
    static const char *good[] = { "127.0.0.1:3000", "localhost:1", "[::1]:65535",
                                  "0.0.0.0:80", "[fe80::1%eth0]:8080" };
    static const char *bad[] = { "localhost", ":3000", "host:", "host:0", "host:65536",
                                 "host:+80", "host: 80", "::1:3000", "[]:80", "[::1:80",
                                 "::1]:80", "host:80x", "" };
    char json[128];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(json, sizeof json, "{\"server\": {\"listen\": \"%s\"}}", good[i]);
        ACCEPTS(json);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json, "{\"server\": {\"listen\": \"%s\"}}", bad[i]);
        REJECTS(json, "server.listen: must be \"HOST:PORT\" with a non-empty host and port "
                      "1..65535");
    }
    REJECTS("{\"database\": \"\"}", "database: must not be empty");
}

static void test_document_errors(void)
{
    config c;
    char err[256];
    REJECTS("[]", "<config>: the top level must be an object");
    REJECTS("42", "<config>: the top level must be an object");
    CHECK_INT(load(&c, "{\n  \"auth\": {\n    \"ttl\": ,\n  }\n}", err, sizeof err), -1);
    CHECK(strncmp(err, "<config>:3:12: invalid JSON: ", 29) == 0);
    cfg_free(&c);
    CHECK_INT(load(&c, "", err, sizeof err), -1);
    CHECK(strncmp(err, "<config>:", 9) == 0 && strstr(err, "invalid JSON"));
    cfg_free(&c);
    /* a repeated key is more likely a mistake than an override */
    CHECK_INT(load(&c, "{\"auth\": {\"ttl\": 5, \"ttl\": 6}}", err, sizeof err), -1);
    CHECK(strstr(err, "duplicate") != NULL);
    cfg_free(&c);
}

/* Keys are checked in document order and the first bad one is reported. */
static void test_first_error_wins(void)
{
    REJECTS("{\"nope\": 1, \"auth\": {\"ttl\": \"x\"}}", "nope: unknown key");
    REJECTS("{\"auth\": {\"ttl\": \"x\"}, \"nope\": 1}", "auth.ttl: must be an integer");
    REJECTS("{\"auth\": {\"ttl\": 5, \"sources\": {\"cookie\": 0, \"x\": 1}}}",
            "auth.sources.cookie: must be a boolean");
}

/* A rejected document changes nothing, even the keys before the bad one. */
static void test_rejected_document_changes_nothing(void)
{
    config c;
    char err[256];
    cfg_defaults(&c);
    CHECK_INT(cfg_load_string(&c, "{\"database\": \"sqlite:new.db\", \"auth\": {\"ttl\": 7,"
                                  " \"maxTTL\": \"x\"}}", err, sizeof err), -1);
    CHECK_STR(c.database, "sqlite:tessera.db");
    CHECK_INT(c.auth.ttl, 1209600);
    cfg_free(&c);
}

/* "models" is kept as written (models_load checks it); a later file replaces it. */
static void test_models_and_acl(void)
{
    config c;
    char err[256];
    json_t *kept;
    CHECK_INT(load(&c, "{\"models\": {\"widget\": 5}, \"acl\": {\"defaultPermission\": "
                       "\"ALLOW\"}}", err, sizeof err), 0);
    CHECK(c.acl_default_allow);
    CHECK(json_is_integer(json_object_get(c.models, "widget")));
    kept = c.models;
    CHECK_INT(cfg_load_string(&c, "{\"acl\": {\"defaultPermission\": \"DENY\"}}", err,
                              sizeof err), 0);
    CHECK(!c.acl_default_allow);
    CHECK(c.models == kept);
    CHECK_INT(cfg_load_string(&c, "{\"acl\": {\"defaultPermission\": \"ALLOW\"}, "
                                  "\"models\": []}", err, sizeof err), -1);
    CHECK(!c.acl_default_allow && c.models == kept); /* rejected: nothing changed */
    CHECK_INT(cfg_load_string(&c, "{\"models\": {}}", err, sizeof err), 0);
    CHECK(json_is_object(c.models) && json_object_size(c.models) == 0);
    cfg_free(&c);
    CHECK(c.models == NULL);
}

static void test_models_and_acl_errors(void)
{
    REJECTS("{\"models\": []}", "models: must be an object");
    REJECTS("{\"models\": null}", "models: must be an object");
    REJECTS("{\"models\": \"Widget\"}", "models: must be an object");
    REJECTS("{\"acl\": true}", "acl: must be an object");
    REJECTS("{\"acl\": {\"default\": \"DENY\"}}", "acl.default: unknown key");
    REJECTS("{\"acl\": {\"defaultPermission\": \"allow\"}}",
            "acl.defaultPermission: must be \"ALLOW\" or \"DENY\"");
    REJECTS("{\"acl\": {\"defaultPermission\": true}}",
            "acl.defaultPermission: must be a string");
    ACCEPTS("{\"acl\": {}}");
}

static bool write_temp(char *path, const char *text)
{
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        return false;
    fputs(text, f);
    fclose(f);
    return true;
}

static void test_load_file(void)
{
    config c;
    char err[512], want[600];
    char path[] = "/tmp/tessera-unit-XXXXXX";
    char bad[] = "/tmp/tessera-unit-XXXXXX";
    if (!CHECK(write_temp(path, FULL)) || !CHECK(write_temp(bad, "{\n\"auth\": }")))
        return;
    cfg_defaults(&c);
    CHECK_INT(cfg_load_file(&c, path, err, sizeof err), 0);
    CHECK_INT(c.auth.token_length, 48);
    CHECK_STR(c.server.listen, "[::1]:8080");
    CHECK_INT(cfg_load_file(&c, bad, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2:9: invalid JSON: ", bad);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    CHECK_INT(c.auth.token_length, 48);
    unlink(path);
    CHECK_INT(cfg_load_file(&c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CHECK_STR(err, want);
    unlink(bad);
    CHECK_INT(cfg_load_file(&c, "/tmp", err, sizeof err), -1);
    CHECK_STR(err, "/tmp: cannot open: Is a directory");
    cfg_free(&c);
}

static void test_env_overlay(void)
{
    config c;
    cfg_defaults(&c);
    unsetenv("TESSERA_LISTEN");
    unsetenv("TESSERA_DATABASE");
    cfg_apply_env(&c);
    CHECK_STR(c.server.listen, "127.0.0.1:3000");
    CHECK_STR(c.database, "sqlite:tessera.db");
    setenv("TESSERA_LISTEN", "0.0.0.0:8080", 1);
    setenv("TESSERA_DATABASE", "sqlite:/tmp/env.db", 1);
    cfg_apply_env(&c);
    CHECK_STR(c.server.listen, "0.0.0.0:8080");
    CHECK_STR(c.database, "sqlite:/tmp/env.db");
    setenv("TESSERA_LISTEN", "", 1); /* set but empty: ignored */
    unsetenv("TESSERA_DATABASE");
    cfg_apply_env(&c);
    CHECK_STR(c.server.listen, "0.0.0.0:8080");
    CHECK_STR(c.database, "sqlite:/tmp/env.db");
    unsetenv("TESSERA_LISTEN");
    cfg_free(&c);
}

static void test_set_string_and_free(void)
{
    config c;
    char buf[] = "sqlite:a.db";
    cfg_defaults(&c);
    cfg_set_string(&c.database, buf);
    buf[7] = 'b'; /* the config keeps its own copy */
    CHECK_STR(c.database, "sqlite:a.db");
    cfg_set_string(&c.database, NULL);
    CHECK(c.database == NULL);
    cfg_free(&c);
    CHECK(c.database == NULL && c.server.listen == NULL);
    cfg_free(&c); /* twice is harmless */
}

void suite_config(void)
{
    RUN(test_defaults);
    RUN(test_every_key);
    RUN(test_partial_keeps_rest);
    RUN(test_unknown_keys);
    RUN(test_wrong_types);
    RUN(test_integer_ranges);
    RUN(test_listen_and_database);
    RUN(test_document_errors);
    RUN(test_first_error_wins);
    RUN(test_rejected_document_changes_nothing);
    RUN(test_models_and_acl);
    RUN(test_models_and_acl_errors);
    RUN(test_load_file);
    RUN(test_env_overlay);
    RUN(test_set_string_and_free);
    RUN(test_query_timeout);
}
