package store

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
