package store

import (
	"context"
	"strings"
)

// update is a partial UPDATE being built: per member present, a SET term and a "differs" term.
// The statement changes the row only when some "differs" term holds, so a patch that sends
// the stored values writes nothing and moves neither version nor updated_at.
//
// The terms are written into two builders as they come, so the text costs a few allocations
// however many members are present (a string per term and a join cost 10 per PATCH of one
// member); pass it by pointer (a strings.Builder must not be copied).
type update struct {
	sets, differs       strings.Builder // "a = ?, b = ?" and "a IS DISTINCT FROM ? OR …"
	setArgs, differArgs []any
}

// set adds "col = v" and "col differs from v" (v nil: NULL).
func (u *update) set(distinct, col string, v any) {
	u.addSet(col, " = ?")
	u.setArgs = append(u.setArgs, v)
	u.addDiffer(col, " ", distinct, " ?")
	u.differArgs = append(u.differArgs, v)
}

// addSet adds a SET term written as the concatenation of parts (its arguments: setArgs).
func (u *update) addSet(parts ...string) { writeTerm(&u.sets, ", ", parts) }

// addDiffer adds a "differs" term written as the concatenation of parts (its arguments: differArgs).
func (u *update) addDiffer(parts ...string) { writeTerm(&u.differs, " OR ", parts) }

func writeTerm(b *strings.Builder, sep string, parts []string) {
	if b.Len() == 0 {
		b.Grow(160)
	} else {
		b.WriteString(sep)
	}
	writeStrings(b, parts...)
}

func writeStrings(b *strings.Builder, parts ...string) {
	for _, p := range parts {
		b.WriteString(p)
	}
}

func (u *update) empty() bool { return u.sets.Len() == 0 }

// statement is the UPDATE … RETURNING of a non-empty u on table: the members, version + 1 and
// updated_at (see touch), on the row that where (with whereArgs) selects, when a member differs
// and, with ifMatch non-nil, only at one of those versions.
func (s *Store) statement(table string, u *update, where string, whereArgs []any, ifMatch []int64, returning string) (string, []any) {
	var q strings.Builder
	q.Grow(len(table) + u.sets.Len() + len(where) + u.differs.Len() + len(returning) + 160)
	writeStrings(&q, "UPDATE ", table, " SET ", u.sets.String(), ", version = version + 1, ", s.touch(),
		" WHERE ", where, " AND (", u.differs.String(), ")")
	args := make([]any, 0, len(u.setArgs)+1+len(whereArgs)+len(u.differArgs)+1)
	args = append(append(append(append(args, u.setArgs...), s.bindTime(now())), whereArgs...), u.differArgs...)
	if ifMatch != nil {
		cond, arg := s.versionIn(ifMatch)
		writeStrings(&q, " AND ", cond)
		args = append(args, arg)
	}
	writeStrings(&q, " RETURNING ", returning)
	return q.String(), args
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
	if len(rows) == 0 {
		var zero T
		return zero
	}
	return rows[0]
}
