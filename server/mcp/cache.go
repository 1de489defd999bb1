package mcp

import (
	"sync"
	"time"
)

// tokenCache remembers resolved tokens (positive entries, for at most the auth cache TTL) and
// unknown token hashes (negative entries, briefly), both bounded in count. Invalidate drops
// everything at once; a lookup that started before an invalidation does not store its
// (possibly stale) answer, thanks to the generation counter.
type tokenCache struct {
	mu       sync.Mutex
	ttl      time.Duration // positive entries; 0: none are kept
	negTTL   time.Duration // negative entries; 0: none are kept
	max      int
	gen      uint64
	entries  map[string]cacheEntry
	negative map[string]time.Time // hash → expiry
}

type cacheEntry struct {
	target  Target
	expires time.Time
}

func newTokenCache(ttl, negTTL time.Duration, max int) *tokenCache {
	return &tokenCache{ttl: ttl, negTTL: negTTL, max: max,
		entries: map[string]cacheEntry{}, negative: map[string]time.Time{}}
}

// get answers found (a resolved target), unknown (a recent lookup found nothing), and the
// generation to hand back to put.
func (c *tokenCache) get(key string, now time.Time) (t Target, found, unknown bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		if now.Before(e.expires) {
			return e.target, true, false, c.gen
		}
		delete(c.entries, key)
	}
	if exp, ok := c.negative[key]; ok {
		if now.Before(exp) {
			return Target{}, false, true, c.gen
		}
		delete(c.negative, key)
	}
	return Target{}, false, false, c.gen
}

func (c *tokenCache) put(key string, t Target, gen uint64, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	makeRoom(c.entries, c.max, now, func(e cacheEntry) time.Time { return e.expires })
	c.entries[key] = cacheEntry{target: t, expires: now.Add(c.ttl)}
}

func (c *tokenCache) putUnknown(key string, gen uint64, now time.Time) {
	if c.negTTL <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	makeRoom(c.negative, c.max, now, func(t time.Time) time.Time { return t })
	c.negative[key] = now.Add(c.negTTL)
}

// Invalidate forgets every entry.
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	clear(c.negative)
}

func (c *tokenCache) len() (positive, negative int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), len(c.negative)
}

// makeRoom keeps a map under max entries: expired ones go first, then arbitrary ones (Go's
// map iteration order) down to 90% of max, so a full map costs one pass per max/10 inserts.
func makeRoom[V any](m map[string]V, max int, now time.Time, expires func(V) time.Time) {
	if len(m) < max {
		return
	}
	for k, v := range m {
		if !now.Before(expires(v)) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < max-max/10 {
			return
		}
		delete(m, k)
	}
}
