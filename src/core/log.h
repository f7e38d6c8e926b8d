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

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level lvl);

/* "debug", "info", "warning" (or "warn"), "error" into *lvl; -1 if none. */
int log_level_parse(const char *name, log_level *lvl);
void log_vwrite(log_level lvl, const char *fmt, va_list ap);
void log_write(log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

/*
 * A topic's lines at most LOG_LIMIT_PER_SECOND per second, then one line
 * saying how many were left out: for messages an outsider can provoke at
 * will (libmicrohttpd writes one per aborted connection), which must not
 * fill the disk or drown the lines that matter. Lines read
 * "tessera: TOPIC: message" and are dropped below LOG_WARN's level.
 */
#define LOG_LIMIT_PER_SECOND 5

typedef struct log_limiter {
    pthread_mutex_t lock;
    const char *topic;        /* e.g. "http"                               */
    time_t second;            /* the second the count is for               */
    int lines;                /* lines written in that second              */
    unsigned long suppressed; /* lines left out since the last summary     */
} log_limiter;

void log_limiter_init(log_limiter *l, const char *topic);
void log_limited(log_limiter *l, const char *fmt, va_list ap);
/* Writes the pending "suppressed" line, if any, and frees the lock. */
void log_limiter_finish(log_limiter *l);

#endif
