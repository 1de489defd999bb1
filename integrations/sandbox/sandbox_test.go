package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/integrations/sandbox"
)

type env struct {
	t   *testing.T
	cat *integrations.Catalogue
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cat, err := integrations.Load("")
	if err != nil {
		t.Fatal(err)
	}
	wired, sb, err := sandbox.Wire(cat, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(sandbox.PathPrefix, sb)
	return &env{t: t, cat: wired, url: srv.URL}
}

// call runs a tool of an integration against the sandbox, as the MCP endpoint does: the
// integration builds the request, the credential goes in Authorization.
func (e *env) call(integration, tool, cred string, args map[string]any) (int, any) {
	e.t.Helper()
	in, _ := e.cat.Get(integration)
	tl, ok := in.Tool(tool)
	if !ok {
		e.t.Fatalf("no tool %s", tool)
	}
	if err := tl.Validate(args); err != nil {
		e.t.Fatalf("%s: %v", tool, err)
	}
	req, err := in.NewRequest(context.Background(), tl, args)
	if err != nil {
		e.t.Fatal(err)
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var v any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func data(v any) []any {
	if m, ok := v.(map[string]any); ok {
		l, _ := m["data"].([]any)
		return l
	}
	l, _ := v.([]any)
	return l
}

func TestWire(t *testing.T) {
	e := newEnv(t)
	crm, _ := e.cat.Get("crm")
	if crm.BaseURL != e.url+"/sandbox/crm" {
		t.Errorf("crm base URL %s", crm.BaseURL)
	}
	cat, _ := integrations.Load("")
	if _, _, err := sandbox.Wire(cat, "not a url"); err == nil {
		t.Error("a relative base accepted")
	}
	wired, _, err := sandbox.Wire(cat, "http://0.0.0.0:8080")
	if err != nil {
		t.Fatal(err)
	}
	if hd, _ := wired.Get("helpdesk"); hd.BaseURL != "http://127.0.0.1:8080/sandbox/helpdesk" {
		t.Errorf("an unspecified address is not made loopback: %s", hd.BaseURL)
	}
}

// TestCRUD: the sandbox honours methods — create then list shows the record, update, delete,
// search, nested collections, custom actions.
func TestCRUD(t *testing.T) {
	e := newEnv(t)
	status, v := e.call("crm", "list_crm_contacts", "k1", nil)
	if status != 200 || len(data(v)) != 4 {
		t.Fatalf("seed contacts: %d %v", status, v)
	}
	status, v = e.call("crm", "create_crm_contact", "k1", map[string]any{"body": map[string]any{"first_name": "Edsger", "email": "ed@example.com"}})
	created, _ := v.(map[string]any)
	if status != 201 || created["id"] != "con_5" || created["created_at"] == nil {
		t.Fatalf("create: %d %v", status, v)
	}
	_, v = e.call("crm", "list_crm_contacts", "k1", nil)
	if len(data(v)) != 5 {
		t.Fatalf("the new contact is not listed: %v", v)
	}
	_, v = e.call("crm", "list_crm_contacts", "k1", map[string]any{"company_id": "com_1", "limit": 1.0})
	if l := data(v); len(l) != 1 || l[0].(map[string]any)["id"] != "con_1" {
		t.Errorf("filter and limit: %v", v)
	}
	status, v = e.call("crm", "update_crm_contact", "k1", map[string]any{"contact_id": "con_5", "body": map[string]any{"last_name": "Dijkstra"}})
	if status != 200 || v.(map[string]any)["last_name"] != "Dijkstra" || v.(map[string]any)["first_name"] != "Edsger" {
		t.Errorf("patch merges: %d %v", status, v)
	}
	_, v = e.call("crm", "search_crm_contacts", "k1", map[string]any{"body": map[string]any{"query": "dijk"}})
	if l := data(v); len(l) != 1 {
		t.Errorf("search: %v", v)
	}
	if status, _ = e.call("crm", "delete_crm_contact", "k1", map[string]any{"contact_id": "con_5"}); status != 204 {
		t.Errorf("delete: %d", status)
	}
	if status, _ = e.call("crm", "get_crm_contact", "k1", map[string]any{"contact_id": "con_5"}); status != 404 {
		t.Errorf("get after delete: %d", status)
	}

	// helpdesk: integer ids, arrays, nested comments, a custom action
	_, v = e.call("helpdesk", "list_helpdesk_tickets", "k1", map[string]any{"status": "open"})
	if l := data(v); len(l) != 1 {
		t.Errorf("tickets open: %v", v)
	}
	status, v = e.call("helpdesk", "create_helpdesk_tickets", "k1", map[string]any{"body": map[string]any{"subject": "Printer on fire"}})
	if status != 201 || v.(map[string]any)["id"] != 4.0 {
		t.Fatalf("ticket: %d %v", status, v)
	}
	status, v = e.call("helpdesk", "create_helpdesk_tickets_comments", "k1", map[string]any{"ticket_id": 4.0, "body": map[string]any{"body": "On it."}})
	if status != 201 {
		t.Fatalf("comment: %d %v", status, v)
	}
	_, v = e.call("helpdesk", "list_helpdesk_tickets_comments", "k1", map[string]any{"ticket_id": 4.0})
	if l := data(v); len(l) != 1 || l[0].(map[string]any)["body"] != "On it." {
		t.Errorf("comments: %v", v)
	}
	if status, _ = e.call("helpdesk", "list_helpdesk_tickets_comments", "k1", map[string]any{"ticket_id": 99.0}); status != 404 {
		t.Errorf("comments of a missing ticket: %d", status)
	}
	_, v = e.call("helpdesk", "close_helpdesk_tickets", "k1", map[string]any{"ticket_id": 4.0, "body": map[string]any{"resolution": "Extinguished."}})
	if m, _ := v.(map[string]any); m["status"] != "solved" || m["resolution"] != "Extinguished." {
		t.Errorf("close: %v", v)
	}
}

// TestAccounts: each credential has its own data; none answers 401; reset means a new
// credential starts from the seed.
func TestAccounts(t *testing.T) {
	e := newEnv(t)
	e.call("crm", "create_crm_company", "alice", map[string]any{"body": map[string]any{"name": "Alice Ltd"}})
	_, a := e.call("crm", "list_crm_companies", "alice", nil)
	_, b := e.call("crm", "list_crm_companies", "bob", nil)
	if len(data(a)) != 4 || len(data(b)) != 3 {
		t.Errorf("accounts share data: alice %d, bob %d", len(data(a)), len(data(b)))
	}
	if status, v := e.call("crm", "list_crm_companies", "", nil); status != 401 || !strings.Contains(fmt.Sprint(v), "credential") {
		t.Errorf("no credential: %d %v", status, v)
	}
	resp, err := http.Get(e.url + "/sandbox/nope/x")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown integration: %d", resp.StatusCode)
	}
}

// TestBounds: records per account and accounts are capped; the body size too.
func TestBounds(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", 1000)
	var status int
	n := 0
	for ; n < sandbox.MaxRecords+10; n++ {
		status, _ = e.call("crm", "create_crm_company", "full", map[string]any{"body": map[string]any{"name": "c", "domain": big}})
		if status != 201 {
			break
		}
	}
	if status != 409 || n == 0 || n > sandbox.MaxRecords {
		t.Errorf("after %d creates: %d", n, status)
	}
	// accounts: the least recently used is dropped, so a new credential always works and the
	// first one starts over from the seed
	e.call("crm", "create_crm_company", "first", map[string]any{"body": map[string]any{"name": "First"}})
	for i := range sandbox.MaxAccounts {
		if status, _ := e.call("crm", "list_crm_deals", fmt.Sprint("acct-", i), nil); status != 200 {
			t.Fatalf("account %d: %d", i, status)
		}
	}
	if _, v := e.call("crm", "list_crm_companies", "first", nil); len(data(v)) != 3 {
		t.Errorf("the least recently used account was kept: %d companies", len(data(v)))
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/sandbox/crm/companies", strings.NewReader(`{"name":"`+strings.Repeat("y", sandbox.MaxBodyBytes)+`"}`))
	req.Header.Set("Authorization", "Bearer big")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("an oversized body: %d", resp.StatusCode)
	}
}
