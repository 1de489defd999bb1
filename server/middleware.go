package server

import (
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// maxBodyBytes bounds every request body (64 KiB); larger bodies are answered 413.
const maxBodyBytes = 64 << 10

// headerRequestID is in canonical form, so that Header.Get and Set need not rewrite it on each request.
const headerRequestID = "X-Request-Id"

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// withRequestID takes the client's X-Request-ID when it is sane, else makes one, and echoes it on
// the response.
func withRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !saneRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set(headerRequestID, id)
		c.Response().Header().Set(headerRequestID, id)
		return next(c)
	}
}

func requestID(c echo.Context) string {
	id, _ := c.Get(headerRequestID).(string)
	return id
}

// accessLog writes one line per request and counts it in the metrics. It hands errors to the
// error handler itself, so that the line carries the status that was really sent.
func accessLog(log *slog.Logger, routes routeTable, m *metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			m.inFlight.Inc()
			defer m.inFlight.Dec()
			if err := next(c); err != nil {
				c.Error(err)
			}
			op, _ := routes.lookup(c)
			m.observe(c, op.id, start)
			attrs := make([]slog.Attr, 0, 8) // room for environment_id: no second array
			attrs = append(attrs,
				slog.String("request_id", requestID(c)),
				slog.String("method", c.Request().Method),
				slog.String("route", c.Path()),
				slog.String("client_ip", c.RealIP()), // the trusted-proxy rule of ClientIPExtractor
				slog.String("operation_id", op.id),
				slog.Int("status", c.Response().Status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			)
			if p, ok := principalFrom(c.Request().Context()); ok {
				attrs = append(attrs, slog.String("environment_id", p.EnvironmentID.String()))
			}
			log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
			return nil
		}
	}
}

// checkContentType answers 415 to a body in a media type the operation does not take, and
// rewrites an accepted Content-Type to its canonical lower-case form, which is what the
// validator and the generated handler compare against.
func checkContentType(routes routeTable) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := routes.lookup(c)
			if !ok || len(op.mediaTypes) == 0 {
				return next(c)
			}
			req := c.Request()
			raw := req.Header.Get(echo.HeaderContentType)
			if raw == "" && req.ContentLength == 0 {
				return next(c) // no body at all: the validator answers that one is required
			}
			if slices.Contains(op.mediaTypes, raw) {
				return next(c) // already canonical (the common case): nothing to parse or rewrite
			}
			mt, params, err := mime.ParseMediaType(raw)
			if err != nil || !slices.Contains(op.mediaTypes, mt) {
				return newProblem(http.StatusUnsupportedMediaType,
					"The request body must be one of: "+strings.Join(op.mediaTypes, ", ")+".")
			}
			if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
				return newProblem(http.StatusUnsupportedMediaType, "The request body must be encoded as UTF-8.")
			}
			req.Header.Set(echo.HeaderContentType, mime.FormatMediaType(mt, params))
			return next(c)
		}
	}
}

// rejectEmptyParams answers 404 when a path parameter is empty ("/integrated-account//mcp"):
// Echo's router matches such a path, but the spec has no operation for it.
func rejectEmptyParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for _, v := range c.ParamValues() {
			if v == "" {
				return echo.ErrNotFound
			}
		}
		return next(c)
	}
}
