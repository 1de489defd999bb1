package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/gen/client"
	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/server/servertest"
)

// app is one running `mcpapi serve` on a loopback port, started through run() exactly as main
// starts it, with a generated client whose every response is checked against openapi.yaml.
type app struct {
	t      *testing.T
	dbURL  string
	base   string
	token  string // an API token of environment env
	env    string
	http   *http.Client
	client *client.ClientWithResponses
	logs   *syncBuffer
	// metricsURL is the separate metrics listener's, with --metrics-addr.
	metricsURL string
	stop       func()
}

// syncBuffer collects the server's log; it is shown only when the test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func noEnv(string) string { return "" }

// startApp serves on dbURL; extra flags are appended to the serve command line.
func startApp(t *testing.T, dbURL string, extra ...string) *app {
	t.Helper()
	a := serveApp(t, dbURL, noEnv, extra...)
	a.env = "env-" + uuid.NewString()[:8]
	a.token = a.createToken(a.env)
	a.client = a.clientFor(a.token)
	return a
}

// serveApp starts `mcpapi serve` through run() with the given environment, without making a
// token. It stops when the test ends, or earlier by a.stop().
func serveApp(t *testing.T, dbURL string, getenv func(string) string, extra ...string) *app {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	args := append([]string{"mcpapi", "serve", "--addr", "127.0.0.1:0", "--database-url", dbURL,
		"--auth-cache-ttl", "0", "--log-format", "text", "--rate-limit", "0", "--validate-responses"}, extra...)
	go func() {
		done <- run(ctx, args, getenv, outW, logs)
		_ = outW.Close() // a PipeWriter's Close always returns nil
	}()
	lines := bufio.NewScanner(outR)
	var base, metricsURL string
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "mcpapi metrics on "); ok {
			metricsURL = rest
		}
		if rest, ok := strings.CutPrefix(lines.Text(), "mcpapi serving on "); ok {
			base, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	if base == "" {
		cancel()
		t.Fatalf("server did not start: %v\n%s", <-done, logs.String())
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("serve did not stop within 20s")
			}
			// The server held its own responses to the spec too (--validate-responses).
			if strings.Contains(logs.String(), "response breaks the contract") {
				t.Error("the server logged a response that breaks openapi.yaml")
			}
			if t.Failed() {
				t.Logf("server log:\n%s", logs.String())
			}
		})
	}
	t.Cleanup(stop)
	a := &app{t: t, dbURL: dbURL, base: base, logs: logs, metricsURL: metricsURL, stop: stop}
	a.http = &http.Client{Transport: servertest.NewValidatingTransport(t, nil), Timeout: 30 * time.Second}
	return a
}

// cli runs one mcpapi command against the app's database and returns its stdout.
func (a *app) cli(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	full := append([]string{"mcpapi"}, args...)
	full = append(full, "--database-url", a.dbURL)
	if len(args) > 2 && args[0] == "token" && args[1] == "revoke" { // flags come before the positional ID
		full = []string{"mcpapi", "token", "revoke", "--database-url", a.dbURL, args[2]}
	}
	err := run(context.Background(), full, noEnv, &out, &errOut)
	if err != nil {
		a.t.Logf("mcpapi %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

func (a *app) createToken(env string) string {
	a.t.Helper()
	out, err := a.cli("token", "create", "--environment", env)
	if err != nil {
		a.t.Fatal(err)
	}
	tok := strings.TrimSpace(out)
	if strings.Contains(tok, "\n") || !strings.HasPrefix(tok, "mcpapi_") {
		a.t.Fatalf("token create printed %q, want one token", out)
	}
	return tok
}

func (a *app) clientFor(token string) *client.ClientWithResponses {
	c, err := client.NewClientWithResponses(a.base, client.WithHTTPClient(a.http),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

// response is a raw response, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a raw request with the app's token (headers may override it; "" deletes one).
func (a *app) do(method, path, body string, headers ...string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err = errors.Join(err, resp.Body.Close()); err != nil {
		a.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustStatus fails the test unless the response has the status.
func mustStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
}

// newAccount creates an integrated account and returns its id.
func (a *app) newAccount() uuid.UUID {
	a.t.Helper()
	tenant := "acme"
	res, err := a.client.CreateIntegratedAccountWithResponse(context.Background(), nil,
		model.IntegratedAccountCreate{Integration: "crm", TenantId: &tenant})
	if err != nil || res.JSON201 == nil {
		a.t.Fatalf("create account: %v %v %s", err, res.StatusCode(), res.Body)
	}
	return res.JSON201.Id
}

// newServer creates an MCP server with methods [list] and tags [contacts].
func (a *app) newServer(account uuid.UUID) model.McpServerCreated {
	a.t.Helper()
	methods, tags := []string{"list"}, []string{"contacts"}
	res, err := a.client.CreateMcpServerWithResponse(context.Background(), account, nil, model.McpServerCreate{
		Name: "srv", Config: &model.McpServerConfig{Methods: &methods, Tags: &tags},
	})
	if err != nil || res.JSON201 == nil {
		a.t.Fatalf("create server: %v %v %s", err, res.StatusCode(), res.Body)
	}
	return *res.JSON201
}

func (a *app) getServer(account, id uuid.UUID) model.McpServer {
	a.t.Helper()
	res, err := a.client.GetMcpServerWithResponse(context.Background(), account, id, nil)
	if err != nil || res.JSON200 == nil {
		a.t.Fatalf("get server: %v %v %s", err, res.StatusCode(), res.Body)
	}
	return *res.JSON200
}

// rawServer is a GET's exact bytes, for "nothing changed" checks.
func (a *app) rawServer(account, id uuid.UUID) string {
	a.t.Helper()
	r := a.do(http.MethodGet, "/integrated-account/"+account.String()+"/mcp/"+id.String(), "")
	mustStatus(a.t, r, http.StatusOK)
	return string(r.body)
}
