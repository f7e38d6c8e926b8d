/*
 * backends.h — the constructors of the storage drivers. Only store.c calls
 * these; everything else opens a store by URL with store_open.
 */
#ifndef TESSERA_BACKENDS_H
#define TESSERA_BACKENDS_H

#include <stddef.h>

#include "store/store.h"

store_t *store_sqlite_open(const char *path, char *err, size_t errlen);
/* conninfo: a postgresql:// or postgres:// URL, or libpq's "key=value ..." */
store_t *store_postgres_open(const char *conninfo, char *err, size_t errlen);

#endif
