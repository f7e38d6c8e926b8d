/*
 * main.c — tessera's entry point: picks the command.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/version.h"

static const char USAGE[] =
    "usage: tessera COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  serve     run the HTTP API server\n"
    "  user      manage users (user add)\n"
    "  token     issue and revoke access tokens (token issue, token revoke)\n"
    "  apitoken  named API tokens (apitoken create, list, revoke)\n"
    "  migrate   create or upgrade the database schema\n"
    "  app       manage applications (app add, rotate, disable, list)\n"
    "\n"
    "Options every command takes:\n"
    "  --config FILE     JSON config file (or $TESSERA_CONFIG)\n"
    "  --database URL    sqlite:PATH (or $TESSERA_DATABASE); default sqlite:tessera.db\n"
    "\n"
    "tessera COMMAND --help tells more; tessera --version prints the version.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(USAGE, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("tessera %s\n", TESSERA_VERSION);
        return CLI_OK;
    }
    /* TESSERA_LOG_LEVEL: debug, info (the default), warning or error */
    const char *level = getenv("TESSERA_LOG_LEVEL");
    log_level lvl;
    if (level && *level && log_level_parse(level, &lvl) == 0)
        log_set_level(lvl);
    else if (level && *level)
        log_warn("TESSERA_LOG_LEVEL: '%s' is not debug, info, warning or error; using info", level);
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialise");
        return CLI_FAILED;
    }
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0)
        return cli_user(argc - 1, argv + 1);
    if (strcmp(cmd, "token") == 0)
        return cli_token(argc - 1, argv + 1);
    if (strcmp(cmd, "apitoken") == 0)
        return cli_apitoken(argc - 1, argv + 1);
    if (strcmp(cmd, "migrate") == 0)
        return cli_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "app") == 0)
        return cli_app(argc - 1, argv + 1);
    fprintf(stderr, "tessera: unknown command '%s'\n\n%s", cmd, USAGE);
    return CLI_USAGE;
}
