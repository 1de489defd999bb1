package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Outcomes of an MCP call (CallLog.Outcome).
const (
	OutcomeOK            = "ok"
	OutcomeToolError     = "tool_error"
	OutcomeUpstreamError = "upstream_error"
	OutcomeTimeout       = "timeout"
	OutcomeRefused       = "refused"
)

// ValidOutcome reports whether o is one of the outcomes above.
func ValidOutcome(o string) bool {
	switch o {
	case OutcomeOK, OutcomeToolError, OutcomeUpstreamError, OutcomeTimeout, OutcomeRefused:
		return true
	}
	return false
}

// CallLog is the record of one MCP request that reached an MCP server: identities, outcome,
// status codes and durations. It never holds arguments, results or credentials. Empty strings
// and nil pointers are stored as NULL.
type CallLog struct {
	ID                  uuid.UUID // zero: InsertCallLogs makes one
	EnvironmentID       uuid.UUID
	IntegratedAccountID uuid.UUID
	McpServerID         uuid.UUID
	Integration         string
	McpMethod           string
	ToolName            string // "" (NULL) unless tools/call
	Outcome             string // one of the Outcome constants
	HTTPStatus          int
	UpstreamStatus      *int
	DurationMs          int64
	UpstreamDurationMs  *int64
	ClientName          string
	ClientVersion       string
	RequestID           string
	CreatedAt           time.Time // when the request arrived; zero: now
}

const callLogColumns = `id, environment_id, integrated_account_id, mcp_server_id, integration, mcp_method, tool_name,
	outcome, http_status, upstream_status, duration_ms, upstream_duration_ms, client_name, client_version, request_id, created_at`

// callLogColumnCount is the number of columns of callLogColumns.
const callLogColumnCount = 16

// MaxCallLogBatch bounds the rows of one InsertCallLogs statement (16 parameters each, far
// below both databases' limits on bound parameters).
const MaxCallLogBatch = 500

// InsertCallLogs stores records in one multi-row INSERT (at most MaxCallLogBatch rows).
func (s *Store) InsertCallLogs(ctx context.Context, logs []CallLog) error {
	if len(logs) == 0 {
		return nil
	}
	if len(logs) > MaxCallLogBatch {
		return errors.New("store: insert call logs: batch too large")
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", callLogColumnCount), ", ") + ")"
	var q strings.Builder
	q.WriteString("INSERT INTO mcp_call_logs (" + callLogColumns + ") VALUES ")
	args := make([]any, 0, len(logs)*callLogColumnCount)
	t := now()
	for i, l := range logs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(row)
		if l.ID == uuid.Nil {
			l.ID = newID()
		}
		if l.CreatedAt.IsZero() {
			l.CreatedAt = t
		}
		args = append(args, l.ID, l.EnvironmentID, l.IntegratedAccountID, l.McpServerID, l.Integration, l.McpMethod,
			nullString(l.ToolName), l.Outcome, l.HTTPStatus, l.UpstreamStatus, l.DurationMs, l.UpstreamDurationMs,
			nullString(l.ClientName), nullString(l.ClientVersion), l.RequestID, s.bindTime(l.CreatedAt))
	}
	_, err := s.exec(ctx, "insert call logs", q.String(), args...)
	return err
}

// CallLogFilter selects call logs; zero members do not filter. The window is After < created_at
// < Before; both bounds are required (the caller bounds the window).
type CallLogFilter struct {
	McpServerID         uuid.UUID
	IntegratedAccountID uuid.UUID
	ToolName            string
	McpMethod           string
	Outcome             string
	After, Before       time.Time
}

// ListCallLogs lists env's call logs that pass f, newest first, limit per page, resuming after
// cursor ("" for the first page); next is "" on the last page.
func (s *Store) ListCallLogs(ctx context.Context, env uuid.UUID, f CallLogFilter, limit int, cursor string) (items []CallLog, next string, err error) {
	q := `SELECT ` + callLogColumns + ` FROM mcp_call_logs WHERE environment_id = ? AND created_at > ? AND created_at < ?`
	args := []any{env, s.bindTime(f.After), s.bindTime(f.Before)}
	for _, c := range []struct {
		col string
		v   any
		set bool
	}{
		{"mcp_server_id", f.McpServerID, f.McpServerID != uuid.Nil},
		{"integrated_account_id", f.IntegratedAccountID, f.IntegratedAccountID != uuid.Nil},
		{"tool_name", f.ToolName, f.ToolName != ""},
		{"mcp_method", f.McpMethod, f.McpMethod != ""},
		{"outcome", f.Outcome, f.Outcome != ""},
	} {
		if c.set {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	return listPage(ctx, s, "list call logs", scanCallLog, func(l CallLog) position { return position{l.CreatedAt, l.ID} },
		q, args, limit, cursor, true)
}

func scanCallLog(r scanner) (CallLog, error) {
	var (
		l                       CallLog
		tool, client, clientVer *string
		upstreamStatus          *int
		upstreamDuration        *int64
		created                 dbTime
	)
	err := r.Scan(&l.ID, &l.EnvironmentID, &l.IntegratedAccountID, &l.McpServerID, &l.Integration, &l.McpMethod,
		&tool, &l.Outcome, &l.HTTPStatus, &upstreamStatus, &l.DurationMs, &upstreamDuration, &client, &clientVer,
		&l.RequestID, &created)
	l.ToolName, l.ClientName, l.ClientVersion = deref(tool), deref(client), deref(clientVer)
	l.UpstreamStatus, l.UpstreamDurationMs, l.CreatedAt = upstreamStatus, upstreamDuration, time.Time(created)
	return l, err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
