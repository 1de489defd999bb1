package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

// conditionalOp is one conditional write (If-Match) under test.
type conditionalOp struct {
	name string
	// setup makes a fresh row and returns its id and version.
	setup func(t *testing.T, f fixture) (uuid.UUID, int64)
	// do runs the write on id and returns the id and version of the row it returned.
	do func(t *testing.T, f fixture, id uuid.UUID, ifMatch []int64, i int) (uuid.UUID, int64, error)
	// version reads the stored version of id, or ErrNotFound.
	version func(t *testing.T, f fixture, id uuid.UUID) (int64, error)
	// deletes: a successful write returns the row as it was and removes it; otherwise it
	// returns the row with version + 1.
	deletes bool
}

// serverAtVersion2 is a fresh MCP server that has been changed once, so that version 1 is a
// stale version and version 3 one that does not exist yet.
func serverAtVersion2(t *testing.T, f fixture) (uuid.UUID, int64) {
	m := f.server(t, "n", store.McpServerConfig{})
	m, err := f.patch(t, m.ID, store.McpServerPatch{Name: set("changed")})
	must(t, err)
	return m.ID, m.Version
}

func serverVersion(t *testing.T, f fixture, id uuid.UUID) (int64, error) {
	m, err := f.s.GetMcpServer(ctxT(t), f.env, f.account.ID, id)
	return m.Version, err
}

var conditionalOps = []conditionalOp{
	{
		name:  "update",
		setup: serverAtVersion2,
		do: func(t *testing.T, f fixture, id uuid.UUID, ifMatch []int64, i int) (uuid.UUID, int64, error) {
			m, err := current(f.patch(t, id, store.McpServerPatch{Name: set(fmt.Sprint("w", i)), Tags: set([]string{fmt.Sprint(i)}), IfMatch: ifMatch}))
			return m.ID, m.Version, err
		},
		version: serverVersion,
	},
	{
		name:  "rotate",
		setup: serverAtVersion2,
		do: func(t *testing.T, f fixture, id uuid.UUID, ifMatch []int64, _ int) (uuid.UUID, int64, error) {
			_, hash := store.NewSecret(mcpTokenPrefix)
			m, err := current(f.s.RotateMcpServerToken(ctxT(t), f.env, f.account.ID, id, hash, ifMatch))
			return m.ID, m.Version, err
		},
		version: serverVersion,
	},
	{
		name:  "delete server",
		setup: serverAtVersion2,
		do: func(t *testing.T, f fixture, id uuid.UUID, ifMatch []int64, _ int) (uuid.UUID, int64, error) {
			m, err := current(f.s.DeleteMcpServer(ctxT(t), f.env, f.account.ID, id, ifMatch))
			return m.ID, m.Version, err
		},
		version: serverVersion,
		deletes: true,
	},
	{
		name: "delete account",
		setup: func(t *testing.T, f fixture) (uuid.UUID, int64) {
			a, err := f.s.CreateIntegratedAccount(ctxT(t), f.env, store.NewIntegratedAccount{Integration: "slack"})
			must(t, err)
			return a.ID, a.Version
		},
		do: func(t *testing.T, f fixture, id uuid.UUID, ifMatch []int64, _ int) (uuid.UUID, int64, error) {
			a, err := current(f.s.DeleteIntegratedAccount(ctxT(t), f.env, id, ifMatch))
			return a.ID, a.Version, err
		},
		version: func(t *testing.T, f fixture, id uuid.UUID) (int64, error) {
			a, err := f.s.GetIntegratedAccount(ctxT(t), f.env, id)
			return a.Version, err
		},
		deletes: true,
	},
}

// Every conditional write: nil is unconditional, a list containing the stored version
// applies, any other list (the empty one included) changes nothing and returns the current
// row in a *VersionMismatchError, and a missing row is ErrNotFound whatever the list.
func TestIfMatch(t *testing.T) {
	cases := []struct {
		name    string
		missing bool
		ifMatch func(v int64) []int64
		want    error
	}{
		{"nil is unconditional", false, func(int64) []int64 { return nil }, nil},
		{"match", false, func(v int64) []int64 { return []int64{v} }, nil},
		{"match among several", false, func(v int64) []int64 { return []int64{v + 7, v - 1, v} }, nil},
		{"stale version", false, func(v int64) []int64 { return []int64{v - 1} }, store.ErrVersionMismatch},
		{"future versions", false, func(v int64) []int64 { return []int64{v + 1, v + 2} }, store.ErrVersionMismatch},
		{"empty list never matches", false, func(int64) []int64 { return []int64{} }, store.ErrVersionMismatch},
		{"not found beats mismatch", true, func(v int64) []int64 { return []int64{v + 1} }, store.ErrNotFound},
		{"not found with empty list", true, func(int64) []int64 { return []int64{} }, store.ErrNotFound},
		{"not found with match", true, func(v int64) []int64 { return []int64{v} }, store.ErrNotFound},
		{"not found unconditional", true, func(int64) []int64 { return nil }, store.ErrNotFound},
	}
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		for _, op := range conditionalOps {
			for _, c := range cases {
				t.Run(op.name+"/"+c.name, func(t *testing.T) {
					id, v := op.setup(t, f)
					target := id
					if c.missing {
						target = uuid.New()
					}
					gotID, gotVersion, err := op.do(t, f, target, c.ifMatch(v), 0)
					wantErr(t, err, c.want)
					stored, storedErr := op.version(t, f, id)
					switch {
					case c.want == nil && op.deletes:
						if gotID != id || gotVersion != v {
							t.Errorf("returned %s v%d, want the deleted row %s v%d", gotID, gotVersion, id, v)
						}
						wantErr(t, storedErr, store.ErrNotFound)
					case c.want == nil:
						must(t, storedErr)
						if gotID != id || gotVersion != v+1 || stored != v+1 {
							t.Errorf("returned %s v%d, stored v%d; want %s v%d", gotID, gotVersion, stored, id, v+1)
						}
					case errors.Is(c.want, store.ErrVersionMismatch):
						must(t, storedErr)
						if gotID != id || gotVersion != v || stored != v {
							t.Errorf("mismatch returned %s v%d, stored v%d; want the current row %s v%d", gotID, gotVersion, stored, id, v)
						}
					default: // not found: nothing returned, the other row untouched
						must(t, storedErr)
						if gotID != uuid.Nil || stored != v {
							t.Errorf("not found returned %s, stored v%d (want v%d)", gotID, stored, v)
						}
					}
				})
			}
		}
	})
}

