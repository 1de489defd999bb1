package integrations_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcpapi/mcpapi/integrations"
)

var toolNameRE = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

func loadFixture(t testing.TB, file string) *integrations.Integration {
	t.Helper()
	in, err := integrations.LoadFile("testdata/" + file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return in
}

// compileSchema compiles a schema as JSON Schema 2020-12 with santhosh-tekuri/jsonschema, a
// validator independent of the one the package uses.
func compileSchema(t testing.TB, name string, raw []byte) *sjs.Schema {
	t.Helper()
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := sjs.NewCompiler()
	c.DefaultDraft(sjs.Draft2020)
	c.AssertFormat()
	loc := "mem:///" + url.PathEscape(name) + ".json"
	if err := c.AddResource(loc, doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("%s does not compile as JSON Schema 2020-12: %v\n%s", name, err, raw)
	}
	return s
}

// checkTools holds every tool of in to the rules every integration keeps: valid unique
// names, object input schemas and object output schemas that compile.
func checkTools(t testing.TB, in *integrations.Integration) {
	t.Helper()
	seen := map[string]bool{}
	for _, tool := range in.Tools {
		if !toolNameRE.MatchString(tool.Name) || seen[tool.Name] {
			t.Errorf("%s: tool name %q invalid or repeated", in.Name, tool.Name)
		}
		seen[tool.Name] = true
		compileSchema(t, tool.Name+".input", tool.InputSchema)
		if !bytes.HasPrefix(tool.InputSchema, []byte(`{`)) || !strings.Contains(string(tool.InputSchema), `"type":"object"`) {
			t.Errorf("%s: input schema %s", tool.Name, tool.InputSchema)
		}
		if tool.OutputSchema != nil {
			compileSchema(t, tool.Name+".output", tool.OutputSchema)
			var top struct {
				Type       any             `json:"type"`
				Required   json.RawMessage `json:"required"`
				Properties map[string]any  `json:"properties"`
			}
			if err := json.Unmarshal(tool.OutputSchema, &top); err != nil || top.Type != "object" || top.Required != nil {
				t.Errorf("%s: output schema is not a loose object: %s", tool.Name, tool.OutputSchema)
			}
			if _, ok := top.Properties["result"]; tool.OutputWrapped && (!ok || len(top.Properties) != 1) {
				t.Errorf("%s: wrapped output schema %s", tool.Name, tool.OutputSchema)
			}
		}
		if len(tool.Description) > 1024+300 {
			t.Errorf("%s: description of %d bytes", tool.Name, len(tool.Description))
		}
	}
	if len(in.Tools) == 0 {
		t.Errorf("%s: no tools", in.Name)
	}
}

func toolNames(in *integrations.Integration) []string {
	var out []string
	for _, t := range in.Tools {
		out = append(out, t.Name)
	}
	return out
}

func warningKinds(in *integrations.Integration) []string {
	var out []string
	for _, w := range in.Warnings {
		if !slices.Contains(out, w.Kind) {
			out = append(out, w.Kind)
		}
	}
	slices.Sort(out)
	return out
}

func warningText(in *integrations.Integration) string {
	var b strings.Builder
	for _, w := range in.Warnings {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}

func schemaOf(t testing.TB, raw json.RawMessage, pointer ...string) map[string]any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range pointer {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %v in %s", pointer, raw)
		}
		v = m[p]
	}
	m, _ := v.(map[string]any)
	if m == nil {
		t.Fatalf("no %v in %s", pointer, raw)
	}
	return m
}

