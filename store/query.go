package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// scanner is what a row scan function needs; *sql.Rows satisfies it.
type scanner interface{ Scan(dest ...any) error }

// scanRow scans one row into R, a row type that receives its columns (dest, in the order of
// the statement's column list) and makes the value from them.
func scanRow[T, R any, PR interface {
	*R
	dest() []any
	value() T
}](r scanner) (T, error) {
	var x R
	err := r.Scan(PR(&x).dest()...)
	return PR(&x).value(), err
}

// queryAll runs q (with ? placeholders) and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	return query(ctx, s, false, op, scan, q, args...)
}

// writeAll is queryAll for a statement that writes (INSERT/UPDATE … RETURNING).
func writeAll[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	return query(ctx, s, true, op, scan, q, args...)
}

func query[T any](ctx context.Context, s *Store, write bool, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	if write {
		if err := s.lockWrites(ctx); err != nil {
			return nil, wrapErr(op, err)
		}
		defer s.unlockWrites()
	}
	return scanAll(ctx, s, s.db, op, scan, q, args...)
}

// scanAll runs q on db (s.db, or a transaction of it) and scans every row with scan.
//
// Statements bypass GORM's statement builder: Raw(…).Rows() clones a session and a statement
// and re-writes q byte by byte to rebind its placeholders, about 40 allocations per statement
// that buy nothing for SQL written by hand. What GORM's finisher would do besides, this does:
// placeholders (rebind), error translation (translate) and the trace of the configured Logger.
// On PostgreSQL, outside a transaction, the statement runs on the pooled connection's own
// *pgx.Conn (onPgx); otherwise on db's connection pool (GORM's prepared-statement cache, or the
// transaction).
func scanAll[T any](ctx context.Context, s *Store, db *gorm.DB, op string, scan func(scanner) (T, error), q string, args ...any) (out []T, err error) {
	begin := time.Now()
	defer func() { s.trace(ctx, begin, q, int64(len(out)), err) }()
	q, args = s.rebind(q), s.bindArgs(args)
	if db == s.db && !s.sqlite() {
		err = s.onPgx(ctx, func(c *pgx.Conn) error {
			rows, err := c.Query(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			out, err = scanRows(rows, scan)
			if err != nil {
				return err
			}
			return rows.Err()
		})
		if !errors.Is(err, errNotPgx) {
			return out, wrapErr(op, translate(db, err))
		}
	}
	rows, err := db.Statement.ConnPool.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrapErr(op, translate(db, err))
	}
	defer func() { _ = rows.Close() }() // a no-op once Next is done; rows.Err below has the error
	if out, err = scanRows(rows, scan); err != nil {
		return nil, wrapErr(op, err)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, translate(db, err))
	}
	return out, nil
}

// scanRows scans every row of rows (*sql.Rows or pgx.Rows) with scan.
func scanRows[T any](rows interface {
	Next() bool
	scanner
}, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// onPgx runs fn on a pooled PostgreSQL connection's own *pgx.Conn, errNotPgx when the pool's
// driver is not pgx's (the pinned GORM driver always is). Through pgx's own API a statement
// costs about 16 allocations less than through database/sql (its row conversions, and pgx's
// adapter to it, which makes a closure per column of every result), and pgx caches its
// prepared statements per connection (QueryExecModeCacheStatement). As database/sql does, an
// attempt that failed before anything was sent (a connection found broken) is made again on
// another connection, twice at most.
func (s *Store) onPgx(ctx context.Context, fn func(*pgx.Conn) error) error {
	for attempt := 0; ; attempt++ {
		err := s.onPgxOnce(ctx, fn)
		if attempt == 2 || err == nil || !pgconn.SafeToRetry(err) {
			return err
		}
	}
}

func (s *Store) onPgxOnce(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := s.pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }() // back to the pool; a connection pgx closed is dropped
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errNotPgx
		}
		return fn(c.Conn())
	})
}

