package store

// SetSQLiteSynchronous changes the synchronous level of SQLite stores opened from now on (for
// the benchmark that measures what FULL costs); the returned func restores it.
func SetSQLiteSynchronous(level string) (restore func()) {
	old := sqliteSynchronous
	sqliteSynchronous = level
	return func() { sqliteSynchronous = old }
}
