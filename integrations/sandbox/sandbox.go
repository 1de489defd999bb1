// Package sandbox is a demo upstream for the embedded example integrations (crm, helpdesk),
// served by mcpapi itself under /sandbox/<integration>/…, so that a newcomer's tools/call
// returns data without any real API.
//
// It answers each operation of an integration's document by its shape: a collection path
// lists (filtered by query parameters that name a member, bounded by limit) and creates; an
// item path gets, replaces (PUT), merges (PATCH) and deletes; a custom action on a collection
// (POST /contacts/search) searches its records' text; one on an item (POST /tickets/{id}/close)
// merges the body and sets the item's status to the last value its document allows (solved).
// Records are JSON objects in memory, seeded from seed/<integration>.json and lost on restart.
//
// Accounts are told apart by their credential: the data set is keyed by the SHA-256 of the
// request's Authorization header (what mcpapi sends for an integrated account with a bearer
// credential), so one account never sees another's records, and the credential itself is never
// stored. A request without one answers 401. Memory is bounded: at most MaxAccounts data sets
// (the least recently used is dropped), MaxRecords records and MaxBytes of JSON per account,
// MaxBodyBytes per request.
package sandbox

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcpapi/mcpapi/integrations"
)

//go:embed seed/*.json
var seeds embed.FS

// Bounds of a sandbox.
const (
	MaxAccounts  = 256       // data sets kept; the least recently used goes first
	MaxRecords   = 500       // records per account, over all collections
	MaxBytes     = 256 << 10 // JSON bytes of records per account
	MaxBodyBytes = 64 << 10  // request body
	maxList      = 100       // records per list answer
)

// PathPrefix is where the sandbox is mounted.
const PathPrefix = "/sandbox/"

// Sandbox serves the sandbox upstreams. It is safe for concurrent use.
type Sandbox struct {
	integrations map[string]*integration
	now          func() time.Time

	mu       sync.Mutex
	accounts map[[32]byte]*account
	clock    uint64 // last-use stamps for eviction
}

type integration struct {
	in     *integrations.Integration
	seed   map[string][]map[string]any
	status []string // the values of a status member, for custom item actions
}

type account struct {
	collections map[string][]map[string]any // concrete collection path → records, in creation order
	nextID      map[string]int              // collection path → last id given
	records     int
	bytes       int
	used        uint64
}

// Names are the integrations the sandbox has seed data for.
func Names() []string {
	entries, _ := seeds.ReadDir("seed")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	return out
}

// Wire returns a copy of cat whose embedded integrations that the sandbox knows call it at
// base + "/sandbox/<name>", and the sandbox that answers them. base is the server's own
// http(s) URL; an unspecified listen address (0.0.0.0, [::]) is replaced by loopback.
func Wire(cat *integrations.Catalogue, base string) (*integrations.Catalogue, *Sandbox, error) {
	base, err := reachable(base)
	if err != nil {
		return nil, nil, err
	}
	s := &Sandbox{integrations: map[string]*integration{}, accounts: map[[32]byte]*account{}, now: time.Now}
	list := make([]*integrations.Integration, 0, len(cat.Names()))
	for _, name := range cat.Names() {
		in, _ := cat.Get(name)
		if strings.HasPrefix(in.Source, "embedded/") && slices.Contains(Names(), name) {
			data, err := seeds.ReadFile("seed/" + name + ".json")
			if err != nil {
				return nil, nil, fmt.Errorf("sandbox: %w", err)
			}
			it := &integration{}
			if err := json.Unmarshal(data, &it.seed); err != nil {
				return nil, nil, fmt.Errorf("sandbox: seed/%s.json: %w", name, err)
			}
			wired, err := in.WithBaseURL(base + PathPrefix + name)
			if err != nil {
				return nil, nil, fmt.Errorf("sandbox: %w", err)
			}
			it.in = wired
			it.status = statusValues(wired)
			s.integrations[name] = it
			in = wired
		}
		list = append(list, in)
	}
	out, err := integrations.NewCatalogue(list...)
	if err != nil {
		return nil, nil, err
	}
	return out, s, nil
}

