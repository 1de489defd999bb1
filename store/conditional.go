package store

import (
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
