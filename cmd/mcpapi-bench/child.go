package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// childMain runs one of the benchmark's child processes (floor, upstream, go-sdk alone) until
// SIGINT or SIGTERM, and turns its error into an exit code.
func childMain(role string, run func(ctx context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, role+":", err)
		return 1
	}
	return 0
}

// childListener is a named loopback listener of a child process and what it serves.
type childListener struct {
	name    string // "" for the main one; else printed before its address ("control")
	ln      net.Listener
	handler http.Handler
}

// serveChildren serves each listener until ctx ends, then shuts them down. The first line it
// prints, "listening http://ADDR [NAME http://ADDR]…", is how the parent learns the addresses.
func serveChildren(ctx context.Context, listeners ...childListener) error {
	servers := make([]*http.Server, len(listeners))
	words := []string{"listening"}
	errc := make(chan error, len(listeners))
	for i, l := range listeners {
		servers[i] = &http.Server{Handler: l.handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
		if l.name != "" {
			words = append(words, l.name)
		}
		words = append(words, "http://"+l.ln.Addr().String())
	}
	fmt.Println(strings.Join(words, " "))
	for i, l := range listeners {
		go func() { errc <- servers[i].Serve(l.ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for i := len(servers) - 1; i >= 0; i-- { // the main one last, as before
		err = servers[i].Shutdown(sctx)
	}
	return err
}

// serveChild serves one handler on a fresh loopback port until ctx ends.
func serveChild(ctx context.Context, handler http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	return serveChildren(ctx, childListener{ln: ln, handler: handler})
}
