# mk/asan.mk — the runtime and the preload shim under AddressSanitizer and UBSan (issue 6).
#
#   make test-asan          build $(B)/asan/{test_runtime,libgreen.so} with
#                           -fsanitize=address,undefined and run the runtime suite: any
#                           ASan, LSan or UBSan report fails it
#   make test-asan-preload  legacy programs (unsanitised, built as usual) patched with the
#                           sanitised libgreen.so, libasan preloaded first (ASan must come
#                           first): the `legacy` tests of $(B)/test_preload that can run so
#
# Both are in `make test` (about 10 s together).  The sanitised objects are built by a
# second make of this Makefile with B=$(B)/asan, so the rules are the ordinary ones and the
# normal build is untouched.  The switch is announced to ASan (runtime/sched.c, compiled
# only when __SANITIZE_ADDRESS__ is defined), so ASan knows which stack runs.  Settings
# that are not ASan's defaults, and why:
#   halt_on_error / print_stacktrace (UBSan)  a UBSan report is a failure, not a warning
#   detect_leaks=1                            LSan on; leaks by design are suppressed in
#                                             tests/asan/lsan.supp, each one explained there
#   detect_stack_use_after_return=1           exercises the fake stacks that the switch
#                                             annotations hand over (runtime suite only)
#   handle_segv=0                             ASan keeps out of SIGSEGV, so a green stack
#                                             overflow is reported by the runtime (debug.c)
#                                             and the process dies of SIGSEGV, as in a
#                                             normal build; the overflow tests check both.
#                                             (Wild accesses are caught by ASan's shadow
#                                             checks before they can fault.)
#
# Under the preload, only legacy programs that create no pthreads can run.  libasan must
# come first in LD_PRELOAD, so a program's pthread_create reaches ASan's interceptor, which
# passes it to libgreen's and then, in the new green thread, registers an ASan thread for
# what ASan takes to be a new OS thread: ASan's per-thread state (kept under a pthread key,
# which the shim makes per green thread) then dies in a CHECK of asan_thread.cpp.  For the
# same reason fake stacks stay off there: ASan's own pthread_getspecific call lands in the
# shim's instrumented hook, which asks ASan for a fake frame, which calls it again.  Those
# are limits of ASan's model (one pthread = one OS thread), not libgreen findings; the
# programs that create threads are named when the target runs.  So is spin_alloc, whose
# malloc, found before libasan's, leaves ASan without the allocator it needs.

ASAN_B      := $(B)/asan
ASAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_MAKE    = $(MAKE) --no-print-directory B=$(ASAN_B) CFLAGS="-O1 -g $(ASAN_FLAGS)" \
                   LIBS="$(LIBS) $(ASAN_FLAGS)"
ASAN_ENV    := LSAN_OPTIONS=suppressions=$(abspath tests/asan/lsan.supp):print_suppressions=0 \
               UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ASAN_RT_ENV := $(ASAN_ENV) ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:handle_segv=0
ASAN_PL_ENV := $(ASAN_ENV) ASAN_OPTIONS=detect_leaks=1:handle_segv=0

TEST_TARGETS += test-asan test-asan-preload

.PHONY: test-asan test-asan-preload asan-build
# Always re-run the inner make: it knows the dependencies, this fragment does not.
asan-build:
	+$(ASAN_MAKE) $(ASAN_B)/test_runtime $(ASAN_B)/libgreen.so

test-asan: asan-build
	$(ASAN_RT_ENV) $(ASAN_B)/test_runtime --jobs 2

ASAN_PRELOAD_PROGS := epoll_server poll_server select_server fork_server
ASAN_SPACE         := $(subst ,, )
ASAN_PRELOAD_TESTS := legacy/@($(subst $(ASAN_SPACE),|,$(ASAN_PRELOAD_PROGS)))_patched_*
test-asan-preload: asan-build $(ASAN_PRELOAD_PROGS:%=$(B)/legacy/%) $(B)/test_preload
	@echo "asan-preload: not run (see mk/asan.mk): legacy_server, legacy_client," \
	      "stdio_server, sleepers, eat_play (they create pthreads); spin_alloc (its own malloc)"
	GREEN_PRELOAD_FIRST=$(shell $(CC) -print-file-name=libasan.so) \
	    GREEN_LIB=$(abspath $(ASAN_B)/libgreen.so) GREEN_LEGACY_DIR=$(abspath $(B)/legacy) \
	    $(ASAN_PL_ENV) $(B)/test_preload --filter '$(ASAN_PRELOAD_TESTS)' --jobs 2
