package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/server/mcp"
	"github.com/mcpapi/mcpapi/store"
)

// upstreamRequest is what the fake integration API received.
type upstreamRequest struct {
	Method, RequestURI, Path string
	Query                    map[string][]string
	Header                   http.Header
	Body                     string
}

// env is an MCP handler on an httptest server, in front of a fake upstream API.
type env struct {
	url      string
	handler  *mcp.Handler
	mu       sync.Mutex
	targets  map[string]mcp.Target // by token
	received []upstreamRequest
	now      time.Time
}

type envOptions struct {
	upstream http.HandlerFunc // nil: echo a JSON object
	timeout  time.Duration
	deps     func(*mcp.Deps) // adjusts the handler's dependencies
}

func newEnv(t testing.TB, o envOptions) *env {
	e := &env{targets: map[string]mcp.Target{}, now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	upstreamHandler := o.upstream
	if upstreamHandler == nil {
		upstreamHandler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"c1","first_name":"Ada","big":12345678901234567890}`)
		}
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.received = append(e.received, upstreamRequest{
			Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path,
			Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(body),
		})
		e.mu.Unlock()
		upstreamHandler(w, r)
	}))
	t.Cleanup(upstream.Close)

	cat, err := integrations.Load("")
	if err != nil {
		t.Fatal(err)
	}
	var list []*integrations.Integration
	for _, name := range cat.Names() {
		in, _ := cat.Get(name)
		moved, err := in.WithBaseURL(upstream.URL + "/" + name + "/v1")
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, moved)
	}
	cat, err = integrations.NewCatalogue(list...)
	if err != nil {
		t.Fatal(err)
	}
	deps := mcp.Deps{
		Resolve:    e.resolve,
		Catalogue:  cat,
		HTTPClient: upstream.Client(),
		Logger:     slog.New(slog.DiscardHandler),
		Now:        func() time.Time { return e.now },
		Timeout:    o.timeout,
	}
	if o.deps != nil {
		o.deps(&deps)
	}
	h := mcp.New(deps)
	e.handler = h
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

var errDatabaseDown = errors.New("database down")

func (e *env) resolve(_ context.Context, hash []byte) (mcp.Target, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case bytes.Equal(hash, store.HashSecret("mcp_database_down")):
		return mcp.Target{}, fmt.Errorf("store: resolve mcp token: %w: %w", store.ErrUnavailable, errDatabaseDown)
	case bytes.Equal(hash, store.HashSecret("mcp_resolver_error")):
		return mcp.Target{}, errDatabaseDown
	}
	for token, target := range e.targets {
		if bytes.Equal(hash, store.HashSecret(token)) {
			return target, nil
		}
	}
	return mcp.Target{}, store.ErrNotFound
}

// serve registers a target and returns its token.
func (e *env) serve(token string, target mcp.Target) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if target.Integration == "" {
		target.Integration = "crm"
	}
	e.targets[token] = target
	return token
}

func (e *env) lastUpstream(t *testing.T) upstreamRequest {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.received) == 0 {
		t.Fatal("the upstream API received nothing")
	}
	return e.received[len(e.received)-1]
}

func (e *env) upstreamCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.received)
}

func connect(t testing.TB, url string, protocol string) *sdk.ClientSession {
	t.Helper()
	client := sdk.NewClient(&sdk.Implementation{Name: "mcpapi-test", Version: "1"}, nil)
	var opts *sdk.ClientSessionOptions
	if protocol != "" {
		opts = &sdk.ClientSessionOptions{ProtocolVersion: protocol}
	}
	cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, opts)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// ping sends a ping; protocol 2026-07-28 has no ping (the SDK answers method not found), so
// there a tools/list stands in.
func ping(cs *sdk.ClientSession) error {
	if cs.InitializeResult().ProtocolVersion >= "2026-07-28" {
		_, err := cs.ListTools(context.Background(), nil)
		return err
	}
	return cs.Ping(context.Background(), nil)
}

func toolNames(t testing.TB, cs *sdk.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	names := []string{}
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

func textOf(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func call(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	return res
}

var (
	crmAll = []string{
		"create_crm_company", "create_crm_contact", "create_crm_deal",
		"delete_crm_company", "delete_crm_contact", "delete_crm_deal",
		"get_crm_company", "get_crm_contact", "get_crm_deal",
		"list_crm_companies", "list_crm_contacts", "list_crm_deals",
		"search_crm_contacts",
		"update_crm_company", "update_crm_contact", "update_crm_deal",
	}
	crmRead  = []string{"get_crm_company", "get_crm_contact", "get_crm_deal", "list_crm_companies", "list_crm_contacts", "list_crm_deals"}
	crmWrite = []string{
		"create_crm_company", "create_crm_contact", "create_crm_deal",
		"delete_crm_company", "delete_crm_contact", "delete_crm_deal",
		"update_crm_company", "update_crm_contact", "update_crm_deal",
	}
)

// TestToolsListFilterMatrix: tools/list holds exactly the tools that config.methods AND
// config.tags allow, for names, groups, tags, and absent (nil) and empty lists.
func TestToolsListFilterMatrix(t *testing.T) {
	e := newEnv(t, envOptions{})
	cases := []struct {
		name          string
		integration   string
		methods, tags []string
		want          []string
	}{
		{"absent both", "", nil, nil, crmAll},
		{"empty methods", "", []string{}, nil, nil},
		{"empty tags", "", nil, []string{}, nil},
		{"empty both", "", []string{}, []string{}, nil},
		{"empty methods, tags set", "", []string{}, []string{"contacts"}, nil},
		{"method names", "", []string{"list", "get"}, nil, crmRead},
		{"group read", "", []string{"read"}, nil, crmRead},
		{"group write", "", []string{"write"}, nil, crmWrite},
		{"group custom", "", []string{"custom"}, nil, []string{"search_crm_contacts"}},
		{"custom method by name", "", []string{"search"}, nil, []string{"search_crm_contacts"}},
		{"single method", "", []string{"delete"}, nil, []string{"delete_crm_company", "delete_crm_contact", "delete_crm_deal"}},
		{"unknown method", "", []string{"download"}, nil, nil},
		{"tag", "", nil, []string{"deals"}, []string{"create_crm_deal", "delete_crm_deal", "get_crm_deal", "list_crm_deals", "update_crm_deal"}},
		{"two tags", "", nil, []string{"contacts", "companies"}, []string{
			"create_crm_company", "create_crm_contact", "delete_crm_company", "delete_crm_contact",
			"get_crm_company", "get_crm_contact", "list_crm_companies", "list_crm_contacts",
			"search_crm_contacts", "update_crm_company", "update_crm_contact"}},
		{"unknown tag", "", nil, []string{"webhooks"}, nil},
		{"read AND contacts", "", []string{"read"}, []string{"contacts"}, []string{"get_crm_contact", "list_crm_contacts"}},
		{"read+custom AND contacts", "", []string{"read", "custom"}, []string{"contacts"}, []string{"get_crm_contact", "list_crm_contacts", "search_crm_contacts"}},
		{"write AND deals", "", []string{"write"}, []string{"deals"}, []string{"create_crm_deal", "delete_crm_deal", "update_crm_deal"}},
		{"custom AND deals", "", []string{"custom"}, []string{"deals"}, nil},
		{"helpdesk custom", "helpdesk", []string{"custom"}, nil, []string{"close_helpdesk_tickets"}},
		{"helpdesk comments", "helpdesk", nil, []string{"comments"}, []string{"create_helpdesk_tickets_comments", "list_helpdesk_tickets_comments"}},
		{"helpdesk read AND comments", "helpdesk", []string{"read"}, []string{"comments"}, []string{"list_helpdesk_tickets_comments"}},
		{"no catalogue entry", "hubspot", nil, nil, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := e.serve(fmt.Sprintf("mcp_matrix_%d", i), mcp.Target{Integration: tc.integration, Methods: tc.methods, Tags: tc.tags})
			cs := connect(t, e.url+"/mcp/"+token, "")
			got := toolNames(t, cs)
			want := tc.want
			if want == nil {
				want = []string{}
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("methods %v tags %v:\n got %v\nwant %v", tc.methods, tc.tags, got, want)
			}
		})
	}
}

// TestProtocolVersions: initialize (legacy handshake) or server/discover, ping, tools/list and
// tools/call work with each protocol version the SDK client speaks.
func TestProtocolVersions(t *testing.T) {
	e := newEnv(t, envOptions{})
	token := e.serve("mcp_versions", mcp.Target{Methods: []string{"read"}, Tags: []string{"contacts"}})
	for _, v := range []string{"", "2025-03-26", "2025-06-18", "2025-11-25"} {
		t.Run("v"+v, func(t *testing.T) {
			cs := connect(t, e.url+"/mcp/"+token, v)
			init := cs.InitializeResult()
			if init == nil || init.Capabilities == nil || init.Capabilities.Tools == nil || init.ServerInfo == nil || init.ServerInfo.Name != "mcpapi" {
				t.Fatalf("initialize result %+v", init)
			}
			if v != "" && init.ProtocolVersion != v {
				t.Errorf("protocol %q, want %q", init.ProtocolVersion, v)
			}
			if err := ping(cs); err != nil {
				t.Fatalf("ping: %v", err)
			}
			if got := toolNames(t, cs); !reflect.DeepEqual(got, []string{"get_crm_contact", "list_crm_contacts"}) {
				t.Errorf("tools %v", got)
			}
			res := call(t, cs, "get_crm_contact", map[string]any{"contact_id": "c1"})
			if res.IsError {
				t.Fatalf("tool error: %s", textOf(res))
			}
		})
	}
}

// TestToolDefinitions: a tool carries its description, input schema and annotations.
func TestToolDefinitions(t *testing.T) {
	e := newEnv(t, envOptions{})
	cs := connect(t, e.url+"/mcp/"+e.serve("mcp_defs", mcp.Target{}), "")
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*sdk.Tool{}
	for _, tool := range res.Tools {
		byName[tool.Name] = tool
	}
	get := byName["get_crm_contact"]
	if get == nil || !strings.HasPrefix(get.Description, "Get a contact") || get.Annotations == nil || !get.Annotations.ReadOnlyHint {
		t.Fatalf("get_crm_contact: %+v", get)
	}
	schema, _ := json.Marshal(get.InputSchema)
	if !strings.Contains(string(schema), `"required":["contact_id"]`) || !strings.Contains(string(schema), `"additionalProperties":false`) {
		t.Errorf("schema %s", schema)
	}
	del := byName["delete_crm_contact"]
	if del == nil || del.Annotations == nil || del.Annotations.DestructiveHint == nil || !*del.Annotations.DestructiveHint {
		t.Errorf("delete_crm_contact annotations %+v", del)
	}
}

// TestToolsCallUpstream: a call reaches the integration's API with the method, the escaped
// path under the base path, the query, the JSON body and the credential, and its JSON answer
// comes back as text and as structured content.
func TestToolsCallUpstream(t *testing.T) {
	e := newEnv(t, envOptions{})
	bearer := connect(t, e.url+"/mcp/"+e.serve("mcp_bearer", mcp.Target{
		Credential: &mcp.Credential{Type: "bearer", Value: "upstream-secret"},
	}), "")

	t.Run("get with an escaped path", func(t *testing.T) {
		res := call(t, bearer, "get_crm_contact", map[string]any{"contact_id": "a b/c?d#e"})
		if res.IsError {
			t.Fatalf("tool error: %s", textOf(res))
		}
		got := e.lastUpstream(t)
		if got.Method != "GET" || got.RequestURI != "/crm/v1/contacts/a%20b%2Fc%3Fd%23e" {
			t.Errorf("upstream %s %s", got.Method, got.RequestURI)
		}
		if got.Header.Get("Authorization") != "Bearer upstream-secret" || got.Header.Get("Accept") != "application/json" {
			t.Errorf("headers %v", got.Header)
		}
		sc, ok := res.StructuredContent.(map[string]any)
		if !ok || sc["first_name"] != "Ada" {
			t.Errorf("structured content %#v", res.StructuredContent)
		}
		if !strings.Contains(textOf(res), `"big":12345678901234567890`) {
			t.Errorf("text %q", textOf(res))
		}
	})

	t.Run("list with a query", func(t *testing.T) {
		res := call(t, bearer, "list_crm_deals", map[string]any{"limit": 5, "stage": []string{"won", "lost"}})
		if res.IsError {
			t.Fatalf("tool error: %s", textOf(res))
		}
		got := e.lastUpstream(t)
		if got.Method != "GET" || got.Path != "/crm/v1/deals" ||
			!reflect.DeepEqual(got.Query, map[string][]string{"limit": {"5"}, "stage": {"won,lost"}}) {
			t.Errorf("upstream %s %s %v", got.Method, got.RequestURI, got.Query)
		}
	})

	t.Run("create with a JSON body", func(t *testing.T) {
		res := call(t, bearer, "create_crm_contact", map[string]any{"body": map[string]any{"first_name": "Ada", "email": "ada@example.com"}})
		if res.IsError {
			t.Fatalf("tool error: %s", textOf(res))
		}
		got := e.lastUpstream(t)
		if got.Method != "POST" || got.Path != "/crm/v1/contacts" || got.Header.Get("Content-Type") != "application/json" {
			t.Errorf("upstream %s %s %v", got.Method, got.RequestURI, got.Header)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(got.Body), &body); err != nil || !reflect.DeepEqual(body, map[string]any{"first_name": "Ada", "email": "ada@example.com"}) {
			t.Errorf("body %s (%v)", got.Body, err)
		}
	})

	t.Run("custom operation", func(t *testing.T) {
		res := call(t, bearer, "search_crm_contacts", map[string]any{"body": map[string]any{"query": "ada"}})
		if res.IsError {
			t.Fatalf("tool error: %s", textOf(res))
		}
		if got := e.lastUpstream(t); got.Method != "POST" || got.Path != "/crm/v1/contacts/search" || got.Body != `{"query":"ada"}` {
			t.Errorf("upstream %s %s %s", got.Method, got.RequestURI, got.Body)
		}
	})

	t.Run("header credential", func(t *testing.T) {
		cs := connect(t, e.url+"/mcp/"+e.serve("mcp_header", mcp.Target{
			Credential: &mcp.Credential{Type: "header", Name: "x-api-key", Value: "k3y"},
		}), "")
		if res := call(t, cs, "list_crm_contacts", nil); res.IsError {
			t.Fatalf("tool error: %s", textOf(res))
		}
		got := e.lastUpstream(t)
		if got.Header.Get("X-Api-Key") != "k3y" || got.Header.Get("Authorization") != "" {
			t.Errorf("headers %v", got.Header)
		}
	})

	t.Run("no credential", func(t *testing.T) {
		cs := connect(t, e.url+"/mcp/"+e.serve("mcp_nocred", mcp.Target{}), "")
		if res := call(t, cs, "list_crm_contacts", nil); res.IsError {
			t.Fatalf("tool error: %s", textOf(res))
		}
		if got := e.lastUpstream(t); got.Header.Get("Authorization") != "" {
			t.Errorf("headers %v", got.Header)
		}
	})
}

// TestToolsCallResults: arrays and empty answers as structured content.
func TestToolsCallResults(t *testing.T) {
	e := newEnv(t, envOptions{upstream: func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case strings.HasSuffix(r.URL.Path, "/comments"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `[{"id":1,"body":"hi"}]`)
		default:
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "plain text")
		}
	}})
	cs := connect(t, e.url+"/mcp/"+e.serve("mcp_results", mcp.Target{}), "")
	res := call(t, cs, "delete_crm_contact", map[string]any{"contact_id": "c1"})
	if res.IsError || !reflect.DeepEqual(res.StructuredContent, map[string]any{"status": float64(204)}) {
		t.Errorf("delete: %v %#v %s", res.IsError, res.StructuredContent, textOf(res))
	}
	if got := e.lastUpstream(t); got.Method != "DELETE" || got.Path != "/crm/v1/contacts/c1" {
		t.Errorf("upstream %s %s", got.Method, got.RequestURI)
	}

	hd := connect(t, e.url+"/mcp/"+e.serve("mcp_results_hd", mcp.Target{Integration: "helpdesk"}), "")
	res = call(t, hd, "list_helpdesk_tickets_comments", map[string]any{"ticket_id": 7})
	want := map[string]any{"result": []any{map[string]any{"id": float64(1), "body": "hi"}}}
	if res.IsError || !reflect.DeepEqual(res.StructuredContent, want) || textOf(res) != `[{"id":1,"body":"hi"}]` {
		t.Errorf("comments: %v %#v %s", res.IsError, res.StructuredContent, textOf(res))
	}
	if got := e.lastUpstream(t); got.Path != "/helpdesk/v1/tickets/7/comments" {
		t.Errorf("upstream %s", got.RequestURI)
	}
	res = call(t, hd, "get_helpdesk_tickets", map[string]any{"ticket_id": 7})
	if res.IsError || res.StructuredContent != nil || textOf(res) != "plain text" {
		t.Errorf("plain: %v %#v %s", res.IsError, res.StructuredContent, textOf(res))
	}
}

// TestToolsCallBadArguments: invalid arguments are tool errors naming the argument, and
// nothing reaches the upstream API.
func TestToolsCallBadArguments(t *testing.T) {
	e := newEnv(t, envOptions{})
	cs := connect(t, e.url+"/mcp/"+e.serve("mcp_bad_args", mcp.Target{}), "")
	cases := []struct {
		tool string
		args map[string]any
		arg  string
	}{
		{"get_crm_contact", nil, "contact_id"},
		{"get_crm_contact", map[string]any{"contact_id": 42}, "contact_id"},
		{"get_crm_contact", map[string]any{"contact_id": ".."}, "contact_id"},
		{"get_crm_contact", map[string]any{"contact_id": "../../admin"}, "contact_id"},
		{"get_crm_contact", map[string]any{"contact_id": "c1", "host": "evil.example.com"}, "host"},
		{"list_crm_contacts", map[string]any{"limit": "ten"}, "limit"},
		{"list_crm_contacts", map[string]any{"limit": 0}, "limit"},
		{"list_crm_deals", map[string]any{"stage": []string{"dreaming"}}, "stage"},
		{"create_crm_contact", map[string]any{}, "body"},
		{"create_crm_contact", map[string]any{"body": map[string]any{"first_name": "Ada"}}, "body"},
		{"search_crm_contacts", map[string]any{"body": "ada"}, "body"},
	}
	for _, tc := range cases {
		res := call(t, cs, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(textOf(res), `"`+tc.arg+`"`) {
			t.Errorf("%s %v: isError %v, %q does not name %q", tc.tool, tc.args, res.IsError, textOf(res), tc.arg)
		}
	}
	if n := e.upstreamCount(); n != 0 {
		t.Errorf("the upstream API received %d requests", n)
	}
}

// TestToolsCallUpstreamFailures: upstream 4xx/5xx, redirects and timeouts are tool errors
// naming the status.
func TestToolsCallUpstreamFailures(t *testing.T) {
	e := newEnv(t, envOptions{timeout: 600 * time.Millisecond, upstream: func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/crm/v1/contacts/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"no such contact"}`)
		case "/crm/v1/contacts/broken":
			w.WriteHeader(http.StatusInternalServerError)
		case "/crm/v1/contacts/moved":
			http.Redirect(w, r, "http://elsewhere.example.com/steal", http.StatusFound)
		case "/crm/v1/contacts/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}})
	cs := connect(t, e.url+"/mcp/"+e.serve("mcp_failures", mcp.Target{Credential: &mcp.Credential{Type: "header", Name: "X-Api-Key", Value: "k"}}), "")
	cases := []struct{ id, want string }{
		{"missing", "HTTP 404 Not Found: {\"message\":\"no such contact\"}"},
		{"broken", "HTTP 500 Internal Server Error"},
		{"moved", "HTTP 302 Found"},
		{"slow", "timed out"},
	}
	for _, tc := range cases {
		start := time.Now()
		res := call(t, cs, "get_crm_contact", map[string]any{"contact_id": tc.id})
		if !res.IsError || !strings.Contains(textOf(res), tc.want) {
			t.Errorf("%s: isError %v, %q does not contain %q", tc.id, res.IsError, textOf(res), tc.want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %v", tc.id, d)
		}
	}
	// The session is still usable after a timeout.
	if err := ping(cs); err != nil {
		t.Errorf("ping after the timeout: %v", err)
	}
}

// TestDisallowedToolIsUnknown: a tool outside the config is refused exactly like a tool that
// does not exist, and never reaches the upstream API.
func TestDisallowedToolIsUnknown(t *testing.T) {
	e := newEnv(t, envOptions{})
	cs := connect(t, e.url+"/mcp/"+e.serve("mcp_readonly", mcp.Target{Methods: []string{"read"}}), "")
	_, errDisallowed := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "delete_crm_contact", Arguments: map[string]any{"contact_id": "c1"}})
	_, errUnknown := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "nuke_crm_contact", Arguments: map[string]any{"contact_id": "c1"}})
	if errDisallowed == nil || errUnknown == nil {
		t.Fatalf("errors %v / %v", errDisallowed, errUnknown)
	}
	if a, b := strings.ReplaceAll(errDisallowed.Error(), "delete_crm_contact", "X"), strings.ReplaceAll(errUnknown.Error(), "nuke_crm_contact", "X"); a != b {
		t.Errorf("disallowed %q differs from unknown %q", errDisallowed, errUnknown)
	}
	if n := e.upstreamCount(); n != 0 {
		t.Errorf("the upstream API received %d requests", n)
	}
	// And through the raw protocol: the same JSON-RPC error object.
	raw := func(name string) string {
		r := post(t, e.url+"/mcp/mcp_readonly", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"`+name+`","arguments":{}}}`, nil)
		return strings.ReplaceAll(r.body, name, "X")
	}
	if a, b := raw("delete_crm_contact"), raw("nuke_crm_contact"); a != b || !strings.Contains(a, `"error"`) {
		t.Errorf("raw: disallowed %s, unknown %s", a, b)
	}
}

// reply is a raw HTTP answer, its body read.
type reply struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// post sends a raw JSON-RPC message as an MCP client would, with header overrides.
func post(t testing.TB, url, body string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return do(t, req)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`

