# mk/ctx.mk — the context-switch selftest (tests/ctx/ctx_selftest.c), built and run three
# ways by `make test`:
#
#   ctx-test-native     the default context switch for this machine (ctx_<arch>.S, or
#                       ctx_ucontext.c where there is no assembly), whatever CTX= says
#   ctx-test-ucontext   the portable ctx_ucontext.c
#   ctx-test-aarch64    ctx_aarch64.S and ctx_ucontext.c cross-compiled static with
#                       aarch64-linux-gnu-gcc and run under qemu-aarch64; when either tool
#                       is missing it prints why it skipped and succeeds
#
# `make ctx-test` runs just these.  The selftest links only the implementation under test
# (no libev, no Criterion, no libgreen) and always builds with -O2 regardless of CFLAGS:
# its live-locals check needs the optimiser to keep values in callee-saved registers.
# Outputs go under $(B)/ctx, so B= works as for everything else.

CTX_TEST_SRC    := tests/ctx/ctx_selftest.c
CTX_TEST_CFLAGS := -std=gnu11 $(WARN) -O2 -g -Iruntime
CTX_NATIVE      := $(if $(filter x86_64 aarch64,$(ARCH)),$(ARCH),ucontext)
ifeq ($(CTX_NATIVE),ucontext)
  CTX_NATIVE_SRC := runtime/ctx_ucontext.c
  CTX_NATIVE_DEF := -DGREEN_CTX_UCONTEXT
else
  CTX_NATIVE_SRC := runtime/ctx_$(CTX_NATIVE).S
  CTX_NATIVE_DEF :=
endif

CTX_A64_CC      := aarch64-linux-gnu-gcc
CTX_A64_RUN     := qemu-aarch64
CTX_A64_MISSING := $(strip $(foreach t,$(CTX_A64_CC) $(CTX_A64_RUN),\
                     $(if $(shell command -v $(t) 2>/dev/null),,$(t))))

TEST_TARGETS  += ctx-test-native ctx-test-ucontext ctx-test-aarch64
EXTRA_TARGETS += $(B)/ctx/selftest-native $(B)/ctx/selftest-ucontext

.PHONY: ctx-test ctx-test-native ctx-test-ucontext ctx-test-aarch64
ctx-test: ctx-test-native ctx-test-ucontext ctx-test-aarch64

$(B)/ctx:
	mkdir -p $@

$(B)/ctx/selftest-native: $(CTX_TEST_SRC) runtime/ctx.h $(CTX_NATIVE_SRC) | $(B)/ctx
	$(CC) $(CTX_TEST_CFLAGS) $(CTX_NATIVE_DEF) -o $@ $(CTX_TEST_SRC) $(CTX_NATIVE_SRC) -lm

$(B)/ctx/selftest-ucontext: $(CTX_TEST_SRC) runtime/ctx.h runtime/ctx_ucontext.c | $(B)/ctx
	$(CC) $(CTX_TEST_CFLAGS) -DGREEN_CTX_UCONTEXT -o $@ $(CTX_TEST_SRC) runtime/ctx_ucontext.c -lm

$(B)/ctx/selftest-aarch64: $(CTX_TEST_SRC) runtime/ctx.h runtime/ctx_aarch64.S | $(B)/ctx
	$(CTX_A64_CC) $(CTX_TEST_CFLAGS) -static -o $@ $(CTX_TEST_SRC) runtime/ctx_aarch64.S -lm

$(B)/ctx/selftest-aarch64-ucontext: $(CTX_TEST_SRC) runtime/ctx.h runtime/ctx_ucontext.c | $(B)/ctx
	$(CTX_A64_CC) $(CTX_TEST_CFLAGS) -DGREEN_CTX_UCONTEXT -static -o $@ $(CTX_TEST_SRC) \
	    runtime/ctx_ucontext.c -lm

ctx-test-native: $(B)/ctx/selftest-native
	$<

ctx-test-ucontext: $(B)/ctx/selftest-ucontext
	$<

ifeq ($(CTX_A64_MISSING),)
ctx-test-aarch64: $(B)/ctx/selftest-aarch64 $(B)/ctx/selftest-aarch64-ucontext
	$(CTX_A64_RUN) $(B)/ctx/selftest-aarch64
	$(CTX_A64_RUN) $(B)/ctx/selftest-aarch64-ucontext
else
ctx-test-aarch64:
	@echo "ctx: aarch64 check SKIPPED: $(CTX_A64_MISSING) not found on PATH" \
	      "(Debian: apt-get install gcc-aarch64-linux-gnu qemu-user)"
endif
