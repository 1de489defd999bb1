package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The MCP rows: tools/call and tools/list of a generated 200-tool integration whose base URL is
// the benchmark's loopback upstream, on mcpapi, on the floor and on the SDK alone; and the
// memory row, 8 concurrent tools/call of an upstream answer at --max-upstream-response.
const (
	opMCPCall = "mcp-call"
	opMCPList = "mcp-list"
	opMCPMem  = "mcp-mem"
	// opMCPCallNoLog is the logging-overhead row: the tools/call of opMCPCall on mcpapi
	// (call log on, the default) and on a second mcpapi serve with --mcp-call-log=false, on the
	// same database, tokens and upstream, interleaved.
	opMCPCallNoLog = "mcp-call-nolog"
	// targetNoLog is that second server.
	targetNoLog = "mcpapi-nolog"

	benchIntegration = "bench"
	// benchTools is how many operations (so tools) the generated integration has.
	benchTools = 200
	// callTool is the GET the tools/call rows call, with callArgs; blobTool the memory row's.
	callTool = "get_res00"
	callArgs = `{"id":"42"}`
	blobTool = "get_blob"
	// upstreamCredential is the integrated accounts' bearer credential (when serve can seal
	// one); the upstream refuses calls without it, so a call that lost it counts as an error.
	upstreamCredential = "bench-upstream-key"
	// mcpAccounts × mcpServersPer MCP servers are created; each request picks one's token.
	mcpAccounts   = 4
	mcpServersPer = 4
	// memConcurrency is the memory row's number of concurrent calls: the memory bound is
	// memConcurrency × 4 × the limit above the idle process.
	memConcurrency = 8
	// defaultUpstreamLimit is the body size of the memory row when serve has no
	// --max-upstream-response flag: the default that flag is to have.
	defaultUpstreamLimit = 1 << 20
	// mcpProtocolVersion is sent on every MCP request (stateless: no initialize first).
	mcpProtocolVersion = "2025-06-18"
	targetSDK          = "sdk"
)

func isMCPOp(op string) bool { return strings.HasPrefix(op, "mcp-") }

// needsMCP says whether any MCP row is measured, so whether the upstream, the SDK and the
// integration are set up at all.
func (o options) needsMCP() bool {
	for _, op := range o.ops {
		if isMCPOp(op) {
			return true
		}
	}
	return false
}

