/*
 * isodate.h — time as tessera stores it (milliseconds since the Unix epoch)
 * and as LoopBack shows it (ISO 8601 UTC with milliseconds).
 */
#ifndef TESSERA_ISODATE_H
#define TESSERA_ISODATE_H

#include <stddef.h>
#include <stdint.h>

#define ISODATE_LEN 25 /* "2026-11-25T17:03:25.123Z" + NUL */

/* Wall-clock now, in milliseconds since the epoch. */
int64_t iso_now_ms(void);

/* Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (ISODATE_LEN bytes). */
void iso_format(int64_t ms, char out[ISODATE_LEN]);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fff]" followed by "Z" or "+HH:MM"/"-HH:MM",
 * or a date alone ("YYYY-MM-DD", midnight UTC), into *ms.
 * Returns 0, or -1 when the text is not such a date.
 */
int iso_parse(const char *text, int64_t *ms);

#endif
