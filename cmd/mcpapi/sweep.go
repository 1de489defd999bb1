package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/mcpapi/mcpapi/store"
)

// sweep deletes expired MCP servers and call logs older than retention, at start and then
// every interval, until ctx ends. Expired servers are invisible from the instant they expire;
// this frees their rows (within one interval, a minute by default). Each sweep is bounded
// (see store.Sweep) and safe while other instances sweep the same database.
func sweep(ctx context.Context, st *store.Store, logger *slog.Logger, interval, retention time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		r, err := st.Sweep(ctx, time.Now(), retention)
		if err != nil && ctx.Err() == nil {
			logger.Warn("sweep failed", "error", err)
		}
		if r.ExpiredServers > 0 || r.CallLogs > 0 {
			logger.Info("swept", "expired_mcp_servers", r.ExpiredServers, "call_logs", r.CallLogs)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
