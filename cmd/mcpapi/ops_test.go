package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mcpapi/mcpapi"
	"github.com/mcpapi/mcpapi/store/storetest"
)

func TestHealthAndSpecRoutes(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t))
	for _, p := range []string{"/healthz", "/readyz"} {
		r := a.do(http.MethodGet, p, "", "Authorization", "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"status":"ok"`) {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	// The YAML is the embedded file byte for byte, but for `servers`, which names this server.
	y := a.do(http.MethodGet, "/openapi.yaml", "", "Authorization", "")
	mustStatus(t, y, http.StatusOK)
	if y.header.Get("Content-Type") != "application/yaml" {
		t.Errorf("Content-Type %q", y.header.Get("Content-Type"))
	}
	wantServers := "servers:\n  - url: " + a.base + "\n    description: This server.\n"
	if !bytes.Contains(y.body, []byte(wantServers)) {
		t.Errorf("servers block not set to %s", a.base)
	}
	strip := func(b []byte) string {
		i := bytes.Index(b, []byte("\nservers:\n"))
		j := bytes.Index(b, []byte("\nsecurity:\n"))
		return string(b[:i]) + string(b[j:])
	}
	if strip(y.body) != strip(mcpapi.OpenAPIYAML) {
		t.Error("served openapi.yaml differs from the embedded one beyond `servers`")
	}
	for name, body := range map[string][]byte{"yaml": y.body, "json": a.do(http.MethodGet, "/openapi.json", "").body} {
		doc, err := openapi3.NewLoader().LoadFromData(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := doc.Validate(t.Context()); err != nil {
			t.Errorf("%s does not validate: %v", name, err)
		}
		if len(doc.Servers) != 1 || doc.Servers[0].URL != a.base || doc.Paths.Find("/integrated-account/{integrated_account_id}/mcp/{id}") == nil {
			t.Errorf("%s: servers %v", name, doc.Servers)
		}
	}

	// Metrics count requests by operation and status, and show the pool.
	m := a.do(http.MethodGet, "/metrics", "", "Authorization", "")
	mustStatus(t, m, http.StatusOK)
	for _, want := range []string{`mcpapi_http_requests_total{code="200",operation="getHealth"} 1`,
		"mcpapi_http_request_duration_seconds_bucket", "mcpapi_http_requests_in_flight 1", `go_sql_max_open_connections{db_name="mcpapi"}`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t), "--metrics-addr", "127.0.0.1:0")
	mustStatus(t, a.do(http.MethodGet, "/metrics", ""), http.StatusNotFound)
	// The metrics URL is printed when the server starts; find it in the app's stdout copy.
	if a.metricsURL == "" {
		t.Fatal("no metrics listener announced")
	}
	resp, err := http.Get(a.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err = errors.Join(err, resp.Body.Close()); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(b), "mcpapi_http_requests_total") {
		t.Errorf("metrics listener: %d %.200s", resp.StatusCode, b)
	}
}

func TestRequestIDsAndLogs(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t))
	r := a.do(http.MethodGet, "/integrated-account/not-a-uuid", "", "X-Request-ID", "client-id.42_x")
	if r.header.Get("X-Request-ID") != "client-id.42_x" || r.json(t)["request_id"] != "client-id.42_x" {
		t.Errorf("sane id not kept: %q %s", r.header.Get("X-Request-ID"), r.body)
	}
	for _, bad := range []string{"has space", strings.Repeat("x", 129), "semi;colon"} {
		r := a.do(http.MethodGet, "/healthz", "", "X-Request-ID", bad)
		if got := r.header.Get("X-Request-ID"); got == bad || got == "" {
			t.Errorf("insane id %q answered with %q", bad, got)
		}
	}
	mustStatus(t, a.do(http.MethodGet, "/integrated-account", ""), http.StatusOK)
	logs := a.logs.String()
	if strings.Contains(logs, a.token) {
		t.Error("the log shows a token")
	}
	if !strings.Contains(logs, "operation_id=listIntegratedAccounts status=200") || !strings.Contains(logs, "request_id=client-id.42_x") {
		t.Errorf("log lines lack fields:\n%s", logs)
	}
}

func TestNotAcceptableAndMethods(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t))
	mustStatus(t, a.do(http.MethodGet, "/integrated-account", "", "Accept", "application/xml"), http.StatusNotAcceptable)
	mustStatus(t, a.do(http.MethodGet, "/integrated-account", "", "Accept", "application/json;q=0, text/html"), http.StatusNotAcceptable)
	for _, ok := range []string{"application/json", "*/*", "application/*;q=0.2", "text/html, application/json;q=0.1"} {
		mustStatus(t, a.do(http.MethodGet, "/integrated-account", "", "Accept", ok), http.StatusOK)
	}
	mustStatus(t, a.do(http.MethodGet, "/openapi.yaml", "", "Accept", "application/json"), http.StatusNotAcceptable)
	r := a.do(http.MethodPut, "/integrated-account", "")
	mustStatus(t, r, http.StatusMethodNotAllowed)
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("405 Allow %q", allow)
	}
	mustStatus(t, a.do(http.MethodGet, "/no/such/path", ""), http.StatusNotFound)
	big := `{"integration":"` + strings.Repeat("x", 70<<10) + `"}`
	mustStatus(t, a.do(http.MethodPost, "/integrated-account", big), http.StatusRequestEntityTooLarge)
}