// TestUnauthorized: an unknown token, a malformed one and an expired server all answer the
// same 401 problem document before any MCP processing.
func TestUnauthorized(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.serve("mcp_expired", mcp.Target{ExpiresAt: new(e.now.Add(-time.Second))})
	e.serve("mcp_expires_now", mcp.Target{ExpiresAt: new(e.now)})
	e.serve("mcp_valid", mcp.Target{ExpiresAt: new(e.now.Add(time.Hour))})
	const want = `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The MCP server token is not valid."}`
	for _, token := range []string{"mcp_unknown", "mcp_expired", "mcp_expires_now", "not%20a%20token", strings.Repeat("x", 300)} {
		for _, body := range []string{initializeBody, `not json at all`} {
			r := post(t, e.url+"/mcp/"+token, body, nil)
			if r.status != http.StatusUnauthorized || r.body != want ||
				r.header.Get("Content-Type") != "application/problem+json" ||
				r.header.Get("WWW-Authenticate") != `Bearer realm="mcp"` {
				t.Errorf("%s: %d %v %s", token, r.status, r.header, r.body)
			}
		}
		client := sdk.NewClient(&sdk.Implementation{Name: "t", Version: "1"}, nil)
		if cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: e.url + "/mcp/" + token, MaxRetries: -1}, nil); err == nil {
			_ = cs.Close()
			t.Errorf("%s: the SDK client connected", token)
		}
	}
	if r := post(t, e.url+"/mcp/mcp_valid", initializeBody, nil); r.status != http.StatusOK {
		t.Errorf("valid token: %d %s", r.status, r.body)
	}
}

