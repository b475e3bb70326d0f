# mk/install.mk — greenrun and the man pages: built by `make`, installed by `make install`
# beside the library, <green.h> and green.pc (Makefile), removed by `make uninstall`.
#
#   $(B)/greenrun                scripts/greenrun.in with the version and the install
#                                directories filled in -> $(BINDIR)/greenrun
#   man/greenrun.1, man/libgreen.7  roff, installed as they are -> $(MANDIR)/man1, man7
#
# $(B)/install-dirs records PREFIX, LIBDIR, INCDIR, BINDIR and MANDIR; it is rewritten only
# when one of them changes, and the files that bake them in ($(B)/greenrun, $(B)/green.pc)
# depend on it, so `make; make install PREFIX=/usr` installs files that say /usr.
#
# Their tests are the `install`, `greenrun` and `man` suites of $(B)/test_preload
# (tests/preload/test_install.c): they run `make install` and `make uninstall` into a
# DESTDIR of their own from the repository root, which they find in GREEN_SRC_DIR,
# exported here to the test-preload recipe.  `make test-install` runs those suites alone.

BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
GREEN_VERSION_STRING := $(shell sed -n 's/^\#define GREEN_VERSION "\(.*\)"/\1/p' runtime/green.h)
INSTALL_MAN := man/greenrun.1 man/libgreen.7

EXTRA_TARGETS += $(B)/greenrun

.PHONY: FORCE install-greenrun uninstall-greenrun test-install
FORCE:

$(B)/install-dirs: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX) $(LIBDIR) $(INCDIR) $(BINDIR) $(MANDIR)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(B)/green.pc: $(B)/install-dirs

$(B)/greenrun: scripts/greenrun.in runtime/green.h $(B)/install-dirs
	sed -e 's|@VERSION@|$(GREEN_VERSION_STRING)|' -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(LIBDIR)|' $< > $@.tmp
	chmod 755 $@.tmp
	mv $@.tmp $@

install: install-greenrun
install-greenrun: $(B)/greenrun $(INSTALL_MAN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(B)/greenrun $(DESTDIR)$(BINDIR)/greenrun
	install -m 644 man/greenrun.1 $(DESTDIR)$(MANDIR)/man1/greenrun.1
	install -m 644 man/libgreen.7 $(DESTDIR)$(MANDIR)/man7/libgreen.7

uninstall: uninstall-greenrun
uninstall-greenrun:
	rm -f $(DESTDIR)$(BINDIR)/greenrun $(DESTDIR)$(MANDIR)/man1/greenrun.1 \
	      $(DESTDIR)$(MANDIR)/man7/libgreen.7

test-preload: export GREEN_SRC_DIR := $(abspath .)
test-preload: $(B)/greenrun

test-install: $(B)/libgreen.so $(B)/greenrun $(B)/legacy/sleepers $(B)/test_preload
	GREEN_SRC_DIR=$(abspath .) GREEN_LIB=$(abspath $(B)/libgreen.so) \
	    GREEN_LEGACY_DIR=$(abspath $(B)/legacy) $(B)/test_preload \
	    --filter '@(install|greenrun|man)/*' --jobs 2
