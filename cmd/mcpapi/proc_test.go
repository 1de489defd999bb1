package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real binary, built once per test run for the tests that start it as a child process
// (connection limits under a lowered open-file limit, the gateway test).
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func mcpapiBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpapi-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "mcpapi")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput() //nolint:gosec // G204: the go tool, into a temp dir of ours
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// child is one `mcpapi serve` process.
type child struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port[/base-path], from its start-up line
	logs *syncBuffer
}

// startChild starts the binary with args (after "serve"), under `prefix` (e.g. prlimit …) when
// given, and waits for its start-up line. It is stopped by PID (SIGTERM, then SIGKILL) when the
// test ends.
func startChild(t *testing.T, prefix []string, env []string, args ...string) *child {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), mcpapiBinary(t), "serve"), args...)
	cmd := exec.Command(argv[0], argv[1:]...) //nolint:gosec // G204: the binary just built, with the test's arguments
	cmd.Env = append(os.Environ(), env...)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, logs: logs}
	t.Cleanup(func() { c.stop(t) })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "mcpapi serving on "); ok && !sent {
				base, _, _ := strings.Cut(rest, " ")
				found <- base
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case c.base = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("mcpapi did not start within 30s:\n%s", logs.String())
	}
	return c
}

func (c *child) stop(t *testing.T) {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }() // stopped by us: its exit status says nothing
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	if t.Failed() {
		t.Logf("mcpapi (pid %d) log:\n%s", c.cmd.Process.Pid, c.logs.String())
	}
}

// rssKB is the child's resident set size (Linux /proc), in KiB.
func (c *child) rssKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			_, _ = fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// waitLog waits up to 5 s for the child's log to contain s (stderr is copied asynchronously).
func (c *child) waitLog(s string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(c.logs.String(), s) {
			return true
		}
	}
	return false
}
