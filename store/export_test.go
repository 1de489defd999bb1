package store

// SetCheckAttempts sets how many optimistic tries a checked update makes before it takes the
// row lock (0: it always locks), and returns the function that restores it.
func SetCheckAttempts(n int) (restore func()) {
	old := checkAttempts
	checkAttempts = n
	return func() { checkAttempts = old }
}
