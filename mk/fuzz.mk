# mk/fuzz.mk — the differential fuzz target fuzz/green_fuzz.c (issue 6): libFuzzer, built
# with clang, linked with its own coverage-instrumented copy of the runtime and the shim
# under $(B)/fuzz (the library's objects stay gcc-built and uninstrumented).
#
#   make fuzz        FUZZ_TIME seconds (default 300) in FUZZ_JOBS processes (default 2),
#                    growing the corpus in $(B)/fuzz/corpus from the seeds; a difference
#                    leaves its input in $(B)/fuzz/ (crash-*): copy it to fuzz/regress/
#   make fuzz-test   (part of `make test`) every seed and every fuzz/regress/ input once,
#                    then FUZZ_TEST_RUNS inputs (default 500, ~20 s) fuzzed from the seeds
#                    with the fixed FUZZ_SEED: the same inputs on every machine, so CI
#                    checks for regressions and never fails on what a random draw found
#                    (finding new differences is `make fuzz`'s job)
#
# The seeds are fuzz/seeds.txt, one hex line each, turned into files at build time.  When
# clang-14 or its libFuzzer runtime is missing, fuzz-test says so and succeeds.

FUZZ_CC        ?= clang-14
FUZZ_TIME      ?= 300
FUZZ_JOBS      ?= 2
FUZZ_TEST_RUNS ?= 500
FUZZ_SEED      ?= 1
# -Wno-ignored-attributes: clang warns where glibc's inline stdio (getline, getchar at -O1)
# meets the shim's hooks of the same names; gcc does not.
FUZZ_CFLAGS    := -std=gnu11 $(WARN) -Wno-ignored-attributes -Wno-unknown-warning-option \
                  -O1 -g -fvisibility=hidden -Iruntime -Ipreload \
                  $(filter -DGREEN_CTX_UCONTEXT,$(ALL_CFLAGS)) -fsanitize=fuzzer-no-link
FUZZ_RT_OBJ    := $(patsubst runtime/%,$(B)/fuzz/rt/%.o,$(RT_SRC))
FUZZ_PL_OBJ    := $(patsubst preload/%,$(B)/fuzz/pl/%.o,$(PL_SRC))
FUZZ_REGRESS   := $(filter-out %/README,$(wildcard fuzz/regress/*))
# -rss_limit_mb=0: no libFuzzer thread sleeping through the hooks (see green_fuzz.c).
# -max_len/-len_control: inputs up to MAX_OPS operations, reached in minutes, not hours.
FUZZ_FLAGS     := -rss_limit_mb=0 -timeout=60 -max_len=160 -len_control=10 \
                  -artifact_prefix=$(abspath $(B)/fuzz)/
FUZZ_RT_LIB    := $(shell $(FUZZ_CC) -print-resource-dir 2>/dev/null)/lib/linux/$\
                  libclang_rt.fuzzer-*.a
FUZZ_MISSING   := $(strip $(if $(shell command -v $(FUZZ_CC) 2>/dev/null),\
                    $(if $(wildcard $(FUZZ_RT_LIB)),,libclang-rt-14-dev),$(FUZZ_CC)))

.PHONY: fuzz fuzz-test fuzz-seeds
$(B)/fuzz/rt $(B)/fuzz/pl $(B)/fuzz/seeds $(B)/fuzz/corpus:
	mkdir -p $@
$(B)/fuzz/rt/%.c.o: runtime/%.c runtime/*.h | $(B)/fuzz/rt
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/fuzz/rt/%.S.o: runtime/%.S | $(B)/fuzz/rt
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/fuzz/pl/%.c.o: preload/%.c preload/*.h runtime/*.h | $(B)/fuzz/pl
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(B)/fuzz/green_fuzz: fuzz/green_fuzz.c preload/hook.h $(FUZZ_RT_OBJ) $(FUZZ_PL_OBJ)
	$(FUZZ_CC) $(filter-out -fsanitize=fuzzer-no-link,$(FUZZ_CFLAGS)) -fsanitize=fuzzer \
	    -o $@ $< $(FUZZ_RT_OBJ) $(FUZZ_PL_OBJ) $(LIBS) -ldl -lrt

# One file per line of seeds.txt (comments and blank lines skipped), named by line number.
fuzz-seeds: | $(B)/fuzz/seeds
	rm -f $(B)/fuzz/seeds/*
	grep -n -v -e '^#' -e '^$$' fuzz/seeds.txt | while IFS=: read -r n hex; do \
	    perl -e 'print pack("H*", $$ARGV[0])' "$${hex%% *}" > $(B)/fuzz/seeds/seed-$$n; done

ifeq ($(FUZZ_MISSING),)
TEST_TARGETS += fuzz-test

fuzz: $(B)/fuzz/green_fuzz fuzz-seeds | $(B)/fuzz/corpus
	cd $(B)/fuzz && ./green_fuzz $(FUZZ_FLAGS) -max_total_time=$(FUZZ_TIME) \
	    -jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS) corpus seeds
	@tail -n 3 $(B)/fuzz/fuzz-*.log

fuzz-test: $(B)/fuzz/green_fuzz fuzz-seeds
	$(B)/fuzz/green_fuzz $(FUZZ_FLAGS) $(B)/fuzz/seeds/* $(FUZZ_REGRESS)
	rm -rf $(B)/fuzz/test-corpus && mkdir -p $(B)/fuzz/test-corpus
	$(B)/fuzz/green_fuzz $(FUZZ_FLAGS) -seed=$(FUZZ_SEED) -runs=$(FUZZ_TEST_RUNS) \
	    $(B)/fuzz/test-corpus $(B)/fuzz/seeds
else
fuzz fuzz-test:
	@echo "fuzz: SKIPPED: $(FUZZ_MISSING) not found (Debian: apt-get install clang-14" \
	      "libclang-rt-14-dev)"
endif
