package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

func TestIntegratedAccounts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		env, err := s.EnsureEnvironment(ctx, "prod")
		must(t, err)
		before := time.Now().UTC().Truncate(time.Microsecond)
		a, err := s.CreateIntegratedAccount(ctx, env, store.NewIntegratedAccount{Integration: "slack", TenantID: ptr("T123")})
		must(t, err)
		if a.Version != 1 || a.Integration != "slack" || a.TenantID == nil || *a.TenantID != "T123" ||
			a.EnvironmentID != env || a.CreatedAt.Before(before) || !a.CreatedAt.Equal(a.UpdatedAt) ||
			a.CreatedAt.Location() != time.UTC {
			t.Fatalf("created %+v", a)
		}
		got, err := s.GetIntegratedAccount(ctx, env, a.ID)
		must(t, err)
		if got.ID != a.ID || *got.TenantID != "T123" || !got.CreatedAt.Equal(a.CreatedAt) || got.Version != 1 {
			t.Fatalf("got %+v, created %+v", got, a)
		}
		b, err := s.CreateIntegratedAccount(ctx, env, store.NewIntegratedAccount{Integration: "github"})
		must(t, err)
		if b.TenantID != nil {
			t.Fatalf("nil tenant stored as %q", *b.TenantID)
		}
		items, next, err := s.ListIntegratedAccounts(ctx, env, 10, "")
		must(t, err)
		if len(items) != 2 || items[0].ID != a.ID || items[1].ID != b.ID || next != "" {
			t.Fatalf("list = %+v next=%q", items, next)
		}
		_, err = s.CreateIntegratedAccount(ctx, uuid.New(), store.NewIntegratedAccount{Integration: "slack"})
		wantErr(t, err, store.ErrNotFound)

		deleted, err := s.DeleteIntegratedAccount(ctx, env, a.ID, nil)
		must(t, err)
		if deleted.ID != a.ID || deleted.Version != a.Version || !deleted.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("deleted %+v, want %+v", deleted, a)
		}
		wantErr(t, errOnly(s.DeleteIntegratedAccount(ctx, env, a.ID, nil)), store.ErrNotFound)
		_, err = s.GetIntegratedAccount(ctx, env, a.ID)
		wantErr(t, err, store.ErrNotFound)
	})
}

// Deleting an integrated account deletes its MCP servers, and only its.
func TestDeleteAccountCascades(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		_, hash := store.NewSecret(mcpTokenPrefix)
		m1 := f.server(t, "one", store.McpServerConfig{})
		f.server(t, "two", store.McpServerConfig{})
		other, err := s.CreateIntegratedAccount(ctx, f.env, store.NewIntegratedAccount{Integration: "github"})
		must(t, err)
		keep, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{IntegratedAccountID: other.ID, Name: "keep", CreatedBy: uuid.New(), TokenHash: hash})
		must(t, err)

		must(t, errOnly(s.DeleteIntegratedAccount(ctx, f.env, f.account.ID, nil)))
		_, err = s.GetMcpServer(ctx, f.env, f.account.ID, m1.ID)
		wantErr(t, err, store.ErrNotFound)
		_, _, err = s.ListMcpServers(ctx, f.env, f.account.ID, 10, "")
		wantErr(t, err, store.ErrNotFound)
		var left int64
		must(t, s.DB().WithContext(ctx).Raw("SELECT count(*) FROM mcp_servers").Scan(&left).Error)
		if left != 1 {
			t.Fatalf("%d servers left, want 1", left)
		}
		if _, err := s.GetMcpServer(ctx, f.env, other.ID, keep.ID); err != nil {
			t.Fatalf("server of another account: %v", err)
		}
		_, err = s.CreateMcpServer(ctx, f.env, store.NewMcpServer{IntegratedAccountID: f.account.ID, Name: "late", CreatedBy: uuid.New(), TokenHash: []byte("h")})
		wantErr(t, err, store.ErrNotFound)
	})
}

