package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/integrations"
)

// referenceSDK serves the same tools the plain go-sdk way: a server with every allowed tool
// registered by AddTool, each calling the same tool code, behind the SDK's stateless JSON
// handler. The lean path must answer as it does.
func referenceSDK(t *testing.T, h *Handler, target Target) http.Handler {
	ts := h.sets[target.Integration]
	srv := sdk.NewServer(&sdk.Implementation{Name: "mcpapi", Title: ts.in.Title, Version: "1.0.0"},
		&sdk.ServerOptions{Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}}})
	v := view{set: ts, methods: target.Methods, tags: target.Tags}
	for _, d := range ts.tools {
		if _, ok := v.tool(d.tool.Name); !ok {
			continue
		}
		srv.AddTool(d.sdk, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			c := ctx.Value(callKey{}).(*call)
			res := c.run(ctx, d, req.Params.Arguments)
			out := &sdk.CallToolResult{IsError: res.isError, Content: []sdk.Content{&sdk.TextContent{Text: string(res.text)}}}
			if res.structured != nil {
				out.StructuredContent = json.RawMessage(res.structured)
			}
			return out, nil
		})
	}
	sh := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv },
		&sdk.StreamableHTTPOptions{Stateless: true, JSONResponse: true, DisableLocalhostProtection: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{h: h, target: target, view: v, reqCtx: r.Context()}
		sh.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
	})
}

type answer struct {
	status int
	body   any
}

func ask(t *testing.T, h http.Handler, path, version, body string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", version)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code}
	if rec.Body.Len() > 0 {
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&a.body); err != nil {
			a.body = "not JSON: " + rec.Body.String()
		}
	}
	return a
}

// TestLeanPathAnswersAsTheSDK: for the same requests, the lean path's answers equal the
// go-sdk's (parsed), except for the members the SDK adds that the negotiated version does
// not define (ttlMs, cacheScope on tools/list).
func TestLeanPathAnswersAsTheSDK(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/missing") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"no such contact"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"c1","first_name":"Ada","big":12345678901234567890}`)
	}))
	defer upstream.Close()
	cat, err := integrations.Load("")
	if err != nil {
		t.Fatal(err)
	}
	crm, _ := cat.Get("crm")
	crm, err = crm.WithBaseURL(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	cat, _ = integrations.NewCatalogue(crm)
	target := Target{Integration: "crm", Methods: []string{"read", "custom"}}
	h := New(Deps{
		Resolve:   func(context.Context, []byte) (Target, error) { return target, nil },
		Catalogue: cat,
		Logger:    slog.New(slog.DiscardHandler),
	})
	ref := referenceSDK(t, h, target)

	requests := map[string]string{
		"initialize":        `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"VERSION","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
		"initialize other":  `{"jsonrpc":"2.0","id":"x","method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
		"notification":      `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		"ping":              `{"jsonrpc":"2.0","id":2,"method":"ping"}`,
		"tools/list":        `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`,
		"tools/list cursor": `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"bad"}}`,
		"call ok":           `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_crm_contact","arguments":{"contact_id":"c1"}}}`,
		"call upstream 404": `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_crm_contact","arguments":{"contact_id":"missing"}}}`,
		"call bad args":     `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get_crm_contact","arguments":{"contact_id":7}}}`,
		"call disallowed":   `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_crm_contact","arguments":{"contact_id":"c1"}}}`,
		"call unknown":      `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"nope","arguments":{}}}`,
		"unknown method":    `{"jsonrpc":"2.0","id":9,"method":"bogus/method"}`,
	}
	for _, version := range []string{"2025-06-18", "2025-11-25"} {
		for name, body := range requests {
			body = strings.ReplaceAll(body, "VERSION", version)
			before := h.leanServed.Load()
			got := ask(t, h, "/mcp/mcp_token", version, body)
			want := ask(t, ref, "/mcp", version, body)
			if m, ok := want.body.(map[string]any); ok {
				res, _ := m["result"].(map[string]any)
				delete(res, "ttlMs")
				delete(res, "cacheScope")
			}

			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s:\n lean %v\n  sdk %v", version, name, got, want)
			}
			if name != "unknown method" && h.leanServed.Load() != before+1 {
				t.Errorf("%s %s: not answered on the lean path", version, name)
			}
		}
	}
}

// TestOnlyMembersOfTheVersion: 2024-11-05 gets no title, annotations, outputSchema or
// structuredContent; no version gets ttlMs or a public cacheScope on tools/list.
func TestOnlyMembersOfTheVersion(t *testing.T) {
	cat, _ := integrations.Load("")
	h := New(Deps{
		Resolve:   func(context.Context, []byte) (Target, error) { return Target{Integration: "crm"}, nil },
		Catalogue: cat,
		Logger:    slog.New(slog.DiscardHandler),
	})
	for _, v := range []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"} {
		a := ask(t, h, "/mcp/mcp_t", v, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		b, _ := json.Marshal(a.body)
		s := string(b)
		if strings.Contains(s, "ttlMs") || strings.Contains(s, "cacheScope") {
			t.Errorf("%s: %s", v, s)
		}
		var res struct {
			Result struct {
				Tools []map[string]any `json:"tools"`
			} `json:"result"`
		}
		_ = json.Unmarshal(b, &res)
		if len(res.Result.Tools) == 0 {
			t.Fatalf("%s: %s", v, s)
		}
		tool := res.Result.Tools[0]
		_, title := tool["title"]
		_, ann := tool["annotations"]
		if title != (v >= "2025-06-18") || ann != (v >= "2025-03-26") {
			t.Errorf("%s: title %v annotations %v: %v", v, title, ann, tool)
		}
	}
}
