package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// seeded is one seeded MCP server: the keys a request needs.
type seeded struct{ id, account string }

type bench struct {
	opts   options
	stdout io.Writer
	log    io.Writer

	tmp       string
	adminURL  string
	dbName    string
	dbURL     string
	pgVersion string
	gitRev    string

	server *child
	// noLog is a second mcpapi serve with --mcp-call-log=false (the call-log row only).
	noLog     *child
	noLogNote string // why the call-log row has no second server, "" when it has one
	serveArgs []string
	serveHelp []byte // `mcpapi serve --help`: which flags this binary has
	floor     *child
	token     string
	envID     string
	userID    string
	ids       []seeded

	pgbench        string // path, "" when unavailable
	pgbenchVersion string
	pgbenchNote    string

	// MCP rows (when --ops has any).
	upstream        *child
	upstreamControl string // where the upstream tells its accepted connections
	sdk             *child
	secretKey       string   // serve's --secret-key, "" when serve has no such flag
	upstreamLimit   int      // mcpapi's --max-upstream-response, the memory row's body size
	limitFlag       bool     // whether serve has --max-upstream-response (else the limit is assumed)
	mcpTokens       []string // the MCP servers' tokens; every MCP request picks one
	toolsFile       string   // the tools mcpapi lists, for the floor and the SDK
	serverHWM       int64    // mcpapi's VmHWM before the memory row reset it

	loadBefore string
	counter    atomic.Int64 // unique values for PATCH and POST bodies
	results    map[resultKey][]result
}

// child is a process the benchmark started; only it is ever signalled, by its PID.
type child struct {
	name    string
	base    string // http://127.0.0.1:port once it answers
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop asks the child to end (SIGTERM), then kills it after a grace period.
func (c *child) stop(grace time.Duration) {
	if c == nil || c.cmd.Process == nil || c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(termSignal)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// tail is the end of the child's log, for error messages.
func (c *child) tail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func (b *bench) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(b.log, "mcpapi-bench: "+format+"\n", args...) // progress only: the run goes on without it
}

func (b *bench) setup(ctx context.Context) error {
	o := b.opts
	var err error
	if b.tmp, err = os.MkdirTemp("", "mcpapi-bench-"); err != nil {
		return err
	}
	b.adminURL = o.adminURL
	if err := b.createDatabase(ctx); err != nil {
		return err
	}
	b.pgbench, b.pgbenchVersion, b.pgbenchNote = findPgbench(ctx, o.pgbench)
	if b.pgbenchNote != "" {
		b.logf("%s", b.pgbenchNote)
	}
	bin := o.mcpapiBin
	if bin == "" {
		if bin, err = b.buildServer(ctx); err != nil {
			return err
		}
	}
	b.serveHelp, _ = exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput() //nolint:gosec // G204: the mcpapi binary built here or given by --mcpapi-bin
	var extra []string
	if o.needsMCP() {
		if extra, err = b.prepareMCP(); err != nil {
			return err
		}
	}
	if err := b.startServer(ctx, bin, extra); err != nil {
		return err
	}
	if err := b.createToken(ctx, bin); err != nil {
		return err
	}
	if err := b.seed(ctx); err != nil {
		return err
	}
	if o.needsMCP() {
		if err := b.setupMCP(ctx); err != nil {
			return err
		}
	}
	if slices.Contains(o.ops, opMCPCallNoLog) {
		if err := b.startNoLog(ctx, bin, extra); err != nil {
			return err
		}
	}
	if err := b.startFloor(ctx); err != nil {
		return err
	}
	if o.needsMCP() {
		return b.startSDK(ctx)
	}
	return nil
}

// hasFlag says whether serve --help lists --name.
func (b *bench) hasFlag(name string) bool {
	return bytes.Contains(b.serveHelp, []byte("-"+name+" ")) || bytes.Contains(b.serveHelp, []byte("-"+name+"\n")) ||
		bytes.Contains(b.serveHelp, []byte("-"+name+"\t")) || bytes.Contains(b.serveHelp, []byte("-"+name+"="))
}

// prepareMCP starts the upstream and writes the integration, and returns serve's extra flags:
// --integrations-dir, and --secret-key and --max-upstream-response when serve has them.
func (b *bench) prepareMCP() ([]string, error) {
	b.upstreamLimit = defaultUpstreamLimit
	var args []string
	if b.hasFlag("secret-key") {
		b.secretKey = newSecretKey()
		args = append(args, "--secret-key", b.secretKey)
	} else {
		b.logf("mcpapi serve has no --secret-key flag: the integrated accounts have no credential")
	}
	if b.hasFlag("max-upstream-response") {
		b.limitFlag = true
		args = append(args, "--max-upstream-response", strconv.Itoa(b.upstreamLimit))
	} else {
		b.logf("mcpapi serve has no --max-upstream-response flag: the memory row's answer is %d bytes all the same", b.upstreamLimit)
	}
	if err := b.startUpstream(b.upstreamLimit); err != nil {
		return nil, err
	}
	dir, err := b.writeIntegration()
	if err != nil {
		return nil, err
	}
	return append(args, "--integrations-dir", dir), nil
}

// cleanup stops the children and drops the database; it runs on success, error and Ctrl-C.
func (b *bench) cleanup() {
	b.sdk.stop(5 * time.Second)
	b.floor.stop(5 * time.Second)
	b.server.stop(20 * time.Second)
	b.noLog.stop(20 * time.Second)
	b.upstream.stop(5 * time.Second)
	if b.dbName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := withConn(ctx, b.adminURL, func(conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{b.dbName}.Sanitize()+" WITH (FORCE)")
			return err
		}); err != nil {
			b.logf("could not drop database %s: %v", b.dbName, err)
		}
	}
	if b.tmp != "" {
		_ = os.RemoveAll(b.tmp)
	}
}

