package calllog_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpapi/mcpapi/server/calllog"
	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// sink records the batches it is given; gate, when set, holds every insert until it is closed.
type sink struct {
	mu      sync.Mutex
	batches [][]store.CallLog
	gate    chan struct{}
	err     error
	got     chan int // receives each batch's size
}

func newSink() *sink { return &sink{got: make(chan int, 100)} }

func (s *sink) InsertCallLogs(ctx context.Context, logs []store.CallLog) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	s.batches = append(s.batches, append([]store.CallLog(nil), logs...))
	s.mu.Unlock()
	s.got <- len(logs)
	return s.err
}

func (s *sink) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.batches {
		out = append(out, len(b))
	}
	return out
}

func entry(i int) store.CallLog {
	return store.CallLog{EnvironmentID: uuid.New(), McpServerID: uuid.New(), IntegratedAccountID: uuid.New(),
		Integration: "crm", McpMethod: "tools/call", ToolName: "list_crm_contacts", Outcome: store.OutcomeOK,
		HTTPStatus: 200, DurationMs: int64(i), RequestID: "r"}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func wait(t *testing.T, c chan int) int {
	t.Helper()
	select {
	case n := <-c:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no batch was written")
		return 0
	}
}

// A full batch is written at once, without waiting for the interval; the rest on Close.
func TestBatchesAndFlushOnClose(t *testing.T) {
	s := newSink()
	w := calllog.New(s, calllog.Options{Batch: 3, FlushInterval: time.Hour, Logger: quiet()})
	for i := range 7 {
		w.Record(entry(i))
	}
	if a, b := wait(t, s.got), wait(t, s.got); a != 3 || b != 3 {
		t.Fatalf("batches %d, %d; want 3, 3", a, b)
	}
	select {
	case n := <-s.got:
		t.Fatalf("a batch of %d was written before the interval or Close", n)
	case <-time.After(100 * time.Millisecond):
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.sizes(); len(got) != 3 || got[2] != 1 {
		t.Fatalf("batches %v, want [3 3 1]", got)
	}
	// Entries keep their order; after Close, Record drops.
	if s.batches[2][0].DurationMs != 6 {
		t.Errorf("last entry %+v", s.batches[2][0])
	}
	w.Record(entry(8))
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.sizes()) != 3 {
		t.Error("an entry recorded after Close was written")
	}
}

// A lone entry is written within the flush interval.
func TestFlushInterval(t *testing.T) {
	s := newSink()
	w := calllog.New(s, calllog.Options{FlushInterval: 50 * time.Millisecond, Logger: quiet()})
	defer func() { _ = w.Close(context.Background()) }()
	start := time.Now()
	w.Record(entry(1))
	if n := wait(t, s.got); n != 1 {
		t.Fatalf("batch of %d", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("written after %v, want within the 50 ms interval (plus scheduling)", d)
	}
}

// When the buffer is full, Record drops at once (it never blocks) and counts each drop; failed
// writes and invalid entries are counted too.
func TestDropsAreCounted(t *testing.T) {
	s := newSink()
	s.gate = make(chan struct{})
	reg := prometheus.NewRegistry()
	w := calllog.New(s, calllog.Options{Buffer: 2, Batch: 1, FlushInterval: time.Hour, Logger: quiet(), Registerer: reg})
	w.Record(entry(0)) // taken by the writer, which then blocks in the insert
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	for i := range 10 {
		w.Record(entry(i))
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Record blocked for %v with a stuck database", d)
	}
	dropped := func(reason string) float64 { return counter(t, reg, "mcpapi_call_logs_dropped_total", reason) }
	if got := dropped(calllog.DropBufferFull); got != 8 {
		t.Errorf("dropped (buffer full) %v, want 8 (10 recorded, 2 buffered)", got)
	}
	bad := entry(0)
	bad.Outcome = "maybe"
	w.Record(bad)
	if got := dropped(calllog.DropInvalid); got != 1 {
		t.Errorf("dropped (invalid) %v, want 1", got)
	}
	s.err = errors.New("database down")
	close(s.gate)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := dropped(calllog.DropWriteError); got != 3 {
		t.Errorf("dropped (write error) %v, want 3 (the three batches that failed)", got)
	}
	w.Record(entry(0))
	if got := dropped(calllog.DropClosed); got != 1 {
		t.Errorf("dropped (closed) %v, want 1", got)
	}
	if got := counter(t, reg, "mcpapi_call_logs_written_total", ""); got != 0 {
		t.Errorf("written %v, want 0", got)
	}
}

// counter is the value of the series of a counter with reason (or the unlabelled counter).
func counter(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" && lp.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{reason=%q}", name, reason)
	return 0
}

// Free text from clients is cut to 128 bytes, on a rune boundary.
func TestTruncates(t *testing.T) {
	s := newSink()
	w := calllog.New(s, calllog.Options{Logger: quiet()})
	e := entry(0)
	e.ClientName = strings.Repeat("é", 100) // 200 bytes
	w.Record(e)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := s.batches[0][0].ClientName
	if len(got) != 128 || !strings.HasPrefix(e.ClientName, got) {
		t.Errorf("client name of %d bytes: %q", len(got), got)
	}
}

// Through a real store, on both databases: what is recorded is what is read back, nothing else.
func TestWritesToStore(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		env, err := st.EnsureEnvironment(ctx, "calllog")
		if err != nil {
			t.Fatal(err)
		}
		w := calllog.New(st, calllog.Options{Batch: 4, FlushInterval: 20 * time.Millisecond, Logger: quiet()})
		up, upd := 502, int64(7)
		base := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
		for i := range 10 {
			e := entry(i)
			e.EnvironmentID, e.CreatedAt = env, base.Add(time.Duration(i)*time.Second)
			if i == 9 {
				e.Outcome, e.UpstreamStatus, e.UpstreamDurationMs, e.ClientName, e.ClientVersion = store.OutcomeUpstreamError, &up, &upd, "claude", "1.0"
			}
			w.Record(e)
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		logs, next, err := st.ListCallLogs(ctx, env, store.CallLogFilter{After: base.Add(-time.Hour), Before: time.Now()}, 100, "")
		if err != nil || next != "" || len(logs) != 10 {
			t.Fatalf("read %d logs, next %q: %v", len(logs), next, err)
		}
		l := logs[0] // newest first
		if l.DurationMs != 9 || l.Outcome != store.OutcomeUpstreamError || *l.UpstreamStatus != 502 || *l.UpstreamDurationMs != 7 ||
			l.ClientName != "claude" || l.ClientVersion != "1.0" || !l.CreatedAt.Equal(base.Add(9*time.Second)) || l.ID == uuid.Nil {
			t.Errorf("read back %+v", l)
		}
		if logs[9].UpstreamStatus != nil || logs[9].ClientName != "" || logs[9].ToolName != "list_crm_contacts" {
			t.Errorf("oldest %+v", logs[9])
		}
	})
}

// nopSink takes every batch and does nothing, so BenchmarkRecord measures the writer alone.
type nopSink struct{}

func (nopSink) InsertCallLogs(context.Context, []store.CallLog) error { return nil }

// BenchmarkRecord is what one call pays to record its entry, with GOMAXPROCS×8 callers
// recording at once (the writer's goroutine and the channel shared by all).
func BenchmarkRecord(b *testing.B) {
	w := calllog.New(nopSink{}, calllog.Options{Logger: quiet()})
	defer func() { _ = w.Close(context.Background()) }()
	e := entry(0)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Record(e)
		}
	})
}
