package mcp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/server/mcp"
)

// BenchmarkRawToolsCall: one tools/call (protocol 2025-06-18, as a raw client sends it)
// through the handler to a loopback upstream answering a small JSON object.
func BenchmarkRawToolsCall(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","company_id":"co1"}`)
	}))
	defer upstream.Close()
	cat, _ := integrations.Load("")
	crm, _ := cat.Get("crm")
	crm, _ = crm.WithBaseURL(upstream.URL)
	cat, _ = integrations.NewCatalogue(crm)
	var h http.Handler = mcp.New(mcp.Deps{
		Resolve: func(context.Context, []byte) (mcp.Target, error) {
			return mcp.Target{Integration: "crm"}, nil
		},
		Catalogue:  cat,
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		Logger:     slog.New(slog.DiscardHandler),
	})
	const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_crm_contact","arguments":{"contact_id":"c1"}}}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/mcp/mcp_bench", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"isError"`) {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
