/*
 * serve.c — `tessera serve`: the API server's life from start to clean exit.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/access.h"
#include "api/api.h"
#include "cli/cli.h"
#include "core/log.h"
#include "api/app.h"
#include "http/server.h"

static const char USAGE[] =
    "usage: tessera serve [--config FILE] [--listen HOST:PORT] [--database URL] [--sandbox]\n"
    "\n"
    "Runs the API server. Defaults: --listen 127.0.0.1:3000, --database sqlite:tessera.db.\n"
    "TESSERA_CONFIG, TESSERA_LISTEN and TESSERA_DATABASE do the same; flags win.\n"
    "--sandbox: as \"sandbox\": true in the config (every declared model open to\n"
    "callers without a token; for trying things out, never for production).\n"
    "SIGINT or SIGTERM: stop accepting, finish requests in flight, exit 0.\n";

/* getopt_long code of serve's own flag (after cli.h's common ones). */
enum { OPT_SANDBOX = OPT_HELP + 100 };

/* How often revocations made by other processes are read from the store. */
#define SYNC_INTERVAL_MS 250
/* How long requests in flight may take to finish at shutdown. */
#define SHUTDOWN_GRACE_MS 10000

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? (int)n : 1;
}

/* One worker per core: more would only take turns on the same cores. */
static int worker_threads(const config *cfg)
{
    if (cfg->server.threads > 0)
        return cfg->server.threads;
    return cores() > 2 ? cores() : 2;
}

static void rc_cleanup(app *a)
{
    sess_free(a->sessions);
    thr_free(a->throttle);
    rowcache_free(a->rows);
    acl_free(a->acl);
    models_free(a->models);
    store_close(a->store);
}

/* The models (built-in and declared) and the tables the declared ones need. */
static model_registry *load_models(const config *cfg, store_t *st)
{
    char err[512];
    model_registry *reg = models_load(cfg->models, err, sizeof err);
    if (reg == NULL) {
        log_error("config: %s", err);
        return NULL;
    }
    for (size_t i = 0; i < models_count(reg); i++) {
        const model_def *m = models_at(reg, i);
        if (m->kind == MODEL_DECLARED && store_model_sync(st, m) != STORE_OK) {
            log_error("database: cannot create the table of model %s", m->name);
            models_free(reg);
            return NULL;
        }
    }
    return reg;
}

/* Said at every start: a sandbox left on in production would be a hole. */
static void warn_if_sandbox(const config *cfg)
{
    if (cfg->sandbox)
        log_warn("sandbox mode is on: callers without a token may read, create, update and delete "
                 "every row of every declared model; users, tokens, applications, roles, role "
                 "mappings, ACLs and API tokens keep their rules. Never use it in production.");
}

/* Runs until SIGINT or SIGTERM; those are blocked in every thread and taken here. */
static int run(const config *cfg)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    store_t *st = cli_open_store(cfg);
    if (st == NULL)
        return CLI_FAILED;
    app a = {.cfg = cfg, .store = st};
    bool sole = false;
    store_err claimed = store_claim(st, &sole);
    if (claimed != STORE_OK) {
        char db[512];
        if (claimed == STORE_CONFLICT)
            log_error("another tessera server is already serving %s "
                      "(one server per SQLite file; use PostgreSQL for several)",
                      cli_db_for_log(cfg->database, db, sizeof db));
        store_close(st);
        return CLI_FAILED;
    }
    a.models = load_models(cfg, st);
    if (a.models == NULL) {
        store_close(st);
        return CLI_USAGE;
    }
    st->query_timeout_ms = cfg->server.query_timeout_ms; /* after model_sync's DDL */
    if (sole)
        a.rows = rowcache_new(cfg->server.row_cache);
    acl_policy policy = access_policy(cfg);
    a.acl = acl_new_with(a.models, st, &policy);
    warn_if_sandbox(cfg);
    a.sessions = sess_new(&cfg->auth, st);
    a.throttle = thr_new(&cfg->auth.login_throttle, st);
    if (a.sessions && sess_preload(a.sessions) != STORE_OK)
        log_warn("could not load the live tokens; they will be read on first use");
    if (a.acl == NULL || a.sessions == NULL || a.throttle == NULL || sess_start_sync(a.sessions, SYNC_INTERVAL_MS) != 0) {
        log_error("cannot start the token cache");
        rc_cleanup(&a);
        return CLI_FAILED;
    }
    http_options opt = {
        .listen = cfg->server.listen,
        .threads = worker_threads(cfg),
        .max_body = cfg->server.max_body,
        .handler = api_handle,
        .is_slow = api_is_slow,
        .slow_threads = cores(),
        .slow_queue_per_client = cfg->server.slow_queue_per_client,
        .slow_queue_max = cfg->server.slow_queue_max,
        .max_conn_per_client = cfg->server.max_conn_per_client,
        .header_timeout_ms = cfg->server.header_timeout_ms,
        .body_timeout_ms = cfg->server.body_timeout_ms,
        .max_body_memory = cfg->server.max_body_memory,
        .access_log = cfg->server.access_log,
        .ctx = &a,
    };
    char err[512];
    http_server *http = http_start(&opt, err, sizeof err);
    int rc = CLI_FAILED;
    if (http == NULL) {
        log_error("%s", err);
    } else {
        snprintf(a.instance, sizeof a.instance, "%s", http_address(http));
        printf("tessera listening on http://%s\n", http_address(http));
        fflush(stdout);
        int sig = 0;
        sigwait(&stop, &sig);
        log_info("%s received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        http_stop(http, SHUTDOWN_GRACE_MS);
        rc = CLI_OK;
    }
    rc_cleanup(&a);
    return rc;
}

int cli_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"sandbox", no_argument, NULL, OPT_SANDBOX},
        {NULL, 0, NULL, 0},
    };
    cli_common o = {0};
    int c, done;
    bool sandbox = false;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == OPT_SANDBOX)
            sandbox = true;
        else if ((done = cli_common_opt(c, &o, USAGE)) >= 100)
            return done - 100;
    }
    if (optind < argc) {
        fprintf(stderr, "tessera serve: unexpected argument '%s'\n%s", argv[optind], USAGE);
        return CLI_USAGE;
    }
    config cfg;
    if (cli_load_config(&o, &cfg) != 0)
        return CLI_USAGE;
    cfg.sandbox = cfg.sandbox || sandbox;
    int rc = run(&cfg);
    cfg_free(&cfg);
    return rc;
}
