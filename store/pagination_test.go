package store_test

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

// Walking pages while rows are added sees every row that existed at the start exactly once,
// in (created_at, id) order, and never a row twice.
func TestPaginationStableUnderInserts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		var want []uuid.UUID
		for i := 0; i < 23; i++ {
			want = append(want, f.server(t, fmt.Sprint("s", i), store.McpServerConfig{}).ID)
		}
		seen := map[uuid.UUID]bool{}
		var got []uuid.UUID
		cursor, pages := "", 0
		for {
			items, next, err := s.ListMcpServers(ctx, f.env, f.account.ID, 5, cursor)
			must(t, err)
			pages++
			for _, m := range items {
				if seen[m.ID] {
					t.Fatalf("server %s listed twice", m.ID)
				}
				seen[m.ID] = true
				got = append(got, m.ID)
			}
			if next == "" {
				break
			}
			if len(items) != 5 {
				t.Fatalf("page of %d with a next cursor", len(items))
			}
			f.server(t, fmt.Sprint("late", pages), store.McpServerConfig{}) // lands after the cursor
			cursor = next
		}
		if len(got) < len(want) {
			t.Fatalf("walked %d servers, want at least %d", len(got), len(want))
		}
		for i, id := range want {
			if got[i] != id {
				t.Fatalf("position %d: %s, want %s", i, got[i], id)
			}
		}

		// Accounts page the same way.
		for i := 0; i < 6; i++ {
			_, err := s.CreateIntegratedAccount(ctx, f.env, store.NewIntegratedAccount{Integration: fmt.Sprint("i", i)})
			must(t, err)
		}
		var accounts []uuid.UUID
		cursor = ""
		for {
			items, next, err := s.ListIntegratedAccounts(ctx, f.env, 2, cursor)
			must(t, err)
			for _, a := range items {
				accounts = append(accounts, a.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(accounts) != 7 || accounts[0] != f.account.ID {
			t.Fatalf("walked %d accounts", len(accounts))
		}
	})
}

// Rows with the same created_at are ordered by id and none is lost at a page boundary.
func TestPaginationTies(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		for i := 0; i < 7; i++ {
			f.server(t, fmt.Sprint("s", i), store.McpServerConfig{})
		}
		// Give every row the same created_at, in the dialect's own stored form.
		var first string
		must(t, s.DB().WithContext(ctx).Raw("SELECT CAST(min(created_at) AS TEXT) FROM mcp_servers").Scan(&first).Error)
		must(t, s.DB().WithContext(ctx).Exec("UPDATE mcp_servers SET created_at = (SELECT min(created_at) FROM mcp_servers)").Error)
		all, _, err := s.ListMcpServers(ctx, f.env, f.account.ID, 100, "")
		must(t, err)
		if len(all) != 7 {
			t.Fatalf("%d servers", len(all))
		}
		for i := 1; i < len(all); i++ {
			if !all[i].CreatedAt.Equal(all[0].CreatedAt) || all[i-1].ID.String() >= all[i].ID.String() {
				t.Fatalf("not ordered by id within equal created_at (%s)", first)
			}
		}
		var walked []uuid.UUID
		cursor := ""
		for {
			items, next, err := s.ListMcpServers(ctx, f.env, f.account.ID, 3, cursor)
			must(t, err)
			for _, m := range items {
				walked = append(walked, m.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(walked) != 7 {
			t.Fatalf("walked %d of 7", len(walked))
		}
		for i := range walked {
			if walked[i] != all[i].ID {
				t.Fatalf("position %d differs", i)
			}
		}
	})
}

func TestPageLimits(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		for i := 0; i < 3; i++ {
			f.server(t, fmt.Sprint("s", i), store.McpServerConfig{})
		}
		items, next, err := s.ListMcpServers(ctx, f.env, f.account.ID, 3, "")
		must(t, err)
		if len(items) != 3 || next != "" {
			t.Fatalf("exactly one full page: %d items, next %q", len(items), next)
		}
		items, _, err = s.ListMcpServers(ctx, f.env, f.account.ID, 0, "")
		must(t, err)
		if len(items) != 3 {
			t.Fatalf("limit 0 (default page size) gave %d", len(items))
		}
		// An account without servers lists empty, not nil and not an error.
		empty, err := s.CreateIntegratedAccount(ctx, f.env, store.NewIntegratedAccount{Integration: "x"})
		must(t, err)
		items, next, err = s.ListMcpServers(ctx, f.env, empty.ID, 10, "")
		must(t, err)
		if items == nil || len(items) != 0 || next != "" {
			t.Fatalf("empty account: %#v %q", items, next)
		}
		_, _, err = s.ListMcpServers(ctx, f.env, uuid.New(), 10, "")
		wantErr(t, err, store.ErrNotFound)
	})
}

func TestBadCursors(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		for i := 0; i < 3; i++ {
			f.server(t, fmt.Sprint("s", i), store.McpServerConfig{})
		}
		_, good, err := s.ListMcpServers(ctx, f.env, f.account.ID, 1, "")
		must(t, err)
		raw, err := base64.RawURLEncoding.DecodeString(good)
		must(t, err)
		enc := base64.RawURLEncoding.EncodeToString
		wrongVersion := append([]byte{9}, raw[1:]...)
		nilID := append(append([]byte{}, raw[:9]...), make([]byte, 16)...)
		bad := []string{
			"garbage!", "%%%", "====", good + "=", good[:len(good)-1], good[:10], good + "A",
			enc(raw[:len(raw)-1]), enc(append(raw, 0)), enc(wrongVersion), enc(nilID),
			base64.StdEncoding.EncodeToString(raw), enc([]byte(uuid.NewString())), " " + good,
		}
		for _, c := range bad {
			_, _, err := s.ListMcpServers(ctx, f.env, f.account.ID, 1, c)
			wantErr(t, err, store.ErrBadCursor)
			_, _, err = s.ListIntegratedAccounts(ctx, f.env, 1, c)
			wantErr(t, err, store.ErrBadCursor)
		}
		if _, _, err := s.ListMcpServers(ctx, f.env, f.account.ID, 1, good); err != nil {
			t.Fatalf("good cursor: %v", err)
		}
	})
}
