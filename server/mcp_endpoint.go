package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

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
func newMCPHandler(st *store.Store, cfg Config, sealer *Sealer, limits *rateLimits, m *metrics) *mcp.Handler {
	return mcp.New(mcp.Deps{
		Resolve: func(ctx context.Context, hash []byte) (mcp.Target, error) {
			t, err := st.ResolveMcpToken(ctx, hash)
			if err != nil {
				return mcp.Target{}, err
			}
			target := mcp.Target{
				ServerID:    t.Server.ID.String(),
				Integration: t.Account.Integration,
				Methods:     t.Server.Config.Methods,
				Tags:        t.Server.Config.Tags,
				ExpiresAt:   t.Server.ExpiresAt,
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
		Admit: func(r *http.Request, serverID string, valid bool) int {
			var err error
			if valid {
				err = limits.allowToken("mcp:" + serverID)
			} else {
				err = limits.allowAddress(clientAddress(r))
			}
			if err == nil {
				return 0
			}
			n, _ := strconv.Atoi(limits.retryAfter)
			return max(n, 1)
		},
	})
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
		err := h.Serve(c.Response(), req.WithContext(ctx), c.Param("token"))
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