func reachable(base string) (string, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("sandbox: base URL %q is not an absolute http(s) URL", base)
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		loop := "127.0.0.1"
		if ip.To4() == nil {
			loop = "::1"
		}
		u.Host = net.JoinHostPort(loop, u.Port())
	}
	return u.String(), nil
}

// statusValues are the enum values of a "status" member of the integration's output schemas.
func statusValues(in *integrations.Integration) []string {
	for _, t := range in.Tools {
		var s struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		}
		if t.Body != nil {
			var input struct {
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if json.Unmarshal(t.InputSchema, &input) == nil && json.Unmarshal(input.Properties[t.Body.Arg], &s) == nil {
				if e := s.Properties["status"].Enum; len(e) > 0 {
					return e
				}
			}
		}
	}
	return nil
}

// ServeHTTP answers /sandbox/<integration>/<path>.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	name, path, _ := strings.Cut(rest, "/")
	it := s.integrations[name]
	if !ok || it == nil {
		writeError(w, http.StatusNotFound, "no sandbox integration "+strconv.Quote(name))
		return
	}
	path = "/" + path
	auth := r.Header.Get("Authorization")
	if auth == "" {
		writeError(w, http.StatusUnauthorized, "the sandbox tells accounts apart by their credential: give the integrated account a bearer credential (any value)")
		return
	}
	tool, segs := it.match(r.Method, path)
	if tool == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no operation %s %s in %s", r.Method, path, name))
		return
	}
	var body map[string]any
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		data, err := readBody(w, r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, &body); err != nil {
				writeError(w, http.StatusBadRequest, "the body must be a JSON object: "+err.Error())
				return
			}
		}
	}
	key := sha256.Sum256([]byte(name + "\x00" + auth))
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := s.account(key, it)
	status, answer := s.operate(acct, it, tool, segs, r.URL.Query(), body)
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, answer)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, fmt.Errorf("the body exceeds %d bytes", MaxBodyBytes)
	}
	return buf.Bytes(), err
}

// account returns the data set of key, made from the seed when new (dropping the least
// recently used one when MaxAccounts are kept). Called with s.mu held.
func (s *Sandbox) account(key [32]byte, it *integration) *account {
	s.clock++
	if a, ok := s.accounts[key]; ok {
		a.used = s.clock
		return a
	}
	if len(s.accounts) >= MaxAccounts {
		var oldest [32]byte
		least := ^uint64(0)
		for k, a := range s.accounts {
			if a.used < least {
				oldest, least = k, a.used
			}
		}
		delete(s.accounts, oldest)
	}
	a := &account{collections: map[string][]map[string]any{}, nextID: map[string]int{}, used: s.clock}
	for coll, records := range it.seed {
		for _, rec := range records {
			cp := clone(rec)
			a.collections[coll] = append(a.collections[coll], cp)
			a.records++
			a.bytes += size(cp)
			if n, ok := numericID(cp["id"]); ok && n > a.nextID[coll] {
				a.nextID[coll] = n
			} else if s, ok := cp["id"].(string); ok {
				if i := strings.LastIndexByte(s, '_'); i >= 0 {
					if n, err := strconv.Atoi(s[i+1:]); err == nil && n > a.nextID[coll] {
						a.nextID[coll] = n
					}
				}
			}
		}
	}
	s.accounts[key] = a
	return a
}

