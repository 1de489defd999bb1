package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// underNofile runs the child with its open-file limit lowered to n (soft and hard), as
// `ulimit -n` does, so the connection cap is computed from the limit a small host would have.
func underNofile(n int) []string {
	return []string{"bash", "-c", fmt.Sprintf(`ulimit -n %d && exec "$@"`, n), "mcpapi"}
}

// dialFrom opens a TCP connection to addr from a given loopback source address.
func dialFrom(src, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return d.Dial("tcp", addr)
}

// clientFrom is an HTTP client whose connections come from src.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 20 * time.Second}
}

// holdIdle opens n connections from 127.0.0.1 and keeps them open, sending nothing, until the
// test ends. It returns how many the dial accepted.
func holdIdle(t *testing.T, addr string, n int) int {
	t.Helper()
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range n {
		c, err := dialFrom("127.0.0.1", addr)
		if err != nil {
			break // the backlog is full: enough pressure
		}
		conns = append(conns, c)
	}
	return len(conns)
}

// TestIdleConnectionsCannotStarveOthers: with `ulimit -n 1024`, 1,100 idle connections from
// 127.0.0.1 do not keep a request from 127.0.0.2 from being answered within 1 s, because one
// address may hold at most --max-conns-per-ip (64) connections. The same flood with the
// per-address cap off fills the global cap (which keeps the process clear of EMFILE) and the
// other client waits until the idle ones time out: that half shows the first half can fail.
func TestIdleConnectionsCannotStarveOthers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: the whole 127.0.0.0/8 on loopback, and ulimit")
	}
	for _, tc := range []struct {
		name    string
		perIP   string
		within1 bool
	}{
		{"capped per address", "64", true},
		{"no per-address cap", "0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := "sqlite://" + filepath.Join(t.TempDir(), "db", "mcpapi.db")
			c := startChild(t, underNofile(1024), nil, "--addr", "127.0.0.1:0", "--database-url", db,
				"--max-conns-per-ip", tc.perIP, "--read-header-timeout", "3s", "--log-format", "text")
			if !c.waitLog("at most 348 open (open-file limit 1024)") {
				t.Fatalf("the start-up log does not state the cap for ulimit -n 1024:\n%s", c.logs.String())
			}
			addr := strings.TrimPrefix(c.base, "http://")
			t0 := time.Now()
			held := holdIdle(t, addr, 1100)
			t.Logf("%d idle connections open from 127.0.0.1 (%v)", held, time.Since(t0))
			time.Sleep(200 * time.Millisecond) // let the server accept (and refuse) them
			start := time.Now()
			res, err := clientFrom("127.0.0.2").Get(c.base + "/healthz")
			took := time.Since(start)
			if err != nil {
				t.Fatalf("request from 127.0.0.2: %v after %v", err, took)
			}
			_ = res.Body.Close()
			t.Logf("request from 127.0.0.2: %d after %v", res.StatusCode, took)
			if res.StatusCode != http.StatusOK {
				t.Errorf("status %d", res.StatusCode)
			}
			if tc.within1 && took > time.Second {
				t.Errorf("answered after %v, want within 1s", took)
			}
			if !tc.within1 && took < time.Second {
				t.Errorf("answered after %v although 1,100 idle connections should have filled the global cap", took)
			}
			if strings.Contains(c.logs.String(), "too many open files") {
				t.Error("the server ran out of file descriptors")
			}
		})
	}
}

// TestUnfinishedHugeHeadersAreBounded: 300 connections (from 5 loopback addresses, within the
// per-address cap) each sending 1 MB of a header that never ends: every one is answered 431 once
// it passes --max-header-bytes (64 KiB), and the server's RSS grows by a bounded amount (it
// grew by ~300 MB with 1 MiB headers allowed).
func TestUnfinishedHugeHeadersAreBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: the whole 127.0.0.0/8 on loopback, and /proc")
	}
	db := "sqlite://" + filepath.Join(t.TempDir(), "mcpapi.db")
	c := startChild(t, nil, nil, "--addr", "127.0.0.1:0", "--database-url", db, "--log-format", "text")
	addr := strings.TrimPrefix(c.base, "http://")
	before := c.rssKB(t)
	const conns, size = 300, 1 << 20
	pad := strings.Repeat("a", 32<<10)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[string]int{}
		peak     = before
	)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
				if r := c.rssKB(t); r > peak {
					peak = r
				}
			}
		}
	}()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialFrom(fmt.Sprintf("127.0.0.%d", 10+i%5), addr)
			if err != nil {
				mu.Lock()
				statuses["dial error"]++
				mu.Unlock()
				return
			}
			defer func() { _ = conn.Close() }()
			_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
			go func() {
				if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "); err != nil {
					return
				}
				for sent := 0; sent < size; sent += len(pad) {
					if _, err := io.WriteString(conn, pad); err != nil {
						return // the server answered and closed
					}
				}
			}()
			line, err := bufio.NewReader(conn).ReadString('\n')
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses["no answer: "+err.Error()]++
				return
			}
			statuses[strings.TrimSpace(line)]++
		}()
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	growthMB := float64(peak-before) / 1024
	t.Logf("RSS %d KiB before, peak %d KiB (+%.1f MB); answers: %v", before, peak, growthMB, statuses)
	if statuses["HTTP/1.1 431 Request Header Fields Too Large"] != conns {
		t.Errorf("want %d × 431, got %v", conns, statuses)
	}
	// 300 × (64 KiB + the reader's 4 KiB) is ~20 MB of buffers; 128 MB leaves room for the
	// goroutines and the GC's slack (GOGC=100 lets the heap reach twice the live data) while
	// catching a bound that does not hold (~300 MB more at 1 MiB).
	if growthMB > 128 {
		t.Errorf("RSS grew by %.1f MB", growthMB)
	}
}
