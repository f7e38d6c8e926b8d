/*
 * ratelog.h — a logger that cannot flood stderr: at most a few lines per
 * second, then one line saying how many were left out.
 */
#ifndef TESSERA_RATELOG_H
#define TESSERA_RATELOG_H

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#define RLOG_LINES_PER_SECOND 5

typedef struct ratelog {
    pthread_mutex_t lock;
    const char *prefix;       /* printed before every line, e.g. "tessera: http: " */
    time_t second;            /* the second the count is for */
    int lines;                /* lines printed in that second */
    unsigned long suppressed; /* lines left out since the last summary */
} ratelog;

void rlog_init(ratelog *l, const char *prefix);

/* Prints one message (fmt ends with its own newline), unless this second's
 * allowance is spent. */
void rlog_vprintf(ratelog *l, const char *fmt, va_list ap);

/* Prints the pending "suppressed" line, if any, and frees the lock. */
void rlog_finish(ratelog *l);

#endif
