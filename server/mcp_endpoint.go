package server

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/mcpapi/mcpapi/server/mcp"
	"github.com/mcpapi/mcpapi/store"
)

// newMCPHandler builds the MCP endpoint on the store: a token resolves, in one query, to its
// MCP server and integrated account, whose sealed credential is opened for the upstream calls.
func newMCPHandler(st *store.Store, cfg Config, sealer *Sealer, limits *rateLimits) http.Handler {
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
				target.Credential = &mcp.Credential{Type: c.Type, Name: c.Name, Value: c.Value}
			}
			return target, nil
		},
		Catalogue:  cfg.Catalogue,
		HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		Logger:     cfg.Logger,
		Now:        cfg.Now,
		Timeout:    cfg.RequestTimeout,
		Admit: func(r *http.Request, serverID string, valid bool) int {
			var err error
			if valid {
				err = limits.allowToken("mcp:" + serverID)
			} else {
				host, _, _ := net.SplitHostPort(r.RemoteAddr)
				err = limits.allowAddress(host)
			}
			if err == nil {
				return 0
			}
			n, _ := strconv.Atoi(limits.retryAfter)
			return max(n, 1)
		},
	})
}
