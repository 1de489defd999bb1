package integrations_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcpapi/mcpapi/integrations"
)

func mustLoad(t *testing.T, dir string) *integrations.Catalogue {
	t.Helper()
	c, err := integrations.Load(dir)
	if err != nil {
		t.Fatalf("Load(%q): %v", dir, err)
	}
	return c
}

func mustGet(t *testing.T, c *integrations.Catalogue, name string) *integrations.Integration {
	t.Helper()
	in, ok := c.Get(name)
	if !ok {
		t.Fatalf("integration %q missing; have %v", name, c.Names())
	}
	return in
}

func mustTool(t *testing.T, in *integrations.Integration, name string) *integrations.Tool {
	t.Helper()
	tool, ok := in.Tool(name)
	if !ok {
		var names []string
		for _, x := range in.Tools {
			names = append(names, x.Name)
		}
		t.Fatalf("tool %q missing; have %v", name, names)
	}
	return tool
}

func TestEmbeddedCatalogue(t *testing.T) {
	c := mustLoad(t, "")
	if got, want := c.Names(), []string{"crm", "helpdesk"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	crm := mustGet(t, c, "crm")
	if crm.BaseURL != "https://api.crm.example.com/v1" {
		t.Errorf("crm base URL %q", crm.BaseURL)
	}
	if _, ok := c.Get("CRM"); !ok {
		t.Error("Get is not case-insensitive")
	}
	type row struct{ name, method, http, path, tags string }
	var got []row
	for _, tool := range crm.Tools {
		got = append(got, row{tool.Name, tool.Method, tool.HTTPMethod, tool.Path, strings.Join(tool.Tags, ",")})
	}
	want := []row{
		{"create_crm_company", "create", "POST", "/companies", "companies"},
		{"create_crm_contact", "create", "POST", "/contacts", "contacts"},
		{"create_crm_deal", "create", "POST", "/deals", "deals"},
		{"delete_crm_company", "delete", "DELETE", "/companies/{company_id}", "companies"},
		{"delete_crm_contact", "delete", "DELETE", "/contacts/{contact_id}", "contacts"},
		{"delete_crm_deal", "delete", "DELETE", "/deals/{deal_id}", "deals"},
		{"get_crm_company", "get", "GET", "/companies/{company_id}", "companies"},
		{"get_crm_contact", "get", "GET", "/contacts/{contact_id}", "contacts"},
		{"get_crm_deal", "get", "GET", "/deals/{deal_id}", "deals"},
		{"list_crm_companies", "list", "GET", "/companies", "companies"},
		{"list_crm_contacts", "list", "GET", "/contacts", "contacts"},
		{"list_crm_deals", "list", "GET", "/deals", "deals"},
		{"search_crm_contacts", "search", "POST", "/contacts/search", "contacts"},
		{"update_crm_company", "update", "PATCH", "/companies/{company_id}", "companies"},
		{"update_crm_contact", "update", "PATCH", "/contacts/{contact_id}", "contacts"},
		{"update_crm_deal", "update", "PATCH", "/deals/{deal_id}", "deals"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("crm tools:\n got %v\nwant %v", got, want)
	}

	// helpdesk has no operationIds: names come from the method and the path.
	hd := mustGet(t, c, "helpdesk")
	if hd.BaseURL != "https://helpdesk.example.com/api/v2" { // x-mcp-base-url beats a relative servers entry
		t.Errorf("helpdesk base URL %q", hd.BaseURL)
	}
	var names []string
	for _, tool := range hd.Tools {
		names = append(names, tool.Name+":"+tool.Method)
	}
	wantNames := []string{
		"close_helpdesk_tickets:close",
		"create_helpdesk_tickets:create",
		"create_helpdesk_tickets_comments:create",
		"get_helpdesk_tickets:get",
		"list_helpdesk_tickets:list",
		"list_helpdesk_tickets_comments:list",
		"update_helpdesk_tickets:update",
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("helpdesk tools:\n got %v\nwant %v", names, wantNames)
	}
}

func TestInputSchema(t *testing.T) {
	crm := mustGet(t, mustLoad(t, ""), "crm")
	tool := mustTool(t, crm, "create_crm_contact")
	var s struct {
		Type                 string                     `json:"type"`
		Required             []string                   `json:"required"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
		Properties           map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(tool.InputSchema, &s); err != nil {
		t.Fatal(err)
	}
	if s.Type != "object" || s.AdditionalProperties == nil || *s.AdditionalProperties || !reflect.DeepEqual(s.Required, []string{"body"}) {
		t.Fatalf("schema %s", tool.InputSchema)
	}
	var body struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(s.Properties["body"], &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body.Properties["id"]; ok {
		t.Error("readOnly id is in the request body schema")
	}
	if !reflect.DeepEqual(body.Required, []string{"first_name", "email"}) {
		t.Errorf("body required %v (readOnly id must be dropped)", body.Required)
	}
	if got := string(body.Properties["phone"]); !strings.Contains(got, `"type":["string","null"]`) {
		t.Errorf("nullable phone: %s", got)
	}
	if tool.Body == nil || tool.Body.Arg != "body" || !tool.Body.Required || tool.Body.ContentType != "application/json" {
		t.Errorf("body %+v", tool.Body)
	}

	get := mustTool(t, crm, "get_crm_contact")
	if !strings.Contains(string(get.InputSchema), `"required":["contact_id"]`) {
		t.Errorf("get schema %s", get.InputSchema)
	}
}

func TestAllowed(t *testing.T) {
	mk := func(method string, tags ...string) *integrations.Tool {
		return &integrations.Tool{Method: method, Tags: tags}
	}
	list, create, search, untagged := mk("list", "contacts"), mk("create", "deals"), mk("search", "contacts", "deals"), mk("get")
	cases := []struct {
		name          string
		methods, tags []string
		want          map[*integrations.Tool]bool
	}{
		{"unrestricted", nil, nil, map[*integrations.Tool]bool{list: true, create: true, search: true, untagged: true}},
		{"empty methods", []string{}, nil, map[*integrations.Tool]bool{}},
		{"empty tags", nil, []string{}, map[*integrations.Tool]bool{}},
		{"both empty", []string{}, []string{}, map[*integrations.Tool]bool{}},
		{"names", []string{"list", "create"}, nil, map[*integrations.Tool]bool{list: true, create: true}},
		{"read", []string{"read"}, nil, map[*integrations.Tool]bool{list: true, untagged: true}},
		{"write", []string{"write"}, nil, map[*integrations.Tool]bool{create: true}},
		{"custom", []string{"custom"}, nil, map[*integrations.Tool]bool{search: true}},
		{"custom method by name", []string{"search"}, nil, map[*integrations.Tool]bool{search: true}},
		{"case-insensitive", []string{"READ"}, []string{"Contacts"}, map[*integrations.Tool]bool{list: true}},
		{"tags", nil, []string{"deals"}, map[*integrations.Tool]bool{create: true, search: true}},
		{"methods and tags", []string{"read", "custom"}, []string{"contacts"}, map[*integrations.Tool]bool{list: true, search: true}},
		{"unknown method", []string{"download"}, nil, map[*integrations.Tool]bool{}},
		{"unknown tag", nil, []string{"webhooks"}, map[*integrations.Tool]bool{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tool := range []*integrations.Tool{list, create, search, untagged} {
				if got := integrations.Allowed(tool, tc.methods, tc.tags); got != tc.want[tool] {
					t.Errorf("Allowed(%s %v, %v, %v) = %v", tool.Method, tool.Tags, tc.methods, tc.tags, got)
				}
			}
		})
	}
	if integrations.Allowed(nil, nil, nil) {
		t.Error("nil tool allowed")
	}
}

func TestValidate(t *testing.T) {
	crm := mustGet(t, mustLoad(t, ""), "crm")
	cases := []struct {
		tool, arg string
		args      map[string]any
	}{
		{"get_crm_contact", "contact_id", map[string]any{}},
		{"get_crm_contact", "contact_id", map[string]any{"contact_id": 12.0}},
		{"get_crm_contact", "contactid", map[string]any{"contact_id": "c1", "contactid": "x"}},
		{"list_crm_contacts", "limit", map[string]any{"limit": "ten"}},
		{"list_crm_contacts", "limit", map[string]any{"limit": 1000.0}},
		{"list_crm_deals", "stage", map[string]any{"stage": []any{"won", "dreaming"}}},
		{"create_crm_contact", "body", map[string]any{}},
		{"create_crm_contact", "body", map[string]any{"body": map[string]any{"first_name": "Ada"}}},
		{"update_crm_contact", "body", map[string]any{"contact_id": "c1", "body": map[string]any{"nickname": "x"}}},
		{"search_crm_contacts", "body", map[string]any{"body": map[string]any{"query": ""}}},
	}
	for _, tc := range cases {
		err := mustTool(t, crm, tc.tool).Validate(tc.args)
		var ae *integrations.ArgumentError
		if !errors.As(err, &ae) || ae.Argument != tc.arg || !strings.Contains(err.Error(), `"`+tc.arg+`"`) {
			t.Errorf("%s(%v): error %v, want one naming %q", tc.tool, tc.args, err, tc.arg)
		}
	}
	ok := []struct {
		tool string
		args map[string]any
	}{
		{"list_crm_contacts", nil},
		{"list_crm_contacts", map[string]any{"limit": 5.0, "cursor": nil}}, // null optional = absent
		{"create_crm_contact", map[string]any{"body": map[string]any{"first_name": "Ada", "email": "ada@example.com", "phone": nil}}},
		{"list_crm_deals", map[string]any{"stage": []any{"won", "lost"}}},
	}
	for _, tc := range ok {
		if err := mustTool(t, crm, tc.tool).Validate(tc.args); err != nil {
			t.Errorf("%s(%v): %v", tc.tool, tc.args, err)
		}
	}
}

func TestNewRequest(t *testing.T) {
	c := mustLoad(t, "")
	crm, err := mustGet(t, c, "crm").WithBaseURL("http://upstream.test/base/v1/")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	req, err := crm.NewRequest(ctx, mustTool(t, crm, "get_crm_contact"), map[string]any{"contact_id": "a b/c?d#e%2F"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.URL.String(), "http://upstream.test/base/v1/contacts/a%20b%2Fc%3Fd%23e%252F"; got != want {
		t.Errorf("URL %s, want %s", got, want)
	}
	if req.Method != "GET" || req.Header.Get("Accept") != "application/json" || req.Body != nil {
		t.Errorf("request %s %v body %v", req.Method, req.Header, req.Body)
	}

	for _, bad := range []string{"", ".", "..", "../admin", `..\admin`, "x/../../y"} {
		_, err := crm.NewRequest(ctx, mustTool(t, crm, "get_crm_contact"), map[string]any{"contact_id": bad})
		var ae *integrations.ArgumentError
		if !errors.As(err, &ae) || ae.Argument != "contact_id" {
			t.Errorf("contact_id %q: error %v", bad, err)
		}
	}

	req, err = crm.NewRequest(ctx, mustTool(t, crm, "list_crm_deals"), map[string]any{"stage": []any{"won", "lost"}, "limit": 5.0, "cursor": nil})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.Query(); !reflect.DeepEqual(got["stage"], []string{"won,lost"}) || got.Get("limit") != "5" || got.Has("cursor") {
		t.Errorf("query %v", got)
	}

	req, err = crm.NewRequest(ctx, mustTool(t, crm, "update_crm_deal"), map[string]any{"deal_id": "d1", "body": map[string]any{"amount": 12.5}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(req.Body)
	if req.Method != "PATCH" || req.URL.Path != "/base/v1/deals/d1" || string(b) != `{"amount":12.5}` || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("update: %s %s %s %q", req.Method, req.URL, b, req.Header.Get("Content-Type"))
	}

	hd := mustGet(t, c, "helpdesk")
	req, err = hd.NewRequest(ctx, mustTool(t, hd, "close_helpdesk_tickets"), map[string]any{"ticket_id": 42.0})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.String(); got != "https://helpdesk.example.com/api/v2/tickets/42/close" || req.Body != nil {
		t.Errorf("close: %s body %v", got, req.Body)
	}
}

const goodDoc = `openapi: 3.0.3
info: {title: Notes, version: "1"}
servers: [{url: "https://notes.example.com/{version}", variables: {version: {default: v3}}}]
paths:
  /notes:
    get:
      tags: [Notes]
      parameters:
        - {name: q, in: query, schema: {type: string}}
      responses: {'200': {description: ok}}
  /notes/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
    head:
      responses: {'200': {description: ok}}
    options:
      operationId: describeNote
      responses: {'200': {description: ok}}
`

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("Notes.yml", goodDoc)
	write("README.md", "not a document")
	// A file replaces the embedded integration of the same name.
	write("crm.json", `{"openapi":"3.0.3","info":{"title":"Mini CRM","version":"2"},"x-mcp-base-url":"http://crm.internal:8080",
	  "paths":{"/ping":{"get":{"operationId":"PingCRM","responses":{"200":{"description":"ok"}}}}}}`)
	c := mustLoad(t, dir)
	if got, want := c.Names(), []string{"crm", "helpdesk", "notes"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	notes := mustGet(t, c, "notes")
	if notes.BaseURL != "https://notes.example.com/v3" {
		t.Errorf("notes base URL %q", notes.BaseURL)
	}
	var got []string
	for _, tool := range notes.Tools {
		got = append(got, tool.Name+":"+tool.Method+":"+strings.Join(tool.Tags, ","))
	}
	want := []string{"describe_note:describenote:", "head_notes_notes:head:", "list_notes_notes:list:notes"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notes tools %v, want %v", got, want)
	}
	crm := mustGet(t, c, "crm")
	if crm.Title != "Mini CRM" || crm.BaseURL != "http://crm.internal:8080" || len(crm.Tools) != 1 || crm.Tools[0].Name != "ping_crm" {
		t.Errorf("crm from dir: %q %q %v", crm.Title, crm.BaseURL, crm.Tools)
	}
}

func TestLoadBrokenDocument(t *testing.T) {
	cases := map[string]string{
		"syntax.yaml":   "openapi: 3.0.3\ninfo: [unclosed\n",
		"invalid.yaml":  "openapi: 3.0.3\ninfo: {title: X, version: '1'}\nservers: [{url: 'https://x.example.com'}]\npaths:\n  /a:\n    get:\n      parameters: [{$ref: '#/components/parameters/Missing'}]\n      responses: {'200': {description: ok}}\n",
		"noops.yaml":    "openapi: 3.0.3\ninfo: {title: X, version: '1'}\nservers: [{url: 'https://x.example.com'}]\npaths: {}\n",
		"openapi4.yaml": "openapi: 4.0.0\ninfo: {title: X, version: '1'}\nservers: [{url: 'https://x.example.com'}]\npaths: {}\n",
		"notapi.json":   `{"hello":"world"}`,
		"bad31.yaml":    "openapi: 3.1.0\ninfo: [not, an, object]\npaths: {}\n",
		"swagger.json":  `{"swagger":"2.0","info":{"title":"X","version":"1"},"paths":{}}`,
		"nobase.yaml":   "openapi: 3.0.3\ninfo: {title: X, version: '1'}\nservers: [{url: /relative}]\npaths: {}\n",
		"badmethod.yml": "openapi: 3.0.3\ninfo: {title: X, version: '1'}\nservers: [{url: 'https://x.example.com'}]\npaths:\n  /a:\n    post:\n      x-mcp-method: 'not a method'\n      responses: {'200': {description: ok}}\n",
	}
	for file, content := range cases {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, file)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := integrations.Load(dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if file == "bad31.yaml" && !strings.Contains(err.Error(), "OpenAPI 3.1.0 document that kin-openapi cannot read") {
				t.Errorf("3.1: %v", err)
			}
			t.Log(err)
		})
	}
	if _, err := integrations.Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing directory loads")
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := integrations.Parse("Bad Name", "x.yaml", []byte(goodDoc)); err == nil || !strings.Contains(err.Error(), "x.yaml") {
		t.Errorf("bad name: %v", err)
	}
	in, err := integrations.Parse("notes", "x.yaml", []byte(goodDoc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.WithBaseURL("ftp://x"); err == nil {
		t.Error("ftp base URL accepted")
	}
	if _, err := integrations.NewCatalogue(in, in); err == nil {
		t.Error("duplicate names accepted")
	}
	if tools := in.AllowedTools([]string{"read"}, nil); len(tools) != 1 || !slices.ContainsFunc(tools, func(t *integrations.Tool) bool { return t.Name == "list_notes_notes" }) {
		t.Errorf("AllowedTools(read) = %v", tools)
	}
}
