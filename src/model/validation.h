/*
 * validation.h — what is wrong with a model instance, field by field, as
 * LoopBack's ValidationError details list it. Models fill one in (the User
 * rules, the engine's type checks); the HTTP layer turns it into the 422
 * (res_validation_finish), the CLI into a message.
 */
#ifndef TESSERA_VALIDATION_H
#define TESSERA_VALIDATION_H

#include <jansson.h>
#include <stdbool.h>

/* Per field: the failed checks' codes ("presence", "uniqueness", "format",
 * ...), their messages, and the first offending value. */
typedef struct validation {
    json_t *codes;
    json_t *messages;
    json_t *values;
} validation;

void validation_init(validation *v);
void validation_add(validation *v, const char *field, const char *code, const char *message,
                    json_t *value /* borrowed, may be NULL */);
bool validation_failed(const validation *v);
void validation_free(validation *v);

#endif
