package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// DefaultSQLitePath is the database file used when no database URL is given.
const DefaultSQLitePath = "./data/mcpapi.db"

// Dialect names returned by (*Store).Dialect.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Store is mcpapi's data access. It is safe for concurrent use.
type Store struct {
	db      *gorm.DB
	pool    *sql.DB // what db runs on
	dialect string
	writes  chan struct{} // SQLite: one writer at a time in this process (see lockWrites)

	rebound  sync.Map     // statement text → its PostgreSQL form (see rebind)
	reboundN atomic.Int64 // entries stored in rebound
}

// Open connects to databaseURL: postgres:// or postgresql:// for PostgreSQL (pgx),
// sqlite://PATH for an SQLite file (sqlite:///abs/x.db or sqlite://rel/x.db), or "" for
// the SQLite file ./data/mcpapi.db. It does not migrate; call Migrate.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	dialect, target, err := parseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	var dialector gorm.Dialector
	switch dialect {
	case DialectPostgres:
		dialector = postgres.New(postgres.Config{DSN: target})
	case DialectSQLite:
		if err := createPrivate(target); err != nil {
			return nil, err
		}
		dialector = sqlite.Open(sqliteDSN(target, sqliteSynchronous))
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		DisableAutomaticPing:   true,
		Logger:                 logger.Discard,
		NowFunc:                now,
		// Constraint errors become gorm.ErrForeignKeyViolated and gorm.ErrDuplicatedKey.
		TranslateError: true,
	})
	if err != nil {
		return nil, wrapErr("open", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, wrapErr("open", err)
	}
	configurePool(dialect, sqlDB)
	s := &Store{db: db, pool: sqlDB, dialect: dialect}
	if dialect == DialectSQLite {
		s.writes = make(chan struct{}, 1)
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// parseURL tells the dialect and the driver's connection string from a database URL.
func parseURL(databaseURL string) (dialect, target string, err error) {
	switch {
	case databaseURL == "":
		return DialectSQLite, DefaultSQLitePath, nil
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return DialectPostgres, databaseURL, nil
	case strings.HasPrefix(databaseURL, "sqlite://"):
		path := strings.TrimPrefix(databaseURL, "sqlite://")
		if path == "" {
			return "", "", errors.New("store: sqlite URL has no file path")
		}
		if strings.ContainsAny(path, "?#") {
			return "", "", errors.New("store: sqlite URL must be sqlite://PATH without query or fragment")
		}
		return DialectSQLite, path, nil
	default:
		return "", "", errors.New("store: unsupported database URL (want postgres://, postgresql:// or sqlite://)")
	}
}

// sqliteSynchronous is FULL: with WAL, NORMAL may lose the last acknowledged commits on power
// loss (the WAL is not synced at each commit); FULL syncs it at every commit, so a 2xx answer
// means the write is on disk. Its cost is measured by BenchmarkSQLiteSynchronous (README).
var sqliteSynchronous = "FULL"

// sqliteDSN adds the pragmas every pooled connection needs: foreign keys enforced, WAL so
// readers do not block the writer, a busy timeout so writers queue instead of failing with
// "database is locked", the synchronous level, and BEGIN IMMEDIATE for the (rare) explicit
// transactions.
func sqliteDSN(path, synchronous string) string {
	return path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + synchronous + ")&_txlock=immediate"
}

// createPrivate makes the SQLite file's folder (0700) and the file itself (0600) when they do
// not exist yet, so that neither the data nor the hashes in it are readable by other users of
// the machine. SQLite gives its -wal and -shm files the database file's mode. Existing folders
// and files keep theirs: they are the operator's.
func createPrivate(path string) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("store: create database folder: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: the operator's --database-url
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: create database file: %w", err)
	}
	return f.Close()
}

// now is the clock of every stored time: UTC, microseconds (what both databases keep).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Close releases the connection pool.
func (s *Store) Close() error { return s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return wrapErr("ping", s.pool.PingContext(ctx)) }

// Dialect is "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.dialect }

// SQLDB is the connection pool, for its statistics (Prometheus' DB stats collector takes a
// *sql.DB). Statements go through the Store's methods, never through it.
func (s *Store) SQLDB() *sql.DB { return s.pool }

// DB exposes the GORM handle, for tests and benchmarks only: tests of other packages count the
// statements a request runs (through its Logger) and look at rows no API shows.
func (s *Store) DB() *gorm.DB { return s.db }

func (s *Store) sqlite() bool { return s.dialect == DialectSQLite }

// configurePool sizes the connection pool per dialect.
func configurePool(dialect string, sqlDB *sql.DB) {
	switch dialect {
	case DialectPostgres:
		sqlDB.SetMaxOpenConns(25)
		sqlDB.SetMaxIdleConns(25)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	case DialectSQLite:
		// Readers run side by side (WAL); writers queue in Go (see lockWrites).
		sqlDB.SetMaxOpenConns(8)
		sqlDB.SetMaxIdleConns(8)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
}
