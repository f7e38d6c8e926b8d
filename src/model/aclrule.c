/*
 * aclrule.c — the ACL words, read in one place.
 */
#include <stddef.h>
#include <string.h>

#include "model/aclrule.h"

/* The index of s in words (NULL-terminated); -1 when absent or s is NULL. */
static int word_index(const char *s, const char *const *words)
{
    for (int i = 0; s && words[i]; i++)
        if (strcmp(s, words[i]) == 0)
            return i;
    return -1;
}

/* Indexed by the enums' values. */
static const char *const ACCESS[] = {"*", "READ", "WRITE", "EXECUTE", NULL};
static const char *const PTYPE[] = {"USER", "APP", "ROLE", NULL};
static const char *const PERM[] = {"ALLOW", "DENY", NULL};

int acl_access_parse(const char *s)
{
    return word_index(s, ACCESS);
}

const char *acl_access_name(acl_access a)
{
    return (unsigned)a <= ACC_EXECUTE ? ACCESS[a] : "?";
}

int acl_ptype_parse(const char *s)
{
    return word_index(s, PTYPE);
}

int acl_perm_parse(const char *s)
{
    return word_index(s, PERM);
}
