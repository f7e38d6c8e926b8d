/*
 * admin.c — the operator's commands: user add, token issue, token revoke,
 * migrate. They work on the database directly, with or without a server
 * running; a running server learns of revocations from the store's
 * revocation log within a fraction of a second.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "auth/session.h"
#include "cli/cli.h"
#include "model/user.h"

/* Parses only the common options; for commands that take no others. */
static int parse_common(int argc, char **argv, cli_common *o, const char *usage)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    int c, done;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if ((done = cli_common_opt(c, o, usage)) >= 100)
            return done - 100;
    }
    return -1;
}

/* Config + store for a command; NULL store when either failed (rc set). */
static store_t *open_for(const cli_common *o, config *cfg, int *rc)
{
    if (cli_load_config(o, cfg) != 0) {
        *rc = CLI_USAGE;
        return NULL;
    }
    store_t *st = cli_open_store(cfg);
    if (st == NULL) {
        cfg_free(cfg);
        *rc = CLI_FAILED;
    }
    return st;
}

static void close_all(store_t *st, config *cfg)
{
    store_close(st);
    cfg_free(cfg);
}

/* ---- migrate -------------------------------------------------------------- */

static const char MIGRATE_USAGE[] =
    "usage: tessera migrate [--config FILE] [--database URL]\n"
    "\nCreates the database schema, or upgrades it to this version's. serve does it too.\n";

int cli_migrate(int argc, char **argv)
{
    cli_common o = {0};
    int rc = parse_common(argc, argv, &o, MIGRATE_USAGE);
    if (rc >= 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "tessera migrate: unexpected argument '%s'\n%s", argv[optind], MIGRATE_USAGE);
        return CLI_USAGE;
    }
    config cfg;
    store_t *st = open_for(&o, &cfg, &rc);
    if (st == NULL)
        return rc;
    int version = 0;
    store_migrate(st, &version);
    char db[512];
    printf("database %s: schema at version %d\n", cli_db_for_log(cfg.database, db, sizeof db), version);
    close_all(st, &cfg);
    return CLI_OK;
}

/* ---- user add ------------------------------------------------------------- */

static const char USER_USAGE[] =
    "usage: tessera user add --email E [--username U] [--role ROLE]... --password-stdin\n"
    "                        [--config FILE] [--database URL]\n"
    "\nCreates a user (roles are created on demand) and prints it as JSON.\n"
    "The password is read from standard input (one line).\n";

enum { OPT_EMAIL = 1, OPT_USERNAME, OPT_ROLE, OPT_PASSWORD_STDIN, OPT_TTL, OPT_ALL };

#define MAX_ROLES 16

typedef struct user_args {
    const char *email, *username;
    const char *roles[MAX_ROLES];
    int nroles;
    bool password_stdin;
} user_args;

/* Reads one line from stdin with getline (an ordinary heap buffer) and cuts
 * the line end; NULL on failure. The caller wipes it (sodium_memzero)
 * before freeing it. */
static char *read_password(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static int user_add(const cli_common *o, const user_args *ua)
{
    if (ua->email == NULL || !ua->password_stdin) {
        fprintf(stderr, "tessera user add: --email and --password-stdin are required\n%s", USER_USAGE);
        return CLI_USAGE;
    }
    char *pw = read_password();
    if (pw == NULL || strlen(pw) > PW_MAX_LEN) {
        fprintf(stderr, "tessera user add: %s\n", pw ? "password too long" : "no password on standard input");
        if (pw)
            sodium_memzero(pw, strlen(pw));
        free(pw);
        return CLI_FAILED;
    }
    json_t *body = json_pack("{s:s, s:s, s:s*}", "email", ua->email, "password", pw, "username", ua->username);
    validation v;
    validation_init(&v);
    user_validate(body, true, &v);
    int rc = CLI_FAILED;
    if (validation_failed(&v)) {
        char *why = json_dumps(v.messages, JSON_COMPACT);
        fprintf(stderr, "tessera user add: invalid user: %s\n", why);
        free(why);
        validation_free(&v);
        goto out;
    }
    validation_free(&v);
    config cfg;
    store_t *st = open_for(o, &cfg, &rc);
    if (st == NULL)
        goto out;
    store_user u = {0};
    user_apply(body, cfg.auth.case_sensitive_email, &u);
    store_err e = pw_hash(&cfg.password, pw, strlen(pw), u.password) == 0 ? store_user_create(st, &u)
                                                                        : STORE_ERROR;
    for (int i = 0; e == STORE_OK && i < ua->nroles; i++)
        e = store_role_grant(st, u.id, ua->roles[i]);
    if (e == STORE_OK) {
        json_t *out = user_to_json(&u);
        json_t *roles = json_array();
        for (int i = 0; i < ua->nroles; i++)
            json_array_append_new(roles, json_string(ua->roles[i]));
        json_object_set_new(out, "roles", roles);
        char *text = json_dumps(out, JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(out);
        rc = CLI_OK;
    } else {
        fprintf(stderr, "tessera user add: %s\n", store_strerror(e));
    }
    store_user_clear(&u);
    close_all(st, &cfg);
out:
    sodium_memzero(pw, strlen(pw));
    free(pw);
    json_decref(body);
    return rc;
}

int cli_user(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "add") != 0) {
        bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
        fputs(USER_USAGE, help ? stdout : stderr);
        return help ? CLI_OK : CLI_USAGE;
    }
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"email", required_argument, NULL, OPT_EMAIL},
        {"username", required_argument, NULL, OPT_USERNAME},
        {"role", required_argument, NULL, OPT_ROLE},
        {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
        {NULL, 0, NULL, 0},
    };
    cli_common o = {0};
    user_args ua = {0};
    int c, done;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if ((done = cli_common_opt(c, &o, USER_USAGE)) >= 100)
            return done - 100;
        if (c == OPT_EMAIL) ua.email = optarg;
        else if (c == OPT_USERNAME) ua.username = optarg;
        else if (c == OPT_PASSWORD_STDIN) ua.password_stdin = true;
        else if (c == OPT_ROLE && ua.nroles < MAX_ROLES) ua.roles[ua.nroles++] = optarg;
    }
    return user_add(&o, &ua);
}

