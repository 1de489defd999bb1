package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/mcpapi/mcpapi/gen/api"
	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/store"
)

const mcpWhat = "MCP server"

// CreateMcpServer creates an MCP server and returns its token, once.
func (h *handler) CreateMcpServer(ctx context.Context, req api.CreateMcpServerRequestObject) (api.CreateMcpServerResponseObject, error) {
	if req.Body == nil {
		return nil, badRequest("A request body is required.")
	}
	p := mustPrincipal(ctx)
	n := store.NewMcpServer{
		IntegratedAccountID: req.IntegratedAccountId,
		Name:                req.Body.Name,
		Config:              storeConfig(req.Body.Config),
		CreatedBy:           p.UserID,
		MaxPerAccount:       h.maxPerAccount,
		Check:               h.checkConfig,
	}
	if req.Body.ExpiresAt != nil {
		t, err := checkExpiry(*req.Body.ExpiresAt, h.now())
		if err != nil {
			return nil, err
		}
		n.ExpiresAt = &t
	}
	token, hash := store.NewSecret(store.MCPTokenPrefix)
	n.TokenHash = hash
	srv, err := h.store.CreateMcpServer(ctx, p.EnvironmentID, n)
	if errors.Is(err, store.ErrLimitReached) {
		return nil, h.tooManyServers()
	}
	if err != nil {
		return nil, storeError(err, accountWhat)
	}
	location, tag, noStore := h.publicPath+mcpServerPath(srv), etag(srv.Version), "no-store"
	return api.CreateMcpServer201JSONResponse{
		Body:    h.withToken(srv, token),
		Headers: api.CreateMcpServer201ResponseHeaders{Location: &location, CacheControl: &noStore, ETag: &tag},
	}, nil
}

// ListMcpServers returns one page of an integrated account's MCP servers.
func (h *handler) ListMcpServers(ctx context.Context, req api.ListMcpServersRequestObject) (api.ListMcpServersResponseObject, error) {
	p := mustPrincipal(ctx)
	items, next, err := h.store.ListMcpServers(ctx, p.EnvironmentID, req.IntegratedAccountId, h.pageLimit(req.Params.Limit), deref(req.Params.NextCursor))
	if err != nil {
		return nil, storeError(err, accountWhat)
	}
	out := api.ListMcpServers200JSONResponse{Result: make([]model.McpServer, 0, len(items)), NextCursor: nullableString(next)}
	for _, s := range items {
		out.Result = append(out.Result, toAPIMcpServer(s))
	}
	return out, nil
}

// GetMcpServer returns one MCP server.
func (h *handler) GetMcpServer(ctx context.Context, req api.GetMcpServerRequestObject) (api.GetMcpServerResponseObject, error) {
	p := mustPrincipal(ctx)
	srv, err := h.store.GetMcpServer(ctx, p.EnvironmentID, req.IntegratedAccountId, req.Id)
	if err != nil {
		return nil, storeError(err, mcpWhat)
	}
	tag := etag(srv.Version)
	if noneMatch(req.Params.IfNoneMatch, srv.Version) {
		return api.GetMcpServer304Response{Headers: api.NotModifiedResponseHeaders{ETag: &tag}}, nil
	}
	return api.GetMcpServer200JSONResponse{Body: toAPIMcpServer(srv), Headers: api.GetMcpServer200ResponseHeaders{ETag: &tag}}, nil
}

// UpdateMcpServer applies a merge patch in one conditional statement of the store.
func (h *handler) UpdateMcpServer(ctx context.Context, req api.UpdateMcpServerRequestObject) (api.UpdateMcpServerResponseObject, error) {
	body := req.JSONBody
	if body == nil {
		body = req.ApplicationMergePatchPlusJSONBody
	}
	if body == nil {
		return nil, badRequest("A request body is required.")
	}
	patch, err := toStorePatch(*body, h.now())
	if err != nil {
		return nil, err
	}
	patch.IfMatch = ifMatchVersions(req.Params.IfMatch)
	patch.Check = h.checkConfig
	p := mustPrincipal(ctx)
	srv, err := h.store.UpdateMcpServer(ctx, p.EnvironmentID, req.IntegratedAccountId, req.Id, patch)
	if err != nil {
		return nil, storeError(err, mcpWhat)
	}
	h.invalidateMCP()
	tag := etag(srv.Version)
	return api.UpdateMcpServer200JSONResponse{Body: toAPIMcpServer(srv), Headers: api.UpdateMcpServer200ResponseHeaders{ETag: &tag}}, nil
}

// DeleteMcpServer deletes an MCP server; its token stops working with it.
func (h *handler) DeleteMcpServer(ctx context.Context, req api.DeleteMcpServerRequestObject) (api.DeleteMcpServerResponseObject, error) {
	p := mustPrincipal(ctx)
	_, err := h.store.DeleteMcpServer(ctx, p.EnvironmentID, req.IntegratedAccountId, req.Id, ifMatchVersions(req.Params.IfMatch))
	if err != nil {
		return nil, storeError(err, mcpWhat)
	}
	h.invalidateMCP()
	return api.DeleteMcpServer200JSONResponse{Id: req.Id}, nil
}

