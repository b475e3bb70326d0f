#!/usr/bin/python3
"""gevent_echo.py -- the gevent tutorial's echo server, a peer for scripts/compare.sh.

    /usr/bin/python3 bench/peers/gevent_echo.py PORT

Listens on 127.0.0.1:PORT (0: the kernel picks), prints "listening on <port>" once
accepting, echoes every read back unchanged, exits 0 on SIGTERM or SIGINT.

This is the tutorial's shape on purpose: gevent.server.StreamServer, one greenlet per
connection, `data = socket.recv(1024); socket.sendall(data)`.  It needs Debian's
python3-gevent, hence /usr/bin/python3 rather than whatever `python3` is first on PATH (a
pyenv shim there has no gevent).  Three things differ from the tutorial so that the load is
the same as for the other peers and the output stays silent: the listen backlog is 4096
(gevent's default is 256, which drops connects in a burst of thousands), the descriptor soft
limit is raised to the hard one, and a connection reset ends its greenlet quietly (loadgen
closes with SO_LINGER 0; uncaught, gevent's hub prints a traceback for every connection).
"""
import os
import resource
import signal
import sys

import gevent
from gevent.server import StreamServer


def handle(socket, address):
    try:
        while True:
            data = socket.recv(1024)
            if not data:
                break
            socket.sendall(data)
    except OSError:
        pass  # reset by the peer: see the top of the file


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) > 65535:
        sys.stderr.write("usage: %s PORT   (0: any free port)\n" % sys.argv[0])
        sys.exit(2)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # A benchmark peer owes nothing at exit: no traceback, no waiting for connections.
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, os._exit, 0)
    server = StreamServer(("127.0.0.1", int(sys.argv[1])), handle, backlog=4096)
    server.start()
    sys.stdout.write("listening on %d\n" % server.server_port)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