func withConn(ctx context.Context, dsn string, f func(*pgx.Conn) error) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, dsn)
	cancel()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }() // f's error is the one that matters
	return f(conn)
}

func (b *bench) createDatabase(ctx context.Context) error {
	u, err := url.Parse(b.adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("--database-url must be a postgres:// URL, not %q", b.adminURL)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" && h != "" {
		return fmt.Errorf("--database-url must point at 127.0.0.1 (loopback only), not %q", h)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	name := "mcpapi_bench_" + hex.EncodeToString(suffix[:])
	err = withConn(ctx, b.adminURL, func(conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&b.pgVersion); err != nil {
			return err
		}
		_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		return err
	})
	if err != nil {
		return fmt.Errorf("create database (is PostgreSQL running at %s?): %w", redact(b.adminURL), err)
	}
	b.dbName = name
	u.Path = "/" + name
	b.dbURL = u.String()
	b.logf("database %s created (PostgreSQL %s)", name, b.pgVersion)
	return nil
}

// redact hides a password in a URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, goTool(), "env", "GOMOD").Output() //nolint:gosec // G204: the go command, found by goTool
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run mcpapi-bench inside the mcpapi module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}

// goTool is the go command. `go run` puts its own toolchain first on PATH, so PATH is
// enough; when go is not there, exec reports that.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func (b *bench) buildServer(ctx context.Context) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(b.tmp, "mcpapi")
	b.logf("building ./cmd/mcpapi")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./cmd/mcpapi") //nolint:gosec // G204: the go command, found by goTool
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/mcpapi: %w\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "describe", "--always", "--dirty").Output(); err == nil { //nolint:gosec // G204: git in the module root that go env GOMOD named
		b.gitRev = strings.TrimSpace(string(out))
	}
	return bin, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close() // the port must be free again for the child that gets it
}

// startChild starts a process with stdout and stderr appended to a log file; with
// firstLine, it returns the first line the child prints on stdout instead.
func (b *bench) startChild(name string, cmd *exec.Cmd, firstLine bool) (*child, string, error) {
	c := &child{name: name, cmd: cmd, logPath: filepath.Join(b.tmp, name+".log"), done: make(chan struct{})}
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = logf.Close() }() // the child has its own copy; ours is only for starting it
	cmd.Stderr = logf
	var stdout io.ReadCloser
	if firstLine {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return nil, "", err
		}
	} else {
		cmd.Stdout = logf
	}
	setChildAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	if !firstLine {
		return c, "", nil
	}
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		s, _ := r.ReadString('\n')
		line <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case s := <-line:
		if s == "" {
			c.stop(time.Second)
			return nil, "", fmt.Errorf("%s printed nothing: %v\n%s", name, c.err, c.tail())
		}
		return c, s, nil
	case <-time.After(30 * time.Second):
		c.stop(time.Second)
		return nil, "", fmt.Errorf("%s did not start within 30s\n%s", name, c.tail())
	}
}

