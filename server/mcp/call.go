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
	"sync"
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
	status     int           // the upstream's HTTP status, 0 when it did not answer
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

	// What the call log records of the request (CallRecord).
	method         string // the JSON-RPC method, when the SDK path served it
	tool           string
	outcome        string // the tool call's, "" when none was made
	upstreamStatus int
	upstream       time.Duration
	clientName     string
	clientVersion  string
}

// maxLoggedName bounds the client-chosen names a call-log record keeps.
const maxLoggedName = 128

func truncate(s string) string {
	if len(s) <= maxLoggedName {
		return s
	}
	s = s[:maxLoggedName]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// refuse notes a tool call refused before any upstream call (unknown tool, not allowed, a
// direct call in discovery mode).
func (c *call) refuse(name string) {
	c.tool, c.outcome = truncate(name), OutcomeRefused
	c.h.observer.ToolCall(c.integrationLabel(), OutcomeRefused)
}

// record is the call-log entry of the request; failed says the answer was an error (an
// HTTP refusal or a JSON-RPC error).
func (c *call) record(method string, status int, failed bool, began time.Time) CallRecord {
	outcome := c.outcome
	switch {
	case outcome != "":
	case errors.Is(c.reqCtx.Err(), context.DeadlineExceeded):
		outcome = OutcomeTimeout
	case failed || status >= 400:
		outcome = OutcomeRefused
	default:
		outcome = OutcomeOK
	}
	return CallRecord{
		EnvironmentID: c.target.EnvironmentID, AccountID: c.target.AccountID, ServerID: c.target.ServerID,
		Integration: c.target.Integration, Method: method, Tool: c.tool, Outcome: outcome,
		HTTPStatus: status, UpstreamStatus: c.upstreamStatus,
		Duration: time.Since(began), UpstreamDuration: c.upstream,
		ClientName: c.clientName, ClientVersion: c.clientVersion, RequestID: c.requestID, At: began,
	}
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
		c.tool, c.outcome, c.upstreamStatus, c.upstream = t.Name, res.outcome, res.status, res.upstream
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
		return c.transportError(ctx, t, req, 0, time.Since(start), err)
	}
	defer func() { _ = resp.Body.Close() }()
	limit := c.h.maxUpstreamBytes
	if resp.ContentLength > limit {
		res := c.tooLarge(resp, time.Since(start))
		res.status = resp.StatusCode
		return res
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
		res := c.tooLarge(resp, elapsed)
		res.status = resp.StatusCode
		return res
	}
	var res *toolResult
	if resp.StatusCode >= 300 {
		res = toolError(OutcomeUpstreamError, upstreamFailure(resp, buf.Bytes()))
	} else {
		res = c.success(resp.StatusCode, buf.Bytes(), t.OutputWrapped)
	}
	res.upstream, res.status = elapsed, resp.StatusCode
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
	res.upstream, res.status = elapsed, status
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
// wrapped (the tool's output schema is {"result": …}, integrations.Tool.OutputWrapped) wraps
// every answer, objects too, so structuredContent always matches the declared schema.
func (c *call) success(status int, body []byte, wrapped bool) *toolResult {
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
		if trimmed[0] == '{' && !wrapped {
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

// appendCallResult appends the result of tools/call for a protocol version class (what
// writeCallResult writes).
func appendCallResult(b []byte, r *toolResult, c versionClass) []byte {
	buf := bytes.NewBuffer(b)
	buf.Grow(callResultLen(r, c))
	writeCallResult(buf, r, c)
	return buf.Bytes()
}

// writeCallResult writes the result of tools/call for a protocol version class:
// structuredContent only where the version defines it (2025-06-18 on). The text is escaped
// through a small buffer as it is written, so an answer of the upstream limit is never held a
// second and third time (escaped, then inside the encoded answer) while it is sent.
func writeCallResult(w io.Writer, r *toolResult, c versionClass) {
	_, _ = io.WriteString(w, `{"content":[{"type":"text","text":`)
	writeString(w, r.text)
	_, _ = io.WriteString(w, `}]`)
	if r.structured != nil && c >= class20250618 {
		_, _ = io.WriteString(w, `,"structuredContent":`)
		_, _ = w.Write(r.structured)
	}
	if r.isError {
		_, _ = io.WriteString(w, `,"isError":true`)
	}
	_, _ = io.WriteString(w, "}")
}

// callResultLen is the length of what writeCallResult writes.
func callResultLen(r *toolResult, c versionClass) int {
	n := len(`{"content":[{"type":"text","text":`) + int(escapedLen(r.text)) + len(`}]`) + len("}")
	if r.structured != nil && c >= class20250618 {
		n += len(`,"structuredContent":`) + len(r.structured)
	}
	if r.isError {
		n += len(`,"isError":true`)
	}
	return n
}

// escapeChunk is how much of a string writeString escapes at a time.
const escapeChunk = 16 << 10

// escapeBufs holds writeString's buffers: at most 6 × escapeChunk each (all control characters).
var escapeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2*escapeChunk); return &b }}

// writeString writes s (valid UTF-8) as a JSON string, as appendString does, escaping it a
// chunk at a time (escaping is byte by byte, so any cut is safe).
func writeString(w io.Writer, s []byte) {
	bp := escapeBufs.Get().(*[]byte)
	b := append((*bp)[:0], '"')
	for {
		n := min(len(s), escapeChunk)
		b = appendEscaped(b, s[:n])
		if s = s[n:]; len(s) == 0 {
			break
		}
		_, _ = w.Write(b)
		b = b[:0]
	}
	_, _ = w.Write(append(b, '"'))
	*bp = b[:0]
	escapeBufs.Put(bp)
}

const hexDigits = "0123456789abcdef"

// appendString appends s (valid UTF-8) as a JSON string. Unlike encoding/json it leaves <, >
// and & alone (the answer is never HTML).
func appendString[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	return append(appendEscaped(b, s), '"')
}

// appendEscaped appends s (valid UTF-8) escaped as the inside of a JSON string.
func appendEscaped[T string | []byte](b []byte, s T) []byte {
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
	return append(b, s[start:]...)
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
