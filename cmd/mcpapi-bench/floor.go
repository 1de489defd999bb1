package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The floor runs as a child process of the benchmark (the same executable, selected by
// roleEnv), so that it has its own CPUs' worth of scheduling and its CPU time is measurable
// like the server's.
const (
	roleEnv      = "MCPAPI_BENCH_ROLE"
	roleFloor    = "floor"
	floorDBEnv   = "MCPAPI_BENCH_FLOOR_DATABASE_URL"
	floorEnvEnv  = "MCPAPI_BENCH_FLOOR_ENVIRONMENT"
	floorUserEnv = "MCPAPI_BENCH_FLOOR_USER"
	floorPoolEnv = "MCPAPI_BENCH_FLOOR_POOL"
)

// The floor's statements: what mcpapi's store runs for each operation, one statement per
// request, bound with pgx's prepared-statement cache (pgbench -M prepared does the same).
const (
	floorColumns = `id, integrated_account_id, name, config, expires_at, created_by, version, created_at, updated_at`

	floorPatchName = `UPDATE mcp_servers SET name = $1, version = version + 1, updated_at = now()
		WHERE id = $2 AND integrated_account_id = $3 AND environment_id = $4 AND name IS DISTINCT FROM $1
		RETURNING ` + floorColumns
	floorPatchTags = `UPDATE mcp_servers SET config = config || jsonb_build_object('tags', $1::jsonb),
		version = version + 1, updated_at = now()
		WHERE id = $2 AND integrated_account_id = $3 AND environment_id = $4 AND config -> 'tags' IS DISTINCT FROM $1::jsonb
		RETURNING ` + floorColumns
	floorGet = `SELECT ` + floorColumns + ` FROM mcp_servers
		WHERE id = $1 AND integrated_account_id = $2 AND environment_id = $3`
	floorList = `SELECT ` + floorColumns + ` FROM mcp_servers
		WHERE environment_id = $1 AND integrated_account_id = $2 ORDER BY created_at, id LIMIT $3`
	floorCreate = `INSERT INTO mcp_servers (id, environment_id, integrated_account_id, name, config, expires_at,
		created_by, token_hash, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, 1, now(), now()) RETURNING ` + floorColumns
)

type floorServer struct {
	pool *pgxpool.Pool
	env  uuid.UUID
	user uuid.UUID
}

// floorRow is an MCP server as the API shows it.
type floorRow struct {
	ID                  uuid.UUID       `json:"id"`
	IntegratedAccountID uuid.UUID       `json:"integrated_account_id"`
	Name                string          `json:"name"`
	Config              json.RawMessage `json:"config"`
	ExpiresAt           *time.Time      `json:"expires_at"`
	CreatedBy           uuid.UUID       `json:"created_by"`
	Version             int64           `json:"-"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
	Token               string          `json:"token,omitempty"`
	URL                 string          `json:"url,omitempty"`
}

func scanFloorRow(r pgx.Row) (floorRow, error) {
	var m floorRow
	var cfg []byte
	err := r.Scan(&m.ID, &m.IntegratedAccountID, &m.Name, &cfg, &m.ExpiresAt, &m.CreatedBy, &m.Version, &m.CreatedAt, &m.UpdatedAt)
	m.Config = cfg
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, err
}

func runFloor(ctx context.Context) error {
	env, err1 := uuid.Parse(os.Getenv(floorEnvEnv))
	user, err2 := uuid.Parse(os.Getenv(floorUserEnv))
	size, err3 := strconv.ParseInt(os.Getenv(floorPoolEnv), 10, 32) // pgxpool counts in int32
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("bad environment: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv(floorDBEnv))
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(size)
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	f := &floorServer{pool: pool, env: env, user: user}
	mux := http.NewServeMux()
	mux.HandleFunc("PATCH /integrated-account/{account}/mcp/{id}", f.patch)
	mux.HandleFunc("GET /integrated-account/{account}/mcp/{id}", f.get)
	mux.HandleFunc("GET /integrated-account/{account}/mcp", f.list)
	mux.HandleFunc("POST /integrated-account/{account}/mcp", f.create)
	if os.Getenv(floorUpstreamEnv) != "" {
		mf, err := newMCPFloor(pool, floorUpstreamConns)
		if err != nil {
			return err
		}
		mux.HandleFunc("POST /mcp/{token}", mf.serve)
	}
	return serveChild(ctx, mux)
}

func (f *floorServer) keys(w http.ResponseWriter, r *http.Request, withID bool) (account, id uuid.UUID, ok bool) {
	account, err := uuid.Parse(r.PathValue("account"))
	if err == nil && withID {
		id, err = uuid.Parse(r.PathValue("id"))
	}
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return account, id, false
	}
	return account, id, true
}

func (f *floorServer) patch(w http.ResponseWriter, r *http.Request) {
	account, id, ok := f.keys(w, r, true)
	if !ok {
		return
	}
	var body struct {
		Name   *string `json:"name"`
		Config *struct {
			Tags []string `json:"tags"`
		} `json:"config"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	var row pgx.Row
	switch {
	case body.Name != nil:
		row = f.pool.QueryRow(r.Context(), floorPatchName, *body.Name, id, account, f.env)
	case body.Config != nil && body.Config.Tags != nil:
		tags, _ := json.Marshal(body.Config.Tags)
		row = f.pool.QueryRow(r.Context(), floorPatchTags, string(tags), id, account, f.env)
	default:
		http.Error(w, "empty patch", http.StatusBadRequest)
		return
	}
	m, err := scanFloorRow(row)
	writeFloor(w, http.StatusOK, m, err)
}

func (f *floorServer) get(w http.ResponseWriter, r *http.Request) {
	account, id, ok := f.keys(w, r, true)
	if !ok {
		return
	}
	m, err := scanFloorRow(f.pool.QueryRow(r.Context(), floorGet, id, account, f.env))
	writeFloor(w, http.StatusOK, m, err)
}

func (f *floorServer) list(w http.ResponseWriter, r *http.Request) {
	account, _, ok := f.keys(w, r, false)
	if !ok {
		return
	}
	limit := 20
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			http.Error(w, "bad limit", http.StatusBadRequest)
			return
		}
		limit = n
	}
	rows, err := f.pool.Query(r.Context(), floorList, f.env, account, limit+1)
	var items []floorRow
	if err == nil {
		items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (floorRow, error) { return scanFloorRow(r) })
	}
	out := struct {
		Result     []floorRow `json:"result"`
		NextCursor *string    `json:"next_cursor"`
	}{Result: items}
	if len(items) > limit {
		last := items[limit-1]
		c := base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.Format(time.RFC3339Nano) + "|" + last.ID.String()))
		out.Result, out.NextCursor = items[:limit], &c
	}
	writeFloor(w, http.StatusOK, out, err)
}

func (f *floorServer) create(w http.ResponseWriter, r *http.Request) {
	account, _, ok := f.keys(w, r, false)
	if !ok {
		return
	}
	var body struct {
		Name   string          `json:"name"`
		Config json.RawMessage `json:"config"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil || body.Name == "" {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if len(body.Config) == 0 {
		body.Config = json.RawMessage(`{}`)
	}
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	token := "mcp_" + base64.RawURLEncoding.EncodeToString(secret[:])
	hash := sha256.Sum256([]byte(token))
	m, err := scanFloorRow(f.pool.QueryRow(r.Context(), floorCreate,
		uuid.New(), f.env, account, body.Name, string(body.Config), f.user, hash[:]))
	m.Token, m.URL = token, "http://"+r.Host+"/mcp/"+token
	if err == nil {
		w.Header().Set("Location", "/integrated-account/"+account.String()+"/mcp/"+m.ID.String())
	}
	writeFloor(w, http.StatusCreated, m, err)
}

func writeFloor(w http.ResponseWriter, status int, v any, err error) {
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		http.Error(w, "not found", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
