/*
 * engine.h — the model engine: LoopBack's PersistedModel REST API for every
 * model in the registry, guarded by the ACL engine.
 *
 * Every handler follows the same steps: find the model by its plural, parse
 * what the request names (filter, where, id, body), ask the ACL engine, then
 * call the store and answer JSON. Built-in models change what their kind
 * means through a hooks table (model_hooks, below), never by a test of
 * their kind. Names follow api.h's convention: X_or_reply may answer (false
 * or NULL then), eng_reply_X always answers, the rest never do.
 */
#ifndef TESSERA_ENGINE_H
#define TESSERA_ENGINE_H

#include <jansson.h>
#include <stdbool.h>

#include "api/call.h"
#include "auth/acl.h"
#include "model/filter.h"
#include "model/rowcache.h"
#include "model/schema.h"

/* One model request in flight: what the steps share. */
typedef struct mreq {
    api_call *c;             /* the call: who, app                        */
    request *r;              /* c->r                                      */
    response *res;           /* c->res, or NULL where nothing answers     */
    const model_def *m;
    const char *id;          /* the {id} path segment, or NULL           */
    json_t *instance;        /* the row named by id, loaded on demand    */
    bool instance_loaded;
    char idbuf[64];          /* q->id rewritten by resolve_id            */
    const char *label;       /* the id as the path wrote it, for a 404 when
                                resolve_id rewrote it ("me", "05"); or NULL */
    rowcache *rows;          /* findById of a whole row: the row cache    */
    rowcache_hit cached;     /* the row as the row cache had it ...       */
    bool from_cache;         /* ... when this is true                     */
} mreq;

/* Finds the model for the plural path segment; 404 when there is none. */
bool eng_begin_or_reply(mreq *q, api_call *c, const char *plural, const char *id);
void eng_end(mreq *q);

/*
 * Asks the ACL engine whether the caller may run method on q->m. The caller
 * owns the instance when its owner key (or, for User, its id) is the caller.
 * On denial sets the 401/403 answer and returns false.
 */
bool eng_allow_or_reply(mreq *q, const char *method);

/* Like eng_allow_or_reply, for a create whose body names (or will get) the owner. */
bool eng_allow_create_or_reply(mreq *q, const char *method, const json_t *body);

/* Loads q->instance (the row named by q->id), answering nothing:
 * STORE_NOT_FOUND when there is none (or the id cannot exist). */
store_err eng_fetch(mreq *q);

/* eng_fetch; false with 404 MODEL_NOT_FOUND (or the store error) answered. */
bool eng_load_or_reply(mreq *q);

/* 404 MODEL_NOT_FOUND for q->id. */
void eng_reply_not_found(mreq *q);

/* The where tree "id = q->id"; NULL (and 404 set) when the id cannot exist. */
fnode *eng_id_where_or_reply(mreq *q);

/* Parses ?filter= (JSON or bracket form); false with 400 INVALID_FILTER. */
bool eng_filter_or_reply(mreq *q, filter *f);

/* Parses ?where= (JSON or bracket form) into *where; false with 400. */
bool eng_where_or_reply(mreq *q, fnode **where);

/* Answers a store error: 503, 422 for a unique conflict, else 500. */
void eng_reply_store_error(mreq *q, store_err store_error, const json_t *values);

/* Body checking, by how complete it must be. */
typedef enum { BODY_CREATE, BODY_REPLACE, BODY_PATCH } body_mode;

/*
 * Checks a JSON body against q->m: unknown properties (strict models),
 * types, required ones (create, replace), defaults (create). Returns the
 * values to store by property name, or NULL with the 422 set.
 */
json_t *eng_validate_or_reply(mreq *q, const json_t *body, body_mode mode);

/*
 * For a change of the row q->id names (or of rows by where, q->id NULL):
 * false, with 403 OWNER_MISMATCH, when a non-admin's values give it an owner
 * other than the caller or (by id) the row's present owner.
 */
