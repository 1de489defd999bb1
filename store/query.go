package store

import (
	"context"
	"database/sql"

	"github.com/google/uuid"
	"gorm.io/gorm"
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
	return scanAll(s, s.db.WithContext(ctx), op, scan, q, args...)
}

// scanAll runs q on db (s's pool, or a transaction on it) and scans every row with scan.
func scanAll[T any](s *Store, db *gorm.DB, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.Raw(q, s.bindArgs(args)...).Rows()
	if err != nil {
		return nil, wrapErr(op, translate(db, err))
	}
	defer func() { _ = rows.Close() }() // a no-op once Next is done; rows.Err below has the error
	var out []T
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
	res := s.db.WithContext(ctx).Exec(q, s.bindArgs(args)...)
	if res.Error != nil {
		return 0, wrapErr(op, res.Error)
	}
	return res.RowsAffected, nil
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
