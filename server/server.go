// Package server is the hand-written side of the API: the middleware chain, the handlers of the
// generated strict interface, and the mapping between API and store types and errors.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/mcpapi/mcpapi/gen/api"
	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/server/calllog"
	"github.com/mcpapi/mcpapi/store"
)

// Config is what the server needs besides its store.
type Config struct {
	// PublicURL is the base URL clients reach this server at: the base of MCP server URLs, the
	// `servers` of the served spec, and (its path) the prefix of every Location header.
	PublicURL string
	// BasePath ("/mcpapi", or empty) mounts the whole service under a prefix, for gateways that
	// forward the path unchanged; requests outside it answer 404.
	BasePath string
	// TrustedProxies are the peers whose X-Forwarded-For / Forwarded headers name the client
	// (see ClientIPExtractor); empty: the peer is the client.
	TrustedProxies []*net.IPNet
	// AuthCacheTTL is how long a verified API token is trusted without a lookup; 0 disables it.
	AuthCacheTTL time.Duration
	// RateLimit is requests per second per API token (and per client address for requests without
	// a valid one); 0 turns rate limiting off. RateBurst is the bucket size.
	RateLimit float64
	RateBurst int
	// RequestTimeout bounds every API request, database calls included; 0 means none.
	RequestTimeout time.Duration
	// CORSOrigins lists the browser origins allowed to call the API; empty: CORS is off.
	CORSOrigins []string
	// SeparateMetrics: metrics are served by MetricsHandler on another listener, not on /metrics.
	SeparateMetrics bool
	// ValidateResponses logs, as errors, responses that break the spec.
	ValidateResponses bool
	// Catalogue lists the integrations an integrated account may name and whose tools MCP
	// servers serve; nil means the embedded examples.
	Catalogue *integrations.Catalogue
	// MaxUpstreamResponse bounds the body of an upstream answer to an MCP tool call (0: 1 MiB).
	MaxUpstreamResponse int64
	// SecretKey (standard base64 of 32 bytes) seals upstream credentials; empty: they cannot be set.
	SecretKey string
	Logger    *slog.Logger
	// Now is the clock (tests may replace it); nil means time.Now.
	Now func() time.Time

	// DisableAIReadyCheck stores MCP server configs as given, even when they allow no tool of
	// the account's integration (--ai-ready-check=false).
	DisableAIReadyCheck bool
	// MaxMcpServersPerAccount bounds the MCP servers of one integrated account; 0: no bound.
	MaxMcpServersPerAccount int
	// DisableMCPCallLog records no MCP call logs (--mcp-call-log=false); GET /log still answers,
	// with what was stored before.
	DisableMCPCallLog bool
}

// handler implements the generated strict server interface on top of the store.
type handler struct {
	store     *store.Store
	publicURL string
	// publicPath is the path of publicURL ("" or "/mcpapi"): Location headers start with it.
	publicPath string
	now        func() time.Time
	metrics    *metrics
	specYAML   []byte
	specJSON   map[string]any
	catalogue  *integrations.Catalogue
	sealer     *Sealer
	// mcp is told when MCP tokens may resolve differently (nil: nobody to tell).
	mcp MCPInvalidator
	// checkConfig is the "a config must allow something" rule; nil when it is off.
	checkConfig   store.ConfigCheck
	maxPerAccount int
	// defaultPageSize is the spec's default `limit` of a list.
	defaultPageSize int
}

var _ api.StrictServerInterface = (*handler)(nil)

// Server is the HTTP API, plus its metrics for a separate listener.
type Server struct {
	*echo.Echo
	basePath string // "" or "/prefix": see ServeHTTP
	metrics  *metrics
	// callLog records MCP calls in batches, off the request path.
	callLog *calllog.Writer
}

// CallLog is the writer the MCP path records each call with.
func (s *Server) CallLog() *calllog.Writer { return s.callLog }

// Close writes the call log entries still buffered (within ctx); call it after the HTTP
// server has shut down.
func (s *Server) Close(ctx context.Context) error { return s.callLog.Close(ctx) }

// MetricsHandler serves the Prometheus metrics (for --metrics-addr).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler }

