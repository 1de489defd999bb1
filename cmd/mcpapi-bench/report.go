package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

const (
	targetServer  = "mcpapi"
	targetFloor   = "floor"
	targetPgbench = "pgbench"
)

type resultKey struct {
	op     string
	conc   int
	target string
}

// measure runs every window, interleaved: for each repetition, operation and concurrency,
// the server, then the floor, then pgbench (REST rows) or the SDK alone (MCP rows), so that
// drift and noise hit all targets alike. The memory row runs once per repetition, at
// memConcurrency.
func (b *bench) measure(ctx context.Context) error {
	o := b.opts
	b.results = map[resultKey][]result{}
	b.loadBefore = loadAverage()
	b.logf("measuring %s of windows (+%s warm-up each): about %s",
		o.duration, o.warmup, o.estimate().Round(time.Second))
	for rep := 1; rep <= o.reps; rep++ {
		for _, op := range o.ops {
			if op == opMCPMem {
				r, err := b.measureMem(ctx)
				if err != nil {
					return err
				}
				b.record(rep, op, memConcurrency, targetServer, r)
				continue
			}
			for _, c := range o.concurrency {
				for _, t := range b.targets(op) {
					if t.proc.exited() {
						return fmt.Errorf("%s exited: %v\n%s", t.name, t.proc.err, t.proc.tail())
					}
					if t.name == targetServer || t.name == targetNoLog {
						_ = os.Truncate(t.proc.logPath, 0) // request logs of past windows
					}
					r, err := b.window(ctx, op, c, t)
					if err != nil {
						return err
					}
					b.record(rep, op, c, t.name, r)
				}
				if b.pgbench == "" || isMCPOp(op) {
					continue
				}
				clients := min(c, serverPool)
				if o.warmup >= time.Second && o.pgbenchTxQuick == 0 {
					if _, err := b.runPgbench(ctx, op, clients, o.warmup, 0); err != nil {
						return err
					}
				}
				r, err := b.runPgbench(ctx, op, clients, o.duration, o.pgbenchTxQuick)
				if err != nil {
					return err
				}
				b.record(rep, op, c, targetPgbench, r)
			}
		}
	}
	return nil
}

type target struct {
	name string
	proc *child
}

// targets are the HTTP targets of an operation, in the order they are measured.
func (b *bench) targets(op string) []target {
	if op == opMCPCallNoLog {
		if b.noLog == nil {
			return nil // serve has no --mcp-call-log (noLogNote says so)
		}
		return []target{{targetServer, b.server}, {targetNoLog, b.noLog}}
	}
	ts := []target{{targetServer, b.server}, {targetFloor, b.floor}}
	if isMCPOp(op) {
		ts = append(ts, target{targetSDK, b.sdk})
	}
	return ts
}

// loadGen is the load generator of one target of one operation at concurrency c.
func (b *bench) loadGen(op string, c int, t target) *loadGen {
	if !isMCPOp(op) {
		return newLoadGen(t.proc.base, b.token, op, c, b.ids, &b.counter)
	}
	paths := make([]string, len(b.mcpTokens))
	for i, tok := range b.mcpTokens {
		paths[i] = "/mcp/" + tok
	}
	call := mcpRequest{method: "tools/call", tool: callTool, args: callArgs}
	switch {
	case op == opMCPList && t.name == targetSDK:
		return newMCPLoadGen(t.proc.base, c, []string{sdkPathAll}, mcpRequest{method: "tools/list"}, mcpCheck{method: "tools/list", tools: benchTools})
	case op == opMCPList:
		return newMCPLoadGen(t.proc.base, c, paths, mcpRequest{method: "tools/list"}, mcpCheck{method: "tools/list", tools: benchTools})
	case op == opMCPMem:
		return newMCPLoadGen(t.proc.base, c, paths, mcpRequest{method: "tools/call", tool: blobTool, args: "{}"},
			mcpCheck{method: "tools/call", textLen: b.upstreamLimit})
	case t.name == targetSDK:
		call.tool = sdkToolName
		return newMCPLoadGen(t.proc.base, c, []string{sdkPathOne}, call, mcpCheck{method: "tools/call", text: upstreamRecord})
	default:
		return newMCPLoadGen(t.proc.base, c, paths, call, mcpCheck{method: "tools/call", text: upstreamRecord})
	}
}