// RotateMcpServerToken gives an MCP server a new token; the old one stops working at once.
func (h *handler) RotateMcpServerToken(ctx context.Context, req api.RotateMcpServerTokenRequestObject) (api.RotateMcpServerTokenResponseObject, error) {
	p := mustPrincipal(ctx)
	token, hash := store.NewSecret(store.MCPTokenPrefix)
	srv, err := h.store.RotateMcpServerToken(ctx, p.EnvironmentID, req.IntegratedAccountId, req.Id, hash, ifMatchVersions(req.Params.IfMatch))
	if err != nil {
		return nil, storeError(err, mcpWhat)
	}
	h.invalidateMCP()
	tag, noStore := etag(srv.Version), "no-store"
	return api.RotateMcpServerToken200JSONResponse{
		Body:    h.withToken(srv, token),
		Headers: api.RotateMcpServerToken200ResponseHeaders{ETag: &tag, CacheControl: &noStore},
	}, nil
}

// withToken is the one response that shows a token: on creation and on rotation.
func (h *handler) withToken(srv store.McpServer, token string) model.McpServerCreated {
	m := toAPIMcpServer(srv)
	url := h.publicURL + "/mcp/" + token
	return model.McpServerCreated{
		Id: m.Id, Name: m.Name, IntegratedAccountId: m.IntegratedAccountId, Config: m.Config,
		ExpiresAt: m.ExpiresAt, CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		Token: &token,
		Url:   &url,
	}
}

// toStorePatch turns a validated merge patch into the store's absent / null / value form.
func toStorePatch(b model.McpServerPatch, now time.Time) (store.McpServerPatch, error) {
	var p store.McpServerPatch
	if b.Name != nil {
		p.Name = store.Field[string]{Set: true, Value: *b.Name}
	}
	if b.Config.IsSpecified() {
		if b.Config.IsNull() {
			p.Methods = store.Field[[]string]{Set: true, Null: true}
			p.Tags = store.Field[[]string]{Set: true, Null: true}
			p.ToolExposure = store.Field[string]{Set: true, Null: true}
			p.RequireAPITokenAuth = store.Field[bool]{Set: true, Null: true}
		} else {
			cfg := b.Config.MustGet()
			p.Methods, _ = patchField(cfg.Methods, normalized)
			p.Tags, _ = patchField(cfg.Tags, normalized)
			p.ToolExposure, _ = patchField(cfg.ToolExposure, func(v model.McpServerConfigPatchToolExposure) (string, error) {
				if v == model.McpServerConfigPatchToolExposureDiscovery {
					return store.ToolExposureDiscovery, nil
				}
				return store.ToolExposureAll, nil
			})
			p.RequireAPITokenAuth, _ = patchField(cfg.RequireApiTokenAuth, func(v bool) (bool, error) { return v, nil })
		}
	}
	var err error
	p.ExpiresAt, err = patchField(b.ExpiresAt, func(t time.Time) (time.Time, error) { return checkExpiry(t, now) })
	return p, err
}

// tooManyServers is the 409 of a create over --max-mcp-servers-per-account. Retry-After is
// there for clients that retry every 409 (the platform's SDK does): a retry succeeds once a
// server of the account is deleted or expires.
func (h *handler) tooManyServers() *Problem {
	p := newProblem(http.StatusConflict, "The integrated account already has "+strconv.Itoa(h.maxPerAccount)+
		" MCP servers, the most allowed (--max-mcp-servers-per-account); delete one first.")
	p.Header = http.Header{"Retry-After": []string{"1"}}
	return p
}

// patchField turns a nullable member of a merge patch into the store's absent / null / value,
// converting a value with conv (normalise, check, seal).
func patchField[A, S any](n nullable.Nullable[A], conv func(A) (S, error)) (store.Field[S], error) {
	switch {
	case !n.IsSpecified():
		return store.Field[S]{}, nil
	case n.IsNull():
		return store.Field[S]{Set: true, Null: true}, nil
	}
	v, err := conv(n.MustGet())
	if err != nil {
		return store.Field[S]{}, err
	}
	return store.Field[S]{Set: true, Value: v}, nil
}

func normalized(list []string) ([]string, error) { return normalizeScope(list), nil }

// normalizeScope lower-cases method names and tags, dropping duplicates and keeping the
// first-seen order. An empty list stays an empty (non-nil) list: it allows nothing.
func normalizeScope(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]struct{}, len(in))
	for _, s := range in {
		s = strings.ToLower(s)
		if _, dup := seen[s]; dup {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}

func mcpServerPath(s store.McpServer) string {
	return "/integrated-account/" + s.IntegratedAccountID.String() + "/mcp/" + s.ID.String()
}

func toAPIMcpServer(s store.McpServer) model.McpServer {
	out := model.McpServer{
		Id:                  s.ID,
		Name:                s.Name,
		IntegratedAccountId: s.IntegratedAccountID,
		CreatedBy:           s.CreatedBy,
		CreatedAt:           s.CreatedAt.UTC(),
		UpdatedAt:           s.UpdatedAt.UTC(),
		ExpiresAt:           nullable.NewNullNullable[time.Time](),
		Config:              apiConfig(s.Config),
	}
	if s.ExpiresAt != nil {
		out.ExpiresAt.Set(s.ExpiresAt.UTC())
	}
	return out
}

// invalidateMCP drops the MCP endpoint's token cache on this instance after a change to what
// a token resolves to (rotation, deletion, config, expiry, credential).
func (h *handler) invalidateMCP() {
	if h.mcp != nil {
		h.mcp.Invalidate()
	}
}
