package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/server/mcp"
)

// tsPost sends a body exactly as the platform's TypeScript SDK (truto-ts-sdk 2.0.12) does: a
// string body (fetch labels it text/plain;charset=UTF-8), Accept: application/json only, the
// API token as a bearer, its User-Agent, and no Mcp-Protocol-Version.
func tsPost(t *testing.T, url, body string) (reply, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer api_token_of_env1")
	req.Header.Set("User-Agent", "truto-ts-sdk/2.0.12")
	r := do(t, req)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%s: not JSON: %d %s", body, r.status, r.body)
	}
	return r, m
}

// TestTypeScriptSDKShapes: each request shape of the platform's TypeScript SDK is answered
// as the platform answers it, on both paths (the lean one, and the SDK's for the methods the
// lean path leaves to it), with and without the API-token requirement.
func TestTypeScriptSDKShapes(t *testing.T) {
	e := newEnv(t, envOptions{deps: func(d *mcp.Deps) {
		d.VerifyAPIToken = func(_ context.Context, env, bearer string) (bool, error) {
			return env == "env1" && bearer == "api_token_of_env1", nil //nolint:gosec // G101: a test bearer, not a credential
		}
	}})
	for _, require := range []bool{false, true} {
		url := e.url + "/mcp/" + e.serve("mcp_ts_"+strconv.FormatBool(require),
			mcp.Target{EnvironmentID: "env1", RequireAPIToken: require, Methods: []string{"read"}})
		t.Run("require="+strconv.FormatBool(require), func(t *testing.T) {
			// initialize: no jsonrpc, no id → a response with id null.
			r, m := tsPost(t, url, `{"method":"initialize","params":{"protocolVersion":"2024-11-05","clientInfo":{"name":"truto-ts-sdk","version":"2.0.12"}}}`)
			res, _ := m["result"].(map[string]any)
			if r.status != http.StatusOK || m["jsonrpc"] != "2.0" || m["id"] != nil || !hasKey(m, "id") || res["protocolVersion"] != "2024-11-05" {
				t.Fatalf("initialize: %d %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("initialize content type %q", ct)
			}
			// tools/list: no jsonrpc, no params.
			r, m = tsPost(t, url, `{"method":"tools/list","id":1}`)
			if r.status != http.StatusOK || m["id"] != float64(1) || !strings.Contains(r.body, `"name":"get_crm_contact"`) || strings.Contains(r.body, "create_crm_contact") {
				t.Fatalf("tools/list: %d %s", r.status, r.body)
			}
			// tools/call: no jsonrpc.
			before := e.upstreamCount()
			r, m = tsPost(t, url, `{"method":"tools/call","id":2,"params":{"name":"get_crm_contact","arguments":{"contact_id":"c1"}}}`)
			res, _ = m["result"].(map[string]any)
			if r.status != http.StatusOK || m["id"] != float64(2) || res == nil || res["isError"] == true || e.upstreamCount() != before+1 {
				t.Fatalf("tools/call: %d %s", r.status, r.body)
			}
			// A method the lean path leaves to the SDK, also without jsonrpc: the SDK's own
			// answer (an empty resource list), not "invalid message version tag".
			r, m = tsPost(t, url, `{"method":"resources/list","id":3}`)
			if r.status != http.StatusOK || m["id"] != float64(3) || !hasKey(m, "result") {
				t.Errorf("resources/list: %d %s", r.status, r.body)
			}
			// An id-less initialize without params: an invalid-params response, id null.
			r, m = tsPost(t, url, `{"method":"initialize"}`)
			errObj, _ := m["error"].(map[string]any)
			if r.status != http.StatusOK || !hasKey(m, "id") || m["id"] != nil || errObj["code"] != float64(-32602) {
				t.Errorf("initialize without params: %d %s", r.status, r.body)
			}
		})
	}
	// Standard shapes are unchanged: a notification still gets 202 and no body, a wrong
	// jsonrpc version is still the SDK's error.
	url := e.url + "/mcp/mcp_ts_false"
	if r := post(t, url, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil); r.status != http.StatusAccepted || r.body != "" {
		t.Errorf("notification: %d %q", r.status, r.body)
	}
	if r := post(t, url, `{"jsonrpc":"1.0","id":1,"method":"tools/list"}`, nil); r.status == http.StatusOK && strings.Contains(r.body, `"tools"`) {
		t.Errorf("jsonrpc 1.0 was answered: %d %s", r.status, r.body)
	}
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// TestRetryAfterOnRetryableAnswers: a rate-limited MCP request (429) carries the Retry-After
// the limiter chose, in whole seconds.
func TestRetryAfterOnRetryableAnswers(t *testing.T) {
	e := newEnv(t, envOptions{deps: func(d *mcp.Deps) {
		d.Admit = func(_ *http.Request, _ string, stage mcp.AdmitStage) int {
			if stage == mcp.AdmitServer {
				return 7
			}
			return 0
		}
	}})
	url := e.url + "/mcp/" + e.serve("mcp_limited", mcp.Target{})
	r := post(t, url, initializeBody, nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "7" {
		t.Fatalf("%d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	for _, code := range []int{408, 409, 425, 429, 502, 503, 504} {
		if !mcp.RetryableStatus(code) {
			t.Errorf("%d is not retryable", code)
		}
	}
	if mcp.RetryableStatus(http.StatusBadRequest) || mcp.RetryableStatus(http.StatusInternalServerError) {
		t.Error("400/500 are retryable")
	}
}

// TestRequireAPIToken: with RequireAPIToken, only a request with a bearer the hook accepts for
// the server's environment is served; every other answer is the bad-token 401, and the rate
// limits are applied before the hook is asked. Without it the hook is never asked.
func TestRequireAPIToken(t *testing.T) {
	var asked atomic.Int64
	var limited atomic.Bool
	e := newEnv(t, envOptions{deps: func(d *mcp.Deps) {
		d.VerifyAPIToken = func(_ context.Context, env, bearer string) (bool, error) {
			asked.Add(1)
			return env == "env1" && bearer == "api_good", nil
		}
		d.Admit = func(*http.Request, string, mcp.AdmitStage) int {
			if limited.Load() {
				return 3
			}
			return 0
		}
	}})
	url := e.url + "/mcp/" + e.serve("mcp_req", mcp.Target{EnvironmentID: "env1", RequireAPIToken: true})
	other := e.url + "/mcp/" + e.serve("mcp_req_other_env", mcp.Target{EnvironmentID: "env2", RequireAPIToken: true})
	bad := post(t, e.url+"/mcp/mcp_unknown", initializeBody, nil)
	if bad.status != http.StatusUnauthorized {
		t.Fatalf("unknown token: %d", bad.status)
	}
	for name, c := range map[string]struct {
		url, auth string
	}{
		"no header": {url, ""}, "wrong token": {url, "Bearer api_bad"}, "not bearer": {url, "Basic YTpi"},
		"empty bearer": {url, "Bearer "}, "other environment": {other, "Bearer api_good"},
	} {
		r := post(t, c.url, initializeBody, map[string]string{"Authorization": c.auth})
		if r.status != http.StatusUnauthorized || r.body != bad.body || r.header.Get("WWW-Authenticate") != bad.header.Get("WWW-Authenticate") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := post(t, url, initializeBody, map[string]string{"Authorization": "Bearer api_good"}); r.status != http.StatusOK {
		t.Errorf("good token: %d %s", r.status, r.body)
	}
	if r := post(t, url, initializeBody, map[string]string{"Authorization": "bearer  api_good "}); r.status != http.StatusOK {
		t.Errorf("scheme case and spaces: %d %s", r.status, r.body)
	}
	// Limits first: a limited request never reaches the hook.
	limited.Store(true)
	n := asked.Load()
	if r := post(t, url, initializeBody, map[string]string{"Authorization": "Bearer api_good"}); r.status != http.StatusTooManyRequests || asked.Load() != n {
		t.Errorf("limited: %d, hook asked %d times", r.status, asked.Load()-n)
	}
	limited.Store(false)
	// Not required: no header is fine and the hook is not asked.
	open := e.url + "/mcp/" + e.serve("mcp_open", mcp.Target{EnvironmentID: "env1"})
	n = asked.Load()
	if r := post(t, open, initializeBody, nil); r.status != http.StatusOK || asked.Load() != n {
		t.Errorf("not required: %d, hook asked %d times", r.status, asked.Load()-n)
	}
	// Through the SDK client, with the bearer on every request.
	cs := connectWithHeader(t, url, "Authorization", "Bearer api_good")
	if res := call(t, cs, "get_crm_contact", map[string]any{"contact_id": "c1"}); res.IsError {
		t.Errorf("SDK client call: %s", textOf(res))
	}
}

type headerTransport struct {
	k, v string
	base http.RoundTripper
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.k, h.v)
	return h.base.RoundTrip(r)
}

func connectWithHeader(t *testing.T, url, k, v string) *sdk.ClientSession {
	t.Helper()
	client := sdk.NewClient(&sdk.Implementation{Name: "mcpapi-test", Version: "1"}, nil)
	hc := &http.Client{Transport: headerTransport{k, v, http.DefaultTransport}}
	cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// structured is a tool result's structured content, or its text parsed (versions before
// 2025-06-18 have no structured content).
func structured(t *testing.T, res *sdk.CallToolResult) map[string]any {
	t.Helper()
	var m map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	if res.StructuredContent == nil {
		b = []byte(textOf(res))
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("result %q: %v", b, err)
	}
	return m
}

func names(list any) []string {
	var out []string
	items, _ := list.([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, fmt.Sprint(m["name"]))
	}
	return out
}

// TestDiscovery: with tool_exposure "discovery", tools/list is the three meta-tools (with
// schemas and annotations); search finds the allowed tools only, ranked, and browses them by
// tag; get_tool_schema returns full definitions and suggestions; call_tool reaches the
// upstream exactly as a direct call; a direct call of a real tool is refused pointing to
// search_tools. On the lean path (2024-11-05 … 2025-11-25) and the SDK path (2026-07-28).
func TestDiscovery(t *testing.T) {
	e := newEnv(t, envOptions{})
	url := e.url + "/mcp/" + e.serve("mcp_discovery", mcp.Target{ToolExposure: mcp.ExposureDiscovery, Methods: []string{"read"}})
	for _, v := range []string{"2024-11-05", "2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(v, func(t *testing.T) {
			cs := connect(t, url, v)
			lean := mcp.LeanServed(e.handler)
			list, err := cs.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tool := range list.Tools {
				got = append(got, tool.Name)
				if tool.InputSchema == nil || tool.Description == "" {
					t.Errorf("%s: no input schema or description", tool.Name)
				}
				if v >= "2025-03-26" && tool.Annotations == nil {
					t.Errorf("%s: no annotations", tool.Name)
				}
				if v >= "2025-06-18" && tool.Name != "call_tool" && tool.OutputSchema == nil {
					t.Errorf("%s: no output schema", tool.Name)
				}
			}
			if !slices.Equal(got, []string{"search_tools", "get_tool_schema", "call_tool"}) {
				t.Fatalf("tools %v", got)
			}

			// Search: allowed tools only (methods read), contacts first for "contact".
			res := call(t, cs, "search_tools", map[string]any{"query": "contact"})
			m := structured(t, res)
			hits := names(m["tools"])
			if res.IsError || len(hits) == 0 || !slices.Contains(hits[:2], "get_crm_contact") || !slices.Contains(hits[:2], "list_crm_contacts") {
				t.Errorf("search contact: %v", m)
			}
			for _, h := range hits {
				if !slices.Contains(crmRead, h) {
					t.Errorf("search returned %s, which the config does not allow", h)
				}
			}
			// By argument name and with a limit.
			m = structured(t, call(t, cs, "search_tools", map[string]any{"query": "company_id", "limit": 1}))
			if hits := names(m["tools"]); !slices.Equal(hits, []string{"get_crm_company"}) {
				t.Errorf("search company_id limit 1: %v", m)
			}
			if m := structured(t, call(t, cs, "search_tools", map[string]any{"query": "zebra"})); m["total"] != float64(0) {
				t.Errorf("search zebra: %v", m)
			}
			// Browse: grouped by tag, every allowed tool once.
			m = structured(t, call(t, cs, "search_tools", map[string]any{"query": ""}))
			groups, _ := m["groups"].([]any)
			var tags, all []string
			for _, g := range groups {
				gm := g.(map[string]any)
				tags = append(tags, gm["tag"].(string))
				all = append(all, names(gm["tools"])...)
			}
			slices.Sort(all)
			if !slices.Equal(tags, []string{"companies", "contacts", "deals"}) || !slices.Equal(all, crmRead) || m["total"] != float64(len(crmRead)) {
				t.Errorf("browse: %v", m)
			}
			if res := call(t, cs, "search_tools", map[string]any{"query": "x", "limit": 0}); !res.IsError {
				t.Error("limit 0 was accepted")
			}
			if res := call(t, cs, "search_tools", map[string]any{"query": strings.Repeat("x", 600)}); !res.IsError {
				t.Error("a 600-byte query was accepted")
			}

			// Schemas: full definitions; unknown and disallowed names get suggestions.
			res = call(t, cs, "get_tool_schema", map[string]any{"tool_names": []string{"get_crm_contact", "get_crm_contakt", "create_crm_contact"}})
			m = structured(t, res)
			defs, _ := m["tools"].([]any)
			unknown, _ := m["unknown"].([]any)
			if res.IsError || len(defs) != 1 || len(unknown) != 2 {
				t.Fatalf("get_tool_schema: %v", m)
			}
			def := defs[0].(map[string]any)
			if def["name"] != "get_crm_contact" || def["inputSchema"] == nil || def["annotations"] == nil {
				t.Errorf("definition %v", def)
			}
			if s := unknown[0].(map[string]any); s["name"] != "get_crm_contakt" || !slices.Contains(toStrings(s["did_you_mean"]), "get_crm_contact") {
				t.Errorf("did you mean: %v", s)
			}
			if res := call(t, cs, "get_tool_schema", map[string]any{"tool_names": []string{"a", "b", "c", "d", "e", "f"}}); !res.IsError {
				t.Error("six names were accepted")
			}
			if res := call(t, cs, "get_tool_schema", map[string]any{"tool_names": []string{"nothing_like_it"}}); !res.IsError {
				t.Error("only unknown names is not an error")
			}

			// call_tool reaches the upstream as a direct call.
			before := e.upstreamCount()
			res = call(t, cs, "call_tool", map[string]any{"tool_name": "get_crm_contact", "arguments": map[string]any{"contact_id": "c/1"}})
			if res.IsError || e.upstreamCount() != before+1 || e.lastUpstream(t).RequestURI != "/crm/v1/contacts/c%2F1" || !strings.Contains(textOf(res), "Ada") {
				t.Errorf("call_tool: %s", textOf(res))
			}
			// Its argument errors are the tool's.
			if res := call(t, cs, "call_tool", map[string]any{"tool_name": "get_crm_contact", "arguments": map[string]any{}}); !res.IsError || !strings.Contains(textOf(res), "Invalid arguments") {
				t.Errorf("call_tool without required argument: %s", textOf(res))
			}
			// Disallowed and unknown tools are refused, with suggestions, and reach nothing.
			before = e.upstreamCount()
			for _, name := range []string{"create_crm_contact", "get_crm_contakt", "search_tools"} {
				res := call(t, cs, "call_tool", map[string]any{"tool_name": name, "arguments": map[string]any{"contact_id": "c1"}})
				if !res.IsError || !strings.Contains(textOf(res), "search_tools") {
					t.Errorf("call_tool %s: %s", name, textOf(res))
				}
			}
			if res := call(t, cs, "call_tool", map[string]any{"tool_name": "get_crm_contakt"}); !strings.Contains(textOf(res), "get_crm_contact") {
				t.Errorf("no suggestion: %s", textOf(res))
			}
			// A direct call of a real tool: a tool error pointing to search_tools.
			res = call(t, cs, "get_crm_contact", map[string]any{"contact_id": "c1"})
			if !res.IsError || !strings.Contains(textOf(res), "search_tools") {
				t.Errorf("direct call: %v %s", res.IsError, textOf(res))
			}
			if e.upstreamCount() != before {
				t.Error("a refused call reached the upstream")
			}
			// An unknown name stays the protocol error it is in "all".
			if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "no_such_tool"}); err == nil {
				t.Error("unknown tool: no error")
			}
			served := mcp.LeanServed(e.handler) - lean
			if v == "2026-07-28" && served != 0 {
				t.Errorf("the SDK path was not used: %d lean answers", served)
			}
			if v != "2026-07-28" && served == 0 {
				t.Error("the lean path was not used")
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	items, _ := v.([]any)
	for _, it := range items {
		out = append(out, fmt.Sprint(it))
	}
	return out
}

// TestExposureAllUnchanged: "all" and "" list the allowed tools, not the meta-tools, and a
// meta-tool name is an unknown tool there.
func TestExposureAllUnchanged(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, x := range []string{"", mcp.ExposureAll} {
		cs := connect(t, e.url+"/mcp/"+e.serve("mcp_all_"+x, mcp.Target{ToolExposure: x, Methods: []string{"read"}}), "")
		if got := toolNames(t, cs); !slices.Equal(got, crmRead) {
			t.Errorf("%q: %v", x, got)
		}
		if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "search_tools", Arguments: map[string]any{"query": ""}}); err == nil {
			t.Errorf("%q: search_tools answered", x)
		}
	}
}

type recorder struct {
	mu      sync.Mutex
	records []mcp.CallRecord
}

func (r *recorder) add(c mcp.CallRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, c)
}

func (r *recorder) take() []mcp.CallRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.records
	r.records = nil
	return out
}

// TestCallLog: one record per request that reached an MCP server, with its method, tool,
// outcome (ok, tool_error, upstream_error, timeout, refused), statuses, durations and the
// client's stated name; none for an unknown token; never arguments or credentials.
func TestCallLog(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, envOptions{timeout: 700 * time.Millisecond, deps: func(d *mcp.Deps) { d.CallLog = rec.add }, upstream: func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/crm/v1/contacts/broken":
			w.WriteHeader(http.StatusBadGateway)
		case "/crm/v1/contacts/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"c1"}`)
		}
	}})
	target := mcp.Target{ServerID: "srv1", EnvironmentID: "env1", AccountID: "acc1", Methods: []string{"read"},
		Credential: &mcp.Credential{Type: "bearer", Value: "upstream-secret"}}
	url := e.url + "/mcp/" + e.serve("mcp_logged", target)
	target.ToolExposure, target.ServerID = mcp.ExposureDiscovery, "srv2"
	disc := e.url + "/mcp/" + e.serve("mcp_logged_discovery", target)
	target.ToolExposure, target.ServerID, target.RequireAPIToken = "", "srv3", true
	guarded := e.url + "/mcp/" + e.serve("mcp_logged_guarded", target)

	callBody := func(name, args string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + name + `","arguments":` + args + `}}`
	}
	steps := []struct {
		url, body            string
		method, tool, outcom string
		status, upstream     int
	}{
		{url, `{"method":"initialize","params":{"protocolVersion":"2024-11-05","clientInfo":{"name":"truto-ts-sdk","version":"2.0.12"}}}`, "initialize", "", "ok", 200, 0},
		{url, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "tools/list", "", "ok", 200, 0},
		{url, callBody("get_crm_contact", `{"contact_id":"secret-arg"}`), "tools/call", "get_crm_contact", "ok", 200, 200},
		{url, callBody("get_crm_contact", `{"contact_id":"broken"}`), "tools/call", "get_crm_contact", "upstream_error", 200, 502},
		{url, callBody("get_crm_contact", `{"contact_id":"slow"}`), "tools/call", "get_crm_contact", "timeout", 200, 0},
		{url, callBody("get_crm_contact", `{}`), "tools/call", "get_crm_contact", "tool_error", 200, 0},
		{url, callBody("delete_crm_contact", `{"contact_id":"c1"}`), "tools/call", "delete_crm_contact", "refused", 200, 0},
		{disc, callBody("get_crm_contact", `{"contact_id":"c1"}`), "tools/call", "get_crm_contact", "refused", 200, 0},
		{disc, callBody("call_tool", `{"tool_name":"get_crm_contact","arguments":{"contact_id":"secret-arg"}}`), "tools/call", "get_crm_contact", "ok", 200, 200},
		{disc, callBody("search_tools", `{"query":"secret-arg"}`), "tools/call", "search_tools", "ok", 200, 0},
		{guarded, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "none", "", "refused", 401, 0},
		{e.url + "/mcp/mcp_unknown", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "", "", "", 401, 0},
	}
	var all []mcp.CallRecord
	for i, s := range steps {
		r := post(t, s.url, s.body, map[string]string{"Content-Type": "text/plain;charset=UTF-8"})
		if r.status != s.status {
			t.Fatalf("step %d: %d %s", i, r.status, r.body)
		}
		got := rec.take()
		if s.method == "" {
			if len(got) != 0 {
				t.Errorf("step %d: unknown token logged %+v", i, got)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("step %d: %d records", i, len(got))
		}
		c := got[0]
		all = append(all, c)
		if c.Method != s.method || c.Tool != s.tool || c.Outcome != s.outcom || c.HTTPStatus != s.status || c.UpstreamStatus != s.upstream ||
			c.EnvironmentID != "env1" || c.AccountID != "acc1" || c.Integration != "crm" || c.Duration <= 0 || c.At.IsZero() {
			t.Errorf("step %d: %+v", i, c)
		}
		if (s.upstream != 0 || s.outcom == "timeout") != (c.UpstreamDuration > 0) {
			t.Errorf("step %d: upstream duration %v", i, c.UpstreamDuration)
		}
		if i == 0 && (c.ClientName != "truto-ts-sdk" || c.ClientVersion != "2.0.12") {
			t.Errorf("client info %+v", c)
		}
		if i > 0 && c.ClientName != "" {
			t.Errorf("step %d: client name %q outside initialize", i, c.ClientName)
		}
	}
	dump := fmt.Sprintf("%+v", all)
	for _, secret := range []string{"secret-arg", "upstream-secret", "mcp_logged"} {
		if strings.Contains(dump, secret) {
			t.Errorf("a record holds %q: %s", secret, dump)
		}
	}
}
