// Package storetest gives tests a fresh database of each kind the store supports, as a
// database URL that store.Open (or the whole server) accepts:
//
//   - SQLite: a file in the test's temporary directory, always available;
//   - PostgreSQL: a new database with a random name on the server at TEST_DATABASE_URL
//     (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), dropped
//     WITH (FORCE) when the test ends. When the server cannot be reached the test is
//     skipped, or fails if MCPAPI_TEST_REQUIRE_POSTGRES=1.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcpapi/mcpapi/store"
)

// Kinds of database.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Environment variables read by this package.
const (
	EnvDatabaseURL     = "TEST_DATABASE_URL"
	EnvRequirePostgres = "MCPAPI_TEST_REQUIRE_POSTGRES"
	// EnvReport names a file to which each test binary appends one line, the first time a test
	// asks for PostgreSQL: "ran <server>" or "skipped <server>: <reason>" (make test sums it up).
	EnvReport          = "MCPAPI_TEST_PG_REPORT"
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

// Kinds lists the database kinds, SQLite first.
func Kinds() []string { return []string{SQLite, Postgres} }

// ForEach runs fn as a subtest per database kind ("sqlite", "postgres"), each with the URL
// of a fresh, empty (unmigrated) database.
func ForEach(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			fn(t, Open(t, kind))
		})
	}
}

// ForEachStore is ForEach with a migrated store opened on the fresh database (closed when
// the subtest ends).
func ForEachStore(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	ForEach(t, func(t *testing.T, url string) {
		fn(t, OpenStore(t, url))
	})
}

// OpenStore opens and migrates a store on url and closes it when tb ends.
func OpenStore(tb testing.TB, url string) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, url)
	if err != nil {
		tb.Fatalf("storetest: open store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("storetest: migrate: %v", err)
	}
	return s
}

// Open returns the URL of a fresh, empty database of the given kind, removed when tb ends.
func Open(tb testing.TB, kind string) string {
	tb.Helper()
	switch kind {
	case SQLite:
		return SQLiteURL(tb)
	case Postgres:
		return PostgresURL(tb)
	default:
		tb.Fatalf("storetest: unknown database kind %q", kind)
		return ""
	}
}

// SQLiteURL returns sqlite://<temp dir>/mcpapi.db.
func SQLiteURL(tb testing.TB) string {
	tb.Helper()
	return "sqlite://" + filepath.ToSlash(filepath.Join(tb.TempDir(), "mcpapi.db"))
}

// PostgresURL creates a database with a random name and returns its URL; it is dropped
// (WITH (FORCE), so open connections do not stop it) when tb ends.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	admin := AdminURL()
	err := reachable(admin)
	report(admin, err)
	if err != nil {
		if RequirePostgres() {
			tb.Fatalf("storetest: PostgreSQL at %s is required (%s=1) but unreachable: %v",
				redact(admin), EnvRequirePostgres, err)
		}
		tb.Skipf("storetest: PostgreSQL at %s unreachable, skipping (set %s=1 to fail instead): %v",
			redact(admin), EnvRequirePostgres, err)
	}
	name := "mcpapi_test_" + randomHex(8)
	if err := adminExec(admin, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("storetest: create database: %v", err)
	}
	tb.Cleanup(func() {
		if err := adminExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("storetest: %s: %v", EnvDatabaseURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// AdminURL is the PostgreSQL server tests create their databases on.
func AdminURL() string {
	if v := os.Getenv(EnvDatabaseURL); v != "" {
		return v
	}
	return DefaultPostgresURL
}

// RequirePostgres reports whether an unreachable PostgreSQL fails tests instead of skipping.
func RequirePostgres() bool { return os.Getenv(EnvRequirePostgres) == "1" }

var (
	reachOnce sync.Once
	reachErr  error
)

// reachable connects once per test binary; the answer is remembered.
func reachable(admin string) error {
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			reachErr = err
			return
		}
		reachErr = conn.Ping(ctx)
		_ = conn.Close(ctx)
	})
	return reachErr
}

func adminExec(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	return errors.Join(err, conn.Close(ctx))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redact hides a password in a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

var reportOnce sync.Once

// report appends this test binary's PostgreSQL outcome to the EnvReport file, once.
func report(admin string, err error) {
	path := os.Getenv(EnvReport)
	if path == "" {
		return
	}
	reportOnce.Do(func() {
		line := "ran " + redact(admin) + "\n"
		if err != nil {
			line = "skipped " + redact(admin) + ": " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
		}
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) //nolint:gosec // G304: the file make test names
		if ferr != nil {
			return // the summary then says no test asked; the tests themselves are unaffected
		}
		_, _ = f.WriteString(line) // one short O_APPEND write: whole lines, even from parallel binaries
		_ = f.Close()
	})
}
