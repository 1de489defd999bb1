package store

import "context"

// lockWrites queues this process's SQLite writers in Go. SQLite allows one writer at a time;
// without the queue, writers poll the busy handler with growing sleeps, which costs throughput
// and gives long tails under contention. busy_timeout still covers other processes.
// PostgreSQL needs no queue.
func (s *Store) lockWrites(ctx context.Context) error {
	if s.writes == nil {
		return nil
	}
	select {
	case s.writes <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlockWrites() {
	if s.writes != nil {
		<-s.writes
	}
}
