package main

import (
	"fmt"
	"net"
	"sync"

	"golang.org/x/net/netutil"

	"github.com/mcpapi/mcpapi/server"
	"github.com/mcpapi/mcpapi/server/mcp"
)

// fdFixed is how many file descriptors the process needs besides client connections and the
// upstream calls they make: the database pool (25 PostgreSQL connections at most), the idle
// upstream connections the MCP transport keeps (4 × mcp.MaxUpstreamConnsPerHost), and 47 for
// the listeners, the SQLite files and their WAL, logs and the runtime's own (epoll, pipes).
const fdFixed = 25 + 4*mcp.MaxUpstreamConnsPerHost + 47

// connCap is the global cap on open client connections for an open-file limit. Each client
// connection may carry one tool call at a time (batches are refused), so it may need a second
// descriptor for its upstream connection: (limit − fdFixed) / 2. A limit too small for that
// gets a quarter of it.
func connCap(nofile uint64) int {
	switch {
	case nofile == 0:
		nofile = 4096 // unknown (not a Unix): a common default limit
	case nofile > 1<<20:
		nofile = 1 << 20 // "unlimited" or absurdly high: still bounded
	}
	if nofile < fdFixed+128 {
		return int(max(nofile/4, 1))
	}
	return int((nofile - fdFixed) / 2)
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
