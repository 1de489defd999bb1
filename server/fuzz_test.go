package server_test

// Fuzz targets for the request paths that take a body: PATCH and create of an MCP server, and
// create of an integrated account. Each runs the whole handler (server.New: every middleware,
// the validator, the strict handler and the store) in-process over HTTP, on a migrated SQLite
// file of its own, and holds every answer to these properties:
//
//   - no 5xx, whatever the body, the Content-Type, the path ids and the extra headers;
//   - every response is what openapi.yaml documents (servertest.ValidatingTransport.Check);
//   - a 4xx changes nothing: the resource reads back byte for byte the same (PATCH), no row is
//     created (creates);
//   - a 200 to a PATCH leaves the resource equal to the RFC 7396 merge of the body into the old
//     resource, after the documented normalisation (lists lower-cased and de-duplicated in
//     first-seen order, `config: null` = `{}`, expiry compared as an instant at microsecond
//     precision), `updated_at` never moves back, and moves (with the ETag) exactly when
//     something changed; the response equals the resource as read back; sending the same patch
//     again is a no-op;
//   - a 201 to a create holds exactly what was sent (normalised), and reads back the same;
//     with an Idempotency-Key, a retry is replayed without token and url and creates nothing,
//     and the same key with another body answers 422.
//
// `go test` runs the seeds below; `go test -run '^$' -fuzz '^FuzzPatchMcpServer$' ./server/`
// fuzzes (make fuzz runs every target in turn).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/server"
	"github.com/mcpapi/mcpapi/server/servertest"
	"github.com/mcpapi/mcpapi/store"
)

// fuzzEnv is one server on one SQLite file, set up once per fuzz target and process (every
// fuzz worker is a process of its own and sets up its own).
type fuzzEnv struct {
	ctx     context.Context
	st      *store.Store
	handler http.Handler
	check   *servertest.ValidatingTransport
	token   string
	env     uuid.UUID
	user    uuid.UUID
	account uuid.UUID // an integrated account that MCP servers are created under
	seq     atomic.Int64
}

const (
	fuzzPublicURL = "http://127.0.0.1"
	// fuzzMaxBody is the largest body the spec takes: 413 is "larger than 64 KiB".
	fuzzMaxBody = 64 << 10
)

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	user := uuid.New()
	token, hash := store.NewSecret("mcpapi_")
	tok, err := st.CreateAPIToken(ctx, "fuzz", user, hash)
	if err != nil {
		f.Fatal(err)
	}
	acc, err := st.CreateIntegratedAccount(ctx, tok.EnvironmentID, store.NewIntegratedAccount{Integration: "crm"})
	if err != nil {
		f.Fatal(err)
	}
	h, err := server.New(st, server.Config{
		PublicURL:    fuzzPublicURL,
		AuthCacheTTL: time.Minute,
		SecretKey:    base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), // credentials can be set
		Logger:       slog.New(slog.DiscardHandler),
		// The model of these targets predicts configs as sent, [] included: the allow-something
		// rule and the 60 s expiry rule are tested in cmd/mcpapi.
		DisableAIReadyCheck: true,
	})
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzEnv{ctx: ctx, st: st, handler: h, check: servertest.NewValidatingTransport(f, nil),
		token: token, env: tok.EnvironmentID, user: user, account: acc.ID}
}

// fuzzExchange is one request sent and its answer.
type fuzzExchange struct {
	method, path string
	header       http.Header
	body         []byte
	status       int
	respHeader   http.Header
	resp         []byte
}

// String is a reproduction of the exchange, for failure messages.
func (x *fuzzExchange) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", x.method, x.path)
	for _, k := range slices.Sorted(maps.Keys(x.header)) {
		if k == "Authorization" {
			continue
		}
		fmt.Fprintf(&b, "\n  %s: %q", k, x.header.Get(k))
	}
	fmt.Fprintf(&b, "\n  body (%d bytes): %s", len(x.body), fuzzClip(x.body))
	fmt.Fprintf(&b, "\n→ %d", x.status)
	for _, k := range []string{"Etag", "Location", "Idempotent-Replayed"} {
		if v := x.respHeader.Get(k); v != "" {
			fmt.Fprintf(&b, " %s: %s", k, v)
		}
	}
	fmt.Fprintf(&b, "\n  %s", fuzzClip(x.resp))
	return b.String()
}

func fuzzClip(b []byte) string {
	if len(b) > 400 {
		return fmt.Sprintf("%q…", b[:400])
	}
	return fmt.Sprintf("%q", b)
}

// do sends one request through the whole handler and holds the answer to the spec and to "no
// 5xx". header values are set as given (Authorization defaults to the fuzz token).
func (e *fuzzEnv) do(t *testing.T, method, path string, body []byte, header http.Header) *fuzzExchange {
	t.Helper()
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for k, vs := range header {
		req.Header[k] = slices.Clone(vs)
	}
	x := &fuzzExchange{method: method, path: path, header: req.Header.Clone(), body: body}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	x.status, x.respHeader, x.resp = rec.Code, rec.Header(), rec.Body.Bytes()
	if x.status >= 500 {
		t.Fatalf("5xx answer:\n%s", x)
	}
	if x.status == http.StatusRequestEntityTooLarge && len(body) <= fuzzMaxBody {
		t.Fatalf("413 to a body of %d bytes (the spec: 413 is for a body larger than 64 KiB):\n%s", len(body), x)
	}
	resp := &http.Response{StatusCode: x.status, Header: x.respHeader, Body: io.NopCloser(bytes.NewReader(x.resp))}
	if err := e.check.Check(req, body, resp, x.resp); err != nil {
		t.Fatalf("answer breaks openapi.yaml: %v\n%s", err, x)
	}
	return x
}

