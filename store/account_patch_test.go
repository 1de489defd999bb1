package store_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

func TestUpdateIntegratedAccount(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx := ctxT(t)
		a0 := f.account
		if a0.Credentials != nil {
			t.Fatalf("new account has credentials %x", a0.Credentials)
		}
		sealed := []byte{1, 2, 3, 4}
		a1, err := s.UpdateIntegratedAccount(ctx, f.env, a0.ID, store.AccountPatch{
			TenantID:    store.Field[string]{Set: true, Value: "acme"},
			Credentials: store.Field[[]byte]{Set: true, Value: sealed},
		})
		must(t, err)
		if deref(a1.TenantID) != "acme" || !bytes.Equal(a1.Credentials, sealed) || a1.Version != a0.Version+1 || a1.UpdatedAt.Before(a0.UpdatedAt) {
			t.Fatalf("after patch: %+v", a1)
		}
		// The same values again change nothing.
		a2, err := s.UpdateIntegratedAccount(ctx, f.env, a0.ID, store.AccountPatch{TenantID: store.Field[string]{Set: true, Value: "acme"}})
		must(t, err)
		if a2.Version != a1.Version || !a2.UpdatedAt.Equal(a1.UpdatedAt) {
			t.Errorf("no-op moved the row: %+v → %+v", a1, a2)
		}
		// null clears; a stale IfMatch changes nothing; its error carries the current row.
		cur, err := current(s.UpdateIntegratedAccount(ctx, f.env, a0.ID, store.AccountPatch{
			Credentials: store.Field[[]byte]{Set: true, Null: true}, IfMatch: []int64{a0.Version},
		}))
		if !errors.Is(err, store.ErrVersionMismatch) || cur.Version != a1.Version {
			t.Fatalf("stale IfMatch: %v %+v", err, cur)
		}
		a3, err := s.UpdateIntegratedAccount(ctx, f.env, a0.ID, store.AccountPatch{
			TenantID: store.Field[string]{Set: true, Null: true}, Credentials: store.Field[[]byte]{Set: true, Null: true}, IfMatch: []int64{a1.Version},
		})
		must(t, err)
		if a3.TenantID != nil || a3.Credentials != nil {
			t.Errorf("null did not clear: %+v", a3)
		}
		// Another environment's account is not found.
		other := newFixture(t, s)
		if _, err := s.UpdateIntegratedAccount(ctx, other.env, a0.ID, store.AccountPatch{TenantID: store.Field[string]{Set: true, Value: "x"}}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("foreign update: %v", err)
		}
		if _, err := s.UpdateIntegratedAccount(ctx, f.env, uuid.New(), store.AccountPatch{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing account: %v", err)
		}
	})
}

func TestResolveMcpToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		ctx := ctxT(t)
		_, err := s.UpdateIntegratedAccount(ctx, f.env, f.account.ID, store.AccountPatch{Credentials: store.Field[[]byte]{Set: true, Value: []byte("sealed")}})
		must(t, err)
		secret, hash := store.NewSecret(mcpTokenPrefix)
		m, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{IntegratedAccountID: f.account.ID, Name: "r",
			Config: store.McpServerConfig{Methods: []string{"read"}}, CreatedBy: uuid.New(), TokenHash: hash})
		must(t, err)
		got, err := s.ResolveMcpToken(ctx, store.HashSecret(secret))
		must(t, err)
		if got.Server.ID != m.ID || got.Account.ID != f.account.ID || got.Account.Integration != "github" ||
			string(got.Account.Credentials) != "sealed" || len(got.Server.Config.Methods) != 1 {
			t.Errorf("resolved %+v", got)
		}
		if _, err := s.ResolveMcpToken(ctx, store.HashSecret("mcp_unknown")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
		_, err = s.DeleteIntegratedAccount(ctx, f.env, f.account.ID, nil)
		must(t, err)
		if _, err := s.ResolveMcpToken(ctx, store.HashSecret(secret)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token of a deleted account: %v", err)
		}
	})
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
