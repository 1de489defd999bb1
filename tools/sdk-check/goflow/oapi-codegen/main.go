//go:build sdkcheck

// The sdk-check flow on the Go client that oapi-codegen generates from openapi.yaml with the
// project's own client config (gen/client/oapi-codegen.yaml: models and client, nullable-type so
// that a merge patch can send null). `make sdk-check` builds it in a temporary module next to the
// generated package "sdkcheck/sdk"; see tools/sdk-check/run.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/oapi-codegen/nullable"

	"sdkcheck/sdk"
)

func main() {
	if err := run(context.Background(), os.Getenv("SDKCHECK_URL"), os.Getenv("SDKCHECK_TOKEN")); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

func ok(format string, a ...any) { fmt.Printf("ok    "+format+"\n", a...) }

// want fails unless the response has the status, and says what arrived instead.
func want(step string, got int, body []byte, status int) error {
	if got != status {
		return fmt.Errorf("%s: status %d, want %d: %s", step, got, status, body)
	}
	return nil
}

func run(ctx context.Context, base, token string) error {
	auth := func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
	c, err := sdk.NewClientWithResponses(base, sdk.WithRequestEditorFn(auth))
	if err != nil {
		return err
	}

	tenant := "sdk-check"
	acc, err := c.CreateIntegratedAccountWithResponse(ctx, nil, sdk.IntegratedAccountCreate{Integration: "crm", TenantId: &tenant})
	if err != nil {
		return err
	}
	if err := want("create account", acc.StatusCode(), acc.Body, 201); err != nil {
		return err
	}
	accountID := acc.JSON201.Id
	ok("create account %s", accountID)

	methods := sdk.ScopeList{"List", "get"}
	tags := sdk.ScopeList{"contacts"}
	created, err := c.CreateMcpServerWithResponse(ctx, accountID, nil, sdk.McpServerCreate{
		Name: "sdk-check", Config: &sdk.McpServerConfig{Methods: &methods, Tags: &tags},
	})
	if err != nil {
		return err
	}
	if err := want("create MCP server", created.StatusCode(), created.Body, 201); err != nil {
		return err
	}
	srv := created.JSON201
	if srv.Token == nil || srv.Url == nil || !slices.Equal(*srv.Config.Methods, []string{"list", "get"}) {
		return fmt.Errorf("create MCP server: want a token, a url and methods [list get], got %s", created.Body)
	}
	firstETag := created.HTTPResponse.Header.Get("ETag")
	ok("create MCP server %s (ETag %s)", srv.Id, firstETag)

	name := "sdk-check renamed"
	renamed, err := c.UpdateMcpServerWithResponse(ctx, accountID, srv.Id, nil, sdk.McpServerPatch{Name: &name})
	if err != nil {
		return err
	}
	if err := want("PATCH name", renamed.StatusCode(), renamed.Body, 200); err != nil {
		return err
	}
	if renamed.JSON200.Name != name {
		return fmt.Errorf("PATCH name: name is %q", renamed.JSON200.Name)
	}
	ok("PATCH name")

	untag, err := c.UpdateMcpServerWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, accountID, srv.Id, nil, sdk.McpServerPatch{
		Config: nullable.NewNullableWithValue(sdk.McpServerConfigPatch{Tags: nullable.NewNullNullable[[]string]()}),
	})
	if err != nil {
		return err
	}
	if err := want("PATCH tags null", untag.StatusCode(), untag.Body, 200); err != nil {
		return err
	}
	if untag.JSON200.Config.Tags != nil || untag.JSON200.Config.Methods == nil {
		return fmt.Errorf("PATCH tags null: want tags removed and methods kept, got %s", untag.Body)
	}
	etag := untag.HTTPResponse.Header.Get("ETag")
	ok("PATCH tags null (merge patch): tags removed, methods kept")

	got, err := c.GetMcpServerWithResponse(ctx, accountID, srv.Id, &sdk.GetMcpServerParams{IfNoneMatch: &etag})
	if err != nil {
		return err
	}
	if got.StatusCode() != http.StatusNotModified {
		return fmt.Errorf("GET If-None-Match: status %d, want 304: %s", got.StatusCode(), got.Body)
	}
	ok("GET If-None-Match %s: 304, not modified", etag)

	stale, err := c.UpdateMcpServerWithResponse(ctx, accountID, srv.Id, &sdk.UpdateMcpServerParams{IfMatch: &firstETag}, sdk.McpServerPatch{Name: &name})
	if err != nil {
		return err
	}
	if p := stale.ApplicationproblemJSON412; p == nil || p.Status != 412 {
		return fmt.Errorf("PATCH stale If-Match: want a typed 412 problem, got %d: %s", stale.StatusCode(), stale.Body)
	}
	ok("PATCH If-Match %s (stale): 412 problem %q, current ETag %s", firstETag, stale.ApplicationproblemJSON412.Title, stale.HTTPResponse.Header.Get("ETag"))

	second, err := c.CreateMcpServerWithResponse(ctx, accountID, nil, sdk.McpServerCreate{Name: "sdk-check 2"})
	if err != nil {
		return err
	}
	if err := want("create a second MCP server", second.StatusCode(), second.Body, 201); err != nil {
		return err
	}
	var seen []string
	var cursor *string
	for page := 1; ; page++ {
		limit := 1
		list, err := c.ListMcpServersWithResponse(ctx, accountID, &sdk.ListMcpServersParams{Limit: &limit, NextCursor: cursor})
		if err != nil {
			return err
		}
		if err := want(fmt.Sprintf("list page %d", page), list.StatusCode(), list.Body, 200); err != nil {
			return err
		}
		for _, s := range list.JSON200.Result {
			seen = append(seen, s.Id.String())
		}
		next, err := list.JSON200.NextCursor.Get()
		if err != nil || page > 3 {
			break // null: the last page (a third page would mean the cursor never ends)
		}
		cursor = &next
	}
	if want := []string{srv.Id.String(), second.JSON201.Id.String()}; !slices.Equal(seen, want) {
		return fmt.Errorf("list: pages of one held %v, want %v", seen, want)
	}
	ok("list with limit 1: two pages, %v", seen)

	rotated, err := c.RotateMcpServerTokenWithResponse(ctx, accountID, srv.Id, nil)
	if err != nil {
		return err
	}
	if err := want("rotate", rotated.StatusCode(), rotated.Body, 200); err != nil {
		return err
	}
	if rotated.JSON200.Token == nil || *rotated.JSON200.Token == *srv.Token {
		return fmt.Errorf("rotate: want a new token, got %s", rotated.Body)
	}
	ok("rotate: a new token")

	deleted, err := c.DeleteMcpServerWithResponse(ctx, accountID, srv.Id, nil)
	if err != nil {
		return err
	}
	if err := want("delete", deleted.StatusCode(), deleted.Body, 200); err != nil {
		return err
	}
	gone, err := c.GetMcpServerWithResponse(ctx, accountID, srv.Id, nil)
	if err != nil {
		return err
	}
	if gone.ApplicationproblemJSON404 == nil {
		return fmt.Errorf("GET after delete: want a typed 404 problem, got %d: %s", gone.StatusCode(), gone.Body)
	}
	ok("delete, then GET: 404 problem")

	badTags := sdk.ScopeList{"contacts", "not a tag!"}
	invalid, err := c.CreateMcpServerWithResponse(ctx, accountID, nil, sdk.McpServerCreate{Name: "x", Config: &sdk.McpServerConfig{Tags: &badTags}})
	if err != nil {
		return err
	}
	p := invalid.ApplicationproblemJSON400
	if p == nil || p.Errors == nil || len(*p.Errors) == 0 || (*p.Errors)[0].Pointer != "/config/tags/1" {
		return fmt.Errorf("validation error: want a 400 problem pointing at /config/tags/1, got %d: %s", invalid.StatusCode(), invalid.Body)
	}
	ok("validation error: 400 problem, pointer %s (%s)", (*p.Errors)[0].Pointer, (*p.Errors)[0].Detail)

	past := time.Now().Add(-time.Hour)
	expired, err := c.CreateMcpServerWithResponse(ctx, accountID, nil, sdk.McpServerCreate{Name: "x", ExpiresAt: &past})
	if err != nil {
		return err
	}
	p = expired.ApplicationproblemJSON422
	if p == nil || p.Errors == nil || len(*p.Errors) == 0 || (*p.Errors)[0].Pointer != "/expires_at" {
		return fmt.Errorf("past expiry: want a 422 problem pointing at /expires_at, got %d: %s", expired.StatusCode(), expired.Body)
	}
	ok("validation error: 422 problem, pointer %s (%s)", (*p.Errors)[0].Pointer, (*p.Errors)[0].Detail)

	// oapi-codegen decodes every YAML media type into the schema's Go type, here a string, which a
	// YAML mapping cannot become: GetOpenAPIYAMLWithResponse fails by design of the generator. The
	// plain client method hands over the body, the YAML text.
	raw, err := c.GetOpenAPIYAML(ctx)
	if err != nil {
		return err
	}
	defer raw.Body.Close() //nolint:errcheck // read to the end below; nothing to report
	text, err := io.ReadAll(raw.Body)
	if err != nil {
		return err
	}
	if raw.StatusCode != 200 || !bytes.HasPrefix(text, []byte("openapi: 3.0.3")) {
		return fmt.Errorf("GET /openapi.yaml: want YAML text, got %d: %.80s", raw.StatusCode, text)
	}
	ok("GET /openapi.yaml: %d bytes of YAML text (%s)", len(text), raw.Header.Get("Content-Type"))
	return nil
}