func TestRateLimits(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t), "--rate-limit", "0.5", "--rate-burst", "3")
	statuses := map[int]int{}
	var last response
	for range 5 {
		last = a.do(http.MethodGet, "/integrated-account", "")
		statuses[last.status]++
	}
	if statuses[200] != 3 || statuses[429] != 2 || last.header.Get("Retry-After") != "2" {
		t.Errorf("statuses %v (Retry-After %q), want 3 × 200 then 429 with Retry-After 2", statuses, last.header.Get("Retry-After"))
	}
	// Guessing tokens is limited per address, apart from the token's own bucket.
	guesses := map[int]int{}
	for range 5 {
		guesses[a.do(http.MethodGet, "/integrated-account", "", "Authorization", "Bearer guess").status]++
	}
	if guesses[401] != 3 || guesses[429] != 2 {
		t.Errorf("guesses %v, want 3 × 401 then 429", guesses)
	}
	// Health checks are not limited.
	for range 5 {
		mustStatus(t, a.do(http.MethodGet, "/healthz", "", "Authorization", ""), http.StatusOK)
	}
}

func TestCORS(t *testing.T) {
	const origin = "https://app.example.com"
	preflight := func(a *app) response {
		return a.do(http.MethodOptions, "/integrated-account", "", "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	}
	off := startApp(t, storetest.SQLiteURL(t))
	if h := preflight(off).header.Get("Access-Control-Allow-Origin"); h != "" {
		t.Errorf("CORS is on by default: %q", h)
	}
	on := startApp(t, storetest.SQLiteURL(t), "--cors-origins", origin)
	r := preflight(on)
	if r.header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	get := on.do(http.MethodGet, "/integrated-account", "", "Origin", origin)
	if get.header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(get.header.Get("Access-Control-Expose-Headers"), "Etag") && !strings.Contains(get.header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("CORS GET headers: %v", get.header)
	}
}

func TestServeHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"mcpapi", "serve", "--help"}, noEnv, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"addr", "database-url", "public-url", "bootstrap-token", "auth-cache-ttl", "log-format",
		"shutdown-timeout", "read-header-timeout", "read-timeout", "write-timeout", "idle-timeout", "max-header-bytes",
		"request-timeout", "rate-limit", "rate-burst", "cors-origins", "metrics-addr", "validate-responses"} {
		if !strings.Contains(out.String(), "-"+flag+" ") && !strings.Contains(out.String(), "-"+flag+"\n") {
			t.Errorf("serve --help lacks --%s", flag)
		}
	}
}

func TestBootstrapToken(t *testing.T) {
	db := storetest.SQLiteURL(t)
	const secret = "bootstrap-secret-0123456789"
	getenv := func(k string) string {
		if k == "MCPAPI_BOOTSTRAP_TOKEN" {
			return secret
		}
		return ""
	}
	for range 2 { // idempotent: the second start finds the token and the environment
		a := serveApp(t, db, getenv)
		mustStatus(t, a.do(http.MethodGet, "/integrated-account", "", "Authorization", "Bearer "+secret), http.StatusOK)
		a.stop()
		if strings.Contains(a.logs.String(), "No API token existed") {
			t.Error("a token was generated although the bootstrap token was set")
		}
	}
	out, err := (&app{t: t, dbURL: db}).cli("token", "list")
	if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 1 || !strings.Contains(out, "default") {
		t.Errorf("want exactly one token, in environment default:\n%s", out)
	}
}

func TestFirstStartPrintsAToken(t *testing.T) {
	db := storetest.SQLiteURL(t)
	a := serveApp(t, db, noEnv)
	if !strings.Contains(a.logs.String(), "No API token existed") {
		t.Fatal("first start did not print a token")
	}
	var tok string
	for _, f := range strings.Fields(a.logs.String()) {
		if strings.HasPrefix(f, "mcpapi_") {
			tok = f
			break
		}
	}
	mustStatus(t, a.do(http.MethodGet, "/integrated-account", "", "Authorization", "Bearer "+tok), http.StatusOK)
}

// TestBodyLimitsAndOddPaths pins what the fuzzers found: the limit is 64 KiB exactly, an empty
// path id is no route, and deep nesting is refused in linear time.
func TestBodyLimitsAndOddPaths(t *testing.T) {
	a := startApp(t, storetest.SQLiteURL(t))
	body := func(n int) string { // a valid create body of exactly n bytes
		head, tail := `{"integration":"crm","tenant_id":"`, `"}`
		return head + strings.Repeat(" ", n-len(head)-len(tail)-1) + "x" + tail
	}
	if r := a.do(http.MethodPost, "/integrated-account", body(65536)); r.status == http.StatusRequestEntityTooLarge {
		t.Errorf("a body of exactly 64 KiB got 413")
	}
	mustStatus(t, a.do(http.MethodPost, "/integrated-account", body(65537)), http.StatusRequestEntityTooLarge)
	mustStatus(t, a.do(http.MethodPost, "/integrated-account//mcp", `{"name":"x"}`), http.StatusNotFound)
	mustStatus(t, a.do(http.MethodPost, "/integrated-account//mcp", `A`, "Content-Type", "text/plain"), http.StatusNotFound)
	start := time.Now()
	r := a.do(http.MethodPost, "/integrated-account", strings.Repeat("[", 63990))
	mustStatus(t, r, http.StatusBadRequest)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("deep nesting took %v", d)
	}
}
