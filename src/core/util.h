/*
 * util.h — the few helpers every module would otherwise write again.
 */
#ifndef TESSERA_UTIL_H
#define TESSERA_UTIL_H

#include <stdarg.h>
#include <stddef.h>

/* p, or abort with a message when it is NULL: for allocations at start,
 * where running out of memory leaves nothing sensible to do. */
void *util_need(void *p);

/* strdup that aborts like util_need; NULL stays NULL. */
char *util_strdup(const char *s);

/* Writes "PATH: message" into err (when err is not NULL); returns -1, so a
 * validator can `return util_path_error(...)`. */
int util_path_error(char *err, size_t errlen, const char *path, const char *fmt, va_list ap);

#endif
