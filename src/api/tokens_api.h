/*
 * tokens_api.h — inside src/api only: what users.c asks of AccessToken.
 */
#ifndef TESSERA_TOKENS_API_H
#define TESSERA_TOKENS_API_H

#include <stdint.h>

#include "api/call.h"

/* GET /api/users/{id}/accessTokens: the user's live tokens, filtered as asked. */
void tokapi_reply_user_tokens(api_call *c, int64_t user_id);

#endif
