/*
 * log.c — diagnostic lines to stderr (core/log.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"

static log_level min_level = LOG_INFO;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warning", "error"};

void log_set_level(log_level lvl)
{
    min_level = lvl;
}

int log_level_parse(const char *name, log_level *lvl)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
        if (strcasecmp(name, LEVEL_NAMES[i]) == 0) {
            *lvl = (log_level)i;
            return 0;
        }
    if (strcasecmp(name, "warn") == 0) {
        *lvl = LOG_WARN;
        return 0;
    }
    return -1;
}

/* Formats "tessera: HEAD: message" whole first, then writes it with one
 * write(2), so that concurrent lines never mix; a longer line is cut. */
static void emit(const char *head, const char *fmt, va_list ap)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "tessera: %s: ", head);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    if (len == 0 || line[len - 1] != '\n')
        line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

static void emit_f(const char *head, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_f(const char *head, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(head, fmt, ap);
    va_end(ap);
}

void log_vwrite(log_level lvl, const char *fmt, va_list ap)
{
    if (lvl < min_level)
        return;
    emit(LEVEL_NAMES[lvl], fmt, ap);
}

void log_write(log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(lvl, fmt, ap);
    va_end(ap);
}

void log_limiter_init(log_limiter *l, const char *topic)
{
    pthread_mutex_init(&l->lock, NULL);
    l->topic = topic;
    l->second = 0;
    l->lines = 0;
    l->suppressed = 0;
}

/* Called with the lock held. */
static void say_suppressed(log_limiter *l)
{
    if (l->suppressed == 0)
        return;
    emit_f(l->topic, "... suppressed %lu messages", l->suppressed);
    l->suppressed = 0;
}

void log_limited(log_limiter *l, const char *fmt, va_list ap)
{
    if (LOG_WARN < min_level)
        return;
    pthread_mutex_lock(&l->lock);
    time_t now = time(NULL);
    if (now != l->second) {
        say_suppressed(l);
        l->second = now;
        l->lines = 0;
    }
    if (l->lines < LOG_LIMIT_PER_SECOND) {
        l->lines++;
        emit(l->topic, fmt, ap);
    } else {
        l->suppressed++;
    }
    pthread_mutex_unlock(&l->lock);
}

void log_limiter_finish(log_limiter *l)
{
    pthread_mutex_lock(&l->lock);
    say_suppressed(l);
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_destroy(&l->lock);
}