// TestFixtures: each fixture document, written for one defect class, loads with the expected
// tools and warnings, and its schemas hold up.
func TestFixtures(t *testing.T) {
	cases := []struct {
		file     string
		tools    []string
		warnings []string // kinds
		contains []string // in the warnings' text
		check    func(t *testing.T, in *integrations.Integration)
	}{
		{
			file: "examples.yaml", tools: []string{"list_widgets"}, warnings: []string{"example"},
			contains: []string{`schema "Widget": invalid example`, `parameter "size"`},
			check: func(t *testing.T, in *integrations.Integration) {
				if s := string(mustTool(t, in, "list_widgets").InputSchema); strings.Contains(s, "example") {
					t.Errorf("examples reach the tool schema: %s", s)
				}
			},
		},
		{
			file: "patterns.yaml", tools: []string{"get_account", "put_account"}, warnings: []string{"format", "pattern", "response"},
			contains: []string{`pattern "^(?!admin)[a-z]+$" is not RE2`, `pattern "^([a-z])\\1$" is not RE2`, `unknown format "url"`, `unknown format "decimal"`},
			check: func(t *testing.T, in *integrations.Integration) {
				get := mustTool(t, in, "get_account")
				if _, ok := schemaOf(t, get.InputSchema, "properties", "account_id")["pattern"]; ok {
					t.Errorf("the look-ahead pattern is kept: %s", get.InputSchema)
				}
				body := schemaOf(t, mustTool(t, in, "put_account").InputSchema, "properties", "body", "properties")
				if body["zip"].(map[string]any)["pattern"] != "^[0-9]{5}$" || body["code"].(map[string]any)["pattern"] != nil {
					t.Errorf("patterns: %v", body)
				}
				if body["website"].(map[string]any)["format"] != nil || body["email"].(map[string]any)["format"] != "email" {
					t.Errorf("formats: %v", body)
				}
				if err := get.Validate(map[string]any{"account_id": "admin"}); err != nil {
					t.Errorf("a dropped pattern still constrains: %v", err)
				}
			},
		},
		{
			file: "recursion.yaml", tools: []string{"create_node", "get_ancestry"}, warnings: []string{"recursion"},
			contains: []string{"schema Node is recursive", "schema Person is recursive"},
			check: func(t *testing.T, in *integrations.Integration) {
				items := schemaOf(t, mustTool(t, in, "create_node").InputSchema, "properties", "body", "properties", "children", "items")
				if !strings.Contains(fmt.Sprint(items["description"]), "recursive") {
					t.Errorf("the recursion is not described: %v", items)
				}
				// a deep tree is accepted: the cut accepts any value
				deep := map[string]any{"name": "a", "children": []any{map[string]any{"name": "b", "children": []any{map[string]any{"name": "c"}}}}}
				if err := mustTool(t, in, "create_node").Validate(map[string]any{"body": deep}); err != nil {
					t.Error(err)
				}
			},
		},
		{
			file:     "operationids.yaml",
			tools:    []string{"delete_order", "get_operationids_orders", "list_operationids_orders", "list_orders", "save_order", "save_order_2"},
			warnings: []string{"invalid", "operation-id", "response"},
			contains: []string{`operationId "saveOrder" is also POST /orders's`, "2 operations have no operationId", "GET /orders, GET /orders/{id}"},
			check: func(t *testing.T, in *integrations.Integration) {
				if mustTool(t, in, "save_order").HTTPMethod != "POST" || mustTool(t, in, "save_order_2").HTTPMethod != "PUT" {
					t.Error("duplicate operationIds are not numbered in document order")
				}
			},
		},
		{
			file: "swagger.json", tools: []string{"add_pet", "get_pet", "list_pets"}, warnings: []string{"converted", "parameter", "repaired"},
			contains: []string{`header "X-Pet-Key" is not an argument`},
			check: func(t *testing.T, in *integrations.Integration) {
				if in.BaseURL != "https://pets.example.com/api" {
					t.Errorf("base URL %s (https preferred, basePath kept)", in.BaseURL)
				}
				list := mustTool(t, in, "list_pets")
				props := schemaOf(t, list.InputSchema, "properties")
				if _, ok := props["X-Pet-Key"]; ok {
					t.Error("the apiKey header is an argument")
				}
				if _, ok := props["X-Trace"]; !ok {
					t.Error("the X-Trace header is not an argument")
				}
				if !list.OutputWrapped || !slices.Equal(list.Tags, []string{"pets"}) {
					t.Errorf("list_pets: wrapped %v tags %v", list.OutputWrapped, list.Tags)
				}
				if add := mustTool(t, in, "add_pet"); add.Body == nil || add.Body.Arg != "body" || !add.Body.Required {
					t.Errorf("add_pet body %+v", add.Body)
				}
			},
		},
		{
			file: "arraybody.yaml", tools: []string{"create_contacts_batch", "replace_tags"},
			check: func(t *testing.T, in *integrations.Integration) {
				rt := mustTool(t, in, "replace_tags")
				if schemaOf(t, rt.InputSchema, "properties", "body")["type"] != "array" || !rt.OutputWrapped {
					t.Errorf("replace_tags: %s", rt.InputSchema)
				}
				if err := rt.Validate(map[string]any{"body": []any{"a", ""}}); err == nil {
					t.Error("an empty tag passes")
				}
				cb := mustTool(t, in, "create_contacts_batch")
				if cb.Body.Arg != "request_body" { // a query parameter is already called body
					t.Errorf("body argument %q", cb.Body.Arg)
				}
				req, err := in.NewRequest(context.Background(), cb, map[string]any{"body": "q", "request_body": []any{map[string]any{"email": "a@example.com"}}})
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(req.Body)
				if string(b) != `[{"email":"a@example.com"}]` || req.URL.Query().Get("body") != "q" {
					t.Errorf("array body sent as %s, query %s", b, req.URL.RawQuery)
				}
			},
		},
		{
			file: "headers.yaml", tools: []string{"create_payment"}, warnings: []string{"parameter"},
			contains: []string{`header "Authorization" is not an argument`, `header "X-Vendor-Key" is not an argument`, `cookie parameter "session"`},
			check: func(t *testing.T, in *integrations.Integration) {
				tool := mustTool(t, in, "create_payment")
				var args []string
				for name := range schemaOf(t, tool.InputSchema, "properties") {
					args = append(args, name)
				}
				slices.Sort(args)
				if want := []string{"Idempotency-Key", "X-Api-Version", "X-Tags", "body"}; !slices.Equal(args, want) {
					t.Errorf("arguments %v, want %v", args, want)
				}
				req, err := in.NewRequest(context.Background(), tool, map[string]any{
					"Idempotency-Key": "k1", "X-Tags": []any{"a", "b"}, "body": map[string]any{"amount": 5.0}})
				if err != nil {
					t.Fatal(err)
				}
				if req.Header.Get("Idempotency-Key") != "k1" || req.Header.Get("X-Tags") != "a,b" || req.Header.Get("Authorization") != "" {
					t.Errorf("headers %v", req.Header)
				}
				_, err = in.NewRequest(context.Background(), tool, map[string]any{"Idempotency-Key": "k1\r\nX-Evil: 1", "body": map[string]any{"amount": 5.0}})
				if err == nil || !strings.Contains(err.Error(), "Idempotency-Key") {
					t.Errorf("a header value with CRLF: %v", err)
				}
			},
		},
		{
			file: "longnames.yaml",
			tools: []string{
				"get_the_very_long_and_complicated_name_of_something_that_6c1830",
				"get_the_very_long_and_complicated_name_of_something_that_8717b8",
				"list_longnames_orgs_admins_notif_subs_deliveries",
				"retrieve_the_config_of_the_org_admin_notif_subs_for_env",
				"retrieve_the_config_of_the_org_admin_notif_subs_for_envs",
			},
			warnings: []string{"name", "operation-id", "response"},
		},
		{
			file: "enums.yaml", tools: []string{"get_rate"}, warnings: []string{"enum"},
			contains: []string{"enum of 300 values"},
			check: func(t *testing.T, in *integrations.Integration) {
				tool := mustTool(t, in, "get_rate")
				cur := schemaOf(t, tool.InputSchema, "properties", "currency")
				if cur["enum"] != nil || !strings.Contains(fmt.Sprint(cur["description"]), "One of 300 values") {
					t.Errorf("currency %v", cur)
				}
				if side := schemaOf(t, tool.InputSchema, "properties", "side"); side["enum"] == nil {
					t.Error("a small enum is dropped")
				}
				if len(tool.InputSchema)+len(tool.OutputSchema) > 1500 {
					t.Errorf("schemas of %d bytes", len(tool.InputSchema)+len(tool.OutputSchema))
				}
			},
		},
		{
			file: "repairs.json", tools: []string{"list_channels", "put_variable_data"}, warnings: []string{"repaired"},
			contains: []string{"2 schemas give `items` as an array", "1 references point to an object of the wrong kind"},
			check: func(t *testing.T, in *integrations.Integration) {
				if mustTool(t, in, "put_variable_data").OutputSchema == nil {
					t.Error("the inlined response has no output schema")
				}
			},
		},
		{
			file: "openapi31.yaml", tools: []string{"get_item", "patch_item"}, warnings: []string{"response"},
			check: func(t *testing.T, in *integrations.Integration) {
				p := mustTool(t, in, "patch_item")
				a := p.Annotations
				if a.Idempotent == nil || !*a.Idempotent || a.Destructive == nil || *a.Destructive || a.ReadOnly == nil || *a.ReadOnly || a.OpenWorld == nil || !*a.OpenWorld {
					t.Errorf("x-mcp-annotations not applied: %+v", a)
				}
				if !slices.Equal(p.Tags, []string{"items", "destructive"}) || !integrations.Allowed(p, nil, []string{"DESTRUCTIVE"}) {
					t.Errorf("tags %v", p.Tags)
				}
				if p.Body == nil || p.Body.ContentType != "application/merge-patch+json" {
					t.Errorf("body %+v", p.Body)
				}
				if err := mustTool(t, in, "get_item").Validate(map[string]any{"id": 7.0}); err != nil {
					t.Errorf("a 3.1 type list: %v", err)
				}
			},
		},
		{
			// seen in OpenAI's and Slack's documents: 3.1 and draft 2019-09 keywords in 3.0
			file: "spec30.yaml", tools: []string{"get_thread"}, warnings: []string{"invalid"},
			contains: []string{"extra sibling fields: [$recursiveRef]"},
			check: func(t *testing.T, in *integrations.Integration) {
				topic := schemaOf(t, mustTool(t, in, "get_thread").OutputSchema, "properties", "topic")
				if fmt.Sprint(topic["type"]) != "[string null]" {
					t.Errorf("topic %v", topic)
				}
			},
		},
		{
			file: "form.yaml", tools: []string{"create_charge"}, warnings: []string{"skipped"},
			contains: []string{"POST /files: not a tool: its required request body has no JSON or form media type (multipart/form-data)"},
			check: func(t *testing.T, in *integrations.Integration) {
				if in.Operations != 2 || len(in.Skipped) != 1 || in.Skipped[0].Operation != "POST /files" {
					t.Errorf("operations %d skipped %v", in.Operations, in.Skipped)
				}
				cc := mustTool(t, in, "create_charge")
				req, err := in.NewRequest(context.Background(), cc, map[string]any{"body": map[string]any{
					"amount": 100.0, "metadata": map[string]any{"order": "o 1"}, "expand": []any{"customer"}}})
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(req.Body)
				if string(b) != "amount=100&expand%5B0%5D=customer&metadata%5Border%5D=o+1" || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Errorf("form body %s (%s)", b, req.Header.Get("Content-Type"))
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			in := loadFixture(t, tc.file)
			checkTools(t, in)
			if got := toolNames(in); !reflect.DeepEqual(got, tc.tools) {
				t.Errorf("tools %q\nwant %q", got, tc.tools)
			}
			if got := warningKinds(in); !slices.Equal(got, tc.warnings) {
				t.Errorf("warning kinds %v, want %v\n%s", got, tc.warnings, warningText(in))
			}
			text := warningText(in)
			for _, s := range tc.contains {
				if !strings.Contains(text, s) {
					t.Errorf("no warning says %q:\n%s", s, text)
				}
			}
			if tc.check != nil {
				tc.check(t, in)
			}
		})
	}
}

