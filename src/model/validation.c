/*
 * validation.c — collecting what is wrong with a model instance.
 */
#include "model/validation.h"

void validation_init(validation *v)
{
    v->codes = json_object();
    v->messages = json_object();
    v->values = json_object();
}

static void push(json_t *obj, const char *field, json_t *item)
{
    json_t *list = json_object_get(obj, field);
    if (list == NULL) {
        list = json_array();
        json_object_set_new(obj, field, list);
    }
    json_array_append_new(list, item);
}

void validation_add(validation *v, const char *field, const char *code, const char *message,
                        json_t *value)
{
    push(v->codes, field, json_string(code));
    push(v->messages, field, json_string(message));
    if (value && json_object_get(v->values, field) == NULL)
        json_object_set(v->values, field, value);
}

bool validation_failed(const validation *v)
{
    return json_object_size(v->codes) > 0;
}

void validation_free(validation *v)
{
    json_decref(v->codes);
    json_decref(v->messages);
    json_decref(v->values);
    v->codes = v->messages = v->values = NULL;
}
