package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

// One member of the patch matrix: a label, the field to send, and what it does to a server.
type nameCase struct {
	label string
	f     store.Field[string]
}
type timeCase struct {
	label string
	f     store.Field[time.Time]
}
type listCase struct {
	label string
	f     store.Field[[]string]
}

// apply is what the patch should make of the server (the members only).
func apply(m store.McpServer, p store.McpServerPatch) store.McpServer {
	if p.Name.Set {
		m.Name = p.Name.Value
	}
	if p.ExpiresAt.Set {
		if p.ExpiresAt.Null {
			m.ExpiresAt = nil
		} else {
			t := p.ExpiresAt.Value.UTC().Truncate(time.Microsecond)
			m.ExpiresAt = &t
		}
	}
	list := func(f store.Field[[]string], cur []string) []string {
		switch {
		case !f.Set:
			return cur
		case f.Null:
			return nil
		case f.Value == nil:
			return []string{}
		default:
			return f.Value
		}
	}
	m.Config.Methods = list(p.Methods, m.Config.Methods)
	m.Config.Tags = list(p.Tags, m.Config.Tags)
	return m
}

func sameMembers(a, b store.McpServer) bool {
	return a.Name == b.Name && sameTimePtr(a.ExpiresAt, b.ExpiresAt) &&
		sameList(a.Config.Methods, b.Config.Methods) && sameList(a.Config.Tags, b.Config.Tags)
}

// Every combination of name × expires_at × methods × tags being absent, null, a new value or
// the stored value, from two starting points: the result holds exactly the patched members,
// version and updated_at move if and only if something changed, and what is returned is what
// a fresh read finds.
func TestPatchMatrix(t *testing.T) {
	e0 := ts("2030-01-01T00:00:00.000001Z")
	e1 := ts("2031-02-03T04:05:06.789012345+05:30")
	names := []nameCase{{"-", store.Field[string]{}}, {"new", set("n1")}, {"same", set("n0")}}
	expires := []timeCase{{"-", store.Field[time.Time]{}}, {"null", null[time.Time]()}, {"new", set(e1)},
		{"same", set(e0.In(time.FixedZone("x", 3600)))}}
	lists := func(cur string) []listCase {
		return []listCase{{"-", store.Field[[]string]{}}, {"null", null[[]string]()},
			{"new", set([]string{"x", "y"})}, {"empty", set([]string{})}, {"same", set([]string{cur})}}
	}
	starts := []struct {
		label   string
		cfg     store.McpServerConfig
		expires *time.Time
	}{
		{"all-set", store.McpServerConfig{Methods: []string{"m0"}, Tags: []string{"t0"}}, &e0},
		{"unrestricted", store.McpServerConfig{Tags: []string{}}, nil},
	}
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx := ctxT(t)
		count, changes := 0, 0
		for _, st := range starts {
			for _, n := range names {
				for _, e := range expires {
					for _, m := range lists("m0") {
						for _, tg := range lists("t0") {
							label := fmt.Sprintf("%s name=%s expires=%s methods=%s tags=%s", st.label, n.label, e.label, m.label, tg.label)
							_, hash := store.NewSecret(mcpTokenPrefix)
							start, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{
								IntegratedAccountID: f.account.ID, Name: "n0", Config: st.cfg, ExpiresAt: st.expires,
								CreatedBy: uuid.New(), TokenHash: hash,
							})
							must(t, err)
							p := store.McpServerPatch{Name: n.f, ExpiresAt: e.f, Methods: m.f, Tags: tg.f}
							want := apply(start, p)
							changed := !sameMembers(want, start)
							got, err := f.patch(t, start.ID, p)
							if err != nil {
								t.Fatalf("%s: %v", label, err)
							}
							if !sameMembers(got, want) {
								t.Fatalf("%s:\n got  %s\n want %s", label, show(got), show(want))
							}
							if changed {
								changes++
								if got.Version != start.Version+1 || got.UpdatedAt.Before(start.UpdatedAt) {
									t.Fatalf("%s: change did not move version/updated_at: %s -> %s", label, show(start), show(got))
								}
							} else {
								sameServer(t, got, start) // a no-op moves nothing
							}
							if got.ID != start.ID || !got.CreatedAt.Equal(start.CreatedAt) || got.CreatedBy != start.CreatedBy {
								t.Fatalf("%s: identity changed", label)
							}
							sameServer(t, f.get(t, start.ID), got)
							count++
						}
					}
				}
			}
		}
		t.Logf("%d patches, %d changes", count, changes)
	})
}

func TestPatchNoOpMovesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		exp := ts("2030-06-01T12:00:00Z")
		m := f.server(t, "n", store.McpServerConfig{Methods: []string{"a", "b"}, Tags: []string{}})
		m, err := f.patch(t, m.ID, store.McpServerPatch{ExpiresAt: set(exp)})
		must(t, err)
		time.Sleep(2 * time.Millisecond)
		for _, p := range []store.McpServerPatch{
			{},
			{IfMatch: []int64{m.Version}},
			{IfMatch: []int64{m.Version + 3, m.Version}},
			{Name: set("n"), IfMatch: []int64{m.Version}},
			{Name: set("n")},
			{Methods: set([]string{"a", "b"})},
			{Tags: set([]string{})},
			{ExpiresAt: set(exp.In(time.FixedZone("y", -7*3600)).Add(300 * time.Nanosecond))},
			{Name: set("n"), Methods: set([]string{"a", "b"}), Tags: set([]string{}), ExpiresAt: set(exp)},
		} {
			got, err := f.patch(t, m.ID, p)
			must(t, err)
			sameServer(t, got, m)
		}
		sameServer(t, f.get(t, m.ID), m)

		// A real change moves version by one and updated_at to later.
		got, err := f.patch(t, m.ID, store.McpServerPatch{Methods: set([]string{"b", "a"})})
		must(t, err)
		if got.Version != m.Version+1 || !got.UpdatedAt.After(m.UpdatedAt) {
			t.Fatalf("change: %s -> %s", show(m), show(got))
		}
	})
}

// Setting one list keeps the other; [] is kept as []; null removes the key.
func TestPatchConfigMerge(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		m := f.server(t, "n", store.McpServerConfig{Methods: []string{"m"}, Tags: []string{"t"}})
		stored := func() map[string]any {
			var raw string
			must(t, s.DB().WithContext(ctx).Raw("SELECT CAST(config AS TEXT) FROM mcp_servers WHERE id = ?", m.ID).Scan(&raw).Error)
			var obj map[string]any
			must(t, json.Unmarshal([]byte(raw), &obj))
			return obj
		}
		steps := []struct {
			p    store.McpServerPatch
			want string
		}{
			{store.McpServerPatch{Methods: set([]string{"m2"})}, `{"methods":["m2"],"tags":["t"]}`},
			{store.McpServerPatch{Tags: set([]string{})}, `{"methods":["m2"],"tags":[]}`},
			{store.McpServerPatch{Methods: null[[]string]()}, `{"tags":[]}`},
			{store.McpServerPatch{Methods: null[[]string]()}, `{"tags":[]}`},
			{store.McpServerPatch{Tags: null[[]string](), Methods: set([]string{})}, `{"methods":[]}`},
			{store.McpServerPatch{Tags: set([]string{"a", "b"}), Methods: null[[]string]()}, `{"tags":["a","b"]}`},
			{store.McpServerPatch{Tags: null[[]string]()}, `{}`},
		}
		for i, step := range steps {
			got, err := f.patch(t, m.ID, step.p)
			must(t, err)
			var want map[string]any
			must(t, json.Unmarshal([]byte(step.want), &want))
			if obj := stored(); fmt.Sprint(obj) != fmt.Sprint(want) {
				t.Fatalf("step %d: stored %v, want %s", i, obj, step.want)
			}
			var cfg store.McpServerConfig
			must(t, json.Unmarshal([]byte(step.want), &cfg))
			if !sameList(got.Config.Methods, cfg.Methods) || !sameList(got.Config.Tags, cfg.Tags) {
				t.Fatalf("step %d: returned %s, want %s", i, show(got), step.want)
			}
		}
	})
}

// The "differs" test is semantic: a config written with other key order and spacing still
// compares equal to the same lists.
func TestPatchComparesConfigSemantically(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		m := f.server(t, "n", store.McpServerConfig{})
		must(t, s.DB().WithContext(ctx).Exec(
			`UPDATE mcp_servers SET config = '{ "tags" : [ "t0" , "t1" ] ,  "methods" : [ "m0" ] }' WHERE id = ?`, m.ID).Error)
		m = f.get(t, m.ID)
		for _, p := range []store.McpServerPatch{
			{Methods: set([]string{"m0"})},
			{Tags: set([]string{"t0", "t1"})},
			{Methods: set([]string{"m0"}), Tags: set([]string{"t0", "t1"})},
		} {
			got, err := f.patch(t, m.ID, p)
			must(t, err)
			sameServer(t, got, m)
		}
		got, err := f.patch(t, m.ID, store.McpServerPatch{Tags: set([]string{"t1", "t0"})})
		must(t, err)
		if got.Version != m.Version+1 || !sameList(got.Config.Methods, []string{"m0"}) {
			t.Fatalf("reordered tags: %s", show(got))
		}
	})
}

