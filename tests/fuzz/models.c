/*
 * models.c — the model registry the filter targets parse against: the
 * built-in models (User with hidden properties, AccessToken with a text id
 * and dates kept as ms) and a declared Widget with one property of every
 * type and a relation, so every coercion and check in filter.c is reachable.
 */
#include <jansson.h>
#include <stdbool.h>

#include "fuzz_models.h"
#include "store/sql.h"

static const char WIDGET[] =
    "{\"Widget\": {\"plural\": \"widgets\","
    " \"properties\": {"
    "  \"name\": {\"type\": \"string\", \"required\": true},"
    "  \"price\": {\"type\": \"number\", \"index\": true},"
    "  \"active\": {\"type\": \"boolean\"},"
    "  \"created\": {\"type\": \"date\"},"
    "  \"meta\": {\"type\": \"object\"},"
    "  \"tags\": {\"type\": \"array\"},"
    "  \"extra\": {\"type\": \"any\"},"
    "  \"ownerId\": {\"type\": \"number\"}},"
    " \"relations\": {\"owner\": {\"type\": \"belongsTo\", \"model\": \"User\", \"foreignKey\": \"ownerId\"}}}}";

static model_registry *registry;

static void drop(void)
{
    models_free(registry);
    registry = NULL;
}

const model_registry *fuzz_models(void)
{
    if (registry == NULL) {
        char err[256];
        json_t *doc = json_loads(WIDGET, 0, NULL);
        registry = models_load(doc, err, sizeof err);
        json_decref(doc);
        if (registry == NULL) {
            fprintf(stderr, "fuzz: models_load: %s\n", err);
            abort();
        }
        atexit(drop);
    }
    return registry;
}

/* ---- what a parsed filter must look like ------------------------------- */

static bool prop_of(const model_def *m, const model_prop *p)
{
    return p >= m->props && p < m->props + m->nprops;
}

/* Checks the tree's shape; returns its node count. */
static int check_tree(const model_def *m, const fnode *n, int depth)
{
    int count = 1;
    FUZZ_ASSERT(depth <= 4 * FILTER_MAX_DEPTH + 4);
    if (n->kind == FN_CMP) {
        FUZZ_ASSERT(n->nkids == 0 && n->value != NULL);
        FUZZ_ASSERT(prop_of(m, n->prop) && !n->prop->hidden);
        FUZZ_ASSERT(n->op >= OP_EQ && n->op <= OP_REGEXP);
        return count;
    }
    FUZZ_ASSERT(n->kind == FN_AND || n->kind == FN_OR);
    FUZZ_ASSERT(n->nkids >= 1 && n->kids != NULL && n->value == NULL);
    for (size_t i = 0; i < n->nkids; i++)
        count += check_tree(m, n->kids[i], depth + 1);
    return count;
}

static void check_where(const model_def *m, const fnode *w)
{
    if (w)
        FUZZ_ASSERT(check_tree(m, w, 0) <= FILTER_MAX_NODES);
}

static void check_filter(const model_def *m, const filter *f)
{
    check_where(m, f->where);
    FUZZ_ASSERT(f->limit == -1 || (f->limit >= 1 && f->limit <= FILTER_MAX_LIMIT));
    FUZZ_ASSERT(f->skip >= 0);
    FUZZ_ASSERT(f->norder >= 0 && f->norder <= FILTER_MAX_ORDER);
    for (int i = 0; i < f->norder; i++)
        FUZZ_ASSERT(prop_of(m, f->order[i].prop) && !f->order[i].prop->hidden);
    FUZZ_ASSERT(f->nfields <= m->nprops);
    for (size_t i = 0; i < f->nfields; i++)
        FUZZ_ASSERT(prop_of(m, f->fields[i]));
    FUZZ_ASSERT(f->ninclude >= 0 && f->ninclude <= FILTER_MAX_INCLUDE);
    for (int i = 0; i < f->ninclude; i++)
        FUZZ_ASSERT(f->include[i].rel >= m->rels && f->include[i].rel < m->rels + m->nrels);
}

/*
 * The SQL a parsed filter becomes, in both dialects, holds nothing of the
 * request: printable ASCII only, and exactly one bound value per
 * placeholder number ?1..?N / $1..$N.
 */
static void check_sql_text(const sql_query *q)
{
    size_t top = 0;
    char mark = q->dialect == SQL_SQLITE ? '?' : '$';
    for (const char *s = q->text; *s; s++) {
        FUZZ_ASSERT(*s >= 0x20 && *s < 0x7f);
        if (*s == mark && s[1] >= '1' && s[1] <= '9') {
            size_t n = strtoul(s + 1, NULL, 10);
            top = n > top ? n : top;
        }
    }
    FUZZ_ASSERT(top == json_array_size(q->binds));
}

static void check_sql(const model_def *m, const filter *f, const fnode *where)
{
    const sql_dialect dialects[] = {SQL_SQLITE, SQL_POSTGRES};
    for (size_t i = 0; i < 2; i++) {
        sql_query q;
        sql_query_init(&q, dialects[i]);
        int rc = f ? sql_build_select(&q, m, f) : sql_build_count(&q, m, where);
        if (rc == 0)
            check_sql_text(&q);
        else
            FUZZ_ASSERT(q.err[0] != '\0');
        sql_query_free(&q);
    }
}

/* An error message is a short, terminated, non-empty text. */
static void check_error(const char *err, size_t cap)
{
    size_t len = strnlen(err, cap);
    FUZZ_ASSERT(len > 0 && len < cap);
}

void fuzz_parse_all(const char *name, const json_t *j)
{
    const model_registry *reg = fuzz_models();
    bool whole = strcmp(name, "filter") == 0;
    for (size_t i = 0; i < models_count(reg); i++) {
        const model_def *m = models_at(reg, i);
        char err[256] = "";
        if (whole) {
            filter f;
            if (filter_parse(m, j, &f, err, sizeof err) == 0) {
                check_filter(m, &f);
                check_sql(m, &f, NULL);
                filter_free(&f);
            } else {
                check_error(err, sizeof err);
            }
        } else {
            fnode *w = NULL;
            if (filter_parse_where(m, j, &w, err, sizeof err) == 0) {
                check_where(m, w);
                check_sql(m, NULL, w);
                fnode_free(w);
            } else {
                check_error(err, sizeof err);
            }
        }
    }
}