// window measures one target: warm-up, then the measured window; for MCP rows also the
// upstream's CPU time in the window and the connections it accepted from warm-up on.
func (b *bench) window(ctx context.Context, op string, c int, t target) (result, error) {
	o := b.opts
	g := b.loadGen(op, c, t)
	defer g.close()
	var conns0 int64 = -1
	if isMCPOp(op) {
		conns0 = b.upstreamAccepted(ctx)
	}
	if o.warmup > 0 {
		if _, err := g.run(ctx, o.warmup, 0); err != nil {
			return result{}, err
		}
	}
	up0, upOK := time.Duration(0), false
	if isMCPOp(op) {
		up0, upOK = cpuTime(b.upstream.pid())
	}
	r, err := g.run(ctx, o.duration, t.proc.pid())
	if err != nil {
		return r, err
	}
	if isMCPOp(op) {
		if up1, ok := cpuTime(b.upstream.pid()); ok && upOK {
			r.upCPU = up1 - up0
		}
		if conns1 := b.upstreamAccepted(ctx); conns0 >= 0 && conns1 >= 0 {
			r.upConns = conns1 - conns0
		}
	}
	return r, nil
}

// memSample is the memory row's reading of mcpapi's resident set.
type memSample struct {
	idle      int64 // VmRSS just before the window
	peak      int64 // the largest VmRSS sampled during it
	hwm       int64 // VmHWM after it
	hwmWindow bool  // VmHWM was reset before the window (else it covers the process's life)
	bound     int64 // memConcurrency × 4 × the upstream limit
}

// above is the growth over idle: the larger of the sampled peak and VmHWM (when that covers
// the window only).
func (m memSample) above() int64 {
	top := m.peak
	if m.hwmWindow {
		top = max(top, m.hwm)
	}
	return top - m.idle
}

// memSampleEvery is how often VmRSS is read during the memory row.
const memSampleEvery = 5 * time.Millisecond

// measureMem runs memConcurrency concurrent tools/call of the upstream's /blob (an answer the
// size of mcpapi's upstream limit) for --duration, reading mcpapi's VmRSS every few
// milliseconds, and its VmHWM (reset just before) at the end.
func (b *bench) measureMem(ctx context.Context) (result, error) {
	pid := b.server.pid()
	if b.server.exited() {
		return result{}, fmt.Errorf("mcpapi exited: %v\n%s", b.server.err, b.server.tail())
	}
	_ = os.Truncate(b.server.logPath, 0)
	waitIdle(ctx)
	m := &memSample{bound: int64(memConcurrency) * 4 * int64(b.upstreamLimit)}
	m.idle, _ = currentRSS(pid)
	if v, ok := peakRSS(pid); ok {
		b.serverHWM = max(b.serverHWM, v) // the whole run's peak, before the reset below
	}
	m.hwmWindow = resetPeakRSS(pid) == nil
	stop := make(chan struct{})
	done := make(chan int64)
	go func() {
		peak := m.idle
		t := time.NewTicker(memSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
				if v, ok := currentRSS(pid); ok && v > peak {
					peak = v
				}
			}
		}
	}()
	conns0 := b.upstreamAccepted(ctx)
	g := b.loadGen(opMCPMem, memConcurrency, target{targetServer, b.server})
	r, err := g.run(ctx, b.opts.memWindow(), pid)
	g.close()
	close(stop)
	m.peak = <-done
	if v, ok := peakRSS(pid); ok {
		m.hwm = v
	}
	if conns1 := b.upstreamAccepted(ctx); conns0 >= 0 && conns1 >= 0 {
		r.upConns = conns1 - conns0
	}
	r.mem = m
	return r, err
}