// PATCH with If-Match: a mismatch returns the whole current row, whether or not the patch
// would have changed anything; a matching no-op returns the stored row unchanged.
func TestPatchIfMatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		m := f.server(t, "n", store.McpServerConfig{Tags: []string{"t"}})
		got, err := f.patch(t, m.ID, store.McpServerPatch{Name: set("a"), IfMatch: []int64{m.Version}})
		must(t, err)
		if got.Version != m.Version+1 || got.Name != "a" {
			t.Fatalf("matching version: %s", show(got))
		}
		for i, p := range []store.McpServerPatch{
			{Name: set("b"), IfMatch: []int64{m.Version}}, // stale: a change
			{Name: set("a"), IfMatch: []int64{m.Version}}, // stale: would be a no-op
			{IfMatch: []int64{m.Version}},                 // stale: nothing to change
			{IfMatch: []int64{}},                          // empty list, nothing to change
			{Name: set("b"), IfMatch: []int64{}},          // empty list, a change
			{Name: set("b"), IfMatch: []int64{got.Version + 5, m.Version}},
			{Methods: null[[]string](), Tags: set([]string{"x"}), IfMatch: []int64{0}},
		} {
			cur, err := current(f.patch(t, m.ID, p))
			if !errors.Is(err, store.ErrVersionMismatch) {
				t.Fatalf("patch %d: error %v, want ErrVersionMismatch", i, err)
			}
			sameServer(t, cur, got)
		}
		sameServer(t, f.get(t, m.ID), got)
		noop, err := f.patch(t, m.ID, store.McpServerPatch{Name: set("a"), IfMatch: []int64{got.Version}})
		must(t, err)
		sameServer(t, noop, got)
		noop, err = f.patch(t, m.ID, store.McpServerPatch{IfMatch: []int64{1, got.Version}})
		must(t, err)
		sameServer(t, noop, got)
		_, err = f.patch(t, uuid.New(), store.McpServerPatch{Name: set("b"), IfMatch: []int64{1}})
		wantErr(t, err, store.ErrNotFound)
		_, err = f.patch(t, uuid.New(), store.McpServerPatch{IfMatch: []int64{}})
		wantErr(t, err, store.ErrNotFound)
	})
}

// A long If-Match list is one bound parameter, whatever its length.
func TestIfMatchLongList(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		m := f.server(t, "n", store.McpServerConfig{})
		list := make([]int64, 70000) // more than either database's limit on bound parameters
		for i := range list {
			list[i] = int64(i + 100)
		}
		cur, err := current(f.patch(t, m.ID, store.McpServerPatch{Name: set("b"), IfMatch: list}))
		wantErr(t, err, store.ErrVersionMismatch)
		sameServer(t, cur, m)
		list[len(list)-1] = m.Version
		got, err := f.patch(t, m.ID, store.McpServerPatch{Name: set("b"), IfMatch: list})
		must(t, err)
		if got.Version != m.Version+1 {
			t.Fatalf("version %d", got.Version)
		}
	})
}

// Concurrent conditional writes at the same version: exactly one applies. The others see
// the winner's row as the current one (ErrVersionMismatch), or, after a delete, nothing
// (ErrNotFound).
func TestConcurrentIfMatch(t *testing.T) {
	const goroutines = 20
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		for _, op := range conditionalOps {
			t.Run(op.name, func(t *testing.T) {
				id, v := op.setup(t, f)
				var (
					mu                      sync.Mutex
					wins, mismatches, gones int
				)
				run(t, goroutines, func(i int) error {
					gotID, gotVersion, err := op.do(t, f, id, []int64{v}, i)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, store.ErrVersionMismatch) && !op.deletes:
						if gotID != id || gotVersion != v+1 {
							return fmt.Errorf("mismatch returned %s v%d, want the winner's v%d", gotID, gotVersion, v+1)
						}
						mismatches++
					case errors.Is(err, store.ErrNotFound) && op.deletes:
						gones++
					default:
						return err
					}
					return nil
				})
				if wins != 1 || mismatches+gones != goroutines-1 {
					t.Fatalf("%d wins, %d mismatches, %d not found; want 1 win", wins, mismatches, gones)
				}
				stored, err := op.version(t, f, id)
				if op.deletes {
					wantErr(t, err, store.ErrNotFound)
				} else if must(t, err); stored != v+1 {
					t.Fatalf("version %d, want %d", stored, v+1)
				}
			})
		}
	})
}
