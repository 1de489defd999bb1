package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// TestTenancy: a second environment's token sees 404 for everything of the first, exactly like a
// missing resource, and changes nothing.
func TestTenancy(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		acc := a.newAccount()
		srv := a.newServer(acc)
		before := a.rawServer(acc, srv.Id)

		other := *a
		other.token = a.createToken("other-" + uuid.NewString()[:8])
		missing := uuid.New()
		srvPath := "/integrated-account/" + acc.String() + "/mcp/" + srv.Id.String()
		for _, c := range []struct{ method, path, body string }{
			{http.MethodGet, "/integrated-account/" + acc.String(), ""},
			{http.MethodDelete, "/integrated-account/" + acc.String(), ""},
			{http.MethodGet, "/integrated-account/" + acc.String() + "/mcp", ""},
			{http.MethodPost, "/integrated-account/" + acc.String() + "/mcp", `{"name":"intruder"}`},
			{http.MethodGet, srvPath, ""},
			{http.MethodPatch, srvPath, `{"name":"stolen"}`},
			{http.MethodDelete, srvPath, ""},
		} {
			r := other.do(c.method, c.path, c.body)
			mustStatus(t, r, http.StatusNotFound)
			// The same request for a resource that does not exist at all looks the same.
			p := strings.Replace(c.path, srv.Id.String(), missing.String(), 1)
			if p == c.path {
				p = strings.Replace(c.path, acc.String(), missing.String(), 1)
			}
			own := a.do(c.method, p, c.body)
			mustStatus(t, own, http.StatusNotFound)
			if shape(t, r) != shape(t, own) {
				t.Errorf("%s %s: foreign 404 %s differs from missing 404 %s", c.method, c.path, r.body, own.body)
			}
		}
		list := other.do(http.MethodGet, "/integrated-account", "")
		mustStatus(t, list, http.StatusOK)
		if strings.Contains(string(list.body), acc.String()) {
			t.Errorf("foreign list shows the account: %s", list.body)
		}
		if after := a.rawServer(acc, srv.Id); after != before {
			t.Errorf("foreign requests changed the server:\n%s\n%s", before, after)
		}
	})
}

// shape is a problem document without what names the request.
func shape(t *testing.T, r response) string {
	m := r.json(t)
	delete(m, "instance")
	delete(m, "request_id")
	b, _ := json.Marshal(m)
	return string(b)
}

func TestAuth(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		for _, c := range []struct{ name, header string }{
			{"missing", ""},
			{"not bearer", "Basic dXNlcjpwYXNz"},
			{"empty bearer", "Bearer "},
			{"unknown token", "Bearer mcpapi_" + strings.Repeat("A", 43)},
		} {
			r := a.do(http.MethodGet, "/integrated-account", "", "Authorization", c.header)
			if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: status %d, WWW-Authenticate %q", c.name, r.status, r.header.Get("WWW-Authenticate"))
			}
		}
		mustStatus(t, a.do(http.MethodGet, "/integrated-account", "", "Authorization", "bearer "+a.token), http.StatusOK)

		// A revoked token fails at once (the test server runs with --auth-cache-ttl 0).
		tok := a.createToken(a.env)
		mustStatus(t, a.do(http.MethodGet, "/integrated-account", "", "Authorization", "Bearer "+tok), http.StatusOK)
		list, err := a.cli("token", "list", "--environment", a.env)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(list, tok) || strings.Contains(list, a.token) {
			t.Fatalf("token list shows a secret:\n%s", list)
		}
		lines := strings.Split(strings.TrimSpace(list), "\n")
		if len(lines) != 3 {
			t.Fatalf("token list: want a header and 2 tokens:\n%s", list)
		}
		id := strings.Fields(lines[2])[0]
		if _, err := a.cli("token", "revoke", id); err != nil {
			t.Fatal(err)
		}
		r := a.do(http.MethodGet, "/integrated-account", "", "Authorization", "Bearer "+tok)
		mustStatus(t, r, http.StatusUnauthorized)
		mustStatus(t, a.do(http.MethodGet, "/integrated-account", ""), http.StatusOK) // the other one still works
	})
}

