/*
 * common.c — what every command shares: config and store.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

int cli_load_config(const cli_common *o, config *cfg)
{
    cfg_defaults(cfg);
    const char *path = o->config_path ? o->config_path : getenv("TESSERA_CONFIG");
    if (path && *path) {
        char err[512];
        if (cfg_load_file(cfg, path, err, sizeof err) != 0) {
            log_error("config %s: %s", path, err);
            cfg_free(cfg);
            return -1;
        }
    }
    cfg_apply_env(cfg);
    if (o->listen)
        cfg_set_string(&cfg->server.listen, o->listen);
    if (o->database)
        cfg_set_string(&cfg->database, o->database);
    return 0;
}

/* Copies src[0..n) into the buffer, as far as it goes. */
static void put(char *buf, size_t cap, size_t *len, const char *src, size_t n)
{
    if (*len + n >= cap)
        n = cap - 1 - *len;
    memcpy(buf + *len, src, n);
    *len += n;
    buf[*len] = '\0';
}

const char *cli_db_for_log(const char *url, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    const char *scheme = strstr(url, "://");
    if (scheme) {
        const char *auth = scheme + 3;
        const char *at = strchr(auth, '@');
        const char *slash = strchr(auth, '/');
        const char *colon = strchr(auth, ':');
        if (at && (!slash || at < slash) && colon && colon < at) {
            put(buf, cap, &len, url, (size_t)(colon + 1 - url));
            put(buf, cap, &len, "***", 3);
            url = at;
        }
    }
    /* key=value form (and URL parameters): password=VALUE up to a blank or '&' */
    const char *p;
    while ((p = strstr(url, "password=")) != NULL) {
        put(buf, cap, &len, url, (size_t)(p + 9 - url));
        put(buf, cap, &len, "***", 3);
        url = p + 9 + strcspn(p + 9, " &");
    }
    put(buf, cap, &len, url, strlen(url));
    return buf;
}

store_t *cli_open_store(const config *cfg)
{
    char err[512], db[512];
    store_t *st = store_open(cfg->database, err, sizeof err);
    if (st == NULL) {
        log_error("database %s: %s", cli_db_for_log(cfg->database, db, sizeof db), err);
        return NULL;
    }
    if (store_migrate(st, NULL) != STORE_OK) {
        log_error("database %s: cannot bring the schema up to date", cli_db_for_log(cfg->database, db, sizeof db));
        store_close(st);
        return NULL;
    }
    return st;
}

int cli_common_opt(int c, cli_common *o, const char *usage)
{
    switch (c) {
    case OPT_CONFIG:
        o->config_path = optarg;
        return 1;
    case OPT_DATABASE:
        o->database = optarg;
        return 1;
    case OPT_LISTEN:
        o->listen = optarg;
        return 1;
    case OPT_HELP:
        fputs(usage, stdout);
        return 100 + CLI_OK;
    case '?':
    case ':':
        fputs(usage, stderr);
        return 100 + CLI_USAGE;
    default:
        return 0;
    }
}
