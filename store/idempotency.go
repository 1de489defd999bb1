package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// IdempotencyRequest identifies a request made with an Idempotency-Key.
type IdempotencyRequest struct {
	Method, Path string
	// Fingerprint is the caller's digest of what else makes the request the same request
	// (typically a hash of the body); compared byte for byte.
	Fingerprint []byte
}

// IdempotencyRecord is a stored key: the request it was first used with and, once complete,
// its 2xx response.
type IdempotencyRecord struct {
	// Owner is the id of the reservation that holds the key; only it may complete or
	// release the key.
	Owner uuid.UUID
	IdempotencyRequest
	// Completed: the response below is stored; otherwise the first request is still running
	// (pending) and Status, Header and Body are zero.
	Completed bool
	Status    int
	Header    map[string]string
	Body      []byte
	// ExpiresAt is when the key may be used for another request (created_at + ttl).
	ExpiresAt time.Time
	// LockedUntil is when a pending reservation may be taken over by another caller
	// (reserved at + lock): how long a caller that finds it pending should at most wait.
	LockedUntil time.Time
}

const idempotencyColumns = `owner, method, path, fingerprint, status, response_header, response_body,
	expires_at, locked_until, completed_at`

// reserveAttempts bounds the retries when the row a reservation conflicted with is gone by
// the time it is read (released or purged in between).
const reserveAttempts = 3

// ReserveIdempotencyKey claims key for req. If nobody holds it (or the holder's row expired,
// or its reservation is pending past locked_until), it inserts a pending row owned by a new
// owner id and returns (that record, true, nil). Otherwise it returns the existing record
// and false (the caller compares the request, replays a completed response, or waits for a
// pending one and calls again). expires_at = now + ttl, locked_until = now + lock; both
// must be positive. An unknown environment is ErrNotFound.
//
// No transaction: a DELETE of this key's expired or stale row, then INSERT … ON CONFLICT DO
// NOTHING RETURNING, and only if that inserted nothing a SELECT of the holder's row. The
// primary key (environment_id, key) makes exactly one of concurrent callers insert; the
// DELETE only removes rows already expired or stale, never a live reservation.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, env uuid.UUID, key string, req IdempotencyRequest, ttl, lock time.Duration) (IdempotencyRecord, bool, error) {
	const op = "reserve idempotency key"
	switch {
	case key == "":
		return IdempotencyRecord{}, false, errors.New("store: reserve idempotency key: empty key")
	case ttl <= 0 || lock <= 0:
		return IdempotencyRecord{}, false, errors.New("store: reserve idempotency key: ttl and lock must be positive")
	}
	fingerprint := req.Fingerprint
	if fingerprint == nil {
		fingerprint = []byte{}
	}
	for range reserveAttempts {
		t := now()
		if _, err := s.exec(ctx, op,
			`DELETE FROM idempotency_keys WHERE environment_id = ? AND key = ?
			   AND (expires_at <= ? OR (completed_at IS NULL AND locked_until <= ?))`,
			env, key, s.bindTime(t), s.bindTime(t)); err != nil {
			return IdempotencyRecord{}, false, err
		}
		rows, err := writeAll(ctx, s, op, scanIdempotencyRecord,
			`INSERT INTO idempotency_keys (environment_id, key, owner, method, path, fingerprint,
			     created_at, locked_until, expires_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (environment_id, key) DO NOTHING RETURNING `+idempotencyColumns,
			env, key, newID(), req.Method, req.Path, fingerprint,
			s.bindTime(t), s.bindTime(t.Add(lock)), s.bindTime(t.Add(ttl)))
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			return IdempotencyRecord{}, false, ErrNotFound
		}
		if err != nil {
			return IdempotencyRecord{}, false, err
		}
		if len(rows) == 1 {
			return rows[0], true, nil
		}
		rec, err := queryOne(ctx, s, op, scanIdempotencyRecord,
			`SELECT `+idempotencyColumns+` FROM idempotency_keys WHERE environment_id = ? AND key = ?`, env, key)
		if errors.Is(err, ErrNotFound) {
			continue // the holder released it (or it was purged) in between: try again
		}
		if err != nil {
			return IdempotencyRecord{}, false, err
		}
		return rec, false, nil
	}
	return IdempotencyRecord{}, false, fmt.Errorf("store: %s: key kept changing hands, %d attempts", op, reserveAttempts)
}

