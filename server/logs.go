package server

import (
	"context"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/mcpapi/mcpapi/gen/api"
	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/store"
)

// maxLogWindow bounds the created_at window of a log list, so that every list scans a bounded
// range of the index.
const maxLogWindow = 31 * 24 * time.Hour

// ListLogs returns one page of the caller's environment's MCP call logs, newest first.
func (h *handler) ListLogs(ctx context.Context, req api.ListLogsRequestObject) (api.ListLogsResponseObject, error) {
	p := mustPrincipal(ctx)
	q := req.Params
	f := store.CallLogFilter{
		McpServerID:         deref(q.McpServerId),
		IntegratedAccountID: deref(q.IntegratedAccountId),
		ToolName:            deref(q.ToolName),
		McpMethod:           deref(q.McpMethod),
		Outcome:             string(deref(q.Outcome)),
	}
	var err error
	if f.After, f.Before, err = logWindow(deref(q.CreatedAt), h.now()); err != nil {
		return nil, err
	}
	items, next, err := h.store.ListCallLogs(ctx, p.EnvironmentID, f, h.pageLimit(q.Limit), deref(q.NextCursor))
	if err != nil {
		return nil, storeError(err, "log")
	}
	out := api.ListLogs200JSONResponse{Result: make([]model.McpCallLog, 0, len(items)), NextCursor: nullableString(next)}
	for _, l := range items {
		out.Result = append(out.Result, toAPICallLog(l))
	}
	return out, nil
}

// logWindow is the window a list covers: (gt, lt), lt defaulting to now and gt to 31 days
// before lt; longer windows, and windows that end before they start, are refused.
func logWindow(w model.TimeWindow, now time.Time) (after, before time.Time, err error) {
	before = now
	if w.Lt != nil {
		before = *w.Lt
	}
	after = before.Add(-maxLogWindow)
	if w.Gt != nil {
		after = *w.Gt
	}
	switch {
	case !after.Before(before):
		return after, before, badRequest("The request is invalid: created_at[gt] must be before created_at[lt].",
			model.FieldError{Pointer: "created_at", Detail: "the window ends before it starts"})
	case before.Sub(after) > maxLogWindow:
		return after, before, badRequest("The request is invalid: the created_at window must not exceed 31 days.",
			model.FieldError{Pointer: "created_at", Detail: "must not exceed 31 days"})
	}
	return after, before, nil
}

func toAPICallLog(l store.CallLog) model.McpCallLog {
	out := model.McpCallLog{
		Id:                  l.ID,
		LogType:             model.McpCallLogLogTypeMcp,
		IntegratedAccountId: l.IntegratedAccountID,
		McpServerId:         l.McpServerID,
		Integration:         l.Integration,
		McpMethod:           l.McpMethod,
		ToolName:            optString(l.ToolName),
		Outcome:             model.McpCallOutcome(l.Outcome),
		HttpStatus:          l.HTTPStatus,
		UpstreamStatus:      optPtr(l.UpstreamStatus),
		DurationMs:          l.DurationMs,
		UpstreamDurationMs:  optPtr(l.UpstreamDurationMs),
		ClientName:          optString(l.ClientName),
		ClientVersion:       optString(l.ClientVersion),
		RequestId:           l.RequestID,
		CreatedAt:           l.CreatedAt.UTC(),
	}
	return out
}

func optString(s string) nullable.Nullable[string] {
	if s == "" {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(s)
}

func optPtr[T any](p *T) nullable.Nullable[T] {
	if p == nil {
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(*p)
}