// TestLookupFailures: a token lookup that fails for another reason than "no such token" is not
// a 401 (a client would take its token for revoked): an unavailable database answers 503 with
// Retry-After, any other failure 500; for the MCP token and for the API token a server
// requires alike. Nothing is cached: the same token works once the lookup does.
func TestLookupFailures(t *testing.T) {
	var apiDown atomic.Bool
	e := newEnv(t, envOptions{deps: func(d *mcp.Deps) {
		d.VerifyAPIToken = func(_ context.Context, _, bearer string) (bool, error) {
			switch {
			case apiDown.Load():
				return false, fmt.Errorf("store: authenticate: %w: %w", store.ErrUnavailable, errDatabaseDown)
			case bearer == "api_broken":
				return false, errDatabaseDown
			}
			return bearer == "api_good", nil
		}
	}})
	required := e.url + "/mcp/" + e.serve("mcp_requires_api_token", mcp.Target{EnvironmentID: "env1", RequireAPIToken: true})
	for _, c := range []struct {
		name, url, auth string
		down            bool
		status          int
	}{
		{"mcp token, database down", e.url + "/mcp/mcp_database_down", "", false, http.StatusServiceUnavailable},
		{"mcp token, other failure", e.url + "/mcp/mcp_resolver_error", "", false, http.StatusInternalServerError},
		{"api token, database down", required, "Bearer api_good", true, http.StatusServiceUnavailable},
		{"api token, other failure", required, "Bearer api_broken", false, http.StatusInternalServerError},
		{"api token, valid again", required, "Bearer api_good", false, http.StatusOK},
	} {
		apiDown.Store(c.down)
		for range 2 { // the second time too: a failure is not cached as "unknown"
			r := post(t, c.url, initializeBody, map[string]string{"Authorization": c.auth})
			if r.status != c.status {
				t.Errorf("%s: %d %s", c.name, r.status, r.body)
			}
			if c.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") != "1" {
				t.Errorf("%s: Retry-After %q", c.name, r.header.Get("Retry-After"))
			}
			if c.status >= 500 && (r.header.Get("Content-Type") != "application/problem+json" || strings.Contains(r.body, "database down")) {
				t.Errorf("%s: %v %s", c.name, r.header, r.body)
			}
		}
	}
}

