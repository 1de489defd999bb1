package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/store/storetest"
)

// The end-to-end tests of the MCP features modelled on the platform (tool exposure, API-token
// auth, call logs, its SDK's request shapes): the real server started through run(), on
// SQLite and PostgreSQL, the official go-sdk client (or raw HTTP for the platform's own SDK's
// shapes), a loopback upstream that records what reaches it. They go through HTTP only, so the
// store's and the server's internals can change under them.

const testSecretKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" //nolint:gosec // G101: the tests' own sealing key (bytes 0…31), as in mcp_test.go

// crmUpstream answers the crm integration's calls: 502 for the contact "broken", a small
// contact otherwise, and records "METHOD uri auth" of each call.
type crmUpstream struct {
	mu    sync.Mutex
	calls []string
}

func (u *crmUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.calls = append(u.calls, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
	u.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/broken") {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"c1","name":"Ada"}`))
}

func (u *crmUpstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.calls)
}

// mcpApp is a server whose crm integration points at a loopback upstream, with one account
// holding the upstream credential "upstream-secret".
func mcpApp(t *testing.T, dbURL string, extra ...string) (*app, *crmUpstream, string) {
	t.Helper()
	up := &crmUpstream{}
	us := newLoopback(t, up)
	a := startApp(t, dbURL, append([]string{"--integrations-dir", crmPointingAt(t, us), "--secret-key", testSecretKey}, extra...)...)
	acc := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm","credentials":{"type":"bearer","value":"upstream-secret"}}`)
	mustStatus(t, acc, http.StatusCreated)
	return a, up, acc.json(t)["id"].(string)
}

// createServer creates an MCP server of account with the config (JSON) and returns its id and url.
func (a *app) createServer(account, config string) (id, url string) {
	a.t.Helper()
	r := a.do(http.MethodPost, "/integrated-account/"+account+"/mcp", `{"name":"e2e","config":`+config+`}`)
	mustStatus(a.t, r, http.StatusCreated)
	m := r.json(a.t)
	return m["id"].(string), m["url"].(string)
}

// sdkConnect connects the official go-sdk client, sending the extra headers on every request.
func sdkConnect(t *testing.T, url string, headers ...string) (*sdk.ClientSession, error) {
	t.Helper()
	hc := &http.Client{Transport: setHeaders{headers, http.DefaultTransport}, Timeout: 30 * time.Second}
	c := sdk.NewClient(&sdk.Implementation{Name: "mcpapi-e2e", Version: "1.2.3"}, nil)
	cs, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, err
}

type setHeaders struct {
	kv   []string
	base http.RoundTripper
}

func (s setHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for i := 0; i+1 < len(s.kv); i += 2 {
		r.Header.Set(s.kv[i], s.kv[i+1])
	}
	return s.base.RoundTrip(r)
}

func callTool(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

func resultText(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// resultJSON is a result's structured content (the client's newest protocol has it).
func resultJSON(t *testing.T, res *sdk.CallToolResult) map[string]any {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		t.Fatalf("structured content %s (%v); text %s", b, err, resultText(res))
	}
	return m
}

func namesOf(v any) []string {
	var out []string
	items, _ := v.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["name"]))
		}
	}
	return out
}

