package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/gen/api"
	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/server/credential"
	"github.com/mcpapi/mcpapi/store"
)

// UpdateIntegratedAccount applies a merge patch of tenant_id and credentials in one conditional
// statement of the store.
func (h *handler) UpdateIntegratedAccount(ctx context.Context, req api.UpdateIntegratedAccountRequestObject) (api.UpdateIntegratedAccountResponseObject, error) {
	body := req.JSONBody
	if body == nil {
		body = req.ApplicationMergePatchPlusJSONBody
	}
	if body == nil {
		return nil, badRequest("A request body is required.")
	}
	p := mustPrincipal(ctx)
	patch := store.AccountPatch{IfMatch: ifMatchVersions(req.Params.IfMatch)}
	var err error
	patch.TenantID, _ = patchField(body.TenantId, func(v string) (string, error) { return v, nil })
	patch.Credentials, err = patchField(body.Credentials, func(c model.CredentialsPatch) ([]byte, error) {
		return h.sealCredential(p.EnvironmentID, string(c.Type), c.Name, c.Value)
	})
	if err != nil {
		return nil, err
	}
	acc, err := h.store.UpdateIntegratedAccount(ctx, p.EnvironmentID, req.Id, patch)
	if err != nil {
		return nil, storeError(err, accountWhat)
	}
	h.invalidateMCP()
	tag := etag(acc.Version)
	return api.UpdateIntegratedAccount200JSONResponse{Body: toAPIAccount(acc), Headers: api.UpdateIntegratedAccount200ResponseHeaders{ETag: &tag}}, nil
}

// sealCredential checks a credential and encrypts it for storage.
func (h *handler) sealCredential(env uuid.UUID, typ string, name *string, value string) ([]byte, error) {
	if h.sealer == nil {
		return nil, unprocessable("/credentials", "cannot be stored: the server has no secret key (MCPAPI_SECRET_KEY)")
	}
	c := Credential{Type: typ, Value: value}
	if name != nil {
		c.Name = *name
	}
	if err := c.Validate(); err != nil {
		var cp *credential.Problem
		if !errors.As(err, &cp) {
			return nil, err
		}
		return nil, badRequest("The request is invalid: credentials "+cp.Member+" "+cp.Detail+".",
			model.FieldError{Pointer: "/credentials/" + cp.Member, Detail: cp.Detail})
	}
	sealed, err := h.sealer.Seal(env, c)
	if err != nil {
		return nil, &Problem{Status: http.StatusInternalServerError, Detail: "An unexpected error occurred.", Cause: err}
	}
	return sealed, nil
}

// checkIntegration refuses an integration that the catalogue does not know, naming those it does.
func (h *handler) checkIntegration(name string) error {
	if _, ok := h.catalogue.Get(name); ok {
		return nil
	}
	return unprocessable("/integration", "is not an integration of this server; known: "+strings.Join(h.catalogue.Names(), ", "))
}