func (e *fuzzEnv) get(t *testing.T, path string) *fuzzExchange {
	t.Helper()
	x := e.do(t, http.MethodGet, path, nil, nil)
	if x.status != http.StatusOK {
		t.Fatalf("GET of an existing resource:\n%s", x)
	}
	return x
}

// Content-Type selector: what fuzz input ctype picks (modulo the length).
var fuzzContentTypes = []string{
	"application/json",
	"application/merge-patch+json",
	"application/json; charset=utf-8",
	"Application/JSON;Charset=\"UTF-8\"",
	"application/merge-patch+json; charset=UTF-8",
	"", // none
	"text/plain",
	"application/json; charset=latin1",
	"application/json;;",
	"application/problem+json",
	"multipart/form-data; boundary=x",
	"application/json; foo=bar",
}

// fuzzHeaderValue turns a fuzzed header value into what a client could send on the wire: "" is no
// header; a control character cannot be sent (ok false); leading and trailing blanks are not
// part of a value.
func fuzzHeaderValue(s string) (v string, ok bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", false
		}
	}
	return strings.Trim(s, " \t"), true
}

// fuzzIDTarget is how a fuzzed selector rewrites a path id: most of the time the real one.
func fuzzIDTarget(sel uint8, real uuid.UUID) (segment string, wellFormed, isReal bool) {
	switch sel % 16 {
	case 7:
		return strings.ToUpper(real.String()), true, true
	case 8:
		return uuid.NewString(), true, false
	case 9:
		return uuid.Nil.String(), true, false
	case 10:
		return "not-a-uuid", false, false
	case 11:
		return url.PathEscape("{" + real.String() + "}"), false, false
	case 12:
		return strings.ReplaceAll(real.String(), "-", ""), false, false
	case 13:
		return "urn:uuid:" + real.String(), false, false
	case 14:
		return url.PathEscape(real.String() + "\x00"), false, false
	case 15:
		return "", false, false
	}
	return real.String(), true, true
}

// fuzzDecode parses a JSON document as generic values (numbers kept as json.Number).
func fuzzDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func fuzzObject(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	v, err := fuzzDecode(b)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		t.Fatalf("%s is not a JSON object (%v): %s", what, err, fuzzClip(b))
	}
	return m
}

// fuzzMergePatch is RFC 7396 §2 MergePatch(target, patch).
func fuzzMergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if ok {
		t = maps.Clone(t)
	} else {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = fuzzMergePatch(t[k], v)
		}
	}
	return t
}

// fuzzExpected brings what an MCP server should become (the merge of a patch into the old one, or
// the body of a create) to the form the spec promises to store: config an object (absent: {});
// its lists lower-cased and de-duplicated in first-seen order; expires_at an instant at
// microsecond precision, in UTC (null when absent). drop names members to leave out.
func fuzzExpected(m map[string]any, drop ...string) map[string]any {
	out := fuzzCanonicalTimes(m, drop...)
	switch cfg := out["config"].(type) {
	case nil:
		out["config"] = map[string]any{}
	case map[string]any:
		cfg = maps.Clone(cfg)
		for _, k := range []string{"methods", "tags"} {
			list, ok := cfg[k].([]any)
			if !ok {
				continue
			}
			seen := map[string]bool{}
			norm := []any{}
			for _, item := range list {
				s, ok := item.(string)
				if !ok {
					norm = append(norm, item)
					continue
				}
				s = strings.ToLower(s)
				if !seen[s] {
					seen[s] = true
					norm = append(norm, s)
				}
			}
			cfg[k] = norm
		}
		out["config"] = cfg
	}
	// tool_exposure and require_api_token_auth are always answered, absent or null meaning
	// their defaults.
	cfg := maps.Clone(out["config"].(map[string]any))
	if cfg["tool_exposure"] == nil {
		cfg["tool_exposure"] = "all"
	}
	if cfg["require_api_token_auth"] == nil {
		cfg["require_api_token_auth"] = false
	}
	out["config"] = cfg
	if _, present := out["expires_at"]; !present {
		out["expires_at"] = nil
	}
	return out
}

// fuzzCanonicalTimes is a copy of m without the members drop, and with expires_at, when it is a
// date-time, as its instant (UTC, microseconds), so that equal instants compare equal.
func fuzzCanonicalTimes(m map[string]any, drop ...string) map[string]any {
	out := maps.Clone(m)
	for _, k := range drop {
		delete(out, k)
	}
	if s, ok := out["expires_at"].(string); ok {
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			out["expires_at"] = ts.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
		}
	}
	return out
}

func fuzzJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func fuzzTime(t *testing.T, m map[string]any, k string) time.Time {
	t.Helper()
	s, _ := m[k].(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s is not a time: %q", k, m[k])
	}
	return ts
}

