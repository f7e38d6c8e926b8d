/*
 * accesslog.c — the access log (http/accesslog.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/isodate.h"
#include "core/log.h"
#include "http/accesslog.h"

/* The shortest token is 32 letters and digits (auth.tokenLength). */
#define ALOG_SECRET_RUN 32

/* Each of the two buffers: what workers may queue while one is written. */
#define ALOG_BUFFER_BYTES (1024 * 1024)
/* The writer wakes on its own this often, or early when a quarter of the
 * buffer is filled: waking it for every line would cost a context switch
 * per request, which is most of what a log line costs. */
#define ALOG_FLUSH_MS 50
#define ALOG_WAKE_BYTES (ALOG_BUFFER_BYTES / 4)

struct access_log {
    int fd;
    bool own_fd;          /* a file we opened (closed with the log) */
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    char *fill;           /* where workers append (under lock)      */
    size_t fill_len;
    char *spare;          /* what the writer writes (its own)       */
    unsigned long dropped; /* lines left out since the last report  */
    bool stopping;
};

/*
 * Writes whole lines, at most PIPE_BUF bytes per write(2): into a pipe such
 * a write is atomic, so the diagnostics other threads write to the same
 * stderr never land inside an access-log line.
 */
static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n;
        if (chunk > PIPE_BUF) {
            chunk = PIPE_BUF;
            while (chunk > 0 && p[chunk - 1] != '\n')
                chunk--;
            if (chunk == 0)
                chunk = PIPE_BUF; /* a line longer than PIPE_BUF: cannot be whole */
        }
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to write: the lines are lost, the server goes on */
        p += w;
        n -= (size_t)w;
    }
}

