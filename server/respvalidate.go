package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
)

// The spec describes YAML bodies (`GET /openapi.yaml`) as text, `type: string`, so that every client
// generator hands them over as a string; kin-openapi's stock decoder for application/yaml would
// parse them into a document and then hold that against the string schema. Both response
// checkers, this one and servertest's, import this package, so the rule holds for both.
func init() {
	openapi3filter.RegisterBodyDecoder("application/yaml", openapi3filter.PlainBodyDecoder)
}

// validateResponses holds every response of a spec route to the spec, and logs a violation as an
// error with the operation and the reason. It is for tests and canaries: it buffers each response
// and validates it. The operation comes from Echo's routing (the route table), as for requests.
func validateResponses(routes routeTable, log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := routes.lookup(c)
			if !ok {
				return next(c)
			}
			tee := &teeWriter{ResponseWriter: c.Response().Writer}
			c.Response().Writer = tee
			if err := next(c); err != nil {
				c.Error(err)
			}
			c.Response().Writer = tee.ResponseWriter
			res := c.Response()
			if reason := CheckResponse(c.Request(), op.route, pathParams(c), res.Status, res.Header(), tee.buf.Bytes()); reason != nil {
				log.ErrorContext(c.Request().Context(), "response breaks the contract",
					"operation_id", op.id, "status", res.Status, "request_id", requestID(c), "reason", shorten(reason.Error(), 600))
			}
			return nil
		}
	}
}

// CheckResponse holds one response to its operation of the spec (route, with the request's
// path parameters): a status the operation lists, headers and body that match its schemas.
// Both response checkers use it: validateResponses (--validate-responses) and servertest's
// transport, which finds the route itself.
func CheckResponse(req *http.Request, route *routers.Route, params map[string]string, status int, header http.Header, body []byte) error {
	if err := CheckListedStatus(route.Operation, status); err != nil {
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: FormatValidators(),
		},
	}
	if status == http.StatusNotModified || req.Method == http.MethodHead {
		in.Options.ExcludeResponseBody = true
	}
	in.SetBodyBytes(bytes.Clone(body))
	return openapi3filter.ValidateResponse(context.WithoutCancel(req.Context()), in)
}

// CheckListedStatus fails for a status that the operation does not list. Every operation has a
// `default` problem response, so that generated clients get one error type for all statuses;
// kin-openapi then accepts any status through it. The statuses an operation returns are listed
// in the spec all the same, and answering another one breaks the contract.
func CheckListedStatus(op *openapi3.Operation, status int) error {
	if op.Responses.Status(status) == nil {
		return fmt.Errorf("status %d is not listed for operation %s (only the catch-all default would cover it)", status, op.OperationID)
	}
	return nil
}

// shorten keeps a log line readable: kin-openapi's reasons quote whole schemas and values.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
