// Package mcp serves the MCP servers: POST /mcp/{token} speaks MCP (Streamable HTTP, stateless,
// plain JSON responses) with the tools of the server's integration that its config allows
// (config.methods AND config.tags), each tool call forwarded to the integration's API.
//
// The handler is mounted outside the REST middleware chain, so it authenticates, bounds the
// request body and time, and logs by itself.
package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/store"
)

// Defaults of Deps.
const (
	// DefaultTimeout bounds a whole MCP request, upstream calls included.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBodyBytes bounds the body of an MCP request.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxUpstreamBytes bounds the body of an upstream response a tool call reads.
	DefaultMaxUpstreamBytes = 4 << 20
)

// Credential authenticates the calls to the integration's API. Type "bearer" sends
// `Authorization: Bearer <Value>`; type "header" sends the header Name with Value.
type Credential struct {
	Type  string
	Name  string
	Value string
}

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
}

// Deps is what the handler needs.
type Deps struct {
	// Resolve finds the MCP server of a token by the token's SHA-256 (store.HashSecret). Any
	// error answers 401, like an unknown token.
	Resolve func(ctx context.Context, tokenHash []byte) (Target, error)
	// Catalogue holds the integrations whose tools are served.
	Catalogue *integrations.Catalogue
	// HTTPClient makes the upstream calls; nil means a client with default settings. Redirects
	// are never followed (they could carry the credential elsewhere): a 3xx is a tool error.
	HTTPClient *http.Client
	// Logger gets one line per MCP request and per tool call; never tokens, credentials or
	// arguments. nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for expiry; nil means time.Now.
	Now func() time.Time
	// Timeout bounds each MCP request, token lookup and upstream calls included (0:
	// DefaultTimeout). An upstream call gets the request's deadline less a small reserve, so a
	// slow upstream ends as a tool error rather than a dropped response.
	Timeout time.Duration
	// MaxBodyBytes bounds each MCP request's body (0: DefaultMaxBodyBytes); past it, 413.
	MaxBodyBytes int64
	// MaxUpstreamBytes bounds each upstream response body (0: DefaultMaxUpstreamBytes); past
	// it, a tool error.
	MaxUpstreamBytes int64
	// Admit applies rate limits once the token is judged: a valid one counts against its MCP
	// server, an invalid one against the client's address (so guessing tokens is slow). It
	// answers 0 to let the request through, or the seconds to put in a 429's Retry-After. nil
	// admits everything.
	Admit func(r *http.Request, serverID string, valid bool) (retryAfter int)
}

// unauthorizedBody is the one answer to every token that is not valid: unknown, expired, or
// not resolvable at all.
const unauthorizedBody = `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The MCP server token is not valid."}`

// maxTokenLen bounds what is hashed and looked up; real tokens are 47 characters.
const maxTokenLen = 256

type handler struct {
	deps             Deps
	client           *http.Client
	log              *slog.Logger
	now              func() time.Time
	timeout          time.Duration
	reserve          time.Duration
	maxUpstreamBytes int64
	streamable       *sdk.StreamableHTTPHandler // answers application/json
	streamableSSE    *sdk.StreamableHTTPHandler // answers text/event-stream, for clients that take nothing else
	tools            map[string][]toolEntry     // integration name → its tools, in name order
	servers          serverCache
}

// toolEntry pairs an integration's tool with its MCP definition and handler, built once and
// shared (read-only) by every request.
type toolEntry struct {
	tool    *integrations.Tool
	def     *sdk.Tool
	handler sdk.ToolHandler
}

type serverKey struct{}

// callKey carries the request's *call to the tool handlers, through the SDK: it runs them
// under a context derived from the request's (values kept, cancellation and deadline not).
type callKey struct{}

