/*
 * log.c — diagnostic lines to stderr (core/log.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static log_level min_level = LOG_INFO;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warning", "error"};

void log_set_level(log_level lvl)
{
    min_level = lvl;
}

/* Formats the whole line first, then writes it with one write(2), so that
 * concurrent lines never mix; a line longer than the buffer is cut. */
void log_vwrite(log_level lvl, const char *fmt, va_list ap)
{
    if (lvl < min_level)
        return;
    char line[2048];
    int n = snprintf(line, sizeof line, "tessera: %s: ", LEVEL_NAMES[lvl]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    if (len == 0 || line[len - 1] != '\n')
        line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_write(log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(lvl, fmt, ap);
    va_end(ap);
}