/* Swaps the buffers under the lock, writes the full one without it. */
static void *writer_main(void *arg)
{
    access_log *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (l->fill_len == 0 && l->dropped == 0 && !l->stopping)
            pthread_cond_wait(&l->wake, &l->lock);
        if (l->fill_len < ALOG_WAKE_BYTES && !l->stopping) {
            /* let lines gather: one write for many requests */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += ALOG_FLUSH_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (l->fill_len < ALOG_WAKE_BYTES && !l->stopping &&
                   pthread_cond_timedwait(&l->wake, &l->lock, &until) == 0)
                ;
        }
        char *full = l->fill;
        size_t len = l->fill_len;
        unsigned long dropped = l->dropped;
        bool stop = l->stopping;
        l->fill = l->spare;
        l->fill_len = 0;
        l->dropped = 0;
        l->spare = full;
        pthread_mutex_unlock(&l->lock);
        write_all(l->fd, full, len);
        if (dropped)
            log_warn("access log: %lu lines dropped (the log could not keep up)", dropped);
        pthread_mutex_lock(&l->lock);
        if (stop && l->fill_len == 0)
            break;
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

int alog_open(const char *spec, access_log **out, char *err, size_t errlen)
{
    *out = NULL;
    if (spec == NULL || strcmp(spec, "off") == 0)
        return 0;
    access_log *l = calloc(1, sizeof *l);
    if (l == NULL || (l->fill = malloc(ALOG_BUFFER_BYTES)) == NULL ||
        (l->spare = malloc(ALOG_BUFFER_BYTES)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (strcmp(spec, "stderr") == 0) {
        l->fd = STDERR_FILENO;
    } else {
        l->fd = open(spec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (l->fd < 0) {
            snprintf(err, errlen, "server.accessLog: cannot open %s: %s", spec, strerror(errno));
            goto fail;
        }
        l->own_fd = true;
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->wake, NULL);
    if (pthread_create(&l->writer, NULL, writer_main, l) != 0) {
        snprintf(err, errlen, "cannot start the access log's thread");
        pthread_mutex_destroy(&l->lock);
        pthread_cond_destroy(&l->wake);
        if (l->own_fd)
            close(l->fd);
        goto fail;
    }
    *out = l;
    return 0;
fail:
    if (l) {
        free(l->fill);
        free(l->spare);
    }
    free(l);
    return -1;
}

void alog_close(access_log *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->writer, NULL);
    if (l->own_fd)
        close(l->fd);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->wake);
    free(l->fill);
    free(l->spare);
    free(l);
}

/* Appends s, never past end (which keeps room for the newline). */
static char *put_text(char *p, const char *end, const char *s)
{
    if (p >= end)
        return p;
    size_t n = strlen(s);
    if (n > (size_t)(end - p))
        n = (size_t)(end - p);
    memcpy(p, s, n);
    return p + n;
}

/* Appends v in decimal, at least `width` digits (zero-padded). */
static char *put_uint(char *p, uint64_t v, int width)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        digits[n++] = '0';
    while (n)
        *p++ = digits[--n];
    return p;
}

/*
 * The line is put together by hand, and the date's seconds are formatted
 * once per second per thread: with snprintf the line cost more than the
 * token check of the request it describes.
 */
void alog_request(access_log *l, const alog_entry *e)
{
    if (l == NULL)
        return;
    static __thread int64_t cached_sec = INT64_MIN;
    static __thread char cached_when[ISODATE_LEN];
    char line[ALOG_TARGET_MAX + ALOG_RID_MAX + 192];
    const char *end = line + sizeof line - 1; /* room for '\n' */
    int64_t sec = e->start_ms >= 0 ? e->start_ms / 1000 : (e->start_ms - 999) / 1000;
    if (sec != cached_sec) {
        iso_format(sec * 1000, cached_when);
        cached_sec = sec;
    }
    char *p = line;
    memcpy(p, cached_when, 20); /* "YYYY-MM-DDTHH:MM:SS." */
    p += 20;
    p = put_uint(p, (uint64_t)(e->start_ms - sec * 1000), 3);
    *p++ = 'Z';
    *p++ = ' ';
    p = put_text(p, end - 64, e->rid);
    *p++ = ' ';
    p = put_text(p, end - 64, e->method);
    *p++ = ' ';
    p = put_text(p, end - 64, e->target);
    *p++ = ' ';
    if (e->status > 0)
        p = put_uint(p, (uint64_t)e->status, 1);
    else
        *p++ = '-';
    *p++ = ' ';
    int64_t micros = e->micros > 0 ? e->micros : 0;
    p = put_uint(p, (uint64_t)(micros / 1000), 1);
    *p++ = '.';
    p = put_uint(p, (uint64_t)(micros % 1000), 3);
    p = put_text(p, end, "ms ");
    if (e->user_id > 0)
        p = put_uint(p, (uint64_t)e->user_id, 1);
    else
        *p++ = '-';
    *p++ = '\n';
    size_t len = (size_t)(p - line);
    pthread_mutex_lock(&l->lock);
    if (l->fill_len + len > ALOG_BUFFER_BYTES) {
        l->dropped++;
    } else {
        size_t before = l->fill_len;
        memcpy(l->fill + l->fill_len, line, len);
        l->fill_len += len;
        /* the writer sleeps while empty, and gathers until a quarter full */
        if (before == 0 || (before < ALOG_WAKE_BYTES && l->fill_len >= ALOG_WAKE_BYTES))
            pthread_cond_signal(&l->wake);
    }
    pthread_mutex_unlock(&l->lock);
}

/* ---- what a line says --------------------------------------------------- */

typedef struct outbuf {
    char *p;
    size_t len, cap; /* cap counts the NUL */
    bool cut;
} outbuf;

static bool is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Appends n bytes of text as they are; false (and "..." put) when full. */
static bool put_raw(outbuf *o, const char *text, size_t n)
{
    if (o->len + n + 4 > o->cap) { /* room for "..." and the NUL */
        memcpy(o->p + o->len, "...", 3);
        o->len += 3;
        o->p[o->len] = '\0';
        o->cut = true;
        return false;
    }
    memcpy(o->p + o->len, text, n);
    o->len += n;
    o->p[o->len] = '\0';
    return true;
}

/*
 * Appends s escaped. A run of ALOG_SECRET_RUN or more letters and digits
 * may be a token (in a path such as /api/accessTokens/{id}, or in a
 * filter), so it is written as "[redacted]" instead.
 */
static void put_escaped(outbuf *o, const char *s)
{
    static const char HEX[] = "0123456789ABCDEF";
    while (*s && !o->cut) {
        size_t run = 0;
        while (is_alnum(s[run]))
            run++;
        if (run >= ALOG_SECRET_RUN) {
            put_raw(o, "[redacted]", 10);
            s += run;
            continue;
        }
        if (run > 0) {
            put_raw(o, s, run);
            s += run;
            continue;
        }
        unsigned char c = (unsigned char)*s++;
        bool plain = c > 0x20 && c < 0x7f && c != '%' && c != '"' && c != '\\';
        char esc[3] = {'%', HEX[c >> 4], HEX[c & 15]};
        if (plain)
            put_raw(o, (const char *)&c, 1);
        else
            put_raw(o, esc, 3);
    }
}

static void put_plain(outbuf *o, const char *s)
{
    put_escaped(o, s); /* the separators are plain characters */
}

void alog_target(char *out, size_t cap, const char *path, const req_param *query, int nquery)
{
    outbuf o = {out, 0, cap, false};
    out[0] = '\0';
    if (cap < 8)
        return;
    put_escaped(&o, path);
    bool first = true;
    for (int i = 0; i < nquery; i++) {
        const char *k = query[i].key;
        if (strcmp(k, "access_token") == 0 || strcmp(k, "token") == 0)
            continue;
        put_plain(&o, first ? "?" : "&");
        first = false;
        put_escaped(&o, k);
        put_plain(&o, "=");
        put_escaped(&o, query[i].value);
    }
}

static bool rid_is_sane(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == ':' || c == '-';
        if (!ok || n >= ALOG_RID_MAX)
            return false;
    }
    return n > 0;
}

void alog_request_id(const char *given, char out[ALOG_RID_MAX + 1])
{
    if (given && rid_is_sane(given)) {
        strcpy(out, given);
        return;
    }
    /* 8 hex digits drawn once per process, then a counter: unique among
     * instances for correlating lines, and no getrandom(2) per request. */
    static uint32_t prefix;
    static uint64_t counter;
    uint32_t p = __atomic_load_n(&prefix, __ATOMIC_RELAXED);
    if (p == 0) {
        uint32_t drawn = randombytes_random() | 1u;
        __atomic_compare_exchange_n(&prefix, &p, drawn, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        p = __atomic_load_n(&prefix, __ATOMIC_RELAXED);
    }
    uint64_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(out, ALOG_RID_MAX + 1, "%08x%016llx", p, (unsigned long long)n);
}
