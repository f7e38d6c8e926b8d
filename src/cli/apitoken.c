/*
 * apitoken.c — tessera apitoken create | list | revoke (issue 14).
 *
 * Works on the database directly, as the other admin commands do: a running
 * server hears a revocation through the store's revocation log. The key is
 * printed once, by create; the database keeps its hash.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/apikey.h"
#include "auth/scope.h"
#include "cli/cli.h"
#include "core/isodate.h"

static const char APITOKEN_USAGE[] =
    "usage: tessera apitoken create --email E --name N --type read-only|full-access|custom\n"
    "                               [--permission Model.method]... [--lifespan SECONDS|unlimited]\n"
    "       tessera apitoken list --email E\n"
    "       tessera apitoken revoke ID\n"
    "       (each also takes [--config FILE] [--database URL])\n"
    "\ncreate prints the new key, once; list prints the user's API tokens, one JSON object a line;\n"
    "revoke deletes one, on every running server too.\n";

#define MAX_PERMISSIONS SCOPE_MAX_ENTRIES

enum { OPT_EMAIL = 1, OPT_NAME, OPT_TYPE, OPT_PERMISSION, OPT_LIFESPAN, OPT_DESCRIPTION };

typedef struct apitoken_args {
    const char *email, *name, *type, *lifespan, *description, *id;
    json_t *permissions;
} apitoken_args;

static int usage(void)
{
    fputs(APITOKEN_USAGE, stderr);
    return CLI_USAGE;
}

/* --lifespan: seconds, or "unlimited" (when apiTokens.allowUnlimited). */
static int lifespan_of(const config *cfg, const char *text, int64_t *ttl)
{
    if (text == NULL || strcmp(text, "unlimited") == 0) {
        if (!cfg->api_tokens.allow_unlimited) {
            fputs("tessera apitoken create: --lifespan is required (apiTokens.allowUnlimited is off)\n", stderr);
            return -1;
        }
        *ttl = TOK_ETERNAL;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text < '0' || *text > '9' || *end != '\0' || errno || v < 1) {
        fprintf(stderr, "tessera apitoken create: --lifespan: '%s' is not a number of seconds or unlimited\n", text);
        return -1;
    }
    *ttl = v;
    return 0;
}

/* The permissions, checked against the models the config declares. */
static int permissions_ok(const config *cfg, int type, const json_t *perms)
{
    char err[512];
    if (type != SCOPE_CUSTOM) {
        if (json_array_size(perms) == 0)
            return 0;
        fputs("tessera apitoken create: --permission is only for --type custom\n", stderr);
        return -1;
    }
    model_registry *reg = models_load(cfg->models, err, sizeof err);
    int bad = reg == NULL ? 0 : scope_list_check(reg, perms, err, sizeof err);
    models_free(reg);
    if (bad < 0)
        return 0;
    fprintf(stderr, "tessera apitoken create: %s\n", err);
    return -1;
}

static int create(store_t *st, const config *cfg, const apitoken_args *a)
{
    int64_t ttl, id = 0;
    int type = scope_type_parse(a->type);
    if (*a->name == '\0' || strlen(a->name) > 128 || (a->description && strlen(a->description) > 1024)) {
        fputs("tessera apitoken create: --name must be 1 to 128 characters, --description at most 1024\n", stderr);
        return CLI_USAGE;
    }
    if (type < 0) {
        fputs("tessera apitoken create: --type must be read-only, full-access or custom\n", stderr);
        return CLI_USAGE;
    }
    if (lifespan_of(cfg, a->lifespan, &ttl) != 0 || permissions_ok(cfg, type, a->permissions) != 0)
        return CLI_USAGE;
    store_user u = {0};
    if (cli_find_user(st, cfg, a->email, &u) != 0)
        return CLI_FAILED;
    char key[APIKEY_LEN + 1], prefix[APIKEY_SHOWN_LEN + 1];
    char *ptext = type == SCOPE_CUSTOM ? json_dumps(a->permissions, JSON_COMPACT) : NULL;
    store_apikey_new k = {.user_id = u.id, .name = a->name, .description = a->description,
                          .type = scope_type_name((scope_type)type), .permissions = ptext,
                          .created_ms = iso_now_ms(), .ttl = ttl};
    apikey_new(key, &k.hash, prefix);
    k.prefix = prefix;
    store_err e = store_apikey_insert(st, &k, &id);
    if (e == STORE_OK)
        puts(key);
    else
        fprintf(stderr, "tessera apitoken create: %s\n",
                e == STORE_CONFLICT ? "this user already has an API token of that name" : store_strerror(e));
    sodium_memzero(key, sizeof key);
    free(ptext);
    store_user_clear(&u);
    return e == STORE_OK ? CLI_OK : CLI_FAILED;
}