// New returns the handler of POST /mcp/{token}. It expects the full request path
// (/mcp/<token>); other paths answer 404 and methods other than POST 405.
func New(deps Deps) http.Handler {
	if deps.Resolve == nil {
		panic("mcp.New: Deps.Resolve is nil")
	}
	h := &handler{
		deps:             deps,
		log:              deps.Logger,
		now:              deps.Now,
		timeout:          deps.Timeout,
		maxUpstreamBytes: deps.MaxUpstreamBytes,
		tools:            map[string][]toolEntry{},
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	h.reserve = min(time.Second, h.timeout/10)
	if h.maxUpstreamBytes <= 0 {
		h.maxUpstreamBytes = DefaultMaxUpstreamBytes
	}
	maxBody := deps.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	client := &http.Client{}
	if deps.HTTPClient != nil {
		c := *deps.HTTPClient
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.client = client

	for _, name := range deps.Catalogue.Names() {
		in, _ := deps.Catalogue.Get(name)
		entries := make([]toolEntry, 0, len(in.Tools))
		for _, t := range in.Tools {
			entries = append(entries, toolEntry{tool: t, def: definition(t), handler: h.toolHandler(t)})
		}
		h.tools[name] = entries
	}

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
		MaxRequestBodyBytes:        maxBody,
		Logger:                     h.log,
	}
	h.streamable = sdk.NewStreamableHTTPHandler(getServer, &opts)
	opts.JSONResponse = false
	h.streamableSSE = sdk.NewStreamableHTTPHandler(getServer, &opts)
	return h
}

// definition is the MCP tool of an integration's tool: its hints and output schema are the
// integration's (integrations.Tool.Annotations, OutputSchema).
func definition(t *integrations.Tool) *sdk.Tool {
	a := t.Annotations
	ann := &sdk.ToolAnnotations{Title: t.Title, DestructiveHint: a.Destructive, OpenWorldHint: a.OpenWorld}
	if a.ReadOnly != nil {
		ann.ReadOnlyHint = *a.ReadOnly
	}
	if a.Idempotent != nil {
		ann.IdempotentHint = *a.Idempotent
	}
	def := &sdk.Tool{
		Name:        t.Name,
		Title:       t.Title,
		Description: t.Description,
		InputSchema: t.InputSchema,
		Annotations: ann,
	}
	if t.OutputSchema != nil {
		def.OutputSchema = t.OutputSchema
	}
	return def
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	var target Target
	defer func() {
		if p := recover(); p != nil {
			h.log.LogAttrs(r.Context(), slog.LevelError, "mcp request panicked", slog.Any("panic", p))
			if sw.status == 0 {
				writeProblem(sw, http.StatusInternalServerError, "Internal Server Error", "An unexpected error occurred.")
			}
		}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "mcp request",
			slog.String("method", r.Method),
			slog.Int("status", sw.statusCode()),
			slog.Duration("duration", time.Since(start)),
			slog.String("mcp_server_id", target.ServerID),
			slog.String("integration", target.Integration))
	}()

	token, ok := strings.CutPrefix(r.URL.Path, "/mcp/")
	if !ok || token == "" || strings.Contains(token, "/") {
		writeProblem(sw, http.StatusNotFound, "Not Found", "No MCP server is served at this path.")
		return
	}
	if r.Method != http.MethodPost {
		// Stateless: there is no session to stream (GET) or to end (DELETE).
		sw.Header().Set("Allow", http.MethodPost)
		writeProblem(sw, http.StatusMethodNotAllowed, "Method Not Allowed", "An MCP server answers POST only.")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	target, ok = h.authenticate(ctx, token)
	if h.deps.Admit != nil {
		if wait := h.deps.Admit(r, target.ServerID, ok); wait > 0 {
			sw.Header().Set("Retry-After", strconv.Itoa(wait))
			writeProblem(sw, http.StatusTooManyRequests, "Too Many Requests", "Too many requests; retry after "+strconv.Itoa(wait)+" second(s).")
			return
		}
	}
	if !ok {
		writeUnauthorized(sw)
		return
	}

	in, found := h.deps.Catalogue.Get(target.Integration)
	if !found {
		h.log.LogAttrs(ctx, slog.LevelWarn, "mcp server's integration has no catalogue entry",
			slog.String("mcp_server_id", target.ServerID), slog.String("integration", target.Integration))
	}
	srv := h.server(target, in)
	c := &call{h: h, target: target, in: in, reqCtx: ctx}
	ctx = context.WithValue(context.WithValue(ctx, serverKey{}, srv), callKey{}, c)
	r2 := r.WithContext(ctx)
	hdr, sse := negotiate(r.Header)
	r2.Header = hdr
	if sse {
		h.streamableSSE.ServeHTTP(sw, r2)
		return
	}
	h.streamable.ServeHTTP(sw, r2)
}

// server returns the MCP server whose tools are exactly the tools of in (nil: none) that
// the target's config allows. It holds no per-request state (the tool handlers find the
// request's *call in their context), so one is built per distinct integration and config and
// then shared: the SDK's AddTool costs tens of microseconds per tool, too much to pay for
// every tool of a large integration on every request.
func (h *handler) server(target Target, in *integrations.Integration) *sdk.Server {
	key := cacheKey(target)
	if s := h.servers.get(key); s != nil {
		return s
	}
	opts := &sdk.ServerOptions{Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}}}
	impl := &sdk.Implementation{Name: "mcpapi", Title: target.Integration, Version: "1.0.0"}
	if in != nil && in.Title != "" {
		impl.Title = in.Title
	}
	if in == nil {
		opts.Instructions = fmt.Sprintf("No tools are available: the integration %q has no API description.", target.Integration)
	}
	srv := sdk.NewServer(impl, opts)
	if in != nil {
		for _, e := range h.tools[in.Name] {
			if integrations.Allowed(e.tool, target.Methods, target.Tags) {
				srv.AddTool(e.def, e.handler)
			}
		}
	}
	return h.servers.put(key, srv)
}

