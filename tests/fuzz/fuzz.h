/*
 * fuzz.h — what the libFuzzer targets in tests/fuzz share.
 *
 * Each target is one fuzz_*.c with LLVMFuzzerTestOneInput, linked against the
 * project's objects built with clang and -fsanitize=fuzzer,address,undefined
 * (build-fuzz/, see the Makefile's fuzz section). A target runs tessera's
 * code on the input and nothing else: no server, no database.
 */
#ifndef TESSERA_FUZZ_H
#define TESSERA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the input that must always hold: a failure is a finding. */
#define FUZZ_ASSERT(cond)                                                            \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: FUZZ_ASSERT(%s) failed\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* The input as a NUL-terminated string (cut at its first NUL byte); free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
