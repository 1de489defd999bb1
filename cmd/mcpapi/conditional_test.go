package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

func TestETagsAndConditionalRequests(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		acc := a.newAccount()
		created := a.do(http.MethodPost, "/integrated-account/"+acc.String()+"/mcp", `{"name":"etag"}`)
		mustStatus(t, created, http.StatusCreated)
		tag0 := created.header.Get("ETag")
		if !strings.HasPrefix(tag0, `"`) {
			t.Fatalf("create ETag %q is not a strong entity tag", tag0)
		}
		id := created.json(t)["id"].(string)
		path := "/integrated-account/" + acc.String() + "/mcp/" + id

		get := a.do(http.MethodGet, path, "")
		if get.header.Get("ETag") != tag0 {
			t.Errorf("GET ETag %q, create said %q", get.header.Get("ETag"), tag0)
		}
		// If-None-Match: current (strong or weak form, or *) → 304 without a body; stale → 200.
		for _, inm := range []string{tag0, "W/" + tag0, `"999", ` + tag0, "*"} {
			r := a.do(http.MethodGet, path, "", "If-None-Match", inm)
			if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != tag0 {
				t.Errorf("If-None-Match %s: %d %q body %q", inm, r.status, r.header.Get("ETag"), r.body)
			}
		}
		mustStatus(t, a.do(http.MethodGet, path, "", "If-None-Match", `"999"`), http.StatusOK)

		// A no-op PATCH keeps the ETag; a real change moves it.
		noop := a.do(http.MethodPatch, path, `{"name":"etag"}`)
		mustStatus(t, noop, http.StatusOK)
		if noop.header.Get("ETag") != tag0 {
			t.Errorf("no-op PATCH moved the ETag: %q → %q", tag0, noop.header.Get("ETag"))
		}
		changed := a.do(http.MethodPatch, path, `{"name":"etag2"}`, "If-Match", tag0)
		mustStatus(t, changed, http.StatusOK)
		tag1 := changed.header.Get("ETag")
		if tag1 == tag0 || tag1 == "" {
			t.Fatalf("PATCH ETag %q, want a new one after %q", tag1, tag0)
		}

		// A stale If-Match changes nothing and answers 412 with the current ETag.
		before := a.rawServer(acc, uuid.MustParse(id))
		for _, im := range []string{tag0, "W/" + tag1, `"abc"`, `"0"`} {
			r := a.do(http.MethodPatch, path, `{"name":"lost"}`, "If-Match", im)
			mustStatus(t, r, http.StatusPreconditionFailed)
			if r.header.Get("ETag") != tag1 {
				t.Errorf("412 ETag %q, want current %q", r.header.Get("ETag"), tag1)
			}
			mustStatus(t, a.do(http.MethodDelete, path, "", "If-Match", im), http.StatusPreconditionFailed)
			mustStatus(t, a.do(http.MethodPost, path+"/token", "", "If-Match", im), http.StatusPreconditionFailed)
		}
		if after := a.rawServer(acc, uuid.MustParse(id)); after != before {
			t.Errorf("412s changed the server:\n%s\n%s", before, after)
		}
		mustStatus(t, a.do(http.MethodPatch, path, `{"name":"star"}`, "If-Match", "*"), http.StatusOK)
		tag2 := a.do(http.MethodGet, path, "").header.Get("ETag")
		mustStatus(t, a.do(http.MethodPatch, path, `{"name":"list"}`, "If-Match", `"77", `+tag2), http.StatusOK)
		// Existence is checked before the precondition.
		missing := "/integrated-account/" + acc.String() + "/mcp/" + uuid.NewString()
		mustStatus(t, a.do(http.MethodPatch, missing, `{"name":"x"}`, "If-Match", tag0), http.StatusNotFound)
		mustStatus(t, a.do(http.MethodPatch, missing, `{"name":"x"}`, "If-Match", "*"), http.StatusNotFound)
		// DELETE at the current version works.
		cur := a.do(http.MethodGet, path, "").header.Get("ETag")
		mustStatus(t, a.do(http.MethodDelete, path, "", "If-Match", cur), http.StatusOK)

		// Integrated accounts: ETag on create and GET, 304, 412 on a stale delete.
		r := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`)
		mustStatus(t, r, http.StatusCreated)
		accTag := r.header.Get("ETag")
		accPath := "/integrated-account/" + r.json(t)["id"].(string)
		if g := a.do(http.MethodGet, accPath, ""); g.header.Get("ETag") != accTag || accTag == "" {
			t.Errorf("account ETag %q vs %q", g.header.Get("ETag"), accTag)
		}
		mustStatus(t, a.do(http.MethodGet, accPath, "", "If-None-Match", accTag), http.StatusNotModified)
		mustStatus(t, a.do(http.MethodDelete, accPath, "", "If-Match", `"999"`), http.StatusPreconditionFailed)
		mustStatus(t, a.do(http.MethodDelete, accPath, "", "If-Match", accTag), http.StatusOK)
	})
}

// TestIfMatchRace: 20 clients PATCH one server with the same If-Match at once; exactly one wins.
func TestIfMatchRace(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		acc := a.newAccount()
		srv := a.newServer(acc)
		path := "/integrated-account/" + acc.String() + "/mcp/" + srv.Id.String()
		tag := a.do(http.MethodGet, path, "").header.Get("ETag")
		statuses := race(20, func(i int) int {
			return a.do(http.MethodPatch, path, fmt.Sprintf(`{"name":"racer-%d"}`, i), "If-Match", tag).status
		})
		if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != 19 {
			t.Errorf("statuses %v, want exactly one 200 and 19 × 412", statuses)
		}
		// Two racing rotations: one wins.
		tag = a.do(http.MethodGet, path, "").header.Get("ETag")
		statuses = race(2, func(int) int { return a.do(http.MethodPost, path+"/token", "", "If-Match", tag).status })
		if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != 1 {
			t.Errorf("rotation statuses %v, want one 200 and one 412", statuses)
		}
	})
}

// race runs fn n times at once and counts the statuses.
func race(n int, fn func(i int) int) map[int]int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counts := map[int]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := fn(i)
			mu.Lock()
			counts[s]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

func TestRotateToken(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		st := storetest.OpenStore(t, dbURL)
		acc := a.newAccount()
		srv := a.newServer(acc)
		path := "/integrated-account/" + acc.String() + "/mcp/" + srv.Id.String()
		r := a.do(http.MethodPost, path+"/token", "")
		mustStatus(t, r, http.StatusOK)
		body := r.json(t)
		token, _ := body["token"].(string)
		if token == "" || token == *srv.Token || body["url"] != a.base+"/mcp/"+token {
			t.Fatalf("rotation answered %s", r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("ETag") == "" {
			t.Errorf("rotation headers %v", r.header)
		}
		if body["updated_at"] == srv.UpdatedAt.Format("2006-01-02T15:04:05.999999Z07:00") {
			t.Errorf("updated_at did not move")
		}
		ctx := context.Background()
		if _, err := st.ResolveMcpToken(ctx, store.HashSecret(*srv.Token)); err == nil {
			t.Error("the old token still resolves after rotation")
		}
		got, err := st.ResolveMcpToken(ctx, store.HashSecret(token))
		if err != nil || got.Server.ID != srv.Id {
			t.Errorf("the new token resolves to %v, %v", got.Server.ID, err)
		}
		mustStatus(t, a.do(http.MethodPost, "/integrated-account/"+acc.String()+"/mcp/"+uuid.NewString()+"/token", ""), http.StatusNotFound)
	})
}

func TestIdempotencyKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		acc := a.newAccount()
		path := "/integrated-account/" + acc.String() + "/mcp"
		key := "key-" + uuid.NewString()

		// 20 identical POSTs at once with one key: one server, one id for all.
		var mu sync.Mutex
		ids := map[string]int{}
		replayed := 0
		statuses := race(20, func(int) int {
			r := a.do(http.MethodPost, path, `{"name":"once","config":{"tags":["contacts"]}}`, "Idempotency-Key", key)
			if r.status == http.StatusCreated {
				mu.Lock()
				ids[r.json(t)["id"].(string)]++
				if r.header.Get("Idempotent-Replayed") == "true" {
					replayed++
				}
				mu.Unlock()
			}
			return r.status
		})
		if statuses[http.StatusCreated] != 20 || len(ids) != 1 || replayed != 19 {
			t.Fatalf("statuses %v, ids %v, replayed %d: want 20 × 201 with one id, 19 replayed", statuses, ids, replayed)
		}
		var id string
		for k := range ids {
			id = k
		}
		list := a.do(http.MethodGet, path, "")
		if n := strings.Count(string(list.body), `"created_by"`); n != 1 {
			t.Errorf("%d servers stored, want 1: %s", n, list.body)
		}

		// A retry after a lost response: same id, replayed, no secret, same Location. Member
		// order and white space do not matter.
		r := a.do(http.MethodPost, path, "{ \"config\": {\"tags\":[\"contacts\"]}, \"name\": \"once\" }", "Idempotency-Key", key)
		mustStatus(t, r, http.StatusCreated)
		body := r.json(t)
		if body["id"] != id || r.header.Get("Idempotent-Replayed") != "true" || r.header.Get("Location") != path+"/"+id {
			t.Errorf("retry: %v %s", r.header, r.body)
		}
		if _, ok := body["token"]; ok || bytes.Contains(r.body, []byte("mcp_")) {
			t.Errorf("a replay shows the token: %s", r.body)
		}
		// Same key, another body or another path: 422, nothing created.
		mustStatus(t, a.do(http.MethodPost, path, `{"name":"twice"}`, "Idempotency-Key", key), http.StatusUnprocessableEntity)
		mustStatus(t, a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`, "Idempotency-Key", key), http.StatusUnprocessableEntity)
		// Without the header nothing changes: two POSTs, two servers.
		a1 := a.do(http.MethodPost, path, `{"name":"free"}`).json(t)["id"]
		a2 := a.do(http.MethodPost, path, `{"name":"free"}`).json(t)["id"]
		if a1 == a2 {
			t.Error("two POSTs without a key made one server")
		}
		// After a 4xx the key is free: correct the body and retry with the same key.
		k2 := "key-" + uuid.NewString()
		mustStatus(t, a.do(http.MethodPost, path, `{"name":""}`, "Idempotency-Key", k2), http.StatusBadRequest)
		mustStatus(t, a.do(http.MethodPost, path, `{"name":"fixed"}`, "Idempotency-Key", k2), http.StatusCreated)
		// Keys are per environment.
		other := *a
		other.token = a.createToken("idem-" + uuid.NewString()[:8])
		oacc := other.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`, "Idempotency-Key", key)
		mustStatus(t, oacc, http.StatusCreated)
		if oacc.header.Get("Idempotent-Replayed") != "" {
			t.Error("a key of another environment was replayed")
		}
		// The key itself is validated.
		mustStatus(t, a.do(http.MethodPost, path, `{"name":"x"}`, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest)
		// A retry while the first request still holds the key waits, then gets 409 (SQLite only:
		// the wait is the full 10 seconds).
		if strings.HasPrefix(dbURL, "sqlite") {
			st := storetest.OpenStore(t, dbURL)
			env, err := st.EnsureEnvironment(context.Background(), a.env)
			if err != nil {
				t.Fatal(err)
			}
			k4 := "key-" + uuid.NewString()
			sum := sha256.Sum256([]byte(`{"name":"slow"}`))
			if _, ok, err := st.ReserveIdempotencyKey(context.Background(), env, k4,
				store.IdempotencyRequest{Method: http.MethodPost, Path: path, Fingerprint: sum[:]}, time.Hour, time.Hour); err != nil || !ok {
				t.Fatalf("reserve: %v %v", ok, err)
			}
			start := time.Now()
			r := a.do(http.MethodPost, path, `{"name":"slow"}`, "Idempotency-Key", k4)
			mustStatus(t, r, http.StatusConflict)
			if waited := time.Since(start); waited < 9*time.Second || r.header.Get("Retry-After") == "" {
				t.Errorf("409 after %v with Retry-After %q; want a wait of about 10s", waited, r.header.Get("Retry-After"))
			}
		}
		// Integrated accounts replay too.
		k3 := "key-" + uuid.NewString()
		first := a.do(http.MethodPost, "/integrated-account", `{"integration":"helpdesk"}`, "Idempotency-Key", k3)
		second := a.do(http.MethodPost, "/integrated-account", `{"integration":"helpdesk"}`, "Idempotency-Key", k3)
		var f, s map[string]any
		_ = json.Unmarshal(first.body, &f)
		_ = json.Unmarshal(second.body, &s)
		if first.status != 201 || second.status != 201 || f["id"] != s["id"] || second.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("account replay: %d %s / %d %s", first.status, first.body, second.status, second.body)
		}
	})
}
