package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm/logger"

	"github.com/mcpapi/mcpapi/server"
	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// inProcess is the whole handler chain on a real database, called without a network.
type inProcess struct {
	tb      testing.TB
	st      *store.Store
	handler http.Handler
	token   string
	account uuid.UUID
	server  uuid.UUID
}

func newInProcess(tb testing.TB, dbURL string) *inProcess {
	tb.Helper()
	st := storetest.OpenStore(tb, dbURL)
	ctx := context.Background()
	secret, hash := store.NewSecret("mcpapi_")
	tok, err := st.CreateAPIToken(ctx, "bench", uuid.New(), hash)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(st, server.Config{
		PublicURL:    "http://127.0.0.1:8080",
		AuthCacheTTL: time.Minute,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	acc, err := st.CreateIntegratedAccount(ctx, tok.EnvironmentID, store.NewIntegratedAccount{Integration: "crm"})
	if err != nil {
		tb.Fatal(err)
	}
	_, mcpHash := store.NewSecret("mcp_")
	m, err := st.CreateMcpServer(ctx, tok.EnvironmentID, store.NewMcpServer{
		IntegratedAccountID: acc.ID, Name: "bench", CreatedBy: tok.UserID, TokenHash: mcpHash,
		Config: store.McpServerConfig{Methods: []string{"list"}, Tags: []string{"contacts"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &inProcess{tb: tb, st: st, handler: srv, token: secret, account: acc.ID, server: m.ID}
}

func (p *inProcess) path() string {
	return "/integrated-account/" + p.account.String() + "/mcp/" + p.server.String()
}

// do sends one request through the chain and returns the status.
func (p *inProcess) do(method, path, body string) int {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+p.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	return rec.Code
}

// statementCounter counts the statements GORM sends.
type statementCounter struct {
	logger.Interface
	n atomic.Int64
}

func (c *statementCounter) Trace(context.Context, time.Time, func() (string, int64), error) {
	c.n.Add(1)
}

// TestPatchIsOneRoundTrip: on the happy path a PATCH and a GET each send exactly one statement
// (no transaction, no read before or after, no token lookup with the auth cache warm); only a
// no-op PATCH needs a second statement, to tell it from a missing server.
func TestPatchIsOneRoundTrip(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		p := newInProcess(t, dbURL)
		if s := p.do(http.MethodGet, p.path(), ""); s != http.StatusOK { // warms the auth cache
			t.Fatalf("GET: %d", s)
		}
		counter := &statementCounter{Interface: logger.Discard}
		p.st.DB().Logger = counter
		for i, c := range []struct {
			method, body string
			want         int64
		}{
			{http.MethodPatch, `{"name":"one"}`, 1},
			// A patch of config reads the stored config first, for the allow-something check,
			// then updates at the version it read.
			{http.MethodPatch, `{"config":{"tags":["companies"]}}`, 2},
			{http.MethodGet, "", 1},
			{http.MethodPatch, `{"name":"one"}`, 2}, // no-op: UPDATE matches nothing, then one SELECT
		} {
			counter.n.Store(0)
			if s := p.do(c.method, p.path(), c.body); s != http.StatusOK {
				t.Fatalf("case %d: status %d", i, s)
			}
			if got := counter.n.Load(); got != c.want {
				t.Errorf("case %d (%s %s): %d statements, want %d", i, c.method, c.body, got, c.want)
			}
		}
	})
}

// BenchmarkRequestPath measures PATCH and GET through the whole Echo chain (auth from the cache,
// spec validation, strict handler, store) on PostgreSQL: ns/op and allocs/op.
func BenchmarkRequestPath(b *testing.B) {
	dbURL := storetest.Open(b, storetest.Postgres)
	p := newInProcess(b, dbURL)
	p.do(http.MethodGet, p.path(), "")
	bodies := []string{`{"name":"bench-a"}`, `{"name":"bench-b"}`}
	b.Run("PATCH", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if s := p.do(http.MethodPatch, p.path(), bodies[i%2]); s != http.StatusOK {
				b.Fatalf("status %d", s)
			}
		}
	})
	b.Run("GET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s := p.do(http.MethodGet, p.path(), ""); s != http.StatusOK {
				b.Fatalf("status %d", s)
			}
		}
	})
}

// countStatements counts, from now on, the statements the store sends.
func countStatements(st *store.Store) *statementCounter {
	c := &statementCounter{Interface: logger.Discard}
	st.DB().Logger = c
	return c
}
