/*
 * filter.h — LoopBack's query language, parsed and checked against a model.
 *
 * A filter arrives as JSON (?filter={...}) or in the bracket form
 * (?filter[where][price][gt]=50); both become the same `filter`, whose where
 * clause is a tree of conditions on known properties. Nothing here builds
 * SQL: the store turns the tree into SQL with bound parameters only.
 *
 * Everything a filter names is checked: unknown or hidden properties, unknown
 * operators, wrong value types, too deep or too large trees are errors, with
 * a message that says what and where (→ 400).
 */
#ifndef TESSERA_FILTER_H
#define TESSERA_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/schema.h"

#define FILTER_MAX_DEPTH   8     /* and/or nesting                         */
#define FILTER_MAX_NODES   256   /* conditions in one where                */
#define FILTER_MAX_LIST    1000  /* values in inq/nin                      */
#define FILTER_MAX_ORDER   8
#define FILTER_MAX_LIMIT   10000 /* a larger limit is an error             */
#define FILTER_MAX_INCLUDE 8

typedef enum fnode_kind { FN_AND, FN_OR, FN_CMP } fnode_kind;

typedef enum fop {
    OP_EQ, OP_NEQ, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_BETWEEN, OP_INQ, OP_NIN,
    OP_LIKE, OP_NLIKE, OP_ILIKE, OP_NILIKE, OP_REGEXP,
} fop;

typedef struct fnode {
    fnode_kind kind;
    struct fnode **kids;     /* FN_AND / FN_OR                                  */
    size_t nkids;
    const model_prop *prop;  /* FN_CMP                                          */
    fop op;
    json_t *value;           /* FN_CMP: the operand, already coerced to the
                                property's type (between: [lo,hi]; inq/nin: an
                                array; eq/neq may be null → IS [NOT] NULL;
                                regexp: the pattern string)                     */
    unsigned regexp_flags;   /* regexp given as "/pat/flags": RX_* of
                                model/regex.h (i, m, s)                         */
} fnode;

typedef struct forder {
    const model_prop *prop;
    bool desc;
} forder;

typedef struct finclude {
    const model_rel *rel;
    /* one level of scope is enough for now: the related rows come whole */
} finclude;

typedef struct filter {
    fnode *where;                       /* NULL: every row                     */
    forder order[FILTER_MAX_ORDER];
    int norder;
    int64_t limit;                      /* -1: no limit                        */
    int64_t skip;                       /* 0: none                             */
    const model_prop **fields;          /* NULL: all visible properties        */
    size_t nfields;
    finclude include[FILTER_MAX_INCLUDE];
    int ninclude;
} filter;

/* An empty filter: every row, no order, no limit. */
void filter_init(filter *f);
void filter_free(filter *f);

/*
 * Parses a whole filter object {where, order, limit, skip|offset, fields,
 * include} for model m. Returns 0, or -1 with a message in err.
 */
int filter_parse(const model_def *m, const json_t *json, filter *f, char *err, size_t errlen);

/* Parses a where object alone (count, update, exists). */
int filter_parse_where(const model_def *m, const json_t *json, fnode **where, char *err, size_t errlen);

/* The where tree for "id equals v" (v is a path segment). NULL when v cannot be an id. */
fnode *filter_id_equals(const model_def *m, const char *v);

/* A new AND of two trees (either may be NULL); takes ownership of both. */
fnode *filter_and(fnode *a, fnode *b);

void fnode_free(fnode *n);

/*
 * Gathers the filter from a request's query: `filter` as JSON text, else the
 * bracket form filter[where][price][gt]=50 (values stay strings; the parser
 * coerces them to the property types). For count/update, name "where" reads
 * `where` the same way. Returns a new object (empty when absent), or NULL
 * with a message in err (malformed JSON, bad brackets).
 */
json_t *filter_from_query(const char *name, const char *const *keys, const char *const *values,
                          int n, char *err, size_t errlen);

#endif
