package store

import (
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Errors the store returns; the server maps them to HTTP statuses.
var (
	// ErrNotFound: no such row in the caller's environment (a foreign row is simply not found).
	ErrNotFound = errors.New("not found")
	// ErrBadCursor: a pagination cursor that this store did not issue (malformed, truncated).
	ErrBadCursor = errors.New("invalid cursor")
	// ErrVersionMismatch: a conditional write (If-Match) whose versions do not include the
	// stored one; nothing was written. The error is always a *VersionMismatchError, which
	// carries the current row (errors.Is(err, ErrVersionMismatch) holds for it).
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrUnavailable: the database could not be reached or timed out.
	ErrUnavailable = errors.New("database unavailable")
	// ErrLimitReached: the integrated account already has NewMcpServer.MaxPerAccount MCP servers.
	ErrLimitReached = errors.New("limit reached")
)

// Versioned is a row written under If-Match: an MCP server or an integrated account.
type Versioned interface {
	McpServer | IntegratedAccount
	rowVersion() int64
}

// VersionMismatchError is the error of a conditional write (If-Match) whose versions do not
// include the stored one: nothing was written, and Current is the row as stored, so that the
// caller can answer 412 with the current ETag (CurrentVersion).
type VersionMismatchError[T Versioned] struct {
	Current T
}

func (e *VersionMismatchError[T]) Error() string {
	return "store: version mismatch: the stored version is " + strconv.FormatInt(e.CurrentVersion(), 10)
}

// Is makes errors.Is(err, ErrVersionMismatch) hold.
func (e *VersionMismatchError[T]) Is(target error) bool { return target == ErrVersionMismatch }

// CurrentVersion is the stored version (the 412's ETag), whatever the row's type: callers that
// only need it match the error with errors.As on an interface{ CurrentVersion() int64 }.
func (e *VersionMismatchError[T]) CurrentVersion() int64 { return e.Current.rowVersion() }

func (m McpServer) rowVersion() int64         { return m.Version }
func (a IntegratedAccount) rowVersion() int64 { return a.Version }

// Principal is who an API token speaks for.
type Principal struct {
	TokenID       uuid.UUID
	EnvironmentID uuid.UUID
	UserID        uuid.UUID
}

// APIToken describes a stored API token; the secret itself is never kept, only its hash.
type APIToken struct {
	ID              uuid.UUID
	EnvironmentID   uuid.UUID
	EnvironmentName string
	UserID          uuid.UUID
	CreatedAt       time.Time
	RevokedAt       *time.Time
}

// IntegratedAccount is the parent of MCP servers: one connected account of an integration.
type IntegratedAccount struct {
	ID            uuid.UUID
	EnvironmentID uuid.UUID
	Integration   string
	TenantID      *string
	// Credentials is the upstream credential as the server sealed it; nil when there is none.
	Credentials []byte
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// NewIntegratedAccount is what creating an integrated account needs.
type NewIntegratedAccount struct {
	Integration string
	TenantID    *string
	// Credentials is sealed by the server; nil for none.
	Credentials []byte
}

// AccountPatch is a partial update of an integrated account.
type AccountPatch struct {
	TenantID    Field[string]
	Credentials Field[[]byte]
	// IfMatch, when non-nil, makes the update conditional on the stored version.
	IfMatch []int64
}

// McpServerConfig scopes the tools of an MCP server. A nil list is unrestricted (absent in JSON);
// an empty non-nil list allows nothing and is kept as [].
type McpServerConfig struct {
	Methods []string
	Tags    []string
	// ToolExposure is how tools/list shows the allowed tools: "" (the default, "all": each
	// tool) or ToolExposureDiscovery (three meta-tools).
	ToolExposure string
	// RequireAPITokenAuth: MCP clients must also send a valid API token of the server's
	// environment.
	RequireAPITokenAuth bool
}

// Tool exposures of McpServerConfig.ToolExposure.
const (
	ToolExposureAll       = "" // stored as an absent key; the API says "all"
	ToolExposureDiscovery = "discovery"
)

// ConfigCheck decides whether an MCP server's config is acceptable for an account of the given
// integration (the server's "allows at least one tool" rule). The store calls it inside the
// writing transaction, with the rows locked, on the config as it will be stored; an error it
// returns is returned as it is and nothing is written.
type ConfigCheck func(integration string, c McpServerConfig) error

// McpServer is one MCP server record.
type McpServer struct {
	ID                  uuid.UUID
	EnvironmentID       uuid.UUID
	IntegratedAccountID uuid.UUID
	Name                string
	Config              McpServerConfig
	ExpiresAt           *time.Time
	CreatedBy           uuid.UUID
	Version             int64
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// NewMcpServer is what creating an MCP server needs.
type NewMcpServer struct {
	IntegratedAccountID uuid.UUID
	Name                string
	Config              McpServerConfig
	ExpiresAt           *time.Time
	CreatedBy           uuid.UUID
	TokenHash           []byte
	// MaxPerAccount, when positive, refuses the server with ErrLimitReached when the account
	// already has that many (unexpired) MCP servers; concurrent creates cannot both pass it.
	MaxPerAccount int
	// Check, when non-nil, is run on the config with the account's integration before the
	// insert, in the same transaction.
	Check ConfigCheck
}

// Field is one member of a partial update: absent (Set false), null (Set and Null), or a value.
type Field[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// McpServerPatch is a partial update of an MCP server. Lists arrive already normalised.
type McpServerPatch struct {
	Name    Field[string]
	Methods Field[[]string]
	Tags    Field[[]string]
	// ToolExposure and RequireAPITokenAuth: Null removes the key (the default); the server
	// sends its defaults ("all", false) as Null so that they are stored as absent keys.
	ToolExposure        Field[string]
	RequireAPITokenAuth Field[bool]
	ExpiresAt           Field[time.Time]
	// Check, when non-nil and the patch sets a member of config, is run on the config as it
	// will be after the patch, with the row locked in the same transaction as the update.
	Check ConfigCheck
	// IfMatch makes the update conditional on the stored version (If-Match): nil is
	// unconditional; otherwise the update applies only when the stored version is one of
	// the list, so an empty non-nil list never matches.
	IfMatch []int64
}
