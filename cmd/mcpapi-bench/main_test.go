package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcpapi/mcpapi/integrations"
)

// TestMain lets the test binary serve as the child processes (floor, upstream, SDK alone), as
// the real binary does.
func TestMain(m *testing.M) {
	if code, ok := childRole(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestQuick runs the whole benchmark in --quick mode: a fresh database, the real server built
// from ./cmd/mcpapi, the floor, pgbench when installed, the upstream and the SDK alone for the
// MCP rows; every request must succeed and every MCP answer must be the right JSON-RPC result.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	admin := defaultAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err := withConn(ctx, admin, func(conn *pgx.Conn) error { return conn.Ping(ctx) })
	cancel()
	if err != nil {
		if os.Getenv("MCPAPI_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (MCPAPI_TEST_REQUIRE_POSTGRES=1) but unreachable at %s: %v", redact(admin), err)
		}
		t.Skipf("PostgreSQL unreachable at %s: %v", redact(admin), err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"--quick", "--database-url", admin}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	t.Logf("\n%s", out)
	for _, op := range allOps {
		targets := []string{targetServer, targetFloor}
		switch op {
		case opMCPCall, opMCPList:
			targets = append(targets, targetSDK)
		case opMCPMem:
			targets = []string{targetServer}
		case opMCPCallNoLog:
			targets = []string{targetServer, targetNoLog}
		}
		for _, target := range targets {
			line := findRow(out, strings.ToUpper(op), target)
			if line == nil {
				t.Fatalf("no %s row for %s in:\n%s", target, op, out)
			}
			// operation, concurrency, target, req/s, p50, "ms", p99, "ms", errors, …
			if line[3] == "0" || line[8] != "0" {
				t.Errorf("%s %s: want requests and no errors, got %q\nstderr:\n%s", op, target, strings.Join(line, " "), stderr.String())
			}
		}
	}
	// The floor pools its upstream connections: at most one per client (quick: 4), so the
	// connection count is real and reuse shows in it.
	if f := findRow(out, strings.ToUpper(opMCPCall), targetFloor); f != nil {
		if n, err := strconv.Atoi(f[len(f)-1]); err != nil || n < 1 || n > 4 {
			t.Errorf("floor's upstream connections: %q, want 1 to 4", f[len(f)-1])
		}
	}
	// The memory row has its RSS readings and the bound.
	if f := findRow(out, strings.ToUpper(opMCPMem), targetServer); f != nil {
		if !strings.Contains(strings.Join(f, " "), "32.0 MB") {
			t.Errorf("memory row without the 8 × 4 × 1 MiB bound: %q", strings.Join(f, " "))
		}
	}
	// The call-log row states the ratio on ÷ off and its target.
	if f := findRow(out, strings.ToUpper(opMCPCallNoLog), targetServer); f != nil {
		if line := strings.Join(f, " "); !strings.Contains(line, "≥ 0.9:") {
			t.Errorf("call-log row without the ratio and target: %q", line)
		}
	}
	if !strings.Contains(out, "command: go run ./cmd/mcpapi-bench --quick") {
		t.Errorf("no command line in:\n%s", out)
	}

	// The database is gone again.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	var n int
	if err := withConn(ctx2, admin, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx2, `SELECT count(*) FROM pg_database WHERE datname LIKE 'mcpapi_bench_%'
			AND datname = ANY($1)`, createdNames(stderr.String())).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the benchmark database was not dropped")
	}
}

func findRow(table, op, target string) []string {
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) >= 9 && f[0] == op && f[2] == target {
			return f
		}
	}
	return nil
}

// createdNames picks the database names out of the progress log.
func createdNames(log string) []string {
	var names []string
	for _, l := range strings.Split(log, "\n") {
		if _, rest, ok := strings.Cut(l, "database "); ok {
			if name, _, ok := strings.Cut(rest, " created"); ok {
				names = append(names, name)
			}
		}
	}
	return names
}