// TestDiscoveryExposureEndToEnd: with config.tool_exposure "discovery", the go-sdk client
// lists exactly the three meta-tools; search_tools finds an allowed tool and only allowed ones;
// get_tool_schema returns its input schema; call_tool reaches the upstream with the account's
// credential; a direct call of a real tool is refused pointing to search_tools and reaches
// nothing; a PATCH back to "all" lists the real tools on the very next request.
func TestDiscoveryExposureEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a, up, acc := mcpApp(t, dbURL)
		id, url := a.createServer(acc, `{"methods":["read"],"tool_exposure":"discovery"}`)
		cs, err := sdkConnect(t, url)
		if err != nil {
			t.Fatal(err)
		}
		if got := toolNames(t, cs); !slices.Equal(got, []string{"call_tool", "get_tool_schema", "search_tools"}) {
			t.Fatalf("discovery tools/list: %v, want exactly call_tool, get_tool_schema, search_tools", got)
		}

		res := callTool(t, cs, "search_tools", map[string]any{"query": "contact"})
		hits := namesOf(resultJSON(t, res)["tools"])
		if res.IsError || !slices.Contains(hits, "get_crm_contact") {
			t.Errorf("search contact: %v %s", hits, resultText(res))
		}
		for _, h := range hits {
			if !strings.HasPrefix(h, "get_") && !strings.HasPrefix(h, "list_") {
				t.Errorf("search returned %s, which methods [read] does not allow", h)
			}
		}

		res = callTool(t, cs, "get_tool_schema", map[string]any{"tool_names": []string{"get_crm_contact"}})
		defs, _ := resultJSON(t, res)["tools"].([]any)
		if res.IsError || len(defs) != 1 {
			t.Fatalf("get_tool_schema: %s", resultText(res))
		}
		def := defs[0].(map[string]any)
		schema, _ := def["inputSchema"].(map[string]any)
		props, _ := schema["properties"].(map[string]any)
		if def["name"] != "get_crm_contact" || props["contact_id"] == nil || !slices.Contains(toAnyStrings(schema["required"]), "contact_id") {
			t.Errorf("get_tool_schema definition: %v", def)
		}

		before := len(up.seen())
		res = callTool(t, cs, "call_tool", map[string]any{"tool_name": "get_crm_contact", "arguments": map[string]any{"contact_id": "c1"}})
		calls := up.seen()
		if res.IsError || !strings.Contains(resultText(res), "Ada") || len(calls) != before+1 || calls[len(calls)-1] != "GET /v1/contacts/c1 Bearer upstream-secret" {
			t.Errorf("call_tool: %v %s; upstream saw %v", res.IsError, resultText(res), calls[before:])
		}

		// A direct call of a real, allowed tool: a tool error that points to search_tools.
		res = callTool(t, cs, "get_crm_contact", map[string]any{"contact_id": "c1"})
		if !res.IsError || !strings.Contains(resultText(res), "search_tools") {
			t.Errorf("direct call in discovery: %v %s", res.IsError, resultText(res))
		}
		if n := len(up.seen()); n != before+1 {
			t.Errorf("the refused direct call reached the upstream (%d calls)", n-before)
		}

		// Back to "all": the same session sees the real tools at once.
		mustStatus(t, a.do(http.MethodPatch, "/integrated-account/"+acc+"/mcp/"+id, `{"config":{"tool_exposure":"all"}}`), http.StatusOK)
		want := []string{"get_crm_company", "get_crm_contact", "get_crm_deal", "list_crm_companies", "list_crm_contacts", "list_crm_deals"}
		if got := toolNames(t, cs); !slices.Equal(got, want) {
			t.Errorf("after PATCH to all: %v, want %v", got, want)
		}
		if res := callTool(t, cs, "get_crm_contact", map[string]any{"contact_id": "c1"}); res.IsError {
			t.Errorf("direct call after PATCH to all: %s", resultText(res))
		}
	})
}

func toAnyStrings(v any) []string {
	var out []string
	items, _ := v.([]any)
	for _, it := range items {
		out = append(out, fmt.Sprint(it))
	}
	return out
}

// problemShape is a problem document without what differs per request (instance, request_id).
func problemShape(t *testing.T, r response) string {
	t.Helper()
	m := r.json(t)
	delete(m, "instance")
	delete(m, "request_id")
	b, _ := json.Marshal(m)
	return fmt.Sprintf("%d %s %s %s", r.status, r.header.Get("Content-Type"), r.header.Get("WWW-Authenticate"), b)
}

