# mk/stress.mk — the reliability suite (issue 6; figures in RELIABILITY.md).
#
#   make test     the fast part: the `faults` suite of $(B)/test_preload (it runs with the
#                 other preload suites in test-preload) and test-soak, a 20 s soak of
#                 legacy_server at 10,000 connections, patched
#   make stress   the long part: STRESS_ROUNDS (5) runs of the faults suite with every
#                 count of injected faults x10 (GREEN_FAULTS_SCALE), then the soak for 300 s
#                 patched and, for reference, 60 s unpatched (the samples:
#                 $(B)/soak-patched.txt, soak-unpatched.txt)
# Every step is bounded: Criterion's suite timeout, soak.sh's loadgen --timeout, timeout(1).

SOAK_NEEDS := $(B)/libgreen.so $(B)/legacy/legacy_server $(filter %/loadgen,$(BENCH_BIN))
STRESS_ENV := GREEN_LIB=$(abspath $(B)/libgreen.so) GREEN_LEGACY_DIR=$(abspath $(B)/legacy)

.PHONY: test-soak stress
test-soak: $(SOAK_NEEDS)
	B=$(B) timeout 300 scripts/soak.sh --conns 10000 --duration 20
TEST_TARGETS += test-soak

STRESS_ROUNDS ?= 5
stress: all
	for i in $$(seq $(STRESS_ROUNDS)); do \
	    echo "stress: faults round $$i of $(STRESS_ROUNDS)"; \
	    $(STRESS_ENV) GREEN_FAULTS_SCALE=10 timeout 1200 $(B)/test_preload \
	        --filter 'faults/*' --jobs 2 || exit 1; \
	done
	B=$(B) timeout 900 scripts/soak.sh --conns 10000 --duration 300 \
	    --samples $(B)/soak-patched.txt
	B=$(B) timeout 600 scripts/soak.sh --conns 10000 --duration 60 --unpatched \
	    --samples $(B)/soak-unpatched.txt