func TestPatchErrors(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		m := f.server(t, "n", store.McpServerConfig{})
		for _, p := range []store.McpServerPatch{{}, {Name: set("x")}, {Tags: null[[]string]()}} {
			_, err := f.patch(t, uuid.New(), p)
			wantErr(t, err, store.ErrNotFound)
		}
		if _, err := f.patch(t, m.ID, store.McpServerPatch{Name: null[string]()}); err == nil {
			t.Fatal("null name accepted")
		}
		sameServer(t, f.get(t, m.ID), m)
	})
}

// Returned times are what a fresh read finds: UTC, microseconds.
func TestReturnedTimesAreStored(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		exp := time.Date(2032, 3, 4, 5, 6, 7, 891234567, time.FixedZone("z", -4*3600))
		m := f.server(t, "n", store.McpServerConfig{})
		for _, got := range []store.McpServer{
			m,
			must1(f.patch(t, m.ID, store.McpServerPatch{ExpiresAt: set(exp)})),
			must1(f.patch(t, m.ID, store.McpServerPatch{Name: set("z")})),
		} {
			fresh := f.get(t, m.ID)
			if got.Version == fresh.Version {
				sameServer(t, got, fresh)
			}
			for _, tm := range []time.Time{got.CreatedAt, got.UpdatedAt} {
				if tm.Location() != time.UTC || tm.Nanosecond()%1000 != 0 {
					t.Fatalf("time %v is not UTC microseconds", tm)
				}
			}
		}
		fresh := f.get(t, m.ID)
		if fresh.ExpiresAt.Location() != time.UTC || !fresh.ExpiresAt.Equal(exp.Truncate(time.Microsecond)) {
			t.Fatalf("expires_at stored as %v, sent %v", fresh.ExpiresAt, exp)
		}
	})
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestConfigJSON(t *testing.T) {
	for _, tc := range []struct {
		cfg  store.McpServerConfig
		json string
	}{
		{store.McpServerConfig{}, `{}`},
		{store.McpServerConfig{Methods: []string{}}, `{"methods":[]}`},
		{store.McpServerConfig{Tags: []string{"a"}}, `{"tags":["a"]}`},
		{store.McpServerConfig{Methods: []string{"x", "y"}, Tags: []string{}}, `{"methods":["x","y"],"tags":[]}`},
	} {
		b, err := json.Marshal(tc.cfg)
		must(t, err)
		if string(b) != tc.json {
			t.Errorf("Marshal(%#v) = %s, want %s", tc.cfg, b, tc.json)
		}
		var back store.McpServerConfig
		must(t, json.Unmarshal(b, &back))
		if !sameList(back.Methods, tc.cfg.Methods) || !sameList(back.Tags, tc.cfg.Tags) {
			t.Errorf("round trip of %s gave %#v", tc.json, back)
		}
	}
	var c store.McpServerConfig
	must(t, json.Unmarshal([]byte(`{"methods":null,"tags":null}`), &c))
	if c.Methods != nil || c.Tags != nil {
		t.Errorf("nulls read as %#v", c)
	}
}

// updated_at never goes back, even when the clock (or a writer that waited) is behind the
// stored value; version still moves.
func TestUpdatedAtNeverGoesBack(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		m := f.server(t, "n", store.McpServerConfig{})
		future := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
		arg := any(future)
		if s.Dialect() == store.DialectSQLite {
			arg = future.Format("2006-01-02 15:04:05.000000+00:00")
		}
		must(t, s.DB().WithContext(ctxT(t)).Exec("UPDATE mcp_servers SET updated_at = ? WHERE id = ?", arg, m.ID).Error)
		got, err := f.patch(t, m.ID, store.McpServerPatch{Name: set("later")})
		must(t, err)
		if got.Version != m.Version+1 || !got.UpdatedAt.Equal(future) {
			t.Fatalf("patch: version %d updated_at %v, want %d and %v", got.Version, got.UpdatedAt, m.Version+1, future)
		}
		_, hash := store.NewSecret(mcpTokenPrefix)
		got, err = s.RotateMcpServerToken(ctxT(t), f.env, f.account.ID, m.ID, hash, nil)
		must(t, err)
		if got.Version != m.Version+2 || !got.UpdatedAt.Equal(future) {
			t.Fatalf("rotate: version %d updated_at %v", got.Version, got.UpdatedAt)
		}
		sameServer(t, f.get(t, m.ID), got)
	})
}
