package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/store/storetest"
)

// upstream is a CRM the test runs on loopback; it records what reaches it.
type upstream struct {
	mu    sync.Mutex
	calls []string // "METHOD path?query auth"
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.calls = append(u.calls, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"c1","name":"Ada"}`))
}

// crmPointingAt writes the embedded crm integration with its base URL set to base, into a folder
// for --integrations-dir.
func crmPointingAt(t *testing.T, base string) string {
	doc, err := os.ReadFile(filepath.Join("..", "..", "integrations", "embedded", "crm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	doc = []byte(strings.Replace(string(doc), "https://api.crm.example.com/v1", base+"/v1", 1))
	if err := os.WriteFile(filepath.Join(dir, "crm.yaml"), doc, 0o600); err != nil { //nolint:gosec // G703: dir is the test's own TempDir
		t.Fatal(err)
	}
	return dir
}

func mcpConnect(t *testing.T, url string) (*sdk.ClientSession, error) {
	client := sdk.NewClient(&sdk.Implementation{Name: "mcpapi-e2e", Version: "1"}, nil)
	return client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
}

func toolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// TestMCPEndToEnd: an MCP client connects to a created server's url and uses exactly the tools
// its config allows, with the account's credential; config changes show at once; rotation,
// expiry, deletion and cascade turn the token to 401.
func TestMCPEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		up := &upstream{}
		us := httptest.NewServer(up)
		t.Cleanup(us.Close)
		a := startApp(t, dbURL, "--integrations-dir", crmPointingAt(t, us.URL),
			"--secret-key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")

		acc := a.do(http.MethodPost, "/integrated-account",
			`{"integration":"crm","credentials":{"type":"bearer","value":"upstream-secret"}}`)
		mustStatus(t, acc, http.StatusCreated)
		if acc.json(t)["has_credentials"] != true || strings.Contains(string(acc.body), "upstream-secret") {
			t.Fatalf("account: %s", acc.body)
		}
		accID := acc.json(t)["id"].(string)
		created := a.do(http.MethodPost, "/integrated-account/"+accID+"/mcp",
			`{"name":"read contacts","config":{"methods":["read"],"tags":["contacts"]}}`)
		mustStatus(t, created, http.StatusCreated)
		srv := created.json(t)
		url, id := srv["url"].(string), srv["id"].(string)

		cs, err := mcpConnect(t, url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cs.Close() }()
		if got := toolNames(t, cs); !slices.Equal(got, []string{"get_crm_contact", "list_crm_contacts"}) {
			t.Errorf("tools %v, want exactly get_crm_contact and list_crm_contacts", got)
		}
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_crm_contact", Arguments: map[string]any{"contact_id": "c/1"}})
		if err != nil || res.IsError {
			t.Fatalf("call: %v %+v", err, res)
		}
		b, _ := json.Marshal(res.StructuredContent)
		if !strings.Contains(string(b), "Ada") {
			t.Errorf("structured content %s", b)
		}
		up.mu.Lock()
		last := up.calls[len(up.calls)-1]
		up.mu.Unlock()
		if last != "GET /v1/contacts/c%2F1 Bearer upstream-secret" {
			t.Errorf("upstream got %q", last)
		}
		// A tool outside the config is refused like an unknown one.
		if res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "delete_crm_contact", Arguments: map[string]any{"contact_id": "c1"}}); err == nil && !res.IsError {
			t.Error("a disallowed tool was called")
		}

		// A PATCH of the config shows in the next tools/list.
		mustStatus(t, a.do(http.MethodPatch, "/integrated-account/"+accID+"/mcp/"+id, `{"config":{"methods":["write"]}}`), http.StatusOK)
		if got := toolNames(t, cs); !slices.Equal(got, []string{"create_crm_contact", "delete_crm_contact", "update_crm_contact"}) {
			t.Errorf("after PATCH: tools %v", got)
		}

		// Rotation turns the old token to 401 at once; the new url works.
		rot := a.do(http.MethodPost, "/integrated-account/"+accID+"/mcp/"+id+"/token", "")
		mustStatus(t, rot, http.StatusOK)
		mustStatus(t, a.do(http.MethodPost, strings.TrimPrefix(url, a.base), `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Authorization", ""), http.StatusUnauthorized)
		newURL := rot.json(t)["url"].(string)
		if _, err := mcpConnect(t, newURL); err != nil {
			t.Errorf("rotated url: %v", err)
		}
		// Expiry: the API takes an expiry at least 60 s ahead; the test then moves it into the
		// past in the database, as time would.
		exp := time.Now().Add(90 * time.Second).UTC().Format(time.RFC3339Nano)
		mustStatus(t, a.do(http.MethodPatch, "/integrated-account/"+accID+"/mcp/"+id, `{"expires_at":"`+exp+`"}`), http.StatusOK)
		a.setExpiry(id, time.Now().Add(-time.Millisecond))
		mustStatus(t, a.do(http.MethodPost, strings.TrimPrefix(newURL, a.base), `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Authorization", ""), http.StatusUnauthorized)
		// Deletion, and the cascade from the account.
		s2 := a.do(http.MethodPost, "/integrated-account/"+accID+"/mcp", `{"name":"second"}`).json(t)
		s3 := a.do(http.MethodPost, "/integrated-account/"+accID+"/mcp", `{"name":"third"}`).json(t)
		for _, u := range []string{s2["url"].(string), s3["url"].(string)} {
			if _, err := mcpConnect(t, u); err != nil {
				t.Fatalf("connect %v", err)
			}
		}
		mustStatus(t, a.do(http.MethodDelete, "/integrated-account/"+accID+"/mcp/"+s2["id"].(string), ""), http.StatusOK)
		mustStatus(t, a.do(http.MethodDelete, "/integrated-account/"+accID, ""), http.StatusOK)
		for _, u := range []string{s2["url"].(string), s3["url"].(string)} {
			r := a.do(http.MethodPost, strings.TrimPrefix(u, a.base), `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Authorization", "")
			mustStatus(t, r, http.StatusUnauthorized)
		}
	})
}

