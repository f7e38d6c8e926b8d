/*
 * test_password.c — argon2id hashing, verification, rehash detection and the
 * decoy verification for unknown users. Costs are libsodium's minimum so the
 * suite stays fast.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "unit.h"

static const cfg_password CHEAP = { 1, 8192 };

static void test_hash_format(void)
{
    char h[PW_HASH_MAX], h2[PW_HASH_MAX];
    if (!CHECK_INT(pw_hash(&CHEAP, "s3cret", 6, h), 0))
        return;
    CHECK(strncmp(h, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
    CHECK(strlen(h) < PW_HASH_MAX);
    CHECK_INT(pw_hash(&CHEAP, "s3cret", 6, h2), 0);
    CHECK(strcmp(h, h2) != 0); /* salted */
}

static void test_verify(void)
{
    char h[PW_HASH_MAX];
    if (!CHECK_INT(pw_hash(&CHEAP, "correct horse", 13, h), 0))
        return;
    CHECK(pw_verify(h, "correct horse", 13));
    CHECK(!pw_verify(h, "correct horsE", 13));
    CHECK(!pw_verify(h, "correct hors", 12));
    CHECK(!pw_verify(h, "correct horse ", 14));
    CHECK(!pw_verify(h, "", 0));
    CHECK(pw_verify(h, "correct horse battery", 13)); /* only len bytes count */
    CHECK(!pw_verify(NULL, "correct horse", 13));
    CHECK(!pw_verify("", "correct horse", 13));
    CHECK(!pw_verify("$argon2id$v=19$garbage", "correct horse", 13));
}

/* Lengths, not NULs, delimit passwords. */
static void test_embedded_nul(void)
{
    char h[PW_HASH_MAX];
    if (!CHECK_INT(pw_hash(&CHEAP, "ab\0cd", 5, h), 0))
        return;
    CHECK(pw_verify(h, "ab\0cd", 5));
    CHECK(!pw_verify(h, "ab\0ce", 5));
    CHECK(!pw_verify(h, "ab", 2));
}

/* The longest accepted password is hashed whole: its last byte matters. */
static void test_long_password_not_truncated(void)
{
    char *pw = malloc(PW_MAX_LEN);
    char h[PW_HASH_MAX];
    if (!CHECK(pw != NULL))
        return;
    memset(pw, 'p', PW_MAX_LEN);
    if (CHECK_INT(pw_hash(&CHEAP, pw, PW_MAX_LEN, h), 0)) {
        CHECK(pw_verify(h, pw, PW_MAX_LEN));
        pw[PW_MAX_LEN - 1] = 'q';
        CHECK(!pw_verify(h, pw, PW_MAX_LEN));
        CHECK(!pw_verify(h, pw, PW_MAX_LEN - 1));
    }
    free(pw);
}

static void test_needs_rehash(void)
{
    char h[PW_HASH_MAX];
    cfg_password more_ops = { 2, 8192 }, more_mem = { 1, 16384 };
    if (!CHECK_INT(pw_hash(&CHEAP, "pw", 2, h), 0))
        return;
    CHECK(!pw_needs_rehash(&CHEAP, h));
    CHECK(pw_needs_rehash(&more_ops, h));
    CHECK(pw_needs_rehash(&more_mem, h));
    CHECK(pw_needs_rehash(&CHEAP, "not a hash"));
    CHECK(pw_needs_rehash(&CHEAP, NULL));
    if (CHECK_INT(pw_hash(&more_mem, "pw", 2, h), 0)) {
        CHECK(!pw_needs_rehash(&more_mem, h));
        CHECK(pw_needs_rehash(&CHEAP, h));
    }
}

/* CPU time of this thread: unlike wall time, a busy machine does not inflate it. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Least CPU time of five runs of pw_verify (burn = false) or pw_burn (burn = true). */
static double min_cost(const cfg_password *cost, const char *stored, bool burn)
{
    double best = 1e9;
    for (int i = 0; i < 5; i++) {
        double start = cpu_seconds(), t;
        if (burn)
            pw_burn(cost, "guess", 5);
        else
            (void)pw_verify(stored, "guess", 5);
        t = cpu_seconds() - start;
        if (t < best)
            best = t;
    }
    return best;
}

/*
 * An unknown user must cost about what a wrong password costs: a burn that
 * skipped the work would take a tiny fraction of a verification.
 */
static void test_burn_costs_a_verification(void)
{
    cfg_password cost = { 1, 4u << 20 }; /* 4 MiB: milliseconds of work */
    char h[PW_HASH_MAX];
    double verify, burn;
    if (!CHECK_INT(pw_hash(&cost, "real password", 13, h), 0))
        return;
    pw_burn(&cost, "warm up", 7); /* the first call also builds the decoy */
    verify = min_cost(&cost, h, false);
    burn = min_cost(&cost, NULL, true);
    CHECK(burn > verify * 0.5);
    CHECK(burn < verify * 2.0);
    /* a new cost builds a new decoy, and the burn follows it */
    pw_burn(&CHEAP, "warm up", 7);
    CHECK(min_cost(&CHEAP, NULL, true) < burn * 0.25);
}

static void *burn_thread(void *arg)
{
    for (int i = 0; i < 20; i++)
        pw_burn(arg, "x", 1);
    return NULL;
}

/* Concurrent first use builds the decoy safely (meaningful under sanitizers). */
static void test_burn_concurrent(void)
{
    cfg_password cost = { 1, 16384 };
    pthread_t th[4];
    int started = 0;
    for (int i = 0; i < 4; i++)
        started += pthread_create(&th[i], NULL, burn_thread, &cost) == 0;
    CHECK_INT(started, 4);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

void suite_password(void)
{
    RUN(test_hash_format);
    RUN(test_verify);
    RUN(test_embedded_nul);
    RUN(test_long_password_not_truncated);
    RUN(test_needs_rehash);
    RUN(test_burn_costs_a_verification);
    RUN(test_burn_concurrent);
}