// New builds the whole HTTP server: every route and the one middleware chain, in order.
func New(st *store.Store, cfg Config) (*Server, error) {
	doc, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Catalogue == nil {
		if cfg.Catalogue, err = integrations.Load(""); err != nil { // the embedded examples
			return nil, err
		}
	}
	publicURL := strings.TrimRight(cfg.PublicURL, "/")
	pu, err := url.Parse(publicURL)
	if err != nil || pu.Scheme == "" || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
		return nil, fmt.Errorf("the public URL %q must be an absolute http(s) URL without query or fragment", cfg.PublicURL)
	}
	basePath, err := cleanBasePath(cfg.BasePath)
	if err != nil {
		return nil, err
	}
	specYAML, specJSON, err := specWithServer(publicURL)
	if err != nil {
		return nil, err
	}
	m := newMetrics(st.SQLDB(), cfg.SeparateMetrics)
	m.serveWith(cfg.Logger)
	pageSize, err := specPageSize(doc)
	if err != nil {
		return nil, err
	}
	routes := newRouteTable(doc)
	limits := newRateLimits(cfg.RateLimit, cfg.RateBurst)
	// Verified API tokens, for the REST API and for MCP servers that require one.
	apiTokens := newAuthCache(cfg.AuthCacheTTL)
	sealer, err := NewSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	fp, err := newFingerprinter(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	h := &handler{store: st, publicURL: publicURL, publicPath: pu.EscapedPath(), now: cfg.Now, metrics: m, specYAML: specYAML, specJSON: specJSON,
		catalogue: cfg.Catalogue, sealer: sealer, maxPerAccount: cfg.MaxMcpServersPerAccount, defaultPageSize: pageSize}
	if !cfg.DisableAIReadyCheck {
		h.checkConfig = allowsSomething(cfg.Catalogue)
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// The client address is the peer's, or a header's only when the peer is a trusted proxy:
	// otherwise every request could claim its own rate-limit bucket.
	e.IPExtractor = ClientIPExtractor(cfg.TrustedProxies)
	e.HTTPErrorHandler = errorHandler(cfg.Logger)

	// The chain, outermost first; each line says why it stands where it does.
	chain := []echo.MiddlewareFunc{
		withRequestID,                    // first: every later line, log and problem carries the id
		accessLog(cfg.Logger, routes, m), // outermost of the rest: it sees the status really sent
	}
	if cfg.ValidateResponses {
		chain = append(chain, validateResponses(routes, cfg.Logger)) // sees the final response, as the log does
	}
	chain = append(chain,
		recoverPanics(),       // a panic below becomes a 500 problem, logged with the id
		cors(cfg.CORSOrigins), // browsers' preflights, before auth
		checkAccept(routes),   // 406
		rejectEmptyParams,     // "/integrated-account//mcp" is no route of the spec
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{ // 413 ("K" would be 1000)
			Limit: fmt.Sprint(maxBodyBytes/1024) + "KiB", Skipper: func(c echo.Context) bool { return c.Path() == mcpRoute }}), // MCP bounds its own
		deadline(cfg.RequestTimeout),                // a deadline for every database call
		authenticate(st, routes, apiTokens, limits), // 401 and 429: limits before lookups
		checkContentType(routes),                    // 415 before the validator
		strictJSON(routes),                          // JSON that encoding/json would let through
		requestValidator(routes),                    // kin-openapi request validation: 400
		idempotent(st, routes, cfg.Logger, fp),      // Idempotency-Key on creates
	)
	e.Use(composeOnce(chain))
	api.RegisterHandlers(e, api.NewStrictHandler(h, nil)) // 8.–10. strict handler → handler → store
	callLog := calllog.New(st, calllog.Options{Logger: cfg.Logger, Registerer: m.registry})
	// MCP: its own protocol behind the same front door (no API token, spec validation, strict
	// JSON or media-type checks: the route table marks it public and owning its body).
	mcpHandler := newMCPHandler(st, cfg, sealer, limits, apiTokens, m, callLog)
	h.mcp = mcpHandler
	e.Any(mcpRoute, mcpEndpoint(mcpHandler))
	return &Server{Echo: e, basePath: basePath, metrics: m, callLog: callLog}, nil
}

