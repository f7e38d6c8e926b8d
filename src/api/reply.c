/*
 * reply.c — the error answers several handlers share, each spelled once.
 */
#include "api/api.h"

void api_reply_store_error(response *res, store_err e)
{
    if (e == STORE_UNAVAILABLE)
        res_error(res, 503, "DATABASE_UNAVAILABLE", "the database is not reachable; try again");
    else if (e == STORE_TIMEOUT)
        res_error(res, 503, "QUERY_TIMEOUT", "the query took too long; narrow it down");
    else if (e == STORE_BAD_PATTERN)
        res_error(res, 400, "INVALID_FILTER", "this database cannot run the regular expression");
    else
        res_error(res, 500, "INTERNAL_ERROR", "%s", store_strerror(e));
}

void api_reply_not_found(response *res, const char *model, const char *id)
{
    res_error(res, 404, "MODEL_NOT_FOUND", "Unknown \"%s\" id \"%.64s\".", model, id);
}
