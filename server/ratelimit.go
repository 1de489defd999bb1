package server

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"
)

// rateLimits throttle each API token, and each client address for requests without a valid
// token (so that guessing tokens is slow, and costs no database query once over the limit).
// nil means off.
type rateLimits struct {
	perToken   *middleware.RateLimiterMemoryStore
	perAddress *addressLimits
	retryAfter string
}

func newRateLimits(perSecond float64, burst int) *rateLimits {
	if perSecond <= 0 {
		return nil
	}
	burst = max(burst, 1)
	cfg := middleware.RateLimiterMemoryStoreConfig{Rate: rate.Limit(perSecond), Burst: burst, ExpiresIn: 3 * time.Minute}
	return &rateLimits{
		perToken:   middleware.NewRateLimiterMemoryStoreWithConfig(cfg),
		perAddress: &addressLimits{rate: rate.Limit(perSecond), burst: burst, buckets: map[string]*addressBucket{}},
		retryAfter: strconv.Itoa(int(math.Max(1, math.Ceil(1/perSecond)))),
	}
}

// allowToken and allowAddress take one request from the bucket and answer nil, or the 429 to
// send. addressOver only looks: it answers the 429 when the address has nothing left, so that
// a request that may be valid is refused before its lookup without spending the bucket.
func (r *rateLimits) allowToken(id string) error {
	if r == nil {
		return nil
	}
	if ok, _ := r.perToken.Allow(id); ok {
		return nil
	}
	return r.tooMany()
}

func (r *rateLimits) allowAddress(ip string) error {
	if r == nil || r.perAddress.take(ip, time.Now()) {
		return nil
	}
	return r.tooMany()
}

func (r *rateLimits) addressOver(ip string) error {
	if r == nil || !r.perAddress.empty(ip, time.Now()) {
		return nil
	}
	return r.tooMany()
}

func (r *rateLimits) tooMany() error {
	p := newProblem(http.StatusTooManyRequests, "Too many requests; retry after "+r.retryAfter+" second(s).")
	p.Header = http.Header{"Retry-After": []string{r.retryAfter}}
	return p
}

// addressLimits is a token bucket per client address that can be looked at without taking
// from it (Echo's memory store can only take). Buckets unused for addressIdle are dropped, and
// at most maxAddressBuckets are kept: past that, the idle ones go first, then all (a flood of
// distinct addresses then finds full buckets, which costs lookups, not memory).
type addressLimits struct {
	rate    rate.Limit
	burst   int
	mu      sync.Mutex
	buckets map[string]*addressBucket
	swept   time.Time
}

type addressBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	maxAddressBuckets = 100_000
	addressIdle       = 3 * time.Minute
)

func (a *addressLimits) bucket(ip string, now time.Time) *addressBucket {
	b, ok := a.buckets[ip]
	if !ok {
		if len(a.buckets) >= maxAddressBuckets || now.Sub(a.swept) > time.Minute {
			a.sweep(now)
		}
		b = &addressBucket{lim: rate.NewLimiter(a.rate, a.burst)}
		a.buckets[ip] = b
	}
	b.seen = now
	return b
}

func (a *addressLimits) sweep(now time.Time) {
	a.swept = now
	for ip, b := range a.buckets {
		if now.Sub(b.seen) > addressIdle {
			delete(a.buckets, ip)
		}
	}
	if len(a.buckets) >= maxAddressBuckets {
		a.buckets = map[string]*addressBucket{}
	}
}

func (a *addressLimits) take(ip string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bucket(ip, now).lim.AllowN(now, 1)
}

func (a *addressLimits) empty(ip string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.buckets[ip]
	return ok && b.lim.TokensAt(now) < 1
}
