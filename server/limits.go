package server

import (
	"context"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
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

// checkAccept answers 406 when the Accept header rules out every representation the operation
// has (its success media types; errors are problem documents whatever Accept says).
func checkAccept(routes routeTable) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := routes.lookup(c)
			accept := c.Request().Header.Get(echo.HeaderAccept)
			if !ok || accept == "" || len(op.produces) == 0 || acceptsAny(accept, op.produces) {
				return next(c)
			}
			return newProblem(http.StatusNotAcceptable, "This resource is available only as "+strings.Join(op.produces, " or ")+".")
		}
	}
}

// acceptsAny tells whether an Accept header admits one of the media types (RFC 9110 §12.5.1;
// a range with q=0 excludes).
func acceptsAny(accept string, types []string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v <= 0 {
				continue
			}
		}
		if mt == "*/*" {
			return true
		}
		if slices.Contains(types, mt) {
			return true
		}
		if prefix, ok := strings.CutSuffix(mt, "/*"); ok {
			for _, t := range types {
				if strings.HasPrefix(t, prefix+"/") {
					return true
				}
			}
		}
	}
	return false
}

// withDeadline gives every request to the API a deadline, which every database call inherits:
// a stuck database answers 503 within it instead of hanging.
func withDeadline(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if d <= 0 {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// cors allows browsers on the listed origins to call the API; none listed, none allowed.
func cors(origins []string) echo.MiddlewareFunc {
	if len(origins) == 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins: origins,
		AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType, "If-Match", "If-None-Match",
			headerIdempotencyKey, headerRequestID},
		ExposeHeaders: []string{"ETag", echo.HeaderLocation, headerRequestID, "Idempotent-Replayed", "Retry-After"},
		MaxAge:        600,
	})
}
