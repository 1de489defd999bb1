package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
)

// The upstream is the loopback API the MCP rows' tool calls reach: a child process of the
// benchmark (the same executable in the upstream role), so that its CPU time is measured from
// /proc like the other targets'. It counts the TCP connections it accepts, which shows whether
// a caller reuses its connections.
const (
	roleUpstream     = "upstream"
	upstreamBlobEnv  = "MCPAPI_BENCH_UPSTREAM_BLOB_BYTES"
	upstreamBlobPath = "/blob"
	// upstreamAuthEnv, when set, is the Authorization header every API call must carry (else 401).
	upstreamAuthEnv = "MCPAPI_BENCH_UPSTREAM_AUTHORIZATION"
)

// upstreamRecord is the small JSON object (about 100 bytes) every GET but /blob answers: what
// a CRM returns for one record. The MCP answers must carry it back verbatim.
const upstreamRecord = `{"id":"42","name":"Ada Lovelace","email":"ada@example.com","updated_at":"2024-01-01T00:00:00Z","active":true}`

// blobBody is a JSON object of exactly n bytes (n ≥ 64): an array of small records padded with
// spaces, the shape that costs the most to decode into generic values.
func blobBody(n int) []byte {
	var b bytes.Buffer
	b.Grow(n)
	b.WriteString(`{"items":[`)
	const tail = `]}`
	for i := 0; ; i++ {
		rec := fmt.Sprintf(`{"id":%d,"name":"record %d","ok":true}`, i, i)
		sep := 0
		if i > 0 {
			sep = 1
		}
		if b.Len()+sep+len(rec)+len(tail) > n {
			break
		}
		if sep == 1 {
			b.WriteByte(',')
		}
		b.WriteString(rec)
	}
	b.WriteString(tail)
	// Pad inside the array with insignificant white space up to n bytes.
	out := b.Bytes()
	pad := n - len(out)
	if pad > 0 {
		out = append(out[:len(out)-len(tail)], append(bytes.Repeat([]byte{' '}, pad), tail...)...)
	}
	return out
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// runUpstream serves the API on one listener and its connection count on another (so that
// asking for the count adds no connection to it), and prints both addresses on one line.
func runUpstream(ctx context.Context) error {
	blobSize, err := strconv.Atoi(os.Getenv(upstreamBlobEnv))
	if err != nil || blobSize < 64 {
		return fmt.Errorf("bad %s %q", upstreamBlobEnv, os.Getenv(upstreamBlobEnv))
	}
	blob := blobBody(blobSize)
	record := []byte(upstreamRecord)
	auth := os.Getenv(upstreamAuthEnv)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth != "" && r.Header.Get("Authorization") != auth {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		body := record
		if r.URL.Path == upstreamBlobPath {
			body = blob
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ln := &countingListener{Listener: inner}
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	control := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int64{"accepted": ln.accepted.Load()})
	})
	return serveChildren(ctx, childListener{ln: ln, handler: api}, childListener{name: "control", ln: cln, handler: control})
}
