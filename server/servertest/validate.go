// Package servertest holds test helpers shared by the server's and the binary's tests: an HTTP
// transport that holds every response to openapi.yaml. It finds the operation with a router of
// its own (a client has no Echo routing), adds the client's view (errors are problem documents
// that leak nothing, MCP's own answers stand), and checks the rest with server.CheckResponse,
// the checker --validate-responses uses.
package servertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/mcpapi/mcpapi/server"
)

// ValidatingTransport checks every response that passes through it against the spec, and fails
// the test on any violation: an undocumented status, a body or header off its schema, an error
// that is not a problem document.
type ValidatingTransport struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router
	// BasePath is the server's --base-path: it is taken off request paths before they are
	// matched against the spec.
	BasePath string
}

// NewValidatingTransport wraps base (nil: http.DefaultTransport).
func NewValidatingTransport(t testing.TB, base http.RoundTripper) *ValidatingTransport {
	t.Helper()
	doc, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil // match any host
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &ValidatingTransport{t: t, base: base, router: router}
}

// RoundTrip sends the request and validates the response before handing it back.
func (v *ValidatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err = errors.Join(err, req.Body.Close()); err != nil { // RoundTrip must close it, also on errors
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	if err = errors.Join(err, resp.Body.Close()); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if verr := v.Check(req, reqBody, resp, body); verr != nil {
		v.t.Errorf("response breaks openapi.yaml: %s %s → %d: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, verr, body)
	}
	return resp, nil
}

// Check validates one response; it is exported for tests that send raw requests.
func (v *ValidatingTransport) Check(req *http.Request, reqBody []byte, resp *http.Response, body []byte) error {
	if req.Method == http.MethodOptions && resp.StatusCode == http.StatusNoContent {
		return nil // a CORS preflight or OPTIONS probe: HTTP's, not an operation of the API
	}
	path := strings.TrimPrefix(req.URL.Path, v.BasePath)
	if strings.HasPrefix(path, "/mcp/") {
		// MCP's own answers stand there (the spec says so); ours, 401 and 429, are problems.
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusTooManyRequests {
			return checkProblem(resp, body)
		}
		return nil
	}
	if resp.StatusCode >= 400 || (resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified) {
		if err := checkProblem(resp, body); err != nil {
			return err
		}
	}
	r2 := req.Clone(context.Background())
	r2.URL.Path, r2.URL.RawPath = path, ""
	r2.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.router.FindRoute(r2)
	if err != nil {
		// A path or method outside the spec: only 404/405 are right for it.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			return fmt.Errorf("no operation for this request, yet status %d", resp.StatusCode)
		}
		return nil
	}
	return server.CheckResponse(r2, route, params, resp.StatusCode, resp.Header, body)
}

func checkProblem(resp *http.Response, body []byte) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/problem+json" {
		return fmt.Errorf("status %d with Content-Type %q, want application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, leak := range []string{"SELECT", "UPDATE ", "INSERT", "goroutine", "panic", "gorm", "sql:", "pq:", "SQLSTATE"} {
		if bytes.Contains(body, []byte(leak)) {
			return fmt.Errorf("problem body leaks internals (%q)", leak)
		}
	}
	return nil
}
