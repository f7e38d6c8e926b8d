/*
 * throttle.h — failed logins: a few free, then an exponential wait.
 *
 * Two counters judge every password check: the account's, kept in the
 * store (so every instance sharing a PostgreSQL database counts together),
 * and the client address's, kept in memory in a bounded table. An attempt
 * is counted as a failure BEFORE the password is checked, so that a burst
 * of parallel guesses cannot all pass the check before any of them failed;
 * a right password then clears the account's count and takes the address's
 * attempt back. A blocked attempt is refused without hashing anything.
 */
#ifndef TESSERA_THROTTLE_H
#define TESSERA_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "store/store.h"

typedef struct throttle throttle;

typedef enum thr_result {
    THR_OK = 0,
    THR_BLOCKED,      /* wait *retry_after seconds            */
    THR_UNAVAILABLE,  /* the store could not count the attempt */
} thr_result;

/* One password check in progress: what thr_begin counted. */
typedef struct thr_ticket {
    bool address_counted;
    bool account_counted;
    char address[46];
    uint8_t account[STORE_FAILURE_KEY_LEN];
} thr_ticket;

throttle *thr_new(const cfg_login_throttle *cfg, store_t *store);

/*
 * The address a client is counted under: the peer's, or, with
 * trustForwardedFor, the last entry of X-Forwarded-For (xff, may be NULL)
 * when it is an IP address: the one the proxy in front appended.
 */
void thr_client_address(const throttle *t, const char *peer, const char *xff, char out[46]);
void thr_free(throttle *t);

/*
 * Counts an attempt at account (a name that is the same for every way of
 * naming one account, e.g. "id:42"; for unknown ones what was given) from
 * address (the client's, text). THR_BLOCKED sets *retry_after (seconds, at
 * least 1) and counts nothing. t may be NULL: nothing is throttled.
 */
thr_result thr_begin(throttle *t, const char *address, const char *account, thr_ticket *tk,
                     int64_t *retry_after);

/* The password was right: the account starts over, the address gets its attempt back. */
void thr_succeeded(throttle *t, const thr_ticket *tk);

#endif