// errNotPgx says a PostgreSQL connection is not pgx's; callers then use database/sql.
var errNotPgx = errors.New("store: the PostgreSQL connection is not pgx's")

// trace reports one statement to the configured GORM Logger (tests count statements there).
// Open configures logger.Discard, which is skipped before Trace's closure is made.
func (s *Store) trace(ctx context.Context, begin time.Time, q string, rows int64, err error) {
	if s.db.Logger == logger.Discard {
		return
	}
	s.db.Logger.Trace(ctx, begin, func() (string, int64) { return q, rows }, err)
}

// rebind writes q's ? placeholders as PostgreSQL's $1, $2, …; SQLite takes ? as it is. Every
// statement text is a constant or built from a bounded set of pieces (patchStatement), so the
// rewritten texts are kept, up to rebindCacheSize of them.
func (s *Store) rebind(q string) string {
	if s.sqlite() {
		return q
	}
	if r, ok := s.rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	r := b.String()
	if s.reboundN.Add(1) <= rebindCacheSize {
		s.rebound.Store(q, r)
	}
	return r
}

// rebindCacheSize bounds rebind's cache; the store has a few dozen statement texts.
const rebindCacheSize = 1024

// queryOne is queryAll for at most one row; no row is ErrNotFound.
func queryOne[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), q string, args ...any) (T, error) {
	return one(query(ctx, s, false, op, scan, q, args...))
}

// writeOne is writeAll for at most one row; no row is ErrNotFound.
func writeOne[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), q string, args ...any) (T, error) {
	return one(query(ctx, s, true, op, scan, q, args...))
}

func one[T any](rows []T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	if len(rows) == 0 {
		var zero T
		return zero, ErrNotFound
	}
	return rows[0], nil
}

// exec runs a statement that returns no rows and reports how many rows it changed.
func (s *Store) exec(ctx context.Context, op, q string, args ...any) (int64, error) {
	if err := s.lockWrites(ctx); err != nil {
		return 0, wrapErr(op, err)
	}
	defer s.unlockWrites()
	var n int64
	var err error
	begin := time.Now()
	defer func() { s.trace(ctx, begin, q, n, err) }()
	q, args = s.rebind(q), s.bindArgs(args)
	if !s.sqlite() {
		err = s.onPgx(ctx, func(c *pgx.Conn) error {
			tag, err := c.Exec(ctx, q, args...)
			n = tag.RowsAffected()
			return err
		})
		if !errors.Is(err, errNotPgx) {
			return n, wrapErr(op, translate(s.db, err))
		}
	}
	res, err := s.db.Statement.ConnPool.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, wrapErr(op, translate(s.db, err))
	}
	n, err = res.RowsAffected()
	return n, wrapErr(op, err)
}

// execOne is exec for a statement meant to change one row: none changed is ErrNotFound.
func (s *Store) execOne(ctx context.Context, op, q string, args ...any) error {
	n, err := s.exec(ctx, op, q, args...)
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}

// newID makes a time-ordered id (UUIDv7): new rows land at the end of the indexes.
func newID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

var _ scanner = (*sql.Rows)(nil)

// inTx runs fn in one transaction (committed when fn returns nil, else rolled back) and
// returns fn's error. On SQLite the transaction waits in the process's write queue and starts
// with BEGIN IMMEDIATE (see sqliteDSN), so it is serialised with every other writer.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *gorm.DB) error) error {
	if err := s.lockWrites(ctx); err != nil {
		return wrapErr(op, err)
	}
	defer s.unlockWrites()
	return wrapErr(op, s.db.WithContext(ctx).Transaction(fn))
}

// forUpdate is the row-locking suffix of a SELECT in a transaction: PostgreSQL locks the
// rows (lock, e.g. "FOR UPDATE OF m"); SQLite's transactions are serialised already.
func (s *Store) forUpdate(lock string) string {
	if s.sqlite() {
		return ""
	}
	return " " + lock
}
