package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// findPgbench locates pgbench: the --pgbench flag, PATH, then the Debian/Ubuntu location.
func findPgbench(ctx context.Context, flagValue string) (path, version, note string) {
	if flagValue == "off" {
		return "", "", "pgbench skipped (--pgbench off): the pgbench columns show -"
	}
	candidates := []string{flagValue}
	if flagValue == "" {
		candidates = []string{"pgbench"}
		more, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
		slices.Reverse(more) // newest major version first
		candidates = append(candidates, more...)
	}
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, p, "--version").Output() //nolint:gosec // G204: running the pgbench the user chose (--pgbench) or PATH has is the point
		if err != nil {
			continue
		}
		return p, strings.TrimSpace(string(out)), ""
	}
	return "", "", "pgbench not found (apt-get install postgresql-client, or --pgbench PATH): the pgbench columns show -"
}

// pgbenchColumns are the columns every statement returns, as the server's and the floor's do.
const pgbenchColumns = `m.id, m.integrated_account_id, m.name, m.config, m.expires_at, m.created_by, m.version, m.created_at, m.updated_at`

// pgbenchScripts are the statements of each operation: the floor's (and the server's) single
// statement, with the random server's keys looked up from bench_ids in the same statement
// (pgbench has no string variables). PATCH alternates name and tags at random, half each.
func pgbenchScripts(op string, servers int) map[string]string {
	pick := fmt.Sprintf("\\set n random(1, %d)\n\\set v random(1, 1000000000000)\n", servers)
	switch op {
	case "patch":
		return map[string]string{
			"patch-name": pick + `UPDATE mcp_servers AS m SET name = 'pgbench-' || :v::text, version = m.version + 1, updated_at = now()
  FROM bench_ids AS b
  WHERE b.n = :n AND m.id = b.id AND m.integrated_account_id = b.account AND m.environment_id = :env
    AND m.name IS DISTINCT FROM 'pgbench-' || :v::text
  RETURNING ` + pgbenchColumns + ";\n",
			"patch-tags": pick + `UPDATE mcp_servers AS m SET config = m.config || jsonb_build_object('tags', jsonb_build_array('t' || :v::text)),
    version = m.version + 1, updated_at = now()
  FROM bench_ids AS b
  WHERE b.n = :n AND m.id = b.id AND m.integrated_account_id = b.account AND m.environment_id = :env
    AND m.config -> 'tags' IS DISTINCT FROM jsonb_build_array('t' || :v::text)
  RETURNING ` + pgbenchColumns + ";\n",
		}
	case "get":
		return map[string]string{"get": pick + `SELECT ` + pgbenchColumns + `
  FROM mcp_servers AS m JOIN bench_ids AS b ON m.id = b.id AND m.integrated_account_id = b.account
  WHERE b.n = :n AND m.environment_id = :env;
`}
	case "list":
		return map[string]string{"list": pick + `SELECT ` + pgbenchColumns + `
  FROM mcp_servers AS m
  WHERE m.environment_id = :env AND m.integrated_account_id = (SELECT account FROM bench_ids WHERE n = :n)
  ORDER BY m.created_at, m.id LIMIT 21;
`}
	case "create":
		return map[string]string{"create": pick + `INSERT INTO mcp_servers AS m (id, environment_id, integrated_account_id, name, config, expires_at,
    created_by, token_hash, version, created_at, updated_at)
  VALUES (gen_random_uuid(), :env, (SELECT account FROM bench_ids WHERE n = :n), 'pgbench-' || :v::text,
    '{"methods":["list","get"]}', NULL, :user, sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())),
    1, now(), now())
  RETURNING ` + pgbenchColumns + ";\n"}
	}
	return nil
}

var (
	reTPS    = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	reFailed = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
	reTx     = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
)

// runPgbench runs pgbench -M prepared with the operation's scripts on clients connections
// for d (whole seconds, at least one), or for txPerClient transactions each when > 0, and
// reads its per-transaction log for the latency percentiles.
func (b *bench) runPgbench(ctx context.Context, op string, clients int, d time.Duration, txPerClient int) (result, error) {
	dir, err := os.MkdirTemp(b.tmp, "pgbench-")
	if err != nil {
		return result{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }() // best effort: cleanup removes all of b.tmp anyway
	args := []string{"-M", "prepared", "-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(2, clients)),
		"-D", "env=" + b.envID, "-D", "user=" + b.userID, "-l", "--log-prefix", filepath.Join(dir, "log")}
	if txPerClient > 0 {
		args = append(args, "-t", strconv.Itoa(txPerClient))
	} else {
		args = append(args, "-T", strconv.Itoa(max(1, int(math.Round(d.Seconds())))))
	}
	names := make([]string, 0, 2)
	for name := range pgbenchScripts(op, b.opts.servers) {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		file := filepath.Join(dir, name+".sql")
		if err := os.WriteFile(file, []byte(pgbenchScripts(op, b.opts.servers)[name]), 0o600); err != nil {
			return result{}, err
		}
		args = append(args, "-f", file+"@1")
	}
	args = append(args, b.dbURL)
	cctx, cancel := context.WithTimeout(ctx, d+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, b.pgbench, args...) //nolint:gosec // G204: pgbench found by findPgbench, with arguments built here
	cmd.Dir = dir
	setChildAttrs(cmd)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		if ctx.Err() != nil {
			return result{}, ctx.Err()
		}
		return result{}, fmt.Errorf("pgbench %s: %w\n%s", op, err, text)
	}
	m := reTPS.FindStringSubmatch(text)
	if m == nil {
		return result{}, fmt.Errorf("pgbench %s: no tps in its output\n%s", op, text)
	}
	tps, _ := strconv.ParseFloat(m[1], 64)
	r := result{cpu: -1}
	if m := reFailed.FindStringSubmatch(text); m != nil {
		r.errors, _ = strconv.Atoi(m[1])
	}
	if r.lat, err = readPgbenchLogs(dir); err != nil {
		return result{}, err
	}
	r.requests = len(r.lat)
	if m := reTx.FindStringSubmatch(text); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if tps > 0 {
		r.elapsed = time.Duration(float64(r.requests) / tps * float64(time.Second))
	}
	if r.errors > 0 {
		r.firstErr = "pgbench: " + strings.TrimSpace(text)
	}
	return r, nil
}

// readPgbenchLogs collects the latencies (third field, µs) of every logged transaction.
func readPgbenchLogs(dir string) ([]time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(dir, "log.*"))
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	for _, name := range files {
		f, err := os.Open(name) //nolint:gosec // G304: a log file pgbench wrote into our own temporary directory
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseInt(fields[2], 10, 64) // "failed"/"skipped" are not numbers
			if err != nil {
				continue
			}
			lat = append(lat, time.Duration(us)*time.Microsecond)
		}
		if err := errors.Join(sc.Err(), f.Close()); err != nil {
			return nil, err
		}
	}
	slices.Sort(lat)
	return lat, nil
}
