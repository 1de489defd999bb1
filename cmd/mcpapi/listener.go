package main

import (
	"fmt"
	"net"
	"sync"

	"golang.org/x/net/netutil"

	"github.com/mcpapi/mcpapi/server"
)

// fdReserve is how many file descriptors the global connection cap leaves for everything else
// the process opens: the database pool (25 PostgreSQL connections at most), pooled upstream
// connections of MCP tool calls (up to 128 kept), the listeners, the SQLite files and their
// WAL, logs and the runtime's own (epoll, pipes): 25 + 128 + 47.
const fdReserve = 200

// connCap is the global cap on open client connections for an open-file limit: the limit minus
// fdReserve, or half the limit when it is too small for that.
func connCap(nofile uint64) int {
	switch {
	case nofile == 0:
		nofile = 4096 // unknown (not a Unix): a common default limit
	case nofile > 1<<20:
		nofile = 1 << 20 // "unlimited" or absurdly high: still bounded
	}
	if nofile <= 2*fdReserve {
		return int(nofile / 2)
	}
	return int(nofile - fdReserve)
}

// limitListener bounds the open client connections: at most total at once (accepting waits
// while that many are open, so the process never runs out of descriptors: the kernel's backlog
// holds the next ones), and at most perIP from one client address (0: no such cap), except
// from trusted proxies, whose connections carry many clients. A connection over its address's
// cap is closed as soon as it is accepted, so one address cannot hold the slots others need.
func limitListener(ln net.Listener, total, perIP int, trusted []*net.IPNet) net.Listener {
	inner := netutil.LimitListener(ln, total)
	if perIP <= 0 {
		return inner
	}
	return &perIPListener{Listener: inner, max: perIP, trusted: trusted, open: map[string]int{}}
}

type perIPListener struct {
	net.Listener
	max     int
	trusted []*net.IPNet
	mu      sync.Mutex
	open    map[string]int // address → open connections; no entry at 0, so it is bounded by total
}

func (l *perIPListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, ok := c.RemoteAddr().(*net.TCPAddr)
		if !ok || server.Trusted(l.trusted, addr.IP) {
			return c, nil
		}
		key := addr.IP.String()
		l.mu.Lock()
		n := l.open[key]
		if n >= l.max {
			l.mu.Unlock()
			_ = c.Close() // refused: the peer sees the connection closed
			continue
		}
		l.open[key] = n + 1
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *perIPListener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] <= 1 {
		delete(l.open, key)
	} else {
		l.open[key]--
	}
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// describeConnLimits is the start-up line that states the bounds in force.
func describeConnLimits(total, perIP int, nofile uint64) string {
	per := "off"
	if perIP > 0 {
		per = fmt.Sprint(perIP)
	}
	return fmt.Sprintf("connections: at most %d open (open-file limit %d), %s per client address", total, nofile, per)
}