// ---------------------------------------------------------------------------------------------
// PATCH /integrated-account/{integrated_account_id}/mcp/{id}

// fuzzStartServer creates the MCP server a PATCH iteration works on, in one of 16 shapes.
func (e *fuzzEnv) fuzzStartServer(t *testing.T, shape uint8) store.McpServer {
	t.Helper()
	n := store.NewMcpServer{IntegratedAccountID: e.account, Name: "fuzz server", CreatedBy: e.user}
	if shape&1 != 0 {
		exp := time.Date(2099, 1, 2, 3, 4, 5, 123456000, time.UTC)
		n.ExpiresAt = &exp
	}
	if shape&2 != 0 {
		n.Config.Methods = []string{"list"}
	}
	if shape&4 != 0 {
		n.Config.Tags = []string{"contacts"}
	}
	if shape&8 != 0 {
		n.Config.Tags = []string{} // an empty list: allows nothing
		n.Name = "Fuzz Server"
	}
	_, n.TokenHash = store.NewSecret("mcp_")
	srv, err := e.st.CreateMcpServer(e.ctx, e.env, n)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func FuzzPatchMcpServer(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range fuzzPatchSeeds() {
		f.Add(s.body, s.ctype, s.target, s.shape, s.ifMatch)
	}
	f.Fuzz(func(t *testing.T, body []byte, ctype, target, shape uint8, ifMatch string) {
		ifMatch, ok := fuzzHeaderValue(ifMatch)
		if !ok {
			t.Skip("a header value with a control character cannot be sent")
		}
		srv := e.fuzzStartServer(t, shape)
		self := "/integrated-account/" + e.account.String() + "/mcp/" + srv.ID.String()
		before := e.get(t, self)

		idSeg, wellFormed, isReal := fuzzIDTarget(target, srv.ID)
		accountSeg := e.account.String()
		badToken := false
		switch target % 16 {
		case 5: // another (missing) integrated account
			accountSeg, isReal = uuid.NewString(), false
		case 6: // an API token that does not exist
			badToken = true
		}
		path := "/integrated-account/" + accountSeg + "/mcp/" + idSeg
		header := http.Header{}
		if ct := fuzzContentTypes[int(ctype)%len(fuzzContentTypes)]; ct != "" {
			header.Set("Content-Type", ct)
		}
		if ifMatch != "" {
			header.Set("If-Match", ifMatch)
		}
		if badToken {
			header.Set("Authorization", "Bearer mcpapi_not-a-token")
		}
		x := e.do(t, http.MethodPatch, path, body, header)
		after := e.get(t, self)

		switch {
		case badToken && x.status != http.StatusUnauthorized && x.status != http.StatusRequestEntityTooLarge:
			// (the body limit comes before authentication)
			t.Fatalf("an unknown API token, yet neither 401 nor 413:\n%s", x)
		case x.status >= 400:
			if !bytes.Equal(after.resp, before.resp) || after.respHeader.Get("Etag") != before.respHeader.Get("Etag") {
				t.Fatalf("a %d changed the resource:\n%s\nbefore (%s): %s\nafter  (%s): %s", x.status, x,
					before.respHeader.Get("Etag"), before.resp, after.respHeader.Get("Etag"), after.resp)
			}
			return
		case x.status != http.StatusOK:
			t.Fatalf("PATCH answered neither 200 nor an error:\n%s", x)
		case !isReal || !wellFormed:
			t.Fatalf("200 to a PATCH of another resource (%s):\n%s", path, x)
		}
		e.checkPatched(t, x, before, after)

		// The same patch again changes nothing (RFC 7396 patches are idempotent).
		header.Del("If-Match")
		again := e.do(t, http.MethodPatch, path, body, header)
		if again.status != http.StatusOK || !bytes.Equal(again.resp, x.resp) ||
			again.respHeader.Get("Etag") != x.respHeader.Get("Etag") {
			t.Fatalf("the same patch again is not a no-op:\nfirst: %s\nagain: %s", x, again)
		}
	})
}

// checkPatched holds a 200 to a PATCH to the merge-patch properties.
func (e *fuzzEnv) checkPatched(t *testing.T, x, before, after *fuzzExchange) {
	t.Helper()
	patch, err := fuzzDecode(x.body)
	if _, isObject := patch.(map[string]any); err != nil || !isObject {
		t.Fatalf("200 to a body that is not a JSON object:\n%s", x)
	}
	got := fuzzObject(t, "the PATCH response", x.resp)
	old := fuzzObject(t, "the GET before", before.resp)
	now := fuzzObject(t, "the GET after", after.resp)
	if !reflect.DeepEqual(got, now) || x.respHeader.Get("Etag") != after.respHeader.Get("Etag") {
		t.Fatalf("the PATCH response is not the resource as stored:\n%s\nGET after (%s): %s", x, after.respHeader.Get("Etag"), after.resp)
	}
	merged, _ := fuzzMergePatch(old, patch).(map[string]any)
	want := fuzzExpected(merged, "updated_at")
	have := fuzzCanonicalTimes(now, "updated_at")
	if !reflect.DeepEqual(want, have) {
		t.Fatalf("the resource is not the merge of the patch into the old one:\n%s\nold:  %s\nwant: %s\nhave: %s",
			x, before.resp, fuzzJSON(want), fuzzJSON(have))
	}
	oldUpdated, newUpdated := fuzzTime(t, old, "updated_at"), fuzzTime(t, now, "updated_at")
	if newUpdated.Before(oldUpdated) {
		t.Fatalf("updated_at moved back (%s → %s):\n%s", oldUpdated, newUpdated, x)
	}
	changed := !reflect.DeepEqual(fuzzCanonicalTimes(old, "updated_at"), want)
	etagMoved := after.respHeader.Get("Etag") != before.respHeader.Get("Etag")
	switch {
	case !changed && (!newUpdated.Equal(oldUpdated) || etagMoved):
		t.Fatalf("a patch that changes nothing moved updated_at or the ETag:\n%s\nbefore (%s): %s", x, before.respHeader.Get("Etag"), before.resp)
	case changed && !etagMoved:
		t.Fatalf("a patch that changed the resource left its ETag (%s):\n%s\nbefore: %s", after.respHeader.Get("Etag"), x, before.resp)
	}
}

type fuzzPatchSeed struct {
	body                 []byte
	ctype, target, shape uint8
	ifMatch              string
}

func fuzzPatchSeeds() []fuzzPatchSeed {
	bodies := []string{
		// the spec's examples
		`{"name":"Updated MCP server","config":{"methods":["GET","POST","READ","DOWNLAOD"],"tags":["api","webhook","custom"]}}`,
		`{"config":{"tags":["contacts"]}}`,
		`{"config":{"methods":null},"expires_at":null}`,
		`{"name":"Updated MCP server"}`,
		`{"config":{"tags":["Contacts","companies"]}}`,
		// no-ops and the smallest changes
		`{}`, `{"config":{}}`, `{"name":"fuzz server"}`, `{"config":{"methods":["list"]}}`,
		`{"config":{"methods":["LIST","list","List"]}}`, `{"config":{"tags":[]}}`, `{"config":{"methods":[]}}`,
		`{"expires_at":"2099-01-02T03:04:05.123456Z"}`, `{"expires_at":"2099-01-02T04:04:05.123456+01:00"}`,
		// null for each member
		`{"name":null}`, `{"config":null}`, `{"expires_at":null}`, `{"config":{"methods":null}}`,
		`{"config":{"tags":null}}`, `{"config":{"methods":null,"tags":null}}`,
		`{"name":null,"config":null,"expires_at":null}`,
		// times
		`{"expires_at":"2030-12-31T23:59:59Z"}`, `{"expires_at":"2000-01-01T00:00:00Z"}`,
		`{"expires_at":"2030-12-31T23:59:59.123456789Z"}`, `{"expires_at":"2030-12-31T23:59:60Z"}`,
		`{"expires_at":"2030-12-31t23:59:59z"}`, `{"expires_at":"2030-12-31"}`, `{"expires_at":"9999-12-31T23:59:59Z"}`,
		`{"expires_at":"2030-12-31T23:59:59+23:59"}`, `{"expires_at":""}`, `{"expires_at":1924991999}`,
		// unknown, read-only and misspelt members
		`{"id":"2ba1f401-7183-47c5-9e39-e8e257e3c796"}`, `{"created_at":"2024-01-10T10:00:00Z"}`,
		`{"updated_at":"2024-01-10T10:00:00Z"}`, `{"token":"mcp_x"}`, `{"NAME":"x"}`, `{"Name":"x"}`,
		`{"config":{"methods":["list"],"extra":1}}`, `{"config":{"Methods":["list"]}}`, `{"foo":null}`,
		// wrong types
		`{"name":123}`, `{"name":true}`, `{"name":["a"]}`, `{"name":{}}`, `{"config":[]}`, `{"config":"x"}`,
		`{"config":{"methods":"list"}}`, `{"config":{"methods":[1,2]}}`, `{"config":{"methods":[null]}}`,
		`{"config":{"tags":[["a"]]}}`, `{"config":{"tags":[{}]}}`, `{"expires_at":{}}`,
		// bounds
		`{"name":""}`, `{"name":"` + strings.Repeat("n", 255) + `"}`, `{"name":"` + strings.Repeat("n", 256) + `"}`,
		`{"name":"` + strings.Repeat("é", 255) + `"}`, `{"name":"` + strings.Repeat("é", 256) + `"}`,
		`{"name":"` + strings.Repeat("😀", 200) + `"}`,
		`{"config":{"methods":["` + strings.Repeat("m", 64) + `"]}}`, `{"config":{"methods":["` + strings.Repeat("m", 65) + `"]}}`,
		`{"config":{"tags":` + fuzzJSONList(50, "t%d") + `}}`, `{"config":{"tags":` + fuzzJSONList(51, "t%d") + `}}`,
		`{"config":{"tags":` + fuzzJSONList(60, "T") + `}}`,
		`{"config":{"methods":["-list"]}}`, `{"config":{"methods":["li st"]}}`, `{"config":{"methods":[""]}}`,
		`{"config":{"methods":["a_b.c:d-e","0"]}}`, `{"config":{"methods":["lıst"]}}`, `{"config":{"methods":["K"]}}`,
		// strings
		`{"name":"a\u0000b"}`, `{"name":"\u0000"}`, `{"name":"\ud800"}`, `{"name":"\udc00\ud800"}`, `{"name":"tab\there"}`,
		`{"name":"Ünïcødé ✓"}`, `{"name":"<script>"}`, `{"name":"' OR 1=1 --"}`, `{"name":"\u2028"}`,
		`{"name":"x","name":"y"}`, `{"config":{"tags":["a"],"tags":["b"]}}`, `{"a\u0000":1}`,
		"{\"name\":\"\xff\"}", "{\"name\":\"\xc3\x28\"}",
		// not an object, or not JSON
		``, `null`, `[]`, `[{}]`, `"name"`, `0`, `true`, ` `, `{`, `}`, `{"name":"x"`, `{"name":"x"}}`,
		`{"name":"x"} {}`, `{"name":"x"}garbage`, `{"name":"x"}` + "\n", "\ufeff{}", `{'name':'x'}`, `{name:"x"}`,
		`{"name":"x",}`, `{"config":{"methods":["a",]}}`, `{"name":NaN}`, `{"expires_at":1e999}`,
		// deep nesting
		strings.Repeat(`{"config":`, 50) + `{}` + strings.Repeat(`}`, 50),
		`{"config":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`,
		strings.Repeat(`[`, 2000),
		// big
		`{"config":{"tags":` + fuzzJSONList(5000, "x") + `}}`,
		`{"name":"` + strings.Repeat("a", 70*1024) + `"}`,
		`{"name":"x"}` + strings.Repeat(" ", 70*1024),
		`{"name":"` + strings.Repeat("a", 64000-11) + `"}`, // 64000 bytes
	}
	var seeds []fuzzPatchSeed
	for i, b := range bodies {
		// Mostly the plain route; every fourth seed tries another content type.
		seeds = append(seeds, fuzzPatchSeed{body: []byte(b), shape: uint8(i % 16), ctype: uint8(i%4) % 2})
	}
	valid := []byte(`{"name":"Renamed","config":{"tags":["Contacts","companies"]}}`)
	for ct := range len(fuzzContentTypes) {
		seeds = append(seeds, fuzzPatchSeed{body: valid, ctype: uint8(ct), shape: 6})
	}
	for target := range 16 {
		seeds = append(seeds, fuzzPatchSeed{body: valid, target: uint8(target), shape: 7})
		seeds = append(seeds, fuzzPatchSeed{body: []byte(`{"name":null}`), target: uint8(target), shape: 7})
	}
	for _, im := range []string{`"1"`, `"2"`, `*`, `W/"1"`, `"1", "2"`, `"0"`, `"-1"`, `1`, `""`, `"1"x`,
		`,`, ` "1" `, `"9223372036854775808"`, strings.Repeat(`"1",`, 300), "\"1\"\n", "é"} {
		seeds = append(seeds, fuzzPatchSeed{body: valid, shape: 2, ifMatch: im})
		seeds = append(seeds, fuzzPatchSeed{body: []byte(`{}`), shape: 2, ifMatch: im})
	}
	return seeds
}

func fuzzJSONList(n int, format string) string {
	items := make([]string, n)
	for i := range items {
		if strings.Contains(format, "%") {
			items[i] = `"` + fmt.Sprintf(format, i) + `"`
		} else {
			items[i] = `"` + format + `"`
		}
	}
	return "[" + strings.Join(items, ",") + "]"
}

// ---------------------------------------------------------------------------------------------
// POST /integrated-account/{integrated_account_id}/mcp

func (e *fuzzEnv) countRows(t *testing.T, table string) int64 {
	t.Helper()
	var n int64
	if err := e.st.DB().WithContext(e.ctx).Raw("SELECT count(*) FROM "+table+" WHERE environment_id = ?", e.env.String()).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// idempotencyKey makes a fuzzed key unique to this iteration (a key is bound to one request for
// 24 hours, so reusing the fuzzer's keys across iterations would only ever answer 422).
func (e *fuzzEnv) idempotencyKey(t *testing.T, key string) string {
	key, ok := fuzzHeaderValue(key)
	if !ok {
		t.Skip("a header value with a control character cannot be sent")
	}
	if key == "" {
		return ""
	}
	return fmt.Sprintf("%s#%d", key, e.seq.Add(1))
}

// checkCreated holds a 201 to a create: the usual headers, a body whose members want names hold
// what want says (expires_at compared as an instant), a GET of Location that answers the same
// without the members secrets. It returns the decoded body.
func (e *fuzzEnv) checkCreated(t *testing.T, x *fuzzExchange, want map[string]any, secrets []string) map[string]any {
	t.Helper()
	got := fuzzObject(t, "the 201 body", x.resp)
	if x.respHeader.Get("Etag") != `"1"` {
		t.Fatalf("a creation with ETag %q, want \"1\":\n%s", x.respHeader.Get("Etag"), x)
	}
	id, _ := got["id"].(string)
	loc := x.respHeader.Get("Location")
	if id == "" || !strings.HasSuffix(loc, "/"+id) || !strings.HasPrefix(loc, "/integrated-account/") {
		t.Fatalf("a creation whose Location %q does not name its id %q:\n%s", loc, id, x)
	}
	if created, updated := fuzzTime(t, got, "created_at"), fuzzTime(t, got, "updated_at"); !created.Equal(updated) {
		t.Fatalf("a creation with created_at %s != updated_at %s:\n%s", created, updated, x)
	}
	canonical := fuzzCanonicalTimes(got)
	for k, v := range want {
		if gv, present := canonical[k]; !present || !reflect.DeepEqual(gv, v) {
			t.Fatalf("the creation's %s is %s, want %s:\n%s", k, fuzzJSON(gv), fuzzJSON(v), x)
		}
	}
	read := e.get(t, loc)
	stored := fuzzObject(t, "the GET of Location", read.resp)
	shown := maps.Clone(got)
	for _, k := range secrets {
		delete(shown, k)
	}
	if !reflect.DeepEqual(shown, stored) || read.respHeader.Get("Etag") != x.respHeader.Get("Etag") {
		t.Fatalf("the creation does not read back the same:\n%s\nGET %s (%s): %s", x, loc, read.respHeader.Get("Etag"), read.resp)
	}
	return got
}

// checkReplay sends a created request again with its Idempotency-Key: the answer must be the
// replay of the first (without the secrets) and create nothing; the key with another body is
// then refused with 422.
func (e *fuzzEnv) checkReplay(t *testing.T, first *fuzzExchange, created map[string]any, secrets []string, table, otherBody string) {
	t.Helper()
	rows := e.countRows(t, table)
	again := e.do(t, first.method, first.path, first.body, first.header)
	if again.status != http.StatusCreated || again.respHeader.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a retry with the same Idempotency-Key is not a replay:\nfirst: %s\nagain: %s", first, again)
	}
	replayed := fuzzObject(t, "the replay", again.resp)
	want := maps.Clone(created)
	for _, k := range secrets {
		delete(want, k)
	}
	if !reflect.DeepEqual(replayed, want) || again.respHeader.Get("Location") != first.respHeader.Get("Location") ||
		again.respHeader.Get("Etag") != first.respHeader.Get("Etag") {
		t.Fatalf("the replay is not the first answer without its secrets:\nfirst: %s\nagain: %s", first, again)
	}
	other := e.do(t, first.method, first.path, []byte(otherBody), first.header)
	if other.status != http.StatusUnprocessableEntity {
		t.Fatalf("the same Idempotency-Key with another body, yet not 422:\nfirst: %s\nother: %s", first, other)
	}
	if n := e.countRows(t, table); n != rows {
		t.Fatalf("a replay created %d rows:\n%s", n-rows, again)
	}
}

func FuzzCreateMcpServer(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range fuzzCreateSeeds() {
		f.Add(s.body, s.ctype, s.target, s.key)
	}
	f.Fuzz(func(t *testing.T, body []byte, ctype, target uint8, key string) {
		key = e.idempotencyKey(t, key)
		accountSeg, wellFormed, isReal := fuzzIDTarget(target, e.account)
		badToken := target%16 == 6
		header := http.Header{}
		if ct := fuzzContentTypes[int(ctype)%len(fuzzContentTypes)]; ct != "" {
			header.Set("Content-Type", ct)
		}
		if key != "" {
			header.Set("Idempotency-Key", key)
		}
		if badToken {
			header.Set("Authorization", "Bearer mcpapi_not-a-token")
		}
		rows := e.countRows(t, "mcp_servers")
		x := e.do(t, http.MethodPost, "/integrated-account/"+accountSeg+"/mcp", body, header)
		created := e.countRows(t, "mcp_servers") - rows
		switch {
		case badToken && x.status != http.StatusUnauthorized && x.status != http.StatusRequestEntityTooLarge:
			// (the body limit comes before authentication)
			t.Fatalf("an unknown API token, yet neither 401 nor 413:\n%s", x)
		case x.status >= 400:
			if created != 0 {
				t.Fatalf("a %d created %d MCP servers:\n%s", x.status, created, x)
			}
			return
		case x.status != http.StatusCreated:
			t.Fatalf("a create answered neither 201 nor an error:\n%s", x)
		case !isReal || !wellFormed:
			t.Fatalf("201 to a create under another integrated account:\n%s", x)
		case created != 1:
			t.Fatalf("a 201 created %d MCP servers:\n%s", created, x)
		}
		req, err := fuzzDecode(body)
		reqObj, isObject := req.(map[string]any)
		if err != nil || !isObject {
			t.Fatalf("201 to a body that is not a JSON object:\n%s", x)
		}
		for k, v := range reqObj {
			if !slices.Contains([]string{"name", "config", "expires_at"}, k) {
				t.Fatalf("201 to a body with the member %q:\n%s", k, x)
			}
			if k == "config" {
				cfg, _ := v.(map[string]any)
				for ck := range cfg {
					if !slices.Contains([]string{"methods", "tags", "tool_exposure", "require_api_token_auth"}, ck) {
						t.Fatalf("201 to a body with the member config.%s:\n%s", ck, x)
					}
				}
			}
		}
		want := fuzzExpected(reqObj)
		want["integrated_account_id"] = e.account.String()
		want["created_by"] = e.user.String()
		secrets := []string{"token", "url"}
		got := e.checkCreated(t, x, want, secrets)
		token, _ := got["token"].(string)
		if !strings.HasPrefix(token, "mcp_") || got["url"] != fuzzPublicURL+"/mcp/"+token {
			t.Fatalf("a creation whose token %q or url %q is off:\n%s", token, got["url"], x)
		}
		if key != "" {
			e.checkReplay(t, x, got, secrets, "mcp_servers", `{"name":"another body"}`)
		}
	})
}

type fuzzCreateSeed struct {
	body          []byte
	ctype, target uint8
	key           string
}

func fuzzCreateSeeds() []fuzzCreateSeed {
	bodies := []string{
		// the spec's examples
		`{"name":"Read-only HubSpot","config":{"methods":["list","get"],"tags":["contacts","companies"]},"expires_at":"2030-12-31T23:59:59Z"}`,
		`{"name":"Read-only HubSpot","config":{"methods":["list","get"]},"expires_at":"2030-12-31T23:59:59Z"}`,
		`{"name":"Read-only HubSpot"}`,
		// normalisation
		`{"name":"n","config":{"methods":["LIST","list","Get"],"tags":["A","a","B"]}}`,
		`{"name":"n","config":{}}`, `{"name":"n","config":{"methods":[],"tags":[]}}`,
		`{"name":"n","expires_at":"2030-12-31T23:59:59.123456789Z"}`, `{"name":"n","expires_at":"2031-01-01T01:00:00+01:00"}`,
		// nulls and missing members
		`{"name":null}`, `{"name":"n","config":null}`, `{"name":"n","expires_at":null}`,
		`{"name":"n","config":{"methods":null}}`, `{"config":{"methods":["list"]}}`, `{}`,
		// unknown and read-only members
		`{"name":"n","id":"2ba1f401-7183-47c5-9e39-e8e257e3c796"}`, `{"name":"n","token":"mcp_x"}`, `{"name":"n","url":"x"}`,
		`{"name":"n","created_by":"0c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8"}`, `{"Name":"n"}`, `{"name":"n","config":{"scopes":[]}}`,
		// wrong types
		`{"name":1}`, `{"name":"n","config":[]}`, `{"name":"n","config":{"tags":"a"}}`, `{"name":"n","expires_at":0}`,
		`{"name":"n","config":{"methods":[1]}}`,
		// times
		`{"name":"n","expires_at":"2000-01-01T00:00:00Z"}`, `{"name":"n","expires_at":"2030-02-30T00:00:00Z"}`,
		`{"name":"n","expires_at":"2030-12-31T23:59:60Z"}`, `{"name":"n","expires_at":"2030-12-31 23:59:59Z"}`,
		// bounds
		`{"name":""}`, `{"name":"` + strings.Repeat("n", 255) + `"}`, `{"name":"` + strings.Repeat("n", 256) + `"}`,
		`{"name":"n","config":{"tags":` + fuzzJSONList(50, "t%d") + `}}`, `{"name":"n","config":{"tags":` + fuzzJSONList(51, "t%d") + `}}`,
		`{"name":"n","config":{"methods":["bad tag"]}}`,
		// strings
		`{"name":"a\u0000b"}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"name":"x","name":"y"}`, `{"name":"Ünïcødé"}`,
		// not an object, or not JSON
		``, `null`, `[]`, `"n"`, `{`, `{"name":"n"} x`, `{"name":"n"}{}`, "\ufeff{\"name\":\"n\"}",
		strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat(`}`, 10001),
		`{"name":"` + strings.Repeat("a", 70*1024) + `"}`,
	}
	var seeds []fuzzCreateSeed
	for _, b := range bodies {
		seeds = append(seeds, fuzzCreateSeed{body: []byte(b)})
	}
	valid := []byte(`{"name":"Read-only HubSpot","config":{"methods":["List"]}}`)
	for ct := range len(fuzzContentTypes) {
		seeds = append(seeds, fuzzCreateSeed{body: valid, ctype: uint8(ct)})
	}
	for target := range 16 {
		seeds = append(seeds, fuzzCreateSeed{body: valid, target: uint8(target)})
	}
	for _, k := range []string{"4f1c2a8e-create-hubspot-acme", "k", " ", strings.Repeat("k", 250), strings.Repeat("k", 300), "é", "\x7f"} {
		seeds = append(seeds, fuzzCreateSeed{body: valid, key: k})
		seeds = append(seeds, fuzzCreateSeed{body: []byte(`{"name":null}`), key: k})
	}
	return seeds
}

// ---------------------------------------------------------------------------------------------
// POST /integrated-account

func FuzzCreateIntegratedAccount(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range fuzzAccountSeeds() {
		f.Add(s.body, s.ctype, s.key, s.badToken)
	}
	f.Fuzz(func(t *testing.T, body []byte, ctype uint8, key string, badToken bool) {
		key = e.idempotencyKey(t, key)
		header := http.Header{}
		if ct := fuzzContentTypes[int(ctype)%len(fuzzContentTypes)]; ct != "" {
			header.Set("Content-Type", ct)
		}
		if key != "" {
			header.Set("Idempotency-Key", key)
		}
		if badToken {
			header.Set("Authorization", "Bearer mcpapi_not-a-token")
		}
		rows := e.countRows(t, "integrated_accounts")
		x := e.do(t, http.MethodPost, "/integrated-account", body, header)
		created := e.countRows(t, "integrated_accounts") - rows
		switch {
		case badToken && x.status != http.StatusUnauthorized && x.status != http.StatusRequestEntityTooLarge:
			// (the body limit comes before authentication)
			t.Fatalf("an unknown API token, yet neither 401 nor 413:\n%s", x)
		case x.status >= 400:
			if created != 0 {
				t.Fatalf("a %d created %d integrated accounts:\n%s", x.status, created, x)
			}
			return
		case x.status != http.StatusCreated:
			t.Fatalf("a create answered neither 201 nor an error:\n%s", x)
		case created != 1:
			t.Fatalf("a 201 created %d integrated accounts:\n%s", created, x)
		}
		req, err := fuzzDecode(body)
		reqObj, isObject := req.(map[string]any)
		if err != nil || !isObject {
			t.Fatalf("201 to a body that is not a JSON object:\n%s", x)
		}
		for k := range reqObj {
			if k != "integration" && k != "tenant_id" && k != "credentials" {
				t.Fatalf("201 to a body with the member %q:\n%s", k, x)
			}
		}
		cred, hasCred := reqObj["credentials"].(map[string]any)
		want := map[string]any{"integration": reqObj["integration"], "tenant_id": reqObj["tenant_id"], "has_credentials": hasCred}
		got := e.checkCreated(t, x, want, nil)
		// Credentials are write-only: never shown, not even in the answer to their creation.
		if value, _ := cred["value"].(string); got["credentials"] != nil || (len(value) >= 8 && bytes.Contains(x.resp, []byte(value))) {
			t.Fatalf("a creation shows its credentials:\n%s", x)
		}
		if key != "" {
			e.checkReplay(t, x, got, nil, "integrated_accounts", `{"integration":"another"}`)
		}
	})
}

type fuzzAccountSeed struct {
	body     []byte
	ctype    uint8
	key      string
	badToken bool
}

func fuzzAccountSeeds() []fuzzAccountSeed {
	bodies := []string{
		`{"integration":"hubspot","tenant_id":"acme-corp"}`, `{"integration":"hubspot"}`,
		`{"integration":"hubspot","tenant_id":null}`, `{"integration":"hubspot","tenant_id":""}`,
		`{"integration":""}`, `{"integration":null}`, `{"tenant_id":"x"}`, `{}`,
		`{"integration":"` + strings.Repeat("i", 64) + `"}`, `{"integration":"` + strings.Repeat("i", 65) + `"}`,
		`{"integration":"h","tenant_id":"` + strings.Repeat("t", 128) + `"}`, `{"integration":"h","tenant_id":"` + strings.Repeat("t", 129) + `"}`,
		`{"integration":"h","id":"1ba1f401-7183-47c5-9e39-e8e257e3c795"}`, `{"Integration":"h"}`, `{"integration":1}`,
		`{"integration":"a\u0000"}`, `{"integration":"\ud800"}`, "{\"integration\":\"\xff\"}", `{"integration":"h","integration":"i"}`,
		`{"integration":"Hub Spot ✓"}`, ``, `null`, `[]`, `{"integration":"h"} {}`, `{"integration":"h"`,
		// credentials (write-only)
		`{"integration":"crm","credentials":{"type":"bearer","value":"upstream-api-key-123"}}`,
		`{"integration":"crm","credentials":{"type":"header","name":"X-Api-Key","value":"upstream-api-key-123"}}`,
		`{"integration":"crm","credentials":{"type":"header","value":"upstream-api-key-123"}}`,
		`{"integration":"crm","credentials":{"type":"header","name":"X Api Key","value":"v"}}`,
		`{"integration":"crm","credentials":{"type":"basic","value":"v"}}`, `{"integration":"crm","credentials":{"type":"bearer"}}`,
		`{"integration":"crm","credentials":{"type":"bearer","value":""}}`, `{"integration":"crm","credentials":null}`,
		`{"integration":"crm","credentials":{}}`, `{"integration":"crm","credentials":{"type":"bearer","value":"v","extra":1}}`,
		`{"integration":"crm","credentials":{"type":"bearer","value":"` + strings.Repeat("v", 4097) + `"}}`,
		`{"integration":"crm","credentials":{"type":"bearer","value":"a\u0000b"}}`,
		`{"integration":"` + strings.Repeat("a", 70*1024) + `"}`,
	}
	var seeds []fuzzAccountSeed
	for _, b := range bodies {
		seeds = append(seeds, fuzzAccountSeed{body: []byte(b)})
	}
	valid := []byte(`{"integration":"hubspot","tenant_id":"acme-corp"}`)
	for ct := range len(fuzzContentTypes) {
		seeds = append(seeds, fuzzAccountSeed{body: valid, ctype: uint8(ct)})
	}
	seeds = append(seeds, fuzzAccountSeed{body: valid, badToken: true},
		fuzzAccountSeed{body: valid, key: "4f1c2a8e-create-hubspot-acme"}, fuzzAccountSeed{body: valid, key: "é"},
		fuzzAccountSeed{body: []byte(`{"integration":""}`), key: "k"})
	return seeds
}
