/*
 * isodate.c — milliseconds since the epoch <-> "YYYY-MM-DDTHH:MM:SS.mmmZ".
 */
#include "core/isodate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The range a four-digit year can show: 0000-01-01 .. 9999-12-31T23:59:59.999. */
#define ISO_MIN_MS (-62167219200000LL)
#define ISO_MAX_MS (253402300799999LL)

int64_t iso_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Times outside years 0000..9999 are clamped to that range, so the output
 * always has the fixed 24-character shape callers size their buffers for.
 */
void iso_format(int64_t ms, char out[ISODATE_LEN])
{
    struct tm tm;
    int64_t secs, milli;
    time_t t;

    if (ms < ISO_MIN_MS)
        ms = ISO_MIN_MS;
    if (ms > ISO_MAX_MS)
        ms = ISO_MAX_MS;
    secs = ms / 1000;
    milli = ms % 1000;
    if (milli < 0) { /* floor, not truncation, for times before 1970 */
        milli += 1000;
        secs -= 1;
    }
    t = (time_t)secs;
    if (!gmtime_r(&t, &tm)) {
        memcpy(out, "1970-01-01T00:00:00.000Z", ISODATE_LEN);
        return;
    }
    snprintf(out, ISODATE_LEN, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)milli % 1000u);
}

/* Reads exactly n decimal digits (no sign, no blanks, unlike sscanf). */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char ch)
{
    if (**p != ch)
        return false;
    (*p)++;
    return true;
}

/* Optional ".f..." fraction: the first three digits count, the rest are dropped. */
static bool fraction(const char **p, int *milli)
{
    int scale = 100;
    *milli = 0;
    if (**p != '.')
        return true;
    (*p)++;
    if (**p < '0' || **p > '9')
        return false;
    for (; **p >= '0' && **p <= '9'; (*p)++) {
        *milli += (**p - '0') * scale;
        scale /= 10;
    }
    return true;
}

/* "Z", or a "+HH:MM" / "-HH:MM" offset from UTC, into seconds east of UTC. */
static bool zone_suffix(const char *p, int *offset)
{
    int h, m;
    *offset = 0;
    if (strcmp(p, "Z") == 0)
        return true;
    if (*p != '+' && *p != '-')
        return false;
    int sign = *p++ == '-' ? -1 : 1;
    if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &m) || *p != '\0' || h > 23 || m > 59)
        return false;
    *offset = sign * (h * 3600 + m * 60);
    return true;
}

/*
 * "YYYY-MM-DD" alone is midnight UTC; otherwise the time and a zone must
 * follow, as ISO 8601 writes them (LoopBack clients send both forms).
 */
static bool parse_fields(const char *p, struct tm *tm, int *milli, int *offset)
{
    int y, mo, d, h = 0, mi = 0, s = 0;
    *milli = 0;
    *offset = 0;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d))
        return false;
    if (*p != '\0' &&
        (!expect(&p, 'T') || !digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) ||
         !expect(&p, ':') || !digits(&p, 2, &s) || !fraction(&p, milli) || !zone_suffix(p, offset)))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
        return false;
    memset(tm, 0, sizeof *tm);
    tm->tm_year = y - 1900;
    tm->tm_mon = mo - 1;
    tm->tm_mday = d;
    tm->tm_hour = h;
    tm->tm_min = mi;
    tm->tm_sec = s;
    return true;
}

/*
 * timegm quietly normalises impossible dates (Feb 30 -> Mar 2); converting
 * back and comparing the day catches them.
 */
int iso_parse(const char *text, int64_t *ms)
{
    struct tm tm, back;
    int milli, mday, offset;
    time_t t;

    if (!text || !parse_fields(text, &tm, &milli, &offset))
        return -1;
    mday = tm.tm_mday;
    t = timegm(&tm);
    if (!gmtime_r(&t, &back) || back.tm_mday != mday)
        return -1;
    *ms = ((int64_t)t - offset) * 1000 + milli;
    return 0;
}
