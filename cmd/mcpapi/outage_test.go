package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mcpapi/mcpapi/store/storetest"
)

// tcpProxy sits between the server and PostgreSQL so that a test can cut the database off and
// bring it back.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close() // the database is not there either: drop the client too
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			// Either side ending ends both; the errors of a torn-down pipe say nothing new.
			go func() { _, _ = io.Copy(up, c); _ = up.Close(); _ = c.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = up.Close(); _ = c.Close() }()
		}
	}()
}

// cut refuses new connections and breaks the open ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Cutting is the point: errors from closing what is being cut are expected and ignored.
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// restore listens again on the same address.
func (p *tcpProxy) restore() {
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; take it back
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy cannot listen again: %v", err)
	}
	p.serve(ln)
}

// viaProxy points a PostgreSQL URL at a proxy in front of its server.
func viaProxy(t *testing.T, dbURL string) (string, *tcpProxy) {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newTCPProxy(t, u.Host)
	u.Host = p.addr
	return u.String(), p
}

// TestDatabaseOutage: with PostgreSQL cut off while clients keep PATCHing, requests fail fast with
// 503 and Retry-After, /readyz says 503, and the service recovers by itself. Every PATCH answered
// 200 is stored afterwards, and none answered otherwise is half-applied. An MCP token that is not
// cached yet answers 503 too, not 401 (its client would take it for revoked), and works after.
func TestDatabaseOutage(t *testing.T) {
	direct := storetest.Open(t, storetest.Postgres)
	proxied, proxy := viaProxy(t, direct)
	a := startApp(t, proxied, "--request-timeout", "3s", "--ai-ready-check=false") // any tags
	acc := a.newAccount()
	mcpPath := "/mcp/" + path.Base(*a.newServer(acc).Url)
	const mcpInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	const clients, perClient = 4, 8
	var servers [clients][]uuid.UUID
	for c := range clients {
		for range perClient {
			servers[c] = append(servers[c], a.newServer(acc).Id)
		}
	}

	type outcome struct {
		server uuid.UUID
		n      int
		status int
	}
	var mu sync.Mutex
	var outcomes []outcome
	var slow503 []time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	seq := 0
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				srv := servers[c][i%perClient]
				mu.Lock()
				seq++
				n := seq
				mu.Unlock()
				start := time.Now()
				r := a.do(http.MethodPatch, "/integrated-account/"+acc.String()+"/mcp/"+srv.String(),
					fmt.Sprintf(`{"name":"v-%d","config":{"tags":["t%d"]}}`, n, n))
				mu.Lock()
				outcomes = append(outcomes, outcome{srv, n, r.status})
				if r.status == http.StatusServiceUnavailable {
					if r.header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After: %s", r.body)
					}
					if d := time.Since(start); d > 3500*time.Millisecond {
						slow503 = append(slow503, d)
					}
				} else if r.status != http.StatusOK {
					t.Errorf("PATCH answered %d: %s", r.status, r.body)
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	proxy.cut()
	time.Sleep(1500 * time.Millisecond)
	ready := a.do(http.MethodGet, "/readyz", "", "Authorization", "")
	if ready.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d", ready.status)
	}
	if r := a.do(http.MethodPost, mcpPath, mcpInitialize); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("MCP during the outage: %d %v %s", r.status, r.header, r.body)
	}
	proxy.restore()
	waitFor(t, 15*time.Second, func() bool { return a.do(http.MethodGet, "/readyz", "").status == http.StatusOK })
	if r := a.do(http.MethodPost, mcpPath, mcpInitialize); r.status != http.StatusOK {
		t.Errorf("MCP after the outage: %d %s", r.status, r.body)
	}
	time.Sleep(1 * time.Second)
	close(stop)
	wg.Wait()

	counts := map[int]int{}
	for _, o := range outcomes {
		counts[o.status]++
	}
	t.Logf("PATCH outcomes: %v; slow 503s: %v", counts, slow503)
	if counts[http.StatusOK] == 0 || counts[http.StatusServiceUnavailable] == 0 {
		t.Fatalf("the test saw no outage or no success: %v", counts)
	}
	if len(slow503) > 0 {
		t.Errorf("503s did not fail fast: %v", slow503)
	}
	// Each server holds the newest value answered 200, or a newer one (a PATCH that committed
	// although its answer was lost), and always both members of one PATCH.
	conn, err := pgx.Connect(context.Background(), direct)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	for c := range clients {
		for _, srv := range servers[c] {
			lastOK := 0
			for _, o := range outcomes {
				if o.server == srv && o.status == http.StatusOK && o.n > lastOK {
					lastOK = o.n
				}
			}
			var name, tags string
			if err := conn.QueryRow(context.Background(), `SELECT name, config->>'tags' FROM mcp_servers WHERE id = $1`, srv).Scan(&name, &tags); err != nil {
				t.Fatal(err)
			}
			var n int
			if _, err := fmt.Sscanf(name, "v-%d", &n); err != nil && lastOK > 0 {
				t.Errorf("server %s: name %q after PATCHes answered 200", srv, name)
				continue
			}
			if n < lastOK {
				t.Errorf("server %s lost a PATCH answered 200: holds v-%d, answered v-%d", srv, n, lastOK)
			}
			if n > 0 && tags != fmt.Sprintf(`["t%d"]`, n) {
				t.Errorf("server %s is half-applied: name v-%d with tags %s", srv, n, tags)
			}
		}
	}
}

