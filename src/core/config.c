/*
 * config.c — defaults, the JSON config file and the environment overlay.
 *
 * The file is checked against a table of keys (below): each entry names a
 * key, its JSON type, where its value goes in struct config, and its range.
 * A section is an entry of type object with its own table, so a new section
 * or key is one more row: write its table (ending in END) and add
 * SECTION("name", table) to root_keys. Anything not in the tables is an error.
 * A section whose keys are not fixed (a map of names, like "models") is a
 * K_JSON entry: kept as written, for its own module to check in depth.
 */
#include "core/log.h"
#include "core/util.h"
#include "core/config.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_LISTEN   "127.0.0.1:3000"
#define DEFAULT_DATABASE "sqlite:tessera.db"

/* 4 GiB, or all of the address space where size_t is narrower. */
#define MEMLIMIT_CAP \
    ((uint64_t)SIZE_MAX < 4294967296ULL ? (int64_t)SIZE_MAX : (int64_t)4294967296LL)

typedef enum key_kind {
    K_OBJECT,
    K_STRING,
    K_BOOL,
    K_INT,    /* int      */
    K_I64,    /* int64_t  */
    K_U64,    /* uint64_t */
    K_SIZE,   /* size_t   */
    K_JSON,   /* json_t *, an object kept as written */
    K_PERM,   /* bool: "ALLOW" (true) or "DENY" (false) */
    K_ARRAY,  /* json_t *, an array kept as written (its check looks inside) */
    K_WHO,    /* bool: "$authenticated" (true) or "$admin" (false) */
} key_kind;

/* Extra check of a value already of the right type; NULL when fine. */
typedef const char *(*key_check)(const json_t *v);

typedef struct key_spec {
    const char *name;
    key_kind kind;
    size_t offset;                  /* of the field in struct config    */
    int64_t min, max;               /* integers only                    */
    const struct key_spec *fields;  /* K_OBJECT only; ends with a NULL name */
    key_check check;                /* optional                         */
} key_spec;

#define SECTION(n, f)             { n, K_OBJECT, 0, 0, 0, f, NULL }
#define STRING(n, fld, chk)       { n, K_STRING, offsetof(config, fld), 0, 0, NULL, chk }
#define BOOLEAN(n, fld)           { n, K_BOOL, offsetof(config, fld), 0, 0, NULL, NULL }
#define INTEGER(n, k, fld, lo, hi, chk) { n, k, offsetof(config, fld), lo, hi, NULL, chk }
#define JSON_OBJECT(n, fld)       { n, K_JSON, offsetof(config, fld), 0, 0, NULL, NULL }
#define PERMISSION(n, fld)        { n, K_PERM, offsetof(config, fld), 0, 0, NULL, check_permission }
#define JSON_ARRAY(n, fld, chk)   { n, K_ARRAY, offsetof(config, fld), 0, 0, NULL, chk }
#define WHO(n, fld)               { n, K_WHO, offsetof(config, fld), 0, 0, NULL, check_who }
#define END                       { NULL, K_OBJECT, 0, 0, 0, NULL, NULL }

static const char *check_listen(const json_t *v);
static const char *check_nonempty(const json_t *v);
static const char *check_acl_status(const json_t *v);
static const char *check_permission(const json_t *v);
static const char *check_origins(const json_t *v);
static const char *check_who(const json_t *v);

