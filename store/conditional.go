package store

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// versionIn is the WHERE term "version is one of ifMatch" (If-Match), to append with AND,
// and its one argument. The list travels as a single array (PostgreSQL) or JSON array
// (SQLite) parameter, so the statement text, and its prepared statement, do not depend on
// how many versions the caller sent, and no list length can exceed the databases' limits
// on bound parameters. An empty list matches no row.
func (s *Store) versionIn(ifMatch []int64) (string, any) {
	list := make([]string, len(ifMatch))
	for i, v := range ifMatch {
		list[i] = strconv.FormatInt(v, 10)
	}
	if s.sqlite() {
		return `version IN (SELECT value FROM json_each(?))`, "[" + strings.Join(list, ",") + "]"
	}
	return `version = ANY(CAST(? AS bigint[]))`, "{" + strings.Join(list, ",") + "}"
}

// versionMatches reports whether a stored version satisfies ifMatch (nil: unconditional).
func versionMatches(ifMatch []int64, version int64) bool {
	return ifMatch == nil || slices.Contains(ifMatch, version)
}

// conditionalWrite runs one write q (ending before RETURNING), conditional on ifMatch when it is
// non-nil, and returns the row it wrote. When it writes nothing: without ifMatch the row is
// missing (ErrNotFound, no second query); with it, one read by current tells a missing row
// (ErrNotFound) from a version mismatch (*VersionMismatchError with the current row).
func conditionalWrite[T Versioned](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), q, returning string,
	args []any, ifMatch []int64, current func() (T, error)) (T, error) {
	var zero T
	if ifMatch != nil {
		cond, arg := s.versionIn(ifMatch)
		q += ` AND ` + cond
		args = append(args, arg)
	}
	rows, err := writeAll(ctx, s, op, scan, q+` RETURNING `+returning, args...)
	if err != nil {
		return zero, err
	}
	if len(rows) == 1 {
		return rows[0], nil
	}
	if ifMatch == nil {
		return zero, ErrNotFound
	}
	row, err := current()
	if err != nil {
		return zero, err
	}
	// The write matched nothing although the row exists: only the version can explain it.
	return zero, &VersionMismatchError[T]{Current: row}
}

// distinctFrom is the operator of "differs from, NULLs included" in this dialect.
func (s *Store) distinctFrom() string {
	if s.sqlite() {
		return "IS NOT"
	}
	return "IS DISTINCT FROM"
}

// unchanged explains a conditional update that changed no row, by one read of the row as it
// is: missing → ErrNotFound; stored version not in ifMatch → *VersionMismatchError with the
// current row; else the update was a no-op and the stored row is the answer. Versions only grow
// and a caller only knows versions that existed, so a stored version in ifMatch is the one the
// update saw.
func unchanged[T Versioned](ifMatch []int64, current func() (T, error)) (T, error) {
	row, err := current()
	if err != nil {
		return row, err
	}
	if !versionMatches(ifMatch, row.rowVersion()) {
		var zero T
		return zero, &VersionMismatchError[T]{Current: row}
	}
	return row, nil
}
