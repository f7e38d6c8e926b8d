/*
 * jtext.c — JSON printed the way every tessera response prints it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/jtext.h"

/* True when every real in v prints back exactly with 15 significant digits. */
static bool reals_fit_15(const json_t *v)
{
    if (json_is_real(v)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
        return strtod(buf, NULL) == json_real_value(v);
    }
    const char *key;
    size_t i;
    json_t *item;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, key, item) if (!reals_fit_15(item)) return false;
    if (json_is_array(v))
        json_array_foreach(v, i, item) if (!reals_fit_15(item)) return false;
    return true;
}

/*
 * Fifteen digits suffice for almost every double a client sends; a document
 * holding one that needs more gets seventeen, so no value ever comes back
 * changed.
 */
char *jtext_dump(const json_t *v)
{
    size_t precision = reals_fit_15(v) ? 15 : 17;
    return json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(precision));
}
