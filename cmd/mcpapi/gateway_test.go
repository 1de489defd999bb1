package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/store/storetest"
)

// envRequireNginx turns a missing nginx into a failure (CI sets it; .ci/run installs nginx).
const envRequireNginx = "MCPAPI_TEST_REQUIRE_NGINX"

// findNginx returns the nginx binary, or skips (fails under MCPAPI_TEST_REQUIRE_NGINX=1).
func findNginx(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "nginx is not installed (apt-get install nginx-light): the gateway test did not run"
	if os.Getenv(envRequireNginx) == "1" {
		t.Fatal(msg + ", and " + envRequireNginx + "=1")
	}
	t.Skip(msg)
	return ""
}

// freePort is a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNginx runs nginx in the foreground as a child, with its own prefix, config, pid file
// and logs in a temporary folder: a reverse proxy on 127.0.0.1:port that strips /mcpapi/ and
// balances round-robin over the upstreams, adding X-Forwarded-For. Stopped by PID.
func startNginx(t *testing.T, bin string, port int, upstreams []string) {
	t.Helper()
	dir := t.TempDir()
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "    server %s;\n", u)
	}
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 512; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/client_body;
  proxy_temp_path %[1]s/proxy;
  upstream mcpapi {
%[2]s    keepalive 16;
  }
  server {
    listen 127.0.0.1:%[3]d;
    location /mcpapi/ {
      proxy_pass http://mcpapi/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream off;
    }
  }
}
`, dir, servers.String(), port)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log")) //nolint:gosec // G204: nginx found on PATH, with the test's own files
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful stop of this master (and its worker)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log")) //nolint:gosec // G304: the test's own temp dir
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), log)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log")) //nolint:gosec // G304: the test's own temp dir
			t.Fatalf("nginx exited: %v\n%s\n%s", waitErr, out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen within 10s:\n%s", out.String())
		}
	}
}

// gw sends requests through the gateway.
type gw struct {
	t      *testing.T
	base   string // http://127.0.0.1:port/mcpapi
	token  string
	client *http.Client
}

func (g *gw) do(method, path, body string, headers ...string) response {
	g.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.base+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		g.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestBehindNginx: nginx with a path prefix and X-Forwarded-For, round-robin over two mcpapi
// processes on one PostgreSQL database. Through it: the REST flow, an MCP tools/call, the
// rate limit per real client, an Idempotency-Key retry that lands on the other instance, an
// If-Match race split across both, and a rotation on one instance that the other honours.
func TestBehindNginx(t *testing.T) {
	nginx := findNginx(t)
	dbURL := storetest.Open(t, storetest.Postgres)
	up := &upstream{}
	us := httptest.NewServer(up)
	t.Cleanup(us.Close)
	integrations := crmPointingAt(t, us.URL)

	port := freePort(t)
	public := fmt.Sprintf("http://127.0.0.1:%d/mcpapi", port)
	const ttl = 2 * time.Second
	var instances []*child
	for range 2 { // one after the other: the first migrates the database
		instances = append(instances, startChild(t, nil, nil, "--addr", "127.0.0.1:0", "--database-url", dbURL,
			"--public-url", public, "--trusted-proxies", "127.0.0.1/32", "--auth-cache-ttl", ttl.String(),
			"--rate-limit", "1", "--rate-burst", "30", "--log-format", "text",
			"--integrations-dir", integrations, "--secret-key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="))
	}
	startNginx(t, nginx, port, []string{strings.TrimPrefix(instances[0].base, "http://"), strings.TrimPrefix(instances[1].base, "http://")})

	var tokOut, tokErr bytes.Buffer
	if err := run(context.Background(), []string{"mcpapi", "token", "create", "--environment", "gw", "--database-url", dbURL}, noEnv, &tokOut, &tokErr); err != nil {
		t.Fatalf("token create: %v %s", err, tokErr.String())
	}
	g := &gw{t: t, base: public, token: strings.TrimSpace(tokOut.String()), client: clientFrom("127.0.0.2")}
	// which tells the instance that logged a request id (-1: none within 5 s).
	which := func(id string) int {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for i, c := range instances {
				if strings.Contains(c.logs.String(), "request_id="+id) {
					return i
				}
			}
		}
		return -1
	}

	// The REST flow, with the public URL's path in Location and in the MCP url.
	acc := g.do(http.MethodPost, "/integrated-account", `{"integration":"crm","credentials":{"type":"bearer","value":"upstream-secret"}}`)
	mustStatus(t, acc, http.StatusCreated)
	accID := acc.json(t)["id"].(string)
	if loc := acc.header.Get("Location"); loc != "/mcpapi/integrated-account/"+accID {
		t.Errorf("Location %q", loc)
	}
	created := g.do(http.MethodPost, "/integrated-account/"+accID+"/mcp", `{"name":"gw","config":{"methods":["read"],"tags":["contacts"]}}`)
	mustStatus(t, created, http.StatusCreated)
	srv := created.json(t)
	srvPath := "/integrated-account/" + accID + "/mcp/" + srv["id"].(string)
	mcpURL := srv["url"].(string)
	if !strings.HasPrefix(mcpURL, public+"/mcp/") {
		t.Fatalf("MCP url %q is not under the gateway's %s", mcpURL, public)
	}
	mustStatus(t, g.do(http.MethodPatch, srvPath, `{"name":"renamed"}`), http.StatusOK)
	mustStatus(t, g.do(http.MethodPatch, srvPath, `{"config":{"tags":null}}`), http.StatusOK)
	got := g.do(http.MethodGet, srvPath, "")
	mustStatus(t, got, http.StatusOK)
	mustStatus(t, g.do(http.MethodGet, srvPath, "", "If-None-Match", got.header.Get("ETag")), http.StatusNotModified)
	mustStatus(t, g.do(http.MethodGet, "/integrated-account/"+accID+"/mcp?limit=1", ""), http.StatusOK)

	// An MCP tools/call through the gateway, with the official client.
	cs, err := mcpConnect(t, mcpURL)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_crm_contact", Arguments: map[string]any{"contact_id": "c1"}})
	if err != nil || res.IsError {
		t.Fatalf("tools/call through nginx: %v %+v", err, res)
	}
	_ = cs.Close()
	up.mu.Lock()
	last := up.calls[len(up.calls)-1]
	up.mu.Unlock()
	if last != "GET /v1/contacts/c1 Bearer upstream-secret" {
		t.Errorf("upstream got %q", last)
	}

	// The access logs name the real client (127.0.0.2, from X-Forwarded-For), not nginx.
	id := "gw-" + uuid.NewString()
	mustStatus(t, g.do(http.MethodGet, srvPath, "", "X-Request-ID", id), http.StatusOK)
	i := which(id)
	if i < 0 || !strings.Contains(instances[i].logs.String(), "client_ip=127.0.0.2") {
		t.Errorf("the access log does not name the client 127.0.0.2 (instance %d)", i)
	}

	// An Idempotency-Key retry lands on the other instance: replayed, one row.
	key := uuid.NewString()
	body := `{"integration":"crm","tenant_id":"idem-` + key[:8] + `"}`
	id1, id2 := "idem1-"+key, "idem2-"+key
	first := g.do(http.MethodPost, "/integrated-account", body, "Idempotency-Key", key, "X-Request-ID", id1)
	second := g.do(http.MethodPost, "/integrated-account", body, "Idempotency-Key", key, "X-Request-ID", id2)
	mustStatus(t, first, http.StatusCreated)
	mustStatus(t, second, http.StatusCreated)
	if w1, w2 := which(id1), which(id2); w1 == w2 || w1 < 0 || w2 < 0 {
		t.Errorf("the retry did not land on the other instance: %d then %d", w1, w2)
	}
	if second.header.Get("Idempotent-Replayed") != "true" || string(second.body) != string(first.body) {
		t.Errorf("retry not replayed: %s", second.body)
	}
	var rows int
	if err := queryInt(dbURL, `SELECT count(*) FROM integrated_accounts WHERE tenant_id = $1`, &rows, "idem-"+key[:8]); err != nil || rows != 1 {
		t.Errorf("rows for the idempotent create: %d (%v), want 1", rows, err)
	}

	// An If-Match race split across both instances: exactly one winner.
	for attempt := 0; ; attempt++ {
		etag := g.do(http.MethodGet, srvPath, "").header.Get("ETag")
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		ids := []string{"race-a-" + uuid.NewString(), "race-b-" + uuid.NewString()}
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[j] = g.do(http.MethodPatch, srvPath, fmt.Sprintf(`{"name":"racer-%d"}`, j), "If-Match", etag, "X-Request-ID", ids[j]).status
			}()
		}
		wg.Wait()
		if which(ids[0]) == which(ids[1]) && attempt < 5 {
			continue // both on one instance this time: race again
		}
		ok, stale := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusPreconditionFailed:
				stale++
			}
		}
		if ok != 1 || stale != 1 {
			t.Errorf("If-Match race across instances: %v, want one 200 and one 412", statuses)
		}
		if which(ids[0]) == which(ids[1]) {
			t.Error("the race never split across the two instances")
		}
		break
	}

	// A rotation on one instance: the other refuses the old token within --auth-cache-ttl.
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	mcpPath := strings.TrimPrefix(mcpURL, public)
	mcpDo := func(g *gw, path string) int {
		return g.do(http.MethodPost, path, ping, "Authorization", "", "Accept", "application/json, text/event-stream").status
	}
	for range 2 { // both instances have used (and may have cached) the token
		mustStatus(t, response{status: mcpDo(g, mcpPath)}, http.StatusOK)
	}
	rot := g.do(http.MethodPost, srvPath+"/token", "")
	mustStatus(t, rot, http.StatusOK)
	rotated := time.Now()
	newPath := strings.TrimPrefix(rot.json(t)["url"].(string), public)
	for range 2 { // the new token works on both at once
		mustStatus(t, response{status: mcpDo(g, newPath)}, http.StatusOK)
	}
	// The old one is polled from another address, so that its refusals do not spend
	// 127.0.0.2's budget, which the rate-limit step below measures.
	poller := &gw{t: t, base: public, client: clientFrom("127.0.0.4")}
	for {
		a, b := mcpDo(poller, mcpPath), mcpDo(poller, mcpPath) // consecutive: one on each instance
		if a == http.StatusUnauthorized && b == http.StatusUnauthorized {
			t.Logf("the old MCP token was refused by both instances %v after the rotation", time.Since(rotated).Round(time.Millisecond))
			break
		}
		if time.Since(rotated) > ttl+time.Second {
			t.Fatalf("the old token still answered %d/%d %v after the rotation (--auth-cache-ttl %v)", a, b, time.Since(rotated), ttl)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The rate limit per real client: guesses from 127.0.0.2 exhaust its bucket on both
	// instances (the buckets are per instance); 127.0.0.3 behind the same nginx is not affected.
	bad := &gw{t: t, base: public, token: "mcpapi_guess", client: clientFrom("127.0.0.2")}
	limited := 0
	for range 80 {
		if bad.do(http.MethodGet, "/integrated-account", "").status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 10 {
		t.Errorf("80 guesses from 127.0.0.2: only %d answered 429", limited)
	}
	other := &gw{t: t, base: public, token: "mcpapi_guess", client: clientFrom("127.0.0.3")}
	for range 2 { // both instances
		if s := other.do(http.MethodGet, "/integrated-account", "").status; s != http.StatusUnauthorized {
			t.Errorf("the first guesses from 127.0.0.3: %d, want 401 (its own bucket)", s)
		}
	}
}

// queryInt runs one query on the test database, through the store's own opener.
func queryInt(dbURL, query string, out *int, args ...any) error {
	st, err := openStore(context.Background(), dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	return st.DB().Raw(query, args...).Row().Scan(out)
}
