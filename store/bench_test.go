package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

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

// BenchmarkReadAccount compares one simple read, an integrated account by id, as the store
// runs it (hand-written SELECT, scanned by column) and as GORM would with a model (Take): the
// measurement behind keeping SQL for reads (see the package comment). The store's own
// IntegratedAccount cannot be the model: SQLite keeps times as text, which time.Time does not
// scan, so the model needs a time type of its own (benchTime).
func BenchmarkReadAccount(b *testing.B) {
	for _, kind := range storetest.Kinds() {
		b.Run(kind, func(b *testing.B) {
			s := storetest.OpenStore(b, storetest.Open(b, kind))
			f := newFixture(b, s)
			ctx := context.Background()
			id := f.account.ID
			b.Run("sql", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.GetIntegratedAccount(ctx, f.env, id); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("gorm", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var a accountModel
					err := s.DB().WithContext(ctx).Where("id = ? AND environment_id = ?", id, f.env).Take(&a).Error
					if err != nil || a.ID != id || time.Time(a.CreatedAt).IsZero() {
						b.Fatal(err, a)
					}
				}
			})
		})
	}
}

// accountModel is integrated_accounts as a GORM model.
type accountModel struct {
	ID, EnvironmentID    uuid.UUID
	Integration          string
	TenantID             *string
	Credentials          []byte
	Version              int64
	CreatedAt, UpdatedAt benchTime
}

func (accountModel) TableName() string { return "integrated_accounts" }

// benchTime scans both databases' times (time.Time from pgx, text from SQLite).
type benchTime time.Time

func (t *benchTime) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*t = benchTime(v.UTC())
		return nil
	case string:
		p, err := time.Parse("2006-01-02 15:04:05.999999999-07:00", v)
		*t = benchTime(p.UTC())
		return err
	}
	return fmt.Errorf("benchTime: %T", src)
}

// BenchmarkInsertEnvironment compares one simple insert as the store runs it (hand-written
// INSERT through exec) and as GORM's Create of a model builds it, on PostgreSQL (where a
// time.Time binds as it is; SQLite's text times would need a GORM valuer on the model).
func BenchmarkInsertEnvironment(b *testing.B) {
	s := storetest.OpenStore(b, storetest.Open(b, storetest.Postgres))
	ctx := context.Background()
	var n atomic.Int64
	b.Run("sql", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, err := s.Exec(ctx, `INSERT INTO environments (id, name, created_at) VALUES (?, ?, ?)`,
				uuid.New(), fmt.Sprint("e", n.Add(1)), time.Now().UTC())
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gorm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := environmentModel{ID: uuid.New(), Name: fmt.Sprint("e", n.Add(1)), CreatedAt: time.Now().UTC()}
			if err := s.DB().WithContext(ctx).Create(&e).Error; err != nil {
				b.Fatal(err)
			}
		}
	})
}

// environmentModel is environments as a GORM model.
type environmentModel struct {
	ID        uuid.UUID
	Name      string
	CreatedAt time.Time
}

func (environmentModel) TableName() string { return "environments" }
