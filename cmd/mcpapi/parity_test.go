package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

func (a *app) serversPath(acc uuid.UUID) string {
	return "/integrated-account/" + acc.String() + "/mcp"
}

// TestToolExposureAndAPITokenAuth: both members are stored and returned (defaults included),
// patched with merge-patch semantics (null resets), and validated.
func TestToolExposureAndAPITokenAuth(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		ctx := context.Background()
		acc := a.newAccount()

		// Absent: the defaults are answered.
		plain := a.newServer(acc)
		if deref(plain.Config.ToolExposure) != model.ToolExposureAll || plain.Config.RequireApiTokenAuth == nil || *plain.Config.RequireApiTokenAuth {
			t.Errorf("defaults: %+v", plain.Config)
		}

		exposure, require, methods := model.ToolExposureDiscovery, true, []string{"read"}
		res, err := a.client.CreateMcpServerWithResponse(ctx, acc, nil, model.McpServerCreate{Name: "disc",
			Config: &model.McpServerConfig{Methods: &methods, ToolExposure: &exposure, RequireApiTokenAuth: &require}})
		if err != nil || res.JSON201 == nil {
			t.Fatalf("create: %v %s", err, res.Body)
		}
		id := res.JSON201.Id
		got := a.getServer(acc, id)
		if deref(got.Config.ToolExposure) != model.ToolExposureDiscovery || !deref(got.Config.RequireApiTokenAuth) {
			t.Errorf("GET after create: %+v", got.Config)
		}
		// The store hands the MCP path both, with the token's target.
		target, err := a.storeOf().ResolveMcpToken(ctx, store.HashSecret(deref(res.JSON201.Token)))
		if err != nil || target.Server.Config.ToolExposure != "discovery" || !target.Server.Config.RequireAPITokenAuth {
			t.Errorf("ResolveMcpToken: %+v %v", target.Server.Config, err)
		}

		path := a.serversPath(acc) + "/" + id.String()
		// A patch of another member keeps them.
		mustStatus(t, a.do(http.MethodPatch, path, `{"config":{"methods":["list"]}}`), http.StatusOK)
		if c := a.getServer(acc, id).Config; deref(c.ToolExposure) != "discovery" || !deref(c.RequireApiTokenAuth) {
			t.Errorf("after a methods patch: %+v", c)
		}
		// Setting a default is the same as null: both reset, and a second time is a no-op.
		r := a.do(http.MethodPatch, path, `{"config":{"tool_exposure":"all","require_api_token_auth":null}}`)
		mustStatus(t, r, http.StatusOK)
		etag := r.header.Get("ETag")
		if c := a.getServer(acc, id).Config; deref(c.ToolExposure) != "all" || deref(c.RequireApiTokenAuth) {
			t.Errorf("after reset: %+v", c)
		}
		r = a.do(http.MethodPatch, path, `{"config":{"tool_exposure":null,"require_api_token_auth":false}}`)
		mustStatus(t, r, http.StatusOK)
		if r.header.Get("ETag") != etag {
			t.Errorf("a patch to the defaults again moved the ETag %s → %s", etag, r.header.Get("ETag"))
		}
		mustStatus(t, a.do(http.MethodPatch, path, `{"config":{"tool_exposure":"discovery","require_api_token_auth":true}}`), http.StatusOK)
		// config: null resets everything, lists included.
		r = a.do(http.MethodPatch, path, `{"config":null}`)
		mustStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"config":{"require_api_token_auth":false,"tool_exposure":"all"}`) {
			t.Errorf("config null: %s", r.body)
		}
		before := a.rawServer(acc, id)
		for _, bad := range []struct{ body, pointer string }{
			{`{"config":{"tool_exposure":"some"}}`, "/config/tool_exposure"},
			{`{"config":{"require_api_token_auth":"yes"}}`, "/config/require_api_token_auth"},
		} {
			r := a.do(http.MethodPatch, path, bad.body)
			mustStatus(t, r, http.StatusBadRequest)
			if !hasPointer(t, r, bad.pointer) {
				t.Errorf("%s: no error at %s: %s", bad.body, bad.pointer, r.body)
			}
		}
		if a.rawServer(acc, id) != before {
			t.Error("a refused patch changed the server")
		}
		r = a.do(http.MethodPost, a.serversPath(acc), `{"name":"x","config":{"tool_exposure":"none"}}`)
		mustStatus(t, r, http.StatusBadRequest)
	})
}

// TestConfigMustAllowSomething: with the check on (the default), a create or a PATCH that sends
// config is refused when the resulting config allows no tool, and the answer names the
// integration's methods and tags; a PATCH without config is not checked. With the check off
// (flag or environment), configs are stored as given.
func TestConfigMustAllowSomething(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		acc := a.newAccount()
		refused := func(r response) {
			t.Helper()
			mustStatus(t, r, http.StatusBadRequest)
			if !hasPointer(t, r, "/config") {
				t.Errorf("no error at /config: %s", r.body)
			}
			detail, _ := r.json(t)["detail"].(string)
			for _, want := range []string{"crm", "list", "search", "delete", "contacts", "companies", "deals"} {
				if !strings.Contains(detail, want) {
					t.Errorf("detail %q does not name %q", detail, want)
				}
			}
		}
		for _, body := range []string{
			`{"name":"x","config":{"methods":[]}}`,
			`{"name":"x","config":{"tags":[]}}`,
			`{"name":"x","config":{"tags":["nomatch","other"]}}`,
			`{"name":"x","config":{"methods":["archive"]}}`,
			`{"name":"x","config":{"methods":["search"],"tags":["deals"]}}`, // each exists, not together
		} {
			refused(a.do(http.MethodPost, a.serversPath(acc), body))
		}
		if n := a.countRows("mcp_servers"); n != 0 {
			t.Fatalf("refused creates stored %d servers", n)
		}
		for _, body := range []string{
			`{"name":"x"}`, `{"name":"x","config":{}}`,
			`{"name":"x","config":{"methods":["search"]}}`,
			`{"name":"x","config":{"methods":["write"],"tags":["Deals","nomatch"]}}`,
		} {
			mustStatus(t, a.do(http.MethodPost, a.serversPath(acc), body), http.StatusCreated)
		}

		// PATCH: the check is on the stored config merged with the patch.
		r := a.do(http.MethodPost, a.serversPath(acc), `{"name":"deals","config":{"tags":["deals"]}}`)
		mustStatus(t, r, http.StatusCreated)
		path := a.serversPath(acc) + "/" + r.json(t)["id"].(string)
		id, _ := uuid.Parse(r.json(t)["id"].(string))
		before := a.rawServer(acc, id)
		refused(a.do(http.MethodPatch, path, `{"config":{"methods":["search"]}}`)) // search AND deals: nothing
		refused(a.do(http.MethodPatch, path, `{"config":{"tags":[]}}`))
		refused(a.do(http.MethodPatch, path, `{"config":{"tags":["nomatch"]}}`))
		refused(a.do(http.MethodPatch, path, `{"name":"renamed","config":{"methods":[]}}`)) // nothing of it applies
		if a.rawServer(acc, id) != before {
			t.Fatal("a refused patch changed the server")
		}
		mustStatus(t, a.do(http.MethodPatch, path, `{"config":{"methods":["search"],"tags":null}}`), http.StatusOK)
		mustStatus(t, a.do(http.MethodPatch, path, `{"config":{"tags":["contacts"]}}`), http.StatusOK)
		// If-Match is decided before the check: a stale version is 412 even for a bad config.
		mustStatus(t, a.do(http.MethodPatch, path, `{"config":{"tags":[]}}`, "If-Match", `"1"`), http.StatusPreconditionFailed)

		// A PATCH without config is not checked: a server stored by a server with the check off
		// (below, same database) keeps being renameable.
		off := startApp(t, dbURL, "--ai-ready-check=false")
		offAcc := off.newAccount()
		r = off.do(http.MethodPost, off.serversPath(offAcc), `{"name":"none","config":{"methods":[],"tags":["nomatch"]}}`)
		mustStatus(t, r, http.StatusCreated)
		if !strings.Contains(string(r.body), `"methods":[],"require_api_token_auth":false,"tags":["nomatch"]`) {
			t.Errorf("check off: config not stored as given: %s", r.body)
		}
		offPath := off.serversPath(offAcc) + "/" + r.json(t)["id"].(string)
		mustStatus(t, off.do(http.MethodPatch, offPath, `{"config":{"tags":[]}}`), http.StatusOK)
		// The same server, seen by the instance with the check on.
		on := &app{t: t, base: a.base, http: a.http, token: off.token, dbURL: dbURL}
		mustStatus(t, on.do(http.MethodPatch, offPath, `{"name":"renamed"}`), http.StatusOK)
		refused(on.do(http.MethodPatch, offPath, `{"config":{"tool_exposure":"discovery"}}`))

		// MCPAPI_AI_READY_CHECK=false does what the flag does.
		env := serveApp(t, dbURL, func(k string) string {
			if k == "MCPAPI_AI_READY_CHECK" {
				return "false"
			}
			return ""
		})
		env.token = off.token
		mustStatus(t, env.do(http.MethodPost, off.serversPath(offAcc), `{"name":"none2","config":{"tags":[]}}`), http.StatusCreated)
	})
}

// TestExpiry: expires_at must be at least 60 s ahead; from the instant it passes the server is
// gone everywhere, cannot be revived, and the sweeper removes its row.
func TestExpiry(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL, "--sweep-interval", "200ms")
		acc := a.newAccount()
		at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339Nano) }
		for _, d := range []time.Duration{-time.Hour, 0, 30 * time.Second, 58 * time.Second} {
			r := a.do(http.MethodPost, a.serversPath(acc), `{"name":"x","expires_at":"`+at(d)+`"}`)
			mustStatus(t, r, http.StatusUnprocessableEntity)
			if !hasPointer(t, r, "/expires_at") {
				t.Errorf("%v: no error at /expires_at: %s", d, r.body)
			}
		}
		r := a.do(http.MethodPost, a.serversPath(acc), `{"name":"x","expires_at":"`+at(62*time.Second)+`"}`)
		mustStatus(t, r, http.StatusCreated)
		created := r.json(t)
		id, token := created["id"].(string), created["token"].(string)
		path := a.serversPath(acc) + "/" + id
		r = a.do(http.MethodPatch, path, `{"expires_at":"`+at(30*time.Second)+`"}`)
		mustStatus(t, r, http.StatusUnprocessableEntity)
		mustStatus(t, a.do(http.MethodPatch, path, `{"expires_at":"`+at(time.Hour)+`"}`), http.StatusOK)
		other := a.newServer(acc) // never expires: stays

		// Time passes (in the database); the server is gone at once, everywhere.
		a.setExpiry(id, time.Now().Add(-time.Millisecond))
		mustStatus(t, a.do(http.MethodGet, path, ""), http.StatusNotFound)
		mustStatus(t, a.do(http.MethodPatch, path, `{"expires_at":"`+at(time.Hour)+`"}`), http.StatusNotFound) // no revival
		mustStatus(t, a.do(http.MethodPatch, path, `{"expires_at":null}`), http.StatusNotFound)
		mustStatus(t, a.do(http.MethodPost, path+"/token", ""), http.StatusNotFound)
		mustStatus(t, a.do(http.MethodDelete, path, "", "If-Match", "*"), http.StatusNotFound)
		list := a.do(http.MethodGet, a.serversPath(acc), "")
		mustStatus(t, list, http.StatusOK)
		if strings.Contains(string(list.body), id) || !strings.Contains(string(list.body), other.Id.String()) {
			t.Errorf("list: %s", list.body)
		}
		mcp := a.do(http.MethodPost, "/mcp/"+token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Authorization", "",
			"Accept", "application/json, text/event-stream")
		mustStatus(t, mcp, http.StatusUnauthorized)
		// Expired servers do not count against the per-account bound (see TestMaxServersPerAccount).

		// The sweeper (every 200 ms here) removes the row, and only that one.
		deadline := time.Now().Add(10 * time.Second)
		for a.countRows("mcp_servers") != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("the sweeper did not remove the expired row: %d rows", a.countRows("mcp_servers"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		mustStatus(t, a.do(http.MethodGet, a.serversPath(acc)+"/"+other.Id.String(), ""), http.StatusOK)
	})
}

// TestMaxServersPerAccount: over --max-mcp-servers-per-account a create is 409 naming the
// limit; of concurrent creates at the limit exactly one wins; expired servers do not count.
func TestMaxServersPerAccount(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL, "--max-mcp-servers-per-account", "3")
		acc, acc2 := a.newAccount(), a.newAccount()
		var ids []string
		for range 2 {
			ids = append(ids, a.newServer(acc).Id.String())
		}
		// 12 concurrent creates for the last place: exactly one wins.
		statuses := race(12, func(i int) int {
			return a.do(http.MethodPost, a.serversPath(acc), fmt.Sprintf(`{"name":"r%d"}`, i)).status
		})
		if statuses[http.StatusCreated] != 1 || statuses[http.StatusConflict] != 11 {
			t.Fatalf("concurrent creates at the limit: %v, want one 201 and eleven 409", statuses)
		}
		r := a.do(http.MethodPost, a.serversPath(acc), `{"name":"over"}`)
		mustStatus(t, r, http.StatusConflict)
		if detail, _ := r.json(t)["detail"].(string); !strings.Contains(detail, "3") || !strings.Contains(detail, "max-mcp-servers-per-account") {
			t.Errorf("the 409 does not name the limit: %s", r.body)
		}
		if r.header.Get("Retry-After") == "" || r.json(t)["request_id"] == nil {
			t.Errorf("409 without Retry-After or request_id: %v %s", r.header, r.body)
		}
		list := a.do(http.MethodGet, a.serversPath(acc), "")
		if n := strings.Count(string(list.body), `"created_by"`); n != 3 {
			t.Errorf("%d servers, want 3", n)
		}
		// Another account has its own bound.
		a.newServer(acc2)
		// A deleted or an expired server frees its place.
		mustStatus(t, a.do(http.MethodDelete, a.serversPath(acc)+"/"+ids[0], ""), http.StatusOK)
		a.newServer(acc)
		mustStatus(t, a.do(http.MethodPost, a.serversPath(acc), `{"name":"over"}`), http.StatusConflict)
		a.setExpiry(ids[1], time.Now().Add(-time.Second))
		a.newServer(acc)
	})
}

// TestEmptyCursor: next_cursor= (empty), as the platform's TypeScript SDK sends for the first
// page, is the first page on every list.
func TestEmptyCursor(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL)
		acc := a.newAccount()
		srv := a.newServer(acc)
		for _, c := range []struct{ path, want string }{
			{"/integrated-account?next_cursor=", acc.String()},
			{"/integrated-account?limit=5&next_cursor=", acc.String()},
			{a.serversPath(acc) + "?next_cursor=", srv.Id.String()},
			{"/log?log_type=mcp&next_cursor=", `"result":[]`},
		} {
			r := a.do(http.MethodGet, c.path, "")
			mustStatus(t, r, http.StatusOK)
			if !strings.Contains(string(r.body), c.want) {
				t.Errorf("%s: %s lacks %s", c.path, r.body, c.want)
			}
		}
		mustStatus(t, a.do(http.MethodGet, "/integrated-account?next_cursor=bogus", ""), http.StatusBadRequest)
	})
}