bool eng_owner_allowed_or_reply(mreq *q, const json_t *values);

/* Sets the owner key of a new row to the caller when the body leaves it out. */
void eng_default_owner(mreq *q, json_t *values);

/* The body's "id", when given, is a key; else false with the 422 set. */
bool eng_body_id_or_reply(mreq *q, const json_t *body);

/* Reads the body as a JSON object; NULL when answered (400/415). */
json_t *eng_body_or_reply(mreq *q);

/* Attaches included relations to rows (an array of row objects). */
bool eng_include_or_reply(mreq *q, const filter *f, json_t *rows);

/* Runs a find and answers the array (or, one = true, the first row or 404). */
void eng_reply_find(mreq *q, filter *f, bool one);

/* findById: checks access, then reads ?filter= (with_filter; otherwise the
 * row is read whole), then answers the row q->id names (404 if none). */
void eng_reply_find_by_id(mreq *q, bool with_filter);

/*
 * A row answered from the store (res: 200 with a JSON object) is printed
 * once, for the client and for the row cache (under m and id, unless the
 * ticket, taken before the read, went stale). Nothing happens without rc.
 */
void eng_keep_answer(response *res, rowcache *rc, const model_def *m, const char *id, rowcache_ticket t);

/* Checks body for a create, fills the owner key, inserts, answers the row. */
void eng_reply_insert(mreq *q, const json_t *body);

/* What a write may have changed: nothing that existed (a new row), the row
 * q->id names, or any rows of q->m. */
typedef enum eng_wrote { WROTE_NEW_ROW, WROTE_THIS_ROW, WROTE_ROWS } eng_wrote;

/*
 * Called after every write to rows of q->m, before it is answered: cached
 * rows it may have changed are forgotten, and ACL model writes, which change
 * who may do what, drop the cached rules.
 */
void eng_after_write(mreq *q, eng_wrote what);

/*
 * What a model kind does differently from plain rows, as Redis's dictType
 * does for its dicts: one table per kind, defined next to that kind's
 * meaning (users.c, tokens_api.c, acl_models.c). A NULL hook or a false flag
 * means "as any declared model's rows".
 */
typedef struct model_hooks {
    /* POST /M: answers the create itself (a token is minted, not inserted). */
    void (*create)(mreq *q, const json_t *body);
    /* DELETE /M/{id}: answers the delete of the rows where names itself. */
    void (*delete)(mreq *q, const fnode *where);
    /* The 405 message for the generic writes (create without a create hook,
     * replace, patch, upsert, updateAll) the kind cannot honour. */
    const char *refuse_write;
    /* Rewrites q->id, the {id} path segment, before anything reads it. */
    void (*resolve_id)(mreq *q);
    /* Before its rows are read (the engine's, a relation's or an include's). */
    void (*before_read)(const struct app *a);
    /* After a write to its rows, before the answer. */
    void (*after_write)(mreq *q, eng_wrote what);
    /* More checks on the values of a write, after the model's types. */
    void (*validate)(const json_t *values, validation *v);
    /* What a unique conflict names when no unique property was given. */
    const char *conflict_field, *conflict_message;
    bool owner_is_id;       /* a row belongs to the user its id names      */
    bool cached;            /* whole rows may be kept in the row cache      */
    bool relation_writes;   /* created and deleted through a parent's relation */
} model_hooks;

/* The hooks of m's kind. */
const model_hooks *eng_hooks(const model_def *m);

/* The hook tables, one per built-in kind (declared models use the defaults). */
extern const model_hooks user_hooks, token_hooks, role_hooks, role_mapping_hooks, acl_hooks;
/* Application (issue 13): api/applications.c */
extern const model_hooks application_hooks;
extern const model_hooks api_token_hooks; /* api/apitokens.c */

/* The generic delete of the rows where names, answered {"count": n}. */
void eng_reply_delete(mreq *q, const fnode *where);

#endif
