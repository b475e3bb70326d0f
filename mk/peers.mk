# mk/peers.mk — the peer servers scripts/compare.sh measures libgreen against (issue 4),
# all built or copied into $(B)/peers so one directory holds every runnable peer:
#
#   $(B)/peers/libev_echo       bench/peers/libev_echo.c: hand-written single-thread libev
#   $(B)/peers/gevent_echo.py   bench/peers/gevent_echo.py, copied: the gevent tutorial's
#                               server, run by its #!/usr/bin/python3 (Debian's python3-gevent)
#   $(B)/peers/go_echo          bench/peers/go_echo: goroutine per connection; the caller
#                               sets GOMAXPROCS in its environment
#
# Each takes one argument, PORT (0: any free port), prints "listening on <port>" once it
# accepts, echoes every read back unchanged and exits 0 on SIGTERM or SIGINT.
#
# The Go build uses the standard library only and is kept inside $(B): its cache, GOPATH and
# GOENV point there or nowhere, and GOPROXY=off makes certain nothing is ever downloaded.
# The peers are built with -O2 whatever CFLAGS says: they are benchmark subjects, not code
# under test.  Their check is the `peers` suite in $(B)/test_preload (tests/preload/
# test_peers.c), which finds them in $GREEN_PEERS_DIR, else $GREEN_LEGACY_DIR/../peers;
# `make test-peers` runs that suite alone.

PEERS_BIN := $(B)/peers/libev_echo $(B)/peers/gevent_echo.py $(B)/peers/go_echo
PEERS_GO_ENV := GO111MODULE=on GOPROXY=off GOFLAGS= GOENV=off GOTOOLCHAIN=local \
                GOCACHE=$(abspath $(B))/peers/go-cache GOPATH=$(abspath $(B))/peers/go-path

EXTRA_TARGETS += $(PEERS_BIN)

$(B)/peers:
	mkdir -p $@

$(B)/peers/libev_echo: bench/peers/libev_echo.c | $(B)/peers
	$(CC) -std=gnu11 $(WARN) -O2 -g -o $@ $< -lev

$(B)/peers/gevent_echo.py: bench/peers/gevent_echo.py | $(B)/peers
	install -m 755 $< $@

$(B)/peers/go_echo: bench/peers/go_echo/main.go bench/peers/go_echo/go.mod | $(B)/peers
	cd bench/peers/go_echo && $(PEERS_GO_ENV) go build -trimpath -o $(abspath $@) .

# The preload suites include tests/preload/test_peers.c, so they need the peers built.
test-preload: $(PEERS_BIN)

.PHONY: test-peers
test-peers: $(PEERS_BIN) $(B)/test_preload
	GREEN_PEERS_DIR=$(abspath $(B)/peers) GREEN_LEGACY_DIR=$(abspath $(B)/legacy) \
	    $(B)/test_preload --filter 'peers/*' --jobs 2
