package store_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

// A config check sees the config the update merges into, even under concurrent patches of
// other members: two writers flip methods and tags, the check forbids one combination, and no
// successful write ever stores it. Without the version condition of updateChecked, a write
// checked against a stale config would.
func TestCheckedPatchUnderConcurrency(t *testing.T) {
	t.Run("optimistic", func(t *testing.T) { testCheckedPatchUnderConcurrency(t) })
	t.Run("locked", func(t *testing.T) {
		defer store.SetCheckAttempts(0)() // straight to the transaction with the row lock
		testCheckedPatchUnderConcurrency(t)
	})
}

func testCheckedPatchUnderConcurrency(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		m := f.server(t, "n", store.McpServerConfig{Methods: []string{"list"}, Tags: []string{"contacts"}})
		errForbidden := errors.New("forbidden")
		var checks sync.Map
		check := func(integration string, c store.McpServerConfig) error {
			checks.Store(integration, true)
			if slices.Equal(c.Methods, []string{"search"}) && slices.Equal(c.Tags, []string{"deals"}) {
				return errForbidden
			}
			return nil
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var bad []store.McpServerConfig
		refused := 0
		run := func(patches []store.McpServerPatch) {
			defer wg.Done()
			for i := range 60 {
				p := patches[i%2]
				p.Check = check
				got, err := s.UpdateMcpServer(ctxT(t), f.env, f.account.ID, m.ID, p)
				mu.Lock()
				switch {
				case errors.Is(err, errForbidden):
					refused++
				case err != nil:
					t.Errorf("patch: %v", err)
				case slices.Equal(got.Config.Methods, []string{"search"}) && slices.Equal(got.Config.Tags, []string{"deals"}):
					bad = append(bad, got.Config)
				case p.Methods.Set && !slices.Equal(got.Config.Methods, p.Methods.Value),
					p.Tags.Set && !slices.Equal(got.Config.Tags, p.Tags.Value):
					t.Errorf("a 200 that did not apply its patch (a lost update): %+v after %+v", got.Config, p)
				}
				mu.Unlock()
			}
		}
		set := func(v ...string) store.Field[[]string] { return store.Field[[]string]{Set: true, Value: v} }
		wg.Add(2)
		go run([]store.McpServerPatch{{Methods: set("search")}, {Methods: set("list")}})
		go run([]store.McpServerPatch{{Tags: set("deals")}, {Tags: set("contacts")}})
		wg.Wait()
		if len(bad) > 0 {
			t.Fatalf("%d writes stored the forbidden config", len(bad))
		}
		if _, ok := checks.Load("github"); !ok {
			t.Error("the check never saw the account's integration")
		}
		final, err := s.GetMcpServer(ctxT(t), f.env, f.account.ID, m.ID)
		must(t, err)
		if slices.Equal(final.Config.Methods, []string{"search"}) && slices.Equal(final.Config.Tags, []string{"deals"}) {
			t.Fatal("the forbidden config is stored")
		}
		t.Logf("%d of 120 patches refused by the check", refused)
	})
}

