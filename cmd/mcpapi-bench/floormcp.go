package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The MCP gateway floor, served by the floor process at POST /mcp/{token} when the benchmark
// measures MCP rows: the least a gateway does for a tool call. It hashes the token (SHA-256, as
// store.HashSecret), finds the MCP server and its account with one pgx query on the same tables
// mcpapi uses, forwards tools/call of the benchmark's GET to the upstream with a pooled
// keep-alive client, and wraps the body in a JSON-RPC result; tools/list answers the list
// mcpapi gave for the same integration, prebuilt. No SDK, no schema validation, no logs.
const (
	floorUpstreamEnv   = "MCPAPI_BENCH_FLOOR_UPSTREAM"
	floorToolsEnv      = "MCPAPI_BENCH_FLOOR_TOOLS"
	floorCredentialEnv = "MCPAPI_BENCH_FLOOR_CREDENTIAL" //nolint:gosec // G101: the name of a variable, not a credential

	floorResolve = `SELECT m.id, m.config, m.expires_at, a.integration FROM mcp_servers m
		JOIN integrated_accounts a ON a.id = m.integrated_account_id AND a.environment_id = m.environment_id
		WHERE m.token_hash = $1`
)

type mcpFloor struct {
	pool       *pgxpool.Pool
	upstream   string
	credential string
	client     *http.Client
	listTail   []byte // `,"result":{"tools":[…]}}` after the id
}

// floorUpstreamConns is the floor's upstream pool: idle keep-alive connections kept, enough for
// any --concurrency the benchmark is likely run at (each client has one call in flight).
const floorUpstreamConns = 256

func newMCPFloor(pool *pgxpool.Pool, concurrency int) (*mcpFloor, error) {
	tools, err := os.ReadFile(os.Getenv(floorToolsEnv)) //nolint:gosec // G703: a file the benchmark (our parent) wrote
	if err != nil {
		return nil, err
	}
	if !json.Valid(tools) {
		return nil, errors.New(floorToolsEnv + ": not JSON")
	}
	tail := append([]byte(`,"result":{"tools":`), tools...)
	tail = append(tail, "}}\n"...)
	tr := &http.Transport{
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &mcpFloor{
		pool:       pool,
		upstream:   os.Getenv(floorUpstreamEnv),
		credential: os.Getenv(floorCredentialEnv),
		client:     &http.Client{Transport: tr, Timeout: 30 * time.Second},
		listTail:   tail,
	}, nil
}

type floorRPC struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  struct {
		Name      string `json:"name"`
		Arguments struct {
			ID string `json:"id"`
		} `json:"arguments"`
	} `json:"params"`
}

type floorContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type floorCallResult struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  struct {
		Content []floorContent `json:"content"`
		IsError bool           `json:"isError,omitempty"`
	} `json:"result"`
}

func (f *mcpFloor) serve(w http.ResponseWriter, r *http.Request) {
	var req floorRPC
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.JSONRPC != "2.0" || len(req.ID) == 0 {
		http.Error(w, "bad JSON-RPC request", http.StatusBadRequest)
		return
	}
	hash := sha256.Sum256([]byte(r.PathValue("token")))
	var (
		id          [16]byte
		cfg         []byte
		expires     *time.Time
		integration string
	)
	err := f.pool.QueryRow(r.Context(), floorResolve, hash[:]).Scan(&id, &cfg, &expires, &integration)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && expires != nil && !time.Now().Before(*expires)):
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch req.Method {
	case "tools/list":
		out := make([]byte, 0, len(f.listTail)+64)
		out = append(out, `{"jsonrpc":"2.0","id":`...)
		out = append(out, req.ID...)
		out = append(out, f.listTail...)
		_, _ = w.Write(out)
	case "tools/call":
		res := floorCallResult{JSONRPC: "2.0", ID: req.ID}
		text, err := f.call(r.Context(), req.Params.Name, req.Params.Arguments.ID)
		if err != nil {
			text, res.Result.IsError = err.Error(), true
		}
		res.Result.Content = []floorContent{{Type: "text", Text: text}}
		_ = json.NewEncoder(w).Encode(res)
	default:
		_, _ = w.Write(append(append([]byte(`{"jsonrpc":"2.0","id":`), req.ID...), `,"error":{"code":-32601,"message":"method not found"}}`...))
	}
}

// call forwards the benchmark's tools/call: get_res00 → GET /res00/{id}, get_blob → GET /blob.
func (f *mcpFloor) call(ctx context.Context, tool, id string) (string, error) {
	var path string
	switch tool {
	case callTool:
		if id == "" {
			return "", errors.New("missing id")
		}
		path = "/res00/" + url.PathEscape(id)
	case blobTool:
		path = upstreamBlobPath
	default:
		return "", errors.New("unknown tool " + tool)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.upstream+path, nil)
	if err != nil {
		return "", err
	}
	if f.credential != "" {
		req.Header.Set("Authorization", "Bearer "+f.credential)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }() // read below; nothing to do about a close error
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", errors.New("upstream answered " + strconv.Itoa(resp.StatusCode) + ": " + string(bytes.TrimSpace(body)))
	}
	return string(body), nil
}
