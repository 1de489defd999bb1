package store_test

import (
	"bytes"
	"crypto/sha256"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

func TestNewSecret(t *testing.T) {
	urlSafe := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	seen := map[string]bool{}
	for _, prefix := range []string{apiTokenPrefix, mcpTokenPrefix} {
		for i := 0; i < 100; i++ {
			secret, hash := store.NewSecret(prefix)
			body, ok := strings.CutPrefix(secret, prefix)
			if !ok || len(body) != 43 || !urlSafe.MatchString(secret) {
				t.Fatalf("secret %q: want %q + 43 URL-safe characters", secret, prefix)
			}
			sum := sha256.Sum256([]byte(secret))
			if !bytes.Equal(hash, sum[:]) || !bytes.Equal(store.HashSecret(secret), hash) {
				t.Fatalf("hash of %q is not its SHA-256", secret)
			}
			if seen[secret] {
				t.Fatalf("secret %q repeated", secret)
			}
			seen[secret] = true
		}
	}
}

func TestAPITokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		user := uuid.New()
		n, err := s.CountAPITokens(ctx)
		must(t, err)
		if n != 0 {
			t.Fatalf("CountAPITokens on a fresh database = %d", n)
		}
		secret, hash := store.NewSecret(apiTokenPrefix)
		tok, err := s.CreateAPIToken(ctx, "prod", user, hash)
		must(t, err)
		if tok.EnvironmentName != "prod" || tok.UserID != user || tok.RevokedAt != nil || tok.CreatedAt.Location().String() != "UTC" {
			t.Fatalf("created %+v", tok)
		}
		_, hash2 := store.NewSecret(apiTokenPrefix)
		tok2, err := s.CreateAPIToken(ctx, "staging", user, hash2)
		must(t, err)

		p, err := s.Authenticate(ctx, store.HashSecret(secret))
		must(t, err)
		if p != (store.Principal{TokenID: tok.ID, EnvironmentID: tok.EnvironmentID, UserID: user}) {
			t.Fatalf("Authenticate = %+v, token %+v", p, tok)
		}
		_, err = s.Authenticate(ctx, store.HashSecret("mcpapi_unknown"))
		wantErr(t, err, store.ErrNotFound)

		all, err := s.ListAPITokens(ctx, "")
		must(t, err)
		if len(all) != 2 || all[0].ID != tok.ID || all[1].ID != tok2.ID || all[1].EnvironmentName != "staging" {
			t.Fatalf("ListAPITokens(\"\") = %+v", all)
		}
		if !all[0].CreatedAt.Equal(tok.CreatedAt) {
			t.Errorf("listed created_at %v, created %v", all[0].CreatedAt, tok.CreatedAt)
		}
		prod, err := s.ListAPITokens(ctx, "prod")
		must(t, err)
		if len(prod) != 1 || prod[0].ID != tok.ID {
			t.Fatalf("ListAPITokens(prod) = %+v", prod)
		}
		none, err := s.ListAPITokens(ctx, "nowhere")
		must(t, err)
		if none == nil || len(none) != 0 {
			t.Fatalf("ListAPITokens(nowhere) = %#v, want empty", none)
		}
		n, err = s.CountAPITokens(ctx)
		must(t, err)
		if n != 2 {
			t.Fatalf("CountAPITokens = %d, want 2", n)
		}

		must(t, s.RevokeAPIToken(ctx, tok.ID))
		wantErr(t, s.RevokeAPIToken(ctx, tok.ID), store.ErrNotFound)
		wantErr(t, s.RevokeAPIToken(ctx, uuid.New()), store.ErrNotFound)
		_, err = s.Authenticate(ctx, hash)
		wantErr(t, err, store.ErrNotFound)
		if _, err := s.Authenticate(ctx, hash2); err != nil {
			t.Fatalf("other token after revocation: %v", err)
		}
		prod, err = s.ListAPITokens(ctx, "prod")
		must(t, err)
		if len(prod) != 1 || prod[0].RevokedAt == nil {
			t.Fatalf("revoked token listed as %+v", prod)
		}
		n, err = s.CountAPITokens(ctx)
		must(t, err)
		if n != 1 {
			t.Fatalf("CountAPITokens after revoking one = %d, want 1 (active only)", n)
		}
	})
}

func TestEnsureAPIToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		user := uuid.New()
		_, hash := store.NewSecret(apiTokenPrefix)
		for i := 0; i < 3; i++ {
			must(t, s.EnsureAPIToken(ctx, "default", user, hash))
		}
		list, err := s.ListAPITokens(ctx, "")
		must(t, err)
		if len(list) != 1 || list[0].EnvironmentName != "default" || list[0].UserID != user {
			t.Fatalf("after EnsureAPIToken x3: %+v", list)
		}
		if err := s.EnsureAPIToken(ctx, "other", user, hash); err == nil {
			t.Error("EnsureAPIToken of a hash registered in another environment succeeded")
		}
		if err := s.EnsureAPIToken(ctx, "default", uuid.New(), hash); err == nil {
			t.Error("EnsureAPIToken of a hash registered for another user succeeded")
		}
	})
}