// Expired servers are invisible at once to every read and write, their tokens do not resolve,
// and Sweep removes exactly the expired rows and the call logs past the retention.
func TestExpiryAndSweep(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		live := f.server(t, "live", store.McpServerConfig{ToolExposure: store.ToolExposureDiscovery, RequireAPITokenAuth: true})
		past := time.Now().Add(-time.Second)
		_, hash := store.NewSecret(mcpTokenPrefix)
		gone, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{IntegratedAccountID: f.account.ID, Name: "gone",
			CreatedBy: uuid.New(), TokenHash: hash, ExpiresAt: &past})
		must(t, err)
		if _, err := s.GetMcpServer(ctx, f.env, f.account.ID, gone.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get expired: %v", err)
		}
		if _, err := s.ResolveMcpToken(ctx, hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("resolve expired: %v", err)
		}
		if _, err := s.McpServerByTokenHash(ctx, hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("by token expired: %v", err)
		}
		future := store.Field[time.Time]{Set: true, Value: time.Now().Add(time.Hour)}
		if _, err := s.UpdateMcpServer(ctx, f.env, f.account.ID, gone.ID, store.McpServerPatch{ExpiresAt: future}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revive: %v", err)
		}
		if _, err := s.RotateMcpServerToken(ctx, f.env, f.account.ID, gone.ID, []byte("h"), nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rotate expired: %v", err)
		}
		if _, err := s.DeleteMcpServer(ctx, f.env, f.account.ID, gone.ID, []int64{1}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete expired: %v", err)
		}
		items, _, err := s.ListMcpServers(ctx, f.env, f.account.ID, 10, "")
		must(t, err)
		if len(items) != 1 || items[0].ID != live.ID {
			t.Errorf("list: %+v", items)
		}
		// The bound does not count expired servers.
		_, h2 := store.NewSecret(mcpTokenPrefix)
		if _, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{IntegratedAccountID: f.account.ID, Name: "2",
			CreatedBy: uuid.New(), TokenHash: h2, MaxPerAccount: 2}); err != nil {
			t.Errorf("create at 1 live + 1 expired of 2: %v", err)
		}
		_, h3 := store.NewSecret(mcpTokenPrefix)
		if _, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{IntegratedAccountID: f.account.ID, Name: "3",
			CreatedBy: uuid.New(), TokenHash: h3, MaxPerAccount: 2}); !errors.Is(err, store.ErrLimitReached) {
			t.Errorf("create over the bound: %v", err)
		}

		now := time.Now()
		must(t, s.InsertCallLogs(ctx, []store.CallLog{
			{EnvironmentID: f.env, McpServerID: live.ID, IntegratedAccountID: f.account.ID, Integration: "github",
				McpMethod: "ping", Outcome: store.OutcomeOK, HTTPStatus: 200, RequestID: "new", CreatedAt: now.Add(-time.Hour)},
			{EnvironmentID: f.env, McpServerID: live.ID, IntegratedAccountID: f.account.ID, Integration: "github",
				McpMethod: "ping", Outcome: store.OutcomeOK, HTTPStatus: 200, RequestID: "old", CreatedAt: now.Add(-49 * time.Hour)},
		}))
		r, err := s.Sweep(ctx, now, 48*time.Hour)
		must(t, err)
		if r.ExpiredServers != 1 || r.CallLogs != 1 {
			t.Errorf("sweep: %+v, want 1 server and 1 log", r)
		}
		logs, _, err := s.ListCallLogs(ctx, f.env, store.CallLogFilter{After: now.Add(-72 * time.Hour), Before: now}, 10, "")
		must(t, err)
		if len(logs) != 1 || logs[0].RequestID != "new" {
			t.Errorf("logs after sweep: %+v", logs)
		}
		r, err = s.Sweep(ctx, now, 0) // retention 0 keeps logs
		must(t, err)
		if r != (store.SweepResult{}) {
			t.Errorf("second sweep: %+v", r)
		}
		// The live server kept its config members, which ResolveMcpToken hands the MCP path.
		got, err := s.GetMcpServer(ctx, f.env, f.account.ID, live.ID)
		must(t, err)
		if got.Config.ToolExposure != store.ToolExposureDiscovery || !got.Config.RequireAPITokenAuth {
			t.Errorf("config %+v", got.Config)
		}
	})
}

// One sweep deletes at most SweepBatch × SweepMaxBatches rows per table; the rest go next time.
func TestSweepIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 20,001 rows")
	}
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		n := store.SweepBatch*store.SweepMaxBatches + 1
		old := time.Now().Add(-48 * time.Hour)
		batch := make([]store.CallLog, 0, store.MaxCallLogBatch)
		for i := range n {
			batch = append(batch, store.CallLog{EnvironmentID: f.env, McpServerID: f.account.ID, IntegratedAccountID: f.account.ID,
				Integration: "github", McpMethod: "ping", Outcome: store.OutcomeOK, HTTPStatus: 200, RequestID: "x", CreatedAt: old})
			if len(batch) == cap(batch) || i == n-1 {
				must(t, s.InsertCallLogs(ctx, batch))
				batch = batch[:0]
			}
		}
		r, err := s.Sweep(ctx, time.Now(), time.Hour)
		must(t, err)
		if r.CallLogs != int64(n-1) {
			t.Errorf("first sweep deleted %d, want %d", r.CallLogs, n-1)
		}
		r, err = s.Sweep(ctx, time.Now(), time.Hour)
		must(t, err)
		if r.CallLogs != 1 {
			t.Errorf("second sweep deleted %d, want 1", r.CallLogs)
		}
	})
}
