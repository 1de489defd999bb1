package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestMain lets the test binary serve as the floor child process, as the real binary does.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == roleFloor {
		os.Exit(floorMain())
	}
	os.Exit(m.Run())
}

// TestQuick runs the whole benchmark in --quick mode: a fresh database, the real server built
// from ./cmd/mcpapi, the floor, pgbench when installed; every request must succeed.
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
		for _, target := range []string{targetServer, targetFloor} {
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
