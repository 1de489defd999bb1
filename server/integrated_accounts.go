package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/nullable"

	"github.com/mcpapi/mcpapi/gen/api"
	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/store"
)

const accountWhat = "integrated account"

// CreateIntegratedAccount creates an integrated account in the caller's environment.
func (h *handler) CreateIntegratedAccount(ctx context.Context, req api.CreateIntegratedAccountRequestObject) (api.CreateIntegratedAccountResponseObject, error) {
	if req.Body == nil {
		return nil, badRequest("A request body is required.")
	}
	p := mustPrincipal(ctx)
	if err := h.checkIntegration(req.Body.Integration); err != nil {
		return nil, err
	}
	n := store.NewIntegratedAccount{Integration: req.Body.Integration, TenantID: req.Body.TenantId}
	if c := req.Body.Credentials; c != nil {
		sealed, err := h.sealCredential(p.EnvironmentID, string(c.Type), c.Name, c.Value)
		if err != nil {
			return nil, err
		}
		n.Credentials = sealed
	}
	acc, err := h.store.CreateIntegratedAccount(ctx, p.EnvironmentID, n)
	if err != nil {
		return nil, storeError(err, accountWhat)
	}
	location, tag := h.publicPath+accountPath(acc), etag(acc.Version)
	return api.CreateIntegratedAccount201JSONResponse{
		Body:    toAPIAccount(acc),
		Headers: api.CreateIntegratedAccount201ResponseHeaders{Location: &location, ETag: &tag},
	}, nil
}

// ListIntegratedAccounts returns one page of the caller's integrated accounts.
func (h *handler) ListIntegratedAccounts(ctx context.Context, req api.ListIntegratedAccountsRequestObject) (api.ListIntegratedAccountsResponseObject, error) {
	p := mustPrincipal(ctx)
	items, next, err := h.store.ListIntegratedAccounts(ctx, p.EnvironmentID, h.pageLimit(req.Params.Limit), deref(req.Params.NextCursor))
	if err != nil {
		return nil, storeError(err, accountWhat)
	}
	out := api.ListIntegratedAccounts200JSONResponse{Result: make([]model.IntegratedAccount, 0, len(items)), NextCursor: nullableString(next)}
	for _, a := range items {
		out.Result = append(out.Result, toAPIAccount(a))
	}
	return out, nil
}

// GetIntegratedAccount returns one integrated account.
func (h *handler) GetIntegratedAccount(ctx context.Context, req api.GetIntegratedAccountRequestObject) (api.GetIntegratedAccountResponseObject, error) {
	p := mustPrincipal(ctx)
	acc, err := h.store.GetIntegratedAccount(ctx, p.EnvironmentID, req.Id)
	if err != nil {
		return nil, storeError(err, accountWhat)
	}
	tag := etag(acc.Version)
	if noneMatch(req.Params.IfNoneMatch, acc.Version) {
		return api.GetIntegratedAccount304Response{Headers: api.NotModifiedResponseHeaders{ETag: &tag}}, nil
	}
	return api.GetIntegratedAccount200JSONResponse{Body: toAPIAccount(acc), Headers: api.GetIntegratedAccount200ResponseHeaders{ETag: &tag}}, nil
}

// DeleteIntegratedAccount deletes an integrated account and, by cascade, its MCP servers.
func (h *handler) DeleteIntegratedAccount(ctx context.Context, req api.DeleteIntegratedAccountRequestObject) (api.DeleteIntegratedAccountResponseObject, error) {
	p := mustPrincipal(ctx)
	_, err := h.store.DeleteIntegratedAccount(ctx, p.EnvironmentID, req.Id, ifMatchVersions(req.Params.IfMatch))
	if err != nil {
		return nil, storeError(err, accountWhat)
	}
	h.invalidateMCP()
	return api.DeleteIntegratedAccount200JSONResponse{Id: req.Id}, nil
}

func accountPath(a store.IntegratedAccount) string { return "/integrated-account/" + a.ID.String() }

func toAPIAccount(a store.IntegratedAccount) model.IntegratedAccount {
	out := model.IntegratedAccount{
		Id:             a.ID,
		Integration:    a.Integration,
		TenantId:       nullable.NewNullNullable[string](),
		HasCredentials: len(a.Credentials) > 0,
		CreatedAt:      a.CreatedAt.UTC(),
		UpdatedAt:      a.UpdatedAt.UTC(),
	}
	if a.TenantID != nil {
		out.TenantId.Set(*a.TenantID)
	}
	return out
}

// pageLimit is the page size asked for, else the spec's default (read from the spec at start,
// see specPageSize; the spec's maximum is the validator's to enforce).
func (h *handler) pageLimit(limit *int) int {
	if limit == nil {
		return h.defaultPageSize
	}
	return *limit
}

// specPageSize is the default of the spec's shared `limit` parameter: the one place where the
// page size is stated.
func specPageSize(doc *openapi3.T) (int, error) {
	p := doc.Components.Parameters["Limit"]
	if p == nil || p.Value == nil || p.Value.Schema == nil || p.Value.Schema.Value == nil {
		return 0, errors.New("openapi.yaml has no components.parameters.Limit schema")
	}
	d, ok := p.Value.Schema.Value.Default.(float64)
	if !ok || d < 1 || d != float64(int(d)) {
		return 0, fmt.Errorf("openapi.yaml: the default of components.parameters.Limit must be a positive integer, not %v", p.Value.Schema.Value.Default)
	}
	return int(d), nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func nullableString(s string) nullable.Nullable[string] {
	if s == "" {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(s)
}