// cacheKey identifies what a server's tools depend on: the integration and the config, lists
// normalised (lower-cased, sorted, de-duplicated), nil distinct from empty.
func cacheKey(t Target) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(t.Integration))
	for _, list := range [][]string{t.Methods, t.Tags} {
		b.WriteByte(0)
		if list == nil {
			b.WriteByte(1) // unrestricted
			continue
		}
		items := make([]string, len(list))
		for i, s := range list {
			items[i] = strings.ToLower(s)
		}
		slices.Sort(items)
		for i, s := range slices.Compact(items) {
			if i > 0 {
				b.WriteByte(2)
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// maxCachedServers bounds the server cache; past it, an arbitrary entry makes room.
const maxCachedServers = 4096

type serverCache struct {
	mu sync.Mutex
	m  map[string]*sdk.Server
}

func (c *serverCache) get(key string) *sdk.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

// put stores s unless another request stored one first, and returns the one stored.
func (c *serverCache) put(key string, s *sdk.Server) *sdk.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[key]; old != nil {
		return old
	}
	if c.m == nil {
		c.m = map[string]*sdk.Server{}
	}
	if len(c.m) >= maxCachedServers {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = s
	return s
}

// authenticate resolves a token; ok is false for every kind of invalid token.
func (h *handler) authenticate(ctx context.Context, token string) (Target, bool) {
	if len(token) > maxTokenLen || !tokenChars(token) {
		return Target{}, false
	}
	target, err := h.deps.Resolve(ctx, store.HashSecret(token))
	if err != nil {
		level := slog.LevelError
		if errors.Is(err, store.ErrNotFound) {
			level = slog.LevelDebug
		}
		h.log.LogAttrs(ctx, level, "mcp token not resolved", slog.String("error", err.Error()))
		return Target{}, false
	}
	if target.ExpiresAt != nil && !h.now().Before(*target.ExpiresAt) {
		return Target{}, false
	}
	return target, true
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
// (or sends no Accept), text/event-stream when that is all it accepts. The SDK insists that
// Accept lists both, so the header passed on is completed (a copy; the request's is not
// changed). A client that accepts neither is left to the SDK's 400.
func negotiate(h http.Header) (_ http.Header, sse bool) {
	values := h.Values("Accept")
	absent := strings.TrimSpace(strings.Join(values, "")) == ""
	jsonOK, sseOK := absent, absent
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
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
	if !jsonOK && !sseOK {
		return h, false
	}
	h = h.Clone()
	h.Set("Accept", "application/json, text/event-stream")
	return h, !jsonOK
}

func writeUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="mcp"`)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(unauthorizedBody))
}

func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d,"detail":%q}`, title, status, detail)
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

func (w *statusWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