// integrationDoc is the OpenAPI 3 document of the benchmark integration: 39 resources with list,
// create, get, update and delete (195 operations), a search on four of them (x-mcp-method) and
// GET /blob: 200 operations with tags, descriptions, parameters and request bodies of the usual
// kind. base is the upstream's URL.
func integrationDoc(base string) ([]byte, error) {
	type m = map[string]any
	record := m{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"name"},
		"properties": m{
			"name":   m{"type": "string", "minLength": 1, "maxLength": 200, "description": "The display name."},
			"email":  m{"type": "string", "format": "email", "maxLength": 320, "description": "The e-mail address."},
			"active": m{"type": "boolean", "description": "Whether the record is in use."},
			"notes":  m{"type": "string", "maxLength": 2000, "description": "Free text."},
		},
	}
	jsonContent := func(schema any) m { return m{"application/json": m{"schema": schema}} }
	ok := func(desc string) m {
		return m{"200": m{"description": desc, "content": jsonContent(m{"type": "object"})}}
	}
	paths := m{}
	var tags []m
	for i := range 39 {
		res := fmt.Sprintf("res%02d", i)
		title := fmt.Sprintf("Res%02d", i)
		tags = append(tags, m{"name": res})
		list := m{
			"operationId": "list" + title, "tags": []string{res},
			"summary":     "List " + res + " records",
			"description": "Returns the " + res + " records, most recently updated first, a page at a time.",
			"parameters": []m{
				{"name": "limit", "in": "query", "description": "Page size.", "schema": m{"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
				{"name": "cursor", "in": "query", "description": "Where the page starts.", "schema": m{"type": "string", "maxLength": 200}},
			},
			"responses": ok("A page of records."),
		}
		create := m{
			"operationId": "create" + title, "tags": []string{res},
			"summary":     "Create a " + res + " record",
			"requestBody": m{"required": true, "content": jsonContent(record)},
			"responses":   m{"201": m{"description": "Created.", "content": jsonContent(m{"type": "object"})}},
		}
		paths["/"+res] = m{"get": list, "post": create}
		paths["/"+res+"/{id}"] = m{
			"parameters": []m{{"name": "id", "in": "path", "required": true, "description": "The record's id.", "schema": m{"type": "string", "minLength": 1, "maxLength": 64}}},
			"get":        m{"operationId": "get" + title, "tags": []string{res}, "summary": "Get a " + res + " record", "responses": ok("The record.")},
			"patch": m{"operationId": "update" + title, "tags": []string{res}, "summary": "Update a " + res + " record",
				"description": "Changes only the members sent.",
				"requestBody": m{"required": true, "content": jsonContent(m{"type": "object", "additionalProperties": false, "properties": record["properties"]})},
				"responses":   ok("The record as stored.")},
			"delete": m{"operationId": "delete" + title, "tags": []string{res}, "summary": "Delete a " + res + " record",
				"responses": m{"204": m{"description": "Deleted."}}},
		}
		if i < 4 {
			paths["/"+res+"/search"] = m{"post": m{
				"operationId": "search" + title, "x-mcp-method": "search", "tags": []string{res},
				"summary": "Search " + res + " records",
				"requestBody": m{"required": true, "content": jsonContent(m{
					"type": "object", "required": []string{"query"}, "additionalProperties": false,
					"properties": m{"query": m{"type": "string", "minLength": 1, "maxLength": 200}},
				})},
				"responses": ok("The matching records."),
			}}
		}
	}
	paths[upstreamBlobPath] = m{"get": m{"operationId": "getBlob", "tags": []string{"blob"},
		"summary": "Get a large document", "responses": ok("The document.")}}
	tags = append(tags, m{"name": "blob"})
	return json.MarshalIndent(m{
		"openapi": "3.0.3",
		"info":    m{"title": "Bench", "version": "1.0.0", "description": "The integration mcpapi-bench generates: 200 operations on its loopback upstream."},
		"servers": []m{{"url": base}},
		"tags":    tags,
		"paths":   paths,
	}, "", " ")
}

// startUpstream starts the loopback upstream child; blob is the size of its /blob answer.
func (b *bench) startUpstream(blob int) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe) //nolint:gosec // G204: this very program, restarted in its upstream role
	cmd.Env = append(os.Environ(), roleEnv+"="+roleUpstream, upstreamBlobEnv+"="+strconv.Itoa(blob))
	if b.secretKey != "" {
		cmd.Env = append(cmd.Env, upstreamAuthEnv+"=Bearer "+upstreamCredential)
	}
	c, line, err := b.startChild("upstream", cmd, true)
	if err != nil {
		return err
	}
	b.upstream = c
	var api, control string
	if _, err := fmt.Sscanf(line, "listening %s control %s", &api, &control); err != nil {
		return fmt.Errorf("upstream printed %q, not its addresses\n%s", line, c.tail())
	}
	c.base, b.upstreamControl = api, control
	b.logf("upstream serving on %s (pid %d), %d-byte /blob", api, c.pid(), blob)
	return nil
}

