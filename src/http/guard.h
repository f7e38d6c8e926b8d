/*
 * guard.h — the connection guard: how many connections each client address
 * holds, and deadlines libmicrohttpd does not have.
 *
 * libmicrohttpd's connection timeout is an idle timeout, reset by every
 * byte, so a client trickling one header line every few seconds keeps a
 * connection forever. The guard gives each request a deadline for its whole
 * header block and one for its whole body, and a watchdog thread shuts down
 * the socket of a connection that misses one. It also counts connections
 * per address: past the cap a connection is marked refused (the server
 * answers its request 503 and closes it), and past twice the cap it is shut
 * down at once.
 *
 * Per request the server only stores one 64-bit word (guard_enter): the
 * phase and the time it began, read from a clock the watchdog keeps.
 */
#ifndef TESSERA_GUARD_H
#define TESSERA_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef enum guard_phase {
    GUARD_HEADERS = 0, /* waiting for a complete header block */
    GUARD_BODY = 1,    /* headers in, body arriving           */
    GUARD_BUSY = 2,    /* being answered: no deadline         */
} guard_phase;

typedef struct guard_limits {
    int per_client;          /* connections per address before refusing  */
    unsigned soft_total;     /* connections in all before refusing        */
    int header_ms, body_ms;  /* deadlines                                  */
} guard_limits;

typedef struct guard guard;

/* One connection, kept in libmicrohttpd's socket context. */
typedef struct guard_conn {
    uint64_t state;          /* (since_ms << 2) | phase, atomic           */
    int fd;
    bool refused;            /* over a cap: answer 503 and close          */
    bool shut;               /* the watchdog has shut it down             */
    char ip[46];             /* the peer's address as text                */
    struct guard_ip *ipc;
    struct guard_conn *prev, *next;
} guard_conn;

/* Starts the watchdog. NULL when it cannot. */
guard *guard_new(const guard_limits *l);

/* Joins the watchdog and frees g (every connection must be closed). */
void guard_free(guard *g);

/* A connection was accepted: counts it and sets its header deadline.
 * NULL when out of memory (the socket is shut down then). */
guard_conn *guard_open(guard *g, int fd, const struct sockaddr *sa);

/* The connection is about to be closed (its fd is still open). */
void guard_close(guard *g, guard_conn *c);

/* The request on c enters phase p now. */
void guard_enter(guard *g, guard_conn *c, guard_phase p);

#endif
