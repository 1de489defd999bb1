package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mcpapi/mcpapi/store"
)

// TokenAuthenticator resolves the SHA-256 hash of an API token to whom it speaks for.
type TokenAuthenticator interface {
	Authenticate(ctx context.Context, hash []byte) (store.Principal, error)
}

type principalKey struct{}

func principalFrom(ctx context.Context) (store.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(store.Principal)
	return p, ok
}

// mustPrincipal is for handlers, which run only behind the auth middleware.
func mustPrincipal(ctx context.Context) store.Principal {
	p, ok := principalFrom(ctx)
	if !ok {
		panic("server: handler reached without an authenticated principal")
	}
	return p
}

// authCache remembers verified tokens for a short while, so that the hot path needs no token
// lookup. The TTL bounds how late a revocation takes effect; 0 turns the cache off.
type authCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]authEntry
}

type authEntry struct {
	principal store.Principal
	expires   time.Time
}

func (c *authCache) get(key string, now time.Time) (store.Principal, bool) {
	if c.ttl <= 0 {
		return store.Principal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		delete(c.entries, key)
		return store.Principal{}, false
	}
	return e.principal, true
}

func (c *authCache) put(key string, p store.Principal, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 10000 { // bounded: drop everything rather than grow without end
		c.entries = map[string]authEntry{}
	}
	c.entries[key] = authEntry{principal: p, expires: now.Add(c.ttl)}
}

func unauthorized(detail, errCode string) *Problem {
	p := newProblem(http.StatusUnauthorized, detail)
	challenge := `Bearer realm="mcpapi"`
	if errCode != "" {
		challenge += `, error="` + errCode + `"`
	}
	p.Header = http.Header{"Www-Authenticate": []string{challenge}}
	return p
}

// authenticate checks `Authorization: Bearer <API token>` on the spec's routes and puts the
// token's principal on the request context.
// Requests that fail it count against their client address's rate limit, and requests that pass
// against their token's.
func authenticate(auth TokenAuthenticator, routes routeTable, ttl time.Duration, limits *rateLimits) echo.MiddlewareFunc {
	cache := &authCache{ttl: ttl, entries: map[string]authEntry{}}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if op, ok := routes.lookup(c); !ok || op.public {
				return next(c)
			}
			p, err := verify(c, auth, cache)
			if err != nil {
				if limited := limits.allowAddress(c.RealIP()); limited != nil {
					return limited
				}
				return err
			}
			if limited := limits.allowToken(p.TokenID.String()); limited != nil {
				return limited
			}
			req := c.Request()
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), principalKey{}, p)))
			return next(c)
		}
	}
}

// verify resolves the request's bearer token, from the cache when it can.
func verify(c echo.Context, auth TokenAuthenticator, cache *authCache) (store.Principal, error) {
	header := c.Request().Header.Get(echo.HeaderAuthorization)
	scheme, token, found := strings.Cut(header, " ")
	if header == "" {
		return store.Principal{}, unauthorized("An API token is required: send Authorization: Bearer <token>.", "")
	}
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return store.Principal{}, unauthorized("The Authorization header must be: Bearer <token>.", "invalid_request")
	}
	hash := store.HashSecret(token)
	key := string(hash)
	now := time.Now()
	if p, ok := cache.get(key, now); ok {
		return p, nil
	}
	p, err := auth.Authenticate(c.Request().Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return p, unauthorized("The API token is not valid.", "invalid_token")
	}
	if err != nil {
		return p, storeError(err, "API token")
	}
	cache.put(key, p, now)
	return p, nil
}