// TestIntegrationsAndCredentials: an account must name a catalogue entry, and credentials need the
// server's secret key.
func TestIntegrationsAndCredentials(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t)) // no --secret-key
	r := a.do(http.MethodPost, "/integrated-account", `{"integration":"nope"}`)
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(string(r.body), "crm") || !hasPointer(t, r, "/integration") {
		t.Errorf("422 should name the known integrations: %s", r.body)
	}
	r = a.do(http.MethodPost, "/integrated-account", `{"integration":"crm","credentials":{"type":"bearer","value":"x"}}`)
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(string(r.body), "secret key") {
		t.Errorf("422 should say the key is missing: %s", r.body)
	}
	acc := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm","tenant_id":"t1"}`)
	mustStatus(t, acc, http.StatusCreated)
	path := "/integrated-account/" + acc.json(t)["id"].(string)
	p := a.do(http.MethodPatch, path, `{"tenant_id":null}`, "Content-Type", "application/merge-patch+json")
	mustStatus(t, p, http.StatusOK)
	if p.json(t)["tenant_id"] != nil || p.header.Get("ETag") == acc.header.Get("ETag") {
		t.Errorf("PATCH tenant_id null: %s", p.body)
	}
	mustStatus(t, a.do(http.MethodPatch, path, `{"integration":"helpdesk"}`), http.StatusBadRequest)
	mustStatus(t, a.do(http.MethodPatch, path, `{"tenant_id":"x"}`, "If-Match", `"1"`), http.StatusPreconditionFailed)

	k := startApp(t, storetest.SQLiteURL(t), "--secret-key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	acc = k.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`)
	path = "/integrated-account/" + acc.json(t)["id"].(string)
	mustStatus(t, k.do(http.MethodPatch, path, `{"credentials":{"type":"header","value":"v"}}`), http.StatusBadRequest) // header needs a name
	// Credentials that could never be sent are refused at write time, with a pointer.
	for body, pointer := range map[string]string{
		`{"credentials":{"type":"header","name":"Content-Type","value":"v"}}`:      "/credentials/name",
		`{"credentials":{"type":"header","name":"Transfer-Encoding","value":"v"}}`: "/credentials/name",
		`{"credentials":{"type":"header","name":"Connection","value":"v"}}`:        "/credentials/name",
		`{"credentials":{"type":"bearer","value":"a\r\nX-Evil: 1"}}`:               "/credentials/value",
	} {
		r := k.do(http.MethodPatch, path, body)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"pointer":"`+pointer+`"`) {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	p = k.do(http.MethodPatch, path, `{"credentials":{"type":"header","name":"X-Api-Key","value":"v"}}`)
	if p.status != http.StatusOK || p.json(t)["has_credentials"] != true || strings.Contains(string(p.body), `"v"`) {
		t.Errorf("set credentials: %d %s", p.status, p.body)
	}
	p = k.do(http.MethodPatch, path, `{"credentials":null}`)
	if p.status != http.StatusOK || p.json(t)["has_credentials"] != false {
		t.Errorf("remove credentials: %d %s", p.status, p.body)
	}
}

// TestMCPRateLimits: the spec's 429 on /mcp/{token}: a valid token is limited per MCP server, and
// guessed tokens per client address, both with Retry-After.
func TestMCPRateLimits(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t), "--rate-limit", "0.5", "--rate-burst", "2", "--auth-cache-ttl", "1m")
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	count := func(path string) (map[int]int, string) {
		statuses, retry := map[int]int{}, ""
		for range 4 {
			r := a.do(http.MethodPost, path, ping, "Authorization", "", "Accept", "application/json, text/event-stream")
			statuses[r.status]++
			if r.status == http.StatusTooManyRequests {
				retry = r.header.Get("Retry-After")
			}
		}
		return statuses, retry
	}
	// The REST calls below share the API token's bucket, not the MCP server's.
	acc := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`).json(t)["id"].(string)
	url := a.do(http.MethodPost, "/integrated-account/"+acc+"/mcp", `{"name":"limited"}`).json(t)["url"].(string)
	// Its first request looks the token up after checking that the address still has budget
	// (limits come before lookups); a valid token spends only its server's budget.
	valid, retry := count(strings.TrimPrefix(url, a.base))
	if valid[http.StatusOK] != 2 || valid[http.StatusTooManyRequests] != 2 || retry != "2" {
		t.Errorf("valid token: %v (Retry-After %q), want 2 answered then 429 with Retry-After 2", valid, retry)
	}
	// The address has its whole burst of 2: each bad guess spends one (the first is looked up,
	// the second answered from the negative cache), then guesses are refused before any lookup.
	guesses, retry := count("/mcp/mcp_guess")
	if guesses[http.StatusUnauthorized] != 2 || guesses[http.StatusTooManyRequests] != 2 || retry != "2" {
		t.Errorf("guessed tokens: %v (Retry-After %q), want 2 × 401 then 429 with Retry-After 2", guesses, retry)
	}
}
