package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Empty reports whether the patch sets no member (IfMatch aside).
func (p McpServerPatch) Empty() bool {
	return !p.Name.Set && !p.ExpiresAt.Set && !p.setsConfig()
}

// setsConfig reports whether the patch sets a member of config.
func (p McpServerPatch) setsConfig() bool {
	return p.Methods.Set || p.Tags.Set || p.ToolExposure.Set || p.RequireAPITokenAuth.Set
}

// ApplyConfig is c with the patch's config members merged in (RFC 7396): what the database
// will store.
func (p McpServerPatch) ApplyConfig(c McpServerConfig) McpServerConfig {
	if p.Methods.Set {
		c.Methods = nil
		if !p.Methods.Null {
			c.Methods = nonNil(p.Methods.Value)
		}
	}
	if p.Tags.Set {
		c.Tags = nil
		if !p.Tags.Null {
			c.Tags = nonNil(p.Tags.Value)
		}
	}
	if p.ToolExposure.Set {
		c.ToolExposure = ToolExposureAll
		if !p.ToolExposure.Null && p.ToolExposure.Value != "all" {
			c.ToolExposure = p.ToolExposure.Value
		}
	}
	if p.RequireAPITokenAuth.Set {
		c.RequireAPITokenAuth = !p.RequireAPITokenAuth.Null && p.RequireAPITokenAuth.Value
	}
	return c
}

// UpdateMcpServer applies a partial update to an MCP server of an integrated account of env
// as one conditional UPDATE … RETURNING (no transaction, no read before):
//   - only the members present are set; methods and tags are merged into config by the
//     database, so concurrent patches of different members never overwrite each other;
//   - the row changes only if some present member differs from what is stored (and, with
//     IfMatch, only when the stored version is one of IfMatch); then version moves by one
//     and updated_at to now;
//   - if no row changed, one SELECT tells: no such row → ErrNotFound; stored version not in
//     IfMatch → a *VersionMismatchError with the current row; else a no-op → the stored row.
//
// An empty patch writes nothing and only does the SELECT. An expired server is not found.
//
// When p.Check is set and the patch sets a member of config, p.Check runs on the stored config
// merged with the patch, and the update applies only at the version that config was read at
// (see updateChecked). A stale IfMatch is ErrVersionMismatch before the check runs.
func (s *Store) UpdateMcpServer(ctx context.Context, env, accountID, id uuid.UUID, p McpServerPatch) (McpServer, error) {
	if p.Name.Set && p.Name.Null {
		return McpServer{}, errors.New("store: update mcp server: name cannot be null")
	}
	if p.Check != nil && p.setsConfig() {
		return s.updateChecked(ctx, env, accountID, id, p)
	}
	q, args := s.patchStatement(env, accountID, id, p)
	return applyUpdate(ctx, s, "update mcp server", scanMcpServer, q, args, p.IfMatch,
		func() (McpServer, error) { return s.GetMcpServer(ctx, env, accountID, id) })
}

// checkAttempts bounds how often updateChecked tries without a lock before it takes one.
var checkAttempts = 3 // a variable for the tests (export_test.go)

// checkedRow is what a checked update reads first: the version, the config the patch merges
// into, and the account's integration.
type checkedRow struct {
	version     int64
	cfg         configColumn
	integration string
}

const checkedRowQuery = `SELECT m.version, m.config, a.integration FROM mcp_servers m JOIN integrated_accounts a
      ON a.id = m.integrated_account_id AND a.environment_id = m.environment_id
    WHERE m.id = ? AND m.integrated_account_id = ? AND m.environment_id = ? AND `

func scanCheckedRow(r scanner) (checkedRow, error) {
	var c checkedRow
	return c, r.Scan(&c.version, &c.cfg, &c.integration)
}

