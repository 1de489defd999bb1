package store_test

import (
	"bytes"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

const (
	dayTTL  = 24 * time.Hour
	minLock = time.Minute
	tiny    = time.Millisecond
)

func idemReq(body string) store.IdempotencyRequest {
	return store.IdempotencyRequest{Method: "POST", Path: "/integrated-accounts", Fingerprint: []byte("sha:" + body)}
}

// reserve calls ReserveIdempotencyKey and fails the test on an error.
func reserve(t *testing.T, s *store.Store, env uuid.UUID, key string, req store.IdempotencyRequest, ttl, lock time.Duration) (store.IdempotencyRecord, bool) {
	t.Helper()
	rec, ok, err := s.ReserveIdempotencyKey(ctxT(t), env, key, req, ttl, lock)
	must(t, err)
	return rec, ok
}

func sameRequest(t *testing.T, got, want store.IdempotencyRequest) {
	t.Helper()
	if got.Method != want.Method || got.Path != want.Path || !bytes.Equal(got.Fingerprint, want.Fingerprint) {
		t.Fatalf("request %+v, want %+v", got, want)
	}
}

// waitPast sleeps until the database clock (the Go clock, to the microsecond) is past d.
func waitPast(d time.Duration) { time.Sleep(d + 5*time.Millisecond) }

// A reservation is pending until its owner completes it; then every later reservation gets
// the stored response for replay, along with the request it was first used with.
func TestIdempotencyReserveCompleteReplay(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		env, err := s.EnsureEnvironment(ctx, "prod")
		must(t, err)
		req := idemReq("a")
		before := time.Now().UTC()
		rec, ok := reserve(t, s, env, "k1", req, dayTTL, minLock)
		if !ok || rec.Owner == uuid.Nil || rec.Completed || rec.Status != 0 || rec.Header != nil || rec.Body != nil {
			t.Fatalf("first reservation: ok=%v %+v", ok, rec)
		}
		sameRequest(t, rec.IdempotencyRequest, req)
		if rec.ExpiresAt.Location() != time.UTC || rec.ExpiresAt.Before(before.Add(dayTTL).Truncate(time.Microsecond)) ||
			rec.ExpiresAt.After(time.Now().Add(dayTTL)) || rec.ExpiresAt != rec.ExpiresAt.Truncate(time.Microsecond) {
			t.Fatalf("expires at %v, want about now + %v", rec.ExpiresAt, dayTTL)
		}
		if d := rec.ExpiresAt.Sub(rec.LockedUntil); d != dayTTL-minLock {
			t.Fatalf("locked until %v, expires at %v", rec.LockedUntil, rec.ExpiresAt)
		}

		// Pending: another request with the key sees the holder, whatever it asks.
		for _, other := range []store.IdempotencyRequest{req, idemReq("b"), {Method: "DELETE", Path: "/x"}} {
			got, ok := reserve(t, s, env, "k1", other, dayTTL, minLock)
			if ok || got.Owner != rec.Owner || got.Completed || !got.ExpiresAt.Equal(rec.ExpiresAt) {
				t.Fatalf("pending key reserved again: ok=%v %+v", ok, got)
			}
			sameRequest(t, got.IdempotencyRequest, req)
		}

		// Only the owner completes, only with a 2xx, only once.
		header := map[string]string{"Content-Type": "application/json", "Location": "/integrated-accounts/1", "Etag": `"1"`}
		body := []byte(`{"id":"1"}`)
		wantErr(t, s.CompleteIdempotencyKey(ctx, env, "k1", uuid.New(), 201, header, body), store.ErrNotFound)
		wantErr(t, s.CompleteIdempotencyKey(ctx, env, "other", rec.Owner, 201, header, body), store.ErrNotFound)
		if err := s.CompleteIdempotencyKey(ctx, env, "k1", rec.Owner, 500, header, body); err == nil {
			t.Fatal("completed with a 500")
		}
		must(t, s.CompleteIdempotencyKey(ctx, env, "k1", rec.Owner, 201, header, body))
		wantErr(t, s.CompleteIdempotencyKey(ctx, env, "k1", rec.Owner, 200, nil, nil), store.ErrNotFound)
		wantErr(t, s.ReleaseIdempotencyKey(ctx, env, "k1", rec.Owner), store.ErrNotFound)

		for _, other := range []store.IdempotencyRequest{req, idemReq("b")} {
			got, ok := reserve(t, s, env, "k1", other, dayTTL, minLock)
			if ok || got.Owner != rec.Owner || !got.Completed || got.Status != 201 ||
				!maps.Equal(got.Header, header) || !bytes.Equal(got.Body, body) || !got.ExpiresAt.Equal(rec.ExpiresAt) {
				t.Fatalf("replay: ok=%v %+v", ok, got)
			}
			sameRequest(t, got.IdempotencyRequest, req)
		}
		// A completed key outlives its lock: it is replayed until it expires.
		short, ok := reserve(t, s, env, "k2", req, dayTTL, tiny)
		if !ok {
			t.Fatal("k2 not reserved")
		}
		must(t, s.CompleteIdempotencyKey(ctx, env, "k2", short.Owner, 204, nil, nil))
		waitPast(tiny)
		got, ok := reserve(t, s, env, "k2", idemReq("c"), dayTTL, minLock)
		if ok || got.Owner != short.Owner || !got.Completed || got.Status != 204 || got.Header == nil ||
			len(got.Header) != 0 || got.Body == nil || len(got.Body) != 0 {
			t.Fatalf("completed key past its lock: ok=%v %+v", ok, got)
		}
	})
}

