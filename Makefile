# libgreen — see README.md.  Everything is built into build/ (git-ignored).
#
#   make            library, tests, benchmarks and tools
#   make test       run the test suites
#   make bench      run the benchmarks (figures go to BENCHMARKS.md by hand)
#   make install    PREFIX=/usr/local DESTDIR= : library, <green.h>, green.pc, greenrun and
#                   the man pages (mk/install.mk)
#   make CTX=ucontext   use the portable context switch instead of the assembly one

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
B       := build

ARCH    := $(shell $(CC) -dumpmachine | cut -d- -f1)
ifeq ($(CTX),)
  CTX := $(if $(filter x86_64 aarch64,$(ARCH)),$(ARCH),ucontext)
endif

WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -Iruntime
ifeq ($(CTX),ucontext)
  ALL_CFLAGS += -DGREEN_CTX_UCONTEXT
  CTX_SRC := runtime/ctx_ucontext.c
else
  CTX_SRC := runtime/ctx_$(CTX).S
endif
LIBS    := -lev -lpthread -lunwind

RT_SRC  := $(wildcard runtime/*.c)
RT_SRC  := $(filter-out runtime/ctx_%.c,$(RT_SRC)) $(CTX_SRC)
RT_OBJ  := $(patsubst runtime/%,$(B)/rt/%.o,$(RT_SRC))
PL_SRC  := $(wildcard preload/*.c)
PL_OBJ  := $(patsubst preload/%,$(B)/pl/%.o,$(PL_SRC))

TEST_SRC := $(wildcard tests/runtime/test_*.c)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))

.PHONY: all deps test bench install uninstall clean
all: deps $(B)/libgreen.so $(B)/libgreen.a $(B)/green.pc $(B)/test_runtime $(BENCH_BIN)

# Each area adds its own targets to TEST_TARGETS / EXTRA_TARGETS in a fragment of mk/.
TEST_TARGETS :=
EXTRA_TARGETS :=
-include mk/*.mk
all: $(EXTRA_TARGETS)

deps:
	@scripts/deps.sh

$(B)/rt/%.c.o: runtime/%.c runtime/*.h | $(B)/rt
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/rt/%.S.o: runtime/%.S | $(B)/rt
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/pl/%.c.o: preload/%.c preload/*.h runtime/*.h | $(B)/pl
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/rt $(B)/pl $(B)/bench:
	mkdir -p $@

# libgreen.so: the runtime and the preload shim (whose hooks stay off unless the library is
# preloaded or GREEN_PATCH asks for them).  libgreen.a: the runtime alone.
$(B)/libgreen.so: $(RT_OBJ) $(PL_OBJ)
	$(CC) -shared -Wl,-soname,libgreen.so -Wl,-z,noexecstack -o $@ $^ $(LIBS) -ldl
$(B)/libgreen.a: $(RT_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/green.pc: green.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	    -e 's|@VERSION@|$(shell sed -n 's/^#define GREEN_VERSION "\(.*\)"/\1/p' runtime/green.h)|' $< > $@

# The tests link the static archive so they can reach internal seams (internal.h).
$(B)/test_runtime: $(TEST_SRC) $(wildcard tests/runtime/*.h) $(B)/libgreen.a
	$(CC) $(ALL_CFLAGS) -Itests/runtime -o $@ $(TEST_SRC) $(B)/libgreen.a $(LIBS) -lcriterion

$(B)/bench/%: bench/%.c $(B)/libgreen.a | $(B)/bench
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libgreen.a $(LIBS)

test: all $(TEST_TARGETS)
	$(B)/test_runtime --jobs 2

bench: all
	scripts/bench.sh

install: $(B)/libgreen.so $(B)/libgreen.a $(B)/green.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(B)/libgreen.so $(DESTDIR)$(LIBDIR)/libgreen.so
	install -m 644 $(B)/libgreen.a $(DESTDIR)$(LIBDIR)/libgreen.a
	install -m 644 runtime/green.h $(DESTDIR)$(INCDIR)/green.h
	install -m 644 $(B)/green.pc $(DESTDIR)$(LIBDIR)/pkgconfig/green.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libgreen.so $(DESTDIR)$(LIBDIR)/libgreen.a \
	      $(DESTDIR)$(INCDIR)/green.h $(DESTDIR)$(LIBDIR)/pkgconfig/green.pc

clean:
	rm -rf $(B)
