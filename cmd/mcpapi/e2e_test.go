package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/store/storetest"
)

func TestLifecycle(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL, "--ai-ready-check=false") // PATCH semantics with any names, not the catalogue
		ctx := context.Background()

		acc := a.newAccount()
		methods := []string{"GET", "POST", "get", "READ", "DOWNLAOD"}
		expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		created, err := a.client.CreateMcpServerWithResponse(ctx, acc, nil, model.McpServerCreate{
			Name: "Read-only HubSpot", Config: &model.McpServerConfig{Methods: &methods}, ExpiresAt: &expires,
		})
		if err != nil || created.JSON201 == nil {
			t.Fatalf("create: %v %s", err, created.Body)
		}
		srv := *created.JSON201
		token, url := deref(srv.Token), deref(srv.Url)
		h := created.HTTPResponse.Header
		if got, want := h.Get("Location"), "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(); got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
		}
		if !strings.HasPrefix(token, "mcp_") || len(token) < 40 {
			t.Errorf("token %q is not a long random mcp_ token", token)
		}
		if url != a.base+"/mcp/"+token {
			t.Errorf("url %q, want %q", url, a.base+"/mcp/"+token)
		}
		if got := deref(srv.Config.Methods); !slices.Equal(got, []string{"get", "post", "read", "downlaod"}) {
			t.Errorf("methods %v, want normalised [get post read downlaod]", got)
		}
		if srv.Config.Tags != nil {
			t.Errorf("tags %v, want absent (unrestricted)", *srv.Config.Tags)
		}
		if e, err := srv.ExpiresAt.Get(); err != nil || !e.Equal(expires) {
			t.Errorf("expires_at %v, want %v", e, expires)
		}

		// GET never shows the token, and returns what the create returned.
		got := a.do(http.MethodGet, "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(), "")
		mustStatus(t, got, http.StatusOK)
		if strings.Contains(string(got.body), token) || strings.Contains(string(got.body), `"token"`) {
			t.Errorf("GET leaks the token: %s", got.body)
		}
		g := a.getServer(acc, srv.Id)
		if !g.CreatedAt.Equal(srv.CreatedAt) || !g.UpdatedAt.Equal(srv.UpdatedAt) || g.Name != srv.Name {
			t.Errorf("GET %+v differs from create %+v", g, srv)
		}

		// PATCH the name, then config.tags: each leaves the rest as it was.
		name := "Updated MCP server"
		p1, err := a.client.UpdateMcpServerWithResponse(ctx, acc, srv.Id, nil, model.McpServerPatch{Name: &name})
		if err != nil || p1.JSON200 == nil {
			t.Fatalf("patch name: %v %s", err, p1.Body)
		}
		if p1.JSON200.Name != name || !slices.Equal(deref(p1.JSON200.Config.Methods), []string{"get", "post", "read", "downlaod"}) {
			t.Errorf("after name patch: %+v", p1.JSON200)
		}
		if !p1.JSON200.UpdatedAt.After(srv.UpdatedAt) {
			t.Errorf("updated_at did not move: %v → %v", srv.UpdatedAt, p1.JSON200.UpdatedAt)
		}
		r := a.do(http.MethodPatch, "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(),
			`{"config":{"tags":["API","webhook","custom","api"]}}`, "Content-Type", "application/merge-patch+json")
		mustStatus(t, r, http.StatusOK)
		after := a.getServer(acc, srv.Id)
		if !slices.Equal(deref(after.Config.Tags), []string{"api", "webhook", "custom"}) ||
			!slices.Equal(deref(after.Config.Methods), []string{"get", "post", "read", "downlaod"}) || after.Name != name {
			t.Errorf("after tags patch: %+v", after)
		}
		if after.Id != srv.Id || after.IntegratedAccountId != acc || after.CreatedBy != srv.CreatedBy || !after.CreatedAt.Equal(srv.CreatedAt) {
			t.Errorf("immutable members changed: %+v vs %+v", after, srv)
		}

		// List shows it; delete removes it; a second delete is 404.
		list, err := a.client.ListMcpServersWithResponse(ctx, acc, nil)
		if err != nil || list.JSON200 == nil || len(list.JSON200.Result) != 1 || list.JSON200.NextCursor.IsSpecified() && !list.JSON200.NextCursor.IsNull() {
			t.Fatalf("list: %v %s", err, list.Body)
		}
		del, err := a.client.DeleteMcpServerWithResponse(ctx, acc, srv.Id, nil)
		if err != nil || del.JSON200 == nil || del.JSON200.Id != srv.Id {
			t.Fatalf("delete: %v %s", err, del.Body)
		}
		mustStatus(t, a.do(http.MethodGet, "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(), ""), http.StatusNotFound)
		mustStatus(t, a.do(http.MethodDelete, "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(), ""), http.StatusNotFound)

		// Deleting the account takes its servers with it.
		s2 := a.newServer(acc)
		mustStatus(t, a.do(http.MethodDelete, "/integrated-account/"+acc.String(), ""), http.StatusOK)
		mustStatus(t, a.do(http.MethodGet, "/integrated-account/"+acc.String()+"/mcp/"+s2.Id.String(), ""), http.StatusNotFound)
		mustStatus(t, a.do(http.MethodGet, "/integrated-account/"+acc.String(), ""), http.StatusNotFound)
		mustStatus(t, a.do(http.MethodDelete, "/integrated-account/"+acc.String(), ""), http.StatusNotFound)
	})
}

func TestIntegratedAccounts(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		r := a.do(http.MethodPost, "/integrated-account", `{"integration":"crm"}`)
		mustStatus(t, r, http.StatusCreated)
		body := r.json(t)
		if body["tenant_id"] != nil {
			t.Errorf("tenant_id %v, want null", body["tenant_id"])
		}
		if r.header.Get("Location") != "/integrated-account/"+body["id"].(string) {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		for _, bad := range []string{`{}`, `{"integration":""}`, `{"integration":"` + strings.Repeat("x", 65) + `"}`,
			`{"integration":"x","tenant_id":"` + strings.Repeat("t", 129) + `"}`, `{"integration":"x","extra":1}`, `{"integration":7}`} {
			mustStatus(t, a.do(http.MethodPost, "/integrated-account", bad), http.StatusBadRequest)
		}
		// Pagination over accounts.
		for range 4 {
			a.newAccount()
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			path := "/integrated-account?limit=2"
			if cursor != "" {
				path += "&next_cursor=" + cursor
			}
			r := a.do(http.MethodGet, path, "")
			mustStatus(t, r, http.StatusOK)
			var page struct {
				Result []struct {
					ID string `json:"id"`
				} `json:"result"`
				NextCursor *string `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Result {
				if seen[it.ID] {
					t.Fatalf("account %s listed twice", it.ID)
				}
				seen[it.ID] = true
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(seen) != 5 {
			t.Errorf("listed %d accounts, want 5", len(seen))
		}
	})
}

// TestPatchMatrix: each member × absent / null / value / invalid, plus the body-level cases.
// Every failing case must leave the stored row byte-for-byte as it was.
func TestPatchMatrix(t *testing.T) {
	future := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Microsecond)
	futureText := future.Format(time.RFC3339Nano)
	type check func(t *testing.T, before, after model.McpServer)
	unchanged := func(t *testing.T, before, after model.McpServer) {
		if !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("updated_at moved on a no-op: %v → %v", before.UpdatedAt, after.UpdatedAt)
		}
	}
	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		pointer     string // for 4xx: a FieldError with this pointer must be present
		check       check
	}{
		{name: "empty patch", body: `{}`, status: 200, check: unchanged},
		{name: "name value", body: `{"name":"renamed"}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if a.Name != "renamed" || !a.UpdatedAt.After(b.UpdatedAt) || !slices.Equal(deref(a.Config.Methods), deref(b.Config.Methods)) {
				t.Errorf("got %+v", a)
			}
		}},
		{name: "name same value", body: `{"name":"srv"}`, status: 200, check: unchanged},
		{name: "name null", body: `{"name":null}`, status: 400, pointer: "/name"},
		{name: "name number", body: `{"name":12}`, status: 400, pointer: "/name"},
		{name: "name empty", body: `{"name":""}`, status: 400, pointer: "/name"},
		{name: "name too long", body: `{"name":"` + strings.Repeat("n", 256) + `"}`, status: 400, pointer: "/name"},
		{name: "name longest", body: `{"name":"` + strings.Repeat("n", 255) + `"}`, status: 200},
		{name: "methods value", body: `{"config":{"methods":["GET","POST","READ","DOWNLAOD","get"]}}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if !slices.Equal(deref(a.Config.Methods), []string{"get", "post", "read", "downlaod"}) || !slices.Equal(deref(a.Config.Tags), []string{"contacts"}) {
				t.Errorf("config %+v", a.Config)
			}
		}},
		{name: "methods same value", body: `{"config":{"methods":["LIST"]}}`, status: 200, check: unchanged},
		{name: "methods empty list", body: `{"config":{"methods":[]}}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if a.Config.Methods == nil || len(*a.Config.Methods) != 0 {
				t.Errorf("methods %v, want []", a.Config.Methods)
			}
		}},
		{name: "methods null", body: `{"config":{"methods":null}}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if a.Config.Methods != nil || !slices.Equal(deref(a.Config.Tags), []string{"contacts"}) {
				t.Errorf("config %+v", a.Config)
			}
		}},
		{name: "methods not a list", body: `{"config":{"methods":"get"}}`, status: 400, pointer: "/config/methods"},
		{name: "methods bad item", body: `{"config":{"methods":["-get"]}}`, status: 400, pointer: "/config/methods/0"},
		{name: "methods item too long", body: `{"config":{"methods":["` + strings.Repeat("m", 65) + `"]}}`, status: 400, pointer: "/config/methods/0"},
		{name: "tags value", body: `{"config":{"tags":["Deals","deals","crm.v2:x_y-z"]}}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if !slices.Equal(deref(a.Config.Tags), []string{"deals", "crm.v2:x_y-z"}) || !slices.Equal(deref(a.Config.Methods), []string{"list"}) {
				t.Errorf("config %+v", a.Config)
			}
		}},
		{name: "tags null", body: `{"config":{"tags":null}}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if a.Config.Tags != nil || !slices.Equal(deref(a.Config.Methods), []string{"list"}) {
				t.Errorf("config %+v", a.Config)
			}
		}},
		{name: "tags too many", body: `{"config":{"tags":[` + strings.TrimSuffix(strings.Repeat(`"t",`, 51), ",") + `]}}`, status: 400, pointer: "/config/tags"},
		{name: "tags fifty", body: `{"config":{"tags":[` + fiftyTags() + `]}}`, status: 200},
		{name: "config null", body: `{"config":null}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if a.Config.Methods != nil || a.Config.Tags != nil {
				t.Errorf("config %+v, want {}", a.Config)
			}
		}},
		{name: "config empty object", body: `{"config":{}}`, status: 200, check: unchanged},
		{name: "config not an object", body: `{"config":"x"}`, status: 400, pointer: "/config"},
		{name: "config unknown member", body: `{"config":{"scopes":["x"]}}`, status: 400, pointer: "/config/scopes"},
		{name: "expires value", body: `{"expires_at":"` + futureText + `"}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if e, err := a.ExpiresAt.Get(); err != nil || !e.Equal(future) {
				t.Errorf("expires_at %v, want %v", e, future)
			}
		}},
		{name: "expires offset", body: `{"expires_at":"` + future.In(time.FixedZone("x", 5*3600)).Format(time.RFC3339Nano) + `"}`, status: 200, check: func(t *testing.T, b, a model.McpServer) {
			if e, err := a.ExpiresAt.Get(); err != nil || !e.Equal(future) || e.Location() != time.UTC {
				t.Errorf("expires_at %v, want %v in UTC", e, future)
			}
		}},
		{name: "expires null", body: `{"expires_at":null}`, status: 200, check: unchanged},
		{name: "expires past", body: `{"expires_at":"2020-01-01T00:00:00Z"}`, status: 422, pointer: "/expires_at"},
		{name: "expires garbage", body: `{"expires_at":"tomorrow"}`, status: 400, pointer: "/expires_at"},
		{name: "expires leap second", body: `{"expires_at":"2030-12-31T23:59:60Z"}`, status: 400, pointer: "/expires_at"},
		{name: "read-only id", body: `{"id":"` + uuid.NewString() + `"}`, status: 400, pointer: "/id"},
		{name: "read-only created_at", body: `{"created_at":"2030-01-01T00:00:00Z","name":"x"}`, status: 400, pointer: "/created_at"},
		{name: "unknown member", body: `{"token":"x"}`, status: 400, pointer: "/token"},
		{name: "case-folded member", body: `{"NAME":"x"}`, status: 400, pointer: "/NAME"},
		{name: "not an object", body: `["name"]`, status: 400},
		{name: "malformed", body: `{"name":`, status: 400},
		{name: "trailing garbage", body: `{"name":"x"} x`, status: 400},
		{name: "duplicate member", body: `{"name":"x","name":"y"}`, status: 400, pointer: "/name"},
		{name: "NUL in string", body: `{"name":"a\u0000b"}`, status: 400, pointer: "/name"},
		{name: "text/plain", body: `{"name":"x"}`, contentType: "text/plain", status: 415},
		{name: "merge-patch", body: `{"name":"mp"}`, contentType: "application/merge-patch+json", status: 200},
		{name: "charset param", body: `{"name":"cs"}`, contentType: "application/json; charset=utf-8", status: 200},
		{name: "upper-case media type", body: `{"name":"uc"}`, contentType: "Application/JSON", status: 200},
	}
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL, "--ai-ready-check=false") // PATCH semantics with any names, not the catalogue
		acc := a.newAccount()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				srv := a.newServer(acc)
				before := a.getServer(acc, srv.Id)
				beforeRaw := a.rawServer(acc, srv.Id)
				ct := tc.contentType
				if ct == "" {
					ct = "application/json"
				}
				r := a.do(http.MethodPatch, "/integrated-account/"+acc.String()+"/mcp/"+srv.Id.String(), tc.body, "Content-Type", ct)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if tc.status >= 400 {
					if got := a.rawServer(acc, srv.Id); got != beforeRaw {
						t.Errorf("a %d changed the row:\nbefore %s\nafter  %s", tc.status, beforeRaw, got)
					}
					if tc.pointer != "" && !hasPointer(t, r, tc.pointer) {
						t.Errorf("no error with pointer %q: %s", tc.pointer, r.body)
					}
					return
				}
				var patched model.McpServer
				if err := json.Unmarshal(r.body, &patched); err != nil {
					t.Fatal(err)
				}
				after := a.getServer(acc, srv.Id)
				if !after.UpdatedAt.Equal(patched.UpdatedAt) || after.Name != patched.Name {
					t.Errorf("PATCH answered %+v but GET has %+v", patched, after)
				}
				if tc.check != nil {
					tc.check(t, before, after)
				}
			})
		}
	})
}

func fiftyTags() string {
	var s []string
	for i := range 50 {
		s = append(s, fmt.Sprintf(`"t%d"`, i))
	}
	return strings.Join(s, ",")
}

func hasPointer(t *testing.T, r response, pointer string) bool {
	t.Helper()
	var p struct {
		Errors []struct {
			Pointer string `json:"pointer"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	for _, e := range p.Errors {
		if e.Pointer == pointer {
			return true
		}
	}
	return false
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
