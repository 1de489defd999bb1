package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/store/storetest"
)

// TestMCPRequestIDs: every answer of /mcp/{token}, 200 and problems (401, 404, 405, 413,
// 429), carries X-Request-ID, the client's when it sent a sane one, a fresh one otherwise;
// problem bodies carry instance and request_id, with Retry-After on the 429.
func TestMCPRequestIDs(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t), "--rate-limit", "0.5", "--rate-burst", "3", "--auth-cache-ttl", "1m")
	acc := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`).json(t)["id"].(string)
	path := strings.TrimPrefix(a.do(http.MethodPost, "/integrated-account/"+acc+"/mcp", `{"name":"ids"}`).json(t)["url"].(string), a.base)
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	n := 0
	check := func(name string, r response, want int) {
		t.Helper()
		id := r.header.Get("X-Request-ID")
		if r.status != want || id != "client-id-"+strconv.Itoa(n) {
			t.Errorf("%s: %d, X-Request-ID %q: %s", name, r.status, id, r.body)
		}
		if want >= 400 {
			var p map[string]any
			if err := json.Unmarshal(r.body, &p); err != nil || p["request_id"] != id || p["instance"] == nil || p["status"] != float64(want) ||
				r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: problem %s", name, r.body)
			}
		}
	}
	send := func(method, p, body string, extra ...string) response {
		n++
		h := append([]string{"Authorization", "", "Accept", "application/json, text/event-stream", "X-Request-ID", "client-id-" + strconv.Itoa(n)}, extra...)
		return a.do(method, p, body, h...)
	}
	check("200", send(http.MethodPost, path, ping), http.StatusOK)
	check("401", send(http.MethodPost, "/mcp/mcp_guess", ping), http.StatusUnauthorized)
	check("404", send(http.MethodPost, "/mcp/a/b", ping), http.StatusNotFound)
	check("405", send(http.MethodGet, path, ""), http.StatusMethodNotAllowed)
	check("413", send(http.MethodPost, path, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"x":"`+strings.Repeat("x", 1<<20)+`"}}}`), http.StatusRequestEntityTooLarge)
	r := send(http.MethodPost, path, ping)
	for range 5 {
		if r.status == http.StatusTooManyRequests {
			break
		}
		r = send(http.MethodPost, path, ping)
	}
	check("429", r, http.StatusTooManyRequests)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("429 Retry-After %q", r.header.Get("Retry-After"))
	}
	// An id that is not sane is replaced.
	bad := a.do(http.MethodPost, "/mcp/mcp_guess", ping, "Authorization", "", "X-Request-ID", "no spaces allowed")
	if id := bad.header.Get("X-Request-ID"); id == "" || id == "no spaces allowed" || !strings.Contains(string(bad.body), `"request_id":"`+id+`"`) {
		t.Errorf("insane id: %q %s", id, bad.body)
	}
}

