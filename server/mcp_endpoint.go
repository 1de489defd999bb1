package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/mcpapi/mcpapi/server/calllog"
	"github.com/mcpapi/mcpapi/server/mcp"
	"github.com/mcpapi/mcpapi/store"
)

// mcpRoute is where the MCP endpoint is mounted, with every other route.
const mcpRoute = "/mcp/:token"

// MCPInvalidator is what the REST handlers tell when an MCP server's token, config or expiry,
// or an integrated account's credential, changes: the MCP endpoint drops its token cache.
type MCPInvalidator interface{ Invalidate() }

// newMCPHandler builds the MCP endpoint on the store: a token resolves, in one query, to its
// MCP server and integrated account, whose sealed credential is opened for the upstream calls.
func newMCPHandler(st *store.Store, cfg Config, sealer *Sealer, limits *rateLimits, apiTokens *authCache, m *metrics, callLog *calllog.Writer) *mcp.Handler {
	record := func(r mcp.CallRecord) { callLog.Record(callLogEntry(r)) }
	if cfg.DisableMCPCallLog {
		record = nil // --mcp-call-log=false: the MCP path builds no records at all
	}
	return mcp.New(mcp.Deps{
		Resolve: func(ctx context.Context, hash []byte) (mcp.Target, error) {
			t, err := st.ResolveMcpToken(ctx, hash)
			if err != nil {
				return mcp.Target{}, err
			}
			target := mcp.Target{
				ServerID:        t.Server.ID.String(),
				EnvironmentID:   t.Account.EnvironmentID.String(),
				AccountID:       t.Account.ID.String(),
				Integration:     t.Account.Integration,
				Methods:         t.Server.Config.Methods,
				Tags:            t.Server.Config.Tags,
				ToolExposure:    t.Server.Config.ToolExposure,
				RequireAPIToken: t.Server.Config.RequireAPITokenAuth,
				ExpiresAt:       t.Server.ExpiresAt,
			}
			if len(t.Account.Credentials) > 0 {
				c, err := sealer.Open(t.Account.EnvironmentID, t.Account.Credentials)
				if err != nil {
					return mcp.Target{}, err
				}
				target.Credential = &c
			}
			return target, nil
		},
		Catalogue:        cfg.Catalogue,
		HTTPClient:       &http.Client{Transport: mcp.NewTransport()},
		Logger:           cfg.Logger,
		Now:              cfg.Now,
		Timeout:          cfg.RequestTimeout,
		MaxUpstreamBytes: cfg.MaxUpstreamResponse,
		AuthCacheTTL:     cfg.AuthCacheTTL,
		Observer:         m,
		// config.require_api_token_auth: the bearer must be a valid API token of the server's
		// environment, verified as the REST API verifies it, through the same cache (a revoked
		// one is refused once --auth-cache-ttl has passed, as on the REST API).
		VerifyAPIToken: func(ctx context.Context, environmentID, bearer string) (bool, error) {
			p, err := apiTokens.lookup(ctx, st, store.HashSecret(bearer))
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			return err == nil && p.EnvironmentID.String() == environmentID, err
		},
		CallLog: record,
		Admit: func(r *http.Request, serverID string, stage mcp.AdmitStage) int {
			var err error
			switch stage {
			case mcp.AdmitLookup:
				err = limits.addressOver(clientAddress(r))
			case mcp.AdmitUnknown:
				err = limits.allowAddress(clientAddress(r))
			case mcp.AdmitServer:
				err = limits.allowToken("mcp:" + serverID)
			}
			if err == nil {
				return 0
			}
			n, _ := strconv.Atoi(limits.retryAfter)
			return max(n, 1)
		},
	})
}

// callLogEntry is the stored form of an MCP request's record.
func callLogEntry(r mcp.CallRecord) store.CallLog {
	e := store.CallLog{
		Integration:   r.Integration,
		McpMethod:     r.Method,
		ToolName:      r.Tool,
		Outcome:       r.Outcome,
		HTTPStatus:    r.HTTPStatus,
		DurationMs:    r.Duration.Milliseconds(),
		ClientName:    r.ClientName,
		ClientVersion: r.ClientVersion,
		RequestID:     r.RequestID,
		CreatedAt:     r.At,
	}
	// The ids come from the store (ResolveMcpToken), so they parse; a zero id is refused by
	// the writer, which counts it as an invalid entry.
	e.EnvironmentID, _ = uuid.Parse(r.EnvironmentID)
	e.IntegratedAccountID, _ = uuid.Parse(r.AccountID)
	e.McpServerID, _ = uuid.Parse(r.ServerID)
	if r.UpstreamStatus != 0 {
		status := r.UpstreamStatus
		e.UpstreamStatus = &status
	}
	if r.UpstreamDuration > 0 {
		ms := r.UpstreamDuration.Milliseconds()
		e.UpstreamDurationMs = &ms
	}
	return e
}

type echoIPKey struct{}

// clientAddress is the address Echo's IPExtractor found for the request (see mcpEndpoint).
func clientAddress(r *http.Request) string {
	ip, _ := r.Context().Value(echoIPKey{}).(string)
	return ip
}

// mcpEndpoint serves /mcp/:token behind the common chain (request id, access log, metrics,
// recovery, deadline); its refusals go to the one problem writer like any REST error.
func mcpEndpoint(h *mcp.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		ctx := mcp.WithRequestID(req.Context(), requestID(c))
		ctx = context.WithValue(ctx, echoIPKey{}, c.RealIP())
		token := c.Param("token")
		if strings.Contains(token, "/") {
			// Echo's parameter can span "/mcp/a/b": no MCP server is served below a token.
			return newProblem(http.StatusNotFound, "No MCP server is served at this path.")
		}
		err := h.Serve(c.Response(), req.WithContext(ctx), token)
		var he *mcp.HTTPError
		if errors.As(err, &he) {
			return &Problem{Status: he.Status, Detail: he.Detail, Header: he.Header}
		}
		return err
	}
}

// Request, ToolCall and Upstream make metrics an mcp.Observer.
func (m *metrics) Request(method, outcome string) {
	m.mcpRequests.WithLabelValues(method, outcome).Inc()
}

func (m *metrics) ToolCall(integration, outcome string) {
	m.mcpToolCalls.WithLabelValues(integration, outcome).Inc()
}

func (m *metrics) Upstream(integration string, d time.Duration) {
	m.mcpUpstream.WithLabelValues(integration).Observe(d.Seconds())
}
