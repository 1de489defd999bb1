package store

import (
	"context"
	"database/sql"

	"github.com/google/uuid"
)

// scanner is what a row scan function needs; *sql.Rows satisfies it.
type scanner interface{ Scan(dest ...any) error }

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
	rows, err := s.db.WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, wrapErr(op, err)
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
		return nil, wrapErr(op, err)
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
	res := s.db.WithContext(ctx).Exec(q, args...)
	if res.Error != nil {
		return 0, wrapErr(op, res.Error)
	}
	return res.RowsAffected, nil
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
