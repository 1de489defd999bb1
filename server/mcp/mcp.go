// Package mcp serves the MCP servers: POST /mcp/{token} speaks MCP (Streamable HTTP, stateless,
// plain JSON responses) with the tools of the server's integration that its config allows
// (config.methods AND config.tags), each tool call forwarded to the integration's API.
//
// The hot methods (initialize, ping, notifications/initialized, tools/list, tools/call) of the
// protocol versions up to 2025-11-25 are answered on a lean path (lean.go) that writes the
// JSON-RPC answer directly from tool definitions encoded once at start; everything else (other
// methods, malformed messages, the 2026-07-28 protocol) goes to the official go-sdk's
// handler, one shared server per integration whose tools/list and tools/call are the same
// code (sdkpath.go). Both answer the same (a test compares them).
//
// Mounted in package server, the handler shares the REST middleware chain (request id,
// access log, recovery, metrics, problem documents): Serve returns an *HTTPError for what it
// refuses before MCP starts. ServeHTTP is the standalone form, for tests.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/server/credential"
	"github.com/mcpapi/mcpapi/store"
)

// Defaults of Deps.
const (
	// DefaultTimeout bounds a whole MCP request, upstream calls included.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBodyBytes bounds the body of an MCP request.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxUpstreamBytes bounds the body of an upstream response a tool call reads
	// (--max-upstream-response).
	DefaultMaxUpstreamBytes = 1 << 20
	// DefaultNegativeCacheTTL is how long an unknown token hash is remembered.
	DefaultNegativeCacheTTL = 5 * time.Second
	// MaxCachedTokens bounds the positive and the negative token cache (each).
	MaxCachedTokens = 10000
	// MaxUpstreamConnsPerHost is the idle keep-alive pool per upstream host of the default
	// client: sized for the concurrency of tool calls, so calls reuse connections.
	MaxUpstreamConnsPerHost = 64
)

// Credential authenticates the calls to the integration's API (package credential owns it).
type Credential = credential.Credential

// Target is what an MCP token resolves to.
type Target struct {
	// ServerID identifies the MCP server in logs (optional).
	ServerID string
	// Integration is the integrated account's integration: the catalogue entry whose tools
	// are served.
	Integration string
	// Methods and Tags are the server's config; nil is unrestricted, empty allows nothing.
	Methods []string
	Tags    []string
	// ExpiresAt is the server's expiry, nil for none; at or after it the token is refused.
	ExpiresAt *time.Time
	// Credential is sent with every upstream call; nil sends none.
	Credential *Credential
	// EnvironmentID and AccountID are the server's environment and integrated account: for
	// the API-token check and the call log.
	EnvironmentID string
	AccountID     string
	// ToolExposure is config.tool_exposure: ExposureAll ("" too) lists the allowed tools,
	// ExposureDiscovery lists the three meta-tools that search, describe and call them.
	ToolExposure string
	// RequireAPIToken is config.require_api_token_auth: a request must also carry
	// "Authorization: Bearer <API token>" of EnvironmentID, checked by Deps.VerifyAPIToken.
	RequireAPIToken bool
}

// Values of Target.ToolExposure.
const (
	ExposureAll       = "all"
	ExposureDiscovery = "discovery"
)

// CallRecord is the call log's entry of one MCP request that reached an MCP server (its token
// resolved). It never holds arguments, results, tokens or credentials.
type CallRecord struct {
	EnvironmentID string
	AccountID     string
	ServerID      string
	Integration   string
	// Method is the JSON-RPC method, bounded like the metrics' label ("other" outside the
	// known set, "batch", "none" when the request was refused before it was read).
	Method string
	// Tool is the called tool's name (the inner tool of call_tool), at most 128 bytes; "" when
	// no tool was called.
	Tool string
	// Outcome is one of the Outcome* constants.
	Outcome string
	// HTTPStatus is the status of the answer; UpstreamStatus the upstream's (0: none).
	HTTPStatus     int
	UpstreamStatus int
	// Duration is the whole request's; UpstreamDuration the upstream call's (0: none).
	Duration         time.Duration
	UpstreamDuration time.Duration
	// ClientName and ClientVersion are initialize's params.clientInfo (at most 128 bytes
	// each): a stateless server knows them on initialize requests only.
	ClientName    string
	ClientVersion string
	RequestID     string
	// At is when the request started.
	At time.Time
}

