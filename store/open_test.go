package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

func TestOpenSQLitePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx := ctxT(t)
	for _, tc := range []struct{ url, file string }{
		{"", filepath.Join(dir, "data", "mcpapi.db")},
		{"sqlite://rel/sub/x.db", filepath.Join(dir, "rel", "sub", "x.db")},
		{"sqlite://" + filepath.ToSlash(filepath.Join(dir, "abs", "y.db")), filepath.Join(dir, "abs", "y.db")},
	} {
		s, err := store.Open(ctx, tc.url)
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.url, err)
		}
		if s.Dialect() != store.DialectSQLite {
			t.Errorf("Open(%q).Dialect() = %q", tc.url, s.Dialect())
		}
		must(t, s.Ping(ctx))
		must(t, s.Close())
		if _, err := os.Stat(tc.file); err != nil {
			t.Errorf("Open(%q) did not create %s: %v", tc.url, tc.file, err)
		}
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite://", "sqlite://x.db?mode=memory", "file.db", "postgres"} {
		s, err := store.Open(ctxT(t), u)
		if err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

func TestOpenUnreachablePostgresIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=3")
	wantErr(t, err, store.ErrUnavailable)
	if strings.Contains(err.Error(), "SELECT") {
		t.Errorf("error leaks SQL: %v", err)
	}
}

func TestDialectAndPing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, url string) {
		s := storetest.OpenStore(t, url)
		want := store.DialectSQLite
		if strings.HasPrefix(url, "postgres") {
			want = store.DialectPostgres
		}
		if s.Dialect() != want {
			t.Errorf("Dialect() = %q, want %q", s.Dialect(), want)
		}
		must(t, s.Ping(ctxT(t)))
		if s.DB() == nil {
			t.Error("DB() is nil")
		}
	})
}

func TestCancelledContextIsUnavailable(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.GetIntegratedAccount(ctx, f.env, f.account.ID)
		wantErr(t, err, store.ErrUnavailable)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		time.Sleep(time.Millisecond)
		_, _, err = s.ListIntegratedAccounts(ctx, f.env, 10, "")
		wantErr(t, err, store.ErrUnavailable)
	})
}

// Every pooled SQLite connection gets the pragmas, not just the first one.
func TestSQLitePragmasOnEveryConnection(t *testing.T) {
	s := storetest.OpenStore(t, storetest.SQLiteURL(t))
	sqlDB, err := s.DB().DB()
	must(t, err)
	ctx := ctxT(t)
	for i := 0; i < 4; i++ {
		conn, err := sqlDB.Conn(ctx) // held open, so each iteration gets another connection
		must(t, err)
		closeAtEnd(t, conn)
		var fk, busy int
		var mode string
		must(t, conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
		must(t, conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
		must(t, conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
		if fk != 1 || busy != 10000 || mode != "wal" {
			t.Errorf("connection %d: foreign_keys=%d busy_timeout=%d journal_mode=%s", i, fk, busy, mode)
		}
	}
}

// Explicit SQLite transactions begin IMMEDIATE: a second one waits for the first instead of
// starting and failing later with "database is locked" when it tries to write.
func TestSQLiteTransactionsBeginImmediate(t *testing.T) {
	s := storetest.OpenStore(t, storetest.SQLiteURL(t))
	sqlDB, err := s.DB().DB()
	must(t, err)
	tx1, err := sqlDB.BeginTx(ctxT(t), nil)
	must(t, err)
	began := make(chan error, 1)
	go func() {
		tx2, err := sqlDB.BeginTx(ctxT(t), nil)
		if err == nil {
			err = tx2.Rollback()
		}
		began <- err
	}()
	select {
	case err := <-began:
		t.Fatalf("second transaction began (err %v) while the first holds the write lock: not BEGIN IMMEDIATE", err)
	case <-time.After(300 * time.Millisecond):
	}
	must(t, tx1.Rollback())
	must(t, <-began) // and it gets its turn once the first ends
}

// TestSQLiteFilesArePrivate: a new data folder is 0700 and the database file (and its WAL)
// 0600, whatever the umask lets through.
func TestSQLiteFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx := ctxT(t)
	s, err := store.Open(ctx, "") // the default ./data/mcpapi.db
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.Migrate(ctx)) // writes, so the -wal and -shm files exist
	for path, want := range map[string]os.FileMode{
		"data":               0o700 | os.ModeDir,
		"data/mcpapi.db":     0o600,
		"data/mcpapi.db-wal": 0o600,
		"data/mcpapi.db-shm": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(dir, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
		}
	}
	must(t, s.Close())
}

// TestSQLiteIsSynchronousFull: every pooled connection syncs the WAL at each commit, so an
// acknowledged write survives power loss.
func TestSQLiteIsSynchronousFull(t *testing.T) {
	s := storetest.OpenStore(t, storetest.Open(t, storetest.SQLite))
	sqlDB, err := s.DB().DB()
	must(t, err)
	for range 3 { // several connections of the pool, each with its own pragmas
		var level int
		must(t, sqlDB.QueryRowContext(ctxT(t), "PRAGMA synchronous").Scan(&level))
		if level != 2 {
			t.Fatalf("PRAGMA synchronous = %d, want 2 (FULL)", level)
		}
	}
}

// TestServerSideDisconnects: after PostgreSQL ends every connection of the pool (a restart, a
// failover, an administrator), the store finds the broken ones before it sends on them
// (database/sql's session check when it hands a connection out, which the statements on pgx's
// own API go through as well: pgx's CheckConn, at most once a second per connection), and
// every read and write then succeeds on new ones.
func TestServerSideDisconnects(t *testing.T) {
	url := storetest.Open(t, storetest.Postgres)
	s := storetest.OpenStore(t, url)
	f := newFixture(t, s)
	ctx := ctxT(t)
	// Several connections in the pool.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.GetIntegratedAccount(ctx, f.env, f.account.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	admin, err := pgx.Connect(ctx, url)
	must(t, err)
	defer func() { _ = admin.Close(ctx) }()
	var ended int
	must(t, admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()) t`).Scan(&ended))
	if ended == 0 {
		t.Fatal("no connection of the pool was ended")
	}
	time.Sleep(1100 * time.Millisecond)
	for i := range 50 {
		if _, err := s.GetIntegratedAccount(ctx, f.env, f.account.ID); err != nil {
			t.Fatalf("read %d after %d connections were ended: %v", i, ended, err)
		}
	}
	if _, err := s.UpdateIntegratedAccount(ctx, f.env, f.account.ID, store.AccountPatch{TenantID: store.Field[string]{Set: true, Value: "t1"}}); err != nil {
		t.Fatalf("write after the connections were ended: %v", err)
	}
}
