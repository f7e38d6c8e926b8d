/*
 * common.c — what every command shares: config and store.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

int cli_load_config(const cli_common *o, config *cfg)
{
    cfg_defaults(cfg);
    const char *path = o->config_path ? o->config_path : getenv("TESSERA_CONFIG");
    if (path && *path) {
        char err[512];
        if (cfg_load_file(cfg, path, err, sizeof err) != 0) {
            fprintf(stderr, "tessera: config %s: %s\n", path, err);
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

store_t *cli_open_store(const config *cfg)
{
    char err[512];
    store_t *st = store_open(cfg->database, err, sizeof err);
    if (st == NULL) {
        fprintf(stderr, "tessera: database %s: %s\n", cfg->database, err);
        return NULL;
    }
    if (store_migrate(st, NULL) != STORE_OK) {
        fprintf(stderr, "tessera: database %s: cannot bring the schema up to date\n", cfg->database);
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
