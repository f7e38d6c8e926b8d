/*
 * rowcache.h — model rows kept in memory as the JSON text a findById sends.
 *
 * A read of GET /api/widgets/{id} would otherwise open a database
 * transaction, take SQLite's file locks and build and print the JSON again,
 * for a row that has not changed since the last read. The cache keeps the
 * printed row with its owner, so a repeated read costs a lookup and a copy.
 *
 * It is only ever as old as the last write: every write to a row forgets it
 * before the write is answered, and a read that raced with a write cannot
 * put back what it read (see rowcache_ticket). Writes made by another server
 * process cannot be seen, so the cache is only switched on where none can
 * happen (store_claim: one server per SQLite file).
 *
 * Bounded: a fixed number of entries in sets of four, the least recently
 * read one giving way. All functions accept a NULL cache (switched off).
 */
#ifndef TESSERA_ROWCACHE_H
#define TESSERA_ROWCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/schema.h"

typedef struct rowcache rowcache;

/* Longest id text kept; rows with longer ids are simply not cached. */
#define ROWCACHE_ID_MAX 64

/* entries: how many rows at most (rounded up to a power of two); 0: NULL. */
rowcache *rowcache_new(size_t entries);
void rowcache_free(rowcache *c);

/* A cached row: its JSON text (malloc'd, the caller frees) and owner. */
typedef struct rowcache_hit {
    char *text;
    size_t len;
    bool has_owner;      /* the row names an owner (its owner key, or a
                            User's own id)                               */
    int64_t owner;
} rowcache_hit;

/* Looks up row id (canonical text) of m; false on a miss. */
bool rowcache_get(rowcache *c, const model_def *m, const char *id, rowcache_hit *out);

/*
 * Taken before reading a row from the store, handed to rowcache_put after.
 * A write that lands between the two makes the ticket stale, and the row
 * read (which may predate the write) is then not kept.
 */
typedef struct rowcache_ticket {
    uint64_t all;
    uint64_t row;
} rowcache_ticket;

rowcache_ticket rowcache_ticket_for(rowcache *c, const model_def *m, const char *id);

/* Keeps text (copied) as row id of m, unless the ticket went stale. */
void rowcache_put(rowcache *c, const model_def *m, const char *id, rowcache_ticket t,
                  const char *text, size_t len, bool has_owner, int64_t owner);

/* After a write: forgets row id of m; id NULL (a write by a where clause)
 * forgets every row of every model, which is rare enough to keep simple. */
void rowcache_forget(rowcache *c, const model_def *m, const char *id);

#endif
