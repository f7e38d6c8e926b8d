/*
 * fuzz_body.c — req_body_object, the reader of every request body. The
 * input's first line is the Content-Type value, the rest the body (no
 * newline at all: no Content-Type, the whole input is the body). The body
 * is handed over as the server hands it: NUL-terminated, with its length
 * (it may hold NUL bytes itself). Both outcomes are printed as they would
 * be sent (jtext_dump).
 */
#include <jansson.h>

#include "core/jtext.h"
#include "fuzz.h"
#include "http/request.h"

static void check_printed(const json_t *v)
{
    char *text = jtext_dump(v);
    FUZZ_ASSERT(text != NULL);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    char *ct = nl ? fuzz_cstr(data, (size_t)(nl - data)) : NULL;
    size_t off = nl ? (size_t)(nl - data) + 1 : 0;
    char *body = fuzz_cstr(data + off, size - off); /* keeps NULs: len = size - off */
    request r = {.method = "POST", .path = "/api/widgets", .content_type = ct, .body = body,
                 .body_len = size - off};
    response res = {0};
    json_t *o = req_body_object(&r, &res);
    if (o) {
        FUZZ_ASSERT(json_is_object(o) && res.body == NULL && res.status == 0);
        check_printed(o);
        json_decref(o);
    } else {
        FUZZ_ASSERT(res.status == 400 || res.status == 415);
        FUZZ_ASSERT(json_is_object(json_object_get(res.body, "error")));
        check_printed(res.body);
    }
    res_clear(&res);
    free(body);
    free(ct);
    return 0;
}
