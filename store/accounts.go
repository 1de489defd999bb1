package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

const accountColumns = `id, environment_id, integration, tenant_id, credentials, version, created_at, updated_at`

// CreateIntegratedAccount creates an integrated account in env (version 1). An unknown
// environment is ErrNotFound.
func (s *Store) CreateIntegratedAccount(ctx context.Context, env uuid.UUID, n NewIntegratedAccount) (IntegratedAccount, error) {
	t := now()
	a, err := writeOne(ctx, s, "create integrated account", scanAccount,
		`INSERT INTO integrated_accounts (id, environment_id, integration, tenant_id, credentials, version, created_at, updated_at)
		 VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING `+accountColumns,
		newID(), env, n.Integration, n.TenantID, nullBytes(n.Credentials), s.bindTime(t), s.bindTime(t))
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return IntegratedAccount{}, ErrNotFound
	}
	return a, err
}

// GetIntegratedAccount reads one integrated account of env.
func (s *Store) GetIntegratedAccount(ctx context.Context, env, id uuid.UUID) (IntegratedAccount, error) {
	return queryOne(ctx, s, "get integrated account", scanAccount,
		`SELECT `+accountColumns+` FROM integrated_accounts WHERE id = ? AND environment_id = ?`, id, env)
}

// ListIntegratedAccounts lists env's integrated accounts oldest first, limit per page,
// resuming after cursor ("" for the first page). next is "" on the last page.
func (s *Store) ListIntegratedAccounts(ctx context.Context, env uuid.UUID, limit int, cursor string) (items []IntegratedAccount, next string, err error) {
	return listPage(ctx, s, "list integrated accounts", scanAccount, func(a IntegratedAccount) position { return position{a.CreatedAt, a.ID} },
		`SELECT `+accountColumns+` FROM integrated_accounts WHERE environment_id = ?`, []any{env}, limit, cursor, false)
}

// DeleteIntegratedAccount deletes an integrated account of env and, by cascade, its MCP
// servers, and returns the deleted row. With ifMatch non-nil, only when the stored version
// is one of ifMatch (an empty list never matches). One DELETE … RETURNING; when it deletes
// nothing: without ifMatch ErrNotFound, with it one SELECT tells ErrNotFound from a
// mismatch, a *VersionMismatchError that carries the current row.
func (s *Store) DeleteIntegratedAccount(ctx context.Context, env, id uuid.UUID, ifMatch []int64) (IntegratedAccount, error) {
	return conditionalWrite(ctx, s, "delete integrated account", scanAccount,
		`DELETE FROM integrated_accounts WHERE id = ? AND environment_id = ?`, accountColumns,
		[]any{id, env}, ifMatch, func() (IntegratedAccount, error) { return s.GetIntegratedAccount(ctx, env, id) })
}

var scanAccount = scanRow[IntegratedAccount, accountRow]

// accountRow receives the columns of accountColumns, in order.
type accountRow struct {
	a                IntegratedAccount
	created, updated dbTime
}

func (x *accountRow) dest() []any {
	return []any{&x.a.ID, &x.a.EnvironmentID, &x.a.Integration, &x.a.TenantID, &x.a.Credentials, &x.a.Version, &x.created, &x.updated}
}

func (x *accountRow) value() IntegratedAccount {
	a := x.a
	a.CreatedAt, a.UpdatedAt = time.Time(x.created), time.Time(x.updated)
	return a
}

// UpdateIntegratedAccount applies a partial update to an integrated account of env as one
// conditional UPDATE … RETURNING, like UpdateMcpServer: only present members are set, the row
// changes only when one of them differs (and, with IfMatch, only at one of those versions),
// and otherwise one SELECT tells ErrNotFound, a *VersionMismatchError (with the current row)
// or a no-op (the stored row).
func (s *Store) UpdateIntegratedAccount(ctx context.Context, env, id uuid.UUID, p AccountPatch) (IntegratedAccount, error) {
	var u update
	if f := p.TenantID; f.Set {
		u.set(s.distinctFrom(), "tenant_id", nullable(f, func(v string) any { return v }))
	}
	if f := p.Credentials; f.Set {
		u.set(s.distinctFrom(), "credentials", nullable(f, nullBytes))
	}
	var q string
	var args []any
	if !u.empty() {
		q, args = s.statement("integrated_accounts", &u, "id = ? AND environment_id = ?", []any{id, env}, p.IfMatch, accountColumns)
	}
	return applyUpdate(ctx, s, "update integrated account", scanAccount, q, args, p.IfMatch,
		func() (IntegratedAccount, error) { return s.GetIntegratedAccount(ctx, env, id) })
}

// nullable is the argument to bind for a present field: nil for null, else bind(value).
func nullable[T any](f Field[T], bind func(T) any) any {
	if f.Null {
		return nil
	}
	return bind(f.Value)
}

// nullBytes stores an empty credential as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