// Releasing a pending reservation frees the key; only its owner can, and only while pending.
func TestIdempotencyRelease(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		env, err := s.EnsureEnvironment(ctx, "prod")
		must(t, err)
		first, ok := reserve(t, s, env, "k", idemReq("a"), dayTTL, minLock)
		if !ok {
			t.Fatal("not reserved")
		}
		wantErr(t, s.ReleaseIdempotencyKey(ctx, env, "k", uuid.New()), store.ErrNotFound)
		if _, ok := reserve(t, s, env, "k", idemReq("b"), dayTTL, minLock); ok {
			t.Fatal("a stranger's release freed the key")
		}
		must(t, s.ReleaseIdempotencyKey(ctx, env, "k", first.Owner))
		wantErr(t, s.ReleaseIdempotencyKey(ctx, env, "k", first.Owner), store.ErrNotFound)
		second, ok := reserve(t, s, env, "k", idemReq("b"), dayTTL, minLock)
		if !ok || second.Owner == first.Owner {
			t.Fatalf("after release: ok=%v owner %s (first %s)", ok, second.Owner, first.Owner)
		}
		sameRequest(t, second.IdempotencyRequest, idemReq("b"))
		wantErr(t, s.CompleteIdempotencyKey(ctx, env, "k", first.Owner, 200, nil, nil), store.ErrNotFound)
		must(t, s.CompleteIdempotencyKey(ctx, env, "k", second.Owner, 200, nil, []byte("ok")))
	})
}

// Concurrent reservations of one key: exactly one wins and the others all see it; the same
// holds when the key they race for is expired or stale.
func TestIdempotencyConcurrentReserve(t *testing.T) {
	const goroutines = 20
	cases := []struct {
		name string
		// prepare leaves the key in some state before the race.
		prepare func(t *testing.T, s *store.Store, env uuid.UUID, key string)
	}{
		{"new key", func(*testing.T, *store.Store, uuid.UUID, string) {}},
		{"expired key", func(t *testing.T, s *store.Store, env uuid.UUID, key string) {
			rec, _ := reserve(t, s, env, key, idemReq("old"), tiny, tiny)
			must(t, s.CompleteIdempotencyKey(ctxT(t), env, key, rec.Owner, 200, nil, nil))
			waitPast(tiny)
		}},
		{"stale pending key", func(t *testing.T, s *store.Store, env uuid.UUID, key string) {
			reserve(t, s, env, key, idemReq("old"), dayTTL, tiny)
			waitPast(tiny)
		}},
	}
	forEachStore(t, func(t *testing.T, s *store.Store) {
		env, err := s.EnsureEnvironment(ctxT(t), "prod")
		must(t, err)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				key := "race-" + uuid.NewString()
				c.prepare(t, s, env, key)
				var (
					mu     sync.Mutex
					owners = map[uuid.UUID]int{}
					wins   []int
				)
				run(t, goroutines, func(i int) error {
					rec, ok, err := s.ReserveIdempotencyKey(ctxT(t), env, key, idemReq(fmt.Sprint(i)), dayTTL, minLock)
					if err != nil {
						return err
					}
					mu.Lock()
					defer mu.Unlock()
					owners[rec.Owner]++
					if ok {
						wins = append(wins, i)
					}
					return nil
				})
				if len(wins) != 1 || len(owners) != 1 {
					t.Fatalf("%d reservations won (%v), %d owners seen; want exactly one", len(wins), wins, len(owners))
				}
				rec, ok := reserve(t, s, env, key, idemReq("late"), dayTTL, minLock)
				if ok || rec.Completed || owners[rec.Owner] != goroutines {
					t.Fatalf("after the race: ok=%v %+v", ok, rec)
				}
				sameRequest(t, rec.IdempotencyRequest, idemReq(fmt.Sprint(wins[0])))
			})
		}
	})
}