static const key_spec server_keys[] = {
    STRING("listen", server.listen, check_listen),
    INTEGER("threads", K_INT, server.threads, 0, 256, NULL),
    INTEGER("maxBodyBytes", K_SIZE, server.max_body, 1, 1073741824, NULL),
    INTEGER("aclErrorStatus", K_INT, server.acl_error_status, 401, 403, check_acl_status),
    INTEGER("rowCacheSize", K_SIZE, server.row_cache, 0, 1 << 26, NULL),
    /* HTTP defences (docs/security/http.md) */
    INTEGER("maxConnectionsPerClient", K_INT, server.max_conn_per_client, 1, 1000000, NULL),
    INTEGER("headerTimeoutMs", K_INT, server.header_timeout_ms, 100, 3600000, NULL),
    INTEGER("bodyTimeoutMs", K_INT, server.body_timeout_ms, 100, 3600000, NULL),
    INTEGER("maxBodyMemoryBytes", K_SIZE, server.max_body_memory, 1024, 68719476736LL, NULL),
    INTEGER("slowQueuePerClient", K_INT, server.slow_queue_per_client, 1, 100000, NULL),
    INTEGER("slowQueueMax", K_INT, server.slow_queue_max, 1, 1000000, NULL),
    JSON_ARRAY("allowedOrigins", server.allowed_origins, check_origins),
    /* query limits (docs/security/queries.md) */
    INTEGER("queryTimeoutMs", K_INT, server.query_timeout_ms, 0, 3600000, NULL),
    /* logging (docs/design.md, "Logs") */
    STRING("accessLog", server.access_log, check_nonempty),
    BOOLEAN("exposeStoreCounter", server.expose_store_counter),
    END,
};

static const key_spec source_keys[] = {
    BOOLEAN("bearer", auth.sources.bearer),
    BOOLEAN("authorization", auth.sources.authorization),
    BOOLEAN("header", auth.sources.header),
    BOOLEAN("query", auth.sources.query),
    BOOLEAN("queryToken", auth.sources.query_token),
    BOOLEAN("cookie", auth.sources.cookie),
    BOOLEAN("clientQuery", auth.sources.client_query), /* issue 13 */
    END,
};

/* accounts: failed-login throttling (docs/security/accounts.md) */
static const key_spec login_throttle_keys[] = {
    INTEGER("perAccount", K_INT, auth.login_throttle.per_account, 0, 1000000, NULL),
    INTEGER("perAddress", K_INT, auth.login_throttle.per_address, 0, 1000000, NULL),
    INTEGER("initialDelaySeconds", K_I64, auth.login_throttle.initial_delay, 1, 86400, NULL),
    INTEGER("maxDelaySeconds", K_I64, auth.login_throttle.max_delay, 1, 86400, NULL),
    INTEGER("forgetAfterSeconds", K_I64, auth.login_throttle.forget_after, 1, 31536000, NULL),
    INTEGER("addressSlots", K_SIZE, auth.login_throttle.address_slots, 64, 1 << 24, NULL),
    BOOLEAN("trustForwardedFor", auth.login_throttle.forwarded_for),
    END,
};

static const key_spec auth_keys[] = {
    INTEGER("ttl", K_I64, auth.ttl, 1, INT64_MAX, NULL),
    INTEGER("maxTTL", K_I64, auth.max_ttl, 1, INT64_MAX, NULL),
    BOOLEAN("allowEternalTokens", auth.allow_eternal),
    INTEGER("tokenLength", K_INT, auth.token_length, 32, 512, NULL),
    INTEGER("cacheSize", K_SIZE, auth.cache_size, 0, 1000000000, NULL),
    SECTION("sources", source_keys),
    SECTION("loginThrottle", login_throttle_keys),
    INTEGER("maxTokensPerUser", K_I64, auth.max_tokens_per_user, 0, 1000000, NULL),
    BOOLEAN("caseSensitiveEmail", auth.case_sensitive_email),
    /* OAuth2 refresh tokens (issue 13) */
    BOOLEAN("refreshTokens", auth.refresh_tokens),
    INTEGER("refreshTokenTTL", K_I64, auth.refresh_ttl, 1, INT64_MAX / 1000, NULL),
    END,
};

static const key_spec password_keys[] = {
    INTEGER("opslimit", K_U64, password.opslimit, crypto_pwhash_OPSLIMIT_MIN, 16, NULL),
    INTEGER("memlimit", K_SIZE, password.memlimit, 8192, MEMLIMIT_CAP, NULL),
    END,
};

static const key_spec acl_keys[] = {
    PERMISSION("defaultPermission", acl_default_allow),
    END,
};

