package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

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
