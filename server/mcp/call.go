package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/integrations"
)

// call is what one MCP request's tool calls need: the resolved target and the request.
type call struct {
	h      *handler
	target Target
	in     *integrations.Integration
	// reqCtx is the HTTP request's context (with the handler's deadline). The SDK runs tool
	// handlers under a context of its own that keeps its values but has neither its deadline
	// nor its cancellation, so upstream calls combine both.
	reqCtx context.Context
}

// toolHandler is the handler of a tool in every server that has it; the request's *call
// comes from the context.
func (h *handler) toolHandler(t *integrations.Tool) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (res *sdk.CallToolResult, err error) {
		c, ok := ctx.Value(callKey{}).(*call)
		if !ok || c.in == nil {
			h.log.LogAttrs(ctx, slog.LevelError, "mcp tool call without its request", slog.String("tool", t.Name))
			return toolError("The tool failed unexpectedly."), nil
		}
		start := time.Now()
		upstreamStatus := 0
		defer func() {
			if p := recover(); p != nil {
				c.h.log.LogAttrs(ctx, slog.LevelError, "mcp tool call panicked", slog.String("tool", t.Name), slog.Any("panic", p))
				res, err = toolError("The tool failed unexpectedly."), nil
			}
			c.h.log.LogAttrs(ctx, slog.LevelInfo, "mcp tool call",
				slog.String("mcp_server_id", c.target.ServerID),
				slog.String("integration", c.in.Name),
				slog.String("tool", t.Name),
				slog.Int("upstream_status", upstreamStatus),
				slog.Bool("is_error", res != nil && res.IsError),
				slog.Duration("duration", time.Since(start)))
		}()
		var raw json.RawMessage
		if req != nil && req.Params != nil {
			raw = req.Params.Arguments
		}
		return c.invoke(ctx, t, raw, &upstreamStatus), nil
	}
}

func (c *call) invoke(ctx context.Context, t *integrations.Tool, raw json.RawMessage, upstreamStatus *int) *sdk.CallToolResult {
	args := map[string]any{}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		if trimmed[0] != '{' {
			return toolError("Invalid arguments: the arguments must be a JSON object.")
		}
		if err := json.Unmarshal(trimmed, &args); err != nil {
			return toolError("Invalid arguments: " + err.Error())
		}
	}
	if err := t.Validate(args); err != nil {
		return toolError("Invalid arguments: " + err.Error())
	}

	ctx, cancel := c.upstreamContext(ctx)
	defer cancel()
	req, err := c.in.NewRequest(ctx, t, args)
	if err != nil {
		var ae *integrations.ArgumentError
		if errors.As(err, &ae) {
			return toolError("Invalid arguments: " + err.Error())
		}
		c.h.log.LogAttrs(ctx, slog.LevelError, "mcp upstream request not built", slog.String("tool", t.Name), slog.String("error", err.Error()))
		return toolError("The upstream request could not be built.")
	}
	req.Header.Set("User-Agent", "mcpapi")
	if err := setCredential(req, c.target.Credential); err != nil {
		c.h.log.LogAttrs(ctx, slog.LevelError, "mcp upstream credential not usable",
			slog.String("mcp_server_id", c.target.ServerID), slog.String("error", err.Error()))
		return toolError("The MCP server's upstream credential is not usable.")
	}

	resp, err := c.h.client.Do(req)
	if err != nil {
		return c.transportError(ctx, t, err)
	}
	defer func() { _ = resp.Body.Close() }()
	*upstreamStatus = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.h.maxUpstreamBytes+1))
	if err != nil {
		return c.transportError(ctx, t, err)
	}
	if int64(len(body)) > c.h.maxUpstreamBytes {
		return toolError(fmt.Sprintf("The upstream response exceeds %d bytes.", c.h.maxUpstreamBytes))
	}
	if resp.StatusCode >= 300 {
		return toolError(upstreamFailure(resp, body))
	}
	return success(resp.StatusCode, body)
}

// upstreamContext is the tool handler's context bounded by the HTTP request's deadline (less
// a reserve to answer in) and cancelled with it.
func (c *call) upstreamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	var cancel context.CancelFunc
	if dl, ok := c.reqCtx.Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-c.h.reserve))
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	stop := context.AfterFunc(c.reqCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (c *call) transportError(ctx context.Context, t *integrations.Tool, err error) *sdk.CallToolResult {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
		return toolError(fmt.Sprintf("The upstream request timed out (%s %s).", t.HTTPMethod, t.Path))
	}
	c.h.log.LogAttrs(ctx, slog.LevelWarn, "mcp upstream request failed",
		slog.String("mcp_server_id", c.target.ServerID), slog.String("tool", t.Name), slog.String("error", err.Error()))
	return toolError(fmt.Sprintf("The upstream request failed (%s %s): the integration's API could not be reached.", t.HTTPMethod, t.Path))
}

func setCredential(req *http.Request, cred *Credential) error {
	if cred == nil {
		return nil
	}
	switch strings.ToLower(cred.Type) {
	case "bearer":
		if cred.Value == "" {
			return errors.New("bearer credential without a value")
		}
		req.Header.Set("Authorization", "Bearer "+cred.Value)
	case "header":
		name := http.CanonicalHeaderKey(strings.TrimSpace(cred.Name))
		if !validHeaderName(name) {
			return fmt.Errorf("header credential with an invalid header name %q", cred.Name)
		}
		switch name {
		case "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection":
			return fmt.Errorf("header credential may not set %s", name)
		}
		req.Header.Set(name, cred.Value)
	default:
		return fmt.Errorf("unknown credential type %q", cred.Type)
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

// success returns the upstream answer: a JSON body as text and as structured content (an
// object as it is, any other JSON value as {"result": value}); an empty body as
// {"status": code}; anything else as text only.
func success(status int, body []byte) *sdk.CallToolResult {
	if len(bytes.TrimSpace(body)) == 0 {
		text := fmt.Sprintf(`{"status":%d}`, status)
		return &sdk.CallToolResult{
			Content:           []sdk.Content{&sdk.TextContent{Text: text}},
			StructuredContent: map[string]any{"status": status},
		}
	}
	res := &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text(body)}}}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if obj, ok := v.(map[string]any); ok {
			res.StructuredContent = obj
		} else {
			res.StructuredContent = map[string]any{"result": v}
		}
	}
	return res
}

const maxErrorBody = 2048

func upstreamFailure(resp *http.Response, body []byte) string {
	msg := fmt.Sprintf("The upstream API answered HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode < 400 {
		return msg + " (a redirect, which is not followed)."
	}
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return msg + "."
	}
	if len(b) > maxErrorBody {
		b = b[:maxErrorBody]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return msg + ": " + text(b) + " …"
	}
	return msg + ": " + text(b)
}

func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func toolError(msg string) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: msg}}}
}
