package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/integrations/sandbox"
	"github.com/mcpapi/mcpapi/server"
	"github.com/mcpapi/mcpapi/store"
)

type serveConfig struct {
	addr, databaseURL, publicURL, logFormat, bootstrapToken string
	metricsAddr, corsOrigins, integrationsDir, secretKey    string
	trustedProxies, basePath                                string
	maxConns, maxConnsPerIP                                 int
	authCacheTTL, shutdownTimeout, requestTimeout           time.Duration
	readHeaderTimeout, readTimeout, writeTimeout            time.Duration
	idleTimeout                                             time.Duration
	maxHeaderBytes, rateBurst                               int
	maxUpstreamResponse                                     int
	rateLimit                                               float64
	validateResponses, sandbox                              bool
	aiReadyCheck, mcpCallLog                                bool
	maxServersPerAccount                                    int
	logRetention, sweepInterval                             time.Duration
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	var cfg serveConfig
	s := newSettings("serve", getenv, stderr)
	s.String(&cfg.addr, "addr", "MCPAPI_ADDR", "127.0.0.1:8080", "address to listen on")
	s.String(&cfg.databaseURL, "database-url", "DATABASE_URL", "", "postgres://… or sqlite://PATH; empty: the embedded SQLite file ./data/mcpapi.db")
	s.String(&cfg.publicURL, "public-url", "MCPAPI_PUBLIC_URL", "", "base of MCP server URLs (default http://<addr>)")
	s.String(&cfg.logFormat, "log-format", "MCPAPI_LOG_FORMAT", "json", "log format: json or text")
	s.String(&cfg.bootstrapToken, "bootstrap-token", "MCPAPI_BOOTSTRAP_TOKEN", "", "make sure an API token with this secret exists in environment \"default\"")
	s.Duration(&cfg.authCacheTTL, "auth-cache-ttl", "MCPAPI_AUTH_CACHE_TTL", 5*time.Second, "how long a verified API token is trusted without a lookup; bounds how late a revocation takes effect (0: no cache)")
	s.Duration(&cfg.shutdownTimeout, "shutdown-timeout", "MCPAPI_SHUTDOWN_TIMEOUT", 15*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	s.Duration(&cfg.readHeaderTimeout, "read-header-timeout", "MCPAPI_READ_HEADER_TIMEOUT", 5*time.Second, "time to read request headers")
	s.Duration(&cfg.readTimeout, "read-timeout", "MCPAPI_READ_TIMEOUT", 30*time.Second, "time to read a whole request")
	s.Duration(&cfg.writeTimeout, "write-timeout", "MCPAPI_WRITE_TIMEOUT", 30*time.Second, "time to write a response")
	s.Duration(&cfg.idleTimeout, "idle-timeout", "MCPAPI_IDLE_TIMEOUT", 60*time.Second, "how long an idle keep-alive connection stays open")
	s.Int(&cfg.maxHeaderBytes, "max-header-bytes", "MCPAPI_MAX_HEADER_BYTES", 64<<10, "largest request header size in bytes (larger: 431)")
	s.Int(&cfg.maxConns, "max-conns", "MCPAPI_MAX_CONNS", 0, fmt.Sprintf("most client connections open at once (0: (the open-file limit − %d) / 2)", fdFixed))
	s.Int(&cfg.maxConnsPerIP, "max-conns-per-ip", "MCPAPI_MAX_CONNS_PER_IP", 64, "most connections open at once from one client address; trusted proxies are exempt (0: no cap)")
	s.String(&cfg.trustedProxies, "trusted-proxies", "MCPAPI_TRUSTED_PROXIES", "", "comma-separated CIDRs of proxies whose X-Forwarded-For / Forwarded name the client (empty: trust none)")
	s.String(&cfg.basePath, "base-path", "MCPAPI_BASE_PATH", "", "serve everything under this path prefix (e.g. /mcpapi), for gateways that do not strip it")
	s.Duration(&cfg.requestTimeout, "request-timeout", "MCPAPI_REQUEST_TIMEOUT", 15*time.Second, "deadline of every API request and its database calls; past it, 503")
	s.Float(&cfg.rateLimit, "rate-limit", "MCPAPI_RATE_LIMIT", 50, "requests per second per API token, and per client address for requests without a valid token (0: no limit)")
	s.Int(&cfg.rateBurst, "rate-burst", "MCPAPI_RATE_BURST", 100, "requests a token or address may send at once before --rate-limit applies")
	s.String(&cfg.corsOrigins, "cors-origins", "MCPAPI_CORS_ORIGINS", "", "comma-separated browser origins allowed by CORS (empty: CORS off)")
	s.String(&cfg.metricsAddr, "metrics-addr", "MCPAPI_METRICS_ADDR", "", "serve /metrics on this address instead of on --addr")
	s.String(&cfg.integrationsDir, "integrations-dir", "MCPAPI_INTEGRATIONS_DIR", "", "folder of integration OpenAPI documents (NAME.yaml|.yml|.json), besides the embedded examples")
	s.String(&cfg.secretKey, "secret-key", "MCPAPI_SECRET_KEY", "", "32 bytes, standard base64: seals integrated accounts' upstream credentials (empty: credentials cannot be set)")
	s.Int(&cfg.maxUpstreamResponse, "max-upstream-response", "MCPAPI_MAX_UPSTREAM_RESPONSE", 1<<20, "largest upstream answer to an MCP tool call, in bytes; past it the call is a tool error naming the limit")
	s.Bool(&cfg.sandbox, "sandbox", "MCPAPI_SANDBOX", false, "serve demo upstreams for the embedded integrations (crm, helpdesk) under /sandbox/ and point them there (make run turns it on)")
	s.Bool(&cfg.validateResponses, "validate-responses", "MCPAPI_VALIDATE_RESPONSES", false, "log every response that breaks openapi.yaml as an error (for tests and canaries)")
	s.Bool(&cfg.aiReadyCheck, "ai-ready-check", "MCPAPI_AI_READY_CHECK", true, "refuse MCP server configs that allow no tool of the account's integration (false: store them as given)")
	s.Int(&cfg.maxServersPerAccount, "max-mcp-servers-per-account", "MCPAPI_MAX_MCP_SERVERS_PER_ACCOUNT", 100, "MCP servers one integrated account may have; one more is refused with 409 (0: no bound)")
	s.Bool(&cfg.mcpCallLog, "mcp-call-log", "MCPAPI_MCP_CALL_LOG", true, "record every MCP request in the call log read by GET /log?log_type=mcp (false: record nothing)")
	s.Duration(&cfg.logRetention, "log-retention", "MCPAPI_LOG_RETENTION", 30*24*time.Hour, "how long MCP call logs are kept (0: forever)")
	s.Duration(&cfg.sweepInterval, "sweep-interval", "MCPAPI_SWEEP_INTERVAL", time.Minute, "how often expired MCP servers and old call logs are deleted")
	if run, err := s.Parse(args); !run || err != nil {
		return err
	}

	if err := checkTimeouts(cfg); err != nil {
		return err
	}
	trusted, err := server.ParseTrustedProxies(cfg.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	nofile := openFileLimit()
	maxConns := connCap(nofile)
	switch {
	case cfg.maxConns < 0 || cfg.maxConnsPerIP < 0:
		return errors.New("--max-conns and --max-conns-per-ip must not be negative")
	case cfg.maxConns > maxConns:
		return fmt.Errorf("--max-conns %d leaves too few of the %d open files (ulimit -n) for the database, upstream calls and files: at most %d", cfg.maxConns, nofile, maxConns)
	case cfg.maxConns > 0:
		maxConns = cfg.maxConns
	}
	logger, err := newLogger(cfg.logFormat, stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	if cfg.publicURL == "" {
		cfg.publicURL = base + strings.TrimRight(cfg.basePath, "/")
	}
	if err := bootstrap(ctx, st, cfg.bootstrapToken, base+strings.TrimRight(cfg.basePath, "/"), stderr); err != nil {
		_ = ln.Close() // not served yet; the error to report is err
		return err
	}

	catalogue, err := integrations.Load(cfg.integrationsDir)
	if err != nil {
		_ = ln.Close() // the start fails anyway; the catalogue error is the one to report
		return err
	}
	catalogue.LogWarnings(logger)
	var sb *sandbox.Sandbox
	if cfg.sandbox {
		if catalogue, sb, err = sandbox.Wire(catalogue, base); err != nil {
			_ = ln.Close() // not served yet; the error to report is err
			return err
		}
	}
	handler, err := server.New(st, server.Config{
		Catalogue:           catalogue,
		SecretKey:           cfg.secretKey,
		PublicURL:           cfg.publicURL,
		BasePath:            cfg.basePath,
		TrustedProxies:      trusted,
		AuthCacheTTL:        cfg.authCacheTTL,
		MaxUpstreamResponse: int64(cfg.maxUpstreamResponse),
		RateLimit:           cfg.rateLimit,
		RateBurst:           cfg.rateBurst,
		RequestTimeout:      cfg.requestTimeout,
		CORSOrigins:         splitList(cfg.corsOrigins),
		SeparateMetrics:     cfg.metricsAddr != "",
		ValidateResponses:   cfg.validateResponses,
		Logger:              logger,

		DisableAIReadyCheck:     !cfg.aiReadyCheck,
		MaxMcpServersPerAccount: cfg.maxServersPerAccount,
		DisableMCPCallLog:       !cfg.mcpCallLog,
	})
	if err != nil {
		_ = ln.Close() // not served yet; the error to report is err
		return err
	}
	if cfg.metricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			_ = ln.Close() // not served yet; the error to report is err
			return fmt.Errorf("listen for metrics: %w", err)
		}
		msrv := &http.Server{Handler: handler.MetricsHandler(), ReadHeaderTimeout: cfg.readHeaderTimeout}
		go func() { _ = msrv.Serve(mln) }()
		defer func() { _ = msrv.Close() }() // on the way out, like its Serve's error
		// The announcements are informational: the server runs whether or not they are read.
		_, _ = fmt.Fprintf(stdout, "mcpapi metrics on http://%s/metrics\n", mln.Addr())
	}
	var root http.Handler = handler
	if sb != nil {
		mux := http.NewServeMux()
		mux.Handle(sandbox.PathPrefix, sb)
		mux.Handle("/", handler)
		root = mux
	}
	srv := &http.Server{
		Handler:           root,
		ReadHeaderTimeout: cfg.readHeaderTimeout,
		ReadTimeout:       cfg.readTimeout,
		WriteTimeout:      cfg.writeTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    cfg.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info(describeConnLimits(maxConns, cfg.maxConnsPerIP, nofile))
	ln = limitListener(ln, maxConns, cfg.maxConnsPerIP, trusted)
	_, _ = fmt.Fprintf(stdout, "mcpapi serving on %s (database: %s)\n", base+strings.TrimRight(cfg.basePath, "/"), describeDatabase(cfg.databaseURL)) // informational too

	go purgeIdempotencyKeys(ctx, st, logger)
	go sweep(ctx, st, logger, cfg.sweepInterval, cfg.logRetention)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := handler.Close(sctx); err != nil { // the call logs still buffered
		return fmt.Errorf("shutdown: call logs: %w", err)
	}
	return nil
}

// checkTimeouts refuses settings under which a request could run past the time the connection
// has to write its answer: the client would get a dropped connection for work that was done.
func checkTimeouts(cfg serveConfig) error {
	if cfg.writeTimeout <= 0 {
		return nil // no write deadline: any request timeout fits
	}
	if cfg.requestTimeout <= 0 || cfg.requestTimeout >= cfg.writeTimeout {
		req := "none"
		if cfg.requestTimeout > 0 {
			req = cfg.requestTimeout.String()
		}
		return fmt.Errorf("--request-timeout (%s) must be shorter than --write-timeout (%s), or the answer to a slow request is lost: lower --request-timeout or raise --write-timeout",
			req, cfg.writeTimeout)
	}
	return nil
}

// openStore opens the database and brings its schema up to date.
func openStore(ctx context.Context, databaseURL string) (*store.Store, error) {
	st, err := store.Open(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close() // the migration's error is the one to report
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return st, nil
}

// bootstrap makes sure somebody can call the API: the configured bootstrap token, or on a
// database without any API token, a fresh one printed once.
func bootstrap(ctx context.Context, st *store.Store, secret, base string, stderr io.Writer) error {
	if secret != "" {
		if err := st.EnsureAPIToken(ctx, "default", bootstrapUser, store.HashSecret(secret)); err != nil {
			return fmt.Errorf("bootstrap token: %w", err)
		}
		return nil
	}
	n, err := st.CountAPITokens(ctx)
	if err != nil {
		return fmt.Errorf("count API tokens: %w", err)
	}
	if n > 0 {
		return nil
	}
	token, hash := store.NewSecret(store.APITokenPrefix)
	if _, err := st.CreateAPIToken(ctx, "default", bootstrapUser, hash); err != nil {
		return fmt.Errorf("create first API token: %w", err)
	}
	// The token is shown only here: if it cannot be printed, nobody can use it, so say so.
	_, err = fmt.Fprintf(stderr, `
No API token existed, so one was created for environment "default". It is shown only now:

    %s

Try it:

    curl -s -X POST %s/integrated-account \
      -H 'Authorization: Bearer %s' \
      -H 'Content-Type: application/json' \
      -d '{"integration":"crm","tenant_id":"acme-corp"}'

`, token, base, token)
	if err != nil {
		return fmt.Errorf("print first API token (make one with 'mcpapi token create --environment default'): %w", err)
	}
	return nil
}

// purgeIdempotencyKeys deletes expired Idempotency-Keys now and then, until ctx ends. An expired
// key is already ignored when reused; this only keeps the table small.
func purgeIdempotencyKeys(ctx context.Context, st *store.Store, logger *slog.Logger) {
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		if n, err := st.PurgeIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("purge of expired idempotency keys failed", "error", err)
		} else if n > 0 {
			logger.Info("purged expired idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text, not %q", format)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// describeDatabase names the database without its credentials.
func describeDatabase(url string) string {
	switch {
	case url == "":
		return "sqlite ./data/mcpapi.db"
	case strings.HasPrefix(url, "sqlite://"):
		return "sqlite " + strings.TrimPrefix(url, "sqlite://")
	}
	return "postgres"
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var databaseURL string
	s := newSettings("migrate", getenv, stderr)
	s.String(&databaseURL, "database-url", "DATABASE_URL", "", "postgres://… or sqlite://PATH; empty: ./data/mcpapi.db")
	if run, err := s.Parse(args); !run || err != nil {
		return err
	}
	st, err := openStore(ctx, databaseURL)
	if err != nil {
		return err
	}
	return st.Close()
}
