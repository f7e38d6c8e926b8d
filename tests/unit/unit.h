/*
 * unit.h — the unit-test harness: checks that report file:line and keep
 * going, and one suite function per tested module.
 *
 * A test is a static void function run with RUN(fn); it fails when any of its
 * checks fails. Every CHECK* is an expression that yields whether it held, so
 * a test can stop early: if (!CHECK(p != NULL)) return;
 */
#ifndef TESSERA_UNIT_H
#define TESSERA_UNIT_H

#include <stdbool.h>
#include <stddef.h>

bool unit_check(bool ok, const char *expr, const char *file, int line);
bool unit_check_int(long long got, long long want, const char *expr, const char *file,
                    int line);
bool unit_check_str(const char *got, const char *want, const char *expr, const char *file,
                    int line);
bool unit_check_mem(const void *got, size_t gotlen, const void *want, size_t wantlen,
                    const char *expr, const char *file, int line);
void unit_run(const char *name, void (*fn)(void));

#define CHECK(cond) unit_check((cond) ? true : false, #cond, __FILE__, __LINE__)
#define CHECK_INT(got, want) \
    unit_check_int((long long)(got), (long long)(want), #got " == " #want, __FILE__, __LINE__)
#define CHECK_STR(got, want) \
    unit_check_str((got), (want), #got " == " #want, __FILE__, __LINE__)
/* got/gotlen against a NUL-terminated want (or NULL for "nothing"). */
#define CHECK_MEM(got, gotlen, want)                                                      \
    unit_check_mem((got), (gotlen), (want), (want) ? strlen(want) : 0, #got " == " #want, \
                   __FILE__, __LINE__)
#define RUN(fn) unit_run(#fn, fn)

/* The suites; main.c runs each in turn. */
void suite_token(void);
void suite_extract(void);
void suite_config(void);
void suite_isodate(void);
void suite_password(void);
void suite_sql(void);
void suite_schema(void);
void suite_acl(void);
void suite_filter(void);
void suite_tokcache(void);
void suite_rowcache(void);
void suite_response(void);
void suite_fairq(void);
void suite_api(void);
void suite_session(void);
void suite_log(void);
void suite_apikey(void);
void suite_scope(void);
void suite_rowjson(void);
void suite_clientcache(void);
void suite_shardmap(void);

#endif
