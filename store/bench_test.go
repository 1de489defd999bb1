package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// BenchmarkUpdateMcpServer measures the one-statement PATCH: "serial" is one caller changing
// one server, "parallel" is GOMAXPROCS×4 callers each changing its own server, "noop" is a
// patch that changes nothing. PostgreSQL is skipped when unreachable.
func BenchmarkUpdateMcpServer(b *testing.B) {
	for _, kind := range storetest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			s := storetest.OpenStore(b, storetest.Open(b, kind))
			f := newFixture(b, s)
			ctx := context.Background()
			b.Run("serial", func(b *testing.B) {
				m := f.server(b, "bench", store.McpServerConfig{})
				i := 0
				for b.Loop() {
					i++
					p := store.McpServerPatch{Name: set(fmt.Sprint("n", i)), Tags: set([]string{fmt.Sprint(i)})}
					if _, err := s.UpdateMcpServer(ctx, f.env, f.account.ID, m.ID, p); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("noop", func(b *testing.B) {
				m := f.server(b, "bench", store.McpServerConfig{Tags: []string{"t"}})
				p := store.McpServerPatch{Name: set("bench"), Tags: set([]string{"t"})}
				for b.Loop() {
					if _, err := s.UpdateMcpServer(ctx, f.env, f.account.ID, m.ID, p); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(4)
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					m := f.server(b, "bench", store.McpServerConfig{})
					i := n.Add(1) * 1_000_000_000
					for pb.Next() {
						i++
						p := store.McpServerPatch{Methods: set([]string{fmt.Sprint(i)})}
						if _, err := s.UpdateMcpServer(ctx, f.env, f.account.ID, m.ID, p); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkSQLiteSynchronous measures one acknowledged write (a one-statement PATCH) on the
// embedded SQLite with synchronous=NORMAL (the old setting) and FULL (the default): what
// durability across power loss costs per write.
func BenchmarkSQLiteSynchronous(b *testing.B) {
	for _, level := range []string{"NORMAL", "FULL"} {
		b.Run(level, func(b *testing.B) {
			restore := store.SetSQLiteSynchronous(level)
			s := storetest.OpenStore(b, storetest.Open(b, storetest.SQLite))
			restore()
			f := newFixture(b, s)
			m := f.server(b, "bench", store.McpServerConfig{})
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				if _, err := s.UpdateMcpServer(ctx, f.env, f.account.ID, m.ID, store.McpServerPatch{Name: set(fmt.Sprint("n", i))}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
