/*
 * fuzz_config.c — the config loader. The input is a config file's text,
 * loaded over the defaults twice, from memory (cfg_load_string) and from a
 * file (cfg_load_file): both must agree. A config that loads has its
 * "models" section built into a registry (models_load), as `serve` does.
 * The text is cut at its first NUL byte: that is where a C string ends,
 * and a config file holding NUL bytes is no JSON anyway.
 */
#include <fcntl.h>
#include <unistd.h>

#include "core/config.h"
#include "fuzz.h"
#include "model/builtin.h"
#include "model/schema.h"

static char path[64];

/* The file is unlinked at once and reached through /proc/self/fd, so that
 * no run, even one that crashes, leaves it behind. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char name[] = "/tmp/tessera-fuzz-config.XXXXXX";
    (void)argc, (void)argv;
    int fd = mkstemp(name);
    if (fd < 0) {
        perror("fuzz_config: mkstemp");
        abort();
    }
    unlink(name);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "wb");
    FUZZ_ASSERT(f != NULL);
    FUZZ_ASSERT(fwrite(text, 1, strlen(text), f) == strlen(text));
    FUZZ_ASSERT(fclose(f) == 0);
}

static void check_loaded(const config *c)
{
    char err[256] = "";
    FUZZ_ASSERT(c->database && *c->database && c->server.listen);
    FUZZ_ASSERT(c->auth.token_length >= 32 && c->auth.token_length <= 512);
    FUZZ_ASSERT(c->server.acl_error_status == 401 || c->server.acl_error_status == 403);
    model_registry *reg = models_load(c->models, err, sizeof err);
    if (reg)
        FUZZ_ASSERT(models_count(reg) >= MODELS_BUILTIN_COUNT);
    else
        FUZZ_ASSERT(err[0] != '\0' && strlen(err) < sizeof err);
    models_free(reg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    config a, b;
    char ea[256] = "", eb[256] = "";
    cfg_defaults(&a);
    cfg_defaults(&b);
    int ra = cfg_load_string(&a, text, ea, sizeof ea);
    write_file(text);
    int rb = cfg_load_file(&b, path, eb, sizeof eb);
    FUZZ_ASSERT(ra == rb);
    if (ra == 0)
        check_loaded(&a);
    else
        FUZZ_ASSERT(ea[0] != '\0' && eb[0] != '\0');
    cfg_free(&a);
    cfg_free(&b);
    free(text);
    return 0;
}
