/*
 * cli.h — the tessera command line: one function per command, and what they
 * share (options that every command takes, loading the config).
 */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include <getopt.h>

#include "core/config.h"
#include "store/store.h"

/* Exit codes: 0 done, 1 the command failed, 2 the command line was wrong. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

/* The options every command accepts. */
typedef struct cli_common {
    const char *config_path; /* --config, else $TESSERA_CONFIG */
    const char *listen;      /* --listen                       */
    const char *database;    /* --database                     */
} cli_common;

/* getopt_long codes of the common options, and their table entries. */
enum { OPT_CONFIG = 1000, OPT_DATABASE, OPT_LISTEN, OPT_HELP };
#define CLI_COMMON_OPTIONS                                   \
    {"config", required_argument, NULL, OPT_CONFIG},         \
    {"database", required_argument, NULL, OPT_DATABASE},     \
    {"help", no_argument, NULL, OPT_HELP}

/*
 * Takes a common option from getopt_long's answer. Returns 1 when it was one,
 * 0 when it is the command's own, or an exit code + 100 (help printed, or a
 * bad option) — callers return cli_done(rc) then.
 */
int cli_common_opt(int c, cli_common *o, const char *usage);

/*
 * Builds the effective config: defaults, then the file, then TESSERA_* env,
 * then the flags. Prints the problem and returns -1 when the file is wrong.
 */
int cli_load_config(const cli_common *o, config *cfg);

/*
 * The database URL as it may be logged: a password in it (user:PASSWORD@ of
 * a URL, password=... of libpq's key=value form) is replaced by "***".
 */
const char *cli_db_for_log(const char *url, char *buf, size_t cap);

/* Opens the configured database and brings its schema up to date. */
store_t *cli_open_store(const config *cfg);

/* The user of this email (as logins match it); -1 with a message when none. */
int cli_find_user(store_t *st, const config *cfg, const char *email, store_user *u);

int cli_serve(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_migrate(int argc, char **argv);
/* tessera app add | rotate | disable | list (cli/apps.c, issue 13) */
int cli_app(int argc, char **argv);
int cli_apitoken(int argc, char **argv); /* apitoken.c, issue 14 */

#endif
