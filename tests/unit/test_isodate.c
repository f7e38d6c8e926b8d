/*
 * test_isodate.c — epoch milliseconds <-> ISO 8601 UTC.
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/isodate.h"
#include "unit.h"

static void test_format_known(void)
{
    char out[ISODATE_LEN];
    iso_format(0, out);
    CHECK_STR(out, "1970-01-01T00:00:00.000Z");
    iso_format(1795626205123LL, out);
    CHECK_STR(out, "2026-11-25T17:03:25.123Z");
    iso_format(951825600007LL, out);
    CHECK_STR(out, "2000-02-29T12:00:00.007Z");
    iso_format(-1, out);
    CHECK_STR(out, "1969-12-31T23:59:59.999Z");
    iso_format(-2208988800000LL, out);
    CHECK_STR(out, "1900-01-01T00:00:00.000Z");
}

/* Beyond four-digit years the output is clamped, never longer. */
static void test_format_clamps(void)
{
    char out[ISODATE_LEN + 8];
    memset(out, '#', sizeof out);
    iso_format(INT64_MAX, out);
    CHECK_STR(out, "9999-12-31T23:59:59.999Z");
    CHECK(out[ISODATE_LEN] == '#');
    iso_format(INT64_MIN, out);
    CHECK_STR(out, "0000-01-01T00:00:00.000Z");
    iso_format(253402300799999LL + 1, out);
    CHECK_STR(out, "9999-12-31T23:59:59.999Z");
}

static bool parses_to(const char *text, int64_t want, const char *file, int line)
{
    int64_t ms = -12345;
    int rc = iso_parse(text, &ms);
    return unit_check_int(rc, 0, text, file, line) && unit_check_int(ms, want, text, file, line);
}

static bool refuses(const char *text, const char *file, int line)
{
    int64_t ms = -12345;
    int rc = iso_parse(text, &ms);
    return unit_check_int(rc, -1, text ? text : "(null)", file, line) &&
           unit_check_int(ms, -12345, "output untouched", file, line);
}

#define PARSES(t, ms) parses_to((t), (ms), __FILE__, __LINE__)
#define REFUSES(t) refuses((t), __FILE__, __LINE__)

static void test_parse_known(void)
{
    PARSES("2026-11-25T17:03:25.123Z", 1795626205123LL);
    PARSES("2026-11-25T17:03:25.123+00:00", 1795626205123LL);
    /* an offset is subtracted to get UTC; a date alone is midnight UTC */
    PARSES("2026-11-25T18:03:25.123+01:00", 1795626205123LL);
    PARSES("2026-11-25T15:33:25.123-01:30", 1795626205123LL);
    PARSES("2026-11-25", 1795564800000LL);
    PARSES("2026-11-25T17:03:25Z", 1795626205000LL);
    PARSES("2026-11-25T17:03:25.1Z", 1795626205100LL);
    PARSES("2026-11-25T17:03:25.12Z", 1795626205120LL);
    PARSES("2026-11-25T17:03:25.123999Z", 1795626205123LL);
    PARSES("2000-02-29T12:00:00.007Z", 951825600007LL);
    PARSES("1970-01-01T00:00:00.000Z", 0);
    PARSES("1969-12-31T23:59:59.999Z", -1);
    PARSES("0000-01-01T00:00:00.000Z", -62167219200000LL);
    PARSES("9999-12-31T23:59:59.999Z", 253402300799999LL);
}

static void test_parse_rejects(void)
{
    REFUSES(NULL);
    REFUSES("");
    REFUSES("2026-11-25T17:03:25");          /* no zone */
    REFUSES("2026-11-25T17:03:25.123+0100"); /* offsets need the colon */
    REFUSES("2026-11-25T17:03:25.123+24:00");
    REFUSES("2026-11-25T");
    REFUSES("2026-11-25T17:03:25.123Zjunk");
    REFUSES("2026-11-25 17:03:25Z");
    REFUSES("2026-11-25t17:03:25z");
    REFUSES("2026-11-25T17:03:25.Z");
    REFUSES("2026-13-01T00:00:00Z");
    REFUSES("2026-00-01T00:00:00Z");
    REFUSES("2026-01-00T00:00:00Z");
    REFUSES("2023-02-29T00:00:00Z");
    REFUSES("2026-04-31T00:00:00Z");
    REFUSES("2026-01-01T24:00:00Z");
    REFUSES("2026-01-01T00:60:00Z");
    REFUSES("2026-01-01T00:00:60Z");
    REFUSES("26-01-01T00:00:00Z");
    REFUSES("+2026-01-01T00:00:00Z");
    REFUSES(" 2026-01-01T00:00:00Z");
    REFUSES("2026-1-01T00:00:00Z");
    REFUSES("2026-01-01T0:00:00Z");
}

static void test_round_trip(void)
{
    char out[ISODATE_LEN];
    for (int i = 0; i < 2000; i++) {
        uint64_t r;
        int64_t ms, back = 0;
        randombytes_buf(&r, sizeof r);
        ms = (int64_t)(r % 315569520000000ULL) - 62167219200000LL;
        iso_format(ms, out);
        if (!CHECK_INT(iso_parse(out, &back), 0) || !CHECK_INT(back, ms))
            return;
    }
}

static void test_now(void)
{
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t now = iso_now_ms();
    int64_t after = (int64_t)time(NULL) * 1000 + 1000;
    CHECK(now >= before && now < after);
}

void suite_isodate(void)
{
    RUN(test_format_known);
    RUN(test_format_clamps);
    RUN(test_parse_known);
    RUN(test_parse_rejects);
    RUN(test_round_trip);
    RUN(test_now);
}
