// Package calllog records MCP calls off the request path: Record puts an entry in a bounded
// buffer and returns at once; one goroutine writes the buffer to the store in batches, when a
// batch is full and at least every FlushInterval. When the buffer is full, or a batch cannot be
// written, entries are dropped and counted: call logs are best-effort, tool calls never wait
// for them.
//
// The writer does not wait on the buffer itself: a receiver parked on a channel is woken by
// every send, so each tool call would wake it (a scheduler round trip per call, on the cores
// the calls need). It sleeps until the interval ends or until Record sees a full batch
// waiting, then takes the entries in batches.
package calllog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpapi/mcpapi/store"
)

// Defaults of Options.
const (
	DefaultBuffer        = 10000
	DefaultBatch         = store.MaxCallLogBatch
	DefaultFlushInterval = time.Second
	// writeTimeout bounds one batch insert, so a stuck database cannot stall the writer forever.
	writeTimeout = 10 * time.Second
	// maxText bounds every free-text member of an entry (tool, method, client name and version,
	// request id): they come from clients.
	maxText = 128
)

// Sink stores a batch of entries; *store.Store is one.
type Sink interface {
	InsertCallLogs(ctx context.Context, logs []store.CallLog) error
}

// Options tune a Writer; zero members take the defaults.
type Options struct {
	Buffer        int           // entries waiting at most (beyond it, Record drops)
	Batch         int           // entries per insert at most (≤ store.MaxCallLogBatch)
	FlushInterval time.Duration // longest time an entry waits before its batch is written
	Logger        *slog.Logger
	Registerer    prometheus.Registerer // where the counters go; nil: not registered
}

// Writer buffers entries and writes them in batches. Its methods are safe for concurrent use.
type Writer struct {
	sink    Sink
	opts    Options
	ch      chan store.CallLog
	kick    chan struct{} // a full batch is waiting (capacity 1: one wake-up pending at most)
	kickAt  int           // entries buffered that make a full batch: Batch, or Buffer if smaller
	closed  atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	written prometheus.Counter
	dropped *prometheus.CounterVec
}

// Drop reasons (the label of mcpapi_call_logs_dropped_total).
const (
	DropBufferFull = "buffer_full"
	DropWriteError = "write_error"
	DropInvalid    = "invalid"
	DropClosed     = "closed"
)

// New starts a Writer on sink; Close stops it.
func New(sink Sink, opts Options) *Writer {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Batch <= 0 || opts.Batch > store.MaxCallLogBatch {
		opts.Batch = DefaultBatch
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Writer{
		sink: sink, opts: opts,
		ch:   make(chan store.CallLog, opts.Buffer),
		kick: make(chan struct{}, 1), kickAt: min(opts.Batch, opts.Buffer),
		stop: make(chan struct{}), done: make(chan struct{}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mcpapi_call_logs_written_total",
			Help: "MCP call log entries written to the database.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpapi_call_logs_dropped_total",
			Help: "MCP call log entries dropped, by reason: buffer_full, write_error, invalid, closed.",
		}, []string{"reason"}),
	}
	for _, r := range []string{DropBufferFull, DropWriteError, DropInvalid, DropClosed} {
		w.dropped.WithLabelValues(r) // present at 0 from the start
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(w.written, w.dropped)
	}
	go w.run()
	return w
}

// Record queues one entry without blocking; it is dropped (and counted) when the buffer is
// full, when the writer is closed, or when the entry is not valid (unknown outcome, no ids).
// Free-text members are cut to 128 bytes. CreatedAt zero means now.
func (w *Writer) Record(e store.CallLog) {
	if w.closed.Load() {
		w.dropped.WithLabelValues(DropClosed).Inc()
		return
	}
	if !store.ValidOutcome(e.Outcome) || e.EnvironmentID == [16]byte{} || e.McpServerID == [16]byte{} {
		w.dropped.WithLabelValues(DropInvalid).Inc()
		return
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now()
	}
	for _, s := range []*string{&e.Integration, &e.McpMethod, &e.ToolName, &e.ClientName, &e.ClientVersion, &e.RequestID} {
		*s = truncate(*s, maxText)
	}
	select {
	case w.ch <- e:
	default:
		w.dropped.WithLabelValues(DropBufferFull).Inc()
		return
	}
	if len(w.ch) >= w.kickAt {
		select {
		case w.kick <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Close stops accepting entries, writes what is buffered (within ctx), and returns when the
// writer has stopped or ctx ends. It may be called more than once.
func (w *Writer) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.closed.Store(true)
		close(w.stop)
	})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes full batches when kicked, everything buffered on the tick and on Close.
func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.opts.FlushInterval)
	defer tick.Stop()
	batch := make([]store.CallLog, 0, w.opts.Batch)
	for {
		select {
		case <-w.kick:
			batch = w.drain(batch, true)
		case <-tick.C:
			batch = w.drain(batch, false)
		case <-w.stop:
			w.drain(batch, false)
			return
		}
	}
}

// drain writes the buffered entries in batches of at most Batch, in order; fullOnly leaves a
// last partial batch in the buffer for the tick. It returns batch (emptied) for reuse.
func (w *Writer) drain(batch []store.CallLog, fullOnly bool) []store.CallLog {
	for !fullOnly || len(w.ch) >= w.kickAt {
	fill:
		for len(batch) < w.opts.Batch {
			select {
			case e := <-w.ch:
				batch = append(batch, e)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return batch
		}
		w.flush(batch)
		batch = batch[:0]
	}
	return batch
}

// flush writes one batch and counts it as written or dropped.
func (w *Writer) flush(batch []store.CallLog) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	err := w.sink.InsertCallLogs(ctx, batch)
	cancel()
	if err != nil {
		w.dropped.WithLabelValues(DropWriteError).Add(float64(len(batch)))
		w.opts.Logger.Warn("call log batch dropped", "entries", len(batch), "error", err)
		return
	}
	w.written.Add(float64(len(batch)))
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
