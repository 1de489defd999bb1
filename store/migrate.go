package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sync"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrations embed.FS

// sqliteMigrateMu keeps migrations of SQLite stores in this process one at a time
// (PostgreSQL uses an advisory lock instead; SQLite has no equivalent).
var sqliteMigrateMu sync.Mutex

// Migrate brings the schema to the latest version. It is the only place that changes the
// schema. On PostgreSQL a session advisory lock makes instances that start together migrate
// once; the others wait and then find nothing to do.
func (s *Store) Migrate(ctx context.Context) error {
	provider, err := s.migrationProvider()
	if err != nil {
		return err
	}
	if s.sqlite() {
		sqliteMigrateMu.Lock()
		defer sqliteMigrateMu.Unlock()
		if err := s.lockWrites(ctx); err != nil {
			return wrapErr("migrate", err)
		}
		defer s.unlockWrites()
	}
	if _, err := provider.Up(ctx); err != nil {
		return wrapErr("migrate", err)
	}
	return nil
}

func (s *Store) migrationProvider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if !s.sqlite() {
		dialect = goose.DialectPostgres
		// Retry the lock every second for up to 10 minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
		if err != nil {
			return nil, fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	provider, err := goose.NewProvider(dialect, s.pool, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return provider, nil
}
