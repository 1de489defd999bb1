package server

import (
	"context"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"
)

// rateLimits throttle each API token, and each client address for requests without a valid
// token (so that guessing tokens is slow). nil means off.
type rateLimits struct {
	perToken, perAddress *middleware.RateLimiterMemoryStore
	retryAfter           string
}

func newRateLimits(perSecond float64, burst int) *rateLimits {
	if perSecond <= 0 {
		return nil
	}
	burst = max(burst, 1)
	cfg := middleware.RateLimiterMemoryStoreConfig{Rate: rate.Limit(perSecond), Burst: burst, ExpiresIn: 3 * time.Minute}
	return &rateLimits{
		perToken:   middleware.NewRateLimiterMemoryStoreWithConfig(cfg),
		perAddress: middleware.NewRateLimiterMemoryStoreWithConfig(cfg),
		retryAfter: strconv.Itoa(int(math.Max(1, math.Ceil(1/perSecond)))),
	}
}

// allowToken and allowAddress answer nil, or the 429 to send.
func (r *rateLimits) allowToken(id string) error   { return r.allow(r.token(), id) }
func (r *rateLimits) allowAddress(ip string) error { return r.allow(r.address(), ip) }

func (r *rateLimits) token() *middleware.RateLimiterMemoryStore {
	if r == nil {
		return nil
	}
	return r.perToken
}

func (r *rateLimits) address() *middleware.RateLimiterMemoryStore {
	if r == nil {
		return nil
	}
	return r.perAddress
}

func (r *rateLimits) allow(s *middleware.RateLimiterMemoryStore, id string) error {
	if s == nil {
		return nil
	}
	if ok, _ := s.Allow(id); ok {
		return nil
	}
	p := newProblem(http.StatusTooManyRequests, "Too many requests; retry after "+r.retryAfter+" second(s).")
	p.Header = http.Header{"Retry-After": []string{r.retryAfter}}
	return p
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
