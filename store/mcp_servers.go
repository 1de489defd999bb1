package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

const mcpServerColumns = `id, environment_id, integrated_account_id, name, config, expires_at, created_by, version, created_at, updated_at`

// notExpired is the WHERE term that hides expired MCP servers (to append with AND), taking
// the current time to bind: an expired server is deleted from the instant it expires, for
// every read and write, until the sweeper removes its row.
func notExpired(prefix string) string {
	return "(" + prefix + "expires_at IS NULL OR " + prefix + "expires_at > ?)"
}

// CreateMcpServer creates an MCP server under an integrated account of env (version 1).
// ErrNotFound when the account is not in env.
//
// Without MaxPerAccount and Check it is one INSERT: the composite foreign key
// (environment_id, integrated_account_id) refuses a row of a missing account, so there is no
// check to race with. With either, it is one transaction that locks the account row
// (PostgreSQL: FOR NO KEY UPDATE, which still lets other servers' foreign keys reference it;
// SQLite: writers are serialised), runs Check with the account's integration, and inserts
// only while the account has fewer than MaxPerAccount unexpired servers (else
// ErrLimitReached): two concurrent creates at the limit cannot both pass.
func (s *Store) CreateMcpServer(ctx context.Context, env uuid.UUID, n NewMcpServer) (McpServer, error) {
	if len(n.TokenHash) == 0 {
		return McpServer{}, errors.New("store: create mcp server: empty token hash")
	}
	cfg, err := json.Marshal(n.Config)
	if err != nil {
		return McpServer{}, fmt.Errorf("store: create mcp server: %w", err)
	}
	t := now()
	insert := `INSERT INTO mcp_servers (id, environment_id, integrated_account_id, name, config, expires_at,
		     created_by, token_hash, version, created_at, updated_at)
		 SELECT ?, ?, ?, ?, ` + s.jsonParam() + `, ?, ?, ?, 1, ?, ?`
	args := []any{newID(), env, n.IntegratedAccountID, n.Name, string(cfg), s.bindNullTime(n.ExpiresAt),
		n.CreatedBy, n.TokenHash, s.bindTime(t), s.bindTime(t)}
	if n.MaxPerAccount <= 0 && n.Check == nil {
		m, err := writeOne(ctx, s, "create mcp server", scanMcpServer, insert+` RETURNING `+mcpServerColumns, args...)
		if errors.Is(err, gorm.ErrForeignKeyViolated) {
			return McpServer{}, ErrNotFound
		}
		return m, err
	}
	if n.MaxPerAccount > 0 {
		insert += ` WHERE (SELECT count(*) FROM mcp_servers WHERE environment_id = ? AND integrated_account_id = ? AND ` +
			notExpired("") + `) < ?`
		args = append(args, env, n.IntegratedAccountID, s.bindTime(t), n.MaxPerAccount)
	}
	var m McpServer
	err = s.inTx(ctx, "create mcp server", func(tx *gorm.DB) error {
		integ, err := one(scanAll(ctx, s, tx, "create mcp server", scanString,
			`SELECT integration FROM integrated_accounts WHERE id = ? AND environment_id = ?`+s.forUpdate("FOR NO KEY UPDATE"),
			n.IntegratedAccountID, env))
		if err != nil {
			return err
		}
		if n.Check != nil {
			if err := n.Check(integ, n.Config); err != nil {
				return err
			}
		}
		rows, err := scanAll(ctx, s, tx, "create mcp server", scanMcpServer, insert+` RETURNING `+mcpServerColumns, args...)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return ErrLimitReached
		}
		m = rows[0]
		return nil
	})
	return m, err
}

func scanString(r scanner) (string, error) {
	var v string
	return v, r.Scan(&v)
}

// GetMcpServer reads one MCP server of an integrated account of env.
func (s *Store) GetMcpServer(ctx context.Context, env, accountID, id uuid.UUID) (McpServer, error) {
	return queryOne(ctx, s, "get mcp server", scanMcpServer,
		`SELECT `+mcpServerColumns+` FROM mcp_servers
		 WHERE id = ? AND integrated_account_id = ? AND environment_id = ? AND `+notExpired(""),
		id, accountID, env, s.bindTime(now()))
}

// ListMcpServers lists the MCP servers of an integrated account of env oldest first, limit
// per page, resuming after cursor ("" for the first page); next is "" on the last page.
// ErrNotFound when the account is not in env (checked only when the page is empty).
func (s *Store) ListMcpServers(ctx context.Context, env, accountID uuid.UUID, limit int, cursor string) (items []McpServer, next string, err error) {
	items, next, err = listPage(ctx, s, "list mcp servers", scanMcpServer, func(m McpServer) position { return position{m.CreatedAt, m.ID} },
		`SELECT `+mcpServerColumns+` FROM mcp_servers WHERE environment_id = ? AND integrated_account_id = ? AND `+notExpired(""),
		[]any{env, accountID, s.bindTime(now())}, limit, cursor, false)
	if err == nil && len(items) == 0 {
		if _, err := s.GetIntegratedAccount(ctx, env, accountID); err != nil {
			return nil, "", err
		}
	}
	return items, next, err
}