/* API tokens (docs/api-tokens.md) */
static const key_spec api_token_keys[] = {
    BOOLEAN("allowUnlimited", api_tokens.allow_unlimited),
    BOOLEAN("fullAccessMayAdminister", api_tokens.full_access_may_administer),
    END,
};

/* applications (issue 13, docs/applications.md) */
static const key_spec application_keys[] = {
    WHO("create", apps_create_authenticated),
    END,
};

static const key_spec root_keys[] = {
    STRING("database", database, check_nonempty),
    SECTION("server", server_keys),
    SECTION("auth", auth_keys),
    SECTION("password", password_keys),
    JSON_OBJECT("models", models),
    SECTION("acl", acl_keys),
    SECTION("apiTokens", api_token_keys),
    /* issue 13 */
    SECTION("applications", application_keys),
    BOOLEAN("sandbox", sandbox),
    END,
};

/* Out of memory while reading settings: nothing sensible is left to do. */
static char *dup_or_die(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        log_error("out of memory");
        abort();
    }
    return d;
}

void cfg_set_string(char **slot, const char *value)
{
    char *fresh = value ? dup_or_die(value) : NULL;
    free(*slot);
    *slot = fresh;
}

void cfg_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    c->database = dup_or_die(DEFAULT_DATABASE);
    c->server.listen = dup_or_die(DEFAULT_LISTEN);
    c->server.threads = 0;
    c->server.max_body = 1048576;
    c->server.row_cache = 131072;
    c->server.acl_error_status = 401;
    c->api_tokens.allow_unlimited = true;
    c->server.max_conn_per_client = 64;
    c->server.header_timeout_ms = 10000;
    c->server.body_timeout_ms = 30000;
    c->server.max_body_memory = 67108864;
    c->server.slow_queue_per_client = 64;
    c->server.slow_queue_max = 1024;
    c->server.query_timeout_ms = 2000;
    c->server.access_log = dup_or_die("stderr");
    c->auth.ttl = 1209600;
    c->auth.max_ttl = 31556926;
    c->auth.allow_eternal = false;
    c->auth.token_length = 64;
    c->auth.cache_size = 2000000;
    c->auth.sources = (cfg_sources){ true, true, true, true, true, true, true };
    c->password.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    c->password.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    /* accounts */
    c->auth.login_throttle = (cfg_login_throttle){
        .per_account = 5, .per_address = 20, .initial_delay = 1, .max_delay = 900,
        .forget_after = 86400, .address_slots = 65536,
    };
    c->auth.max_tokens_per_user = 1000;
    /* OAuth2 refresh tokens (issue 13) */
    c->auth.refresh_tokens = true;
    c->auth.refresh_ttl = 2592000;
}

void cfg_free(config *c)
{
    free(c->database);
    free(c->server.listen);
    json_decref(c->models);
    json_decref(c->server.allowed_origins);
    free(c->server.access_log);
    c->server.access_log = NULL;
    c->database = NULL;
    c->server.listen = NULL;
    c->models = NULL;
    c->server.allowed_origins = NULL;
}

void cfg_apply_env(config *c)
{
    const char *listen = getenv("TESSERA_LISTEN");
    const char *database = getenv("TESSERA_DATABASE");
    if (listen && *listen)
        cfg_set_string(&c->server.listen, listen);
    if (database && *database)
        cfg_set_string(&c->database, database);
}

/* ---- checks of single values ------------------------------------------ */

/* Digits only, no sign or blanks (strtol would allow both). */
static bool parse_port(const char *s, long *port)
{
    long v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
        if (v > 65535)
            return false;
    }
    *port = v;
    return v >= 1;
}

/*
 * "HOST:PORT", where an IPv6 host must be bracketed ("[::1]:3000"): an
 * unbracketed host with a colon in it cannot be told apart from its port.
 */