/* ---- token issue / revoke ------------------------------------------------- */

static const char TOKEN_USAGE[] =
    "usage: tessera token issue --email E [--ttl SECONDS] [--config FILE] [--database URL]\n"
    "       tessera token revoke TOKEN [--config FILE] [--database URL]\n"
    "       tessera token revoke --email E --all [--config FILE] [--database URL]\n"
    "\nissue prints a new access token for the user; revoke ends one token, or all of a user's.\n";

typedef struct token_args {
    const char *email, *ttl, *token;
    bool all;
} token_args;

int cli_find_user(store_t *st, const config *cfg, const char *email, store_user *u)
{
    char lower[STORE_EMAIL_MAX + 1];
    user_email_key(email, cfg->auth.case_sensitive_email, lower);
    store_err e = store_user_find(st, lower, NULL, u);
    if (e != STORE_OK)
        fprintf(stderr, "tessera token: %s: %s\n", email, e == STORE_NOT_FOUND ? "no such user" : store_strerror(e));
    return e == STORE_OK ? 0 : -1;
}

static int token_issue(store_t *st, const config *cfg, const token_args *ta)
{
    json_t *req = ta->ttl ? json_string(ta->ttl) : NULL;
    int64_t ttl;
    char why[160];
    int bad = sess_resolve_ttl(&cfg->auth, req, &ttl, why, sizeof why);
    json_decref(req);
    if (bad) {
        fprintf(stderr, "tessera token issue: --ttl: %s\n", why);
        return CLI_USAGE;
    }
    store_user u = {0};
    if (cli_find_user(st, cfg, ta->email, &u) != 0)
        return CLI_FAILED;
    sess *s = sess_new(&cfg->auth, st);
    char secret[TOK_MAX_LEN + 1];
    tok_record rec;
    store_err e = s ? sess_issue(s, u.id, ttl, NULL, secret, &rec) : STORE_ERROR;
    if (e == STORE_OK)
        puts(secret);
    else
        fprintf(stderr, "tessera token issue: %s\n", store_strerror(e));
    sodium_memzero(secret, sizeof secret);
    sess_free(s);
    store_user_clear(&u);
    return e == STORE_OK ? CLI_OK : CLI_FAILED;
}

static int token_revoke(store_t *st, const config *cfg, const token_args *ta)
{
    if (ta->token) {
        tok_hash h;
        tok_hash_of(ta->token, strlen(ta->token), &h);
        store_err e = tok_well_formed(ta->token, strlen(ta->token)) ? store_token_delete(st, &h)
                                                                     : STORE_NOT_FOUND;
        if (e != STORE_OK) {
            fprintf(stderr, "tessera token revoke: %s\n", e == STORE_NOT_FOUND ? "no such token" : store_strerror(e));
            return CLI_FAILED;
        }
        puts("revoked 1 token");
        return CLI_OK;
    }
    store_user u = {0};
    if (cli_find_user(st, cfg, ta->email, &u) != 0)
        return CLI_FAILED;
    int64_t n = 0;
    store_err e = store_token_delete_user(st, u.id, NULL, &n);
    if (e == STORE_OK)
        printf("revoked %lld token%s\n", (long long)n, n == 1 ? "" : "s");
    else
        fprintf(stderr, "tessera token revoke: %s\n", store_strerror(e));
    store_user_clear(&u);
    return e == STORE_OK ? CLI_OK : CLI_FAILED;
}

/* Checks the combination of arguments before anything is opened. */
static bool token_args_ok(bool issue, const token_args *ta)
{
    if (issue)
        return ta->email && !ta->all && !ta->token;
    return (ta->token && !ta->email && !ta->all) || (!ta->token && ta->email && ta->all);
}

int cli_token(int argc, char **argv)
{
    bool issue = argc >= 2 && strcmp(argv[1], "issue") == 0;
    bool revoke = argc >= 2 && strcmp(argv[1], "revoke") == 0;
    if (!issue && !revoke) {
        bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
        fputs(TOKEN_USAGE, help ? stdout : stderr);
        return help ? CLI_OK : CLI_USAGE;
    }
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"email", required_argument, NULL, OPT_EMAIL},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"all", no_argument, NULL, OPT_ALL},
        {NULL, 0, NULL, 0},
    };
    cli_common o = {0};
    token_args ta = {0};
    int c, done;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        if ((done = cli_common_opt(c, &o, TOKEN_USAGE)) >= 100)
            return done - 100;
        if (c == OPT_EMAIL) ta.email = optarg;
        else if (c == OPT_TTL && issue) ta.ttl = optarg;
        else if (c == OPT_ALL) ta.all = true;
        else if (c == OPT_TTL) return fputs(TOKEN_USAGE, stderr), CLI_USAGE;
    }
    int rest = argc - 1 - optind;
    if (rest == 1 && revoke)
        ta.token = argv[1 + optind];
    if ((rest > 0 && !ta.token) || rest > 1 || !token_args_ok(issue, &ta)) {
        fputs(TOKEN_USAGE, stderr);
        return CLI_USAGE;
    }
    config cfg;
    int rc;
    store_t *st = open_for(&o, &cfg, &rc);
    if (st == NULL)
        return rc;
    rc = issue ? token_issue(st, &cfg, &ta) : token_revoke(st, &cfg, &ta);
    close_all(st, &cfg);
    return rc;
}