// TestAnnotationsFromMethods: the hints follow the HTTP method.
func TestAnnotationsFromMethods(t *testing.T) {
	crm := mustGet(t, mustLoad(t, ""), "crm")
	type hints struct{ readOnly, destructive, idempotent, openWorld any }
	get := func(b *bool) any {
		if b == nil {
			return nil
		}
		return *b
	}
	for name, want := range map[string]hints{
		"get_crm_contact":    {true, nil, nil, true},
		"list_crm_contacts":  {true, nil, nil, true},
		"delete_crm_contact": {false, true, true, true},
		"update_crm_contact": {false, nil, nil, true}, // PATCH
		"create_crm_contact": {false, nil, nil, true},
	} {
		a := mustTool(t, crm, name).Annotations
		if got := (hints{get(a.ReadOnly), get(a.Destructive), get(a.Idempotent), get(a.OpenWorld)}); got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	hd := mustGet(t, mustLoad(t, ""), "helpdesk")
	if a := mustTool(t, hd, "update_helpdesk_tickets").Annotations; a.Idempotent == nil || !*a.Idempotent { // PUT
		t.Errorf("PUT: %+v", a)
	}
}

// TestDescriptions: bounded, and they say what the tool returns.
func TestDescriptions(t *testing.T) {
	long := strings.Repeat("Lorem ipsum dolor sit amet. ", 200)
	doc := fmt.Sprintf(`{"openapi":"3.0.3","info":{"title":"D","version":"1"},"servers":[{"url":"https://d.example.com"}],
	  "paths":{"/x":{"get":{"operationId":"getX","summary":"Get an X","description":%q,
	  "responses":{"200":{"description":"The X.","content":{"application/json":{"schema":{"type":"object"}}}}}}}}}`, long)
	in, err := integrations.Parse("d", "d.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	d := mustTool(t, in, "get_x").Description
	if !strings.HasPrefix(d, "Get an X\n\nLorem ipsum") || !strings.HasSuffix(d, "…\n\nReturns a JSON object: The X.") || len(d) > 1024+100 {
		t.Errorf("description (%d bytes) %q…%q", len(d), d[:40], d[len(d)-60:])
	}
	if mustTool(t, in, "get_x").Title != "Get an X" {
		t.Error("title")
	}
}

// generatedDoc is an OpenAPI document of resources×5 operations, each resource with an object
// schema, tags, parameters and a response schema, as a large vendor document has.
func generatedDoc(resources int) []byte {
	item := map[string]any{
		"type":     "object",
		"required": []string{"name"},
		"properties": map[string]any{
			"id":          map[string]any{"type": "string", "readOnly": true},
			"name":        map[string]any{"type": "string", "minLength": 1, "maxLength": 200, "description": "The name."},
			"description": map[string]any{"type": "string", "nullable": true},
			"status":      map[string]any{"type": "string", "enum": []string{"active", "archived"}},
			"count":       map[string]any{"type": "integer", "minimum": 0},
			"labels":      map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"owner":       map[string]any{"$ref": "#/components/schemas/Owner"},
		},
	}
	page := map[string]any{"type": "object", "properties": map[string]any{
		"data": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/Item"}},
		"next": map[string]any{"type": "string", "nullable": true}}}
	ok := func(schema string) map[string]any {
		return map[string]any{"200": map[string]any{"description": "ok", "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + schema}}}}}
	}
	body := map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Item"}}}}
	paths := map[string]any{}
	for i := range resources {
		res := fmt.Sprintf("resource%03d", i)
		tag := fmt.Sprintf("group%d", i%10)
		idParam := map[string]any{"name": "id", "in": "path", "required": true, "description": "The id.", "schema": map[string]any{"type": "string"}}
		paths["/"+res] = map[string]any{
			"get": map[string]any{
				"operationId": "list" + strings.ToUpper(res[:1]) + res[1:], "tags": []string{tag}, "summary": "List " + res,
				"description": "Returns the " + res + " items, most recent first. " + strings.Repeat("Details. ", 20),
				"parameters": []any{
					map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 100}},
					map[string]any{"name": "cursor", "in": "query", "schema": map[string]any{"type": "string"}},
					map[string]any{"name": "X-Request-Tag", "in": "header", "schema": map[string]any{"type": "string"}},
				},
				"responses": ok("Page"),
			},
			"post": map[string]any{"tags": []string{tag}, "summary": "Create a " + res, "requestBody": body, "responses": ok("Item")},
		}
		paths["/"+res+"/{id}"] = map[string]any{
			"parameters": []any{idParam},
			"get":        map[string]any{"tags": []string{tag}, "summary": "Get a " + res, "responses": ok("Item")},
			"put":        map[string]any{"tags": []string{tag}, "summary": "Replace a " + res, "requestBody": body, "responses": ok("Item")},
			"delete":     map[string]any{"tags": []string{tag}, "summary": "Delete a " + res, "responses": map[string]any{"204": map[string]any{"description": "gone"}}},
		}
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Generated", "version": "1"},
		"servers": []any{map[string]any{"url": "https://generated.example.com/api"}},
		"paths":   paths,
		"components": map[string]any{"schemas": map[string]any{
			"Item":  item,
			"Page":  page,
			"Owner": map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}, "email": map[string]any{"type": "string", "format": "email"}}},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// TestGenerated1000: a 1,000-operation document loads into 1,000 valid tools, and what the
// integration keeps stays under 100 MB (BenchmarkLoad1000 measures time and allocations).
func TestGenerated1000(t *testing.T) {
	data := generatedDoc(200)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	in, err := integrations.Parse("generated", "generated.json", data)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if in.Operations != 1000 || len(in.Tools) != 1000 {
		t.Fatalf("%d operations, %d tools", in.Operations, len(in.Tools))
	}
	checkTools(t, in)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc) //nolint:gosec // G115: heap sizes fit in int64
	t.Logf("1,000 operations: %.1f MB retained on the heap, loaded in %s", float64(retained)/(1<<20), in.LoadTime)
	if retained > 100<<20 {
		t.Errorf("%d bytes retained, more than 100 MB", retained)
	}
	runtime.KeepAlive(in)
	// names are the same on every load
	again, err := integrations.Parse("generated", "generated.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(toolNames(in), toolNames(again)) {
		t.Error("names differ between two loads of the same document")
	}
}

// BenchmarkLoad1000: parse and build a 1,000-operation document (time, allocations, and the
// heap the integration retains, as MB-retained).
func BenchmarkLoad1000(b *testing.B) {
	data := generatedDoc(200)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var retained float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		in, err := integrations.Parse("generated", "generated.json", data)
		if err != nil || len(in.Tools) != 1000 {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / (1 << 20)
		runtime.KeepAlive(in)
	}
	b.ReportMetric(retained, "MB-retained")
}
