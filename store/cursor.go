package store

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"
	"time"

	"github.com/google/uuid"
)

// The store's own page bounds, for callers that pass no limit or a huge one: a limit below 1
// means defaultPageSize, one above maxPageSize is capped. They are not the API's: the server
// applies the spec's default and maximum before it calls the store.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// cursorVersion is the first byte of every cursor, so the format can change later.
const cursorVersion = 1

// cursorLen: version, created_at as Unix microseconds, id.
const cursorLen = 1 + 8 + 16

// position is a point in the (created_at, id) order of a list.
type position struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// encodeCursor makes the opaque cursor that resumes a list after p.
func encodeCursor(p position) string {
	b := make([]byte, 0, cursorLen)
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(p.CreatedAt.UnixMicro()))
	b = append(b, p.ID[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by encodeCursor; "" is the start. Anything else that is
// not exactly such a cursor is ErrBadCursor.
func decodeCursor(cursor string) (*position, error) {
	if cursor == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion {
		return nil, ErrBadCursor
	}
	micros := binary.BigEndian.Uint64(b[1:9])
	id, err := uuid.FromBytes(b[9:])
	if err != nil || id == uuid.Nil || micros > math.MaxInt64 {
		return nil, ErrBadCursor
	}
	return &position{CreatedAt: time.UnixMicro(int64(micros)).UTC(), ID: id}, nil
}

// pageLimit applies the page size bounds.
func pageLimit(limit int) int {
	switch {
	case limit < 1:
		return defaultPageSize
	case limit > maxPageSize:
		return maxPageSize
	default:
		return limit
	}
}

// page trims rows fetched with limit+1 to limit and makes the next cursor when there was more.
func page[T any](rows []T, limit int, pos func(T) position) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, encodeCursor(pos(rows[limit-1]))
}

// listPage runs the keyset page query of every list: q selects the rows (a SELECT … WHERE …
// with no ORDER BY), and listPage adds the resume condition after cursor's position ("" is the
// first page), the (created_at, id) order (newest first when desc) and LIMIT limit+1, and
// returns at most limit rows (never nil) and the cursor of the next page ("" on the last one).
// A cursor that this store did not issue is ErrBadCursor.
func listPage[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), pos func(T) position,
	q string, args []any, limit int, cursor string, desc bool) ([]T, string, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	limit = pageLimit(limit)
	cmp, order := ">", ""
	if desc {
		cmp, order = "<", " DESC"
	}
	if after != nil {
		q += ` AND (created_at, id) ` + cmp + ` (?, ?)`
		args = append(args, s.bindTime(after.CreatedAt), after.ID)
	}
	q += ` ORDER BY created_at` + order + `, id` + order + ` LIMIT ?`
	rows, err := queryAll(ctx, s, op, scan, q, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	items, next := page(rows, limit, pos)
	if items == nil {
		items = []T{}
	}
	return items, next, nil
}