// match finds the tool of method and path; segs are the path's segments.
func (it *integration) match(method, path string) (*integrations.Tool, []string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *integrations.Tool
	bestLiterals := -1
	for _, t := range it.in.Tools {
		if t.HTTPMethod != method {
			continue
		}
		tsegs := strings.Split(strings.Trim(t.Path, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, ts := range tsegs {
			switch {
			case strings.HasPrefix(ts, "{"):
				if segs[i] == "" {
					ok = false
				}
			case ts == segs[i]:
				literals++
			default:
				ok = false
			}
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = t, literals
		}
	}
	return best, segs
}

func (s *Sandbox) operate(a *account, it *integration, t *integrations.Tool, segs []string, q url.Values, body map[string]any) (int, any) {
	itemPath := strings.HasSuffix(t.Path, "}")
	switch {
	case itemPath: // /coll/{id}
		coll, id := "/"+strings.Join(segs[:len(segs)-1], "/"), segs[len(segs)-1]
		return s.item(a, t, coll, id, body)
	case t.Method == integrations.MethodList:
		coll := "/" + strings.Join(segs, "/")
		if len(segs) > 2 && find(a.collections["/"+strings.Join(segs[:len(segs)-2], "/")], segs[len(segs)-2]) < 0 {
			return http.StatusNotFound, msg("no such parent record")
		}
		return http.StatusOK, page(t, filter(a.collections[coll], q, t))
	case t.HTTPMethod == http.MethodPost && t.Method == integrations.MethodCreate:
		coll := "/" + strings.Join(segs, "/")
		if len(segs) > 2 && find(a.collections["/"+strings.Join(segs[:len(segs)-2], "/")], segs[len(segs)-2]) < 0 {
			return http.StatusNotFound, msg("no such parent record")
		}
		return s.create(a, coll, body)
	case len(segs) >= 3 && strings.Contains(t.Path, "}/"): // /coll/{id}/action
		coll, id := "/"+strings.Join(segs[:len(segs)-2], "/"), segs[len(segs)-2]
		i := find(a.collections[coll], id)
		if i < 0 {
			return http.StatusNotFound, msg("no record " + id)
		}
		rec := a.collections[coll][i]
		merged := clone(rec)
		for k, v := range body {
			merged[k] = v
		}
		if len(it.status) > 0 {
			merged["status"] = it.status[len(it.status)-1]
		}
		return s.replace(a, coll, i, merged)
	default: // a custom action on a collection: search
		coll := "/" + strings.Join(segs[:len(segs)-1], "/")
		return http.StatusOK, page(t, search(a.collections[coll], body))
	}
}

func (s *Sandbox) item(a *account, t *integrations.Tool, coll, id string, body map[string]any) (int, any) {
	i := find(a.collections[coll], id)
	if i < 0 {
		return http.StatusNotFound, msg("no record " + id)
	}
	rec := a.collections[coll][i]
	switch t.HTTPMethod {
	case http.MethodGet:
		return http.StatusOK, rec
	case http.MethodDelete:
		a.records--
		a.bytes -= size(rec)
		a.collections[coll] = slices.Delete(a.collections[coll], i, i+1)
		return http.StatusNoContent, nil
	case http.MethodPut:
		next := clone(body)
		next["id"] = rec["id"]
		if c, ok := rec["created_at"]; ok {
			next["created_at"] = c
		}
		return s.replace(a, coll, i, next)
	case http.MethodPatch:
		next := clone(rec)
		for k, v := range body {
			if k != "id" && k != "created_at" {
				next[k] = v
			}
		}
		return s.replace(a, coll, i, next)
	}
	return http.StatusMethodNotAllowed, msg("not supported by the sandbox")
}

func (s *Sandbox) create(a *account, coll string, body map[string]any) (int, any) {
	if body == nil {
		return http.StatusBadRequest, msg("a JSON object body is required")
	}
	rec := clone(body)
	a.nextID[coll]++
	n := a.nextID[coll]
	numeric := false
	for _, r := range a.collections[coll] {
		_, numeric = numericID(r["id"])
		break
	}
	if numeric || (len(a.collections[coll]) == 0 && strings.Contains(coll, "/") && isNumericCollection(a, coll)) {
		rec["id"] = n
	} else {
		last := coll[strings.LastIndexByte(coll, '/')+1:]
		rec["id"] = fmt.Sprintf("%s_%d", last[:min(3, len(last))], n)
	}
	if hasMember(a.collections[coll], "created_at") || len(a.collections[coll]) == 0 {
		rec["created_at"] = s.now().UTC().Format(time.RFC3339)
	}
	sz := size(rec)
	if a.records+1 > MaxRecords || a.bytes+sz > MaxBytes {
		return http.StatusConflict, msg(fmt.Sprintf("the sandbox keeps at most %d records and %d bytes per account: delete some first", MaxRecords, MaxBytes))
	}
	a.records++
	a.bytes += sz
	a.collections[coll] = append(a.collections[coll], rec)
	return http.StatusCreated, rec
}

// isNumericCollection: a new nested collection (/tickets/4/comments) takes the id kind of
// its siblings (/tickets/1/comments).
func isNumericCollection(a *account, coll string) bool {
	last := coll[strings.LastIndexByte(coll, '/'):]
	for c, recs := range a.collections {
		if strings.HasSuffix(c, last) && len(recs) > 0 {
			_, ok := numericID(recs[0]["id"])
			return ok
		}
	}
	return false
}

func (s *Sandbox) replace(a *account, coll string, i int, next map[string]any) (int, any) {
	old := a.collections[coll][i]
	if a.bytes-size(old)+size(next) > MaxBytes {
		return http.StatusConflict, msg(fmt.Sprintf("the sandbox keeps at most %d bytes per account", MaxBytes))
	}
	a.bytes += size(next) - size(old)
	a.collections[coll][i] = next
	return http.StatusOK, next
}

// page answers a list in the shape of the operation's output: an array, or {"data": […],
// "next_cursor": null}.
func page(t *integrations.Tool, records []map[string]any) any {
	if records == nil {
		records = []map[string]any{}
	}
	if t.OutputWrapped {
		return records
	}
	return map[string]any{"data": records, "next_cursor": nil}
}

// filter keeps the records whose members equal the query parameters that name members; limit
// bounds the answer.
func filter(records []map[string]any, q url.Values, t *integrations.Tool) []map[string]any {
	limit := maxList
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n < limit {
		limit = n
	}
	out := []map[string]any{}
	for _, r := range records {
		keep := true
		for k, vs := range q {
			if v, ok := r[k]; ok && len(vs) > 0 && !slices.Contains(strings.Split(vs[0], ","), fmt.Sprint(v)) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, r)
			if len(out) == limit {
				break
			}
		}
	}
	return out
}

// search keeps the records whose string members contain body.query (case-insensitive).
func search(records []map[string]any, body map[string]any) []map[string]any {
	query, _ := body["query"].(string)
	query = strings.ToLower(query)
	limit := maxList
	if n, ok := body["limit"].(float64); ok && n > 0 && int(n) < limit {
		limit = int(n)
	}
	out := []map[string]any{}
	for _, r := range records {
		for _, v := range r {
			if s, ok := v.(string); ok && strings.Contains(strings.ToLower(s), query) {
				out = append(out, r)
				break
			}
		}
		if len(out) == limit {
			break
		}
	}
	return out
}

func find(records []map[string]any, id string) int {
	for i, r := range records {
		if fmt.Sprint(r["id"]) == id {
			return i
		}
	}
	return -1
}

func hasMember(records []map[string]any, name string) bool {
	for _, r := range records {
		_, ok := r[name]
		return ok
	}
	return false
}

func numericID(v any) (int, bool) {
	if n, ok := v.(int); ok {
		return n, true
	}
	f, ok := v.(float64)
	if !ok || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func size(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

func msg(s string) map[string]any { return map[string]any{"message": s} }

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, msg(message))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may be gone; nothing else to do
}
