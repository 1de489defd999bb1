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
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcpapi/mcpapi/integrations"
)

// Tool call outcomes, as counted in the metrics.
const (
	OutcomeOK            = "ok"             // the upstream answered 2xx
	OutcomeToolError     = "tool_error"     // refused before the upstream: arguments, credential, size
	OutcomeUpstreamError = "upstream_error" // the upstream answered non-2xx or could not be reached
	OutcomeTimeout       = "timeout"        // the upstream did not answer in time
	OutcomeRefused       = "refused"        // no such tool in the server's view
)

// toolResult is the outcome of one tool call, before it is encoded for a protocol version.
type toolResult struct {
	isError bool
	// text is the text content: UTF-8, not yet JSON-encoded.
	text []byte
	// structured is the structured content, a JSON object, or nil.
	structured []byte
	outcome    string
	upstream   time.Duration // time spent on the upstream call, 0 when none was made
}

func toolError(outcome, msg string) *toolResult {
	return &toolResult{isError: true, text: []byte(msg), outcome: outcome}
}

// call is what one MCP request's tool calls need: the resolved target and the request.
type call struct {
	h      *handler
	target Target
	view   view
	// reqCtx is the HTTP request's context (with the handler's deadline). The SDK runs tool
	// handlers under a context of its own that keeps its values but has neither its deadline
	// nor its cancellation, so upstream calls combine both.
	reqCtx    context.Context
	requestID string
}

// run calls a tool of the view with raw arguments, logs it and counts it.
func (c *call) run(ctx context.Context, d *toolDef, raw json.RawMessage) (res *toolResult) {
	start := time.Now()
	t := d.tool
	defer func() {
		if p := recover(); p != nil {
			c.h.log.LogAttrs(ctx, slog.LevelError, "mcp tool call panicked", slog.String("tool", t.Name), slog.Any("panic", p))
			res = toolError(OutcomeToolError, "The tool failed unexpectedly.")
		}
		c.h.observer.ToolCall(c.view.set.in.Name, res.outcome)
		if res.upstream > 0 {
			c.h.observer.Upstream(c.view.set.in.Name, res.upstream)
		}
		c.h.log.LogAttrs(ctx, slog.LevelInfo, "mcp tool call",
			slog.String("request_id", c.requestID),
			slog.String("mcp_server_id", c.target.ServerID),
			slog.String("integration", c.view.set.in.Name),
			slog.String("tool", t.Name),
			slog.String("outcome", res.outcome),
			slog.Float64("upstream_ms", ms(res.upstream)),
			slog.Float64("duration_ms", ms(time.Since(start))))
	}()
	return c.invoke(ctx, t, raw)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (c *call) invoke(ctx context.Context, t *integrations.Tool, raw json.RawMessage) *toolResult {
	args := map[string]any{}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		if trimmed[0] != '{' {
			return toolError(OutcomeToolError, "Invalid arguments: the arguments must be a JSON object.")
		}
		if err := json.Unmarshal(trimmed, &args); err != nil {
			return toolError(OutcomeToolError, "Invalid arguments: "+err.Error())
		}
	}
	if err := t.Validate(args); err != nil {
		return toolError(OutcomeToolError, "Invalid arguments: "+err.Error())
	}

	ctx, cancel := c.upstreamContext(ctx)
	defer cancel()
	req, err := c.view.set.in.NewRequest(ctx, t, args)
	if err != nil {
		var ae *integrations.ArgumentError
		if errors.As(err, &ae) {
			return toolError(OutcomeToolError, "Invalid arguments: "+err.Error())
		}
		c.h.log.LogAttrs(ctx, slog.LevelError, "mcp upstream request not built", slog.String("tool", t.Name), slog.String("error", err.Error()))
		return toolError(OutcomeToolError, "The upstream request could not be built.")
	}
	req.Header.Set("User-Agent", "mcpapi")
	if err := c.target.Credential.Apply(req); err != nil {
		c.h.log.LogAttrs(ctx, slog.LevelError, "mcp upstream credential not usable",
			slog.String("mcp_server_id", c.target.ServerID), slog.String("error", err.Error()))
		return toolError(OutcomeToolError, "The MCP server's upstream credential is not usable.")
	}

	start := time.Now()
	resp, err := c.h.client.Do(req)
	if err != nil {
		res := c.transportError(ctx, t, req, 0, time.Since(start), err)
		return res
	}
	defer func() { _ = resp.Body.Close() }()
	limit := c.h.maxUpstreamBytes
	if resp.ContentLength > limit {
		return c.tooLarge(resp, time.Since(start))
	}
	// The body outlives this function (the result refers to it until it is encoded), so it
	// is not pooled; a known length is read into a buffer of exactly that size.
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	elapsed := time.Since(start)
	if err != nil {
		return c.transportError(ctx, t, req, resp.StatusCode, elapsed, err)
	}
	if int64(buf.Len()) > limit {
		return c.tooLarge(resp, elapsed)
	}
	var res *toolResult
	if resp.StatusCode >= 300 {
		res = toolError(OutcomeUpstreamError, upstreamFailure(resp, buf.Bytes()))
	} else {
		res = c.success(resp.StatusCode, buf.Bytes())
	}
	res.upstream = elapsed
	return res
}

