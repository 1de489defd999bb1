// Command mcpapi-bench measures `mcpapi serve` on PostgreSQL against two references on the
// same database and pool size: the floor (a minimal net/http + pgx handler that runs the same
// single statement per request, without framework, validation or ORM) and the database limit
// (pgbench -M prepared with the same statements).
//
// The MCP rows measure POST /mcp/{token} (tools/call and tools/list of a generated 200-tool
// integration on a loopback upstream) against a gateway floor (net/http + one pgx query + a
// pooled upstream client) and the go-sdk's handler alone, and mcpapi's memory under 8 calls of
// an upstream answer at --max-upstream-response.
//
// It creates a fresh database, starts the server, the floor, the upstream and the SDK alone as
// child processes on 127.0.0.1, seeds the database with SQL (and the MCP servers through the
// REST API), drives every target from its own load generator, prints tables of medians, then
// stops its children and drops the database.
//
//	go run ./cmd/mcpapi-bench                 # the full run (make bench), ~25 minutes
//	go run ./cmd/mcpapi-bench --quick         # a smoke run of a few seconds
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverPool is the size of mcpapi's PostgreSQL pool (store.configurePool); the floor uses the
// same and pgbench opens at most this many connections.
const serverPool = 25

var allOps = []string{"patch", "get", "list", "create", opMCPCall, opMCPCallNoLog, opMCPList, opMCPMem}

type options struct {
	adminURL       string
	duration       time.Duration
	warmup         time.Duration
	reps           int
	concurrency    []int
	ops            []string
	quick          bool
	servers        int
	accounts       int
	mcpapiBin      string
	pgbench        string
	timeout        time.Duration
	args           []string // as given, for the printed command
	pgbenchTxQuick int      // quick mode: pgbench runs this many transactions per client instead of -T
}

// childRole runs this program in the role of one of the benchmark's child processes when the
// environment names one (the benchmark restarts its own executable for each), and says so.
func childRole() (code int, ok bool) {
	switch os.Getenv(roleEnv) {
	case roleFloor:
		return childMain("floor", runFloor), true
	case roleUpstream:
		return childMain("upstream", runUpstream), true
	case roleSDK:
		return childMain("sdk", runSDK), true
	}
	return 0, false
}

func main() {
	if code, ok := childRole(); ok {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mcpapi-bench:", err)
		os.Exit(1)
	}
}

func defaultAdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{args: args}
	fs := flag.NewFlagSet("mcpapi-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conc, ops string
	fs.StringVar(&o.adminURL, "database-url", defaultAdminURL(), "PostgreSQL admin URL; a fresh database is created next to it and dropped at the end (default from TEST_DATABASE_URL)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each window")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each window")
	fs.IntVar(&o.reps, "reps", 3, "interleaved repetitions; the table shows medians")
	fs.StringVar(&conc, "concurrency", "8,32", "comma-separated numbers of concurrent clients")
	fs.StringVar(&ops, "ops", strings.Join(allOps, ","), "comma-separated operations: "+strings.Join(allOps, ", "))
	fs.BoolVar(&o.quick, "quick", false, "smoke mode: short windows, 1 rep, concurrency 4, 1,000 servers (explicit flags still win)")
	fs.IntVar(&o.servers, "servers", 10000, "MCP servers seeded")
	fs.IntVar(&o.accounts, "accounts", 100, "integrated accounts the servers are spread over")
	fs.StringVar(&o.mcpapiBin, "mcpapi-bin", "", "use this mcpapi binary instead of building ./cmd/mcpapi")
	fs.StringVar(&o.pgbench, "pgbench", "", `pgbench binary (default: PATH, then /usr/lib/postgresql/*/bin); "off" skips it`)
	fs.DurationVar(&o.timeout, "timeout", 0, "hard limit for the whole run (default: twice the estimate plus 5 minutes)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["duration"] {
			o.duration = 300 * time.Millisecond
		}
		if !set["warmup"] {
			o.warmup = 100 * time.Millisecond
		}
		if !set["reps"] {
			o.reps = 1
		}
		if !set["concurrency"] {
			conc = "4"
		}
		if !set["servers"] {
			o.servers = 1000
		}
		if !set["accounts"] {
			o.accounts = 10
		}
		o.pgbenchTxQuick = 50
	}
	for _, s := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return o, fmt.Errorf("--concurrency: %q is not a number from 1 to 1024", s)
		}
		o.concurrency = append(o.concurrency, n)
	}
	for _, s := range strings.Split(ops, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if !slices.Contains(allOps, s) {
			return o, fmt.Errorf("--ops: unknown operation %q (want %s)", s, strings.Join(allOps, ", "))
		}
		o.ops = append(o.ops, s)
	}
	switch {
	case o.duration <= 0:
		return o, errors.New("--duration must be positive")
	case o.warmup < 0:
		return o, errors.New("--warmup must not be negative")
	case o.reps < 1:
		return o, errors.New("--reps must be at least 1")
	case o.accounts < 1 || o.servers < o.accounts:
		return o, errors.New("need --accounts ≥ 1 and --servers ≥ --accounts")
	}
	if o.timeout <= 0 {
		o.timeout = 2*o.estimate() + 5*time.Minute
	}
	return o, nil
}

// estimate is how long the measurements take: three targets per window (mcpapi, the floor and
// pgbench or the SDK alone; the call-log row: two), one window per repetition for the memory row.
func (o options) estimate() time.Duration {
	var windows time.Duration
	for _, op := range o.ops {
		if op == opMCPMem {
			windows += time.Duration(o.reps) * (o.memWindow() + o.warmup) / (o.duration + o.warmup)
			continue
		}
		targets := time.Duration(3)
		if op == opMCPCallNoLog {
			targets = 2 // mcpapi with and without the call log
		}
		windows += time.Duration(o.reps*len(o.concurrency)) * targets
	}
	return windows * (o.duration + o.warmup)
}

// memWindow is how long the memory row runs: --duration, at least a second, so that even
// --quick completes a few rounds of its large calls.
func (o options) memWindow() time.Duration { return max(o.duration, time.Second) }

// command is the invocation to print under the table.
func (o options) command() string {
	parts := []string{"go", "run", "./cmd/mcpapi-bench"}
	for _, a := range o.args {
		if a == "" || strings.ContainsAny(a, " \t'\"$&;|<>()*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	b := &bench{opts: o, stdout: stdout, log: stderr}
	defer b.cleanup()
	if err := b.setup(ctx); err != nil {
		return err
	}
	if err := b.measure(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped (%w); children stopped and database dropped", context.Cause(ctx))
		}
		return err
	}
	return b.report()
}