// updateChecked is UpdateMcpServer for a patch of config with a check. Optimistically: read
// the row's version, config and integration (one SELECT), run the check on the merged config,
// then the usual conditional UPDATE with "AND version = <the version read>" added: two round
// trips, no transaction. If another write moved the version in between, nothing is written and
// it starts over; after checkAttempts such losses (a hot row) it takes the row lock instead
// (lockedUpdateChecked), which always finishes. Either way the config checked is the config
// the update merges into.
func (s *Store) updateChecked(ctx context.Context, env, accountID, id uuid.UUID, p McpServerPatch) (McpServer, error) {
	for range checkAttempts {
		cur, err := queryOne(ctx, s, "update mcp server", scanCheckedRow, checkedRowQuery+notExpired("m."),
			id, accountID, env, s.bindTime(now()))
		if err != nil {
			return McpServer{}, err
		}
		m, done, err := s.checkAndUpdate(ctx, nil, env, accountID, id, p, cur)
		if done || err != nil {
			return m, err
		}
		// Nothing written: a no-op at that version, or the row moved on (or went away).
		m, err = s.GetMcpServer(ctx, env, accountID, id)
		if err != nil || m.Version == cur.version {
			return m, err
		}
	}
	return s.lockedUpdateChecked(ctx, env, accountID, id, p)
}

// lockedUpdateChecked is updateChecked in one transaction that locks the row first
// (PostgreSQL: FOR UPDATE; SQLite: writers are serialised), so nothing can come between the
// read, the check and the write.
func (s *Store) lockedUpdateChecked(ctx context.Context, env, accountID, id uuid.UUID, p McpServerPatch) (McpServer, error) {
	var out McpServer
	var done bool
	err := s.inTx(ctx, "update mcp server", func(tx *gorm.DB) error {
		cur, err := one(scanAll(ctx, s, tx, "update mcp server", scanCheckedRow, checkedRowQuery+notExpired("m.")+
			s.forUpdate("FOR UPDATE OF m"), id, accountID, env, s.bindTime(now())))
		if err != nil {
			return err
		}
		out, done, err = s.checkAndUpdate(ctx, tx, env, accountID, id, p, cur)
		return err
	})
	if done || err != nil {
		return out, err
	}
	return unchanged(p.IfMatch, func() (McpServer, error) { return s.GetMcpServer(ctx, env, accountID, id) })
}

// checkAndUpdate decides a checked update on the row as read: a stale IfMatch answers
// a *VersionMismatchError with the current row, a refused config the check's error; else it runs
// the UPDATE at the version read (on tx when non-nil) and reports whether it wrote.
func (s *Store) checkAndUpdate(ctx context.Context, tx *gorm.DB, env, accountID, id uuid.UUID, p McpServerPatch, cur checkedRow) (McpServer, bool, error) {
	if !versionMatches(p.IfMatch, cur.version) {
		m, err := s.getMcpServerOn(ctx, tx, env, accountID, id)
		if err != nil {
			return McpServer{}, true, err
		}
		return McpServer{}, true, &VersionMismatchError[McpServer]{Current: m}
	}
	if err := p.Check(cur.integration, p.ApplyConfig(McpServerConfig(cur.cfg))); err != nil {
		return McpServer{}, true, err
	}
	at := p
	at.IfMatch = []int64{cur.version}
	q, args := s.patchStatement(env, accountID, id, at)
	var rows []McpServer
	var err error
	if tx != nil {
		rows, err = scanAll(ctx, s, tx, "update mcp server", scanMcpServer, q, args...)
	} else {
		rows, err = writeAll(ctx, s, "update mcp server", scanMcpServer, q, args...)
	}
	if err != nil || len(rows) == 1 {
		return firstOr(rows), true, err
	}
	return McpServer{}, false, nil
}

// getMcpServerOn is GetMcpServer on tx when non-nil (inside a transaction that holds SQLite's
// write queue, the pool would wait for it).
func (s *Store) getMcpServerOn(ctx context.Context, tx *gorm.DB, env, accountID, id uuid.UUID) (McpServer, error) {
	if tx == nil {
		return s.GetMcpServer(ctx, env, accountID, id)
	}
	return one(scanAll(ctx, s, tx, "get mcp server", scanMcpServer, `SELECT `+mcpServerColumns+` FROM mcp_servers
		 WHERE id = ? AND integrated_account_id = ? AND environment_id = ? AND `+notExpired(""),
		id, accountID, env, s.bindTime(now())))
}

