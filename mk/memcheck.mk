# mk/memcheck.mk — valgrind's memcheck over the runtime suite (issue 6).
#
#   make test-memcheck   $(B)/test_runtime under memcheck: every Criterion worker and every
#                        child a test forks is followed (--trace-children), each process
#                        logs to $(MEMCHECK_DIR)/<pid>.log, and the target fails, naming
#                        the logs, if any process reported an error
#
# Not part of `make test`: under memcheck the suite takes about 2 minutes on 2 cores,
# against 10 s without, which would more than double `make test`.  The preload
# side is: the `memcheck` suite of $(B)/test_preload (tests/preload/test_memcheck.c) runs
# patched legacy programs under memcheck.  The runtime registers every green stack with
# valgrind (runtime/stack.c), so memcheck follows the switches.  Definite leaks are
# errors; memory still reachable at exit is not.  A process killed by SIGKILL (tests do
# that to their children, and Criterion to a test past its timeout) writes no summary, so
# its log counts as failed if it holds any error report, which always comes with a stack
# ("at 0x...").  Suppressions: tests/memcheck/runtime.supp, each one explained.

MEMCHECK_DIR := $(B)/memcheck
MEMCHECK     := valgrind --trace-children=yes --leak-check=full --show-leak-kinds=definite \
                    --errors-for-leak-kinds=definite \
                    --suppressions=$(abspath tests/memcheck/runtime.supp) \
                    --log-file=$(abspath $(MEMCHECK_DIR))/%p.log

.PHONY: test-memcheck
test-memcheck: $(B)/test_runtime
	rm -rf $(MEMCHECK_DIR) && mkdir -p $(MEMCHECK_DIR)
	$(MEMCHECK) $(B)/test_runtime --jobs 2
	@bad=""; n=0; for f in $(MEMCHECK_DIR)/*.log; do n=$$((n + 1)); \
	    if grep -q "ERROR SUMMARY:" $$f; then grep -q "ERROR SUMMARY: 0 errors" $$f; \
	    else ! grep -q "^==[0-9]*==    at 0x" $$f; fi || bad="$$bad $$f"; done; \
	if [ -n "$$bad" ]; then echo "memcheck: errors reported in:$$bad" >&2; exit 1; fi; \
	echo "memcheck: $$n processes, no error"
