# mk/compare.mk — scripts/compare.sh (issue 4) and its end-to-end test.
#
# The test is the `compare` suite of $(B)/test_preload (tests/preload/test_compare.c): it
# runs `compare.sh --quick` on a tiny matrix and finds the script and the build directory
# in GREEN_COMPARE and GREEN_BUILD_DIR, exported here to the test-preload recipe (and to
# test-compare, which runs that suite alone).  compare.sh builds what it needs itself; the
# prerequisites below only make sure it finds it already built.

COMPARE_NEEDS := $(B)/libgreen.so $(B)/legacy/legacy_server $(filter %/loadgen,$(BENCH_BIN))

test-preload: export GREEN_COMPARE := $(abspath scripts/compare.sh)
test-preload: export GREEN_BUILD_DIR := $(abspath $(B))
test-preload: $(COMPARE_NEEDS)

.PHONY: test-compare
test-compare: $(COMPARE_NEEDS) $(B)/test_preload
	GREEN_COMPARE=$(abspath scripts/compare.sh) GREEN_BUILD_DIR=$(abspath $(B)) \
	    GREEN_LEGACY_DIR=$(abspath $(B)/legacy) $(B)/test_preload --filter 'compare/*'