// A row of another environment is simply not found, whatever the operation.
func TestTenancy(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		mine := newFixture(t, s)
		theirs := newFixture(t, s)
		m := mine.server(t, "mine", store.McpServerConfig{Methods: []string{"a"}})
		_, hash := store.NewSecret(mcpTokenPrefix)

		// Integrated accounts.
		_, err := s.GetIntegratedAccount(ctx, theirs.env, mine.account.ID)
		wantErr(t, err, store.ErrNotFound)
		items, _, err := s.ListIntegratedAccounts(ctx, theirs.env, 10, "")
		must(t, err)
		if len(items) != 1 || items[0].ID != theirs.account.ID {
			t.Fatalf("their list shows %+v", items)
		}
		wantErr(t, errOnly(s.DeleteIntegratedAccount(ctx, theirs.env, mine.account.ID, nil)), store.ErrNotFound)
		wantErr(t, errOnly(s.DeleteIntegratedAccount(ctx, theirs.env, mine.account.ID, []int64{1})), store.ErrNotFound)

		// MCP servers, addressed through their environment with my account and server ids.
		_, err = s.GetMcpServer(ctx, theirs.env, mine.account.ID, m.ID)
		wantErr(t, err, store.ErrNotFound)
		_, _, err = s.ListMcpServers(ctx, theirs.env, mine.account.ID, 10, "")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.UpdateMcpServer(ctx, theirs.env, mine.account.ID, m.ID, store.McpServerPatch{Name: set("stolen")})
		wantErr(t, err, store.ErrNotFound)
		_, err = s.UpdateMcpServer(ctx, theirs.env, mine.account.ID, m.ID, store.McpServerPatch{})
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, errOnly(s.DeleteMcpServer(ctx, theirs.env, mine.account.ID, m.ID, nil)), store.ErrNotFound)
		wantErr(t, errOnly(s.DeleteMcpServer(ctx, theirs.env, mine.account.ID, m.ID, []int64{m.Version})), store.ErrNotFound)
		_, err = s.CreateMcpServer(ctx, theirs.env, store.NewMcpServer{IntegratedAccountID: mine.account.ID, Name: "x", CreatedBy: uuid.New(), TokenHash: hash})
		wantErr(t, err, store.ErrNotFound)
		_, err = s.RotateMcpServerToken(ctx, theirs.env, mine.account.ID, m.ID, hash, nil)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.RotateMcpServerToken(ctx, theirs.env, mine.account.ID, m.ID, hash, []int64{m.Version})
		wantErr(t, err, store.ErrNotFound)
		_, err = s.UpdateMcpServer(ctx, theirs.env, mine.account.ID, m.ID, store.McpServerPatch{Name: set("stolen"), IfMatch: []int64{m.Version}})
		wantErr(t, err, store.ErrNotFound)

		// My server under their account id, in my environment: not found either.
		_, err = s.GetMcpServer(ctx, mine.env, theirs.account.ID, m.ID)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.UpdateMcpServer(ctx, mine.env, theirs.account.ID, m.ID, store.McpServerPatch{Name: set("stolen")})
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, errOnly(s.DeleteMcpServer(ctx, mine.env, theirs.account.ID, m.ID, nil)), store.ErrNotFound)

		// Nothing moved.
		sameServer(t, mine.get(t, m.ID), m)
		if _, err := s.GetIntegratedAccount(ctx, mine.env, mine.account.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMcpServerCRUD(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		creator := uuid.New()
		exp := ts("2031-05-06T07:08:09.123456789Z")
		_, hash := store.NewSecret(mcpTokenPrefix)
		m, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{
			IntegratedAccountID: f.account.ID, Name: "srv", CreatedBy: creator, TokenHash: hash,
			Config: store.McpServerConfig{Methods: []string{"b", "a"}, Tags: []string{}}, ExpiresAt: &exp,
		})
		must(t, err)
		if m.Version != 1 || m.Name != "srv" || m.CreatedBy != creator || m.EnvironmentID != f.env ||
			m.IntegratedAccountID != f.account.ID || !m.CreatedAt.Equal(m.UpdatedAt) ||
			!sameList(m.Config.Methods, []string{"b", "a"}) || !sameList(m.Config.Tags, []string{}) ||
			!m.ExpiresAt.Equal(exp.Truncate(time.Microsecond)) || m.ExpiresAt.Location() != time.UTC {
			t.Fatalf("created %s", show(m))
		}
		sameServer(t, f.get(t, m.ID), m)

		plain := f.server(t, "plain", store.McpServerConfig{})
		if plain.Config.Methods != nil || plain.Config.Tags != nil || plain.ExpiresAt != nil {
			t.Fatalf("unrestricted server came back as %s", show(plain))
		}
		var raw string
		must(t, s.DB().WithContext(ctx).Raw("SELECT config FROM mcp_servers WHERE name = 'plain'").Scan(&raw).Error)
		if raw != "{}" {
			t.Errorf("unrestricted config stored as %s, want {}", raw)
		}

		deleted, err := s.DeleteMcpServer(ctx, f.env, f.account.ID, m.ID, nil)
		must(t, err)
		sameServer(t, deleted, m)
		wantErr(t, errOnly(s.DeleteMcpServer(ctx, f.env, f.account.ID, m.ID, nil)), store.ErrNotFound)
		_, err = s.GetMcpServer(ctx, f.env, f.account.ID, m.ID)
		wantErr(t, err, store.ErrNotFound)
		items, _, err := s.ListMcpServers(ctx, f.env, f.account.ID, 10, "")
		must(t, err)
		if len(items) != 1 || items[0].ID != plain.ID {
			t.Fatalf("list after delete: %d items", len(items))
		}
		_, err = s.CreateMcpServer(ctx, f.env, store.NewMcpServer{IntegratedAccountID: uuid.New(), Name: "x", CreatedBy: creator, TokenHash: []byte("x")})
		wantErr(t, err, store.ErrNotFound)
	})
}
