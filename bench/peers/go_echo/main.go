// go_echo — a goroutine-per-connection echo server, the Go peer for scripts/compare.sh.
//
//	GOMAXPROCS=1 go_echo PORT
//
// Listens on 127.0.0.1:PORT (0: the kernel picks), prints "listening on <port>" once
// accepting, echoes every read back unchanged, exits 0 on SIGTERM or SIGINT.  The caller
// chooses GOMAXPROCS through the environment.  Standard library only: it builds offline
// with Debian's golang-go (mk/peers.mk).
//
// The handler is the idiomatic one (what io.Copy does, with a 4096-byte buffer of its own):
// one Read, then a Write of exactly those bytes.  The runtime parks the goroutine in its
// netpoller whenever a socket would block, which is the design libgreen is measured
// against.  Go sets TCP_NODELAY on accepted connections and, since 1.19, raises the
// descriptor soft limit to the hard one by itself.
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func handle(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s PORT   (0: any free port)\n", os.Args[0])
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port < 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "usage: %s PORT   (0: any free port)\n", os.Args[0])
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// A benchmark peer owes nothing at exit: open connections are the kernel's to close.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		os.Exit(0)
	}()
	// os.Stdout is unbuffered: the line is out as soon as Printf returns.
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			// EMFILE and friends: the connection stays queued in the kernel; back off
			// briefly instead of spinning, as net/http's server does.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go handle(c)
	}
}