// TestRequireAPITokenAuthEndToEnd: with config.require_api_token_auth, an MCP request needs
// "Authorization: Bearer <API token>" of the server's environment: none, another
// environment's, a revoked one and a garbage one are 401 with exactly the problem of a bad MCP
// token; a valid one works with the go-sdk client; with the setting off nothing is needed.
func TestRequireAPITokenAuthEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a, up, acc := mcpApp(t, dbURL)
		id, url := a.createServer(acc, `{"methods":["read"],"require_api_token_auth":true}`)
		path := strings.TrimPrefix(url, a.base)
		list := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
		mcpHeaders := []string{"Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", "2025-06-18"}
		post := func(p, auth string) response {
			return a.do(http.MethodPost, p, list, append([]string{"Authorization", auth}, mcpHeaders...)...)
		}
		badToken := post("/mcp/mcp_not_a_token", "")
		mustStatus(t, badToken, http.StatusUnauthorized)
		want := problemShape(t, badToken)

		// The revoked token: made in the server's environment, revoked through the CLI.
		listIDs := func() []string {
			out, err := a.cli("token", "list", "--environment", a.env)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, line := range strings.Split(out, "\n")[1:] {
				if f := strings.Fields(line); len(f) > 0 {
					ids = append(ids, f[0])
				}
			}
			return ids
		}
		old := listIDs()
		revoked := a.createToken(a.env)
		var revokedID string
		for _, id := range listIDs() {
			if !slices.Contains(old, id) {
				revokedID = id
			}
		}
		if revokedID == "" {
			t.Fatal("the new token is not listed")
		}
		mustStatus(t, post(path, "Bearer "+revoked), http.StatusOK) // valid until revoked
		if _, err := a.cli("token", "revoke", revokedID); err != nil {
			t.Fatal(err)
		}
		other := a.createToken("other-" + a.env)
		for name, auth := range map[string]string{
			"none":              "",
			"other environment": "Bearer " + other,
			"revoked":           "Bearer " + revoked,
			"garbage":           "Bearer mcpapi_garbage",
			"not bearer":        "Basic " + a.token,
		} {
			r := post(path, auth)
			if got := problemShape(t, r); got != want {
				t.Errorf("%s: %s\nwant the bad-token problem %s", name, got, want)
			}
		}

		// A valid API token of the environment: the go-sdk client works, calls included.
		before := len(up.seen())
		if _, err := sdkConnect(t, url); err == nil {
			t.Error("the go-sdk client connected without an API token")
		}
		cs, err := sdkConnect(t, url, "Authorization", "Bearer "+a.token)
		if err != nil {
			t.Fatal(err)
		}
		if got := toolNames(t, cs); !slices.Contains(got, "get_crm_contact") {
			t.Errorf("tools %v", got)
		}
		res := callTool(t, cs, "get_crm_contact", map[string]any{"contact_id": "c1"})
		calls := up.seen()
		// The API token authenticates to mcpapi only: the upstream gets the account's credential.
		if res.IsError || len(calls) != before+1 || calls[len(calls)-1] != "GET /v1/contacts/c1 Bearer upstream-secret" {
			t.Errorf("call with an API token: %s; upstream %v", resultText(res), calls[before:])
		}

		// Off: no Authorization needed.
		mustStatus(t, a.do(http.MethodPatch, "/integrated-account/"+acc+"/mcp/"+id, `{"config":{"require_api_token_auth":false}}`), http.StatusOK)
		mustStatus(t, post(path, ""), http.StatusOK)
		if _, err := sdkConnect(t, url); err != nil {
			t.Errorf("setting off: the go-sdk client without an API token: %v", err)
		}
	})
}

// logRecords reads GET /log?log_type=mcp with the query (raw JSON, so the test does not depend
// on generated model names) and returns its records.
func (a *app) logRecords(query string) ([]map[string]any, string) {
	a.t.Helper()
	r := a.do(http.MethodGet, "/log?log_type=mcp&limit=100"+query, "")
	mustStatus(a.t, r, http.StatusOK)
	var page struct{ Result []map[string]any }
	if err := json.Unmarshal(r.body, &page); err != nil {
		a.t.Fatalf("%v: %s", err, r.body)
	}
	return page.Result, string(r.body)
}

