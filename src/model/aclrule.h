/*
 * aclrule.h — the ACL vocabulary: what a rule says and the words it says it
 * with. The one place those words are read: model definitions (schema.c),
 * rows of the ACL model (auth/acl.c) and bodies written to the ACL and
 * RoleMapping models (api/acl_models.c) all parse them here.
 */
#ifndef TESSERA_ACLRULE_H
#define TESSERA_ACLRULE_H

typedef enum acl_access { ACC_ALL, ACC_READ, ACC_WRITE, ACC_EXECUTE } acl_access;
typedef enum acl_ptype { PTYPE_USER, PTYPE_APP, PTYPE_ROLE } acl_ptype;
typedef enum acl_perm { PERM_ALLOW, PERM_DENY } acl_perm;

/* One ACL rule, static (model definition) or dynamic (the ACL model). */
typedef struct acl_rule {
    char *model;         /* model name, or "*"                               */
    char *property;      /* method name ("find", "create", ...) or "*"       */
    acl_access access;
    acl_ptype ptype;
    char *pid;           /* principal id: "$owner", "admin", "42", ...       */
    acl_perm perm;
} acl_rule;

/* "READ", "WRITE", "EXECUTE", "*" -> acl_access; -1 when unknown or NULL. */
int acl_access_parse(const char *s);
const char *acl_access_name(acl_access a);

/* "USER", "APP", "ROLE" -> acl_ptype; -1 when unknown or NULL. */
int acl_ptype_parse(const char *s);

/* "ALLOW", "DENY" -> acl_perm; -1 when unknown or NULL. */
int acl_perm_parse(const char *s);

#endif
