/*
 * conns.c — a store's connections, one per thread (conns.h).
 */
#include <stddef.h>

#include "store/conns.h"

void conns_init(conn_set *s)
{
    pthread_mutex_init(&s->lock, NULL);
    pthread_key_create(&s->key, NULL);
    s->all = NULL;
}

conn_node *conns_mine(conn_set *s)
{
    return pthread_getspecific(s->key);
}

void conns_add(conn_set *s, conn_node *n)
{
    pthread_setspecific(s->key, n);
    pthread_mutex_lock(&s->lock);
    n->next = s->all;
    s->all = n;
    pthread_mutex_unlock(&s->lock);
}

void conns_close(conn_set *s, void (*close)(conn_node *n))
{
    pthread_setspecific(s->key, NULL);
    pthread_mutex_lock(&s->lock);
    conn_node *n = s->all;
    s->all = NULL;
    pthread_mutex_unlock(&s->lock);
    while (n) {
        conn_node *next = n->next;
        close(n);
        n = next;
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
}
