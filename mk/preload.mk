# The preload shim's tests.
#   tests/legacy/*.c   programs that know nothing of libgreen: plain `cc -pthread`, built
#                      into $(B)/legacy/, run with and without LD_PRELOAD by the tests
#   tests/preload/*.c  Criterion suites, one binary $(B)/test_preload; they find the
#                      library and the programs through GREEN_LIB and GREEN_LEGACY_DIR
LEGACY_SRC := $(wildcard tests/legacy/*.c)
LEGACY_BIN := $(patsubst tests/legacy/%.c,$(B)/legacy/%,$(LEGACY_SRC))
PRELOAD_TEST_SRC := $(wildcard tests/preload/*.c)

$(B)/legacy:
	mkdir -p $@
$(B)/legacy/%: tests/legacy/%.c | $(B)/legacy
	$(CC) -O2 -g -Wall -pthread -o $@ $<
$(B)/legacy/probe_%: tests/legacy/probe.h

$(B)/test_preload: $(PRELOAD_TEST_SRC) $(wildcard tests/preload/*.h) | $(B)/legacy
	$(CC) -std=gnu11 $(WARN) $(CFLAGS) -Itests/preload -o $@ $(PRELOAD_TEST_SRC) -lcriterion -lpthread

EXTRA_TARGETS += $(LEGACY_BIN) $(if $(PRELOAD_TEST_SRC),$(B)/test_preload)

.PHONY: test-preload
test-preload: $(B)/libgreen.so $(LEGACY_BIN) $(if $(PRELOAD_TEST_SRC),$(B)/test_preload)
	$(if $(PRELOAD_TEST_SRC),GREEN_LIB=$(abspath $(B)/libgreen.so) GREEN_LEGACY_DIR=$(abspath $(B)/legacy) $(B)/test_preload --jobs 2)
TEST_TARGETS += test-preload
