package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

// TestInsertCallLogsRoundTrip writes a full batch by each write path of the database (COPY and
// the one-row fallback on PostgreSQL, the one-row INSERT on SQLite) and reads every member
// back: set members as given, empty and nil ones as NULL read back empty and nil, ids and
// times made when unset, batches of every length (one statement shape whatever the length).
func TestInsertCallLogsRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		paths := map[string]func(context.Context, []store.CallLog) error{"InsertCallLogs": s.InsertCallLogs}
		if s.Dialect() == store.DialectPostgres {
			paths["rows fallback"] = s.InsertCallLogRows
		}
		for name, insert := range paths {
			t.Run(name, func(t *testing.T) {
				ctx := ctxT(t)
				f := newFixture(t, s)
				m := f.server(t, "logs", store.McpServerConfig{})
				before := time.Now().Add(-time.Second)
				want := map[string]store.CallLog{}
				for _, n := range []int{1, 7, store.MaxCallLogBatch} {
					batch := callLogBatch(f, m.ID, n)
					for i := range batch {
						batch[i].RequestID = fmt.Sprintf("%d-%d", n, i)
					}
					batch[0].ID = uuid.Must(uuid.NewV7())
					batch[0].CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
					must(t, insert(ctx, batch))
					for _, l := range batch {
						want[l.RequestID] = l
					}
				}
				window := store.CallLogFilter{After: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Before: time.Now().Add(time.Minute)}
				ids := map[uuid.UUID]bool{}
				read, cursor := 0, ""
				for {
					page, next, err := s.ListCallLogs(ctx, f.env, window, store.MaxPageSize, cursor)
					must(t, err)
					for _, g := range page {
						read++
						w, ok := want[g.RequestID]
						if !ok {
							t.Fatalf("read back a call log never written: %+v", g)
						}
						if g.ID == uuid.Nil || ids[g.ID] || (w.ID != uuid.Nil && g.ID != w.ID) {
							t.Errorf("%s: id %v (given %v) missing, repeated or not the given one", g.RequestID, g.ID, w.ID)
						}
						ids[g.ID] = true
						if w.CreatedAt.IsZero() {
							if g.CreatedAt.Before(before) || g.CreatedAt.After(time.Now()) {
								t.Errorf("%s: created_at %v made outside the insert", g.RequestID, g.CreatedAt)
							}
						} else if want := w.CreatedAt.UTC().Truncate(time.Microsecond); g.CreatedAt != want {
							t.Errorf("%s: created_at %v, want %v", g.RequestID, g.CreatedAt, want)
						}
						w.ID, w.CreatedAt = g.ID, g.CreatedAt
						if !sameCallLog(w, g) {
							t.Errorf("read back\n%+v\nwant\n%+v", g, w)
						}
					}
					if next == "" {
						break
					}
					cursor = next
				}
				if read != len(want) {
					t.Errorf("read back %d call logs, want %d", read, len(want))
				}
			})
		}
	})
}

// TestInsertCallLogsAllOrNone: a batch with one row the database refuses (an outcome its CHECK
// constraint does not allow) stores none of its rows, on every write path.
func TestInsertCallLogsAllOrNone(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		paths := map[string]func(context.Context, []store.CallLog) error{"InsertCallLogs": s.InsertCallLogs}
		if s.Dialect() == store.DialectPostgres {
			paths["rows fallback"] = s.InsertCallLogRows
		}
		for name, insert := range paths {
			t.Run(name, func(t *testing.T) {
				ctx := ctxT(t)
				f := newFixture(t, s)
				m := f.server(t, "logs", store.McpServerConfig{})
				batch := callLogBatch(f, m.ID, 20)
				batch[13].Outcome = "not-an-outcome"
				if err := insert(ctx, batch); err == nil {
					t.Fatal("a batch with a refused row was stored")
				}
				page, _, err := s.ListCallLogs(ctx, f.env, store.CallLogFilter{After: time.Now().Add(-time.Hour), Before: time.Now().Add(time.Hour)}, 10, "")
				must(t, err)
				if len(page) != 0 {
					t.Errorf("%d rows of a refused batch were stored", len(page))
				}
			})
		}
	})
}

func sameCallLog(a, b store.CallLog) bool {
	eqInt := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqInt64 := func(x, y *int64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eqInt(a.UpstreamStatus, b.UpstreamStatus) && eqInt64(a.UpstreamDurationMs, b.UpstreamDurationMs) &&
		a.ID == b.ID && a.EnvironmentID == b.EnvironmentID && a.IntegratedAccountID == b.IntegratedAccountID &&
		a.McpServerID == b.McpServerID && a.Integration == b.Integration && a.McpMethod == b.McpMethod &&
		a.ToolName == b.ToolName && a.Outcome == b.Outcome && a.HTTPStatus == b.HTTPStatus &&
		a.DurationMs == b.DurationMs && a.ClientName == b.ClientName && a.ClientVersion == b.ClientVersion &&
		a.RequestID == b.RequestID && a.CreatedAt.Equal(b.CreatedAt)
}
