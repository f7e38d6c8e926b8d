/*
 * jtext.h — JSON printed the way every tessera response prints it.
 */
#ifndef TESSERA_JTEXT_H
#define TESSERA_JTEXT_H

#include <jansson.h>

/*
 * Compact JSON text of v (malloc'd; NULL when out of memory), with numbers
 * as JavaScript prints them: 59.91, not jansson's default 59.909999999999997.
 */
char *jtext_dump(const json_t *v);

#endif
