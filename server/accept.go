package server

import (
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

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