// patchStatement builds the UPDATE of a patch, "" when it sets nothing. Config members are
// merged into the stored document by the database (RFC 7396), never replaced from a read.
func (s *Store) patchStatement(env, accountID, id uuid.UUID, p McpServerPatch) (string, []any) {
	var u update
	distinct := s.distinctFrom()
	if p.Name.Set {
		u.set(distinct, "name", p.Name.Value)
	}
	if f := p.ExpiresAt; f.Set {
		u.set(distinct, "expires_at", nullable(f, s.bindTime))
	}
	if members := configMembers(p); s.sqlite() {
		s.sqliteConfigPatch(&u, members)
	} else {
		postgresConfigPatch(&u, members)
	}
	if u.empty() {
		return "", nil
	}
	return s.statement("mcp_servers", &u, mcpServerWhere, []any{id, accountID, env, s.bindTime(now())}, p.IfMatch, mcpServerColumns)
}

// mcpServerWhere selects one MCP server that has not expired, by id, account and environment.
var mcpServerWhere = "id = ? AND integrated_account_id = ? AND environment_id = ? AND " + notExpired("")

// sqliteConfigPatch sets config to json_patch(config, <the members as one JSON object>).
func (s *Store) sqliteConfigPatch(u *update, members []configMember) {
	if len(members) == 0 {
		return
	}
	patch := make(map[string]any, len(members))
	for _, m := range members {
		if m.null {
			patch[m.key] = nil // RFC 7396: null removes the member
			u.addDiffer("json_type(config, '$.", m.key, "') IS NOT NULL")
			continue
		}
		patch[m.key] = json.RawMessage(m.value)
		// -> gives the member as JSON text (json_extract would give a string unquoted).
		u.addDiffer("(config -> '$.", m.key, "') IS NOT json(?)")
		u.differArgs = append(u.differArgs, m.value)
	}
	b, _ := json.Marshal(patch) // strings, nil and raw arrays always marshal
	u.addSet("config = json_patch(config, ?)")
	u.setArgs = append(u.setArgs, string(b))
}

// postgresConfigPatch sets config to config with each member set (||) or removed (-), in order:
// "config = ((config || jsonb_build_object('methods', ?::jsonb)) - 'tags')".
func postgresConfigPatch(u *update, members []configMember) {
	if len(members) == 0 {
		return
	}
	u.addSet("config = ", strings.Repeat("(", len(members)), "config")
	for _, m := range members {
		if m.null {
			writeStrings(&u.sets, " - '", m.key, "')")
			u.addDiffer("config -> '", m.key, "' IS NOT NULL")
			continue
		}
		writeStrings(&u.sets, " || jsonb_build_object('", m.key, "', ?::jsonb))")
		u.setArgs = append(u.setArgs, m.value)
		u.addDiffer("config -> '", m.key, "' IS DISTINCT FROM ?::jsonb")
		u.differArgs = append(u.differArgs, m.value)
	}
}

// configMember is one member of config that a patch sets: removed (null) or set to a JSON value.
type configMember struct {
	key   string
	null  bool
	value string // JSON text
}

// configMembers lists the config members the patch sets, in a fixed order.
func configMembers(p McpServerPatch) []configMember {
	var out []configMember
	for _, l := range []struct {
		key string
		f   Field[[]string]
	}{{"methods", p.Methods}, {"tags", p.Tags}} {
		if l.f.Set {
			out = append(out, configMember{key: l.key, null: l.f.Null, value: listJSON(l.f.Value)})
		}
	}
	if f := p.ToolExposure; f.Set {
		v, _ := json.Marshal(f.Value) // a string always marshals
		// The default is stored as an absent key, so setting it removes the key.
		out = append(out, configMember{key: "tool_exposure", null: f.Null || f.Value == ToolExposureAll || f.Value == "all", value: string(v)})
	}
	if f := p.RequireAPITokenAuth; f.Set {
		out = append(out, configMember{key: "require_api_token_auth", null: f.Null || !f.Value, value: "true"})
	}
	return out
}
