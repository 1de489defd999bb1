package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// plantLogs stores call logs of env straight into the database, as the MCP path's writer would.
func (a *app) plantLogs(env string, logs []store.CallLog) {
	a.t.Helper()
	st := a.storeOf()
	id, err := st.EnsureEnvironment(context.Background(), env)
	if err != nil {
		a.t.Fatal(err)
	}
	for i := range logs {
		logs[i].EnvironmentID = id
	}
	if err := st.InsertCallLogs(context.Background(), logs); err != nil {
		a.t.Fatal(err)
	}
}

func (a *app) listLogs(p model.ListLogsParams) model.LogList {
	a.t.Helper()
	p.LogType = model.ListLogsParamsLogTypeMcp
	res, err := a.client.ListLogsWithResponse(context.Background(), &p)
	if err != nil || res.JSON200 == nil {
		a.t.Fatalf("list logs: %v %d %s", err, res.StatusCode(), res.Body)
	}
	return *res.JSON200
}

// TestCallLogAPI: GET /log?log_type=mcp filters, pages newest first, stays in the caller's
// environment, bounds its window, and holds no secrets; old records are swept.
func TestCallLogAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dbURL string) {
		a := startApp(t, dbURL, "--log-retention", "720h", "--sweep-interval", "200ms")
		other := a.createToken("other-" + uuid.NewString()[:8])
		now := time.Now().UTC().Truncate(time.Microsecond)
		acc1, acc2 := uuid.New(), uuid.New()
		srv1, srv2 := uuid.New(), uuid.New()
		var logs []store.CallLog
		for i := range 24 {
			l := store.CallLog{IntegratedAccountID: acc1, McpServerID: srv1, Integration: "crm", McpMethod: "tools/call",
				ToolName: "list_crm_contacts", Outcome: store.OutcomeOK, HTTPStatus: 200, DurationMs: int64(i),
				RequestID: "req-" + string(rune('a'+i)), CreatedAt: now.Add(-time.Duration(i) * time.Minute)}
			switch i % 4 {
			case 1:
				l.McpServerID, l.IntegratedAccountID = srv2, acc2
			case 2:
				l.McpMethod, l.ToolName = "tools/list", ""
			case 3:
				l.Outcome, l.HTTPStatus, l.ToolName = store.OutcomeUpstreamError, 200, "get_crm_contact"
			}
			logs = append(logs, l)
		}
		// Two at the same instant: the id orders them.
		logs[23].CreatedAt = logs[22].CreatedAt
		a.plantLogs(a.env, logs)
		// Another environment's records, with the same server id: never seen by a.
		a.plantLogs("other-env", []store.CallLog{{IntegratedAccountID: acc1, McpServerID: srv1, Integration: "crm",
			McpMethod: "tools/call", Outcome: store.OutcomeOK, HTTPStatus: 200, RequestID: "foreign", CreatedAt: now}})
		// One past the retention (30 days): swept; and outside the default window anyway.
		a.plantLogs(a.env, []store.CallLog{{IntegratedAccountID: acc1, McpServerID: srv1, Integration: "crm",
			McpMethod: "tools/call", Outcome: store.OutcomeOK, HTTPStatus: 200, RequestID: "old", CreatedAt: now.Add(-40 * 24 * time.Hour)}})

		// All, newest first, in pages of 10: 10 + 10 + 4, no duplicates, ids strictly descending
		// in (created_at, id).
		var seen []model.McpCallLog
		var cursor *string
		for page := 0; ; page++ {
			limit := 10
			l := a.listLogs(model.ListLogsParams{Limit: &limit, NextCursor: cursor})
			seen = append(seen, l.Result...)
			c, err := l.NextCursor.Get()
			if err != nil {
				break
			}
			cursor = &c
			if page > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(seen) != 24 {
			t.Fatalf("%d records listed, want 24", len(seen))
		}
		for i := 1; i < len(seen); i++ {
			p, c := seen[i-1], seen[i]
			if c.CreatedAt.After(p.CreatedAt) || (c.CreatedAt.Equal(p.CreatedAt) && c.Id.String() >= p.Id.String()) {
				t.Fatalf("not newest first at %d: %v %v / %v %v", i, p.CreatedAt, p.Id, c.CreatedAt, c.Id)
			}
			if c.RequestId == "foreign" || c.RequestId == "old" {
				t.Fatalf("listed %s", c.RequestId)
			}
		}
		if seen[0].DurationMs != 0 || seen[0].LogType != model.McpCallLogLogTypeMcp || seen[0].Integration != "crm" {
			t.Errorf("newest %+v", seen[0])
		}

		count := func(p model.ListLogsParams) int { return len(a.listLogs(p).Result) }
		limit := 100
		tool, method, outcome := "get_crm_contact", "tools/list", model.OutcomeUpstreamError
		for name, c := range map[string]struct {
			p    model.ListLogsParams
			want int
		}{
			"server":  {model.ListLogsParams{McpServerId: &srv2, Limit: &limit}, 6},
			"account": {model.ListLogsParams{IntegratedAccountId: &acc1, Limit: &limit}, 18},
			"tool":    {model.ListLogsParams{ToolName: &tool, Limit: &limit}, 6},
			"method":  {model.ListLogsParams{McpMethod: &method, Limit: &limit}, 6},
			"outcome": {model.ListLogsParams{Outcome: &outcome, Limit: &limit}, 6},
			"and":     {model.ListLogsParams{McpServerId: &srv1, Outcome: &outcome, Limit: &limit}, 6},
			"none":    {model.ListLogsParams{McpServerId: &srv2, McpMethod: &method, Limit: &limit}, 0},
			// created_at[gt] / created_at[lt] as the generated client writes them (deepObject),
			// both exclusive: minutes 5..9 ago.
			"window": {model.ListLogsParams{Limit: &limit, CreatedAt: &model.TimeWindow{
				Gt: new(now.Add(-10 * time.Minute)), Lt: new(now.Add(-4 * time.Minute))}}, 5},
			"since": {model.ListLogsParams{Limit: &limit, CreatedAt: &model.TimeWindow{Gt: new(now.Add(-3*time.Minute - time.Second))}}, 4},
		} {
			if got := count(c.p); got != c.want {
				t.Errorf("%s: %d records, want %d", name, got, c.want)
			}
		}

		// The window and the other parameters are checked.
		q := func(s string) string { return "/log?" + s }
		ts := func(d time.Duration) string { return url.QueryEscape(now.Add(d).Format(time.RFC3339Nano)) }
		for _, c := range []struct{ query, pointer string }{
			{q(""), "log_type"},
			{q("log_type=http"), "log_type"},
			{q("log_type=mcp&created_at[gt]=" + ts(-32*24*time.Hour)), "created_at"},
			{q("log_type=mcp&created_at[gt]=" + ts(-40*24*time.Hour) + "&created_at[lt]=" + ts(-8*24*time.Hour)), "created_at"},
			{q("log_type=mcp&created_at[gt]=" + ts(0) + "&created_at[lt]=" + ts(-time.Hour)), "created_at"},
			{q("log_type=mcp&created_at[gt]=yesterday"), "created_at"},
			{q("log_type=mcp&limit=101"), "limit"},
			{q("log_type=mcp&outcome=fine"), "outcome"},
			{q("log_type=mcp&mcp_server_id=nope"), "mcp_server_id"},
			{q("log_type=mcp&next_cursor=bogus"), "next_cursor"},
		} {
			r := a.do(http.MethodGet, c.query, "")
			mustStatus(t, r, http.StatusBadRequest)
			if !strings.Contains(string(r.body), c.pointer) {
				t.Errorf("%s: the problem does not name %s: %s", c.query, c.pointer, r.body)
			}
		}
		// A 31-day window is fine.
		mustStatus(t, a.do(http.MethodGet, q("log_type=mcp&created_at[gt]="+ts(-31*24*time.Hour)+"&created_at[lt]="+ts(0)), ""), http.StatusOK)

		// Tenancy: the other environment sees only its own record.
		o := a.clientFor(other)
		res, err := o.ListLogsWithResponse(context.Background(), &model.ListLogsParams{LogType: model.ListLogsParamsLogTypeMcp})
		if err != nil || res.JSON200 == nil || len(res.JSON200.Result) != 0 {
			t.Errorf("a fresh environment sees %v %s", err, res.Body)
		}

		// Nothing secret: a record has exactly these members, and the table exactly these columns.
		raw := a.do(http.MethodGet, q("log_type=mcp&limit=1"), "")
		var page struct{ Result []map[string]json.RawMessage }
		if err := json.Unmarshal(raw.body, &page); err != nil || len(page.Result) != 1 {
			t.Fatalf("%v %s", err, raw.body)
		}
		members := slices.Sorted(func(yield func(string) bool) {
			for k := range page.Result[0] {
				if !yield(k) {
					return
				}
			}
		})
		want := []string{"client_name", "client_version", "created_at", "duration_ms", "http_status", "id",
			"integrated_account_id", "integration", "log_type", "mcp_method", "mcp_server_id", "outcome", "request_id",
			"tool_name", "upstream_duration_ms", "upstream_status"}
		if !slices.Equal(members, want) {
			t.Errorf("a record's members %v, want %v", members, want)
		}
		rows, err := a.storeOf().DB().Raw(`SELECT * FROM mcp_call_logs WHERE 1 = 0`).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		_ = rows.Close()
		slices.Sort(cols)
		wantCols := slices.Clone(want)
		wantCols = slices.DeleteFunc(wantCols, func(s string) bool { return s == "log_type" })
		wantCols = append(wantCols, "environment_id")
		slices.Sort(wantCols)
		if !slices.Equal(cols, wantCols) {
			t.Errorf("mcp_call_logs columns %v, want %v", cols, wantCols)
		}

		// Retention: the 40-day-old record is swept (every 200 ms here), the others stay.
		deadline := time.Now().Add(10 * time.Second)
		for a.countRows("mcp_call_logs") != 24+1 {
			if time.Now().After(deadline) {
				t.Fatalf("retention: %d rows, want 25", a.countRows("mcp_call_logs"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