static const char *check_listen(const json_t *v)
{
    static const char msg[] = "must be \"HOST:PORT\" with a non-empty host and port 1..65535";
    const char *s = json_string_value(v);
    const char *colon = strrchr(s, ':');
    size_t hostlen = colon ? (size_t)(colon - s) : 0;
    long port;

    if (!colon || hostlen == 0 || !parse_port(colon + 1, &port))
        return msg;
    if (s[0] == '[') {
        if (hostlen < 3 || s[hostlen - 1] != ']' || memchr(s + 1, ']', hostlen - 2))
            return msg;
    } else if (memchr(s, ':', hostlen) || memchr(s, '[', hostlen) || memchr(s, ']', hostlen)) {
        return msg;
    }
    return NULL;
}

static const char *check_nonempty(const json_t *v)
{
    return json_string_length(v) == 0 ? "must not be empty" : NULL;
}

static const char *check_acl_status(const json_t *v)
{
    json_int_t n = json_integer_value(v);
    return (n == 401 || n == 403) ? NULL : "must be 401 or 403";
}

static const char *check_permission(const json_t *v)
{
    const char *s = json_string_value(v);
    return (strcmp(s, "ALLOW") == 0 || strcmp(s, "DENY") == 0) ? NULL
                                                               : "must be \"ALLOW\" or \"DENY\"";
}

/*
 * allowedOrigins: each item is an origin as browsers send it in Origin,
 * "http[s]://host[:port]" with no path, so it can be compared as text.
 */
static const char *check_origins(const json_t *v)
{
    static const char msg[] = "must be an array of origins \"http://HOST[:PORT]\" or \"https://HOST[:PORT]\"";
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        const char *s = json_is_string(item) ? json_string_value(item) : NULL;
        if (s == NULL || json_string_length(item) > 255 || strlen(s) != json_string_length(item))
            return msg;
        const char *rest = strncmp(s, "http://", 7) == 0    ? s + 7
                           : strncmp(s, "https://", 8) == 0 ? s + 8
                                                            : NULL;
        if (rest == NULL || *rest == '\0' || strpbrk(rest, "/?# \t\\@") != NULL)
            return msg;
    }
    return NULL;
}

/* Who may do a thing the config opens beyond admins (applications.create). */
static const char *check_who(const json_t *v)
{
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) && (strcmp(s, "$admin") == 0 || strcmp(s, "$authenticated") == 0)
               ? NULL
               : "must be \"$admin\" or \"$authenticated\"";
}

/* ---- the walk over the tables ------------------------------------------ */

typedef struct walk {
    config *c;
    char *err;
    size_t errlen;
} walk;

static int fail(walk *w, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_path_error(w->err, w->errlen, path, fmt, ap);
    va_end(ap);
    return -1;
}

static void *field(walk *w, const key_spec *k)
{
    return (char *)w->c + k->offset;
}

static const char *type_name(key_kind kind)
{
    switch (kind) {
    case K_OBJECT:
    case K_JSON:   return "an object";
    case K_ARRAY:  return "an array";
    case K_STRING:
    case K_PERM:
    case K_WHO:    return "a string";
    case K_BOOL:   return "a boolean";
    default:       return "an integer";
    }
}

static bool type_ok(key_kind kind, const json_t *v)
{
    switch (kind) {
    case K_OBJECT:
    case K_JSON:   return json_is_object(v);
    case K_ARRAY:  return json_is_array(v);
    case K_STRING:
    case K_PERM:
    case K_WHO:    return json_is_string(v);
    case K_BOOL:   return json_is_boolean(v);
    default:       return json_is_integer(v);
    }
}

/* Range message naming the allowed values; no upper bound means "at least". */
static int range_error(walk *w, const char *path, const key_spec *k)
{
    if (k->max == INT64_MAX)
        return fail(w, path, "must be at least %lld", (long long)k->min);
    return fail(w, path, "must be between %lld and %lld", (long long)k->min,
                (long long)k->max);
}

static void store_integer(walk *w, const key_spec *k, int64_t n)
{
    void *p = field(w, k);
    switch (k->kind) {
    case K_INT:  *(int *)p = (int)n; break;
    case K_I64:  *(int64_t *)p = n; break;
    case K_U64:  *(uint64_t *)p = (uint64_t)n; break;
    case K_SIZE: *(size_t *)p = (size_t)n; break;
    default: break;
    }
}

