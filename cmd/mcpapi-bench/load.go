package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// result is one measured window of one target.
type result struct {
	requests int
	errors   int
	firstErr string
	elapsed  time.Duration
	lat      []time.Duration // sorted
	cpu      time.Duration   // CPU time the target process used in the window; -1 if unknown

	// MCP rows only.
	upCPU   time.Duration // CPU time the upstream used in the window; -1 if unknown
	upConns int64         // connections the upstream accepted during warm-up and window; -1 if unknown
	mem     *memSample    // the memory row's
}

func (r result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

func (r result) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*p+0.999999) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

// cpuPerRequest is µs of target CPU per request, or -1.
func (r result) cpuPerRequest() float64 {
	if r.cpu < 0 || r.requests == 0 {
		return -1
	}
	return float64(r.cpu.Microseconds()) / float64(r.requests)
}

// loadGen drives one HTTP target: conc goroutines, each sending one request at a time to a
// random seeded server, over one shared transport with a keep-alive connection per goroutine.
type loadGen struct {
	base    string
	token   string
	op      string
	conc    int
	ids     []seeded
	counter interface{ Add(int64) int64 }
	client  *http.Client

	// MCP rows: each request is mcp, sent to a random one of mcpPaths; its answer must pass check.
	mcpPaths []string
	mcp      mcpRequest
	check    *mcpCheck
}

// mcpRequest is the JSON-RPC request an MCP row sends: tools/list, or tools/call of tool
// with args (a JSON object).
type mcpRequest struct{ method, tool, args string }

func (m mcpRequest) body(id int) []byte {
	if m.method == "tools/list" {
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, id)
	}
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, m.tool, m.args)
}

// maxMCPAnswer bounds what the load generator reads of one MCP answer.
const maxMCPAnswer = 64 << 20

// newMCPLoadGen drives an MCP target: POST base+path (a random one of paths) with req, each
// answer checked against check.
func newMCPLoadGen(base string, conc int, paths []string, req mcpRequest, check mcpCheck) *loadGen {
	g := newLoadGen(base, "", req.method, conc, nil, nil)
	g.mcpPaths, g.mcp, g.check = paths, req, &check
	return g
}

// once sends one request of an MCP load generator and returns the answer, checked.
func (g *loadGen) once(ctx context.Context) ([]byte, error) {
	req, err := g.request(ctx, rand.New(rand.NewPCG(1, 2)), 0) //nolint:gosec // G404: picks a path; nothing secret
	if err != nil {
		return nil, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }() // read below; nothing to do about a close error
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMCPAnswer))
	if err != nil {
		return nil, err
	}
	return body, g.check.check(resp.StatusCode, resp.Header.Get("Content-Type"), body, 1)
}

func newLoadGen(base, token, op string, conc int, ids []seeded, counter interface{ Add(int64) int64 }) *loadGen {
	tr := &http.Transport{
		MaxIdleConns:        conc * 2,
		MaxIdleConnsPerHost: conc * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &loadGen{base: base, token: token, op: op, conc: conc, ids: ids, counter: counter,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (g *loadGen) close() { g.client.CloseIdleConnections() }

// request builds the k-th request of a goroutine.
func (g *loadGen) request(ctx context.Context, rng *rand.Rand, k int) (*http.Request, error) {
	if g.check != nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+g.mcpPaths[rng.IntN(len(g.mcpPaths))],
			bytes.NewReader(g.mcp.body(k+1)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", mcpProtocolVersion)
		return req, nil
	}
	s := g.ids[rng.IntN(len(g.ids))]
	var (
		method = http.MethodGet
		path   string
		body   []byte
	)
	switch g.op {
	case "patch":
		method, path = http.MethodPatch, "/integrated-account/"+s.account+"/mcp/"+s.id
		v := strconv.FormatInt(g.counter.Add(1), 10)
		if k%2 == 0 {
			body = []byte(`{"name":"bench-` + v + `"}`)
		} else {
			body = []byte(`{"config":{"tags":["t` + v + `"]}}`)
		}
	case "get":
		path = "/integrated-account/" + s.account + "/mcp/" + s.id
	case "list":
		path = "/integrated-account/" + s.account + "/mcp?limit=20"
	case "create":
		method, path = http.MethodPost, "/integrated-account/"+s.account+"/mcp"
		v := strconv.FormatInt(g.counter.Add(1), 10)
		body = []byte(`{"name":"created-` + v + `","config":{"methods":["list","get"]}}`)
	default:
		return nil, fmt.Errorf("unknown operation %q", g.op)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// run sends requests for d and measures them; pid's CPU time is read around the window when
// pid > 0.
func (g *loadGen) run(ctx context.Context, d time.Duration, pid int) (result, error) {
	type worker struct {
		ref      answerRef // MCP rows: the answer later ones are compared with
		lat      []time.Duration
		errors   int
		firstErr string
		err      error
	}
	workers := make([]worker, g.conc)
	var wg sync.WaitGroup
	cpu0, cpuOK := cpuTime(pid)
	start := time.Now()
	end := start.Add(d)
	for i := range workers {
		wg.Add(1)
		go func(w *worker, seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(start.UnixNano()))) //nolint:gosec // G404: picks which seeded server to hit; nothing secret
			w.lat = make([]time.Duration, 0, 1024)
			buf := make([]byte, 32<<10)
			for k := 0; ctx.Err() == nil; k++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				req, err := g.request(ctx, rng, k)
				if err != nil {
					w.err = err
					return
				}
				resp, err := g.client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					w.errors++
					if w.firstErr == "" {
						w.firstErr = err.Error()
					}
					continue
				}
				if g.check != nil {
					body, err := io.ReadAll(io.LimitReader(resp.Body, maxMCPAnswer))
					_ = resp.Body.Close() // read to its end or to the error that ended it
					w.lat = append(w.lat, time.Since(t0))
					if err == nil {
						err = g.check.verify(&w.ref, resp.StatusCode, resp.Header.Get("Content-Type"), body, k+1)
					}
					if err != nil {
						w.errors++
						if w.firstErr == "" {
							w.firstErr = fmt.Sprintf("%s %s: %v", g.mcp.method, g.mcp.tool, err)
						}
					}
					continue
				}
				var sample []byte
				if resp.StatusCode/100 != 2 && w.firstErr == "" {
					sample, _ = io.ReadAll(io.LimitReader(resp.Body, 300))
				}
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				_ = resp.Body.Close() // drained above; a read error already ended the loop
				w.lat = append(w.lat, time.Since(t0))
				if resp.StatusCode/100 != 2 {
					w.errors++
					if w.firstErr == "" {
						w.firstErr = fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(sample))
					}
				}
			}
		}(&workers[i], uint64(i)+1)
	}
	wg.Wait()
	r := result{elapsed: time.Since(start), cpu: -1, upCPU: -1, upConns: -1}
	if cpu1, ok := cpuTime(pid); ok && cpuOK && pid > 0 {
		r.cpu = cpu1 - cpu0
	}
	for _, w := range workers {
		if w.err != nil {
			return r, w.err
		}
		r.lat = append(r.lat, w.lat...)
		r.errors += w.errors
		if r.firstErr == "" {
			r.firstErr = w.firstErr
		}
	}
	r.requests = len(r.lat)
	slices.Sort(r.lat)
	return r, ctx.Err()
}
