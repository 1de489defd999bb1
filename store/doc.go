// Package store keeps mcpapi's data in PostgreSQL or an embedded SQLite file through GORM.
// It speaks its own types and errors (types.go); it imports neither the generated API package
// nor Echo.
//
// What GORM does and what SQL does: GORM opens the pool (pgx and glebarez/sqlite dialectors,
// prepared statements, no implicit transactions), runs the transactions (inTx) and translates
// errors: each dialect maps its driver's constraint errors to gorm.ErrForeignKeyViolated and
// gorm.ErrDuplicatedKey (translate), so the store parses no driver error codes but SQLite's
// busy and locked (sqliteCode), for which GORM has no kind. The statements are written by hand
// and scanned by column into the store's types: the conditional merge-patch UPDATE … RETURNING
// (update.go, patch.go: only the members sent, config merged by the database, a write only when
// something differs and, with If-Match, only at a listed version), the checked config update,
// the limit-guarded INSERT … SELECT, the conditional DELETE … RETURNING, the ON CONFLICT
// inserts, the keyset pages and the batched sweeps are each one statement that GORM's builders
// cannot express in both dialects. They run (scanAll, exec) on GORM's pool, not through its
// Raw and Exec, whose statement builder re-writes every statement to rebind its placeholders;
// on PostgreSQL, outside transactions, on the pooled connection's own pgx API (onPgx), which
// skips database/sql's row conversions. The simple reads and inserts are SQL too, because a
// GORM model measured a loss: one account read by id through a model (Take) costs 95
// allocations and 5.5 KB on SQLite, 133 and 7.2 KB and ~20% more time on PostgreSQL, against
// 48 / 1.8 KB and 32 / 1.7 KB as the store runs it (BenchmarkReadAccount); one insert through
// Create costs 66 allocations and 5.0 KB against 12 and 0.4 KB, for no time saved
// (BenchmarkInsertEnvironment); and since SQLite keeps times as fixed-width text, every model
// would need a time type of its own.
//
// One write bypasses GORM's pool too: a batch of call logs (InsertCallLogs) goes to PostgreSQL
// by COPY on a pooled connection's pgx API and to SQLite as one prepared one-row INSERT per row in one
// transaction, so that no batch length becomes a prepared statement of its own. 500 rows as a
// multi-row INSERT through GORM cost 23–30 ms, 61,000 allocations and 4.5 MB on PostgreSQL and
// 100–118 ms, 19,000 allocations and 1.7 MB on SQLite; by COPY 10–18 ms, 6,400 allocations and
// 0.42 MB (1.5–2 ms of the process's CPU), and by the one-row INSERT 16–20 ms, 15,500
// allocations and 0.75 MB (BenchmarkInsertCallLogs, on a shared 2-core machine).
package store
