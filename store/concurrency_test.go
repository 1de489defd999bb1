package store_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

// run starts n goroutines at once and waits for them; the first error fails the test.
func run(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := fn(i); err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// memberPatch is goroutine i's patch of round r: one member, a value nobody else sends.
func memberPatch(i, r int) (store.McpServerPatch, string) {
	v := fmt.Sprintf("g%d-r%d", i, r)
	switch i % 4 {
	case 0:
		return store.McpServerPatch{Name: set(v)}, v
	case 1:
		return store.McpServerPatch{Methods: set([]string{v})}, v
	case 2:
		return store.McpServerPatch{Tags: set([]string{v})}, v
	default:
		t := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i*1000+r) * time.Second)
		return store.McpServerPatch{ExpiresAt: set(t)}, t.Format(time.RFC3339)
	}
}

// Many goroutines patch one server, each one member: no patch is lost (version counts every
// one), and each member ends holding one of the values sent for it.
func TestConcurrentPatchesOfOneServer(t *testing.T) {
	const goroutines, rounds = 52, 4
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		m := f.server(t, "start", store.McpServerConfig{Methods: []string{"start"}, Tags: []string{"start"}})
		var mu sync.Mutex
		sent := map[int][]string{} // member → values sent
		run(t, goroutines, func(i int) error {
			for r := range rounds {
				p, v := memberPatch(i, r)
				got, err := s.UpdateMcpServer(ctxT(t), f.env, f.account.ID, m.ID, p)
				if err != nil {
					return err
				}
				if got.Version < 2 {
					return fmt.Errorf("patch returned version %d", got.Version)
				}
				mu.Lock()
				sent[i%4] = append(sent[i%4], v)
				mu.Unlock()
			}
			return nil
		})
		final := f.get(t, m.ID)
		if final.Version != 1+goroutines*rounds {
			t.Fatalf("version %d after %d changes: patches were lost", final.Version, goroutines*rounds)
		}
		got := []string{final.Name, one(t, final.Config.Methods), one(t, final.Config.Tags), final.ExpiresAt.Format(time.RFC3339)}
		for member, v := range got {
			if !slices.Contains(sent[member], v) {
				t.Errorf("member %d holds %q, which was never sent", member, v)
			}
		}
	})
}

func one(t *testing.T, list []string) string {
	t.Helper()
	if len(list) != 1 {
		t.Fatalf("list %q, want one value", list)
	}
	return list[0]
}

// Fresh servers each patched by one goroutine per member at once: every change is there.
func TestConcurrentPatchesOfDifferentMembers(t *testing.T) {
	const servers = 30
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ids := make([]uuid.UUID, servers)
		for i := range ids {
			ids[i] = f.server(t, "start", store.McpServerConfig{Methods: []string{"start"}}).ID
		}
		exp := ts("2033-03-03T03:03:03.333333Z")
		run(t, servers*4, func(i int) error {
			id := ids[i/4]
			var p store.McpServerPatch
			switch i % 4 {
			case 0:
				p.Name = set(id.String())
			case 1:
				p.Methods = set([]string{"m-" + id.String()})
			case 2:
				p.Tags = set([]string{"t-" + id.String()})
			case 3:
				p.ExpiresAt = set(exp)
			}
			_, err := s.UpdateMcpServer(ctxT(t), f.env, f.account.ID, id, p)
			return err
		})
		for _, id := range ids {
			m := f.get(t, id)
			if m.Name != id.String() || !sameList(m.Config.Methods, []string{"m-" + id.String()}) ||
				!sameList(m.Config.Tags, []string{"t-" + id.String()}) || m.ExpiresAt == nil ||
				!m.ExpiresAt.Equal(exp) || m.Version != 5 {
				t.Fatalf("server %s lost a change: %s", id, show(m))
			}
		}
	})
}

// Many writers of every kind at once never see "database is locked" (or any error).
func TestConcurrentWriters(t *testing.T) {
	const goroutines = 50
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		env, err := s.EnsureEnvironment(ctx, "busy")
		must(t, err)
		run(t, goroutines, func(i int) error {
			if _, err := s.EnsureEnvironment(ctx, fmt.Sprint("env", i%5)); err != nil {
				return err
			}
			_, hash := store.NewSecret(apiTokenPrefix)
			if _, err := s.CreateAPIToken(ctx, "busy", uuid.New(), hash); err != nil {
				return err
			}
			a, err := s.CreateIntegratedAccount(ctx, env, store.NewIntegratedAccount{Integration: "x"})
			if err != nil {
				return err
			}
			var last store.McpServer
			for j := range 3 {
				_, h := store.NewSecret(mcpTokenPrefix)
				last, err = s.CreateMcpServer(ctx, env, store.NewMcpServer{
					IntegratedAccountID: a.ID, Name: fmt.Sprint(j), CreatedBy: uuid.New(), TokenHash: h,
				})
				if err != nil {
					return err
				}
			}
			if _, err := s.UpdateMcpServer(ctx, env, a.ID, last.ID, store.McpServerPatch{Name: set("p"), Tags: set([]string{"t"})}); err != nil {
				return err
			}
			if items, _, err := s.ListMcpServers(ctx, env, a.ID, 10, ""); err != nil || len(items) != 3 {
				return fmt.Errorf("list: %d items, %v", len(items), err)
			}
			if _, err := s.Authenticate(ctx, hash); err != nil {
				return err
			}
			if _, err := s.DeleteMcpServer(ctx, env, a.ID, last.ID, nil); err != nil {
				return err
			}
			if i%2 == 0 {
				_, err := s.DeleteIntegratedAccount(ctx, env, a.ID, []int64{a.Version})
				return err
			}
			return nil
		})
		items, _, err := s.ListIntegratedAccounts(ctx, env, store.MaxPageSize, "")
		must(t, err)
		if len(items) != goroutines/2 {
			t.Fatalf("%d accounts left, want %d", len(items), goroutines/2)
		}
	})
}