// An expired key, completed or not, is free again.
func TestIdempotencyExpiredKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		env, err := s.EnsureEnvironment(ctx, "prod")
		must(t, err)
		for _, complete := range []bool{true, false} {
			key := fmt.Sprint("k-", complete)
			old, ok := reserve(t, s, env, key, idemReq("a"), tiny, minLock)
			if !ok {
				t.Fatal("not reserved")
			}
			if complete {
				must(t, s.CompleteIdempotencyKey(ctx, env, key, old.Owner, 201, nil, []byte("old")))
			}
			waitPast(tiny)
			rec, ok := reserve(t, s, env, key, idemReq("b"), dayTTL, minLock)
			if !ok || rec.Owner == old.Owner || rec.Completed {
				t.Fatalf("expired key (completed %v): ok=%v %+v", complete, ok, rec)
			}
			sameRequest(t, rec.IdempotencyRequest, idemReq("b"))
			wantErr(t, s.CompleteIdempotencyKey(ctx, env, key, old.Owner, 200, nil, nil), store.ErrNotFound)
		}
	})
}

// A reservation pending past its lock (its request died) is taken over; its old owner can
// then neither complete nor release it.
func TestIdempotencyStalePending(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		env, err := s.EnsureEnvironment(ctx, "prod")
		must(t, err)
		old, ok := reserve(t, s, env, "k", idemReq("a"), dayTTL, tiny)
		if !ok {
			t.Fatal("not reserved")
		}
		waitPast(tiny)
		rec, ok := reserve(t, s, env, "k", idemReq("b"), dayTTL, minLock)
		if !ok || rec.Owner == old.Owner {
			t.Fatalf("stale reservation not taken over: ok=%v %+v", ok, rec)
		}
		sameRequest(t, rec.IdempotencyRequest, idemReq("b"))
		wantErr(t, s.CompleteIdempotencyKey(ctx, env, "k", old.Owner, 201, nil, []byte("old")), store.ErrNotFound)
		wantErr(t, s.ReleaseIdempotencyKey(ctx, env, "k", old.Owner), store.ErrNotFound)
		// The new reservation is live: not taken over, and its owner completes it.
		if again, ok := reserve(t, s, env, "k", idemReq("c"), dayTTL, minLock); ok || again.Owner != rec.Owner {
			t.Fatalf("live reservation taken over: ok=%v %+v", ok, again)
		}
		must(t, s.CompleteIdempotencyKey(ctx, env, "k", rec.Owner, 201, nil, []byte("new")))
		got, _ := reserve(t, s, env, "k", idemReq("c"), dayTTL, minLock)
		if !got.Completed || got.Owner != rec.Owner || string(got.Body) != "new" {
			t.Fatalf("replay %+v", got)
		}
	})
}

