package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/server/mcp"
)

// generatedDoc is an OpenAPI document of resources×5 operations (list, create, get, update,
// delete), each resource with a small object schema, as a real integration's might be.
func generatedDoc(resources int) []byte {
	item := map[string]any{
		"type":     "object",
		"required": []string{"name"},
		"properties": map[string]any{
			"id":          map[string]any{"type": "string", "readOnly": true},
			"name":        map[string]any{"type": "string", "minLength": 1, "maxLength": 200},
			"description": map[string]any{"type": "string", "nullable": true},
			"status":      map[string]any{"type": "string", "enum": []string{"active", "archived"}},
			"count":       map[string]any{"type": "integer", "minimum": 0},
			"labels":      map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
	}
	ok := map[string]any{"200": map[string]any{"description": "ok"}}
	body := map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": item}}}
	paths := map[string]any{}
	for i := range resources {
		res := fmt.Sprintf("resource%03d", i)
		tag := fmt.Sprintf("group%d", i%10)
		idParam := map[string]any{"name": "id", "in": "path", "required": true, "description": "The id.", "schema": map[string]any{"type": "string"}}
		paths["/"+res] = map[string]any{
			"get": map[string]any{
				"operationId": "list" + strings.ToUpper(res[:1]) + res[1:], "tags": []string{tag}, "summary": "List " + res,
				"parameters": []any{
					map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 100}},
					map[string]any{"name": "cursor", "in": "query", "schema": map[string]any{"type": "string"}},
				},
				"responses": ok,
			},
			"post": map[string]any{"tags": []string{tag}, "summary": "Create a " + res, "requestBody": body, "responses": ok},
		}
		paths["/"+res+"/{id}"] = map[string]any{
			"parameters": []any{idParam},
			"get":        map[string]any{"tags": []string{tag}, "summary": "Get a " + res, "responses": ok},
			"put":        map[string]any{"tags": []string{tag}, "summary": "Replace a " + res, "requestBody": body, "responses": ok},
			"delete":     map[string]any{"tags": []string{tag}, "summary": "Delete a " + res, "responses": ok},
		}
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Generated", "version": "1"},
		"servers": []any{map[string]any{"url": "https://generated.example.com/api"}},
		"paths":   paths,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

func benchHandler(b *testing.B, target mcp.Target) (http.Handler, *atomic.Int64) {
	b.Helper()
	in, err := integrations.Parse("generated", "generated.json", generatedDoc(40))
	if err != nil {
		b.Fatal(err)
	}
	if n := len(in.Tools); n != 200 {
		b.Fatalf("%d tools, want 200", n)
	}
	cat, err := integrations.NewCatalogue(in)
	if err != nil {
		b.Fatal(err)
	}
	var resolves atomic.Int64
	h := mcp.New(mcp.Deps{
		Resolve: func(context.Context, []byte) (mcp.Target, error) {
			resolves.Add(1)
			return target, nil
		},
		Catalogue: cat,
		Logger:    slog.New(slog.DiscardHandler),
	})
	return h, &resolves
}

// BenchmarkToolsList: tools/list of a 200-operation integration. Each request resolves the
// token, builds the MCP server with its allowed tools, and answers.
func BenchmarkToolsList(b *testing.B) {
	for _, bc := range []struct {
		name   string
		target mcp.Target
		tools  int
	}{
		{"all200", mcp.Target{Integration: "generated"}, 200},
		{"read80", mcp.Target{Integration: "generated", Methods: []string{"read"}}, 80},
	} {
		b.Run("sdkclient/"+bc.name, func(b *testing.B) {
			h, resolves := benchHandler(b, bc.target)
			srv := httptest.NewServer(h)
			defer srv.Close()
			cs := connect(b, srv.URL+"/mcp/mcp_bench", "")
			if got := len(toolNames(b, cs)); got != bc.tools {
				b.Fatalf("%d tools, want %d", got, bc.tools)
			}
			before := resolves.Load()
			b.ReportAllocs()
			for b.Loop() {
				res, err := cs.ListTools(context.Background(), nil)
				if err != nil || len(res.Tools) != bc.tools {
					b.Fatalf("tools/list: %v", err)
				}
			}
			if resolves.Load()-before < int64(b.N) {
				b.Fatalf("only %d of %d tools/list reached the server", resolves.Load()-before, b.N)
			}
		})
		b.Run("handler/"+bc.name, func(b *testing.B) {
			h, _ := benchHandler(b, bc.target)
			const body = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/mcp/mcp_bench", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || rec.Body.Len() < 1000 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkToolsCall: one tools/call through the handler to an upstream on loopback.
func BenchmarkToolsCall(b *testing.B) {
	e := newEnv(b, envOptions{})
	cs := connect(b, e.url+"/mcp/"+e.serve("mcp_bench_call", mcp.Target{}), "")
	args := map[string]any{"contact_id": "c1"}
	b.ReportAllocs()
	for b.Loop() {
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_crm_contact", Arguments: args})
		if err != nil || res.IsError {
			b.Fatalf("%v %v", err, res)
		}
	}
}
