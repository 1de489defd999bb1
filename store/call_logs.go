package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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

// MaxCallLogBatch bounds the rows of one InsertCallLogs call (the writer's batch).
const MaxCallLogBatch = 500

// callLogCopyColumns are callLogColumns as the COPY column list.
var callLogCopyColumns = []string{"id", "environment_id", "integrated_account_id", "mcp_server_id", "integration",
	"mcp_method", "tool_name", "outcome", "http_status", "upstream_status", "duration_ms", "upstream_duration_ms",
	"client_name", "client_version", "request_id", "created_at"}

// insertCallLogSQL is the one-row INSERT of insertCallLogRows, in the dialect's placeholders.
func insertCallLogSQL(sqlite bool) string {
	params := make([]string, callLogColumnCount)
	for i := range params {
		params[i] = "?"
		if !sqlite {
			params[i] = "$" + strconv.Itoa(i+1)
		}
	}
	return "INSERT INTO mcp_call_logs (" + callLogColumns + ") VALUES (" + strings.Join(params, ", ") + ")"
}

var (
	insertCallLogSQLite   = insertCallLogSQL(true)
	insertCallLogPostgres = insertCallLogSQL(false)
)

// InsertCallLogs stores records (at most MaxCallLogBatch) all or none. The statement shape
// never depends on the batch size, so no batch length costs a prepared statement of its own
// (a multi-row INSERT of n rows is a new 16×n-parameter statement for every n): PostgreSQL
// takes the rows by COPY on the pool's pgx connection (binary, no statement to parse, plan or
// cache), SQLite (and PostgreSQL if its connection is not pgx's) by one prepared single-row
// INSERT run per row in one transaction.
// BenchmarkInsertCallLogs measures them against the multi-row INSERT they replaced.
func (s *Store) InsertCallLogs(ctx context.Context, logs []CallLog) error {
	if len(logs) == 0 {
		return nil
	}
	if len(logs) > MaxCallLogBatch {
		return errors.New("store: insert call logs: batch too large")
	}
	if err := s.lockWrites(ctx); err != nil {
		return wrapErr("insert call logs", err)
	}
	defer s.unlockWrites()
	var err error
	if s.sqlite() {
		err = s.insertCallLogRows(ctx, logs)
	} else if err = s.copyCallLogs(ctx, logs); errors.Is(err, errNotPgx) {
		err = s.insertCallLogRows(ctx, logs)
	}
	return wrapErr("insert call logs", translate(s.db, err))
}

// callLogRow fills row (callLogColumnCount long) with l's column values, making the id and
// time when unset: the one place that maps a CallLog to its columns.
func (s *Store) callLogRow(row []any, l *CallLog, t time.Time) {
	id := l.ID
	if id == uuid.Nil {
		id = newID()
	}
	created := t
	if !l.CreatedAt.IsZero() {
		created = l.CreatedAt
	}
	row[0], row[1], row[2], row[3] = s.bindID(id), s.bindID(l.EnvironmentID), s.bindID(l.IntegratedAccountID), s.bindID(l.McpServerID)
	row[4], row[5], row[6], row[7] = l.Integration, l.McpMethod, nullString(l.ToolName), l.Outcome
	row[8], row[9], row[10], row[11] = l.HTTPStatus, nullInt(l.UpstreamStatus), l.DurationMs, nullInt64(l.UpstreamDurationMs)
	row[12], row[13], row[14], row[15] = nullString(l.ClientName), nullString(l.ClientVersion), l.RequestID, s.bindTime(created)
}

// copyCallLogs runs COPY mcp_call_logs FROM STDIN on a pooled connection's *pgx.Conn.
func (s *Store) copyCallLogs(ctx context.Context, logs []CallLog) error {
	t := now()
	row := make([]any, callLogColumnCount)
	src := pgx.CopyFromSlice(len(logs), func(i int) ([]any, error) {
		s.callLogRow(row, &logs[i], t)
		return row, nil
	})
	return s.onPgx(ctx, func(c *pgx.Conn) error {
		_, err := c.CopyFrom(ctx, pgx.Identifier{"mcp_call_logs"}, callLogCopyColumns, src)
		return err
	})
}

// insertCallLogRows runs one prepared single-row INSERT per row in one transaction (on SQLite
// BEGIN IMMEDIATE, see sqliteDSN): one commit, one statement compiled once per batch. It is
// SQLite's way, and PostgreSQL's when its connection cannot COPY.
func (s *Store) insertCallLogRows(ctx context.Context, logs []CallLog) (err error) {
	tx, err := s.pool.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	q := insertCallLogPostgres
	if s.sqlite() {
		q = insertCallLogSQLite
	}
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer func() { _ = stmt.Close() }()
	t := now()
	row := make([]any, callLogColumnCount)
	for i := range logs {
		s.callLogRow(row, &logs[i], t)
		if _, err = stmt.ExecContext(ctx, row...); err != nil {
			return err
		}
	}
	return tx.Commit()
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

// nullInt and nullInt64 bind a nil pointer as NULL and another as its value (a typed nil
// pointer in an any is not nil, and not every driver reads it as NULL).
func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullInt64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