func TestOptions(t *testing.T) {
	o, err := parseOptions([]string{"--quick", "--concurrency", "2,3", "--ops", "GET,list"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.reps != 1 || o.servers != 1000 || len(o.concurrency) != 2 || o.concurrency[1] != 3 || strings.Join(o.ops, ",") != "get,list" {
		t.Errorf("quick options: %+v", o)
	}
	if _, err := parseOptions([]string{"--ops", "delete"}, &bytes.Buffer{}); err == nil {
		t.Error("unknown operation accepted")
	}
	r := result{lat: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	if r.percentile(0.5) != 5 || r.percentile(0.99) != 10 {
		t.Errorf("percentiles: %v %v", r.percentile(0.5), r.percentile(0.99))
	}
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 2, 3}) != 2.5 {
		t.Error("median")
	}
}

// TestIntegrationDoc: the generated integration is a valid document of 200 tools, among them
// the two the MCP rows call, whose base URL is the upstream.
func TestIntegrationDoc(t *testing.T) {
	doc, err := integrationDoc("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	in, err := integrations.Parse(benchIntegration, "bench.json", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Tools) != benchTools || in.BaseURL != "http://127.0.0.1:1" {
		t.Fatalf("%d tools at %q, want %d at the upstream", len(in.Tools), in.BaseURL, benchTools)
	}
	for _, name := range []string{callTool, blobTool} {
		tool, ok := in.Tool(name)
		if !ok || tool.HTTPMethod != http.MethodGet {
			t.Errorf("no GET tool %s", name)
		}
	}
}

// TestBlobBody: the memory row's upstream answer is valid JSON of exactly the limit.
func TestBlobBody(t *testing.T) {
	for _, n := range []int{64, 1000, 1 << 20} {
		b := blobBody(n)
		if len(b) != n || !json.Valid(b) {
			t.Errorf("blobBody(%d): %d bytes, valid %t", n, len(b), json.Valid(b))
		}
	}
}

// TestMCPCheck: an MCP answer counts as correct only when it is the JSON-RPC result asked for.
func TestMCPCheck(t *testing.T) {
	call := mcpCheck{method: "tools/call", text: upstreamRecord}
	ok := `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":` + strconv.Quote(upstreamRecord) + `}]}}`
	if err := call.check(200, "application/json", []byte(ok), 7); err != nil {
		t.Errorf("a right answer: %v", err)
	}
	bad := map[string]struct {
		status int
		ct     string
		body   string
	}{
		"HTTP 401":       {401, "application/problem+json", `{"title":"Unauthorized"}`},
		"event stream":   {200, "text/event-stream", ok},
		"other id":       {200, "application/json", strings.Replace(ok, `"id":7`, `"id":8`, 1)},
		"JSON-RPC error": {200, "application/json", `{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"unknown tool"}}`},
		"tool error":     {200, "application/json", `{"jsonrpc":"2.0","id":7,"result":{"isError":true,"content":[{"type":"text","text":"upstream failed"}]}}`},
		"other text":     {200, "application/json", `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"{}"}]}}`},
		"no result":      {200, "application/json", `{"jsonrpc":"2.0","id":7}`},
		"not JSON":       {200, "application/json", `{"jsonrpc"`},
	}
	for name, c := range bad {
		if err := call.check(c.status, c.ct, []byte(c.body), 7); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	list := mcpCheck{method: "tools/list", tools: 2}
	if err := list.check(200, "application/json", []byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{},{}]}}`), 1); err != nil {
		t.Errorf("a right list: %v", err)
	}
	if err := list.check(200, "application/json", []byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{}]}}`), 1); err == nil {
		t.Error("a short list accepted")
	}
	blob := mcpCheck{method: "tools/call", textLen: 3}
	if err := blob.check(200, "application/json", []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"abcd"}]}}`), 1); err == nil {
		t.Error("a text of the wrong size accepted")
	}
}

// TestAnswerRef: an answer equal to a checked one but for its id passes without decoding; one
// that differs anywhere else is checked in full, so a wrong answer never passes.
func TestAnswerRef(t *testing.T) {
	c := mcpCheck{method: "tools/call", text: upstreamRecord}
	answer := func(id int, text string) []byte {
		return []byte(`{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"result":{"content":[{"type":"text","text":` + strconv.Quote(text) + `}]}}`)
	}
	var ref answerRef
	if err := c.verify(&ref, 200, "application/json", answer(1, upstreamRecord), 1); err != nil || !ref.ok {
		t.Fatalf("first answer: %v, reference kept %t", err, ref.ok)
	}
	if !ref.matches(answer(12345, upstreamRecord), 12345) || ref.matches(answer(12345, upstreamRecord), 12346) {
		t.Error("the reference does not match by id")
	}
	if err := c.verify(&ref, 200, "application/json", answer(2, upstreamRecord), 2); err != nil {
		t.Errorf("same answer, next id: %v", err)
	}
	wrong := strings.Replace(upstreamRecord, "Ada", "Bob", 1)
	if err := c.verify(&ref, 200, "application/json", answer(3, wrong), 3); err == nil {
		t.Error("a different text passed")
	}
	if err := c.verify(&ref, 200, "application/json", answer(4, upstreamRecord), 5); err == nil {
		t.Error("a wrong id passed")
	}
	if err := c.verify(&ref, 200, "text/html", answer(6, upstreamRecord), 6); err == nil {
		t.Error("a wrong content type passed")
	}
	if err := c.verify(&ref, 500, "application/json", answer(7, upstreamRecord), 7); err == nil {
		t.Error("a wrong status passed")
	}
}

// TestHasFlag: a flag counts as listed by serve --help only under its exact name.
func TestHasFlag(t *testing.T) {
	b := &bench{serveHelp: []byte("Usage of mcpapi serve:\n  -max-upstream-response int\n    \tlargest upstream body (default 1048576)\n  -rate-limit-burst int\n  -validate-responses\n    \tlog\n")}
	for name, want := range map[string]bool{
		"max-upstream-response": true, "validate-responses": true, "rate-limit": false, "secret-key": false,
	} {
		if got := b.hasFlag(name); got != want {
			t.Errorf("hasFlag(%q) = %t, want %t", name, got, want)
		}
	}
	o, err := parseOptions([]string{"--ops", "mcp-call,MCP-LIST"}, &bytes.Buffer{})
	if err != nil || !o.needsMCP() || strings.Join(o.ops, ",") != "mcp-call,mcp-list" {
		t.Errorf("MCP ops: %v %v", o.ops, err)
	}
	if o, _ := parseOptions([]string{"--ops", "get"}, &bytes.Buffer{}); o.needsMCP() {
		t.Error("REST ops need the MCP setup")
	}
}

// TestPairedRatio: the logging row's ratio pairs the windows of one repetition, so a drift
// that slows both windows of a repetition does not move it.
func TestPairedRatio(t *testing.T) {
	win := func(requests int) result { return result{requests: requests, elapsed: time.Second} }
	on := []result{win(90), win(450), win(1000)}
	off := []result{win(100), win(500), win(2000)} // the machine slowed down 5× in repetition 2
	r, ok := pairedRatio(on, off)
	if !ok || r < 0.899 || r > 0.901 {
		t.Errorf("paired ratio %v (%v), want the median of 0.9, 0.9, 0.5 = 0.9", r, ok)
	}
	if _, ok := pairedRatio(on, nil); ok {
		t.Error("a ratio without any window of the other target")
	}
}