func (b *bench) record(rep int, op string, c int, target string, r result) {
	k := resultKey{op, c, target}
	b.results[k] = append(b.results[k], r)
	cpu := ""
	if v := r.cpuPerRequest(); v >= 0 {
		cpu = fmt.Sprintf(", %.0f µs CPU/req", v)
	}
	if isMCPOp(op) && target != targetSDK && r.requests > 0 && r.upCPU >= 0 {
		cpu += fmt.Sprintf(", upstream %.0f µs CPU/call", float64(r.upCPU.Microseconds())/float64(r.requests))
	}
	if isMCPOp(op) && target != targetSDK && r.upConns >= 0 {
		cpu += fmt.Sprintf(", %d new upstream connections", r.upConns)
	}
	if m := r.mem; m != nil {
		cpu += fmt.Sprintf(", RSS idle %s peak %s VmHWM %s", mb(m.idle), mb(m.peak), mb(m.hwm))
	}
	b.logf("rep %d/%d %-8s c=%-3d %-7s %8.0f req/s  p50 %s  p99 %s  errors %d%s",
		rep, b.opts.reps, op, c, target, r.rps(), ms(r.percentile(0.5)), ms(r.percentile(0.99)), r.errors, cpu)
	if r.firstErr != "" {
		b.logf("  first error: %s", truncate(r.firstErr, 400))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summary is the median over the repetitions of one target in one window.
type summary struct {
	ok            bool
	rps, p50, p99 float64 // p50 and p99 in ms
	cpu           float64 // µs per request, -1 unknown
	errors        int
	upCPU         float64 // MCP rows: upstream CPU µs per call, -1 unknown
	upConns       float64 // MCP rows: connections the upstream accepted, -1 unknown
}

func (b *bench) summarize(k resultKey) summary {
	rs := b.results[k]
	if len(rs) == 0 {
		return summary{cpu: -1}
	}
	var rps, p50, p99, cpu, upCPU, upConns []float64
	s := summary{ok: true}
	for _, r := range rs {
		if r.upCPU >= 0 && r.requests > 0 {
			upCPU = append(upCPU, float64(r.upCPU.Microseconds())/float64(r.requests))
		}
		if r.upConns >= 0 {
			upConns = append(upConns, float64(r.upConns))
		}
		rps = append(rps, r.rps())
		p50 = append(p50, float64(r.percentile(0.5).Microseconds())/1000)
		p99 = append(p99, float64(r.percentile(0.99).Microseconds())/1000)
		if v := r.cpuPerRequest(); v >= 0 {
			cpu = append(cpu, v)
		}
		s.errors += r.errors
	}
	s.rps, s.p50, s.p99 = median(rps), median(p50), median(p99)
	s.cpu, s.upCPU, s.upConns = -1, -1, -1
	if len(cpu) == len(rs) {
		s.cpu = median(cpu)
	}
	if len(upCPU) == len(rs) {
		s.upCPU = median(upCPU)
	}
	if len(upConns) == len(rs) {
		s.upConns = median(upConns)
	}
	return s
}

// report prints the one table: per operation and concurrency, mcpapi, the floor and pgbench,
// each with its ratio to the floor and to pgbench, and the target process's CPU per request.
func (b *bench) report() error {
	o := b.opts
	w := &stickyWriter{w: b.stdout}
	w.printf("\nmcpapi-bench: medians of %d repetition(s); %s measured after %s warm-up per window\n", o.reps, o.duration, o.warmup)
	w.printf("PostgreSQL %s; %d MCP servers over %d integrated accounts; pool %d connections (pgbench: min(concurrency, %d) clients)\n",
		b.pgVersion, o.servers, o.accounts, serverPool, serverPool)
	pgb := b.pgbenchVersion
	if pgb == "" {
		pgb = "pgbench: none"
	}
	rev := b.gitRev
	if rev == "" {
		rev = "prebuilt binary"
	}
	w.printf("%s/%s, %d CPUs, %s; mcpapi %s; %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), rev, pgb)
	w.printf("server: %s\n", strings.Join(b.serveArgs, " "))
	if b.loadBefore != "" {
		w.printf("load average before measuring: %s (anything else busy on this machine skews every column)\n", b.loadBefore)
	}
	w.printf("\n")

	if err := b.restTable(w); err != nil {
		return err
	}
	if err := b.mcpTable(w); err != nil {
		return err
	}
	if err := b.callLogTable(w); err != nil {
		return err
	}
	if err := b.memTable(w); err != nil {
		return err
	}
	if b.pgbenchNote != "" {
		w.printf("%s\n", b.pgbenchNote)
	}
	if b.server != nil {
		if rss, ok := peakRSS(b.server.pid()); ok {
			w.printf("mcpapi serve peak RSS (VmHWM) over the whole run: %.1f MB\n", float64(max(rss, b.serverHWM))/(1<<20))
		}
	}
	w.printf("command: %s\n", o.command())
	return w.err
}

// restTable is the REST rows: per operation and concurrency, mcpapi, the floor and pgbench,
// each with its ratio to the floor and to pgbench, and the target process's CPU per request.
func (b *bench) restTable(w *stickyWriter) error {
	o := b.opts
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rows := &stickyWriter{w: tw} // tw fails only when w does, and w keeps that error
	header := false
	for _, op := range o.ops {
		if isMCPOp(op) {
			continue
		}
		if !header {
			rows.printf("operation\tconcurrency\ttarget\treq/s\tp50\tp99\terrors\t× floor\t× pgbench\tCPU µs/req\t\n")
			header = true
		}
		for _, c := range o.concurrency {
			floor := b.summarize(resultKey{op, c, targetFloor})
			pg := b.summarize(resultKey{op, c, targetPgbench})
			for _, t := range []string{targetServer, targetFloor, targetPgbench} {
				s := b.summarize(resultKey{op, c, t})
				if !s.ok {
					rows.printf("%s\t%d\t%s\t-\t-\t-\t-\t-\t-\t-\t\n", strings.ToUpper(op), c, t)
					continue
				}
				vsFloor, vsPg := "-", "-"
				if floor.ok && floor.rps > 0 && t != targetFloor && t != targetPgbench {
					vsFloor = fmt.Sprintf("%.2f", s.rps/floor.rps)
				}
				if pg.ok && pg.rps > 0 && t != targetPgbench {
					vsPg = fmt.Sprintf("%.2f", s.rps/pg.rps)
				}
				rows.printf("%s\t%d\t%s\t%.0f\t%.2f ms\t%.2f ms\t%d\t%s\t%s\t%s\t\n",
					strings.ToUpper(op), c, t, s.rps, s.p50, s.p99, s.errors, vsFloor, vsPg, num(s.cpu))
			}
		}
	}
	if !header {
		return w.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	w.printf("\n× floor, × pgbench: req/s divided by theirs. CPU µs/req: user+system CPU of that process (mcpapi serve, the floor) per request, from /proc at %s resolution.\n\n", clockTick)
	return w.err
}

// mcpTable is the MCP rows: tools/call and tools/list per concurrency on mcpapi, the floor and
// the SDK alone, with ratios to the floor and the SDK, each process's CPU per call, the
// upstream's CPU per call and the connections it accepted.
func (b *bench) mcpTable(w *stickyWriter) error {
	o := b.opts
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rows := &stickyWriter{w: tw}
	header := false
	for _, op := range o.ops {
		if op != opMCPCall && op != opMCPList {
			continue
		}
		if !header {
			rows.printf("operation\tconcurrency\ttarget\treq/s\tp50\tp99\terrors\t× floor\t× sdk\tCPU µs/call\tupstream CPU µs/call\tupstream conns\t\n")
			header = true
		}
		for _, c := range o.concurrency {
			floor := b.summarize(resultKey{op, c, targetFloor})
			sdk := b.summarize(resultKey{op, c, targetSDK})
			for _, t := range []string{targetServer, targetFloor, targetSDK} {
				s := b.summarize(resultKey{op, c, t})
				if !s.ok {
					rows.printf("%s\t%d\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", strings.ToUpper(op), c, t)
					continue
				}
				vsFloor, vsSDK := "-", "-"
				if floor.ok && floor.rps > 0 && t != targetFloor {
					vsFloor = fmt.Sprintf("%.2f", s.rps/floor.rps)
				}
				if sdk.ok && sdk.rps > 0 && t != targetSDK {
					vsSDK = fmt.Sprintf("%.2f", s.rps/sdk.rps)
				}
				upCPU, upConns := num(s.upCPU), num(s.upConns)
				if op == opMCPList || t == targetSDK {
					upCPU, upConns = "-", "-" // no upstream call
				}
				rows.printf("%s\t%d\t%s\t%.0f\t%.2f ms\t%.2f ms\t%d\t%s\t%s\t%s\t%s\t%s\t\n",
					strings.ToUpper(op), c, t, s.rps, s.p50, s.p99, s.errors, vsFloor, vsSDK, num(s.cpu), upCPU, upConns)
			}
		}
	}
	if !header {
		return w.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	w.printf("\nMCP: POST /mcp/<token> (mcpapi, floor; %d tokens of %d MCP servers) or /mcp/one, /mcp/all (sdk), Mcp-Protocol-Version %s, stateless;\n"+
		"MCP-CALL calls %s {\"id\":\"42\"} (sdk: its one trivial tool), MCP-LIST lists the %d tools of the generated integration. Every answer is checked\n"+
		"(a JSON-RPC result, no error, the upstream's record as text / %d tools); errors counts the others. × floor, × sdk: req/s divided by theirs.\n"+
		"upstream CPU µs/call: the upstream process's CPU per call of that target; upstream conns: TCP connections it accepted from the warm-up on (reuse keeps it at most the concurrency).\n\n",
		len(b.mcpTokens), len(b.mcpTokens), mcpProtocolVersion, callTool, benchTools, benchTools)
	if slices.Contains(o.ops, opMCPCall) {
		for _, c := range o.concurrency {
			if line := b.dataPlaneTargets(c); line != "" {
				w.printf("%s\n", line)
			}
		}
		w.printf("\n")
	}
	return w.err
}

// dataPlaneTargets measures MCP-CALL at concurrency c against the data plane's targets (stated
// for c=32): speed, req/s ≥ 0.8 × the SDK alone's, p99 ≤ 3 × the floor's, upstream CPU per
// call ≤ 1.5 × the floor's, CPU per call ≤ the SDK alone's + 150 µs; overhead, req/s ≥ 0.6 ×
// the floor's.
func (b *bench) dataPlaneTargets(c int) string {
	m := b.summarize(resultKey{opMCPCall, c, targetServer})
	f := b.summarize(resultKey{opMCPCall, c, targetFloor})
	s := b.summarize(resultKey{opMCPCall, c, targetSDK})
	if !m.ok || !f.ok || !s.ok || s.rps <= 0 || f.rps <= 0 || f.p99 <= 0 {
		return ""
	}
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	parts := []string{
		fmt.Sprintf("req/s %.2f × sdk (≥ 0.8: %s)", m.rps/s.rps, mark(m.rps >= 0.8*s.rps)),
		fmt.Sprintf("p99 %.1f × floor (≤ 3: %s)", m.p99/f.p99, mark(m.p99 <= 3*f.p99)),
	}
	if m.upCPU >= 0 && f.upCPU > 0 {
		parts = append(parts, fmt.Sprintf("upstream CPU %.1f × floor's (≤ 1.5: %s)", m.upCPU/f.upCPU, mark(m.upCPU <= 1.5*f.upCPU)))
	}
	if m.cpu >= 0 && s.cpu >= 0 {
		parts = append(parts, fmt.Sprintf("CPU %.0f µs vs sdk %.0f + 150 (%s)", m.cpu, s.cpu, mark(m.cpu <= s.cpu+150)))
	}
	parts = append(parts, fmt.Sprintf("overhead: req/s %.2f × floor (≥ 0.6: %s)", m.rps/f.rps, mark(m.rps >= 0.6*f.rps)))
	return fmt.Sprintf("data-plane targets at c=%d (stated for c=32): speed: %s", c, strings.Join(parts, "; "))
}

// memTable is the memory row: the repetition that grew mcpapi's resident set the most.
func (b *bench) memTable(w *stickyWriter) error {
	rs := b.results[resultKey{opMCPMem, memConcurrency, targetServer}]
	if len(rs) == 0 {
		return w.err
	}
	worst := rs[0]
	for _, r := range rs[1:] {
		if r.mem != nil && (worst.mem == nil || r.mem.above() > worst.mem.above()) {
			worst = r
		}
	}
	m := worst.mem
	if m == nil || m.idle == 0 {
		w.printf("MCP-MEM: mcpapi's RSS is unknown off Linux\n\n")
		return w.err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rows := &stickyWriter{w: tw}
	verdict := "within"
	if m.above() > m.bound {
		verdict = "OVER"
	}
	hwm := mb(m.hwm)
	if !m.hwmWindow {
		hwm += " (life)"
	}
	rows.printf("operation\tconcurrency\ttarget\treq/s\tp50\tp99\terrors\tidle RSS\tpeak RSS\tVmHWM\tabove idle\tbound\tvs bound\t\n")
	rows.printf("%s\t%d\t%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
		strings.ToUpper(opMCPMem), memConcurrency, targetServer, worst.rps(), ms(worst.percentile(0.5)), ms(worst.percentile(0.99)),
		worst.errors, mb(m.idle), mb(m.peak), hwm, mb(m.above()), mb(m.bound), verdict)
	if err := tw.Flush(); err != nil {
		return err
	}
	limit := fmt.Sprintf("--max-upstream-response %d", b.upstreamLimit)
	if !b.limitFlag {
		limit = fmt.Sprintf("%d bytes (serve has no --max-upstream-response flag)", b.upstreamLimit)
	}
	w.printf("\nMCP-MEM: %d concurrent tools/call of %s, whose answer is a JSON object of exactly the upstream limit, %s, for %s;\n"+
		"RSS of mcpapi serve: idle (VmRSS before), peak (VmRSS every %s), VmHWM (reset before the window); above idle = max(peak, VmHWM) − idle,\n"+
		"against the bound %d × 4 × the limit; the worst of %d repetition(s). Each answer is checked (the text is the whole body).\n\n",
		memConcurrency, blobTool, limit, b.opts.memWindow(), memSampleEvery, memConcurrency, len(rs))
	return w.err
}

// num formats a non-negative measure, "-" for unknown.
func num(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

// stickyWriter keeps the first error of its writes and then writes nothing more, so that the
// report checks its output once, at the end, instead of after every line.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// printf writes like fmt.Fprintf; an error stays in s.err.
func (s *stickyWriter) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(s, format, args...)
}

// loadAverage is the 1-, 5- and 15-minute load average, or "" off Linux.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// pairedRatio is the median over repetitions of on's req/s over off's in the same repetition:
// the two windows of a repetition run back to back, so drifts of the machine between
// repetitions (which move both) cancel out, as they do not in a ratio of two medians.
func pairedRatio(on, off []result) (float64, bool) {
	var ratios []float64
	for i := range min(len(on), len(off)) {
		if o := off[i].rps(); o > 0 {
			ratios = append(ratios, on[i].rps()/o)
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	return median(ratios), true
}

// callLogTableTarget is the logging bound: tools/call throughput with the call log on is at
// least this fraction of its throughput with it off.
const callLogTableTarget = 0.9

// callLogTable is the call-log row: per concurrency, tools/call on mcpapi (call log on) and on
// the second server started with --mcp-call-log=false, and the ratio on/off against its
// target.
func (b *bench) callLogTable(w *stickyWriter) error {
	if !slices.Contains(b.opts.ops, opMCPCallNoLog) {
		return w.err
	}
	if b.noLogNote != "" {
		w.printf("%s\n\n", b.noLogNote)
		return w.err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rows := &stickyWriter{w: tw}
	rows.printf("operation\tconcurrency\ttarget\treq/s\tp50\tp99\terrors\tCPU µs/call\ton ÷ off\ttarget\t\n")
	op := strings.ToUpper(opMCPCallNoLog)
	for _, c := range b.opts.concurrency {
		on := b.summarize(resultKey{opMCPCallNoLog, c, targetServer})
		off := b.summarize(resultKey{opMCPCallNoLog, c, targetNoLog})
		for _, t := range []struct {
			name string
			s    summary
		}{{targetServer, on}, {targetNoLog, off}} {
			if !t.s.ok {
				rows.printf("%s\t%d\t%s\t-\t-\t-\t-\t-\t-\t-\t\n", op, c, t.name)
				continue
			}
			ratio, verdict := "-", "-"
			if r, ok := pairedRatio(b.results[resultKey{opMCPCallNoLog, c, targetServer}],
				b.results[resultKey{opMCPCallNoLog, c, targetNoLog}]); t.name == targetServer && ok {
				ratio = fmt.Sprintf("%.2f", r)
				verdict = fmt.Sprintf("≥ %.1f: NOT met", callLogTableTarget)
				if r >= callLogTableTarget {
					verdict = fmt.Sprintf("≥ %.1f: met", callLogTableTarget)
				}
			}
			rows.printf("%s\t%d\t%s\t%.0f\t%.2f ms\t%.2f ms\t%d\t%s\t%s\t%s\t\n",
				op, c, t.name, t.s.rps, t.s.p50, t.s.p99, t.s.errors, num(t.s.cpu), ratio, verdict)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	w.printf("\nMCP-CALL-NOLOG: the tools/call of MCP-CALL on mcpapi (call log on, the default) and on %s, a second mcpapi serve with the same\n"+
		"flags plus --mcp-call-log=false on the same database, tokens and upstream, interleaved; on ÷ off: the median over repetitions of req/s with the log over req/s without in the same repetition\n"+
		"(target: ≥ %.1f). Every answer is checked as in MCP-CALL.\n\n", targetNoLog, callLogTableTarget)
	return w.err
}