func (c *call) tooLarge(resp *http.Response, elapsed time.Duration) *toolResult {
	res := toolError(OutcomeToolError, fmt.Sprintf(
		"The upstream response exceeds the limit of %d bytes (--max-upstream-response); narrow the request (filters, a smaller page).",
		c.h.maxUpstreamBytes))
	res.upstream = elapsed
	return res
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
	if ctx == c.reqCtx {
		return ctx, cancel
	}
	stop := context.AfterFunc(c.reqCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// transportError is the tool error of an upstream call that got no complete answer. Its log
// line names the tool, the operation (method and path template), the host and the status
// only: a *url.Error holds the whole URL, query arguments included, so it is never logged.
func (c *call) transportError(ctx context.Context, t *integrations.Tool, req *http.Request, status int, elapsed time.Duration, err error) *toolResult {
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout())
	c.h.log.LogAttrs(ctx, slog.LevelWarn, "mcp upstream request failed",
		slog.String("request_id", c.requestID),
		slog.String("mcp_server_id", c.target.ServerID),
		slog.String("tool", t.Name),
		slog.String("upstream_method", t.HTTPMethod),
		slog.String("upstream_path", t.Path),
		slog.String("upstream_host", req.URL.Host),
		slog.Int("upstream_status", status),
		slog.Bool("timeout", timeout),
		slog.String("error", redact(err, req.URL)),
		slog.Float64("upstream_ms", ms(elapsed)))
	var res *toolResult
	if timeout {
		res = toolError(OutcomeTimeout, fmt.Sprintf("The upstream request timed out (%s %s).", t.HTTPMethod, t.Path))
	} else {
		res = toolError(OutcomeUpstreamError, fmt.Sprintf("The upstream request failed (%s %s): the integration's API could not be reached.", t.HTTPMethod, t.Path))
	}
	res.upstream = elapsed
	return res
}

// redact is an upstream error's message without the request's URL: the *url.Error wrapper
// (which prints it) is dropped, and any copy of the URL, its path or its query is masked.
func redact(err error, u *url.URL) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	for _, s := range []string{u.String(), u.RequestURI(), u.RawQuery, u.EscapedPath(), u.Path} {
		if len(s) > 1 {
			msg = strings.ReplaceAll(msg, s, "…")
		}
	}
	return msg
}

// success is a 2xx upstream answer: the body as text and, when it is JSON, as structured
// content passed through as it came (an object as it is, any other JSON value as
// {"result": value}, joined byte-wise, never decoded); an empty body as {"status": code}.
func (c *call) success(status int, body []byte) *toolResult {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		s := []byte(`{"status":` + strconv.Itoa(status) + `}`)
		return &toolResult{text: s, structured: s, outcome: OutcomeOK}
	}
	if !utf8.Valid(body) {
		return &toolResult{text: []byte(strings.ToValidUTF8(string(body), "\uFFFD")), outcome: OutcomeOK}
	}
	res := &toolResult{text: body, outcome: OutcomeOK}
	if escapedLen(body) > 2*c.h.maxUpstreamBytes {
		// Mostly control characters (6 bytes each once escaped): bound the reply.
		return toolError(OutcomeToolError, fmt.Sprintf(
			"The upstream response cannot be returned: escaped as JSON text it would exceed %d bytes (it is mostly control characters).",
			2*c.h.maxUpstreamBytes))
	}
	if json.Valid(trimmed) {
		if trimmed[0] == '{' {
			res.structured = trimmed
		} else {
			res.structured = make([]byte, 0, len(trimmed)+11)
			res.structured = append(append(append(res.structured, `{"result":`...), trimmed...), '}')
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
		return msg + ": " + strings.ToValidUTF8(string(b), "\uFFFD") + " …"
	}
	return msg + ": " + strings.ToValidUTF8(string(b), "\uFFFD")
}

// appendCallResult appends the result of tools/call for a protocol version class:
// structuredContent only where the version defines it (2025-06-18 on).
func appendCallResult(b []byte, r *toolResult, c versionClass) []byte {
	b = append(b, `{"content":[{"type":"text","text":`...)
	b = appendString(b, r.text)
	b = append(b, `}]`...)
	if r.structured != nil && c >= class20250618 {
		b = append(b, `,"structuredContent":`...)
		b = append(b, r.structured...)
	}
	if r.isError {
		b = append(b, `,"isError":true`...)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s (valid UTF-8) as a JSON string. Unlike encoding/json it leaves <, >
// and & alone (the answer is never HTML).
func appendString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// escapedLen is the length of appendString's output for s.
func escapedLen(s []byte) int64 {
	n := int64(len(s)) + 2
	for _, c := range s {
		switch {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			n++
		case c < 0x20:
			n += 5
		}
	}
	return n
}
