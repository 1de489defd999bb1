package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// sqliteTimeLayout is how SQLite keeps times: UTC, microseconds, fixed width, so that text
// order is time order and equal times are equal text.
const sqliteTimeLayout = "2006-01-02 15:04:05.000000+00:00"

// utc normalises a time to what the databases store: UTC, microseconds.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// bindArgs turns, in place, the arguments of one statement into what the driver binds directly
// (ids: bindID); scanAll and exec, which every statement goes through, call it, so callers
// pass ids as uuid.UUID on both dialects.
func (s *Store) bindArgs(args []any) []any {
	if s.sqlite() {
		return args
	}
	for i, a := range args {
		if id, ok := a.(uuid.UUID); ok {
			args[i] = s.bindID(id)
		}
	}
	return args
}

// bindID is the argument to bind for an id. On PostgreSQL a pgtype.UUID: pgx has no encode
// plan for uuid.UUID, so it falls back to its driver.Valuer, fails to encode that text as
// binary uuid, parses it back and builds two errors on the way, about 14 allocations per id
// per statement. SQLite keeps ids as their canonical text, which uuid.UUID's Value already is.
func (s *Store) bindID(id uuid.UUID) any {
	if s.sqlite() {
		return id
	}
	return pgtype.UUID{Bytes: id, Valid: true}
}

// bindTime is the argument to bind for a time: a time.Time on PostgreSQL, the fixed-width
// text on SQLite (the driver's own format trims trailing zeros, which breaks equality).
func (s *Store) bindTime(t time.Time) any {
	t = utc(t)
	if s.sqlite() {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// bindNullTime binds nil as NULL.
func (s *Store) bindNullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.bindTime(*t)
}

// dbTime scans a stored time (time.Time from pgx, text from SQLite) as UTC.
type dbTime time.Time

func (d *dbTime) Scan(src any) error {
	t, err := parseDBTime(src)
	if err != nil {
		return err
	}
	*d = dbTime(t)
	return nil
}

// nullDBTime scans a nullable stored time.
type nullDBTime struct{ t *time.Time }

func (d *nullDBTime) Scan(src any) error {
	if src == nil {
		d.t = nil
		return nil
	}
	t, err := parseDBTime(src)
	if err != nil {
		return err
	}
	d.t = &t
	return nil
}

var timeLayouts = []string{
	sqliteTimeLayout,
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
}

func parseDBTime(src any) (time.Time, error) {
	var s string
	switch v := src.(type) {
	case time.Time:
		return utc(v), nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return time.Time{}, fmt.Errorf("store: cannot scan %T as a time", src)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return utc(t), nil
		}
	}
	return time.Time{}, fmt.Errorf("store: cannot parse stored time %q", s)
}

// configJSON is the stored shape of Config: a key is present only when it differs from the
// default (a list only when it restricts, tool_exposure only when not "all",
// require_api_token_auth only when true), so that a value set to its default and an absent one
// are the same stored document.
type configJSON struct {
	Methods             []string `json:"methods,omitzero"` // nil: absent; empty: []
	Tags                []string `json:"tags,omitzero"`
	ToolExposure        string   `json:"tool_exposure,omitempty"`
	RequireAPITokenAuth bool     `json:"require_api_token_auth,omitempty"`
}

// MarshalJSON writes nil lists as absent keys and empty lists as [], and defaults as absent keys.
func (c McpServerConfig) MarshalJSON() ([]byte, error) {
	j := configJSON{Methods: c.Methods, Tags: c.Tags, RequireAPITokenAuth: c.RequireAPITokenAuth}
	if c.ToolExposure != ToolExposureAll {
		j.ToolExposure = c.ToolExposure
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads absent or null keys as nil lists and [] as an empty non-nil list; an
// absent tool_exposure is "" (all).
func (c *McpServerConfig) UnmarshalJSON(b []byte) error {
	var j configJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	// encoding/json leaves a list nil for an absent key or null, and makes [] an empty non-nil list.
	*c = McpServerConfig(j)
	if c.ToolExposure == "all" { // never stored so, but read as what it means
		c.ToolExposure = ToolExposureAll
	}
	return nil
}

// configColumn scans the config column (jsonb or JSON text).
type configColumn McpServerConfig

func (c *configColumn) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("store: cannot scan %T as config", src)
	}
	// The column holds what MarshalJSON wrote: read it with UnmarshalJSON directly, which
	// json.Unmarshal would call after a validating pass of its own, and the default config,
	// the common case, without decoding at all.
	var cfg McpServerConfig
	if !bytes.Equal(bytes.TrimSpace(b), []byte("{}")) { // {} is the zero McpServerConfig
		if err := cfg.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("store: stored config: %w", err)
		}
	}
	*c = configColumn(cfg)
	return nil
}

// listJSON is a list as a JSON array: never null, so a nil list set as a value means [].
func listJSON(list []string) string {
	b, _ := json.Marshal(nonNil(list)) // []string always marshals
	return string(b)
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