// TestGracefulShutdown: a PATCH in flight when the server is told to stop completes and is stored.
func TestGracefulShutdown(t *testing.T) {
	dbURL := storetest.Open(t, storetest.Postgres)
	a := startApp(t, dbURL)
	acc := a.newAccount()
	srv := a.newServer(acc)

	// Hold the row so that the PATCH is sure to be in flight when the signal comes.
	ctx := context.Background()
	conn, tx := lockRow(t, dbURL, srv.Id)
	result := make(chan response, 1)
	go func() {
		result <- a.do(http.MethodPatch, "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(), `{"name":"in-flight"}`)
	}()
	time.Sleep(300 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { a.stop(); close(stopped) }() // what SIGTERM does: cancel run's context
	time.Sleep(300 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("the server stopped with a request in flight")
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-result
	mustStatus(t, r, http.StatusOK)
	<-stopped
	var name string
	if err := conn.QueryRow(ctx, `SELECT name FROM mcp_servers WHERE id = $1`, srv.Id).Scan(&name); err != nil || name != "in-flight" {
		t.Errorf("stored name %q (%v), want in-flight", name, err)
	}
	// New connections are refused once it has stopped.
	resp, err := http.Get(a.base + "/healthz")
	if err == nil {
		_ = resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("after shutdown: %v", err)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStuckDatabaseAnswers503: a database that does not answer (here: a row lock that is never
// released in time) turns into a 503 with Retry-After at the request's deadline, not a hang.
func TestStuckDatabaseAnswers503(t *testing.T) {
	dbURL := storetest.Open(t, storetest.Postgres)
	a := startApp(t, dbURL, "--request-timeout", "1s")
	acc := a.newAccount()
	srv := a.newServer(acc)
	ctx := context.Background()
	_, tx := lockRow(t, dbURL, srv.Id)
	start := time.Now()
	r := a.do(http.MethodPatch, "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(), `{"name":"stuck"}`)
	took := time.Since(start)
	mustStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") == "" || took > 3*time.Second {
		t.Errorf("503 after %v with Retry-After %q; want it at the 1s deadline", took, r.header.Get("Retry-After"))
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, a.do(http.MethodPatch, "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(), `{"name":"free"}`), http.StatusOK)
}

// lockRow holds a row lock on an MCP server from a connection of its own, as a stuck or busy
// database would; the lock goes with the transaction (commit or roll back) or the test's end.
func lockRow(t *testing.T, dbURL string, id uuid.UUID) (*pgx.Conn, pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) }) // a no-op once committed or rolled back
	if _, err := tx.Exec(ctx, `SELECT 1 FROM mcp_servers WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	return conn, tx
}
