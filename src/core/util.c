/*
 * util.c — see util.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"

void *util_need(void *p)
{
    if (p == NULL) {
        log_error("out of memory");
        abort();
    }
    return p;
}

char *util_strdup(const char *s)
{
    return s ? util_need(strdup(s)) : NULL;
}

int util_path_error(char *err, size_t errlen, const char *path, const char *fmt, va_list ap)
{
    char msg[384];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, msg);
    return -1;
}
