package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The SDK path: what the lean path leaves goes to the go-sdk's Streamable HTTP handler. There
// is one SDK server per integration (for its serverInfo), registered with no tools: a
// receiving middleware answers tools/list and tools/call from the request's view (found in
// the context), with the same code as the lean path, so no per-config server is ever built.

func (h *Handler) sdkServer(title, instructions string) *sdk.Server {
	opts := &sdk.ServerOptions{
		Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}},
		Instructions: instructions,
		Logger:       h.log,
		// The tool list depends on the token: never a public cache scope.
		SetCacheable: func(_ context.Context, _ sdk.Request, c *sdk.Cacheable) { c.CacheScope = "private" },
	}
	srv := sdk.NewServer(&sdk.Implementation{Name: "mcpapi", Title: title, Version: "1.0.0"}, opts)
	srv.AddReceivingMiddleware(h.toolsMiddleware)
	return srv
}

func (h *Handler) initSDK() {
	getServer := func(r *http.Request) *sdk.Server {
		s, _ := r.Context().Value(serverKey{}).(*sdk.Server)
		return s
	}
	opts := sdk.StreamableHTTPOptions{
		// Every request stands alone: no session to keep, any replica can answer.
		Stateless: true,
		// Plain application/json answers, which every gateway passes through.
		JSONResponse: true,
		// The handler sits behind gateways and load balancers that keep the public Host:
		// the SDK's loopback-only Host check (DNS-rebinding protection) would refuse them.
		// The token in the path is what protects each server.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        h.maxBody,
		Logger:                     h.log,
	}
	h.streamable = sdk.NewStreamableHTTPHandler(getServer, &opts)
	opts.JSONResponse = false
	h.streamableSSE = sdk.NewStreamableHTTPHandler(getServer, &opts)
}

type serverKey struct{}

// serveSDK hands the request (its body already read) to the SDK.
func (h *Handler) serveSDK(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, c *call, srv *sdk.Server) {
	ctx = context.WithValue(context.WithValue(ctx, serverKey{}, srv), callKey{}, c)
	r2 := r.WithContext(ctx)
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	sse, ok := negotiate(r.Header)
	if ok {
		// The SDK insists that Accept lists both; the answer's type was chosen above.
		r2.Header = r.Header.Clone()
		r2.Header.Set("Accept", "application/json, text/event-stream")
	}
	if sse {
		h.streamableSSE.ServeHTTP(w, r2)
		return
	}
	h.streamable.ServeHTTP(w, r2)
}

// toolsMiddleware answers tools/list and tools/call from the request's view.
func (h *Handler) toolsMiddleware(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		if method != "tools/list" && method != "tools/call" {
			return next(ctx, method, req)
		}
		c, ok := ctx.Value(callKey{}).(*call)
		if !ok {
			return next(ctx, method, req)
		}
		version := defaultVersion
		if ss, ok := req.GetSession().(*sdk.ServerSession); ok && ss.InitializeParams() != nil && ss.InitializeParams().ProtocolVersion != "" {
			version = ss.InitializeParams().ProtocolVersion
		}
		newProtocol := version >= version20260728
		switch r := req.(type) {
		case *sdk.ListToolsRequest:
			cursor := ""
			if r.Params != nil {
				cursor = r.Params.Cursor
			}
			tools, nextCursor, err := c.view.page(cursor)
			if err != nil {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "invalid params"}
			}
			if !newProtocol {
				return &rawListResult{ListToolsResult: &sdk.ListToolsResult{}, raw: appendList(nil, tools, nextCursor, classOf(version))}, nil
			}
			res := &sdk.ListToolsResult{Tools: make([]*sdk.Tool, 0, len(tools)), NextCursor: nextCursor}
			res.CacheScope = "private"
			for _, d := range tools {
				res.Tools = append(res.Tools, d.sdk)
			}
			return res, nil
		case *sdk.CallToolRequest:
			if r.Params == nil {
				return next(ctx, method, req)
			}
			d, ok := c.view.tool(r.Params.Name)
			if !ok {
				h.observer.ToolCall(c.integrationLabel(), OutcomeRefused)
				e := unknownTool(r.Params.Name)
				return nil, &jsonrpc.Error{Code: int64(e.code), Message: e.message}
			}
			res := c.run(ctx, d, r.Params.Arguments)
			if !newProtocol {
				return &rawCallResult{CallToolResult: &sdk.CallToolResult{}, raw: appendCallResult(nil, res, classOf(version))}, nil
			}
			out := &sdk.CallToolResult{IsError: res.isError, Content: []sdk.Content{&sdk.TextContent{Text: string(res.text)}}}
			if res.structured != nil {
				out.StructuredContent = json.RawMessage(res.structured)
			}
			return out, nil
		}
		return next(ctx, method, req)
	}
}

// rawListResult and rawCallResult are results already encoded by the lean path's code, with
// exactly the members of the request's protocol version (the SDK's own types always carry
// ttlMs and cacheScope, which versions before 2026-07-28 do not define).
type rawListResult struct {
	*sdk.ListToolsResult
	raw []byte
}

func (r *rawListResult) MarshalJSON() ([]byte, error) { return r.raw, nil }

type rawCallResult struct {
	*sdk.CallToolResult
	raw []byte
}

func (r *rawCallResult) MarshalJSON() ([]byte, error) { return r.raw, nil }