// DeleteMcpServer deletes an MCP server of an integrated account of env and returns the
// deleted row. With ifMatch non-nil, only when the stored version is one of ifMatch (an
// empty list never matches). One DELETE … RETURNING; when it deletes nothing: without
// ifMatch ErrNotFound, with it one SELECT tells ErrNotFound from a mismatch, which returns
// a *VersionMismatchError that carries the current row.
func (s *Store) DeleteMcpServer(ctx context.Context, env, accountID, id uuid.UUID, ifMatch []int64) (McpServer, error) {
	return conditionalWrite(ctx, s, "delete mcp server", scanMcpServer,
		`DELETE FROM mcp_servers WHERE id = ? AND integrated_account_id = ? AND environment_id = ? AND `+notExpired(""), mcpServerColumns,
		[]any{id, accountID, env, s.bindTime(now())}, ifMatch, func() (McpServer, error) { return s.GetMcpServer(ctx, env, accountID, id) })
}

// McpTarget is what the MCP endpoint needs to serve a token: the MCP server and its account.
// Server.Config carries everything the request path decides on: Methods and Tags (which tools),
// ToolExposure (all or discovery) and RequireAPITokenAuth (an API token of
// Server.EnvironmentID must come with the request).
type McpTarget struct {
	Server  McpServer
	Account IntegratedAccount
}

// ResolveMcpToken finds the unexpired MCP server whose token has this hash, with its integrated
// account, in one statement. It is not scoped by environment: the token is the credential. An
// expired server is ErrNotFound, like a deleted one; ExpiresAt is returned so that a cache can
// stop trusting the answer when it passes.
func (s *Store) ResolveMcpToken(ctx context.Context, hash []byte) (McpTarget, error) {
	cols := "m." + strings.ReplaceAll(mcpServerColumns, ", ", ", m.") + ", a." + strings.ReplaceAll(accountColumns, ", ", ", a.")
	return queryOne(ctx, s, "resolve mcp token", scanTarget, `SELECT `+cols+` FROM mcp_servers m JOIN integrated_accounts a
	      ON a.id = m.integrated_account_id AND a.environment_id = m.environment_id
	    WHERE m.token_hash = ? AND `+notExpired("m."), hash, s.bindTime(now()))
}

// RotateMcpServerToken replaces the token hash of an MCP server, moving version by one and
// updated_at to now (never back), and returns the row as stored. With ifMatch non-nil, only
// when the stored version is one of ifMatch (an empty list never matches). When nothing was
// updated, one SELECT tells ErrNotFound from a mismatch, a *VersionMismatchError that carries
// the current row.
func (s *Store) RotateMcpServerToken(ctx context.Context, env, accountID, id uuid.UUID, newHash []byte, ifMatch []int64) (McpServer, error) {
	if len(newHash) == 0 {
		return McpServer{}, errors.New("store: rotate mcp server token: empty hash")
	}
	return conditionalWrite(ctx, s, "rotate mcp server token", scanMcpServer,
		`UPDATE mcp_servers SET token_hash = ?, version = version + 1, `+s.touch()+`
		WHERE id = ? AND integrated_account_id = ? AND environment_id = ? AND `+notExpired(""), mcpServerColumns,
		[]any{newHash, s.bindTime(now()), id, accountID, env, s.bindTime(now())}, ifMatch,
		func() (McpServer, error) { return s.GetMcpServer(ctx, env, accountID, id) })
}

// touch is the SET term for updated_at, taking the time to bind: now, but never before the
// stored value. The time is read before the row is locked, so a writer that waited for
// another could otherwise move updated_at back while version moves on.
func (s *Store) touch() string {
	if s.sqlite() {
		return `updated_at = max(?, updated_at)` // fixed-width UTC text: text order is time order
	}
	return `updated_at = GREATEST(?::timestamptz, updated_at)`
}

// jsonParam is the placeholder of a JSON document: SQLite validates and minifies it.
func (s *Store) jsonParam() string {
	if s.sqlite() {
		return `json(?)`
	}
	return `?`
}

var scanMcpServer = scanRow[McpServer, mcpServerRow]

// mcpServerRow receives the columns of mcpServerColumns, in order.
type mcpServerRow struct {
	m                McpServer
	cfg              configColumn
	expires          nullDBTime
	created, updated dbTime
}

func (x *mcpServerRow) dest() []any {
	return []any{&x.m.ID, &x.m.EnvironmentID, &x.m.IntegratedAccountID, &x.m.Name, &x.cfg, &x.expires,
		&x.m.CreatedBy, &x.m.Version, &x.created, &x.updated}
}

func (x *mcpServerRow) value() McpServer {
	m := x.m
	m.Config, m.ExpiresAt = McpServerConfig(x.cfg), x.expires.t
	m.CreatedAt, m.UpdatedAt = time.Time(x.created), time.Time(x.updated)
	return m
}

func scanTarget(r scanner) (McpTarget, error) {
	var m mcpServerRow
	var a accountRow
	err := r.Scan(append(m.dest(), a.dest()...)...)
	return McpTarget{Server: m.value(), Account: a.value()}, err
}
