/*
 * regex.h — the regular expressions of `regexp` filters, with PCRE2.
 *
 * LoopBack hands a filter's regexp to JavaScript (or to the database), so
 * the syntax clients write is JavaScript's: PCRE2 reads nearly all of it
 * (JavaScript's \u escapes included). Every pattern is bounded before it
 * costs anything: its length, its repeat counts and its nesting are checked
 * by a cheap scan (rx_precheck) that the filter parser runs, and compiling
 * happens only when a query runs, i.e. after the ACL allowed it. Every match
 * runs under PCRE2's match, depth and heap limits, so one row costs bounded
 * time and memory; a match that hits one is an error, never a quiet "no".
 */
#ifndef TESSERA_REGEX_H
#define TESSERA_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#define RX_MAX_PATTERN   512      /* characters of one pattern               */
#define RX_MAX_REPEAT    255      /* largest {n,m} bound (PostgreSQL's too)   */
#define RX_MAX_PRODUCT   100000   /* product of all {n,m} bounds of a pattern */
#define RX_MAX_NEST      32       /* parentheses inside parentheses          */
#define RX_MATCH_LIMIT   1000000  /* PCRE2 match_limit: backtracking steps   */
#define RX_DEPTH_LIMIT   10000    /* PCRE2 depth_limit: nested backtracks    */
#define RX_HEAP_LIMIT_KB 4096     /* PCRE2 heap_limit: backtrack memory, KiB  */

/* The flags of "/pattern/flags". */
enum {
    RX_ICASE     = 1 << 0,  /* i: ignore case                             */
    RX_MULTILINE = 1 << 1,  /* m: ^ and $ match at line breaks            */
    RX_DOTALL    = 1 << 2,  /* s: . matches a line break too              */
};

/*
 * Reads JavaScript flags ("gi", "ms", ...) into RX_* bits; g (and u, y
 * which change nothing for a yes/no match) are accepted and ignored.
 * Returns 0, or -1 for an unknown or repeated flag.
 */
int rx_parse_flags(const char *flags, unsigned *out);

/* The flags as text for the store ("ims" subset, "" for none); buf >= 4. */
const char *rx_flags_text(unsigned flags, char *buf);

/* Cheap checks of a pattern's size: NULL when fine, else why not. */
const char *rx_precheck(const char *pattern);

typedef struct rx rx;

/*
 * Compiles pattern (after rx_precheck) with flags; NULL with a message in
 * err when it is not a valid expression. One rx is used by one thread at a
 * time (it carries its match data).
 */
rx *rx_compile(const char *pattern, unsigned flags, char *err, size_t errlen);

/* Result of rx_match. */
typedef enum { RX_NO = 0, RX_YES = 1, RX_LIMIT = -1, RX_FAILED = -2 } rx_result;

/* Does text (len bytes of UTF-8) contain a match? RX_LIMIT: a bound was hit. */
rx_result rx_match(rx *r, const char *text, size_t len);

void rx_free(rx *r);

#endif
