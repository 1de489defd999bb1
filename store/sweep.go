package store

import (
	"context"
	"errors"
	"time"
)

// SweepBatch is how many rows one DELETE of a sweep removes at most; SweepMaxBatches how many
// such DELETEs one sweep runs at most per table. A sweep is thus bounded (20,000 rows per table)
// and each statement short, so a large backlog is worked off over several sweeps instead of
// holding locks for long.
const (
	SweepBatch      = 1000
	SweepMaxBatches = 20
)

// SweepResult counts what a sweep deleted.
type SweepResult struct {
	ExpiredServers int64
	CallLogs       int64
}

// Sweep deletes MCP servers that expired before now and call logs created before
// now − retention (retention ≤ 0: call logs are kept), each in bounded batches. Expired
// servers are already invisible (see notExpired); this only frees their rows. Safe with
// several instances sweeping at once: on PostgreSQL each batch skips rows another sweeper has
// locked (FOR UPDATE SKIP LOCKED), on SQLite writers are serialised.
func (s *Store) Sweep(ctx context.Context, now time.Time, retention time.Duration) (SweepResult, error) {
	var r SweepResult
	var errs []error
	n, err := s.sweepTable(ctx, "sweep expired mcp servers", "mcp_servers", "expires_at", now)
	r.ExpiredServers = n
	errs = append(errs, err)
	if retention > 0 {
		n, err = s.sweepTable(ctx, "sweep call logs", "mcp_call_logs", "created_at", now.Add(-retention))
		r.CallLogs = n
		errs = append(errs, err)
	}
	return r, errors.Join(errs...)
}

// sweepTable deletes the rows of table whose column is at or before cutoff, oldest first, in
// batches of SweepBatch until one deletes fewer or SweepMaxBatches ran.
func (s *Store) sweepTable(ctx context.Context, op, table, column string, cutoff time.Time) (int64, error) {
	q := `DELETE FROM ` + table + ` WHERE id IN (SELECT id FROM ` + table + ` WHERE ` + column + ` <= ? ORDER BY ` + column +
		` LIMIT ?` + s.forUpdate("FOR UPDATE SKIP LOCKED") + `)`
	var total int64
	for range SweepMaxBatches {
		n, err := s.exec(ctx, op, q, s.bindTime(cutoff), SweepBatch)
		total += n
		if err != nil || n < SweepBatch {
			return total, err
		}
	}
	return total, nil
}
