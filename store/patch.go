package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"
)

// Empty reports whether the patch sets no member (IfMatch aside).
func (p Patch) Empty() bool {
	return !p.Name.Set && !p.Methods.Set && !p.Tags.Set && !p.ExpiresAt.Set
}

// UpdateMcpServer applies a partial update to an MCP server of an integrated account of env
// as one conditional UPDATE … RETURNING (no transaction, no read before):
//   - only the members present are set; methods and tags are merged into config by the
//     database, so concurrent patches of different members never overwrite each other;
//   - the row changes only if some present member differs from what is stored (and, with
//     IfMatch, only when the stored version is one of IfMatch); then version moves by one
//     and updated_at to now;
//   - if no row changed, one SELECT tells: no such row → ErrNotFound; stored version not in
//     IfMatch → the current row with ErrVersionMismatch; else a no-op → the stored row.
//
// An empty patch writes nothing and only does the SELECT.
func (s *Store) UpdateMcpServer(ctx context.Context, env, accountID, id uuid.UUID, p Patch) (McpServer, error) {
	if p.Name.Set && p.Name.Null {
		return McpServer{}, errors.New("store: update mcp server: name cannot be null")
	}
	if !p.Empty() {
		q, args := s.patchStatement(env, accountID, id, p)
		rows, err := writeAll(ctx, s, "update mcp server", scanMcpServer, q, args...)
		if err != nil {
			return McpServer{}, err
		}
		if len(rows) == 1 {
			return rows[0], nil
		}
	}
	return unchanged(p.IfMatch, func(m McpServer) int64 { return m.Version },
		func() (McpServer, error) { return s.GetMcpServer(ctx, env, accountID, id) })
}

// patchStatement builds the UPDATE for a non-empty patch. Per member it adds a SET term and
// a "differs" term; the row is updated when any "differs" term holds.
func (s *Store) patchStatement(env, accountID, id uuid.UUID, p Patch) (string, []any) {
	var (
		sets, differs       []string
		setArgs, differArgs []any
		distinct            = s.distinctFrom()
		configExpr          = "config"
		sqlitePatch         = map[string]any{}
	)
	if p.Name.Set {
		sets, setArgs = append(sets, "name = ?"), append(setArgs, p.Name.Value)
		differs, differArgs = append(differs, "name "+distinct+" ?"), append(differArgs, p.Name.Value)
	}
	if f := p.ExpiresAt; f.Set {
		if f.Null {
			sets = append(sets, "expires_at = NULL")
			differs = append(differs, "expires_at IS NOT NULL")
		} else {
			t := s.bindTime(f.Value)
			sets, setArgs = append(sets, "expires_at = ?"), append(setArgs, t)
			differs, differArgs = append(differs, "expires_at "+distinct+" ?"), append(differArgs, t)
		}
	}
	for _, m := range []struct {
		key string
		f   Field[[]string]
	}{{"methods", p.Methods}, {"tags", p.Tags}} {
		if !m.f.Set {
			continue
		}
		switch {
		case s.sqlite() && m.f.Null:
			sqlitePatch[m.key] = nil // RFC 7396: null removes the member
			differs = append(differs, "json_type(config, '$."+m.key+"') IS NOT NULL")
		case s.sqlite():
			list := listJSON(m.f.Value)
			sqlitePatch[m.key] = json.RawMessage(list)
			differs = append(differs, "json_extract(config, '$."+m.key+"') IS NOT json(?)")
			differArgs = append(differArgs, list)
		case m.f.Null:
			configExpr = "(" + configExpr + " - '" + m.key + "')"
			differs = append(differs, "config -> '"+m.key+"' IS NOT NULL")
		default:
			list := listJSON(m.f.Value)
			configExpr = "(" + configExpr + " || jsonb_build_object('" + m.key + "', ?::jsonb))"
			setArgs = append(setArgs, list)
			differs = append(differs, "config -> '"+m.key+"' IS DISTINCT FROM ?::jsonb")
			differArgs = append(differArgs, list)
		}
	}
	if len(sqlitePatch) > 0 {
		b, _ := json.Marshal(sqlitePatch) // strings, nil and raw arrays always marshal
		sets, setArgs = append(sets, "config = json_patch(config, ?)"), append(setArgs, string(b))
	} else if configExpr != "config" {
		sets = append(sets, "config = "+configExpr)
	}
	sets, setArgs = append(sets, "version = version + 1", s.touch()), append(setArgs, s.bindTime(now()))

	q := "UPDATE mcp_servers SET " + strings.Join(sets, ", ") +
		" WHERE id = ? AND integrated_account_id = ? AND environment_id = ?" +
		" AND (" + strings.Join(differs, " OR ") + ")"
	args := append(setArgs, id, accountID, env)
	args = append(args, differArgs...)
	if p.IfMatch != nil {
		cond, arg := s.versionIn(p.IfMatch)
		q += " AND " + cond
		args = append(args, arg)
	}
	return q + " RETURNING " + mcpServerColumns, args
}
