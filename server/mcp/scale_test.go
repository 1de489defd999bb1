package mcp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/server/mcp"
	"github.com/mcpapi/mcpapi/store"
)

// Scale measurements: tools/list of a 1,000-operation integration (server time per
// request, target ≤ 20 ms) and the memory one more distinct config costs (target ≤ 10 KB).

// generated1000 is a catalogue with the generated 1,000-operation integration "generated"
// (200 resources × list, create, get, replace, delete; tags group0 … group9).
func generated1000(t testing.TB) *integrations.Catalogue {
	t.Helper()
	in, err := integrations.Parse("generated", "generated.json", generatedDoc(200))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(in.Tools); n != 1000 {
		t.Fatalf("%d tools, want 1000", n)
	}
	cat, err := integrations.NewCatalogue(in)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func listRequest(token, version string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/mcp/"+token, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", version)
	return req
}

// BenchmarkToolsList1000: one tools/list of the generated 1,000-operation integration through
// the handler (token → cached target → the lean path's filter pass over the integration's
// pre-encoded definitions → the answer), per config: all 1,000 tools (one page: the SDK's page
// size is 1,000), methods [read] (400), tags [group3] (100). ns/op is the server time of one
// request; the target is ≤ 20 ms.
func BenchmarkToolsList1000(b *testing.B) {
	cat := generated1000(b)
	for _, bc := range []struct {
		name   string
		target mcp.Target
		tools  int
	}{
		{"all1000", mcp.Target{Integration: "generated"}, 1000},
		{"read400", mcp.Target{Integration: "generated", Methods: []string{"read"}}, 400},
		{"tag100", mcp.Target{Integration: "generated", Tags: []string{"group3"}}, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := mcp.New(mcp.Deps{
				Resolve:      func(context.Context, []byte) (mcp.Target, error) { return bc.target, nil },
				Catalogue:    cat,
				Logger:       slog.New(slog.DiscardHandler),
				AuthCacheTTL: time.Minute, // as served: the token is cached
			})
			check := httptest.NewRecorder()
			h.ServeHTTP(check, listRequest("mcp_bench", "2025-06-18"))
			if got := strings.Count(check.Body.String(), `"inputSchema"`); check.Code != http.StatusOK || got != bc.tools {
				b.Fatalf("%d, %d tools, want %d", check.Code, got, bc.tools)
			}
			lean := mcp.LeanServed(h)
			b.ReportAllocs()
			b.SetBytes(int64(check.Body.Len()))
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, listRequest("mcp_bench", "2025-06-18"))
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			if mcp.LeanServed(h)-lean < int64(b.N) {
				b.Fatal("not every tools/list was served by the lean path")
			}
		})
	}
}

// TestMemoryPerDistinctConfig: 1,000 MCP servers of the 1,000-operation integration, each with
// its own config, each resolved once and then cached (as served, with --auth-cache-ttl) and
// listed: the heap grows by at most 10 KB per config, because a config is a filter
// over the integration's tool set, built once, and never a copy of it. A second round costs no
// lookups, so the configs are really held (in the token cache) while the heap is measured.
func TestMemoryPerDistinctConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const configs = 1000
	const bound = 10 << 10
	cat := generated1000(t)
	byHash := make(map[string]int, configs)
	tokens := make([]string, configs)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("mcp_scale_%04d", i)
		byHash[string(store.HashSecret(tokens[i]))] = i
	}
	var resolves atomic.Int64
	h := mcp.New(mcp.Deps{
		// Each lookup builds its target afresh, as the store does: what the cache keeps is the
		// handler's to pay for.
		Resolve: func(_ context.Context, hash []byte) (mcp.Target, error) {
			i, ok := byHash[string(hash)]
			if !ok {
				return mcp.Target{}, store.ErrNotFound
			}
			resolves.Add(1)
			return mcp.Target{
				ServerID: fmt.Sprintf("0190f7a2-7b1c-7cc3-9a51-%012d", i), EnvironmentID: "0190f7a2-7b1c-7cc3-9a51-3f2d8e6b1a40",
				AccountID: "1ba1f401-7183-47c5-9e39-e8e257e3c795", Integration: "generated",
				Methods:    []string{[]string{"read", "write", "list", "get"}[i%4]},
				Tags:       []string{fmt.Sprintf("group%d", i%10), fmt.Sprintf("label-%04d", i)},
				Credential: &mcp.Credential{Type: "bearer", Value: fmt.Sprintf("upstream-credential-%04d", i)},
			}, nil
		},
		Catalogue:    cat,
		Logger:       slog.New(slog.DiscardHandler),
		AuthCacheTTL: time.Hour,
	})
	list := func(token string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, listRequest(token, "2025-06-18"))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"tools":[{`) {
			t.Fatalf("%s: %d %.200s", token, rec.Code, rec.Body)
		}
	}
	// Warm up what every config shares (the tool set, the SDK server), on a token not counted.
	byHash[string(store.HashSecret("mcp_scale_warm"))] = 0
	list("mcp_scale_warm")

	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for _, tok := range tokens {
		list(tok)
	}
	after := heap()
	for _, tok := range tokens { // all cached: no lookups
		list(tok)
	}
	if n := resolves.Load(); n != configs+1 {
		t.Fatalf("%d lookups for %d configs listed twice: the configs are not held", n, configs)
	}
	runtime.KeepAlive(h)
	per := (int64(after) - int64(before)) / configs //nolint:gosec // G115: heap sizes are far below 2^63
	t.Logf("heap %d → %d bytes over %d distinct configs: %d bytes per config (bound %d)", before, after, configs, per, bound)
	if per > bound {
		t.Errorf("%d bytes per distinct config, want ≤ %d", per, bound)
	}
}