// TestTransport: plain JSON answers, gateways' Host headers, GET/DELETE, other paths and the
// body limit.
func TestTransport(t *testing.T) {
	e := newEnv(t, envOptions{})
	token := e.serve("mcp_transport", mcp.Target{})
	url := e.url + "/mcp/" + token

	for _, tc := range []struct{ accept, contentType string }{
		{"application/json", "application/json"},
		{"application/json, text/event-stream", "application/json"},
		{"text/event-stream;q=0.5, application/json", "application/json"},
		{"*/*", "application/json"},
		{"", "application/json"},
		{"text/event-stream", "text/event-stream"},
	} {
		r := post(t, url, initializeBody, map[string]string{"Accept": tc.accept})
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), tc.contentType) || !strings.Contains(r.body, `"serverInfo"`) {
			t.Errorf("Accept %q: %d %s %s", tc.accept, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	if r := post(t, url, initializeBody, map[string]string{"Accept": "text/html"}); r.status != http.StatusBadRequest {
		t.Errorf("Accept text/html: %d %s", r.status, r.body)
	}

	// Behind a gateway the Host is the public one, though the listener is loopback.
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`))
	req.Host = "mcp.example.com"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	if r := do(t, req); r.status != http.StatusOK || !strings.Contains(r.body, `"list_crm_contacts"`) {
		t.Errorf("public Host: %d %s", r.status, r.body)
	}

	for _, method := range []string{http.MethodGet, http.MethodDelete, http.MethodPut} {
		req, _ := http.NewRequest(method, url, nil)
		if r := do(t, req); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
			t.Errorf("%s: %d allow %q", method, r.status, r.header.Get("Allow"))
		}
	}
	for _, path := range []string{"/mcp/", "/mcp/" + token + "/extra", "/other"} {
		if r := post(t, e.url+path, initializeBody, nil); r.status != http.StatusNotFound {
			t.Errorf("%s: %d", path, r.status)
		}
	}

	big := `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}}`
	if r := post(t, url, big, nil); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: %d", r.status)
	}
	// text/plain is JSON-RPC when it is a JSON object (the platform's TypeScript SDK sends
	// that); anything else stays 415.
	if r := post(t, url, initializeBody, map[string]string{"Content-Type": "text/plain"}); r.status != http.StatusOK {
		t.Errorf("text/plain JSON-RPC: %d", r.status)
	}
	for ct, body := range map[string]string{"text/plain": "initialize please", "text/plain;charset=UTF-8": `["x"]`, "application/xml": initializeBody} {
		if r := post(t, url, body, map[string]string{"Content-Type": ct}); r.status != http.StatusUnsupportedMediaType {
			t.Errorf("%s %q: %d", ct, body, r.status)
		}
	}
}

// TestToolNamesSortedAndStable: every request rebuilds the server; the list is stable.
func TestToolNamesSortedAndStable(t *testing.T) {
	e := newEnv(t, envOptions{})
	cs := connect(t, e.url+"/mcp/"+e.serve("mcp_stable", mcp.Target{}), "")
	first := toolNames(t, cs)
	if !slices.IsSorted(first) || !reflect.DeepEqual(first, crmAll) {
		t.Fatalf("tools %v", first)
	}
	for range 3 {
		if got := toolNames(t, cs); !reflect.DeepEqual(got, first) {
			t.Fatalf("tools changed: %v", got)
		}
	}
}

// TestConfigChangeTakesEffect: servers are shared between requests of the same config, but a
// changed config (or expiry) applies from the next request on.
func TestConfigChangeTakesEffect(t *testing.T) {
	e := newEnv(t, envOptions{})
	token := e.serve("mcp_changing", mcp.Target{Methods: []string{"read"}, Tags: []string{"deals"}})
	cs := connect(t, e.url+"/mcp/"+token, "")
	if got := toolNames(t, cs); !reflect.DeepEqual(got, []string{"get_crm_deal", "list_crm_deals"}) {
		t.Fatalf("before: %v", got)
	}
	e.serve(token, mcp.Target{Methods: []string{"write"}, Tags: []string{"deals"}})
	if got := toolNames(t, cs); !reflect.DeepEqual(got, []string{"create_crm_deal", "delete_crm_deal", "update_crm_deal"}) {
		t.Fatalf("after: %v", got)
	}
	if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_crm_deal", Arguments: map[string]any{"deal_id": "d1"}}); err == nil {
		t.Error("a tool removed from the config can still be called")
	}
	e.serve(token, mcp.Target{ExpiresAt: new(e.now)})
	if _, err := cs.ListTools(context.Background(), nil); err == nil {
		t.Error("an expired server still answers")
	}
}

// TestConcurrentCallsKeepTheirCredentials: requests of servers with the same config share
// an MCP server, yet each call carries its own MCP server's credential.
func TestConcurrentCallsKeepTheirCredentials(t *testing.T) {
	e := newEnv(t, envOptions{})
	const servers, calls = 4, 10
	var wg sync.WaitGroup
	errs := make(chan string, servers*calls)
	for i := range servers {
		secret := fmt.Sprintf("secret-%d", i)
		token := e.serve(fmt.Sprintf("mcp_concurrent_%d", i), mcp.Target{
			Methods:    []string{"list"},
			Credential: &mcp.Credential{Type: "bearer", Value: secret},
		})
		cs := connect(t, e.url+"/mcp/"+token, "")
		for j := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				company := fmt.Sprintf("%s-%d", secret, j)
				res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "list_crm_contacts", Arguments: map[string]any{"company_id": company}})
				if err != nil || res.IsError {
					errs <- fmt.Sprintf("%s: %v %v", company, err, res)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.received) != servers*calls {
		t.Fatalf("%d upstream requests, want %d", len(e.received), servers*calls)
	}
	for _, r := range e.received {
		company := r.Query["company_id"][0]
		secret := company[:strings.LastIndexByte(company, '-')]
		if got := r.Header.Get("Authorization"); got != "Bearer "+secret {
			t.Errorf("call for %s carried %q", company, got)
		}
	}
}
