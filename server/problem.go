package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/server/mcp"
	"github.com/mcpapi/mcpapi/store"
)

// problemContentType is the media type of every error body (RFC 9457).
const problemContentType = "application/problem+json"

// Problem is an error that knows its HTTP status and how to explain itself to the client. Every
// non-2xx response is written from one of these, in one place: the HTTP error handler.
type Problem struct {
	Status int
	Detail string
	Errors []model.FieldError
	// Header holds response headers that belong to the problem (Retry-After, WWW-Authenticate…).
	Header http.Header
	// Cause is the internal error behind it; it is logged, never sent.
	Cause error
}

func (p *Problem) Error() string {
	if p.Cause != nil {
		return http.StatusText(p.Status) + ": " + p.Detail + ": " + p.Cause.Error()
	}
	return http.StatusText(p.Status) + ": " + p.Detail
}

func (p *Problem) Unwrap() error { return p.Cause }

func newProblem(status int, detail string, errs ...model.FieldError) *Problem {
	return &Problem{Status: status, Detail: detail, Errors: errs}
}

func badRequest(detail string, errs ...model.FieldError) *Problem {
	return newProblem(http.StatusBadRequest, detail, errs...)
}

func notFound(what string) *Problem {
	return newProblem(http.StatusNotFound, "The "+what+" was not found.")
}

func unprocessable(pointer, detail string) *Problem {
	return newProblem(http.StatusUnprocessableEntity, "The request cannot be applied: "+pointer[1:]+" "+detail+".",
		model.FieldError{Pointer: pointer, Detail: detail})
}

func unavailable(cause error) *Problem {
	p := newProblem(http.StatusServiceUnavailable, "The service is temporarily unavailable; retry later.")
	p.Header = http.Header{"Retry-After": []string{"1"}}
	p.Cause = cause
	return p
}

// storeError turns an error of the store into a Problem; what names the resource for a 404 and
// a 412 (a conditional write whose If-Match named a version other than the stored one; the 412
// carries the current ETag).
func storeError(err error, what string) error {
	var mismatch interface{ CurrentVersion() int64 }
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mismatch):
		return preconditionFailed(what, mismatch.CurrentVersion())
	case errors.Is(err, store.ErrNotFound):
		return notFound(what)
	case errors.Is(err, store.ErrBadCursor):
		return badRequest("The pagination cursor is invalid.", model.FieldError{Pointer: "next_cursor", Detail: "is not a cursor issued by this server"})
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return unavailable(err)
	}
	return err
}

// toProblem classifies any error that reaches the HTTP error handler.
func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if mapped := storeError(err, "resource"); mapped != err {
		return toProblem(mapped)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return newProblem(http.StatusNotFound, "No such resource.")
		case http.StatusMethodNotAllowed:
			return newProblem(http.StatusMethodNotAllowed, "This method is not allowed on this resource.")
		case http.StatusRequestEntityTooLarge:
			return newProblem(http.StatusRequestEntityTooLarge, "The request body must not exceed "+strconv.Itoa(maxBodyBytes)+" bytes.")
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			// Only the generated binder gets here with these: the body passed validation but could
			// not be bound. It is the client's body, so it is a 400 either way.
			return &Problem{Status: http.StatusBadRequest, Detail: "The request body could not be decoded.", Cause: err}
		}
		if he.Code >= 400 && he.Code < 500 {
			return newProblem(he.Code, http.StatusText(he.Code)+".")
		}
	}
	if errors.Is(err, context.Canceled) {
		return unavailable(err)
	}
	return &Problem{Status: http.StatusInternalServerError, Detail: "An unexpected error occurred.", Cause: err}
}

// errorHandler is Echo's HTTPErrorHandler: the one place where errors become problem documents.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		p := toProblem(err)
		if p.Status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed",
				"request_id", requestID(c), "method", c.Request().Method, "path", c.Path(),
				"status", p.Status, "error", err)
		}
		if c.Response().Committed {
			return
		}
		h := c.Response().Header()
		for k, vs := range p.Header {
			h[k] = vs
		}
		if mcp.RetryableStatus(p.Status) && h.Get("Retry-After") == "" {
			// Clients (the platform's SDK among them) retry these, honouring Retry-After.
			h.Set("Retry-After", mcp.DefaultRetryAfter)
		}
		body := model.Problem{ // the spec's wire form, generated
			Type:      "about:blank",
			Title:     http.StatusText(p.Status),
			Status:    p.Status,
			Detail:    nonEmpty(p.Detail),
			Instance:  nonEmpty(c.Request().URL.Path),
			RequestId: nonEmpty(requestID(c)),
		}
		if len(p.Errors) > 0 {
			body.Errors = &p.Errors
		}
		buf, mErr := json.Marshal(body)
		if mErr != nil {
			buf = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		}
		h.Set(echo.HeaderContentType, problemContentType)
		h.Set("Cache-Control", "no-store")
		c.Response().WriteHeader(p.Status)
		if c.Request().Method != http.MethodHead {
			_, _ = c.Response().Write(buf)
		}
	}
}

// nonEmpty is s as an optional member: absent when empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