// Observer counts what the handler does (Prometheus, in package server). Labels are bounded:
// methods outside the known set are "other"; integrations come from the catalogue.
type Observer interface {
	// Request is one MCP request: its JSON-RPC method and outcome (ok, error, unauthorized,
	// rate_limited, unavailable, failed, rejected).
	Request(method, outcome string)
	// ToolCall is one tool call and its outcome (Outcome*).
	ToolCall(integration, outcome string)
	// Upstream is the duration of one upstream call, answered or not.
	Upstream(integration string, d time.Duration)
}

// Deps is what the handler needs.
type Deps struct {
	// Resolve finds the MCP server of a token by the token's SHA-256 (store.HashSecret). Any
	// error answers 401, like an unknown token; store.ErrNotFound is remembered briefly.
	Resolve func(ctx context.Context, tokenHash []byte) (Target, error)
	// Catalogue holds the integrations whose tools are served.
	Catalogue *integrations.Catalogue
	// HTTPClient makes the upstream calls; nil means a client on NewTransport. Redirects are
	// never followed (they could carry the credential elsewhere): a 3xx is a tool error.
	HTTPClient *http.Client
	// Logger gets one line per tool call (and, standalone, per request); never tokens,
	// credentials, arguments, query strings or bodies. nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for expiry and the caches; nil means time.Now.
	Now func() time.Time
	// Timeout bounds each MCP request, token lookup and upstream calls included (0:
	// DefaultTimeout). An upstream call gets the request's deadline less a small reserve, so a
	// slow upstream ends as a tool error rather than a dropped response.
	Timeout time.Duration
	// MaxBodyBytes bounds each MCP request's body (0: DefaultMaxBodyBytes); past it, 413.
	MaxBodyBytes int64
	// MaxUpstreamBytes bounds each upstream response body (0: DefaultMaxUpstreamBytes); past
	// it, a tool error naming the limit.
	MaxUpstreamBytes int64
	// AuthCacheTTL is how long a resolved token is used without a lookup (0: every request
	// looks it up). Invalidate drops the cache at once.
	AuthCacheTTL time.Duration
	// NegativeCacheTTL is how long an unknown token hash is answered 401 without a lookup
	// (0: DefaultNegativeCacheTTL; negative: never).
	NegativeCacheTTL time.Duration
	// Admit applies rate limits, by stage (the same rule as the REST API's): AdmitLookup comes
	// BEFORE a token that is not cached is looked up, and only looks at the client address's
	// budget (an address that has spent it is answered 429 without a database query);
	// AdmitUnknown spends from the address's budget for a token that is not valid (so a flood
	// of guessed tokens soon costs no lookups); AdmitServer, with the server's id, spends from
	// its MCP server's. It answers 0 to let the request through, or the seconds to put in a
	// 429's Retry-After. nil admits everything.
	Admit func(r *http.Request, serverID string, stage AdmitStage) (retryAfter int)
	// Observer counts requests and tool calls; nil counts nothing.
	Observer Observer
	// VerifyAPIToken tells whether bearer is a valid, unrevoked API token of environmentID,
	// and an error when it could not tell (see lookupFailed). It is asked only for targets with
	// RequireAPIToken, after the rate limits; nil refuses them all.
	VerifyAPIToken func(ctx context.Context, environmentID, bearer string) (bool, error)
	// CallLog receives one record per request that reached an MCP server, when the answer
	// is written, on the request's goroutine: it must not block (a buffered writer that drops
	// when full). nil logs nothing.
	CallLog func(CallRecord)
}

// HTTPError is a refusal before any MCP processing (401, 404, 405, 413, 415, 429): package
// server writes it as its problem document; ServeHTTP writes a plain one.
type HTTPError struct {
	Status int
	Detail string
	Header http.Header
}

func (e *HTTPError) Error() string { return http.StatusText(e.Status) + ": " + e.Detail }

func httpError(status int, detail string, kv ...string) *HTTPError {
	e := &HTTPError{Status: status, Detail: detail}
	if len(kv) > 0 {
		e.Header = http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Header.Set(kv[i], kv[i+1])
		}
	}
	return e
}

// AdmitStage says at which point of a request Deps.Admit is asked.
type AdmitStage int

// The stages of Deps.Admit, in the order a request meets them.
const (
	AdmitLookup  AdmitStage = iota // before a token lookup: look at the address's budget
	AdmitUnknown                   // the token is not valid: spend from the address's budget
	AdmitServer                    // the token is valid: spend from its MCP server's budget
)

var errUnauthorized = httpError(http.StatusUnauthorized, "The MCP server token is not valid.", "WWW-Authenticate", `Bearer realm="mcp"`)

