//go:build unix

package main

import "syscall"

// openFileLimit is the soft RLIMIT_NOFILE (Go raises it to the hard limit at start-up, so this
// is what the process really has); 0 when unknown.
func openFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}
