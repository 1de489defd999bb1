package integrations_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	gjs "github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/server/mcp"
)

// messyUpstream answers every call with the body the test set for it, and records the
// request. The bodies are what real upstreams send: members the document does not declare,
// declared members missing, nulls where the document says string or object.
type messyUpstream struct {
	mu     sync.Mutex
	answer []byte
	last   *http.Request
	body   []byte
}

func (u *messyUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.last, u.body = r, b
	answer := u.answer
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(answer)
}

// messy makes an answer from an output schema: every other declared member left out (so
// required ones go missing), the rest null, an undeclared member added at every level.
func messy(schema map[string]any) any {
	if props, ok := schema["properties"].(map[string]any); ok {
		out := map[string]any{"x_undeclared": map[string]any{"surprise": true}}
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i%2 == 1 {
				continue // dropped
			}
			p, _ := props[k].(map[string]any)
			if items, ok := p["items"].(map[string]any); ok {
				out[k] = []any{messy(items), nil}
			} else if _, ok := p["properties"]; ok {
				out[k] = messy(p)
			} else {
				out[k] = nil
			}
		}
		return out
	}
	if items, ok := schema["items"].(map[string]any); ok {
		return []any{messy(items), nil}
	}
	return nil
}

// minimal makes valid arguments from an input schema: the required members, each with the
// simplest value its schema takes.
func minimal(schema map[string]any) any {
	for _, k := range []string{"oneOf", "anyOf"} {
		if l, ok := schema[k].([]any); ok && len(l) > 0 {
			return minimal(l[0].(map[string]any))
		}
	}
	if e, ok := schema["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	typ := schema["type"]
	if l, ok := typ.([]any); ok {
		typ = l[0]
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		req, _ := schema["required"].([]any)
		for _, r := range req {
			p, _ := props[r.(string)].(map[string]any)
			out[r.(string)] = minimal(p)
		}
		if n, _ := schema["minProperties"].(float64); len(out) < int(n) {
			keys := make([]string, 0, len(props))
			for k := range props {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys[:int(n)] {
				out[k] = minimal(props[k].(map[string]any))
			}
		}
		return out
	case "array":
		if n, _ := schema["minItems"].(float64); n > 0 {
			items, _ := schema["items"].(map[string]any)
			return []any{minimal(items)}
		}
		return []any{}
	case "integer", "number":
		if m, ok := schema["minimum"].(float64); ok {
			return m
		}
		return 1.0
	case "boolean":
		return true
	}
	if schema["format"] == "email" {
		return "a@example.com"
	}
	return "x1"
}

func schemaMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// validateBoth validates an instance against a schema with two independent 2020-12
// validators: google/jsonschema-go (the Go SDK's) and santhosh-tekuri/jsonschema (strict,
// as the TypeScript SDK's Ajv).
func validateBoth(t *testing.T, name string, schema, instance any) {
	t.Helper()
	raw, _ := json.Marshal(schema)
	var gs gjs.Schema
	if err := json.Unmarshal(raw, &gs); err != nil {
		t.Fatal(err)
	}
	resolved, err := gs.Resolve(nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	inst, _ := json.Marshal(instance)
	var v any
	_ = json.Unmarshal(inst, &v)
	if err := resolved.Validate(v); err != nil {
		t.Errorf("%s: structuredContent %s refused by jsonschema-go: %v", name, inst, err)
	}
	s := compileSchema(t, name+".out", raw)
	sv, _ := sjs.UnmarshalJSON(bytes.NewReader(inst))
	if err := s.Validate(sv); err != nil {
		t.Errorf("%s: structuredContent %s refused by santhosh-tekuri/jsonschema: %v", name, inst, err)
	}
}

// TestMCPEndToEnd: every fixture document (and the embedded ones) is served through the MCP
// endpoint to the official Go SDK client, which lists its tools (with output schemas and
// hints) and calls each of them against a loopback upstream that sends messy answers; every
// structuredContent passes the listed outputSchema.
func TestMCPEndToEnd(t *testing.T) {
	up := &messyUpstream{}
	us := httptest.NewServer(up)
	t.Cleanup(us.Close)

	files, err := filepath.Glob("testdata/*")
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	var list []*integrations.Integration
	for _, f := range files {
		in, err := integrations.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, in)
	}
	embedded, err := integrations.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range embedded.Names() {
		in, _ := embedded.Get(name)
		list = append(list, in)
	}
	tokens := map[[32]byte]string{}
	for i, in := range list {
		wired, err := in.WithBaseURL(us.URL + "/base/" + in.Name)
		if err != nil {
			t.Fatal(err)
		}
		list[i] = wired
		tokens[sha256.Sum256([]byte("mcp_"+in.Name))] = in.Name
	}
	cat, err := integrations.NewCatalogue(list...)
	if err != nil {
		t.Fatal(err)
	}
	h := mcp.New(mcp.Deps{
		Resolve: func(_ context.Context, hash []byte) (mcp.Target, error) {
			name, ok := tokens[[32]byte(hash)]
			if !ok {
				return mcp.Target{}, io.EOF
			}
			return mcp.Target{Integration: name, Credential: &mcp.Credential{Type: "bearer", Value: "s3cret"}}, nil
		},
		Catalogue:  cat,
		HTTPClient: us.Client(),
		Logger:     slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	for _, in := range list {
		t.Run(in.Name, func(t *testing.T) {
			client := sdk.NewClient(&sdk.Implementation{Name: "e2e", Version: "1"}, nil)
			cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: srv.URL + "/mcp/mcp_" + in.Name, MaxRetries: -1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cs.Close() }()
			var listed []*sdk.Tool
			for tool, err := range cs.Tools(context.Background(), nil) {
				if err != nil {
					t.Fatal(err)
				}
				listed = append(listed, tool)
			}
			if len(listed) != len(in.Tools) {
				t.Fatalf("%d tools listed, %d in the integration", len(listed), len(in.Tools))
			}
			for _, def := range listed {
				tool, ok := in.Tool(def.Name)
				if !ok {
					t.Fatalf("unknown tool %s", def.Name)
				}
				if (def.OutputSchema != nil) != (tool.OutputSchema != nil) || def.Annotations == nil || def.Annotations.OpenWorldHint == nil {
					t.Errorf("%s: output schema or hints missing: %+v", def.Name, def)
				}
				if def.Annotations.ReadOnlyHint != (tool.HTTPMethod == http.MethodGet || tool.HTTPMethod == http.MethodHead) && tool.Name != "patch_item" {
					t.Errorf("%s: readOnlyHint %v", def.Name, def.Annotations.ReadOnlyHint)
				}
				args, _ := minimal(schemaMap(t, def.InputSchema)).(map[string]any)
				if err := tool.Validate(args); err != nil {
					t.Fatalf("%s: the test made invalid arguments %v: %v", def.Name, args, err)
				}
				answer := any(map[string]any{"ok": true})
				if def.OutputSchema != nil {
					out := schemaMap(t, def.OutputSchema)
					answer = messy(out)
					if tool.OutputWrapped {
						answer = messy(out["properties"].(map[string]any)["result"].(map[string]any))
					}
				}
				up.mu.Lock()
				up.answer, _ = json.Marshal(answer)
				up.last = nil
				up.mu.Unlock()
				res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: def.Name, Arguments: args})
				if err != nil {
					t.Fatalf("%s: %v", def.Name, err)
				}
				if res.IsError {
					t.Fatalf("%s(%v): tool error %v", def.Name, args, res.Content)
				}
				up.mu.Lock()
				last := up.last
				up.mu.Unlock()
				if last == nil || last.Method != tool.HTTPMethod || !strings.HasPrefix(last.URL.Path, "/base/"+in.Name+"/") || last.Header.Get("Authorization") != "Bearer s3cret" {
					t.Fatalf("%s: upstream request %+v", def.Name, last)
				}
				if def.OutputSchema != nil {
					if res.StructuredContent == nil {
						t.Fatalf("%s: no structuredContent", def.Name)
					}
					validateBoth(t, def.Name, def.OutputSchema, res.StructuredContent)
				}
			}
		})
	}

	// The messiest case, spelled out: crm's Contact requires id, first_name and email and
	// types them as strings; the upstream drops email, sends null for id and first_name and
	// adds members. The client gets it as structuredContent that passes the outputSchema.
	t.Run("crm contact, messy", func(t *testing.T) {
		client := sdk.NewClient(&sdk.Implementation{Name: "e2e", Version: "1"}, nil)
		cs, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: srv.URL + "/mcp/mcp_crm", MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cs.Close() }()
		up.mu.Lock()
		up.answer = []byte(`{"id":null,"first_name":null,"phone":null,"company_id":{"unexpected":"object"},"tier":"gold","extra":[1,2]}`)
		up.mu.Unlock()
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_crm_contact", Arguments: map[string]any{"contact_id": "c1"}})
		if err != nil || res.IsError {
			t.Fatalf("%v %v", err, res)
		}
		listed, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, def := range listed.Tools {
			if def.Name == "get_crm_contact" {
				// company_id is declared a nullable string and came as an object: only that
				// is refused — the loosening keeps types, it does not drop them.
				raw, _ := json.Marshal(res.StructuredContent)
				if !strings.Contains(string(raw), `"tier":"gold"`) {
					t.Errorf("structuredContent %s", raw)
				}
				sc := res.StructuredContent.(map[string]any)
				delete(sc, "company_id")
				validateBoth(t, def.Name, def.OutputSchema, sc)
				s := compileSchema(t, "contact", mustJSON(t, def.OutputSchema))
				bad, _ := sjs.UnmarshalJSON(strings.NewReader(`{"company_id":{"unexpected":"object"}}`))
				if s.Validate(bad) == nil {
					t.Error("an object where a string is declared passes: the output schema checks nothing")
				}
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