// deadline gives every request a deadline, which every database call inherits: a stuck
// database answers 503 with Retry-After within it instead of hanging. Echo's ContextTimeout
// sets it; its error handler maps a deadline that ran out to our 503 (Echo's default would be
// a bare HTTPError).
func deadline(d time.Duration) echo.MiddlewareFunc {
	if d <= 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	return middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
		Timeout: d,
		ErrorHandler: func(err error, _ echo.Context) error {
			if errors.Is(err, context.DeadlineExceeded) {
				return unavailable(err)
			}
			return err
		},
	})
}

func recoverPanics() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			return &Problem{Status: http.StatusInternalServerError, Detail: "An unexpected error occurred.",
				Cause: fmt.Errorf("panic: %w\n%s", err, stack)}
		},
	})
}

// ClientIP is the client's address as the rate limits and logs see it (c.RealIP() on the Echo
// instance gives the same).
func (s *Server) ClientIP(r *http.Request) string { return s.IPExtractor(r) }

// cleanBasePath checks --base-path: empty, or "/" followed by path segments, no trailing slash.
func cleanBasePath(p string) (string, error) {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#%") || strings.Contains(p, "//") ||
		strings.Contains(p+"/", "/../") || strings.Contains(p+"/", "/./") {
		return "", fmt.Errorf("the base path %q must look like /prefix (segments, no query, dot segments or escapes)", p)
	}
	return p, nil
}

// ServeHTTP brings the path to the form the routes are written in, then lets Echo route it.
// This runs before Echo rather than as Echo "Pre" middleware, which Echo composes around a
// new closure on every request.
//
//   - A leading run of slashes is read as one ("//x" as "/x"): clients that join a base URL
//     ending in "/" with a path starting with "/" (the platform's TypeScript SDK asks for such
//     a base URL, since it writes its MCP paths without the slash) send every REST path that
//     way. Only the leading run is collapsed: an empty segment inside the path
//     ("/integrated-account//mcp") stays a 404.
//   - With a base path, "<base>/x" is routed as "/x", and everything outside it is a 404.
//
// The path is rewritten in place, as Echo's own Rewrite does: Echo routes the request it is handed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; strings.HasPrefix(p, "//") {
		*r.URL = *withPath(r, "/"+strings.TrimLeft(p, "/")).URL
	}
	if s.basePath != "" {
		rest, ok := strings.CutPrefix(r.URL.Path, s.basePath)
		if !ok || (rest != "" && rest[0] != '/') {
			c := s.NewContext(r, w)
			s.HTTPErrorHandler(withRequestID(func(echo.Context) error { return echo.ErrNotFound })(c), c)
			return
		}
		if rest == "" {
			rest = "/"
		}
		*r.URL = *withPath(r, rest).URL
	}
	s.Echo.ServeHTTP(w, r)
}

// composeOnce is chain as one middleware built once. Echo applies its middleware to the route's
// handler on every request, a closure per middleware per request (15 allocations of a PATCH's
// 250); this chain ends in a handler that calls the route's handler itself (c.Handler(), what
// Echo would have wrapped), so Echo's per-request application returns it as it is. None of
// the chain's middleware keeps state per application, so one composition serves every request.
func composeOnce(chain []echo.MiddlewareFunc) echo.MiddlewareFunc {
	h := func(c echo.Context) error { return c.Handler()(c) }
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	return func(echo.HandlerFunc) echo.HandlerFunc { return h }
}

// withPath is r with its path replaced (a shallow copy; the escaped form is dropped when it no
// longer matches, as url.URL wants).
func withPath(r *http.Request, path string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	if u.RawPath != "" {
		u.RawPath = strings.TrimPrefix(u.RawPath, strings.TrimSuffix(r.URL.Path, path))
	}
	u.Path = path
	if u.RawPath != "" && u.RawPath != path {
		if unescaped, err := url.PathUnescape(u.RawPath); err != nil || unescaped != path {
			u.RawPath = ""
		}
	}
	r2.URL = &u
	return r2
}
