// Package server is the hand-written side of the API: the middleware chain, the handlers of the
// generated strict interface, and the mapping between API and store types and errors.
package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/mcpapi/mcpapi/gen/api"
	"github.com/mcpapi/mcpapi/store"
)

// Config is what the server needs besides its store.
type Config struct {
	// PublicURL is the base of MCP server URLs, without a trailing slash.
	PublicURL string
	// AuthCacheTTL is how long a verified API token is trusted without a lookup; 0 disables it.
	AuthCacheTTL time.Duration
	Logger       *slog.Logger
	// Now is the clock (tests may replace it); nil means time.Now.
	Now func() time.Time
}

// Handler implements the generated strict server interface on top of the store.
type Handler struct {
	store     *store.Store
	publicURL string
	now       func() time.Time
}

var _ api.StrictServerInterface = (*Handler)(nil)

// New builds the whole HTTP server: every route and the one middleware chain, in order.
func New(st *store.Store, cfg Config) (*echo.Echo, error) {
	doc, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	routes := newRouteTable(doc)
	h := &Handler{store: st, publicURL: strings.TrimRight(cfg.PublicURL, "/"), now: cfg.Now}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(cfg.Logger)

	e.Use(
		withRequestID,                 // 1. request id
		accessLog(cfg.Logger, routes), // 3. access log (outside recover, so it logs the 500)
		recoverPanics(),               // 2. recover
		middleware.BodyLimit(fmt.Sprint(maxBodyBytes/1024)+"K"), // 4. body size limit
		authenticate(st, routes, cfg.AuthCacheTTL),              // 5. auth
		checkContentType(routes),                                // 415 before the validator
		strictJSON(routes),                                      // JSON that encoding/json would let through
		requestValidator(doc, routes),                           // 7. kin-openapi request validation
		idempotent(st, routes, cfg.Logger),                      // Idempotency-Key on creates
	)
	api.RegisterHandlers(e, api.NewStrictHandler(h, nil)) // 8.–10. strict handler → Handler → store
	return e, nil
}

func recoverPanics() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			return &Problem{Status: http.StatusInternalServerError, Detail: "An unexpected error occurred.",
				Cause: fmt.Errorf("panic: %w\n%s", err, stack)}
		},
	})
}
