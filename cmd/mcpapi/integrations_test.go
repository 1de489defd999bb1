package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/store/storetest"
)

// TestIntegrationsCheck: `mcpapi integrations check` reports each document's operations,
// tools, every warning and its load time, and fails only on documents that cannot be used.
func TestIntegrationsCheck(t *testing.T) {
	fixtures := filepath.Join("..", "..", "integrations", "testdata")
	good := []string{filepath.Join(fixtures, "patterns.yaml"), filepath.Join(fixtures, "swagger.json"), filepath.Join(fixtures, "form.yaml")}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"mcpapi", "integrations", "check"}, good...), noEnv, &out, &errOut); err != nil {
		t.Fatalf("check of usable documents: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		good[0] + `: ok: "RE2-hostile patterns and unknown formats" 1, base URL https://patterns.example.com`,
		"  operations: 2\n  tools: 2\n  warnings: 5\n  load time: ",
		`  warning: pattern: GET /accounts/{account_id}: pattern "^(?!admin)[a-z]+$" is not RE2`,
		good[1] + `: ok: "Pet shop (Swagger 2.0)"`,
		"  warning: converted: converted from Swagger 2.0 to OpenAPI 3",
		"  not a tool: POST /files: its required request body has no JSON or form media type (multipart/form-data)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("openapi: 3.0.3\ninfo: {title: X, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {'200': {description: ok}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(context.Background(), []string{"mcpapi", "integrations", "check", broken, good[0]}, noEnv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 documents cannot be used") {
		t.Errorf("a document without a base URL: %v", err)
	}
	if !strings.Contains(out.String(), broken+": FATAL") || !strings.Contains(out.String(), "no usable base URL") || !strings.Contains(out.String(), good[0]+": ok") {
		t.Errorf("output:\n%s", out.String())
	}
	for _, args := range [][]string{{"mcpapi", "integrations"}, {"mcpapi", "integrations", "lint"}, {"mcpapi", "integrations", "check"}} {
		if err := run(context.Background(), args, noEnv, &out, &errOut); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestSandboxWalkthrough: with --sandbox, the README's walk-through ends in tools that answer:
// an account of the embedded crm with a bearer credential, an MCP server on it, and the Go SDK
// client lists, creates, and lists again; another account's data is its own.
func TestSandboxWalkthrough(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL, "--sandbox", "--secret-key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
		server := func(credential string) *sdk.ClientSession {
			acc := a.do(http.MethodPost, "/integrated-account",
				`{"integration":"crm","credentials":{"type":"bearer","value":"`+credential+`"}}`)
			mustStatus(t, acc, http.StatusCreated)
			created := a.do(http.MethodPost, "/integrated-account/"+acc.json(t)["id"].(string)+"/mcp",
				`{"name":"CRM","config":{"methods":["read","create"],"tags":["contacts"]}}`)
			mustStatus(t, created, http.StatusCreated)
			cs, err := mcpConnect(t, created.json(t)["url"].(string))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cs.Close() })
			return cs
		}
		contacts := func(cs *sdk.ClientSession) []any {
			res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "list_crm_contacts"})
			if err != nil || res.IsError {
				t.Fatalf("list: %v %+v", err, res)
			}
			b, _ := json.Marshal(res.StructuredContent)
			var page struct{ Data []any }
			if err := json.Unmarshal(b, &page); err != nil {
				t.Fatal(err)
			}
			return page.Data
		}
		alice := server("alice-key")
		if n := len(contacts(alice)); n != 4 {
			t.Fatalf("%d seed contacts, want 4", n)
		}
		res, err := alice.CallTool(context.Background(), &sdk.CallToolParams{Name: "create_crm_contact",
			Arguments: map[string]any{"body": map[string]any{"first_name": "Barbara", "last_name": "Liskov", "email": "barbara@example.com"}}})
		if err != nil || res.IsError {
			t.Fatalf("create: %v %+v", err, res)
		}
		list := contacts(alice)
		if len(list) != 5 || !strings.Contains(mustMarshal(t, list), "Liskov") {
			t.Errorf("after create: %v", list)
		}
		if n := len(contacts(server("bob-key"))); n != 4 {
			t.Errorf("another account sees %d contacts, want its own 4", n)
		}
	})
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