// Purge deletes expired keys of every environment, completed or not, and only those.
func TestIdempotencyPurge(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		envA, err := s.EnsureEnvironment(ctx, "a")
		must(t, err)
		envB, err := s.EnsureEnvironment(ctx, "b")
		must(t, err)
		n, err := s.PurgeIdempotencyKeys(ctx)
		must(t, err)
		if n != 0 {
			t.Fatalf("purged %d from an empty table", n)
		}
		for i, c := range []struct {
			env      uuid.UUID
			ttl      time.Duration
			complete bool
		}{
			{envA, tiny, false}, {envA, tiny, true}, {envB, tiny, false},
			{envA, dayTTL, false}, {envB, dayTTL, true},
		} {
			rec, _ := reserve(t, s, c.env, fmt.Sprint("k", i), idemReq("a"), c.ttl, minLock)
			if c.complete {
				must(t, s.CompleteIdempotencyKey(ctx, c.env, fmt.Sprint("k", i), rec.Owner, 200, nil, nil))
			}
		}
		waitPast(tiny)
		n, err = s.PurgeIdempotencyKeys(ctx)
		must(t, err)
		if n != 3 {
			t.Fatalf("purged %d, want 3", n)
		}
		n, err = s.PurgeIdempotencyKeys(ctx)
		must(t, err)
		if n != 0 {
			t.Fatalf("purged %d again", n)
		}
		var left int64
		must(t, s.DB().WithContext(ctx).Raw("SELECT count(*) FROM idempotency_keys").Scan(&left).Error)
		if left != 2 {
			t.Fatalf("%d keys left, want 2", left)
		}
		if rec, ok := reserve(t, s, envB, "k4", idemReq("x"), dayTTL, minLock); ok || !rec.Completed {
			t.Fatalf("live key purged: ok=%v %+v", ok, rec)
		}
	})
}

// Keys are per environment: the same key reserves in each, independently.
func TestIdempotencyKeysPerEnvironment(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		envA, err := s.EnsureEnvironment(ctx, "a")
		must(t, err)
		envB, err := s.EnsureEnvironment(ctx, "b")
		must(t, err)
		a, okA := reserve(t, s, envA, "same", idemReq("a"), dayTTL, minLock)
		b, okB := reserve(t, s, envB, "same", idemReq("b"), dayTTL, minLock)
		if !okA || !okB || a.Owner == b.Owner {
			t.Fatalf("per environment: %v %v, owners %s %s", okA, okB, a.Owner, b.Owner)
		}
		wantErr(t, s.CompleteIdempotencyKey(ctx, envB, "same", a.Owner, 200, nil, nil), store.ErrNotFound)
		wantErr(t, s.ReleaseIdempotencyKey(ctx, envB, "same", a.Owner), store.ErrNotFound)
		must(t, s.CompleteIdempotencyKey(ctx, envA, "same", a.Owner, 200, nil, []byte("A")))
		gotB, _ := reserve(t, s, envB, "same", idemReq("x"), dayTTL, minLock)
		if gotB.Completed || gotB.Owner != b.Owner {
			t.Fatalf("env b sees %+v", gotB)
		}
		must(t, s.ReleaseIdempotencyKey(ctx, envB, "same", b.Owner))
		gotA, _ := reserve(t, s, envA, "same", idemReq("x"), dayTTL, minLock)
		if !gotA.Completed || string(gotA.Body) != "A" {
			t.Fatalf("env a sees %+v", gotA)
		}
	})
}

func TestIdempotencyReserveRefuses(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		env, err := s.EnsureEnvironment(ctx, "prod")
		must(t, err)
		_, _, err = s.ReserveIdempotencyKey(ctx, uuid.New(), "k", idemReq("a"), dayTTL, minLock)
		wantErr(t, err, store.ErrNotFound)
		for _, c := range []struct {
			key       string
			ttl, lock time.Duration
		}{{"", dayTTL, minLock}, {"k", 0, minLock}, {"k", dayTTL, 0}, {"k", -time.Second, minLock}} {
			if _, _, err := s.ReserveIdempotencyKey(ctx, env, c.key, idemReq("a"), c.ttl, c.lock); err == nil {
				t.Errorf("reserved key %q ttl %v lock %v", c.key, c.ttl, c.lock)
			}
		}
		// No fingerprint is an empty one.
		rec, ok := reserve(t, s, env, "k", store.IdempotencyRequest{Method: "DELETE", Path: "/x"}, dayTTL, minLock)
		if !ok || rec.Fingerprint == nil || len(rec.Fingerprint) != 0 {
			t.Fatalf("nil fingerprint: ok=%v %+v", ok, rec)
		}
	})
}
