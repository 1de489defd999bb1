package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The prefixes that mark the kinds of secret, so that a leaked one is recognisable (secret
// scanners) and the two are never confused.
const (
	APITokenPrefix = "mcpapi_" // API tokens (Authorization: Bearer on the REST API)
	MCPTokenPrefix = "mcp_"    // MCP server tokens (the last segment of an MCP server's url)
)

// NewSecret makes a URL-safe secret, prefix + 32 random bytes in unpadded base64url (the
// prefix marks its kind: APITokenPrefix, MCPTokenPrefix), and the hash to store. Only the
// caller ever sees the secret.
func NewSecret(prefix string) (secret string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it aborts the program instead)
	secret = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashSecret(secret)
}

// HashSecret is the SHA-256 of a secret, the only form in which secrets are stored.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// EnsureEnvironment returns the id of the environment called name, creating it if needed.
// Concurrent callers with the same name get the same id.
func (s *Store) EnsureEnvironment(ctx context.Context, name string) (uuid.UUID, error) {
	if name == "" {
		return uuid.Nil, errors.New("store: ensure environment: empty name")
	}
	if _, err := s.exec(ctx, "ensure environment",
		`INSERT INTO environments (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		newID(), name, s.bindTime(now())); err != nil {
		return uuid.Nil, err
	}
	id, err := queryOne(ctx, s, "ensure environment", scanUUID,
		`SELECT id FROM environments WHERE name = ?`, name)
	if errors.Is(err, ErrNotFound) { // only if someone deleted it in between
		return uuid.Nil, fmt.Errorf("store: ensure environment: %w", err)
	}
	return id, err
}

// CreateAPIToken stores a new API token (its hash) for userID in the environment envName,
// creating the environment if needed.
func (s *Store) CreateAPIToken(ctx context.Context, envName string, userID uuid.UUID, hash []byte) (APIToken, error) {
	if len(hash) == 0 {
		return APIToken{}, errors.New("store: create api token: empty hash")
	}
	envID, err := s.EnsureEnvironment(ctx, envName)
	if err != nil {
		return APIToken{}, err
	}
	t := APIToken{ID: newID(), EnvironmentID: envID, EnvironmentName: envName, UserID: userID, CreatedAt: now()}
	_, err = s.exec(ctx, "create api token",
		`INSERT INTO api_tokens (id, environment_id, user_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.EnvironmentID, t.UserID, hash, s.bindTime(t.CreatedAt))
	if err != nil {
		return APIToken{}, err
	}
	return t, nil
}

// EnsureAPIToken registers a token hash for userID in envName unless it is already there
// (bootstrap from configuration). A token that exists is left as it is, revoked or not; one
// registered for another environment or user is an error.
func (s *Store) EnsureAPIToken(ctx context.Context, envName string, userID uuid.UUID, hash []byte) error {
	if len(hash) == 0 {
		return errors.New("store: ensure api token: empty hash")
	}
	envID, err := s.EnsureEnvironment(ctx, envName)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, "ensure api token",
		`INSERT INTO api_tokens (id, environment_id, user_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (token_hash) DO NOTHING`,
		newID(), envID, userID, hash, s.bindTime(now())); err != nil {
		return err
	}
	owner, err := queryOne(ctx, s, "ensure api token", func(r scanner) (Principal, error) {
		var p Principal
		return p, r.Scan(&p.EnvironmentID, &p.UserID)
	}, `SELECT environment_id, user_id FROM api_tokens WHERE token_hash = ?`, hash)
	if err != nil {
		return fmt.Errorf("store: ensure api token: %w", err)
	}
	if owner.EnvironmentID != envID || owner.UserID != userID {
		return errors.New("store: ensure api token: the token is already registered for another environment or user")
	}
	return nil
}

// CountAPITokens counts the tokens that are not revoked.
func (s *Store) CountAPITokens(ctx context.Context) (int64, error) {
	return queryOne(ctx, s, "count api tokens", func(r scanner) (int64, error) {
		var n int64
		return n, r.Scan(&n)
	}, `SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL`)
}

// ListAPITokens lists the tokens of the environment envName ("" for all), revoked ones
// included, oldest first.
func (s *Store) ListAPITokens(ctx context.Context, envName string) ([]APIToken, error) {
	q := `SELECT t.id, t.environment_id, e.name, t.user_id, t.created_at, t.revoked_at
		FROM api_tokens t JOIN environments e ON e.id = t.environment_id`
	var args []any
	if envName != "" {
		q += ` WHERE e.name = ?`
		args = append(args, envName)
	}
	q += ` ORDER BY t.created_at, t.id`
	tokens, err := queryAll(ctx, s, "list api tokens", scanAPIToken, q, args...)
	if tokens == nil && err == nil {
		tokens = []APIToken{}
	}
	return tokens, err
}

// RevokeAPIToken revokes a token; ErrNotFound when there is no such token or it is revoked.
func (s *Store) RevokeAPIToken(ctx context.Context, id uuid.UUID) error {
	return s.execOne(ctx, "revoke api token",
		`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.bindTime(now()), id)
}

// Authenticate finds who a token hash speaks for; ErrNotFound when unknown or revoked.
func (s *Store) Authenticate(ctx context.Context, hash []byte) (Principal, error) {
	return queryOne(ctx, s, "authenticate", func(r scanner) (Principal, error) {
		var p Principal
		return p, r.Scan(&p.TokenID, &p.EnvironmentID, &p.UserID)
	}, `SELECT id, environment_id, user_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL`, hash)
}

func scanUUID(r scanner) (uuid.UUID, error) {
	var id uuid.UUID
	return id, r.Scan(&id)
}

func scanAPIToken(r scanner) (APIToken, error) {
	var (
		t       APIToken
		created dbTime
		revoked nullDBTime
	)
	err := r.Scan(&t.ID, &t.EnvironmentID, &t.EnvironmentName, &t.UserID, &created, &revoked)
	t.CreatedAt, t.RevokedAt = time.Time(created), revoked.t
	return t, err
}