func (b *bench) startServer(ctx context.Context, bin string, extra []string) error {
	c, args, err := b.startMcpapi(ctx, "mcpapi", bin, extra)
	if err != nil {
		return err
	}
	b.server = c
	b.serveArgs = args
	return nil
}

// startNoLog starts the call-log row's second server: the same flags and database as the first,
// plus --mcp-call-log=false. A binary without that flag gets none (the row shows "-").
func (b *bench) startNoLog(ctx context.Context, bin string, extra []string) error {
	if !b.hasFlag("mcp-call-log") {
		b.noLogNote = "mcpapi serve has no --mcp-call-log flag: the call-log row was not measured"
		b.logf("%s", b.noLogNote)
		return nil
	}
	c, _, err := b.startMcpapi(ctx, targetNoLog, bin, append(slices.Clone(extra), "--mcp-call-log=false"))
	if err != nil {
		return err
	}
	b.noLog = c
	return nil
}

// startMcpapi starts one mcpapi serve on a free port and the benchmark's database, and returns
// it with its command line as printed (secrets and temporary paths replaced).
func (b *bench) startMcpapi(ctx context.Context, name, bin string, extra []string) (*child, []string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	args := []string{"serve", "--addr", addr, "--database-url", b.dbURL, "--auth-cache-ttl", "5s"}
	if b.hasFlag("rate-limit") {
		args = append(args, "--rate-limit", "0")
	} else {
		b.logf("mcpapi serve has no --rate-limit flag: started without it")
	}
	// The seed puts 100 servers on each account and PATCHes arbitrary tags, like the floor and
	// pgbench statements, which check neither: measure the same work.
	if b.hasFlag("max-mcp-servers-per-account") {
		args = append(args, "--max-mcp-servers-per-account", "0", "--ai-ready-check=false")
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...) //nolint:gosec // G204: the mcpapi binary built here or given by --mcpapi-bin
	cmd.Env = append(os.Environ(), "DATABASE_URL=", "MCPAPI_BOOTSTRAP_TOKEN=", "MCPAPI_SECRET_KEY=", "MCPAPI_INTEGRATIONS_DIR=")
	c, _, err := b.startChild(name, cmd, false)
	if err != nil {
		return nil, nil, err
	}
	printed := append([]string{"mcpapi"}, args...)
	printed[slices.Index(printed, "--database-url")+1] = "<fresh database>"
	if i := slices.Index(printed, "--secret-key"); i > 0 {
		printed[i+1] = "<random key>"
	}
	if i := slices.Index(printed, "--integrations-dir"); i > 0 {
		printed[i+1] = "<the generated integration>"
	}
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/integrated-account", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close() // only the answer counts: the server is up
			c.base = base
			b.logf("%s serving on %s (pid %d)", name, base, c.pid())
			return c, printed, nil
		}
		if c.exited() {
			c.stop(time.Second)
			return nil, nil, fmt.Errorf("%s serve exited: %v\n%s", name, c.err, c.tail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.stop(time.Second)
			return nil, nil, fmt.Errorf("%s serve did not answer on %s within 60s\n%s", name, base, c.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bench) serverBase() string { return b.server.base }

func (b *bench) createToken(ctx context.Context, bin string) error {
	cmd := exec.CommandContext(ctx, bin, "token", "create", "--environment", "bench", "--database-url", b.dbURL) //nolint:gosec // G204: the mcpapi binary built here or given by --mcpapi-bin
	cmd.Env = append(os.Environ(), "DATABASE_URL=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("mcpapi token create: %w\n%s", err, stderr.String())
	}
	b.token = strings.TrimSpace(string(out))
	if b.token == "" || strings.ContainsAny(b.token, " \n") {
		return fmt.Errorf("mcpapi token create printed %q, not one token", out)
	}
	return nil
}

// seed fills the fresh database with SQL, after serve has migrated it: the accounts, the
// servers (created_at one millisecond apart) and bench_ids, the row-number → key map that
// pgbench picks random servers from. The load generators read the same map.
func (b *bench) seed(ctx context.Context) error {
	o := b.opts
	start := time.Now()
	err := withConn(ctx, b.dbURL, func(conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, `SELECT e.id::text, t.user_id::text FROM environments e
			JOIN api_tokens t ON t.environment_id = e.id WHERE e.name = 'bench' LIMIT 1`).Scan(&b.envID, &b.userID); err != nil {
			return fmt.Errorf("find the bench environment: %w", err)
		}
		stmts := []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO integrated_accounts (id, environment_id, integration, tenant_id, version, created_at, updated_at)
			  SELECT gen_random_uuid(), $1::uuid, 'hubspot', 'tenant-' || g, 1, t.ts, t.ts
			  FROM generate_series(1, $2::int) AS g,
			       LATERAL (SELECT now() - interval '2 days' + g * interval '1 second' AS ts) AS t`,
				[]any{b.envID, o.accounts}},
			{`WITH a AS (SELECT id, (row_number() OVER (ORDER BY created_at, id) - 1)::int AS k
			             FROM integrated_accounts WHERE environment_id = $1::uuid)
			  INSERT INTO mcp_servers (id, environment_id, integrated_account_id, name, config, expires_at,
			                           created_by, token_hash, version, created_at, updated_at)
			  SELECT gen_random_uuid(), $1::uuid, a.id, 'server-' || g,
			         '{"methods":["list","get"],"tags":["contacts"]}'::jsonb, NULL, $2::uuid,
			         sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())), 1, t.ts, t.ts
			  FROM generate_series(1, $3::int) AS g
			  JOIN a ON a.k = g % $4::int,
			       LATERAL (SELECT now() - interval '1 day' + g * interval '1 millisecond' AS ts) AS t`,
				[]any{b.envID, b.userID, o.servers, o.accounts}},
			{`CREATE TABLE bench_ids (n int PRIMARY KEY, id uuid NOT NULL, account uuid NOT NULL)`, nil},
			{`INSERT INTO bench_ids SELECT row_number() OVER (ORDER BY id), id, integrated_account_id FROM mcp_servers`, nil},
			{`VACUUM (ANALYZE) integrated_accounts, mcp_servers, bench_ids`, nil},
		}
		for _, s := range stmts {
			if _, err := conn.Exec(ctx, s.sql, s.args...); err != nil {
				return fmt.Errorf("seed: %w\n%s", err, s.sql)
			}
		}
		rows, err := conn.Query(ctx, `SELECT id::text, account::text FROM bench_ids ORDER BY n`)
		if err != nil {
			return err
		}
		b.ids, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (seeded, error) {
			var s seeded
			return s, r.Scan(&s.id, &s.account)
		})
		return err
	})
	if err != nil {
		return err
	}
	if len(b.ids) != o.servers {
		return fmt.Errorf("seed: %d servers in bench_ids, want %d", len(b.ids), o.servers)
	}
	b.logf("seeded %d MCP servers over %d integrated accounts in %s", o.servers, o.accounts, time.Since(start).Round(time.Millisecond))
	return nil
}

func (b *bench) startFloor(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe) //nolint:gosec // G204: this very program, restarted in its floor role
	cmd.Env = append(os.Environ(),
		roleEnv+"="+roleFloor,
		floorDBEnv+"="+b.dbURL,
		floorEnvEnv+"="+b.envID,
		floorUserEnv+"="+b.userID,
		floorPoolEnv+"="+fmt.Sprint(serverPool),
	)
	if b.toolsFile != "" {
		cmd.Env = append(cmd.Env, floorUpstreamEnv+"="+b.upstream.base, floorToolsEnv+"="+b.toolsFile)
		if b.secretKey != "" {
			cmd.Env = append(cmd.Env, floorCredentialEnv+"="+upstreamCredential)
		}
	}
	c, line, err := b.startChild("floor", cmd, true)
	if err != nil {
		return err
	}
	b.floor = c
	base, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		return fmt.Errorf("floor printed %q, not its address\n%s", line, c.tail())
	}
	c.base = base
	b.logf("floor serving on %s (pid %d)", base, c.pid())
	return ctx.Err()
}
