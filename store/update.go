package store

import (
	"context"
	"strings"
)

// update is a partial UPDATE being built: per member present, a SET term and a "differs" term.
// The statement changes the row only when some "differs" term holds, so a patch that sends
// the stored values writes nothing and moves neither version nor updated_at.
type update struct {
	sets, differs       []string
	setArgs, differArgs []any
}

// set adds "col = v" and "col differs from v" (v nil: NULL).
func (u *update) set(distinct, col string, v any) {
	u.sets, u.setArgs = append(u.sets, col+" = ?"), append(u.setArgs, v)
	u.differs, u.differArgs = append(u.differs, col+" "+distinct+" ?"), append(u.differArgs, v)
}

func (u *update) empty() bool { return len(u.sets) == 0 }

// statement is the UPDATE … RETURNING of a non-empty u on table: the members, version + 1 and
// updated_at (see touch), on the row that where (with whereArgs) selects, when a member differs
// and, with ifMatch non-nil, only at one of those versions.
func (s *Store) statement(table string, u update, where string, whereArgs []any, ifMatch []int64, returning string) (string, []any) {
	q := "UPDATE " + table + " SET " + strings.Join(u.sets, ", ") + ", version = version + 1, " + s.touch() +
		" WHERE " + where + " AND (" + strings.Join(u.differs, " OR ") + ")"
	args := make([]any, 0, len(u.setArgs)+1+len(whereArgs)+len(u.differArgs)+1)
	args = append(append(append(append(args, u.setArgs...), s.bindTime(now())), whereArgs...), u.differArgs...)
	if ifMatch != nil {
		cond, arg := s.versionIn(ifMatch)
		q += " AND " + cond
		args = append(args, arg)
	}
	return q + " RETURNING " + returning, args
}

// applyUpdate is the one executor of partial updates: it runs the conditional UPDATE … RETURNING
// q (none when q is "": the patch sets nothing) and returns the row it changed; when it changed
// none, one read (current) tells ErrNotFound, a *VersionMismatchError or a no-op (see unchanged).
func applyUpdate[T Versioned](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), q string, args []any,
	ifMatch []int64, current func() (T, error)) (T, error) {
	if q != "" {
		rows, err := writeAll(ctx, s, op, scan, q, args...)
		if err != nil || len(rows) == 1 {
			return firstOr(rows), err
		}
	}
	return unchanged(ifMatch, current)
}

func firstOr[T any](rows []T) T {
	var zero T
	if len(rows) == 0 {
		return zero
	}
	return rows[0]
}