func TestEnsureEnvironmentConcurrently(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		const n = 20
		ids := make([]uuid.UUID, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids[i], errs[i] = s.EnsureEnvironment(ctx, "racy")
			}()
		}
		wg.Wait()
		for i := range n {
			must(t, errs[i])
			if ids[i] != ids[0] || ids[i] == uuid.Nil {
				t.Fatalf("EnsureEnvironment gave %v and %v", ids[0], ids[i])
			}
		}
		again, err := s.EnsureEnvironment(ctx, "racy")
		must(t, err)
		if again != ids[0] {
			t.Fatalf("EnsureEnvironment not idempotent: %v then %v", ids[0], again)
		}
	})
}

// Secrets are never stored: no column of any row holds a secret, only its SHA-256.
func TestOnlyHashesAreStored(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		apiSecret, apiHash := store.NewSecret(apiTokenPrefix)
		_, err := s.CreateAPIToken(ctx, "prod", uuid.New(), apiHash)
		must(t, err)
		f := newFixture(t, s)
		mcpSecret, mcpHash := store.NewSecret(mcpTokenPrefix)
		m, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{
			IntegratedAccountID: f.account.ID, Name: "n", CreatedBy: uuid.New(), TokenHash: mcpHash,
		})
		must(t, err)
		rotSecret, rotHash := store.NewSecret(mcpTokenPrefix)
		_, err = s.RotateMcpServerToken(ctx, f.env, f.account.ID, m.ID, rotHash, nil)
		must(t, err)

		for _, table := range tables {
			rows, err := s.DB().WithContext(ctx).Raw("SELECT * FROM " + table).Rows()
			must(t, err)
			cols, err := rows.Columns()
			must(t, err)
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				must(t, rows.Scan(ptrs...))
				for i, v := range vals {
					var text []byte
					switch v := v.(type) {
					case []byte:
						text = v
					case string:
						text = []byte(v)
					}
					for _, secret := range []string{apiSecret, mcpSecret, rotSecret} {
						body := secret[strings.Index(secret, "_")+1:]
						if bytes.Contains(text, []byte(body)) {
							t.Errorf("%s.%s holds a secret", table, cols[i])
						}
					}
				}
			}
			must(t, rows.Err())
			must(t, rows.Close())
		}
		var stored [][]byte
		must(t, s.DB().WithContext(ctx).Raw("SELECT token_hash FROM api_tokens").Scan(&stored).Error)
		if len(stored) != 1 || !bytes.Equal(stored[0], apiHash) {
			t.Errorf("api_tokens.token_hash = %x, want %x", stored, apiHash)
		}
		stored = nil
		must(t, s.DB().WithContext(ctx).Raw("SELECT token_hash FROM mcp_servers").Scan(&stored).Error)
		if len(stored) != 1 || !bytes.Equal(stored[0], rotHash) {
			t.Errorf("mcp_servers.token_hash = %x, want the rotated %x", stored, rotHash)
		}
	})
}

func TestMcpServerTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		f := newFixture(t, s)
		_, hash := store.NewSecret(mcpTokenPrefix)
		m, err := s.CreateMcpServer(ctx, f.env, store.NewMcpServer{
			IntegratedAccountID: f.account.ID, Name: "n", CreatedBy: uuid.New(), TokenHash: hash,
		})
		must(t, err)
		got, err := s.McpServerByTokenHash(ctx, hash)
		must(t, err)
		sameServer(t, got, m)
		_, newHash := store.NewSecret(mcpTokenPrefix)
		wantErr(t, errOnly(s.RotateMcpServerToken(ctx, f.env, f.account.ID, m.ID, newHash, []int64{7})), store.ErrVersionMismatch)
		rot, err := s.RotateMcpServerToken(ctx, f.env, f.account.ID, m.ID, newHash, []int64{m.Version})
		must(t, err)
		if rot.Version != m.Version+1 || !rot.UpdatedAt.After(m.UpdatedAt) {
			t.Fatalf("rotation did not move version/updated_at: %+v", rot)
		}
		_, err = s.McpServerByTokenHash(ctx, hash)
		wantErr(t, err, store.ErrNotFound)
		got, err = s.McpServerByTokenHash(ctx, newHash)
		must(t, err)
		sameServer(t, got, rot)
		other := newFixture(t, s)
		_, err = s.RotateMcpServerToken(ctx, other.env, f.account.ID, m.ID, hash, nil)
		wantErr(t, err, store.ErrNotFound)
		_, err = s.RotateMcpServerToken(ctx, f.env, f.account.ID, uuid.New(), hash, nil)
		wantErr(t, err, store.ErrNotFound)
	})
}