// upstreamAccepted is how many connections the upstream has accepted so far, -1 when unknown.
func (b *bench) upstreamAccepted(ctx context.Context) int64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.upstreamControl, nil)
	if err != nil {
		return -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer func() { _ = resp.Body.Close() }() // read below; nothing to do about a close error
	var v struct {
		Accepted *int64 `json:"accepted"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Accepted == nil {
		return -1
	}
	return *v.Accepted
}

// writeIntegration writes the benchmark integration for --integrations-dir.
func (b *bench) writeIntegration() (dir string, err error) {
	doc, err := integrationDoc(b.upstream.base)
	if err != nil {
		return "", err
	}
	dir = filepath.Join(b.tmp, "integrations")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, benchIntegration+".json"), doc, 0o600)
}

// api sends one REST request to mcpapi with the API token and decodes a 2xx JSON answer.
func (b *bench) api(ctx context.Context, method, path string, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, b.serverBase()+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // read below; nothing to do about a close error
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return json.Unmarshal(raw, out)
}

// setupMCP creates, through mcpapi's REST API, mcpAccounts integrated accounts of the
// benchmark integration (with a bearer credential when serve can seal one) and mcpServersPer
// unrestricted MCP servers on each, keeps their tokens, and checks one tools/list: 200 tools,
// among them the two the rows call. The list's tools are written out for the floor and the SDK.
func (b *bench) setupMCP(ctx context.Context) error {
	for a := range mcpAccounts {
		body := fmt.Sprintf(`{"integration":%q,"tenant_id":"bench-%d"}`, benchIntegration, a)
		if b.secretKey != "" {
			body = fmt.Sprintf(`{"integration":%q,"tenant_id":"bench-%d","credentials":{"type":"bearer","value":%q}}`,
				benchIntegration, a, upstreamCredential)
		}
		var acc struct {
			ID string `json:"id"`
		}
		if err := b.api(ctx, http.MethodPost, "/integrated-account", body, &acc); err != nil {
			return fmt.Errorf("create the benchmark's integrated account: %w", err)
		}
		for s := range mcpServersPer {
			var srv struct {
				Token string `json:"token"`
			}
			if err := b.api(ctx, http.MethodPost, "/integrated-account/"+acc.ID+"/mcp",
				fmt.Sprintf(`{"name":"bench-%d-%d"}`, a, s), &srv); err != nil {
				return fmt.Errorf("create the benchmark's MCP server: %w", err)
			}
			if srv.Token == "" {
				return errors.New("create the benchmark's MCP server: no token in the answer")
			}
			b.mcpTokens = append(b.mcpTokens, srv.Token)
		}
	}
	// One tools/list, checked, gives the definitions the floor and the SDK list.
	g := newMCPLoadGen(b.serverBase(), 1, []string{"/mcp/" + b.mcpTokens[0]}, mcpRequest{method: "tools/list"},
		mcpCheck{method: "tools/list", tools: benchTools})
	defer g.close()
	body, err := g.once(ctx)
	if err != nil {
		return fmt.Errorf("tools/list on mcpapi: %w", err)
	}
	var resp struct {
		Result struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, t := range resp.Result.Tools {
		var n struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(t, &n) // a tool without a name fails the check below
		names[n.Name] = true
	}
	if !names[callTool] || !names[blobTool] {
		return fmt.Errorf("tools/list on mcpapi lacks %s or %s", callTool, blobTool)
	}
	tools, err := json.Marshal(resp.Result.Tools)
	if err != nil {
		return err
	}
	b.toolsFile = filepath.Join(b.tmp, "tools.json")
	if err := os.WriteFile(b.toolsFile, tools, 0o600); err != nil {
		return err
	}
	b.logf("created %d MCP servers of the %d-tool integration %q over %d accounts (credentials: %t)",
		len(b.mcpTokens), len(resp.Result.Tools), benchIntegration, mcpAccounts, b.secretKey != "")
	return nil
}

// startSDK starts the SDK-alone child.
func (b *bench) startSDK(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe) //nolint:gosec // G204: this very program, restarted in its sdk role
	cmd.Env = append(os.Environ(), roleEnv+"="+roleSDK, sdkToolsEnv+"="+b.toolsFile)
	c, line, err := b.startChild("sdk", cmd, true)
	if err != nil {
		return err
	}
	b.sdk = c
	base, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		return fmt.Errorf("sdk printed %q, not its address\n%s", line, c.tail())
	}
	c.base = base
	b.logf("go-sdk alone serving on %s (pid %d)", base, c.pid())
	return ctx.Err()
}

// newSecretKey is a random key for serve's --secret-key: 32 bytes, standard base64.
func newSecretKey() string {
	var k [32]byte
	_, _ = rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// rpcAnswer is what a JSON-RPC answer of the MCP rows may hold.
type rpcAnswer struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  *struct {
		IsError bool `json:"isError"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		Tools []json.RawMessage `json:"tools"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// mcpCheck is what a correct answer is: for tools/list, tools tools; for tools/call, a text
// content equal to text, or when text is "", of textLen bytes.
type mcpCheck struct {
	method  string
	tools   int
	text    string
	textLen int
}

// check says what is wrong with an MCP answer to the request of JSON-RPC id id, or nil.
func (c mcpCheck) check(status int, contentType string, body []byte, id int) error {
	if status != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", status, truncate(string(bytes.TrimSpace(body)), 300))
	}
	if !strings.HasPrefix(contentType, "application/json") {
		return fmt.Errorf("content type %q, want application/json", contentType)
	}
	var a rpcAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("not a JSON-RPC answer: %v: %s", err, truncate(string(body), 300))
	}
	switch {
	case a.Error != nil:
		return fmt.Errorf("JSON-RPC error %d: %s", a.Error.Code, a.Error.Message)
	case a.JSONRPC != "2.0" || string(a.ID) != strconv.Itoa(id):
		return fmt.Errorf("jsonrpc %q, id %s: want 2.0 and %d", a.JSONRPC, a.ID, id)
	case a.Result == nil:
		return errors.New("no result")
	}
	if c.method == "tools/list" {
		if len(a.Result.Tools) != c.tools {
			return fmt.Errorf("tools/list: %d tools, want %d", len(a.Result.Tools), c.tools)
		}
		return nil
	}
	if len(a.Result.Content) == 0 || a.Result.Content[0].Type != "text" {
		return fmt.Errorf("tools/call: no text content: %s", truncate(string(body), 300))
	}
	text := a.Result.Content[0].Text
	switch {
	case a.Result.IsError:
		return fmt.Errorf("tools/call: tool error: %s", truncate(text, 300))
	case c.text != "" && text != c.text:
		return fmt.Errorf("tools/call: text %q, want %q", truncate(text, 200), c.text)
	case c.text == "" && len(text) != c.textLen:
		return fmt.Errorf("tools/call: text of %d bytes, want %d", len(text), c.textLen)
	}
	return nil
}

// answerRef is an answer that passed check, split around its JSON-RPC id: the answers of one
// target to one request differ only there, so a later answer equal to prefix + its id + suffix
// is checked by comparing bytes instead of decoding again (a tools/list answer of 200 tools is
// about 100 KB: decoding each would make the load generator, on the same CPUs as the targets,
// the bottleneck).
type answerRef struct {
	prefix, suffix []byte
	ok             bool
}

// verify is check, through ref: an answer equal to ref's with its own id passes at once; any
// other is checked in full, and the first that passes becomes ref.
func (c mcpCheck) verify(ref *answerRef, status int, contentType string, body []byte, id int) error {
	if ref.ok && status == http.StatusOK && strings.HasPrefix(contentType, "application/json") && ref.matches(body, id) {
		return nil
	}
	if err := c.check(status, contentType, body, id); err != nil {
		return err
	}
	if !ref.ok {
		ref.learn(c, contentType, body, id)
	}
	return nil
}

func (r *answerRef) matches(body []byte, id int) bool {
	n := strconv.Itoa(id)
	return len(body) == len(r.prefix)+len(n)+len(r.suffix) && bytes.HasPrefix(body, r.prefix) &&
		bytes.HasSuffix(body, r.suffix) && string(body[len(r.prefix):len(r.prefix)+len(n)]) == n
}

// learn keeps a checked answer as the reference, once it is sure the id it found is the
// JSON-RPC id: the answer with another number in its place must pass check with that id.
func (r *answerRef) learn(c mcpCheck, contentType string, body []byte, id int) {
	needle := []byte(`"id":` + strconv.Itoa(id))
	i := bytes.Index(body, needle)
	if i < 0 {
		return
	}
	prefix, suffix := bytes.Clone(body[:i+len(`"id":`)]), bytes.Clone(body[i+len(needle):])
	const probe = 987654321
	trial := append(append(bytes.Clone(prefix), strconv.Itoa(probe)...), suffix...)
	if c.check(http.StatusOK, contentType, trial, probe) == nil {
		*r = answerRef{prefix: prefix, suffix: suffix, ok: true}
	}
}

// waitIdle gives a process a moment without load before its idle RSS is read.
func waitIdle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(300 * time.Millisecond):
	}
}
