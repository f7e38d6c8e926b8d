/*
 * fuzz_models.h — the registry of models the filter targets use (models.c).
 */
#ifndef TESSERA_FUZZ_MODELS_H
#define TESSERA_FUZZ_MODELS_H

#include "fuzz.h"
#include "model/filter.h"
#include "model/schema.h"

/* Built once, freed at exit. */
const model_registry *fuzz_models(void);

/*
 * Parses the filter (name "filter") or the bare where (name "where") in j
 * against every model of the registry and checks what comes out.
 */
void fuzz_parse_all(const char *name, const json_t *j);

#endif
