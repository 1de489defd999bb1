package mcp

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpapi/mcpapi/integrations"
)

// TestSharedServersKeepNoSessions: the servers shared between requests end each stateless
// request's session, so they hold none once the requests are answered.
func TestSharedServersKeepNoSessions(t *testing.T) {
	cat, err := integrations.Load("")
	if err != nil {
		t.Fatal(err)
	}
	h := New(Deps{
		Resolve: func(context.Context, []byte) (Target, error) {
			return Target{Integration: "crm", Methods: []string{"read"}}, nil
		},
		Catalogue: cat,
		Logger:    slog.New(slog.DiscardHandler),
	}).(*handler)
	for i := range 20 {
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
		if i%2 == 1 {
			body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_crm_contact","arguments":{}}}`
		}
		req := httptest.NewRequest(http.MethodPost, "/mcp/mcp_token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	if n := len(h.servers.m); n != 1 {
		t.Fatalf("%d cached servers, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, srv := range h.servers.m {
		for {
			n := 0
			for range srv.Sessions() {
				n++
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions left", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestCacheKey(t *testing.T) {
	same := [][2]Target{
		{{Integration: "crm", Methods: []string{"list", "get"}}, {Integration: "CRM", Methods: []string{"GET", "list", "get"}}},
		{{Integration: "crm", Tags: []string{}}, {Integration: "crm", Tags: []string{}}},
	}
	for _, p := range same {
		if cacheKey(p[0]) != cacheKey(p[1]) {
			t.Errorf("%+v and %+v differ", p[0], p[1])
		}
	}
	different := [][2]Target{
		{{Integration: "crm"}, {Integration: "crm", Methods: []string{}}},
		{{Integration: "crm", Methods: []string{}}, {Integration: "crm", Tags: []string{}}},
		{{Integration: "crm", Methods: []string{"list"}}, {Integration: "crm", Tags: []string{"list"}}},
		{{Integration: "crm", Methods: []string{"a", "b"}}, {Integration: "crm", Methods: []string{"ab"}}},
		{{Integration: "crm"}, {Integration: "helpdesk"}},
	}
	for _, p := range different {
		if cacheKey(p[0]) == cacheKey(p[1]) {
			t.Errorf("%+v and %+v collide", p[0], p[1])
		}
	}
}