static void print_row(json_t *row, void *ctx)
{
    (void)ctx;
    char *line = json_dumps(row, JSON_COMPACT);
    if (line)
        puts(line);
    free(line);
    json_decref(row);
}

static int list(store_t *st, const config *cfg, const apitoken_args *a)
{
    char err[512];
    store_user u = {0};
    if (cli_find_user(st, cfg, a->email, &u) != 0)
        return CLI_FAILED;
    model_registry *reg = models_load(cfg->models, err, sizeof err);
    const model_def *m = reg ? models_by_name(reg, "ApiToken") : NULL;
    filter f;
    filter_init(&f);
    json_t *w = json_pack("{s:I}", "userId", (json_int_t)u.id);
    store_err e = m && filter_parse_where(m, w, &f.where, err, sizeof err) == 0 ? STORE_OK : STORE_ERROR;
    json_decref(w);
    if (e == STORE_OK) {
        f.order[0] = (forder){model_prop_named(m, "id"), false};
        f.norder = 1;
        e = store_rows_find(st, m, &f, print_row, NULL);
    }
    if (e != STORE_OK)
        fprintf(stderr, "tessera apitoken list: %s\n", store_strerror(e));
    filter_free(&f);
    models_free(reg);
    store_user_clear(&u);
    return e == STORE_OK ? CLI_OK : CLI_FAILED;
}

static int revoke(store_t *st, const apitoken_args *a)
{
    char *end;
    long long id = strtoll(a->id, &end, 10);
    store_hash old;
    store_err e = *a->id >= '0' && *a->id <= '9' && *end == '\0' && id > 0
                      ? store_apikey_delete(st, id, 0, &old) : STORE_NOT_FOUND;
    if (e != STORE_OK) {
        fprintf(stderr, "tessera apitoken revoke: %s\n", e == STORE_NOT_FOUND ? "no such API token" : store_strerror(e));
        return CLI_FAILED;
    }
    puts("revoked 1 API token");
    return CLI_OK;
}

/* Which arguments each subcommand needs, before anything is opened. */
static bool args_ok(const char *sub, const apitoken_args *a)
{
    if (strcmp(sub, "create") == 0)
        return a->email && a->name && a->type && !a->id;
    if (strcmp(sub, "list") == 0)
        return a->email && !a->name && !a->type && !a->id;
    return strcmp(sub, "revoke") == 0 && a->id && !a->email;
}

static int parse(int argc, char **argv, cli_common *o, apitoken_args *a)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"email", required_argument, NULL, OPT_EMAIL},
        {"name", required_argument, NULL, OPT_NAME},
        {"type", required_argument, NULL, OPT_TYPE},
        {"permission", required_argument, NULL, OPT_PERMISSION},
        {"lifespan", required_argument, NULL, OPT_LIFESPAN},
        {"description", required_argument, NULL, OPT_DESCRIPTION},
        {NULL, 0, NULL, 0},
    };
    int c, done;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if ((done = cli_common_opt(c, o, APITOKEN_USAGE)) >= 100)
            return done - 100;
        if (c == OPT_EMAIL) a->email = optarg;
        else if (c == OPT_NAME) a->name = optarg;
        else if (c == OPT_TYPE) a->type = optarg;
        else if (c == OPT_LIFESPAN) a->lifespan = optarg;
        else if (c == OPT_DESCRIPTION) a->description = optarg;
        else if (c == OPT_PERMISSION && json_array_size(a->permissions) < MAX_PERMISSIONS)
            json_array_append_new(a->permissions, json_string(optarg));
    }
    int rest = argc - 1 - optind;
    if (rest == 1)
        a->id = argv[1 + optind];
    return rest > 1 || !args_ok(argv[1], a) ? usage() : -1;
}

int cli_apitoken(int argc, char **argv)
{
    bool known = argc >= 2 && (strcmp(argv[1], "create") == 0 || strcmp(argv[1], "list") == 0 ||
                               strcmp(argv[1], "revoke") == 0);
    if (!known) {
        bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
        fputs(APITOKEN_USAGE, help ? stdout : stderr);
        return help ? CLI_OK : CLI_USAGE;
    }
    cli_common o = {0};
    apitoken_args a = {.permissions = json_array()};
    int rc = parse(argc, argv, &o, &a);
    if (rc < 0) {
        config cfg;
        if (cli_load_config(&o, &cfg) != 0) {
            rc = CLI_USAGE;
        } else {
            store_t *st = cli_open_store(&cfg);
            rc = st == NULL ? CLI_FAILED
                 : strcmp(argv[1], "create") == 0 ? create(st, &cfg, &a)
                 : strcmp(argv[1], "list") == 0 ? list(st, &cfg, &a)
                 : revoke(st, &a);
            if (st)
                store_close(st);
            cfg_free(&cfg);
        }
    }
    json_decref(a.permissions);
    return rc;
}
