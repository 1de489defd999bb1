//go:build sdkcheck

// The sdk-check flow on the Go client that ogen generates from openapi.yaml with its default
// settings (no ogen.yml). Each operation answers a union of its listed responses; a status the
// operation does not list arrives as the error *sdk.ProblemStatusCode ("convenient errors", made
// possible by the spec's shared `default` response). `make sdk-check` builds it in a temporary
// module next to the generated package "sdkcheck/sdk"; see tools/sdk-check/run.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"sdkcheck/sdk"
)

func main() {
	if err := run(context.Background(), os.Getenv("SDKCHECK_URL"), os.Getenv("SDKCHECK_TOKEN")); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

func ok(format string, a ...any) { fmt.Printf("ok    "+format+"\n", a...) }

type bearer string

func (b bearer) BearerAuth(context.Context, sdk.OperationName) (sdk.BearerAuth, error) {
	return sdk.BearerAuth{Token: string(b)}, nil
}

// unexpected describes an answer other than the one a step wants, or the error.
func unexpected(step string, res any, err error) error {
	var p *sdk.ProblemStatusCode
	if errors.As(err, &p) {
		return fmt.Errorf("%s: problem %d %s: %s", step, p.StatusCode, p.Response.Title, p.Response.Detail.Or(""))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return fmt.Errorf("%s: unexpected answer %T %+v", step, res, res)
}

func run(ctx context.Context, base, token string) error {
	c, err := sdk.NewClient(base, bearer(token))
	if err != nil {
		return err
	}

	res, err := c.CreateIntegratedAccount(ctx, &sdk.IntegratedAccountCreate{Integration: "crm", TenantID: sdk.NewOptString("sdk-check")}, sdk.CreateIntegratedAccountParams{})
	acc, isAcc := res.(*sdk.IntegratedAccountHeaders)
	if err != nil || !isAcc {
		return unexpected("create account", res, err)
	}
	accountID := acc.Response.ID
	ok("create account %s", accountID)

	cres, err := c.CreateMcpServer(ctx, &sdk.McpServerCreate{
		Name:   "sdk-check",
		Config: sdk.NewOptMcpServerConfig(sdk.McpServerConfig{Methods: sdk.ScopeList{"List", "get"}, Tags: sdk.ScopeList{"contacts"}}),
	}, sdk.CreateMcpServerParams{IntegratedAccountID: accountID})
	created, isCreated := cres.(*sdk.McpServerCreatedHeaders)
	if err != nil || !isCreated {
		return unexpected("create MCP server", cres, err)
	}
	srv := created.Response
	if !srv.Token.IsSet() || !srv.URL.IsSet() || !slices.Equal(srv.Config.Methods, sdk.ScopeList{"list", "get"}) {
		return fmt.Errorf("create MCP server: want a token, a url and methods [list get], got %+v", srv)
	}
	firstETag := created.ETag.Or("")
	ok("create MCP server %s (ETag %s)", srv.ID, firstETag)
	ids := sdk.UpdateMcpServerParams{IntegratedAccountID: accountID, ID: srv.ID}

	ures, err := c.UpdateMcpServer(ctx, &sdk.UpdateMcpServerApplicationJSON{Name: sdk.NewOptString("sdk-check renamed")}, ids)
	renamed, isServer := ures.(*sdk.McpServerHeaders)
	if err != nil || !isServer || renamed.Response.Name != "sdk-check renamed" {
		return unexpected("PATCH name", ures, err)
	}
	ok("PATCH name")

	var noTags sdk.OptNilStringArray
	noTags.SetToNull()
	ures, err = c.UpdateMcpServer(ctx, &sdk.UpdateMcpServerApplicationMergePatchJSON{
		Config: sdk.NewOptNilMcpServerConfigPatch(sdk.McpServerConfigPatch{Tags: noTags}),
	}, ids)
	untagged, isServer := ures.(*sdk.McpServerHeaders)
	if err != nil || !isServer {
		return unexpected("PATCH tags null", ures, err)
	}
	if untagged.Response.Config.Tags != nil || untagged.Response.Config.Methods == nil {
		return fmt.Errorf("PATCH tags null: want tags removed and methods kept, got %+v", untagged.Response.Config)
	}
	etag := untagged.ETag.Or("")
	ok("PATCH tags null (merge patch): tags removed, methods kept")

	gres, err := c.GetMcpServer(ctx, sdk.GetMcpServerParams{IntegratedAccountID: accountID, ID: srv.ID, IfNoneMatch: sdk.NewOptString(etag)})
	if _, notModified := gres.(*sdk.NotModified); err != nil || !notModified {
		return unexpected("GET If-None-Match", gres, err)
	}
	ok("GET If-None-Match %s: *sdk.NotModified", etag)

	stale := ids
	stale.IfMatch = sdk.NewOptString(firstETag)
	ures, err = c.UpdateMcpServer(ctx, &sdk.UpdateMcpServerApplicationJSON{Name: sdk.NewOptString("lost update")}, stale)
	pf, isPF := ures.(*sdk.PreconditionFailedHeaders)
	if err != nil || !isPF || pf.Response.Status != 412 {
		return unexpected("PATCH stale If-Match", ures, err)
	}
	ok("PATCH If-Match %s (stale): *sdk.PreconditionFailedHeaders, problem %q, current ETag %s", firstETag, pf.Response.Title, pf.ETag.Or(""))

	cres, err = c.CreateMcpServer(ctx, &sdk.McpServerCreate{Name: "sdk-check 2"}, sdk.CreateMcpServerParams{IntegratedAccountID: accountID})
	second, isCreated := cres.(*sdk.McpServerCreatedHeaders)
	if err != nil || !isCreated {
		return unexpected("create a second MCP server", cres, err)
	}
	var seen []string
	params := sdk.ListMcpServersParams{IntegratedAccountID: accountID, Limit: sdk.NewOptInt(1)}
	for page := 1; page <= 3; page++ {
		lres, err := c.ListMcpServers(ctx, params)
		list, isList := lres.(*sdk.McpServerList)
		if err != nil || !isList {
			return unexpected(fmt.Sprintf("list page %d", page), lres, err)
		}
		for _, s := range list.Result {
			seen = append(seen, s.ID.String())
		}
		if list.NextCursor.Null {
			break
		}
		params.NextCursor = sdk.NewOptString(list.NextCursor.Value)
	}
	if want := []string{srv.ID.String(), second.Response.ID.String()}; !slices.Equal(seen, want) {
		return fmt.Errorf("list: pages of one held %v, want %v", seen, want)
	}
	ok("list with limit 1: two pages, %v", seen)

	rres, err := c.RotateMcpServerToken(ctx, sdk.RotateMcpServerTokenParams{IntegratedAccountID: accountID, ID: srv.ID})
	rotated, isRotated := rres.(*sdk.RotateMcpServerTokenOKHeaders)
	if err != nil || !isRotated {
		return unexpected("rotate", rres, err)
	}
	if !rotated.Response.Token.IsSet() || rotated.Response.Token.Value == srv.Token.Value {
		return fmt.Errorf("rotate: want a new token")
	}
	ok("rotate: a new token")

	dres, err := c.DeleteMcpServer(ctx, sdk.DeleteMcpServerParams{IntegratedAccountID: accountID, ID: srv.ID})
	if _, isDeleted := dres.(*sdk.Deleted); err != nil || !isDeleted {
		return unexpected("delete", dres, err)
	}
	gres, err = c.GetMcpServer(ctx, sdk.GetMcpServerParams{IntegratedAccountID: accountID, ID: srv.ID})
	if nf, isNF := gres.(*sdk.GetMcpServerNotFound); err != nil || !isNF || nf.Status != 404 {
		return unexpected("GET after delete", gres, err)
	}
	ok("delete, then GET: *sdk.GetMcpServerNotFound")

	cres, err = c.CreateMcpServer(ctx, &sdk.McpServerCreate{
		Name:   "x",
		Config: sdk.NewOptMcpServerConfig(sdk.McpServerConfig{Tags: sdk.ScopeList{"contacts", "not a tag!"}}),
	}, sdk.CreateMcpServerParams{IntegratedAccountID: accountID})
	bad, isBad := cres.(*sdk.CreateMcpServerBadRequest)
	if err != nil || !isBad || len(bad.Errors) == 0 || bad.Errors[0].Pointer != "/config/tags/1" {
		return unexpected("validation error (a tag off its pattern)", cres, err)
	}
	ok("validation error: *sdk.CreateMcpServerBadRequest, pointer %s (%s)", bad.Errors[0].Pointer, bad.Errors[0].Detail)

	// An expiry in the past passes every schema check; the server refuses it with a pointer.
	cres, err = c.CreateMcpServer(ctx, &sdk.McpServerCreate{Name: "x", ExpiresAt: sdk.NewOptDateTime(time.Now().Add(-time.Hour))},
		sdk.CreateMcpServerParams{IntegratedAccountID: accountID})
	p, isP := cres.(*sdk.CreateMcpServerUnprocessableEntity)
	if err != nil || !isP || len(p.Errors) == 0 || p.Errors[0].Pointer != "/expires_at" {
		return unexpected("validation error (past expiry)", cres, err)
	}
	ok("validation error: *sdk.CreateMcpServerUnprocessableEntity, pointer %s (%s)", p.Errors[0].Pointer, p.Errors[0].Detail)

	yres, err := c.GetOpenAPIYAML(ctx)
	doc, isDoc := yres.(*sdk.GetOpenAPIYAMLOK)
	if err != nil || !isDoc {
		return unexpected("GET /openapi.yaml", yres, err)
	}
	text, err := io.ReadAll(doc.Data)
	if err != nil || !bytes.HasPrefix(text, []byte("openapi: 3.0.3")) {
		return fmt.Errorf("GET /openapi.yaml: want YAML text, got %.80s (%v)", text, err)
	}
	ok("GET /openapi.yaml: *sdk.GetOpenAPIYAMLOK, %d bytes of YAML text", len(text))
	return nil
}
