package store_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// callLogBatch is n call logs as the writer hands them over: ids and times unset (the store
// makes them), the optional members set on every other row, every third row not a tool call
// (no tool name).
func callLogBatch(f fixture, server uuid.UUID, n int) []store.CallLog {
	batch := make([]store.CallLog, n)
	status, upstream := 200, int64(12)
	for i := range batch {
		l := store.CallLog{
			EnvironmentID: f.env, IntegratedAccountID: f.account.ID, McpServerID: server,
			Integration: "github", McpMethod: "tools/call", ToolName: "list_repos",
			Outcome: store.OutcomeOK, HTTPStatus: 200, DurationMs: 15,
			RequestID: fmt.Sprintf("req-%d", i),
		}
		if i%3 == 1 {
			l.McpMethod, l.ToolName = "initialize", ""
		}
		if i%2 == 0 {
			l.UpstreamStatus, l.UpstreamDurationMs = &status, &upstream
			l.ClientName, l.ClientVersion = "bench-client", "1.0.0"
		}
		batch[i] = l
	}
	return batch
}

// BenchmarkInsertCallLogs measures one batch of store.MaxCallLogBatch (500) call logs, the
// call-log writer's full batch, on each database; cpu-ns/op is this process's CPU (user and
// system) per batch, the part of the cost that competes with tool calls for mcpapi's cores
// (with SQLite, all of it; with PostgreSQL, the database's own work is elsewhere).
func BenchmarkInsertCallLogs(b *testing.B) {
	for _, kind := range storetest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			s := storetest.OpenStore(b, storetest.Open(b, kind))
			f := newFixture(b, s)
			m := f.server(b, "bench", store.McpServerConfig{})
			batch := callLogBatch(f, m.ID, store.MaxCallLogBatch)
			ctx := context.Background()
			b.ReportAllocs()
			cpu := processCPU(b)
			for b.Loop() {
				if err := s.InsertCallLogs(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time (user and system) this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
