/*
 * apps.c — tessera app add | rotate | disable | list (issue 13): the
 * operator's way to applications, on the database directly. A secret is
 * printed once, on standard output, and stored only as its hash.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/client.h"
#include "cli/cli.h"
#include "model/user.h"

static const char APP_USAGE[] =
    "usage: tessera app add --name N [--owner EMAIL] [--role ROLE]... [--config FILE] [--database URL]\n"
    "       tessera app rotate --name N [--config FILE] [--database URL]\n"
    "       tessera app disable --name N [--config FILE] [--database URL]\n"
    "       tessera app list [--config FILE] [--database URL]\n"
    "\nadd and rotate print the client id and the secret as JSON; the secret is shown this once.\n"
    "disable ends every token issued through the application, on every instance.\n";

enum { OPT_NAME = 1, OPT_OWNER, OPT_APP_ROLE };
#define APP_MAX_ROLES 16

typedef struct app_args {
    const char *verb, *name, *owner;
    const char *roles[APP_MAX_ROLES];
    int nroles;
} app_args;

static void print_secret(int64_t id, const char *client_id, const char *secret)
{
    printf("{\"id\":%lld,\"clientId\":\"%s\",\"clientSecret\":\"%s\"}\n", (long long)id, client_id, secret);
}

static store_err owner_id(store_t *st, const config *cfg, const char *email, int64_t *id)
{
    *id = 0;
    if (email == NULL)
        return STORE_OK;
    char lower[STORE_EMAIL_MAX + 1];
    user_email_key(email, cfg->auth.case_sensitive_email, lower);
    store_user u = {0};
    store_err e = store_user_find(st, lower, NULL, &u);
    *id = u.id;
    store_user_clear(&u);
    return e;
}

static store_err app_add(store_t *st, const config *cfg, const app_args *a)
{
    int64_t owner, id = 0;
    store_err e = owner_id(st, cfg, a->owner, &owner);
    if (e != STORE_OK)
        return e;
    char cid[CLIENT_ID_LEN + 1], secret[CLIENT_SECRET_LEN + 1], hex[STORE_APP_HASH_HEX + 1];
    client_new_id(cid);
    client_new_secret(secret, hex);
    e = store_app_create(st, a->name, owner, cid, hex, &id);
    for (int i = 0; e == STORE_OK && i < a->nroles; i++)
        e = store_principal_grant(st, true, id, a->roles[i]);
    if (e == STORE_OK)
        print_secret(id, cid, secret);
    sodium_memzero(secret, sizeof secret);
    return e;
}

static store_err app_rotate(store_t *st, const app_args *a)
{
    int64_t id;
    store_err e = store_app_id(st, a->name, &id);
    char secret[CLIENT_SECRET_LEN + 1], hex[STORE_APP_HASH_HEX + 1];
    client_new_secret(secret, hex);
    if (e == STORE_OK)
        e = store_app_set_secret(st, id, hex, 0);
    if (e == STORE_OK)
        printf("{\"id\":%lld,\"clientSecret\":\"%s\"}\n", (long long)id, secret);
    sodium_memzero(secret, sizeof secret);
    return e;
}

static store_err app_disable(store_t *st, const app_args *a)
{
    int64_t id;
    store_err e = store_app_id(st, a->name, &id);
    if (e == STORE_OK)
        e = store_app_set_status(st, id, "disabled");
    if (e == STORE_OK)
        printf("{\"id\":%lld,\"status\":\"disabled\"}\n", (long long)id);
    return e;
}

static void print_app(int64_t id, const char *name, const char *client_id, const char *status, int64_t owner,
                      void *ctx)
{
    (void)ctx;
    json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "name", name, "clientId", client_id,
                          "status", status);
    json_object_set_new(o, "ownerId", owner ? json_integer(owner) : json_null());
    char *text = json_dumps(o, JSON_COMPACT);
    if (text)
        puts(text);
    free(text);
    json_decref(o);
}

static int app_run(const cli_common *o, const app_args *a)
{
    bool list = strcmp(a->verb, "list") == 0;
    if (!list && a->name == NULL) {
        fprintf(stderr, "tessera app %s: --name is required\n%s", a->verb, APP_USAGE);
        return CLI_USAGE;
    }
    config cfg;
    if (cli_load_config(o, &cfg) != 0)
        return CLI_USAGE;
    store_t *st = cli_open_store(&cfg);
    store_err e = STORE_ERROR;
    if (st != NULL) {
        e = list                                ? store_app_list(st, print_app, NULL)
            : strcmp(a->verb, "add") == 0      ? app_add(st, &cfg, a)
            : strcmp(a->verb, "rotate") == 0   ? app_rotate(st, a)
                                               : app_disable(st, a);
        if (e != STORE_OK)
            fprintf(stderr, "tessera app %s: %s\n", a->verb,
                    e == STORE_NOT_FOUND ? "no such application or owner"
                    : e == STORE_CONFLICT ? "the name is taken" : store_strerror(e));
        store_close(st);
    }
    cfg_free(&cfg);
    return e == STORE_OK ? CLI_OK : CLI_FAILED;
}

static bool known_verb(const char *v)
{
    return strcmp(v, "add") == 0 || strcmp(v, "rotate") == 0 || strcmp(v, "disable") == 0 ||
           strcmp(v, "list") == 0;
}

int cli_app(int argc, char **argv)
{
    if (argc < 2 || !known_verb(argv[1])) {
        bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
        fputs(APP_USAGE, help ? stdout : stderr);
        return help ? CLI_OK : CLI_USAGE;
    }
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"name", required_argument, NULL, OPT_NAME},
        {"owner", required_argument, NULL, OPT_OWNER},
        {"role", required_argument, NULL, OPT_APP_ROLE},
        {NULL, 0, NULL, 0},
    };
    cli_common o = {0};
    app_args a = {.verb = argv[1]};
    int c, done;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if ((done = cli_common_opt(c, &o, APP_USAGE)) >= 100)
            return done - 100;
        if (c == OPT_NAME) a.name = optarg;
        else if (c == OPT_OWNER) a.owner = optarg;
        else if (c == OPT_APP_ROLE && a.nroles < APP_MAX_ROLES) a.roles[a.nroles++] = optarg;
    }
    return app_run(&o, &a);
}
