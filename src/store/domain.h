/*
 * domain.h — what the domain files of the store (users.c, tokens.c,
 * events.c, rows.c, schema.c) share between them: steps that are part of
 * another file's transaction.
 */
#ifndef TESSERA_DOMAIN_H
#define TESSERA_DOMAIN_H

#include "store/driver.h"

/* Why a guarded write of user id touched no row: gone, or changed (users.c). */
store_err users_missed(store_t *s, dconn *c, int64_t id);
/* Deletes a user's tokens but *keep and logs it, inside an open
 * transaction (tokens.c). */
store_err tokens_delete_user_in(store_t *s, dconn *c, int64_t user_id, const store_hash *keep,
                                int64_t *deleted);
/* Appends to the revocation log and wakes the listeners, who hear it on
 * commit; part of the caller's transaction (events.c). */
store_err events_log(store_t *s, dconn *c, store_ev_kind kind, const store_hash *h, int64_t user_id);

#endif
