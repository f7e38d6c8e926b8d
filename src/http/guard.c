/*
 * guard.c — per-address connection counts and header/body deadlines (see
 * guard.h).
 *
 * fd reuse: the watchdog only calls shutdown() on a connection's fd while
 * holding the lock, and the connection leaves the list (guard_close, under
 * the same lock) before libmicrohttpd closes the fd. So the fd shut down is
 * always still this connection's, never a newer one's that reused the
 * number. shutdown() makes the socket readable at end-of-file, and
 * libmicrohttpd then closes the connection on its own thread.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/guard.h"

#define IP_BUCKETS 4096
/* A refused connection (over a cap) gets this long, at most, to send the
 * request that is answered 503. */
#define REFUSED_MS 2000

typedef struct guard_ip {
    char ip[46];
    int n;
    struct guard_ip *next;
} guard_ip;

struct guard {
    guard_limits lim;
    uint64_t now_ms; /* the watchdog's clock, atomic */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    pthread_t watchdog;
    guard_conn *head;
    unsigned total;
    guard_ip *ips[IP_BUCKETS];
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned ip_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % IP_BUCKETS;
}

/* The address's counter, made when new; NULL when out of memory. */
static guard_ip *ip_get(guard *g, const char *ip)
{
    guard_ip **slot = &g->ips[ip_hash(ip)];
    for (guard_ip *e = *slot; e; e = e->next)
        if (strcmp(e->ip, ip) == 0)
            return e;
    guard_ip *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    memcpy(e->ip, ip, sizeof e->ip);
    e->next = *slot;
    *slot = e;
    return e;
}

static void ip_put(guard *g, guard_ip *e)
{
    if (--e->n > 0)
        return;
    guard_ip **slot = &g->ips[ip_hash(e->ip)];
    while (*slot != e)
        slot = &(*slot)->next;
    *slot = e->next;
    free(e);
}

static void peer_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    out[0] = '\0';
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
}

/* The deadline of a connection in its phase, 0 for none. */
static int64_t limit_of(const guard *g, const guard_conn *c, guard_phase p)
{
    if (p == GUARD_HEADERS)
        return c->refused && g->lim.header_ms > REFUSED_MS ? REFUSED_MS : g->lim.header_ms;
    if (p == GUARD_BODY)
        return g->lim.body_ms;
    return 0;
}

/* One pass over the connections, lock held: shuts down the late ones. */
static void sweep(guard *g, uint64_t now)
{
    for (guard_conn *c = g->head; c; c = c->next) {
        if (c->shut)
            continue;
        uint64_t st = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
        int64_t limit = limit_of(g, c, (guard_phase)(st & 3u));
        if (limit > 0 && (int64_t)(now - (st >> 2)) > limit) {
            shutdown(c->fd, SHUT_RDWR);
            c->shut = true;
        }
    }
}

static void *watchdog_main(void *arg)
{
    guard *g = arg;
    int small = g->lim.header_ms < g->lim.body_ms ? g->lim.header_ms : g->lim.body_ms;
    long tick = small / 10 < 5 ? 5 : small / 10 > 200 ? 200 : small / 10;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += tick * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        uint64_t now = mono_ms();
        __atomic_store_n(&g->now_ms, now, __ATOMIC_RELAXED);
        sweep(g, now);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

guard *guard_new(const guard_limits *l)
{
    guard *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->lim = *l;
    g->now_ms = mono_ms();
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (pthread_create(&g->watchdog, NULL, watchdog_main, g) != 0) {
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->wake);
        free(g);
        return NULL;
    }
    return g;
}

void guard_free(guard *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->watchdog, NULL);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->wake);
    for (int i = 0; i < IP_BUCKETS; i++)
        while (g->ips[i]) {
            guard_ip *e = g->ips[i];
            g->ips[i] = e->next;
            free(e);
        }
    free(g);
}

guard_conn *guard_open(guard *g, int fd, const struct sockaddr *sa)
{
    guard_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        shutdown(fd, SHUT_RDWR);
        return NULL;
    }
    c->fd = fd;
    peer_text(sa, c->ip, sizeof c->ip);
    c->state = __atomic_load_n(&g->now_ms, __ATOMIC_RELAXED) << 2 | GUARD_HEADERS;
    pthread_mutex_lock(&g->lock);
    c->ipc = ip_get(g, c->ip);
    if (c->ipc == NULL) {
        pthread_mutex_unlock(&g->lock);
        shutdown(fd, SHUT_RDWR);
        free(c);
        return NULL;
    }
    c->ipc->n++;
    g->total++;
    if (c->ipc->n > 2 * g->lim.per_client) {
        shutdown(fd, SHUT_RDWR); /* far over: not worth an answer */
        c->shut = true;
        c->refused = true; /* should a request still get through: 503 */
    } else if (c->ipc->n > g->lim.per_client || g->total > g->lim.soft_total) {
        c->refused = true;
    }
    c->next = g->head;
    if (g->head)
        g->head->prev = c;
    g->head = c;
    pthread_mutex_unlock(&g->lock);
    return c;
}

void guard_close(guard *g, guard_conn *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ip_put(g, c->ipc);
    g->total--;
    pthread_mutex_unlock(&g->lock);
    free(c);
}

void guard_enter(guard *g, guard_conn *c, guard_phase p)
{
    uint64_t now = __atomic_load_n(&g->now_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&c->state, now << 2 | (uint64_t)p, __ATOMIC_RELEASE);
}
