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
// the server, then the floor, then pgbench, so that drift and noise hit all three alike.
func (b *bench) measure(ctx context.Context) error {
	o := b.opts
	b.results = map[resultKey][]result{}
	b.loadBefore = loadAverage()
	b.logf("measuring %d windows × 3 targets of %s (+%s warm-up): about %s",
		o.reps*len(o.ops)*len(o.concurrency), o.duration, o.warmup, o.estimate().Round(time.Second))
	for rep := 1; rep <= o.reps; rep++ {
		for _, op := range o.ops {
			for _, c := range o.concurrency {
				for _, t := range []struct {
					name string
					base string
					proc *child
				}{{targetServer, b.serverBase(), b.server}, {targetFloor, b.floorBase(), b.floor}} {
					if t.proc.exited() {
						return fmt.Errorf("%s exited: %v\n%s", t.name, t.proc.err, t.proc.tail())
					}
					if t.name == targetServer {
						_ = os.Truncate(t.proc.logPath, 0) // request logs of past windows
					}
					g := newLoadGen(t.base, b.token, op, c, b.ids, &b.counter)
					if o.warmup > 0 {
						if _, err := g.run(ctx, o.warmup, 0); err != nil {
							g.close()
							return err
						}
					}
					r, err := g.run(ctx, o.duration, t.proc.pid())
					g.close()
					if err != nil {
						return err
					}
					b.record(rep, op, c, t.name, r)
				}
				if b.pgbench == "" {
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

func (b *bench) record(rep int, op string, c int, target string, r result) {
	k := resultKey{op, c, target}
	b.results[k] = append(b.results[k], r)
	cpu := ""
	if v := r.cpuPerRequest(); v >= 0 {
		cpu = fmt.Sprintf(", %.0f µs CPU/req", v)
	}
	b.logf("rep %d/%d %-6s c=%-3d %-7s %8.0f req/s  p50 %s  p99 %s  errors %d%s",
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
}

func (b *bench) summarize(k resultKey) summary {
	rs := b.results[k]
	if len(rs) == 0 {
		return summary{cpu: -1}
	}
	var rps, p50, p99, cpu []float64
	s := summary{ok: true}
	for _, r := range rs {
		rps = append(rps, r.rps())
		p50 = append(p50, float64(r.percentile(0.5).Microseconds())/1000)
		p99 = append(p99, float64(r.percentile(0.99).Microseconds())/1000)
		if v := r.cpuPerRequest(); v >= 0 {
			cpu = append(cpu, v)
		}
		s.errors += r.errors
	}
	s.rps, s.p50, s.p99 = median(rps), median(p50), median(p99)
	s.cpu = -1
	if len(cpu) == len(rs) {
		s.cpu = median(cpu)
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

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rows := &stickyWriter{w: tw} // tw fails only when w does, and w keeps that error
	rows.printf("operation\tconcurrency\ttarget\treq/s\tp50\tp99\terrors\t× floor\t× pgbench\tCPU µs/req\t\n")
	for _, op := range o.ops {
		for _, c := range o.concurrency {
			floor := b.summarize(resultKey{op, c, targetFloor})
			pg := b.summarize(resultKey{op, c, targetPgbench})
			for _, t := range []string{targetServer, targetFloor, targetPgbench} {
				s := b.summarize(resultKey{op, c, t})
				if !s.ok {
					rows.printf("%s\t%d\t%s\t-\t-\t-\t-\t-\t-\t-\t\n", strings.ToUpper(op), c, t)
					continue
				}
				vsFloor, vsPg, cpu := "-", "-", "-"
				if floor.ok && floor.rps > 0 && t != targetFloor && t != targetPgbench {
					vsFloor = fmt.Sprintf("%.2f", s.rps/floor.rps)
				}
				if pg.ok && pg.rps > 0 && t != targetPgbench {
					vsPg = fmt.Sprintf("%.2f", s.rps/pg.rps)
				}
				if s.cpu >= 0 {
					cpu = fmt.Sprintf("%.0f", s.cpu)
				}
				rows.printf("%s\t%d\t%s\t%.0f\t%.2f ms\t%.2f ms\t%d\t%s\t%s\t%s\t\n",
					strings.ToUpper(op), c, t, s.rps, s.p50, s.p99, s.errors, vsFloor, vsPg, cpu)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	w.printf("\n× floor, × pgbench: req/s divided by theirs. CPU µs/req: user+system CPU of that process (mcpapi serve, the floor) per request, from /proc at %s resolution.\n", clockTick)
	if b.pgbenchNote != "" {
		w.printf("%s\n", b.pgbenchNote)
	}
	if b.server != nil {
		if rss, ok := peakRSS(b.server.pid()); ok {
			w.printf("mcpapi serve peak RSS (VmHWM) over the whole run: %.1f MB\n", float64(rss)/(1<<20))
		}
	}
	w.printf("command: %s\n", o.command())
	return w.err
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
