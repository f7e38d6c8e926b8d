/*
 * fuzz_filter_json.c — ?filter={...} and ?where={...}: the input is the
 * parameter's JSON text, read by filter_from_query as the server reads it,
 * then parsed against every model (filter_parse, and filter_parse_where on
 * the same text as a bare where).
 */
#include "fuzz_models.h"

static void one(const char *name, const char *text)
{
    const char *keys[] = {name};
    const char *values[] = {text};
    char err[256] = "";
    json_t *j = filter_from_query(name, keys, values, 1, err, sizeof err);
    if (j == NULL) {
        FUZZ_ASSERT(err[0] != '\0');
        return;
    }
    FUZZ_ASSERT(json_is_object(j));
    fuzz_parse_all(name, j);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    one("filter", text);
    one("where", text);
    free(text);
    return 0;
}