// TestCallLogsEndToEnd: MCP requests through the real server (initialize stating clientInfo,
// a call that works, a tool error, an upstream error, a refused call) are listed by GET
// /log?log_type=mcp within ~2 s, newest first, each with its method, tool, outcome, statuses,
// client name and version and the X-Request-ID the client sent; the mcp_server_id and outcome
// filters select them; neither the /log body nor any column of the table holds the arguments,
// the upstream credential, the MCP token or the API token. With --mcp-call-log=false or
// MCPAPI_MCP_CALL_LOG=false (a second instance on the same database) nothing is recorded.
func TestCallLogsEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a, _, acc := mcpApp(t, dbURL)
		srv, url := a.createServer(acc, `{"methods":["read"]}`)
		other, otherURL := a.createServer(acc, `{"methods":["read"]}`)
		path, otherPath := strings.TrimPrefix(url, a.base), strings.TrimPrefix(otherURL, a.base)
		const planted = "planted-arg-4711"
		call := func(name, args string) string {
			return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + name + `","arguments":` + args + `}}`
		}
		type want struct {
			method, tool, outcome string
			upstream              any // float64 status, or nil
			client                bool
		}
		steps := []struct {
			body string
			want want
		}{
			{`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-agent","version":"9.8.7"}}}`,
				want{"initialize", "", "ok", nil, true}},
			{`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, want{"tools/list", "", "ok", nil, false}},
			{call("get_crm_contact", `{"contact_id":"`+planted+`"}`), want{"tools/call", "get_crm_contact", "ok", float64(200), false}},
			{call("get_crm_contact", `{"wrong":"`+planted+`"}`), want{"tools/call", "get_crm_contact", "tool_error", nil, false}},
			{call("get_crm_contact", `{"contact_id":"broken"}`), want{"tools/call", "get_crm_contact", "upstream_error", float64(502), false}},
			{call("delete_crm_contact", `{"contact_id":"`+planted+`"}`), want{"tools/call", "delete_crm_contact", "refused", nil, false}},
		}
		reqID := func(i int) string { return fmt.Sprintf("e2e-log-%s-%d", srv[:8], i) }
		mcpHeaders := func(i int) []string {
			return []string{"Authorization", "", "Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", "2025-06-18", "X-Request-ID", reqID(i)}
		}
		for i, s := range steps {
			r := a.do(http.MethodPost, path, s.body, mcpHeaders(i)...)
			mustStatus(t, r, http.StatusOK)
			if r.header.Get("X-Request-ID") != reqID(i) {
				t.Errorf("step %d: X-Request-ID %q", i, r.header.Get("X-Request-ID"))
			}
		}
		mustStatus(t, a.do(http.MethodPost, otherPath, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, mcpHeaders(99)...), http.StatusOK)
		last := time.Now()

		// Readable within ~2 s of the last call (the writer flushes at least every second).
		var recs []map[string]any
		var body string
		for {
			recs, body = a.logRecords("&mcp_server_id=" + srv)
			if len(recs) >= len(steps) || time.Since(last) > 2500*time.Millisecond {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%d records readable %v after the last call", len(recs), time.Since(last).Round(time.Millisecond))
		if len(recs) != len(steps) {
			t.Fatalf("%d records of server %s after %v, want %d: %s", len(recs), srv, time.Since(last), len(steps), body)
		}
		for j, rec := range recs {
			i := len(steps) - 1 - j // newest first
			w := steps[i].want
			str := func(k string) string { s, _ := rec[k].(string); return s }
			if str("mcp_method") != w.method || str("tool_name") != w.tool || str("outcome") != w.outcome ||
				rec["http_status"] != float64(200) || rec["upstream_status"] != w.upstream || str("request_id") != reqID(i) ||
				str("mcp_server_id") != srv || str("integrated_account_id") != acc || str("integration") != "crm" {
				t.Errorf("record %d (step %d): %v", j, i, rec)
			}
			if w.client != (str("client_name") == "e2e-agent" && str("client_version") == "9.8.7") {
				t.Errorf("record %d (step %d): client %v %v", j, i, rec["client_name"], rec["client_version"])
			}
			if (w.upstream != nil) != (rec["upstream_duration_ms"] != nil) {
				t.Errorf("record %d (step %d): upstream_duration_ms %v", j, i, rec["upstream_duration_ms"])
			}
		}

		// Filters: by server, by outcome, by both.
		for q, n := range map[string]int{
			"&mcp_server_id=" + other:                              1,
			"&outcome=refused&mcp_server_id=" + srv:                1,
			"&outcome=upstream_error":                              1,
			"&outcome=ok&mcp_server_id=" + srv:                     3,
			"&outcome=ok&mcp_server_id=" + other:                   1,
			"&outcome=tool_error&mcp_server_id=" + other:           0,
			"&mcp_method=initialize&mcp_server_id=" + srv:          1,
			"&tool_name=delete_crm_contact&mcp_server_id=" + other: 0,
		} {
			if got, _ := a.logRecords(q); len(got) != n {
				t.Errorf("%s: %d records, want %d", q, len(got), n)
			}
		}

		// Nothing secret in the API's answer or in any column of the table.
		_, all := a.logRecords("")
		mcpToken := path[strings.LastIndex(path, "/")+1:]
		secrets := []string{planted, "upstream-secret", mcpToken, a.token}
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Errorf("GET /log holds %q", s)
			}
		}
		rows, err := a.storeOf().DB().Raw(`SELECT * FROM mcp_call_logs`).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			n++
			for i, v := range vals {
				cell := fmt.Sprintf("%s", v)
				for _, s := range secrets {
					if strings.Contains(cell, s) {
						t.Errorf("column %s holds %q", cols[i], s)
					}
				}
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if n != len(steps)+1 {
			t.Errorf("%d rows in mcp_call_logs, want %d", n, len(steps)+1)
		}

		// --mcp-call-log=false: a second instance on the same database records nothing. The
		// flag on SQLite, its variable MCPAPI_MCP_CALL_LOG on PostgreSQL.
		getenv, flags := noEnv, []string{"--integrations-dir", crmPointingAt(t, newLoopback(t, &crmUpstream{})), "--secret-key", testSecretKey}
		if strings.HasPrefix(dbURL, "postgres") {
			getenv = func(k string) string {
				if k == "MCPAPI_MCP_CALL_LOG" {
					return "false"
				}
				return ""
			}
		} else {
			flags = append(flags, "--mcp-call-log=false")
		}
		off := serveApp(t, dbURL, getenv, flags...)
		off.token = a.token
		for i, s := range steps {
			mustStatus(t, off.do(http.MethodPost, path, s.body, mcpHeaders(100+i)...), http.StatusOK)
		}
		time.Sleep(1500 * time.Millisecond) // past the writer's flush interval
		if got := a.countRows("mcp_call_logs"); got != int64(n) {
			t.Errorf("with --mcp-call-log=false: %d rows, want %d", got, n)
		}
	})
}

// TestTypeScriptSDKShapesEndToEnd: the platform's TypeScript SDK (truto-ts-sdk 2.0.12) posts
// JSON-RPC as a string body (fetch labels it text/plain;charset=UTF-8) to `${baseUrl}mcp/${token}`,
// with Accept: application/json only, its User-Agent, no Mcp-Protocol-Version, no jsonrpc
// member, initialize without an id, and the environment's API token as a bearer. Through the
// real server, on a server requiring API-token auth and on one that does not: initialize is
// answered with id null, tools/list lists the allowed tools, tools/call reaches the upstream
// with the account's credential; on the requiring server the same shapes with another
// environment's token are 401.
func TestTypeScriptSDKShapesEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a, up, acc := mcpApp(t, dbURL)
		other := a.createToken("other-" + a.env)
		ts := func(path, bearer, body string) (response, map[string]any) {
			t.Helper()
			r := a.do(http.MethodPost, path, body, "Content-Type", "text/plain;charset=UTF-8", "Accept", "application/json",
				"Authorization", "Bearer "+bearer, "User-Agent", "truto-ts-sdk/2.0.12")
			var m map[string]any
			_ = json.Unmarshal(r.body, &m)
			return r, m
		}
		const (
			initialize = `{"method":"initialize","params":{"protocolVersion":"2024-11-05","clientInfo":{"name":"truto-ts-sdk","version":"2.0.12"}}}`
			list       = `{"method":"tools/list","id":1}`
			call       = `{"method":"tools/call","id":2,"params":{"name":"get_crm_contact","arguments":{"contact_id":"c7"}}}`
		)
		for _, require := range []bool{false, true} {
			_, url := a.createServer(acc, fmt.Sprintf(`{"methods":["read"],"tags":["contacts"],"require_api_token_auth":%t}`, require))
			path := strings.TrimPrefix(url, a.base)
			r, m := ts(path, a.token, initialize)
			res, _ := m["result"].(map[string]any)
			if _, hasID := m["id"]; r.status != http.StatusOK || m["jsonrpc"] != "2.0" || !hasID || m["id"] != nil || res["protocolVersion"] != "2024-11-05" {
				t.Fatalf("require=%t initialize: %d %s", require, r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("require=%t initialize: Content-Type %q", require, ct)
			}
			r, m = ts(path, a.token, list)
			res, _ = m["result"].(map[string]any)
			if got := namesOf(res["tools"]); r.status != http.StatusOK || m["id"] != float64(1) || !slices.Equal(got, []string{"get_crm_contact", "list_crm_contacts"}) {
				t.Errorf("require=%t tools/list: %d %s", require, r.status, r.body)
			}
			before := len(up.seen())
			r, m = ts(path, a.token, call)
			res, _ = m["result"].(map[string]any)
			calls := up.seen()
			if r.status != http.StatusOK || m["id"] != float64(2) || res == nil || res["isError"] == true ||
				len(calls) != before+1 || calls[len(calls)-1] != "GET /v1/contacts/c7 Bearer upstream-secret" {
				t.Errorf("require=%t tools/call: %d %s; upstream %v", require, r.status, r.body, calls[before:])
			}
			// Another environment's API token: refused only where the server requires one.
			r, _ = ts(path, other, list)
			if want := map[bool]int{false: http.StatusOK, true: http.StatusUnauthorized}[require]; r.status != want {
				t.Errorf("require=%t, another environment's token: %d, want %d: %s", require, r.status, want, r.body)
			}
		}
	})
}

// TestServeHelpListsMCPCallLog: serve --help documents --mcp-call-log and its variable.
func TestServeHelpListsMCPCallLog(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"mcpapi", "serve", "--help"}, noEnv, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "-mcp-call-log") || !strings.Contains(out.String(), "MCPAPI_MCP_CALL_LOG") {
		t.Errorf("serve --help lacks --mcp-call-log: %s", out.String())
	}
}