var (
	errUnavailable = httpError(http.StatusServiceUnavailable, "The service is temporarily unavailable.", "Retry-After", "1")
	errInternal    = httpError(http.StatusInternalServerError, "An unexpected error occurred.")
)

// lookupFailed is the answer to a token lookup that failed for another reason than "no such
// token": 503 with Retry-After when the database is unavailable, so that a client retries
// instead of taking its token for revoked; 500 otherwise (a credential that cannot be opened,
// say). Either way it is logged, and nothing is cached.
func (h *Handler) lookupFailed(ctx context.Context, what string, err error) error {
	h.log.LogAttrs(ctx, slog.LevelError, what+" not resolved", slog.String("error", err.Error()))
	if errors.Is(err, store.ErrUnavailable) {
		return errUnavailable
	}
	return errInternal
}

// maxTokenLen bounds what is hashed and looked up; real tokens are 47 characters.
const maxTokenLen = 256

// Handler serves POST /mcp/{token}.
type Handler struct {
	deps             Deps
	client           *http.Client
	log              *slog.Logger
	now              func() time.Time
	observer         Observer
	timeout          time.Duration
	reserve          time.Duration
	maxBody          int64
	maxUpstreamBytes int64
	cache            *tokenCache
	sets             map[string]*toolSet // integration name → its tools
	missing          *sdk.Server         // the SDK server of targets whose integration is not in the catalogue
	streamable       *sdk.StreamableHTTPHandler
	streamableSSE    *sdk.StreamableHTTPHandler
	leanServed       atomic.Int64 // requests the lean path answered (for tests)
}

// handler is the old name, kept for the package's own tests.
type handler = Handler

// callKey carries the request's *call to the SDK path's middleware.
type callKey struct{}

// NewTransport is the upstream transport of the default client: keep-alive connections
// pooled per host (MaxUpstreamConnsPerHost idle ones kept), so tool calls reuse them instead
// of opening a TCP connection each.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * MaxUpstreamConnsPerHost
	t.MaxIdleConnsPerHost = MaxUpstreamConnsPerHost
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// New returns the handler of POST /mcp/{token}.
func New(deps Deps) *Handler {
	if deps.Resolve == nil {
		panic("mcp.New: Deps.Resolve is nil")
	}
	h := &Handler{
		deps:             deps,
		log:              deps.Logger,
		now:              deps.Now,
		observer:         deps.Observer,
		timeout:          deps.Timeout,
		maxBody:          deps.MaxBodyBytes,
		maxUpstreamBytes: deps.MaxUpstreamBytes,
		sets:             map[string]*toolSet{},
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.observer == nil {
		h.observer = nopObserver{}
	}
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	h.reserve = min(time.Second, h.timeout/10)
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.maxUpstreamBytes <= 0 {
		h.maxUpstreamBytes = DefaultMaxUpstreamBytes
	}
	negTTL := deps.NegativeCacheTTL
	if negTTL == 0 {
		negTTL = DefaultNegativeCacheTTL
	}
	h.cache = newTokenCache(deps.AuthCacheTTL, max(negTTL, 0), MaxCachedTokens)
	client := &http.Client{Transport: NewTransport()}
	if deps.HTTPClient != nil {
		c := *deps.HTTPClient
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.client = client

	for _, name := range deps.Catalogue.Names() {
		in, _ := deps.Catalogue.Get(name)
		ts, err := newToolSet(in)
		if err != nil {
			panic(fmt.Sprintf("mcp.New: integration %s: %v", name, err))
		}
		ts.server = h.sdkServer(in.Title, "")
		h.sets[name] = ts
	}
	h.missing = h.sdkServer("", "No tools are available: the MCP server's integration has no API description.")
	h.initSDK()
	return h
}

// Invalidate forgets every cached token at once: call it when an MCP server's token, config
// or expiry changes, or its integrated account's credential, on this instance.
func (h *Handler) Invalidate() { h.cache.invalidate() }

// ServeHTTP serves the full request path /mcp/<token> on its own (without package server's
// chain): refusals become plain problem documents, and it logs one line per request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			h.log.LogAttrs(r.Context(), slog.LevelError, "mcp request panicked", slog.Any("panic", p))
			if sw.status == 0 {
				WriteProblem(sw, r, &HTTPError{Status: http.StatusInternalServerError, Detail: "An unexpected error occurred."}, "")
			}
		}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("route", "/mcp/:token"),
			slog.Int("status", sw.statusCode()),
			slog.Float64("duration_ms", ms(time.Since(start))))
	}()
	token, ok := strings.CutPrefix(r.URL.Path, "/mcp/")
	if !ok || token == "" || strings.Contains(token, "/") {
		WriteProblem(sw, r, httpError(http.StatusNotFound, "No MCP server is served at this path."), "")
		return
	}
	if err := h.Serve(sw, r, token); err != nil {
		var he *HTTPError
		if !errors.As(err, &he) {
			he = &HTTPError{Status: http.StatusInternalServerError, Detail: "An unexpected error occurred."}
		}
		WriteProblem(sw, r, he, "")
	}
}