// newLoopback serves h on loopback until the test ends and returns its URL.
func newLoopback(t *testing.T, h http.Handler) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// metricValue is the value of the series line that starts with series, 0 when absent.
func metricValue(t *testing.T, a *app, series string) float64 {
	t.Helper()
	m := a.do(http.MethodGet, "/metrics", "", "Authorization", "")
	mustStatus(t, m, http.StatusOK)
	for line := range strings.SplitSeq(string(m.body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// TestMCPMetrics: the MCP series move with MCP traffic, by exactly the calls made: requests
// by method (also those the go-sdk path serves, which the client's newest protocol takes)
// and outcome, tool calls by integration and outcome, upstream durations by integration.
func TestMCPMetrics(t *testing.T) {
	up := &upstream{}
	us := newLoopback(t, up)
	a := startApp(t, storetest.SQLiteURL(t), "--integrations-dir", crmPointingAt(t, us))
	acc := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`).json(t)["id"].(string)
	url := a.do(http.MethodPost, "/integrated-account/"+acc+"/mcp", `{"name":"metrics","config":{"methods":["read"]}}`).json(t)["url"].(string)
	series := []string{
		`mcpapi_mcp_requests_total{method="tools/call",outcome="ok"}`,
		`mcpapi_mcp_requests_total{method="tools/list",outcome="ok"}`,
		`mcpapi_mcp_requests_total{method="none",outcome="unauthorized"}`,
		`mcpapi_mcp_tool_calls_total{integration="crm",outcome="ok"}`,
		`mcpapi_mcp_tool_calls_total{integration="crm",outcome="refused"}`,
		`mcpapi_mcp_upstream_duration_seconds_count{integration="crm"}`,
	}
	before := map[string]float64{}
	for _, s := range series {
		before[s] = metricValue(t, a, s)
	}
	cs, err := mcpConnect(t, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cs.Close() }()
	toolNames(t, cs)
	for range 3 {
		if res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_crm_contact", Arguments: map[string]any{"contact_id": "c1"}}); err != nil || res.IsError {
			t.Fatalf("call: %v %+v", err, res)
		}
	}
	_, _ = cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "delete_crm_contact", Arguments: map[string]any{"contact_id": "c1"}})
	mustStatus(t, a.do(http.MethodPost, "/mcp/mcp_guess", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Authorization", ""), http.StatusUnauthorized)
	want := []float64{3, 1, 1, 3, 1, 3}
	for i, s := range series {
		if got := metricValue(t, a, s) - before[s]; got != want[i] {
			t.Errorf("%s moved by %v, want %v", s, got, want[i])
		}
	}
}

// TestMCPChangesWithAuthCache: with --auth-cache-ttl 1m, a config PATCH, a rotation and a
// deletion take effect at /mcp at once on this instance (the REST handlers drop the cache),
// on SQLite and PostgreSQL.
func TestMCPChangesWithAuthCache(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		up := &upstream{}
		us := newLoopback(t, up)
		a := startApp(t, dbURL, "--integrations-dir", crmPointingAt(t, us), "--auth-cache-ttl", "1m")
		acc := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`).json(t)["id"].(string)
		srv := a.do(http.MethodPost, "/integrated-account/"+acc+"/mcp", `{"name":"cached","config":{"methods":["read"],"tags":["contacts"]}}`).json(t)
		url, id := srv["url"].(string), srv["id"].(string)
		cs, err := mcpConnect(t, url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cs.Close() }()
		if got := toolNames(t, cs); !slices.Equal(got, []string{"get_crm_contact", "list_crm_contacts"}) {
			t.Fatalf("tools %v", got)
		}
		// The token is cached now: a config PATCH still shows in the very next list (config
		// members not sent are kept: tags stay contacts).
		mustStatus(t, a.do(http.MethodPatch, "/integrated-account/"+acc+"/mcp/"+id, `{"config":{"methods":["delete"]}}`), http.StatusOK)
		if got := toolNames(t, cs); !slices.Equal(got, []string{"delete_crm_contact"}) {
			t.Errorf("after PATCH: tools %v", got)
		}
		ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
		mcpPath := func(u string) string { return strings.TrimPrefix(u, a.base) }
		// Rotation: the cached old token is 401 at once, the new one works.
		rot := a.do(http.MethodPost, "/integrated-account/"+acc+"/mcp/"+id+"/token", "")
		mustStatus(t, rot, http.StatusOK)
		mustStatus(t, a.do(http.MethodPost, mcpPath(url), ping, "Authorization", ""), http.StatusUnauthorized)
		newURL := rot.json(t)["url"].(string)
		mustStatus(t, a.do(http.MethodPost, mcpPath(newURL), ping, "Authorization", ""), http.StatusOK)
		mustStatus(t, a.do(http.MethodPost, mcpPath(newURL), ping, "Authorization", ""), http.StatusOK) // cached now
		// Deletion: 401 at once.
		mustStatus(t, a.do(http.MethodDelete, "/integrated-account/"+acc+"/mcp/"+id, ""), http.StatusOK)
		mustStatus(t, a.do(http.MethodPost, mcpPath(newURL), ping, "Authorization", ""), http.StatusUnauthorized)
	})
}
