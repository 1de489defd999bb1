//go:build !unix

package main

// openFileLimit is unknown here; connCap then assumes a generous but finite limit.
func openFileLimit() uint64 { return 0 }
