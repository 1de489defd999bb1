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
// It also remembers, for negativeTTL, hashes that matched no token, so that a flood of bad
// tokens costs at most one lookup per distinct token per negativeTTL. Both maps are bounded by
// maxAuthCacheEntries; a full map is emptied rather than grown (the cost is a lookup each).
type authCache struct {
	ttl      time.Duration
	mu       sync.Mutex
	entries  map[string]authEntry
	negative map[string]time.Time // hash → until when it is known to match nothing
}

type authEntry struct {
	principal store.Principal
	expires   time.Time
}

const (
	// maxAuthCacheEntries bounds each of the two maps of the auth cache.
	maxAuthCacheEntries = 10000
	// negativeTTL is how long a hash that matched no API token is answered 401 without a lookup.
	// Tokens are 32 random bytes, so a hash unknown now is not created later (the one exception,
	// --bootstrap-token, is made before the listener opens).
	negativeTTL = 10 * time.Second
)

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, entries: map[string]authEntry{}, negative: map[string]time.Time{}}
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
	if len(c.entries) >= maxAuthCacheEntries { // bounded: drop everything rather than grow without end
		c.entries = map[string]authEntry{}
	}
	c.entries[key] = authEntry{principal: p, expires: now.Add(c.ttl)}
}

// unknown tells whether key matched no token less than negativeTTL ago.
func (c *authCache) unknown(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.negative[key]
	if ok && now.After(until) {
		delete(c.negative, key)
		return false
	}
	return ok
}

func (c *authCache) putUnknown(key string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.negative) >= maxAuthCacheEntries {
		c.negative = map[string]time.Time{}
	}
	c.negative[key] = now.Add(negativeTTL)
}

// lookup is the API token hash belongs to: from the cache when it can, else by one lookup,
// whose answer is remembered (a token for the TTL, no token for negativeTTL); ErrNotFound for
// no token. The MCP endpoint asks it for the API token a server may require, so that an MCP
// call costs no token lookup either; the REST middleware does the same steps with the rate
// limits between them (verify).
func (c *authCache) lookup(ctx context.Context, auth TokenAuthenticator, hash []byte) (store.Principal, error) {
	key, now := string(hash), time.Now()
	if p, ok := c.get(key, now); ok {
		return p, nil
	}
	if c.unknown(key, now) {
		return store.Principal{}, store.ErrNotFound
	}
	p, err := auth.Authenticate(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.putUnknown(key, now)
	case err == nil:
		c.put(key, p, now)
	}
	return p, err
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
//
// Limits come before lookups: a token found in the cache counts against its own rate limit.
// Otherwise the client address's limit applies first (c.RealIP(), see ClientIPExtractor): an
// address over it is answered 429 without any query; requests refused without a lookup (no
// token, a malformed header, a hash known to match nothing) and lookups that find no token
// take from its bucket, valid tokens do not. A token verified by a lookup then counts against
// its own limit.
func authenticate(auth TokenAuthenticator, routes routeTable, cache *authCache, limits *rateLimits) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if op, ok := routes.lookup(c); !ok || op.public {
				return next(c)
			}
			p, err := verify(c, auth, cache, limits)
			if err != nil {
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

// verify resolves the request's bearer token: from the cache when it can, else, once the
// client address is within its limit, by one lookup.
func verify(c echo.Context, auth TokenAuthenticator, cache *authCache, limits *rateLimits) (store.Principal, error) {
	header := c.Request().Header.Get(echo.HeaderAuthorization)
	scheme, token, found := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	var hash []byte
	if found && strings.EqualFold(scheme, "Bearer") && token != "" {
		hash = store.HashSecret(token)
	}
	key := string(hash)
	now := time.Now()
	if hash != nil {
		if p, ok := cache.get(key, now); ok {
			return p, nil
		}
	}
	ip := c.RealIP()
	// Refusals that need no lookup take from the address's bucket.
	refuse := func(p *Problem) (store.Principal, error) {
		if limited := limits.allowAddress(ip); limited != nil {
			return store.Principal{}, limited
		}
		return store.Principal{}, p
	}
	switch {
	case header == "":
		return refuse(unauthorized("An API token is required: send Authorization: Bearer <token>.", ""))
	case hash == nil:
		return refuse(unauthorized("The Authorization header must be: Bearer <token>.", "invalid_request"))
	case cache.unknown(key, now):
		return refuse(unauthorized("The API token is not valid.", "invalid_token"))
	}
	// An address over its limit gets no lookup; one within it spends from its bucket only when
	// the token turns out to be unknown.
	if limited := limits.addressOver(ip); limited != nil {
		return store.Principal{}, limited
	}
	p, err := auth.Authenticate(c.Request().Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		cache.putUnknown(key, now)
		_ = limits.allowAddress(ip) // spends; the answer is 401 either way, the lookup is done
		return p, unauthorized("The API token is not valid.", "invalid_token")
	}
	if err != nil {
		return p, storeError(err, "API token")
	}
	cache.put(key, p, now)
	return p, nil
}
