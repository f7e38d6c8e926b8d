/*
 * fuzz_filter_query.c — the bracket form: the input is a query string
 * ("filter[where][price][gt]=50&filter[order]=name"), split and
 * percent-decoded as libmicrohttpd does for the server (at most
 * REQ_MAX_QUERY arguments: the server answers 400 beyond), then gathered by
 * filter_from_query for "filter" and for "where" and parsed against every
 * model. JSON and bracket arguments may mix, as a client may send them.
 */
#include <microhttpd.h>

#include "fuzz_models.h"
#include "http/request.h"

static void one(const char *name, const char *const *keys, const char *const *values, int n)
{
    char err[256] = "";
    json_t *j = filter_from_query(name, keys, values, n, err, sizeof err);
    if (j == NULL) {
        FUZZ_ASSERT(err[0] != '\0' && strlen(err) < sizeof err);
        return;
    }
    FUZZ_ASSERT(json_is_object(j));
    fuzz_parse_all(name, j);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), *save = NULL;
    const char *keys[REQ_MAX_QUERY], *values[REQ_MAX_QUERY];
    int n = 0;
    for (char *pair = strtok_r(text, "&", &save); pair && n < REQ_MAX_QUERY;
         pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        char *val = eq ? eq + 1 : pair + strlen(pair);
        if (eq)
            *eq = '\0';
        MHD_http_unescape(pair);
        MHD_http_unescape(val);
        keys[n] = pair;
        values[n++] = val;
    }
    one("filter", keys, values, n);
    one("where", keys, values, n);
    free(text);
    return 0;
}
