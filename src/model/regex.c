/*
 * regex.c — PCRE2 behind the small interface of regex.h.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rx {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mc;
};

int rx_parse_flags(const char *flags, unsigned *out)
{
    static const char KNOWN[] = "gimsuy";
    bool seen[sizeof KNOWN] = {false};
    *out = 0;
    for (const char *f = flags; *f; f++) {
        const char *at = strchr(KNOWN, *f);
        if (at == NULL || seen[at - KNOWN])
            return -1;
        seen[at - KNOWN] = true;
        *out |= *f == 'i' ? RX_ICASE : *f == 'm' ? RX_MULTILINE : *f == 's' ? RX_DOTALL : 0;
    }
    return 0;
}

const char *rx_flags_text(unsigned flags, char *buf)
{
    char *p = buf;
    if (flags & RX_ICASE)
        *p++ = 'i';
    if (flags & RX_MULTILINE)
        *p++ = 'm';
    if (flags & RX_DOTALL)
        *p++ = 's';
    *p = '\0';
    return buf;
}

/* A {n}, {n,} or {n,m} at s (s[0] == '{'): its largest bound, or -1 when s
 * is no quantifier (then, as in JavaScript, the brace is a plain character). */
static long repeat_bound(const char *s)
{
    char *end;
    if (s[1] < '0' || s[1] > '9')
        return -1;
    long lo = strtol(s + 1, &end, 10), hi = lo;
    if (*end == ',') {
        if (end[1] == '}')
            return lo > 0 ? lo : 1; /* {n,}: n copies, then a star */
        if (end[1] < '0' || end[1] > '9')
            return -1;
        hi = strtol(end + 1, &end, 10);
    }
    return *end == '}' ? (hi > lo ? hi : lo) : -1;
}

/*
 * Counted repeats are expanded into copies when compiled (by PCRE2, and by
 * PostgreSQL's engine), so their size is bounded here, before anything is
 * compiled: each bound, and the product of all of them (nested or not — an
 * overestimate that costs a scan and no parsing).
 */
const char *rx_precheck(const char *pattern)
{
    double product = 1;
    int depth = 0;
    if (strlen(pattern) > RX_MAX_PATTERN)
        return "pattern longer than 512 characters";
    for (const char *s = pattern; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
        } else if (*s == '(' && ++depth > RX_MAX_NEST) {
            return "parentheses nested too deeply";
        } else if (*s == ')' && depth > 0) {
            depth--;
        } else if (*s == '{') {
            long b = repeat_bound(s);
            if (b > RX_MAX_REPEAT)
                return "repetition count above 255";
            product *= b > 1 ? (double)b : 1;
            if (product > RX_MAX_PRODUCT)
                return "repetition counts too large";
        }
    }
    return NULL;
}

static uint32_t compile_options(unsigned flags)
{
    uint32_t o = PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_MATCH_UNSET_BACKREF | PCRE2_NEVER_BACKSLASH_C;
    if (flags & RX_ICASE)
        o |= PCRE2_CASELESS;
    if (flags & RX_MULTILINE)
        o |= PCRE2_MULTILINE;
    if (flags & RX_DOTALL)
        o |= PCRE2_DOTALL;
    return o;
}

static pcre2_code *compile(const char *pattern, unsigned flags, char *err, size_t errlen)
{
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (cc == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pcre2_set_max_pattern_length(cc, RX_MAX_PATTERN);
    pcre2_set_parens_nest_limit(cc, RX_MAX_NEST);
    pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, compile_options(flags),
                                   &code, &at, cc);
    pcre2_compile_context_free(cc);
    if (re == NULL) {
        PCRE2_UCHAR why[120];
        if (pcre2_get_error_message(code, why, sizeof why) < 0)
            snprintf((char *)why, sizeof why, "error %d", code);
        snprintf(err, errlen, "invalid regular expression: %s (at offset %zu)", (const char *)why, (size_t)at);
    }
    return re;
}

rx *rx_compile(const char *pattern, unsigned flags, char *err, size_t errlen)
{
    const char *why = rx_precheck(pattern);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    rx *r = calloc(1, sizeof *r);
    if (r == NULL || (r->code = compile(pattern, flags, err, errlen)) == NULL) {
        free(r);
        return NULL;
    }
    r->md = pcre2_match_data_create(1, NULL);
    r->mc = pcre2_match_context_create(NULL);
    if (r->md == NULL || r->mc == NULL) {
        rx_free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pcre2_set_match_limit(r->mc, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(r->mc, RX_DEPTH_LIMIT);
    pcre2_set_heap_limit(r->mc, RX_HEAP_LIMIT_KB);
    return r;
}

rx_result rx_match(rx *r, const char *text, size_t len)
{
    int rc = pcre2_match(r->code, (PCRE2_SPTR)text, len, 0, 0, r->md, r->mc);
    if (rc >= 0)
        return RX_YES;
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        return RX_NO;
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_NOMEMORY:
        return RX_LIMIT;
    default:
        /* text that is not UTF-8 cannot contain a UTF-8 pattern's match */
        return rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21 ? RX_NO : RX_FAILED;
    }
}

void rx_free(rx *r)
{
    if (r == NULL)
        return;
    pcre2_match_data_free(r->md);
    pcre2_match_context_free(r->mc);
    pcre2_code_free(r->code);
    free(r);
}
