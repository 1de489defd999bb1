package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

const (
	apiTokenPrefix = store.APITokenPrefix
	mcpTokenPrefix = store.MCPTokenPrefix
)

// forEachStore runs fn on a fresh migrated store of every database kind.

func forEachStore(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	storetest.ForEachStore(t, fn)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fixture is an environment with one integrated account.
type fixture struct {
	s       *store.Store
	env     uuid.UUID
	account store.IntegratedAccount
}

func newFixture(t testing.TB, s *store.Store) fixture {
	t.Helper()
	ctx := ctxT(t)
	env, err := s.EnsureEnvironment(ctx, "env-"+uuid.NewString())
	must(t, err)
	a, err := s.CreateIntegratedAccount(ctx, env, store.NewIntegratedAccount{Integration: "github"})
	must(t, err)
	return fixture{s: s, env: env, account: a}
}

// server creates an MCP server under the fixture's account.
func (f fixture) server(t testing.TB, name string, cfg store.McpServerConfig) store.McpServer {
	t.Helper()
	_, hash := store.NewSecret(mcpTokenPrefix)
	m, err := f.s.CreateMcpServer(ctxT(t), f.env, store.NewMcpServer{
		IntegratedAccountID: f.account.ID,
		Name:                name,
		Config:              cfg,
		CreatedBy:           uuid.New(),
		TokenHash:           hash,
	})
	must(t, err)
	return m
}

func (f fixture) get(t testing.TB, id uuid.UUID) store.McpServer {
	t.Helper()
	m, err := f.s.GetMcpServer(ctxT(t), f.env, f.account.ID, id)
	must(t, err)
	return m
}

func (f fixture) patch(t testing.TB, id uuid.UUID, p store.McpServerPatch) (store.McpServer, error) {
	t.Helper()
	return f.s.UpdateMcpServer(ctxT(t), f.env, f.account.ID, id, p)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// closeAtEnd closes c when t ends and fails t if that fails.
func closeAtEnd(t testing.TB, c io.Closer) {
	t.Helper()
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// errOnly keeps the error of a call that returns a value and an error.
// current is what a write returned or, when it failed with a version mismatch, the current row
// that the error carries.
func current[T store.Versioned](row T, err error) (T, error) {
	var mismatch *store.VersionMismatchError[T]
	if errors.As(err, &mismatch) {
		return mismatch.Current, err
	}
	return row, err
}

func errOnly[T any](_ T, err error) error { return err }

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// Patch builders.
func set[T any](v T) store.Field[T] { return store.Field[T]{Set: true, Value: v} }
func null[T any]() store.Field[T]   { return store.Field[T]{Set: true, Null: true} }
func ptr[T any](v T) *T             { return &v }
func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// sameServer compares two servers field by field (times with Equal, lists keeping nil ≠ []).
func sameServer(t testing.TB, got, want store.McpServer) {
	t.Helper()
	ok := got.ID == want.ID && got.EnvironmentID == want.EnvironmentID &&
		got.IntegratedAccountID == want.IntegratedAccountID && got.Name == want.Name &&
		sameList(got.Config.Methods, want.Config.Methods) && sameList(got.Config.Tags, want.Config.Tags) &&
		sameTimePtr(got.ExpiresAt, want.ExpiresAt) && got.CreatedBy == want.CreatedBy &&
		got.Version == want.Version && got.CreatedAt.Equal(want.CreatedAt) && got.UpdatedAt.Equal(want.UpdatedAt)
	if !ok {
		t.Fatalf("server differs:\n got  %s\n want %s", show(got), show(want))
	}
}

// sameList is slices.Equal that also tells nil from empty.
func sameList(a, b []string) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func show(m store.McpServer) string {
	list := func(l []string) string {
		if l == nil {
			return "nil"
		}
		return fmt.Sprintf("%q", l)
	}
	exp := "nil"
	if m.ExpiresAt != nil {
		exp = m.ExpiresAt.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("{name=%q methods=%s tags=%s expires=%s version=%d created=%s updated=%s}",
		m.Name, list(m.Config.Methods), list(m.Config.Tags), exp, m.Version,
		m.CreatedAt.Format(time.RFC3339Nano), m.UpdatedAt.Format(time.RFC3339Nano))
}
