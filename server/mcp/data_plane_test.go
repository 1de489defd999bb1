package mcp_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/server/mcp"
)

// lean is a handler in front of upstream for the crm integration, and a raw poster.
func leanHandler(t testing.TB, upstreamURL string, deps mcp.Deps) *mcp.Handler {
	t.Helper()
	cat, err := integrations.Load("")
	if err != nil {
		t.Fatal(err)
	}
	crm, _ := cat.Get("crm")
	if crm, err = crm.WithBaseURL(upstreamURL); err != nil {
		t.Fatal(err)
	}
	deps.Catalogue, _ = integrations.NewCatalogue(crm)
	if deps.Resolve == nil {
		deps.Resolve = func(context.Context, []byte) (mcp.Target, error) { return mcp.Target{Integration: "crm"}, nil }
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return mcp.New(deps)
}

func rawCall(t testing.TB, h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/mcp/mcp_token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const getContact = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_crm_contact","arguments":{"contact_id":"c1"}}}`

// TestUpstreamConnectionsReused: 2,000 calls at concurrency 8 open at most 16 upstream
// connections (the default client pools keep-alive connections per host).
func TestUpstreamConnectionsReused(t *testing.T) {
	var conns atomic.Int64
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1"}`)
	}))
	upstream.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	upstream.Start()
	defer upstream.Close()
	h := leanHandler(t, upstream.URL, mcp.Deps{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 250 {
				if rec := rawCall(t, h, getContact); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"isError"`) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	if n := conns.Load(); n > 16 {
		t.Errorf("%d upstream connections for 2,000 calls at c=8, want ≤ 16", n)
	}
}

// TestUpstreamFailureLogsNoArguments: an unreachable upstream's log line names the tool and
// the operation, never the URL's query (a planted value) or path arguments.
func TestUpstreamFailureLogsNoArguments(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	h := leanHandler(t, "http://127.0.0.1:1", mcp.Deps{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	const planted = "ssn-078-05-1120"
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_crm_contacts","arguments":{"company_id":"` + planted + `"}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_crm_contact","arguments":{"contact_id":"` + planted + `"}}}`,
	} {
		rec := rawCall(t, h, body)
		if !strings.Contains(rec.Body.String(), `"isError":true`) || !strings.Contains(rec.Body.String(), "could not be reached") {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "mcp upstream request failed") || !strings.Contains(logs.String(), `"upstream_path":"/contacts"`) {
		t.Fatalf("no failure line: %s", logs.String())
	}
	if strings.Contains(logs.String(), planted) {
		t.Errorf("the logs hold an argument value:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestBatchesRefused: a JSON-RPC array is refused for every protocol version with a JSON-RPC
// error and 400, and makes no upstream call.
func TestBatchesRefused(t *testing.T) {
	var calls atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, `{}`)
	}))
	defer upstream.Close()
	h := leanHandler(t, upstream.URL, mcp.Deps{})
	batch := "[" + strings.Repeat(getContact+",", 50) + getContact + "]"
	for _, v := range []string{"", "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"} {
		req := httptest.NewRequest(http.MethodPost, "/mcp/mcp_token", strings.NewReader(batch))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if v != "" {
			req.Header.Set("Mcp-Protocol-Version", v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"code":-32600`) {
			t.Errorf("version %q: %d %s", v, rec.Code, rec.Body)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d upstream calls", n)
	}
}

// TestUpstreamResponseBounds: past --max-upstream-response the call is a tool error naming
// the limit; an answer of control characters does not grow past twice the limit; a non-object
// JSON answer is wrapped as {"result": …} byte for byte.
func TestUpstreamResponseBounds(t *testing.T) {
	const limit = 64 << 10
	var answer atomic.Value
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, answer.Load().(string))
	}))
	defer upstream.Close()
	h := leanHandler(t, upstream.URL, mcp.Deps{MaxUpstreamBytes: limit})

	answer.Store(`[` + strings.Repeat(`1,`, limit) + `1]`)
	if rec := rawCall(t, h, getContact); !strings.Contains(rec.Body.String(), `"isError":true`) || !strings.Contains(rec.Body.String(), "65536 bytes (--max-upstream-response)") {
		t.Errorf("over the limit: %s", rec.Body.String()[:min(300, rec.Body.Len())])
	}
	answer.Store(strings.Repeat("\x01", limit-10))
	if rec := rawCall(t, h, getContact); rec.Body.Len() > 2*limit+1024 || !strings.Contains(rec.Body.String(), `"isError":true`) {
		t.Errorf("control characters: %d bytes", rec.Body.Len())
	}
	answer.Store(` [1, {"a": 12345678901234567890}] `)
	rec := rawCall(t, h, getContact)
	if !strings.Contains(rec.Body.String(), `"structuredContent":{"result":[1, {"a": 12345678901234567890}]}`) {
		t.Errorf("array: %s", rec.Body)
	}
}
