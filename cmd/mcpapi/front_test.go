package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpapi/mcpapi/server/servertest"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// TestRequestTimeoutMustBeShorterThanWriteTimeout: serve refuses to start, naming the flags,
// when a request could outlive the connection's write deadline.
func TestRequestTimeoutMustBeShorterThanWriteTimeout(t *testing.T) {
	for _, args := range [][]string{
		{"--request-timeout", "40s", "--write-timeout", "30s"},
		{"--request-timeout", "30s", "--write-timeout", "30s"},
		{"--request-timeout", "0", "--write-timeout", "30s"},
	} {
		var out bytes.Buffer
		full := append([]string{"mcpapi", "serve", "--addr", "127.0.0.1:0", "--database-url", storetest.SQLiteURL(t)}, args...)
		err := run(t.Context(), full, noEnv, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "lower --request-timeout or raise --write-timeout") {
			t.Errorf("serve %v: %v, want a refusal naming --request-timeout and --write-timeout", args, err)
		}
	}
	// A request timeout below the write timeout starts (and the harness's defaults, 15s < 30s).
	startApp(t, storetest.SQLiteURL(t), "--request-timeout", "29s", "--write-timeout", "30s")
}

// TestPublicURLWithPath: a gateway that strips /mcpapi before forwarding: Location headers, the
// served spec's servers and MCP server URLs all carry the public URL's path.
func TestPublicURLWithPath(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t), "--public-url", "https://api.example.com/mcpapi/")
	acc := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`)
	mustStatus(t, acc, http.StatusCreated)
	id := acc.json(t)["id"].(string)
	if got, want := acc.header.Get("Location"), "/mcpapi/integrated-account/"+id; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	srv := a.do(http.MethodPost, "/integrated-account/"+id+"/mcp", `{"name":"s"}`)
	mustStatus(t, srv, http.StatusCreated)
	body := srv.json(t)
	if loc := srv.header.Get("Location"); loc != "/mcpapi/integrated-account/"+id+"/mcp/"+body["id"].(string) {
		t.Errorf("Location %q", loc)
	}
	if u := body["url"].(string); !strings.HasPrefix(u, "https://api.example.com/mcpapi/mcp/mcp_") {
		t.Errorf("MCP url %q does not start with the public URL", u)
	}
	spec := a.do(http.MethodGet, "/openapi.json", "")
	mustStatus(t, spec, http.StatusOK)
	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
	}
	if err := json.Unmarshal(spec.body, &doc); err != nil || len(doc.Servers) != 1 || doc.Servers[0].URL != "https://api.example.com/mcpapi" {
		t.Errorf("openapi.json servers: %+v %v", doc.Servers, err)
	}
	yaml := a.do(http.MethodGet, "/openapi.yaml", "")
	if !strings.Contains(string(yaml.body), "url: https://api.example.com/mcpapi\n") {
		t.Error("openapi.yaml servers do not name the public URL")
	}
}

// TestBasePath: --base-path mounts everything (API, health, spec, MCP) under the prefix, for a
// gateway that forwards the path unchanged; outside it there is nothing but 404 problems.
func TestBasePath(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t), "--base-path", "/mcpapi")
	if !strings.HasSuffix(a.base, "/mcpapi") {
		t.Fatalf("serve announced %q, want the base path in it", a.base)
	}
	root := strings.TrimSuffix(a.base, "/mcpapi")
	a.http.Transport.(*servertest.ValidatingTransport).BasePath = "/mcpapi"
	for _, path := range []string{"/healthz", "/openapi.yaml"} {
		mustStatus(t, a.do(http.MethodGet, path, ""), http.StatusOK)
	}
	// The generated client works with the prefixed base (newAccount, newServer use it).
	account := a.newAccount()
	created := a.newServer(account)
	mcpURL := *created.Url
	got := a.getServer(account, created.Id)
	if got.Name != "srv" {
		t.Errorf("GET through the base path: %+v", got)
	}
	if !strings.HasPrefix(mcpURL, a.base+"/mcp/") {
		t.Errorf("MCP url %q is not under %s", mcpURL, a.base)
	}
	mcp := a.do(http.MethodPost, strings.TrimPrefix(mcpURL, a.base), `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
		"Authorization", "", "Accept", "application/json, text/event-stream")
	mustStatus(t, mcp, http.StatusOK)
	acc := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`)
	if loc := acc.header.Get("Location"); !strings.HasPrefix(loc, "/mcpapi/integrated-account/") {
		t.Errorf("Location %q lacks the base path", loc)
	}
	for _, path := range []string{"/healthz", "/integrated-account", "/mcpapix/healthz", "/mcp/" + strings.TrimPrefix(mcpURL, a.base+"/mcp/")} {
		res, err := http.Get(root + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/problem+json" ||
			res.Header.Get("X-Request-ID") == "" {
			t.Errorf("%s outside the base path: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"mcpapi", "serve", "--base-path", "mcpapi", "--database-url", storetest.SQLiteURL(t)}, noEnv, &out, &out); err == nil {
		t.Error("a base path without a leading slash was accepted")
	}
}

// TestTrustedProxies: the per-address rate limit (and the access log) see the client named by
// X-Forwarded-For only when the peer is a trusted proxy; otherwise the header is ignored.
func TestTrustedProxies(t *testing.T) {
	guess := func(a *app, xff string) int {
		return a.do(http.MethodGet, "/integrated-account", "", "Authorization", "Bearer mcpapi_guess", "X-Forwarded-For", xff).status
	}
	t.Run("trusted", func(t *testing.T) {
		a := startApp(t, storetest.SQLiteURL(t), "--rate-limit", "0.01", "--rate-burst", "1", "--trusted-proxies", "127.0.0.1/32, ::1")
		if s := guess(a, "203.0.113.7, 198.51.100.1"); s != http.StatusUnauthorized {
			t.Fatalf("first guess from 198.51.100.1: %d", s)
		}
		if s := guess(a, "198.51.100.1"); s != http.StatusTooManyRequests {
			t.Errorf("second guess from 198.51.100.1: %d, want 429", s)
		}
		// Another client behind the same proxy has its own bucket; a spoofed left-most hop does
		// not matter, the right-most untrusted one does.
		if s := guess(a, "198.51.100.1, 198.51.100.2"); s != http.StatusUnauthorized {
			t.Errorf("first guess from 198.51.100.2: %d, want 401", s)
		}
		if !strings.Contains(a.logs.String(), "client_ip=198.51.100.2") {
			t.Error("the access log does not name the forwarded client")
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		a := startApp(t, storetest.SQLiteURL(t), "--rate-limit", "0.01", "--rate-burst", "1")
		mustStatus(t, response{status: guess(a, "198.51.100.1")}, http.StatusUnauthorized)
		if s := guess(a, "198.51.100.2"); s != http.StatusTooManyRequests {
			t.Errorf("a different X-Forwarded-For from an untrusted peer got its own bucket: %d", s)
		}
		if strings.Contains(a.logs.String(), "client_ip=198.51.100") {
			t.Error("the access log believed X-Forwarded-For from an untrusted peer")
		}
	})
	var out bytes.Buffer
	if err := run(t.Context(), []string{"mcpapi", "serve", "--trusted-proxies", "10.0.0.0/33"}, noEnv, &out, &out); err == nil ||
		!strings.Contains(err.Error(), "--trusted-proxies") {
		t.Errorf("a bad CIDR: %v", err)
	}
}

// TestServeHelpListsFrontDoorSettings: the connection, proxy and prefix flags are documented in
// --help, with their defaults.
func TestServeHelpListsFrontDoorSettings(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"mcpapi", "serve", "--help"}, noEnv, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-max-conns ", "-max-conns-per-ip ", "(default 64)", "-trusted-proxies ", "-base-path ",
		"-idle-timeout ", "(default 1m0s)", "-max-header-bytes ", "(default 65536)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

// TestLeadingDoubleSlash: a client that joins a base URL ending in "/" with "/path" (the
// platform's TypeScript SDK wants such a base URL for its MCP paths) reaches the same
// operations; an empty segment inside a path is still no route.
func TestLeadingDoubleSlash(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t))
	send := func(method, path, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+a.token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	if s := send(http.MethodGet, "//healthz", ""); s != http.StatusOK {
		t.Errorf("GET //healthz: %d", s)
	}
	if s := send(http.MethodPost, "//integrated-account", `{"integration":"crm"}`); s != http.StatusCreated {
		t.Errorf("POST //integrated-account: %d", s)
	}
	if s := send(http.MethodGet, "///integrated-account?limit=1", ""); s != http.StatusOK {
		t.Errorf("GET ///integrated-account: %d", s)
	}
	if s := send(http.MethodGet, "/integrated-account//mcp", ""); s != http.StatusNotFound {
		t.Errorf("GET /integrated-account//mcp: %d, want 404", s)
	}
}
