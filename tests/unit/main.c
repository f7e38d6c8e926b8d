/*
 * main.c — runs every unit-test suite and ends with one "N passed, N failed"
 * line; the exit status is non-zero when anything failed.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

static int passed, failed;
static const char *current = "?";
static bool current_failed;

/* The first failure of a test names the test; later ones only the check. */
static void report(const char *file, int line, const char *fmt, const char *a, const char *b)
{
    if (!current_failed)
        fprintf(stderr, "FAIL %s\n", current);
    current_failed = true;
    fprintf(stderr, "  %s:%d: ", file, line);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

bool unit_check(bool ok, const char *expr, const char *file, int line)
{
    if (!ok)
        report(file, line, "%s%s", expr, " is false");
    return ok;
}

bool unit_check_int(long long got, long long want, const char *expr, const char *file,
                    int line)
{
    char detail[128];
    if (got == want)
        return true;
    snprintf(detail, sizeof detail, "got %lld, want %lld", got, want);
    report(file, line, "%s: %s", expr, detail);
    return false;
}

bool unit_check_str(const char *got, const char *want, const char *expr, const char *file,
                    int line)
{
    char detail[1024];
    if (got == want || (got && want && strcmp(got, want) == 0))
        return true;
    snprintf(detail, sizeof detail, "got \"%s\", want \"%s\"", got ? got : "(null)",
             want ? want : "(null)");
    report(file, line, "%s: %s", expr, detail);
    return false;
}

bool unit_check_mem(const void *got, size_t gotlen, const void *want, size_t wantlen,
                    const char *expr, const char *file, int line)
{
    char detail[1024];
    if (gotlen == wantlen && (gotlen == 0 || memcmp(got, want, gotlen) == 0))
        return true;
    snprintf(detail, sizeof detail, "got \"%.*s\" (%zu bytes), want \"%.*s\" (%zu bytes)",
             got ? (int)gotlen : 0, got ? (const char *)got : "", gotlen,
             want ? (int)wantlen : 0, want ? (const char *)want : "", wantlen);
    report(file, line, "%s: %s", expr, detail);
    return false;
}

void unit_run(const char *name, void (*fn)(void))
{
    current = name;
    current_failed = false;
    fn();
    if (current_failed)
        failed++;
    else
        passed++;
}

int main(void)
{
    if (sodium_init() < 0) {
        fputs("sodium_init failed\n", stderr);
        return 1;
    }
    suite_token();
    suite_extract();
    suite_config();
    suite_isodate();
    suite_password();
    suite_sql();
    suite_schema();
    suite_acl();
    suite_filter();
    suite_tokcache();
    suite_rowcache();
    suite_response();
    suite_fairq();
    suite_api();
    suite_session();
    suite_log();
    suite_apikey();
    suite_scope();
    suite_rowjson();
    suite_clientcache();
    suite_shardmap();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