// CompleteIdempotencyKey stores the 2xx response of the reservation owner, which makes the
// key completed: later reservations get it for replay until it expires. ErrNotFound when
// owner no longer holds a pending reservation of key (it was taken over after
// locked_until, released, expired and purged, or already completed): nothing is stored.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, env uuid.UUID, key string, owner uuid.UUID, status int, header map[string]string, body []byte) error {
	const op = "complete idempotency key"
	if status < 200 || status > 299 {
		return fmt.Errorf("store: %s: status %d is not 2xx", op, status)
	}
	if header == nil {
		header = map[string]string{}
	}
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if body == nil {
		body = []byte{}
	}
	return s.execOne(ctx, op,
		`UPDATE idempotency_keys SET status = ?, response_header = `+s.jsonParam()+`, response_body = ?, completed_at = ?
		 WHERE environment_id = ? AND key = ? AND owner = ? AND completed_at IS NULL`,
		status, string(h), body, s.bindTime(now()), env, key, owner)
}

// ReleaseIdempotencyKey deletes a pending reservation of owner (after a non-2xx response),
// so the key can be used again. ErrNotFound when owner holds no pending reservation of key
// (taken over, expired and purged, or completed); nothing is deleted then, and callers
// releasing after an error may ignore it.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, env uuid.UUID, key string, owner uuid.UUID) error {
	return s.execOne(ctx, "release idempotency key",
		`DELETE FROM idempotency_keys
		 WHERE environment_id = ? AND key = ? AND owner = ? AND completed_at IS NULL`, env, key, owner)
}

// PurgeIdempotencyKeys deletes expired keys (completed or not) of every environment and
// returns how many. Run it periodically; reservations do not depend on it, since an expired
// key is replaced when it is reserved again.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	return s.exec(ctx, "purge idempotency keys",
		`DELETE FROM idempotency_keys WHERE expires_at <= ?`, s.bindTime(now()))
}

func scanIdempotencyRecord(r scanner) (IdempotencyRecord, error) {
	var (
		rec             IdempotencyRecord
		status          sql.NullInt64
		header          nullJSONText
		expires, locked dbTime
		completed       nullDBTime
	)
	err := r.Scan(&rec.Owner, &rec.Method, &rec.Path, &rec.Fingerprint, &status, &header, &rec.Body,
		&expires, &locked, &completed)
	if err != nil {
		return IdempotencyRecord{}, err
	}
	if rec.Fingerprint == nil {
		rec.Fingerprint = []byte{}
	}
	rec.ExpiresAt, rec.LockedUntil = time.Time(expires), time.Time(locked)
	rec.Completed = completed.t != nil
	if rec.Completed {
		rec.Status = int(status.Int64)
		rec.Header = map[string]string{}
		if header.valid {
			if err := json.Unmarshal(header.b, &rec.Header); err != nil {
				return IdempotencyRecord{}, fmt.Errorf("store: stored response header: %w", err)
			}
		}
		if rec.Body == nil {
			rec.Body = []byte{}
		}
	} else {
		rec.Body = nil
	}
	return rec, nil
}

// nullJSONText scans a nullable JSON column (jsonb or JSON text).
type nullJSONText struct {
	b     []byte
	valid bool
}

func (n *nullJSONText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n = nullJSONText{}
	case []byte:
		*n = nullJSONText{b: append([]byte(nil), v...), valid: true}
	case string:
		*n = nullJSONText{b: []byte(v), valid: true}
	default:
		return fmt.Errorf("store: cannot scan %T as JSON", src)
	}
	return nil
}
