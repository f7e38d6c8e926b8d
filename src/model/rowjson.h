/*
 * rowjson.h — a row of any model as the API shows it.
 *
 * The one place that turns stored values into a row's JSON: the store's row
 * reads (find, findById, includes: store/rows.c) and the account routes'
 * user (user_to_json) both go through model_row_json, so a user looks the
 * same byte for byte whichever way it is read. Hidden properties (the
 * password, a hash) are dropped here, whoever asks.
 */
#ifndef TESSERA_ROWJSON_H
#define TESSERA_ROWJSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model/schema.h"

typedef enum model_cell_kind { MC_NULL, MC_INT, MC_REAL, MC_BOOL, MC_TEXT } model_cell_kind;

/* One stored value as its column holds it. A date kept as ms (ms_date) and
 * a boolean property come as MC_INT (or MC_BOOL) whatever the column's type. */
typedef struct model_cell {
    model_cell_kind kind;
    int64_t i;            /* MC_INT, MC_BOOL (0: false)                 */
    double r;             /* MC_REAL                                    */
    const char *text;     /* MC_TEXT: len bytes                         */
    size_t len;
} model_cell;

/* The value of property p, the i-th of those asked for, in the caller's row. */
typedef model_cell (*model_cell_fn)(void *ctx, size_t i, const model_prop *p);

/*
 * The row's JSON object: props[0 .. nprops) in that order (props NULL: every
 * property of m, in the schema's order), each value from cell(ctx, i, prop),
 * hidden ones skipped without asking. A value shows as its property says:
 * ISO 8601 for ms dates, true/false for booleans, 50 (not 50.0) for a whole
 * REAL, parsed JSON for object, array and any. Then, when extra is not NULL, the
 * members of that JSON object text (m's extra column) that name no declared
 * property. NULL when out of memory.
 */
json_t *model_row_json(const model_def *m, const model_prop *const *props, size_t nprops,
                       model_cell_fn cell, void *ctx, const char *extra);

#endif
