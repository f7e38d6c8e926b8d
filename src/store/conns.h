/*
 * conns.h — a store's connections, one per thread, as both drivers keep
 * them: this thread's is found without a lock, and every one is closed
 * with the store.
 */
#ifndef TESSERA_CONNS_H
#define TESSERA_CONNS_H

#include <pthread.h>

/* The first member of a driver's connection. */
typedef struct conn_node {
    struct conn_node *next;
} conn_node;

typedef struct conn_set {
    pthread_key_t key;       /* this thread's connection */
    pthread_mutex_t lock;    /* guards all               */
    conn_node *all;
} conn_set;

void conns_init(conn_set *s);
/* This thread's connection, or NULL before conns_add. */
conn_node *conns_mine(conn_set *s);
/* n becomes this thread's connection, and is closed with the set. */
void conns_add(conn_set *s, conn_node *n);
/* Closes every connection with close, then the set itself. */
void conns_close(conn_set *s, void (*close)(conn_node *n));

#endif
