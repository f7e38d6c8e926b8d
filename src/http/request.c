/*
 * request.c — reading a request's body and query, and shaping responses in
 * LoopBack's envelopes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/request.h"

const char *req_query(const request *r, const char *key)
{
    for (int i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].key, key) == 0)
            return r->query[i].value;
    return NULL;
}

const char *req_header(const request *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].key, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* Case matters: "Access_Token" is another cookie than "access_token". */
const char *req_cookie(const request *r, const char *name)
{
    for (int i = 0; i < r->ncookies; i++)
        if (strcmp(r->cookies[i].key, name) == 0)
            return r->cookies[i].value;
    return NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX in place (a '%' not followed by two hex digits stays as it
 * is); returns the decoded length, which is less than strlen(s) afterwards
 * when a %00 put a NUL in it. */
static size_t pct_decode(char *s)
{
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hex_value(p[1])) >= 0 && (lo = hex_value(p[2])) >= 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* The media type of a Content-Type value, without parameters. */
static bool media_type_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * Form fields become a JSON object of strings. json_string refuses invalid
 * UTF-8, which is how a form body gets the same UTF-8 check as a JSON one.
 */
static json_t *parse_form(const char *body, size_t len, response *res)
{
    json_t *o = json_object();
    char *copy = strndup(body, len);
    if (o == NULL || copy == NULL) {
        free(copy);
        json_decref(o);
        res_error(res, 500, "INTERNAL_ERROR", "out of memory");
        return NULL;
    }
    char *save = NULL;
    for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        char *val = eq ? eq + 1 : pair + strlen(pair);
        if (eq)
            *eq = '\0';
        for (char *p = pair; *p; p++)
            if (*p == '+') *p = ' ';
        for (char *p = val; *p; p++)
            if (*p == '+') *p = ' ';
        /* %00 decodes to a NUL, which would silently cut the text short
         * ("abc%00xyz" stored as "abc"): refused, never truncated. */
        if (pct_decode(pair) != strlen(pair) || pct_decode(val) != strlen(val)) {
            json_decref(o);
            free(copy);
            res_error(res, 400, "BAD_REQUEST", "a form field contains a NUL character (%%00)");
            return NULL;
        }
        json_t *s = json_string(val);
        json_t *k = json_string(pair); /* only to check the key's UTF-8 */
        bool ok = s != NULL && k != NULL;
        json_decref(k);
        if (!ok) {
            json_decref(s);
            json_decref(o);
            free(copy);
            res_error(res, 400, "INVALID_UTF8", "the form body is not valid UTF-8");
            return NULL;
        }
        json_object_set_new(o, pair, s);
    }
    free(copy);
    return o;
}

json_t *req_body_object(const request *r, response *res)
{
    if (r->body_len == 0)
        return json_object();
    const char *ct = r->content_type ? r->content_type : "";
    if (media_type_is(ct, "application/x-www-form-urlencoded"))
        return parse_form(r->body, r->body_len, res);
    if (!media_type_is(ct, "application/json") && *ct != '\0') {
        res_error(res, 415, "UNSUPPORTED_MEDIA_TYPE",
                  "Content-Type %.64s is not supported: send application/json", ct);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (v == NULL) {
        res_error(res, 400, "INVALID_JSON", "malformed JSON body at line %d, column %d: %s",
                  je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        res_error(res, 400, "INVALID_BODY", "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

/* LoopBack's error envelope, spelled out as res_error prints it (a unit
 * test holds the two to the same text). */
#define LB_ERROR(status, message, code)                                                  \
    "{\"error\":{\"statusCode\":" #status ",\"name\":\"Error\",\"message\":\"" message \
    "\",\"code\":\"" code "\"}}"

static const res_fixed_answer FIXED[RES_FIXED_COUNT] = {
    /* RFC 6750 §3: a 401 of a request that should have presented a token
     * says how; one that presented a refused token says so too */
    [RES_AUTHORIZATION_REQUIRED] = {401, LB_ERROR(401, "Authorization Required", "AUTHORIZATION_REQUIRED"),
                                    RES_BEARER_CHALLENGE},
    [RES_ACCESS_DENIED] = {403, LB_ERROR(403, "Access Denied", "ACCESS_DENIED"), NULL},
    [RES_INVALID_TOKEN] = {401, LB_ERROR(401, "Invalid Access Token", "INVALID_TOKEN"),
                           RES_BEARER_CHALLENGE ", error=\"invalid_token\""},
};

const res_fixed_answer *res_fixed_answer_of(res_fixed_kind k)
{
    return k > RES_NOT_FIXED && k < RES_FIXED_COUNT ? &FIXED[k] : NULL;
}

void res_fixed(response *res, res_fixed_kind k)
{
    res_clear(res);
    res->status = FIXED[k].status;
    res->fixed = k;
    res->www_authenticate = FIXED[k].www_authenticate;
}

void res_clear(response *res)
{
    res->fixed = RES_NOT_FIXED;
    json_decref(res->body);
    res->body = NULL;
    free(res->text);
    res->text = NULL;
    res->text_len = 0;
}

void res_no_method(response *res, const request *r)
{
    res_error(res, 404, "NOT_FOUND", "There is no method to handle %s %s", r->method, r->path);
}

void res_json(response *res, int status, json_t *body)
{
    res_clear(res);
    res->status = status;
    res->body = body;
}

void res_text(response *res, int status, char *text, size_t len)
{
    res_clear(res);
    res->status = status;
    res->text = text;
    res->text_len = len;
}

void res_no_content(response *res)
{
    res_json(res, 204, NULL);
}

void res_error(response *res, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:i, s:s, s:s}", "statusCode", status, "name", "Error", "message", msg);
    if (err == NULL) /* the message was not UTF-8: never echo it then */
        err = json_pack("{s:i, s:s, s:s}", "statusCode", status, "name", "Error", "message", "invalid request");
    if (code)
        json_object_set_new(err, "code", json_string(code));
    res_json(res, status, json_pack("{s:o}", "error", err));
}

/* ---- 422 ValidationError ------------------------------------------------ */

/* LoopBack's message: "The `User` instance is not valid. Details: `email` Email
 * already exists (value: "a@b.c")." */
static void validation_message(const validation *v, const char *model, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "The `%s` instance is not valid. Details:", model);
    const char *field;
    json_t *msgs;
    json_object_foreach(v->messages, field, msgs) {
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m) {
            if (n >= cap)
                return;
            n += (size_t)snprintf(out + n, cap - n, " `%s` %s", field, json_string_value(m));
            json_t *val = json_object_get(v->values, field);
            if (n < cap && val && json_is_string(val) && json_string_length(val) <= 128)
                n += (size_t)snprintf(out + n, cap - n, " (value: \"%s\")", json_string_value(val));
            if (n < cap)
                n += (size_t)snprintf(out + n, cap - n, ";");
        }
    }
    if (n > 0 && n < cap && out[n - 1] == ';')
        out[n - 1] = '.';
}

void res_validation_finish(validation *v, const char *model, response *res)
{
    char msg[1024];
    validation_message(v, model, msg, sizeof msg);
    json_t *err = json_pack("{s:i, s:s, s:s, s:{s:s, s:O, s:O}}", "statusCode", 422, "name",
                            "ValidationError", "message", msg, "details", "context", model, "codes",
                            v->codes, "messages", v->messages);
    if (err == NULL)
        err = json_pack("{s:i, s:s, s:s}", "statusCode", 422, "name", "ValidationError", "message",
                        "invalid input");
    res_json(res, 422, json_pack("{s:o}", "error", err));
    validation_free(v);
}

