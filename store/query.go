package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
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
// The statement runs on db's connection pool (GORM's prepared-statement cache, or the
// transaction) but not through GORM's statement builder: Raw(…).Rows() clones a session and a
// statement and re-writes q byte by byte to rebind its placeholders, about 40 allocations per
// statement that buy nothing for SQL written by hand (BenchmarkRequestPath: PATCH 253 → 213).
// What GORM's finisher would do besides, this does: placeholders (rebind), error translation
// (translate) and the trace of the configured Logger.
func scanAll[T any](ctx context.Context, s *Store, db *gorm.DB, op string, scan func(scanner) (T, error), q string, args ...any) (out []T, err error) {
	begin := time.Now()
	defer func() { s.trace(ctx, begin, q, int64(len(out)), err) }()
	rows, err := db.Statement.ConnPool.QueryContext(ctx, s.rebind(q), s.bindArgs(args)...)
	if err != nil {
		return nil, wrapErr(op, translate(db, err))
	}
	defer func() { _ = rows.Close() }() // a no-op once Next is done; rows.Err below has the error
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr(op, translate(db, err))
	}
	return out, nil
}

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
	res, err := s.db.Statement.ConnPool.ExecContext(ctx, s.rebind(q), s.bindArgs(args)...)
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
