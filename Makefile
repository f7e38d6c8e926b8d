# tessera — build, run, test.
#
# Plain Make on purpose: one binary, a dozen C files and pkg-config are all
# there is, and Make is on every Debian machine already (Meson is not).
#
#   make          build build/tessera (optimised, -Wall -Wextra)
#   make run      install what is missing, build, start on SQLite at 127.0.0.1:3000
#   make test     install what is missing, build (release + ASan/UBSan), run every test
#   make asan     build build-asan/tessera with AddressSanitizer + UBSan
#   make layers   check that every #include looks down the layer order
#   make bench    the benchmark against nginx (not a test: asserts nothing)
#   make mutate   plant each mutation of tests/mutate/mutations.json, run its tests (slow)
#   make fuzz     run each libFuzzer target for FUZZ_SECONDS (default 60)

CC       ?= cc
PKGS     := libmicrohttpd jansson sqlite3 libsodium libpq libpcre2-8
# A module pkg-config does not know would otherwise leave its flags out
# silently and fail later with a missing header; say which one, and how to
# get it. (Not for the goals that run `make deps` first, nor for clean.)
ifneq ($(filter-out deps clean run test bench soak layers,$(or $(MAKECMDGOALS),all)),)
PKG_MISSING := $(strip $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) && echo ok),,$(p))))
ifneq ($(PKG_MISSING),)
$(error pkg-config does not know: $(PKG_MISSING). Run `make deps` (scripts/install-deps.sh) to install them)
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ifneq ($(WERROR),)
WARN     += -Werror
endif
# -MMD -MP: each object gets a .d file naming the headers it really
# includes, so a header change rebuilds only what uses it.
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE $(WARN) -Isrc $(PKG_CFLAGS) -pthread -MMD -MP
LDLIBS   := $(PKG_LIBS) -pthread -lm

SRCS     := $(wildcard src/*/*.c)
LIB_SRCS := $(filter-out src/cli/main.c,$(SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)

BUILD      := build
ASAN_BUILD := build-asan

# The user's CFLAGS and LDFLAGS (make CFLAGS=... LDFLAGS=...) come last, so
# they can add to or override ours.
RELEASE_CFLAGS := $(CFLAGS_COMMON) -O2 -g $(CFLAGS)
ASAN_CFLAGS    := $(CFLAGS_COMMON) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined $(CFLAGS)

.PHONY: all run test asan unit e2e clean deps bench soak layers mutate fuzz fuzz-build
all: $(BUILD)/tessera

deps:
	@bash scripts/install-deps.sh

# --- release build -------------------------------------------------------
$(BUILD)/%.o: %.c $(BUILD)/%.d
	@mkdir -p $(dir $@)
	$(CC) $(RELEASE_CFLAGS) -c $< -o $@
	@touch $@

$(BUILD)/tessera: $(SRCS:%.c=$(BUILD)/%.o)
	$(CC) $(RELEASE_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(LIB_SRCS:%.c=$(BUILD)/%.o) $(UNIT_SRCS:%.c=$(BUILD)/%.o)
	$(CC) $(RELEASE_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- sanitizer build -----------------------------------------------------
$(ASAN_BUILD)/%.o: %.c $(ASAN_BUILD)/%.d
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -c $< -o $@
	@touch $@

$(ASAN_BUILD)/tessera: $(SRCS:%.c=$(ASAN_BUILD)/%.o)
	$(CC) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(ASAN_BUILD)/unit-tests: $(LIB_SRCS:%.c=$(ASAN_BUILD)/%.o) $(UNIT_SRCS:%.c=$(ASAN_BUILD)/%.o)
	$(CC) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

asan: $(ASAN_BUILD)/tessera

# An object without its .d (built before -MMD) is built again; the touch
# above keeps the .o newer than the .d gcc writes beside it.
%.d: ;
.PRECIOUS: %.d
-include $(wildcard $(BUILD)/src/*/*.d $(BUILD)/tests/unit/*.d $(ASAN_BUILD)/src/*/*.d $(ASAN_BUILD)/tests/unit/*.d)

# layers only look down (core < model < store < auth < http < api < cli)
layers:
	@bash scripts/layers.sh

# --- fuzzing (clang + libFuzzer, docs/security/fuzzing.md) ----------------
# The project's objects again, built by clang with the fuzzer's coverage and
# ASan/UBSan into their own folder; each target is tests/fuzz/fuzz_NAME.c.
FUZZ_CC      := clang
FUZZ_BUILD   := build-fuzz
FUZZ_TARGETS := filter_json filter_query body token config router
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := $(CFLAGS_COMMON) -Itests/fuzz -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

$(FUZZ_BUILD)/%.o: %.c $(wildcard src/*/*.h) $(wildcard tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libtessera.a: $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/tests/fuzz/models.o $(FUZZ_BUILD)/libtessera.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o) $(FUZZ_BUILD)/tests/fuzz/models.o
fuzz-build: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@bash tests/fuzz/run.sh --seconds $(FUZZ_SECONDS) --keep

# --- the two commands of the README ---------------------------------------
run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/tessera serve --config examples/tessera.json

test: deps
	@bash scripts/layers.sh
	@$(MAKE) --no-print-directory WERROR=1 $(BUILD)/tessera $(BUILD)/unit-tests $(ASAN_BUILD)/tessera $(ASAN_BUILD)/unit-tests
	@$(MAKE) --no-print-directory WERROR=1 fuzz-build
	@bash tests/run.sh

# tessera against nginx's `return 200`, side by side (see docs/performance.md)
bench: deps
	@$(MAKE) --no-print-directory all
	/usr/bin/python3 bench/bench.py $(BENCH_ARGS)

# five minutes at 80 % of the peak rate: errors and memory growth
soak: deps
	@$(MAKE) --no-print-directory all
	/usr/bin/python3 bench/bench.py --soak 300

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Each targeted mutation of the security core must make its tests fail
# (tests/mutate/run.py; slow, so not part of `make test`).
mutate: deps
	@$(MAKE) --no-print-directory WERROR=1 $(BUILD)/tessera
	/usr/bin/python3 tests/mutate/run.py $(MUTATE_ARGS)