// Serve answers one MCP request for token. It writes the answer, or returns an *HTTPError
// for the caller to write.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, token string) (err error) {
	began := time.Now()
	method, outcome := "none", "ok"
	sw := &statusWriter{ResponseWriter: w}
	var c *call // set once the token resolved: from then on the request is call-logged
	defer func() {
		status := sw.statusCode()
		var he *HTTPError
		if errors.As(err, &he) {
			status = he.Status
			switch he.Status {
			case http.StatusUnauthorized:
				outcome = "unauthorized"
			case http.StatusTooManyRequests:
				outcome = "rate_limited"
			case http.StatusServiceUnavailable:
				outcome = "unavailable"
			case http.StatusInternalServerError:
				outcome = "failed"
			default:
				outcome = "rejected"
			}
		}
		h.observer.Request(method, outcome)
		if c != nil && h.deps.CallLog != nil {
			h.deps.CallLog(c.record(method, status, he != nil || outcome != "ok", began))
		}
	}()
	if r.Method != http.MethodPost {
		// Stateless: there is no session to stream (GET) or to end (DELETE).
		return httpError(http.StatusMethodNotAllowed, "An MCP server answers POST only.", "Allow", http.MethodPost)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	target, err := h.authenticate(ctx, r, token)
	if err != nil {
		return err
	}
	view := view{methods: target.Methods, tags: target.Tags, discovery: target.ToolExposure == ExposureDiscovery}
	srv := h.missing
	if ts, ok := h.sets[strings.ToLower(target.Integration)]; ok {
		view.set, srv = ts, ts.server
	} else {
		h.log.LogAttrs(ctx, slog.LevelWarn, "mcp server's integration has no catalogue entry",
			slog.String("mcp_server_id", target.ServerID), slog.String("integration", target.Integration))
	}
	c = &call{h: h, target: target, view: view, reqCtx: ctx, requestID: RequestIDFrom(r.Context())}
	if target.RequireAPIToken {
		if err := h.checkAPIToken(ctx, r, target.EnvironmentID); err != nil {
			return err
		}
	}

	body, err := h.readBody(sw, r)
	if err != nil {
		return err
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		// One request never makes more than one upstream call: no batches, whatever the
		// protocol version.
		method, outcome = "batch", "rejected"
		writeRPC(sw, http.StatusBadRequest, false, []byte("null"), nil, errBatch)
		return nil
	}
	var handled bool
	method, outcome, handled = h.lean(ctx, sw, r, body, c)
	if handled {
		h.leanServed.Add(1)
		return nil
	}
	h.serveSDK(ctx, sw, r, normalizeMessage(body), c, srv)
	if c.method != "" {
		method = methodLabel(c.method)
	}
	if sw.statusCode() >= 400 {
		outcome = "rejected"
	}
	return nil
}

// checkAPIToken checks "Authorization: Bearer <API token>" for a server that requires it:
// nil when valid, errUnauthorized when not, lookupFailed's answer when it could not tell.
func (h *Handler) checkAPIToken(ctx context.Context, r *http.Request, environmentID string) error {
	scheme, bearer, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	bearer = strings.TrimSpace(bearer)
	if !ok || !strings.EqualFold(scheme, "Bearer") || bearer == "" || len(bearer) > maxTokenLen || h.deps.VerifyAPIToken == nil {
		return errUnauthorized
	}
	valid, err := h.deps.VerifyAPIToken(ctx, environmentID, bearer)
	switch {
	case err != nil:
		return h.lookupFailed(ctx, "api token", err)
	case !valid:
		return errUnauthorized
	}
	return nil
}

