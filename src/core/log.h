/*
 * log.h — the one way tessera writes a diagnostic line.
 *
 * Every line goes to stderr as "tessera: LEVEL: message", written whole in
 * one call so lines from several threads never interleave. Lines below the
 * level set by log_set_level are dropped. Never pass a token, a password or
 * a secret: log lines are read by people who must not get them.
 */
#ifndef TESSERA_LOG_H
#define TESSERA_LOG_H

#include <stdarg.h>

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level lvl);
void log_vwrite(log_level lvl, const char *fmt, va_list ap);
void log_write(log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
