package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

const accountColumns = `id, environment_id, integration, tenant_id, version, created_at, updated_at`

// CreateIntegratedAccount creates an integrated account in env (version 1). An unknown
// environment is ErrNotFound.
func (s *Store) CreateIntegratedAccount(ctx context.Context, env uuid.UUID, integration string, tenantID *string) (IntegratedAccount, error) {
	t := now()
	a, err := writeOne(ctx, s, "create integrated account", scanAccount,
		`INSERT INTO integrated_accounts (id, environment_id, integration, tenant_id, version, created_at, updated_at)
		 VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING `+accountColumns,
		newID(), env, integration, tenantID, s.bindTime(t), s.bindTime(t))
	if foreignKeyViolation(err) {
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
	pos, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	limit = pageLimit(limit)
	q := `SELECT ` + accountColumns + ` FROM integrated_accounts WHERE environment_id = ?`
	args := []any{env}
	if pos != nil {
		q += ` AND (created_at, id) > (?, ?)`
		args = append(args, s.bindTime(pos.CreatedAt), pos.ID)
	}
	q += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, limit+1)
	rows, err := queryAll(ctx, s, "list integrated accounts", scanAccount, q, args...)
	if err != nil {
		return nil, "", err
	}
	items, next = page(rows, limit, func(a IntegratedAccount) position { return position{a.CreatedAt, a.ID} })
	if items == nil {
		items = []IntegratedAccount{}
	}
	return items, next, nil
}

// DeleteIntegratedAccount deletes an integrated account of env and, by cascade, its MCP
// servers, and returns the deleted row. With ifMatch non-nil, only when the stored version
// is one of ifMatch (an empty list never matches). One DELETE … RETURNING; when it deletes
// nothing: without ifMatch ErrNotFound, with it one SELECT tells ErrNotFound from a
// mismatch, which returns the current row with ErrVersionMismatch.
func (s *Store) DeleteIntegratedAccount(ctx context.Context, env, id uuid.UUID, ifMatch []int64) (IntegratedAccount, error) {
	q := `DELETE FROM integrated_accounts WHERE id = ? AND environment_id = ?`
	args := []any{id, env}
	if ifMatch != nil {
		cond, arg := s.versionIn(ifMatch)
		q += ` AND ` + cond
		args = append(args, arg)
	}
	rows, err := writeAll(ctx, s, "delete integrated account", scanAccount, q+` RETURNING `+accountColumns, args...)
	if err != nil {
		return IntegratedAccount{}, err
	}
	if len(rows) == 1 {
		return rows[0], nil
	}
	if ifMatch == nil {
		return IntegratedAccount{}, ErrNotFound
	}
	a, err := s.GetIntegratedAccount(ctx, env, id)
	if err != nil {
		return IntegratedAccount{}, err
	}
	return a, ErrVersionMismatch
}

func scanAccount(r scanner) (IntegratedAccount, error) {
	var (
		a                IntegratedAccount
		created, updated dbTime
	)
	err := r.Scan(&a.ID, &a.EnvironmentID, &a.Integration, &a.TenantID, &a.Version, &created, &updated)
	a.CreatedAt, a.UpdatedAt = time.Time(created), time.Time(updated)
	return a, err
}