/* Puts a value already checked against its table entry into its field. */
static void store_value(walk *w, const key_spec *k, const json_t *v)
{
    json_t **slot;
    switch (k->kind) {
    case K_STRING:
        cfg_set_string((char **)field(w, k), json_string_value(v));
        break;
    case K_BOOL:
        *(bool *)field(w, k) = json_is_true(v);
        break;
    case K_PERM:
        *(bool *)field(w, k) = strcmp(json_string_value(v), "ALLOW") == 0;
        break;
    case K_WHO:
        *(bool *)field(w, k) = strcmp(json_string_value(v), "$authenticated") == 0;
        break;
    case K_JSON:
    case K_ARRAY:
        slot = (json_t **)field(w, k);
        json_decref(*slot);
        *slot = json_incref((json_t *)v);
        break;
    default:
        store_integer(w, k, json_integer_value(v));
        break;
    }
}

static int walk_object(walk *w, const key_spec *table, const json_t *obj, const char *path);

/* Checks one value against its table entry and, when valid, stores it. */
static int walk_value(walk *w, const key_spec *k, const json_t *v, const char *path)
{
    const char *why;
    if (!type_ok(k->kind, v))
        return fail(w, path, "must be %s", type_name(k->kind));
    if (k->kind == K_OBJECT)
        return walk_object(w, k->fields, v, path);
    /* The specific check first: it names the allowed values more precisely. */
    if (k->check && (why = k->check(v)))
        return fail(w, path, "%s", why);
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < k->min || n > k->max)
            return range_error(w, path, k);
    }
    store_value(w, k, v);
    return 0;
}

static const key_spec *find_key(const key_spec *table, const char *name)
{
    for (; table->name; table++)
        if (strcmp(table->name, name) == 0)
            return table;
    return NULL;
}

/* Keys are visited in document order, so the first error is the first in the file. */
static int walk_object(walk *w, const key_spec *table, const json_t *obj, const char *path)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)obj, name, v) {
        char sub[256];
        const key_spec *k = find_key(table, name);
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", name);
        if (!k)
            return fail(w, sub, "unknown key");
        if (walk_value(w, k, v, sub) != 0)
            return -1;
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

/*
 * Applies a parsed document to a copy of *c and swaps it in only when the
 * whole document is valid, so a rejected file leaves *c as it was.
 */
static int apply_document(config *c, const json_t *doc, const char *source,
                          char *err, size_t errlen)
{
    config next = *c;
    walk w = { &next, err, errlen };
    if (!json_is_object(doc))
        return fail(&w, source, "the top level must be an object");
    next.database = c->database ? dup_or_die(c->database) : NULL;
    next.server.listen = c->server.listen ? dup_or_die(c->server.listen) : NULL;
    next.models = json_incref(c->models);
    next.server.allowed_origins = json_incref(c->server.allowed_origins);
    next.server.access_log = c->server.access_log ? dup_or_die(c->server.access_log) : NULL;
    if (walk_object(&w, root_keys, doc, "") != 0) {
        cfg_free(&next);
        return -1;
    }
    cfg_free(c);
    *c = next;
    return 0;
}

static int parse_error(const json_error_t *je, const char *source, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", source, je->line, je->column,
                 je->text);
    return -1;
}

static int load_parsed(config *c, json_t *doc, const json_error_t *je, const char *source,
                       char *err, size_t errlen)
{
    int rc;
    if (!doc)
        return parse_error(je, source, err, errlen);
    rc = apply_document(c, doc, source, err, errlen);
    json_decref(doc);
    return rc;
}

#define PARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

int cfg_load_string(config *c, const char *json, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loads(json, PARSE_FLAGS, &je);
    return load_parsed(c, doc, &je, "<config>", err, errlen);
}

int cfg_load_file(config *c, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc;
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f); /* fopen accepts a directory; reading it fails obscurely */
        f = NULL;
        errno = EISDIR;
    }
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    doc = json_loadf(f, PARSE_FLAGS, &je);
    fclose(f);
    return load_parsed(c, doc, &je, path, err, errlen);
}
