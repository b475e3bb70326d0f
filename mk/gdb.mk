# mk/gdb.mk — the gdb extension gdb/libgreen-gdb.py (info green-threads, green bt).
#
# make install puts it in two places:
#   $(PREFIX)/share/gdb/auto-load$(LIBDIR)/libgreen.so-gdb.py
#       where gdb auto-loads it for $(LIBDIR)/libgreen.so: gdb looks for
#       <scripts-directory>/<objfile's real path>-gdb.py (gdb manual, "objfile-gdb.ext
#       file").  Its default scripts-directory and safe-path are /usr/share/gdb/auto-load on
#       Debian, so this works as is with PREFIX=/usr; the script's header says what to add
#       to ~/.gdbinit for another PREFIX.
#   $(PREFIX)/share/libgreen/libgreen-gdb.py
#       for loading by hand: gdb -x <it>, or `source <it>` inside gdb.
# libgreen.so itself must keep its debug info for the extension (built -O2 -g; make install
# does not strip it).
#
# Its test is the `gdb` suite of $(B)/test_preload (tests/preload/test_gdb.c), which
# attaches gdb to tests/legacy/parked; it finds the script in GREEN_GDB_SCRIPT, exported
# here to test-preload and to test-gdb, which runs that suite alone.

GDB_SCRIPT  := gdb/libgreen-gdb.py
GDB_DATADIR := $(PREFIX)/share

.PHONY: install-gdb uninstall-gdb test-gdb
install: install-gdb
uninstall: uninstall-gdb

install-gdb:
	install -d $(DESTDIR)$(GDB_DATADIR)/gdb/auto-load$(LIBDIR) $(DESTDIR)$(GDB_DATADIR)/libgreen
	install -m 644 $(GDB_SCRIPT) $(DESTDIR)$(GDB_DATADIR)/gdb/auto-load$(LIBDIR)/libgreen.so-gdb.py
	install -m 644 $(GDB_SCRIPT) $(DESTDIR)$(GDB_DATADIR)/libgreen/libgreen-gdb.py

uninstall-gdb:
	rm -f $(DESTDIR)$(GDB_DATADIR)/gdb/auto-load$(LIBDIR)/libgreen.so-gdb.py \
	      $(DESTDIR)$(GDB_DATADIR)/libgreen/libgreen-gdb.py

test-preload: export GREEN_GDB_SCRIPT := $(abspath $(GDB_SCRIPT))

test-gdb: $(B)/libgreen.so $(B)/legacy/parked $(B)/test_preload
	GREEN_GDB_SCRIPT=$(abspath $(GDB_SCRIPT)) GREEN_LIB=$(abspath $(B)/libgreen.so) \
	    GREEN_LEGACY_DIR=$(abspath $(B)/legacy) $(B)/test_preload --filter 'gdb/*' --jobs 2

# The same suite on a libgreen.so built with CTX=ucontext (a ucontext_t per green thread
# instead of a saved stack pointer), built in $(B)/ucontext by a sub-make.
TEST_TARGETS += test-gdb-ucontext
GDB_UC_LIB := $(abspath $(B))/ucontext/libgreen.so

.PHONY: test-gdb-ucontext
test-gdb-ucontext: $(B)/legacy/parked $(B)/test_preload
	$(MAKE) CTX=ucontext B=$(abspath $(B))/ucontext $(GDB_UC_LIB)
	GREEN_GDB_SCRIPT=$(abspath $(GDB_SCRIPT)) GREEN_LIB=$(GDB_UC_LIB) \
	    GREEN_LEGACY_DIR=$(abspath $(B)/legacy) $(B)/test_preload --filter 'gdb/*' --jobs 2