// readBody reads the whole body, at most maxBody bytes (past it, 413), and checks its
// media type (415).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	// text/plain (any charset) is what fetch() labels a string body with: the platform's
	// TypeScript SDK posts JSON-RPC that way, and it is taken when it is a JSON object.
	mt := baseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" && mt != "text/plain" {
		return nil, errMediaType
	}
	if r.ContentLength > h.maxBody {
		return nil, httpError(http.StatusRequestEntityTooLarge, fmt.Sprintf("An MCP request body must not exceed %d bytes.", h.maxBody))
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, httpError(http.StatusRequestEntityTooLarge, fmt.Sprintf("An MCP request body must not exceed %d bytes.", h.maxBody))
		}
		return nil, httpError(http.StatusBadRequest, "The request body could not be read.")
	}
	if mt == "text/plain" {
		if b := bytes.TrimSpace(buf.Bytes()); len(b) == 0 || b[0] != '{' || !json.Valid(b) {
			return nil, errMediaType
		}
	}
	return buf.Bytes(), nil
}

var errMediaType = httpError(http.StatusUnsupportedMediaType, "An MCP request body must be application/json (or a JSON-RPC object sent as text/plain).")

func baseMediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// authenticate resolves a token, rate limits first: a token not known from the cache costs
// its client address one request of its budget before it is looked up, and a known one
// costs its MCP server's.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, token string) (Target, error) {
	admit := func(id string, stage AdmitStage) error {
		if h.deps.Admit == nil {
			return nil
		}
		if wait := h.deps.Admit(r, id, stage); wait > 0 {
			s := strconv.Itoa(wait)
			return httpError(http.StatusTooManyRequests, "Too many requests; retry after "+s+" second(s).", "Retry-After", s)
		}
		return nil
	}
	if len(token) > maxTokenLen || !tokenChars(token) {
		if err := admit("", AdmitUnknown); err != nil {
			return Target{}, err
		}
		return Target{}, errUnauthorized
	}
	hash := store.HashSecret(token)
	key := string(hash)
	now := h.now()
	target, found, unknown, gen := h.cache.get(key, now)
	if !found {
		if err := admit("", AdmitLookup); err != nil {
			return Target{}, err
		}
		if unknown {
			if err := admit("", AdmitUnknown); err != nil {
				return Target{}, err
			}
			return Target{}, errUnauthorized
		}
		var err error
		target, err = h.deps.Resolve(ctx, hash)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Target{}, h.lookupFailed(ctx, "mcp token", err)
		}
		if err != nil {
			h.cache.putUnknown(key, gen, now)
			if err := admit("", AdmitUnknown); err != nil {
				return Target{}, err
			}
			return Target{}, errUnauthorized
		}
		h.cache.put(key, target, gen, now)
	}
	if target.ExpiresAt != nil && !now.Before(*target.ExpiresAt) {
		return Target{}, errUnauthorized
	}
	if err := admit(target.ServerID, AdmitServer); err != nil {
		return Target{}, err
	}
	return target, nil
}

func tokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '-' && c != '.' && c != '~' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// negotiate picks the answer's media type: application/json whenever the client accepts it
// (or sends no Accept), text/event-stream when that is all it accepts; ok is false when it
// accepts neither.
func negotiate(h http.Header) (sse, ok bool) {
	values := h.Values("Accept")
	absent := strings.TrimSpace(strings.Join(values, "")) == ""
	jsonOK, sseOK := absent, absent
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/json", "application/*":
				jsonOK = true
			case "text/event-stream", "text/*":
				sseOK = true
			case "*/*":
				jsonOK, sseOK = true, true
			}
		}
	}
	return !jsonOK && sseOK, jsonOK || sseOK
}

type requestIDKey struct{}

// WithRequestID puts the request's id (X-Request-ID) on its context, for the log lines.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom is the id WithRequestID put on ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WriteProblem writes a refusal as a problem document (RFC 9457), for ServeHTTP; package
// server writes its own, with the request id.
func WriteProblem(w http.ResponseWriter, r *http.Request, e *HTTPError, requestID string) {
	for k, vs := range e.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	b := []byte(`{"type":"about:blank","title":`)
	b = appendString(b, http.StatusText(e.Status))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"detail":`...)
	b = appendString(b, e.Detail)
	if requestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendString(b, requestID)
	}
	_, _ = w.Write(append(b, '}'))
}

type nopObserver struct{}

func (nopObserver) Request(string, string)         {}
func (nopObserver) ToolCall(string, string)        {}
func (nopObserver) Upstream(string, time.Duration) {}

// DefaultRetryAfter is the Retry-After (seconds) of a retryable answer that names no other.
const DefaultRetryAfter = "1"

// RetryableStatus reports the statuses clients (the platform's SDK among them) retry, honouring
// Retry-After; every such answer carries one.
func RetryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// statusWriter remembers the status for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	if RetryableStatus(code) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", DefaultRetryAfter)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Status() int { return w.status }

func (w *statusWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

var _ io.Writer = (*statusWriter)(nil)
