# mk/asan.mk — the runtime and the preload shim under AddressSanitizer and UBSan (issue 6).
#
#   make test-asan          build $(B)/asan/{test_runtime,libgreen.so} with
#                           -fsanitize=address,undefined and run the runtime suite: any
#                           ASan, LSan or UBSan report fails it
#   make test-asan-preload  the legacy programs (unsanitised, built as usual) patched with
#                           the sanitised libgreen.so, libasan preloaded first: the `legacy`
#                           suite of $(B)/test_preload
#
# The sanitised objects are built by a second make of this Makefile with B=$(B)/asan, so
# the rules are the ordinary ones and the normal build is untouched.  The switch is
# annotated for ASan (runtime/sched.c, only when __SANITIZE_ADDRESS__ is defined), so ASan
# knows which stack runs.  Settings that are not ASan's defaults, and why:
#   halt_on_error / print_stacktrace (UBSan)  a UBSan report is a failure, not a warning
#   detect_leaks=1                            LSan on; leaks by design are suppressed in
#                                             tests/asan/lsan.supp, each one explained there
#   detect_stack_use_after_return=1           exercises the fake stacks that the switch
#                                             annotations hand over
#   handle_segv=0                             ASan keeps out of SIGSEGV, so a green stack
#                                             overflow is reported by the runtime (debug.c)
#                                             and the process dies of SIGSEGV, as in a
#                                             normal build; the overflow tests check both.
#                                             (Wild accesses are caught by ASan's shadow
#                                             checks before they can fault.)

ASAN_B      := $(B)/asan
ASAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_MAKE    = $(MAKE) --no-print-directory B=$(ASAN_B) CFLAGS="-O1 -g $(ASAN_FLAGS)" \
                   LIBS="-lev -lpthread $(ASAN_FLAGS)"
ASAN_ENV    := ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:handle_segv=0 \
               LSAN_OPTIONS=suppressions=$(abspath tests/asan/lsan.supp):print_suppressions=0 \
               UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: test-asan test-asan-preload asan-build
# Always re-run the inner make: it knows the dependencies, this fragment does not.
asan-build:
	+$(ASAN_MAKE) $(ASAN_B)/test_runtime $(ASAN_B)/libgreen.so

test-asan: asan-build
	$(ASAN_ENV) $(ASAN_B)/test_runtime --jobs 2

test-asan-preload: asan-build $(LEGACY_BIN) $(B)/test_preload
	GREEN_PRELOAD_FIRST=$(shell $(CC) -print-file-name=libasan.so) \
	    GREEN_LIB=$(abspath $(ASAN_B)/libgreen.so) GREEN_LEGACY_DIR=$(abspath $(B)/legacy) \
	    $(ASAN_ENV) $(B)/test_preload --filter 'legacy/*' --jobs 2
