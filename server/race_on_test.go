//go:build race

package server

// raceEnabled: the race detector is on. sync.Pool then drops pooled objects at random on
// purpose, so allocation counts that rely on a pool mean nothing.
const raceEnabled = true
