package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/server"
	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// TestLimitsBeforeLookups: requests with bad API tokens cost at most one token lookup per
// distinct token per negative-cache period, and none once their address is over its limit.
// Counted as statements sent to the database, on both databases.
func TestLimitsBeforeLookups(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		st := storetest.OpenStore(t, dbURL)
		send := func(h http.Handler, token, addr string) int {
			req := httptest.NewRequest(http.MethodGet, "/integrated-account", nil)
			req.RemoteAddr = addr + ":40000"
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		newServer := func(rate float64, burst int) http.Handler {
			h, err := server.New(st, server.Config{PublicURL: "http://127.0.0.1:8080", AuthCacheTTL: time.Minute,
				RateLimit: rate, RateBurst: burst, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		counter := countStatements(st)

		// 1,000 requests with 1,000 distinct bad tokens from one address, limit 1/s, burst 10:
		// 10 lookups (the burst), then 429 without any.
		h := newServer(1, 10)
		counter.n.Store(0)
		codes := map[int]int{}
		for range 1000 {
			codes[send(h, "mcpapi_bad"+uuid.NewString(), "192.0.2.1")]++
		}
		if n := counter.n.Load(); n > 11 || codes[http.StatusTooManyRequests] < 988 {
			t.Errorf("1,000 distinct bad tokens: %d statements, answers %v; want ≤ 11 and the rest 429", n, codes)
		}

		// No rate limit at all: the same bad token 500 times costs one lookup (negative cache).
		h = newServer(0, 0)
		counter.n.Store(0)
		for range 500 {
			if c := send(h, "mcpapi_the-same-bad-one", "192.0.2.2"); c != http.StatusUnauthorized {
				t.Fatalf("status %d", c)
			}
		}
		if n := counter.n.Load(); n != 1 {
			t.Errorf("one bad token 500 times: %d statements, want 1", n)
		}

		// An address over its limit is refused before the lookup even of a valid token, and a
		// valid token's lookup does not spend the address's bucket.
		secret, hash := store.NewSecret("mcpapi_")
		if _, err := st.CreateAPIToken(context.Background(), "limits", uuid.New(), hash); err != nil {
			t.Fatal(err)
		}
		h = newServer(0.001, 2)
		if c := send(h, secret, "192.0.2.3"); c != http.StatusOK { // a lookup, bucket untouched
			t.Fatalf("valid token: %d", c)
		}
		for range 2 {
			send(h, "mcpapi_bad"+uuid.NewString(), "192.0.2.3") // two failed lookups: bucket empty
		}
		counter.n.Store(0)
		if c := send(h, "mcpapi_bad"+uuid.NewString(), "192.0.2.3"); c != http.StatusTooManyRequests {
			t.Errorf("bad token from an address over its limit: %d, want 429", c)
		}
		if n := counter.n.Load(); n != 0 {
			t.Errorf("a refused request cost %d statements, want 0", n)
		}
	})
}

// TestMCPAPITokenLookupsAreCached: an MCP server that requires an API token costs no token
// lookup per call once both tokens are cached (the API token through the REST API's cache),
// and a bad API token sent again and again costs one lookup. Both databases.
func TestMCPAPITokenLookupsAreCached(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		st := storetest.OpenStore(t, dbURL)
		ctx := context.Background()
		apiSecret, apiHash := store.NewSecret(store.APITokenPrefix)
		tok, err := st.CreateAPIToken(ctx, "mcp-api-token", uuid.New(), apiHash)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := st.CreateIntegratedAccount(ctx, tok.EnvironmentID, store.NewIntegratedAccount{Integration: "crm"})
		if err != nil {
			t.Fatal(err)
		}
		mcpSecret, mcpHash := store.NewSecret(store.MCPTokenPrefix)
		if _, err := st.CreateMcpServer(ctx, tok.EnvironmentID, store.NewMcpServer{IntegratedAccountID: acc.ID, Name: "m",
			CreatedBy: tok.UserID, TokenHash: mcpHash, Config: store.McpServerConfig{RequireAPITokenAuth: true}}); err != nil {
			t.Fatal(err)
		}
		h, err := server.New(st, server.Config{PublicURL: "http://127.0.0.1:8080", AuthCacheTTL: time.Minute,
			DisableMCPCallLog: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		send := func(bearer string) int {
			req := httptest.NewRequest(http.MethodPost, "/mcp/"+mcpSecret, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+bearer)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		counter := countStatements(st)
		for _, phase := range []struct {
			name, bearer  string
			times, status int
			statements    int64
		}{
			{"first call (the MCP token, the API token)", apiSecret, 1, http.StatusOK, 2},
			{"20 calls with both tokens cached", apiSecret, 20, http.StatusOK, 0},
			{"one bad API token 20 times", store.APITokenPrefix + "not-a-token", 20, http.StatusUnauthorized, 1},
		} {
			counter.n.Store(0)
			for range phase.times {
				if c := send(phase.bearer); c != phase.status {
					t.Fatalf("%s: %d", phase.name, c)
				}
			}
			if n := counter.n.Load(); n != phase.statements {
				t.Errorf("%s: %d statements, want %d", phase.name, n, phase.statements)
			}
		}
	})
}

// TestIdempotencyFingerprintIsKeyed: the stored fingerprint of a create that carries a
// credential is not the plain SHA-256 of the body (which anyone with the table could match
// against guessed secrets), depends on the secret key, and another instance with the same key
// (a fleet) recognises the retry and replays it. Both databases.
func TestIdempotencyFingerprintIsKeyed(t *testing.T) {
	const key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		st := storetest.OpenStore(t, dbURL)
		secret, hash := store.NewSecret("mcpapi_")
		if _, err := st.CreateAPIToken(context.Background(), "idem", uuid.New(), hash); err != nil {
			t.Fatal(err)
		}
		newServer := func(key string) http.Handler {
			h, err := server.New(st, server.Config{PublicURL: "http://127.0.0.1:8080", SecretKey: key, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		body := `{"integration":"crm","credentials":{"type":"bearer","value":"sk_live_guessable"}}`
		create := func(h http.Handler, idemKey string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/integrated-account", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", idemKey)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		a, b := newServer(key1), newServer(key1)
		first := create(a, "k1")
		if first.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", first.Code, first.Body)
		}
		retry := create(b, "k1")
		if retry.Code != http.StatusCreated || retry.Header().Get("Idempotent-Replayed") != "true" || retry.Body.String() != first.Body.String() {
			t.Errorf("retry on another instance: %d replayed=%q", retry.Code, retry.Header().Get("Idempotent-Replayed"))
		}
		other := newServer("ZZECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
		if c := create(other, "k1"); c.Code != http.StatusUnprocessableEntity {
			t.Errorf("the same body under another secret key: %d, want 422 (another fingerprint)", c.Code)
		}
		var stored []byte
		if err := st.DB().Raw(`SELECT fingerprint FROM idempotency_keys WHERE key = ?`, "k1").Row().Scan(&stored); err != nil {
			t.Fatal(err)
		}
		var v any
		_ = json.Unmarshal([]byte(body), &v)
		canonical, _ := json.Marshal(v)
		plain := sha256.Sum256(canonical)
		raw := sha256.Sum256([]byte(body))
		if len(stored) != 32 || string(stored) == string(plain[:]) || string(stored) == string(raw[:]) {
			t.Errorf("the stored fingerprint is the body's plain SHA-256 (or not 32 bytes): %x", stored)
		}
	})
}

// TestClientIPExtractor: headers count only from a trusted peer, the right-most untrusted hop
// wins, loopback and private ranges are not trusted unless listed, and RFC 7239 Forwarded works
// when X-Forwarded-For is absent.
func TestClientIPExtractor(t *testing.T) {
	trusted, err := server.ParseTrustedProxies("10.0.0.0/8, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	extract := server.ClientIPExtractor(trusted)
	for _, c := range []struct {
		peer, xff, fwd, want string
	}{
		{"198.51.100.9", "203.0.113.1", "", "198.51.100.9"},                // untrusted peer: headers ignored
		{"192.0.2.1", "203.0.113.1", "", "203.0.113.1"},                    // trusted proxy
		{"192.0.2.1", "6.6.6.6, 203.0.113.1, 10.1.2.3", "", "203.0.113.1"}, // right-most untrusted, spoof ignored
		{"192.0.2.1", "127.0.0.1", "", "127.0.0.1"},                        // loopback not trusted by default
		{"192.0.2.1", "", `for=203.0.113.5;proto=https, for="10.0.0.2:4711"`, "203.0.113.5"},
		{"192.0.2.1", "", `for="[2001:db8::7]:80"`, "2001:db8::7"},
		{"192.0.2.1", "", `for=_hidden, for=10.0.0.2`, "192.0.2.1"},    // obfuscated hop: fall back to the peer
		{"192.0.2.1", "203.0.113.1", "for=203.0.113.9", "203.0.113.1"}, // X-Forwarded-For wins
		{"198.51.100.9", "", "for=203.0.113.5", "198.51.100.9"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = c.peer + ":1234"
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.fwd != "" {
			req.Header.Set("Forwarded", c.fwd)
		}
		if got := extract(req); got != c.want {
			t.Errorf("peer %s, XFF %q, Forwarded %q: %q, want %q", c.peer, c.xff, c.fwd, got, c.want)
		}
	}
	if _, err := server.ParseTrustedProxies("10.0.0.0/40"); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}
