/*
 * ratelog.c — rate-limited stderr lines. libmicrohttpd writes one message
 * per aborted connection; a client that opens and drops connections in a
 * loop must not be able to fill the disk or drown the messages that matter.
 */
#include <stdio.h>

#include "http/ratelog.h"

void rlog_init(ratelog *l, const char *prefix)
{
    pthread_mutex_init(&l->lock, NULL);
    l->prefix = prefix;
    l->second = 0;
    l->lines = 0;
    l->suppressed = 0;
}

/* Called with the lock held. */
static void say_suppressed(ratelog *l)
{
    if (l->suppressed == 0)
        return;
    fprintf(stderr, "%s... suppressed %lu messages\n", l->prefix, l->suppressed);
    l->suppressed = 0;
}

void rlog_vprintf(ratelog *l, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&l->lock);
    time_t now = time(NULL);
    if (now != l->second) {
        say_suppressed(l);
        l->second = now;
        l->lines = 0;
    }
    if (l->lines < RLOG_LINES_PER_SECOND) {
        l->lines++;
        fputs(l->prefix, stderr);
        vfprintf(stderr, fmt, ap);
    } else {
        l->suppressed++;
    }
    pthread_mutex_unlock(&l->lock);
}

void rlog_finish(ratelog *l)
{
    pthread_mutex_lock(&l->lock);
    say_suppressed(l);
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_destroy(&l->lock);
}