func TestCreateMcpServerValidation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL, "--ai-ready-check=false") // the check off: configs stored as given, [] included
		acc := a.newAccount()
		path := "/integrated-account/" + acc.String() + "/mcp"
		for _, c := range []struct {
			body    string
			status  int
			pointer string
		}{
			{`{}`, 400, "/name"},
			{`{"name":"x","config":{"tags":["a"],"extra":true}}`, 400, "/config/extra"},
			{`{"name":"x","id":"` + uuid.NewString() + `"}`, 400, "/id"},
			{`{"name":"` + strings.Repeat("n", 256) + `"}`, 400, "/name"},
			{`{"name":"x","config":{"tags":[` + strings.TrimSuffix(strings.Repeat(`"t",`, 51), ",") + `]}}`, 400, "/config/tags"},
			{`{"name":"x","config":{"methods":null}}`, 400, "/config/methods"},
			{`{"name":"x","expires_at":"2001-01-01T00:00:00Z"}`, 422, "/expires_at"},
			{`{"name":"x","expires_at":null}`, 400, "/expires_at"},
			{`{"name":"x"`, 400, ""},
		} {
			r := a.do(http.MethodPost, path, c.body)
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.body, r.status, c.status, r.body)
				continue
			}
			if c.pointer != "" && !hasPointer(t, r, c.pointer) {
				t.Errorf("%s: no error at %s: %s", c.body, c.pointer, r.body)
			}
		}
		list := a.do(http.MethodGet, path, "")
		mustStatus(t, list, http.StatusOK)
		if !strings.Contains(string(list.body), `"result":[]`) {
			t.Errorf("failed creates stored something: %s", list.body)
		}
		mustStatus(t, a.do(http.MethodPost, "/integrated-account/"+uuid.NewString()+"/mcp", `{"name":"x"}`), http.StatusNotFound)
		mustStatus(t, a.do(http.MethodPost, path, `{"name":"x"}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
		// With the check off an empty list is stored as given: it allows nothing.
		r := a.do(http.MethodPost, path, `{"name":"none","config":{"methods":[]}}`)
		mustStatus(t, r, http.StatusCreated)
		if !strings.Contains(string(r.body), `"config":{"methods":[],"require_api_token_auth":false,"tool_exposure":"all"}`) || !strings.Contains(string(r.body), `"expires_at":null`) {
			t.Errorf("create answered %s", r.body)
		}
	})
}

func TestListMcpServersPagination(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		ctx := context.Background()
		acc := a.newAccount()
		var want []uuid.UUID
		for range 25 {
			want = append(want, a.newServer(acc).Id)
		}
		var got []uuid.UUID
		var cursor *string
		limit := 10
		for pages := 1; ; pages++ {
			res, err := a.client.ListMcpServersWithResponse(ctx, acc, &model.ListMcpServersParams{Limit: &limit, NextCursor: cursor})
			if err != nil || res.JSON200 == nil {
				t.Fatalf("list: %v %s", err, res.Body)
			}
			for _, s := range res.JSON200.Result {
				got = append(got, s.Id)
			}
			if pages == 1 {
				// A server created mid-way lands after the ones already listed, never twice.
				want = append(want, a.newServer(acc).Id)
			}
			if res.JSON200.NextCursor.IsNull() || !res.JSON200.NextCursor.IsSpecified() {
				break
			}
			c := res.JSON200.NextCursor.MustGet()
			cursor = &c
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("listed %d servers %v\nwant %d in creation order %v", len(got), got, len(want), want)
		}
		path := "/integrated-account/" + acc.String() + "/mcp"
		for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?next_cursor=garbage", "?next_cursor=" + strings.Repeat("A", 300)} {
			mustStatus(t, a.do(http.MethodGet, path+q, ""), http.StatusBadRequest)
		}
		// A truncated real cursor is refused too.
		first := a.do(http.MethodGet, path+"?limit=1", "")
		var page struct {
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(first.body, &page); err != nil || page.NextCursor == "" {
			t.Fatalf("no cursor: %s", first.body)
		}
		mustStatus(t, a.do(http.MethodGet, path+"?next_cursor="+page.NextCursor[:len(page.NextCursor)-3], ""), http.StatusBadRequest)
		mustStatus(t, a.do(http.MethodGet, "/integrated-account/"+uuid.NewString()+"/mcp", ""), http.StatusNotFound)
	})
}

// TestConcurrentPatches: PATCHes of different members at once all take effect; nothing is lost
// to a read-modify-write race.
func TestConcurrentPatches(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL, "--ai-ready-check=false") // PATCH semantics with any names, not the catalogue
		acc := a.newAccount()
		base := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)

		// 52 goroutines on one server, each sending one member, cycling over the four.
		srv := a.newServer(acc)
		path := "/integrated-account/" + acc.String() + "/mcp/" + srv.Id.String()
		sent := map[string]map[string]bool{"name": {}, "methods": {}, "tags": {}, "expires_at": {}}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range 52 {
			member, body, value := memberPatch(i, base)
			sent[member][value] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := a.do(http.MethodPatch, path, body)
				if r.status != http.StatusOK {
					mu.Lock()
					t.Errorf("PATCH %s: %d %s", body, r.status, r.body)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		final := a.getServer(acc, srv.Id)
		e, _ := final.ExpiresAt.Get()
		for member, got := range map[string]string{
			"name": final.Name, "methods": strings.Join(deref(final.Config.Methods), ","),
			"tags": strings.Join(deref(final.Config.Tags), ","), "expires_at": e.UTC().Format(time.RFC3339),
		} {
			if !sent[member][got] {
				t.Errorf("%s holds %q, which no PATCH sent", member, got)
			}
		}

		// 30 fresh servers, one goroutine per member at once: every change is present every time.
		for round := range 30 {
			s := a.newServer(acc)
			p := "/integrated-account/" + acc.String() + "/mcp/" + s.Id.String()
			exp := base.Add(time.Duration(round) * time.Minute)
			bodies := []string{
				fmt.Sprintf(`{"name":"round-%d"}`, round),
				fmt.Sprintf(`{"config":{"methods":["m%d"]}}`, round),
				fmt.Sprintf(`{"config":{"tags":["t%d"]}}`, round),
				fmt.Sprintf(`{"expires_at":"%s"}`, exp.Format(time.RFC3339)),
			}
			var wg sync.WaitGroup
			for _, b := range bodies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if r := a.do(http.MethodPatch, p, b); r.status != http.StatusOK {
						mu.Lock()
						t.Errorf("PATCH %s: %d %s", b, r.status, r.body)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			got := a.getServer(acc, s.Id)
			ge, _ := got.ExpiresAt.Get()
			if got.Name != fmt.Sprintf("round-%d", round) || !slices.Equal(deref(got.Config.Methods), []string{fmt.Sprintf("m%d", round)}) ||
				!slices.Equal(deref(got.Config.Tags), []string{fmt.Sprintf("t%d", round)}) || !ge.Equal(exp) {
				t.Fatalf("round %d lost an update: %+v (expires %v)", round, got, ge)
			}
		}
	})
}

// memberPatch is the i-th concurrent patch: its member, its body and the value it sets.
func memberPatch(i int, base time.Time) (member, body, value string) {
	switch i % 4 {
	case 0:
		v := fmt.Sprintf("name-%d", i)
		return "name", fmt.Sprintf(`{"name":%q}`, v), v
	case 1:
		v := fmt.Sprintf("m%d", i)
		return "methods", fmt.Sprintf(`{"config":{"methods":[%q]}}`, v), v
	case 2:
		v := fmt.Sprintf("t%d", i)
		return "tags", fmt.Sprintf(`{"config":{"tags":[%q]}}`, v), v
	}
	v := base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
	return "expires_at", fmt.Sprintf(`{"expires_at":%q}`, v), v
}
