package store

import "context"

// Test-only API: what the tests of this package read that no caller of the store needs.

// MaxPageSize is the store's cap on a page.
const MaxPageSize = maxPageSize

// SetCheckAttempts sets how many optimistic tries a checked update makes before it takes the
// row lock (0: it always locks), and returns the function that restores it.
func SetCheckAttempts(n int) (restore func()) {
	old := checkAttempts
	checkAttempts = n
	return func() { checkAttempts = old }
}

// SetSQLiteSynchronous changes the synchronous level of SQLite stores opened from now on (for
// the benchmark that measures what FULL costs); the returned func restores it.
func SetSQLiteSynchronous(level string) (restore func()) {
	old := sqliteSynchronous
	sqliteSynchronous = level
	return func() { sqliteSynchronous = old }
}

// McpServerByTokenHash finds the unexpired MCP server an MCP token belongs to, in any
// environment.
func (s *Store) McpServerByTokenHash(ctx context.Context, hash []byte) (McpServer, error) {
	return queryOne(ctx, s, "mcp server by token", scanMcpServer,
		`SELECT `+mcpServerColumns+` FROM mcp_servers WHERE token_hash = ? AND `+notExpired(""), hash, s.bindTime(now()))
}

// MigrationVersion is the latest applied schema version (0 before the first migration).
func (s *Store) MigrationVersion(ctx context.Context) (int64, error) {
	provider, err := s.migrationProvider()
	if err != nil {
		return 0, err
	}
	v, err := provider.GetDBVersion(ctx)
	return v, wrapErr("migration version", err)
}

// InsertCallLogRows is InsertCallLogs by the one-row prepared INSERT (SQLite's way, and
// PostgreSQL's fallback when its connection cannot COPY), so that the fallback is tested on
// PostgreSQL too.
func (s *Store) InsertCallLogRows(ctx context.Context, logs []CallLog) error {
	return s.insertCallLogRows(ctx, logs)
}

// Exec runs a written statement the way the store runs its own (exec), for the benchmarks that
// compare it with GORM's builders.
func (s *Store) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return s.exec(ctx, "exec", q, args...)
}
