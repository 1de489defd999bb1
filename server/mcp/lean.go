package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The lean path answers the hot methods of the protocol versions up to 2025-11-25 without
// the SDK's per-request session, JSON-RPC connection and re-encoding: it decodes the one
// message, and writes the answer from tool definitions encoded at start. It takes only
// well-formed messages it can answer exactly as the SDK would; anything else (other methods,
// odd ids, missing params, per-request protocol metadata, the 2026-07-28 protocol) is left
// to the SDK, whose errors then stand.

// legacyVersions are the versions of the initialize handshake the SDK supports, newest first.
var legacyVersions = slices.DeleteFunc(sdk.SupportedProtocolVersions(), func(v string) bool { return v >= version20260728 })

const (
	protocolVersionHeader = "Mcp-Protocol-Version"
	// defaultVersion is the SDK's assumption for a request without the version header.
	defaultVersion = version20250326
)

// negotiatedVersion is the SDK's answer to initialize: the client's version when supported,
// else the newest supported handshake version.
func negotiatedVersion(client string) string {
	if slices.Contains(legacyVersions, client) {
		return client
	}
	return legacyVersions[0]
}

type rpcRequest struct {
	// JSONRPC is raw so that an absent member (the platform's TypeScript SDK sends none,
	// and means "2.0") is told from a wrong one.
	JSONRPC json.RawMessage `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type rpcError struct {
	code    int
	message string
}

var (
	errBatch         = &rpcError{-32600, "JSON-RPC batches are not accepted: send one message per request"}
	errInvalidParams = &rpcError{-32602, "invalid params"}
)

// knownMethods bounds the method label of the metrics.
var knownMethods = map[string]bool{
	"initialize": true, "ping": true, "notifications/initialized": true, "tools/list": true,
	"tools/call": true, "server/discover": true, "notifications/cancelled": true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "other"
}

// normalizeMessage gives a message the SDK would refuse only for its missing "jsonrpc" member
// (the platform's TypeScript SDK sends none, meaning "2.0") that member; anything else is
// left as it is, for the SDK to judge.
func normalizeMessage(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) < 2 || trimmed[0] != '{' {
		return body
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(trimmed, &m) != nil {
		return body
	}
	if _, ok := m["jsonrpc"]; ok {
		return body
	}
	out := make([]byte, 0, len(trimmed)+17)
	out = append(out, `{"jsonrpc":"2.0"`...)
	if rest := bytes.TrimSpace(trimmed[1:]); rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, trimmed[1:]...)
}

// metaMarker is in every message carrying the 2026-07-28 protocol's per-request metadata.
var metaMarker = []byte("io.modelcontextprotocol/")

// lean answers the request when it can; handled is false when the SDK must.
func (h *Handler) lean(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, c *call) (method, outcome string, handled bool) {
	method, outcome = "other", "ok"
	version := r.Header.Get(protocolVersionHeader)
	if version != "" && !slices.Contains(legacyVersions, version) {
		return method, outcome, false
	}
	sse, ok := negotiate(r.Header)
	if !ok || bytes.Contains(body, metaMarker) {
		return method, outcome, false
	}
	var req rpcRequest
	if json.Unmarshal(body, &req) != nil || (len(req.JSONRPC) > 0 && string(bytes.TrimSpace(req.JSONRPC)) != `"2.0"`) {
		return method, outcome, false
	}
	method = methodLabel(req.Method)
	if version == "" {
		version = defaultVersion
	}
	isCall := validID(req.ID)
	if !isCall && len(req.ID) > 0 {
		return method, outcome, false
	}
	params := bytes.TrimSpace(req.Params)
	if bytes.Equal(params, []byte("null")) {
		params = nil
	}
	if len(params) > 0 && params[0] != '{' {
		return method, outcome, false
	}

	switch req.Method {
	case "notifications/initialized":
		if isCall {
			return method, outcome, false
		}
		w.WriteHeader(http.StatusAccepted)
		return method, outcome, true

	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
			ClientInfo      struct {
				Name    string `json:"name"`
				Version string `json:"version"`
			} `json:"clientInfo"`
		}
		id := req.ID
		if len(id) == 0 {
			// The platform's TypeScript SDK sends initialize without an id and expects the
			// answer the platform gives: a response whose id is null.
			id = []byte("null")
			if params == nil || json.Unmarshal(params, &p) != nil {
				writeRPC(w, http.StatusOK, sse, id, nil, errInvalidParams)
				return method, "error", true
			}
		} else if params == nil || json.Unmarshal(params, &p) != nil {
			return method, outcome, false
		}
		c.clientName, c.clientVersion = truncate(p.ClientInfo.Name), truncate(p.ClientInfo.Version)
		v := negotiatedVersion(p.ProtocolVersion)
		writeRPC(w, http.StatusOK, sse, id, h.appendInitialize(nil, c, v), nil)
		return method, outcome, true

	case "ping":
		if !isCall {
			return method, outcome, false
		}
		writeRPC(w, http.StatusOK, sse, req.ID, []byte("{}"), nil)
		return method, outcome, true

	case "tools/list":
		var p struct {
			Cursor string `json:"cursor"`
		}
		if !isCall || (params != nil && json.Unmarshal(params, &p) != nil) {
			return method, outcome, false
		}
		tools, next, err := c.listTools(p.Cursor)
		if err != nil {
			writeRPC(w, http.StatusOK, sse, req.ID, nil, errInvalidParams)
			return method, "error", true
		}
		writeRPC(w, http.StatusOK, sse, req.ID, appendList(make([]byte, 0, 256*len(tools)+32), tools, next, classOf(version)), nil)
		return method, outcome, true

	case "tools/call":
		var p struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if !isCall || params == nil || json.Unmarshal(params, &p) != nil {
			return method, outcome, false
		}
		res, rerr := c.callTool(ctx, p.Name, p.Arguments)
		if rerr != nil {
			writeRPC(w, http.StatusOK, sse, req.ID, nil, rerr)
			return method, "error", true
		}
		writeCallRPC(w, sse, req.ID, res, classOf(version))
		return method, outcome, true
	}
	return method, outcome, false
}

func unknownTool(name string) *rpcError {
	return &rpcError{-32602, "unknown tool " + strconv.Quote(name)}
}

// validID: a JSON-RPC request id the SDK takes, a string or an integer.
func validID(id json.RawMessage) bool {
	id = bytes.TrimSpace(id)
	if len(id) == 0 {
		return false
	}
	if id[0] == '"' {
		var s string
		return json.Unmarshal(id, &s) == nil
	}
	_, err := strconv.ParseInt(string(id), 10, 64)
	return err == nil
}

// appendInitialize is the initialize result: serverInfo.title only where the version defines
// it (2025-06-18 on).
func (h *Handler) appendInitialize(b []byte, c *call, version string) []byte {
	b = append(b, `{"capabilities":{"tools":{}},`...)
	if c.view.set == nil {
		b = append(b, `"instructions":`...)
		b = appendString(b, "No tools are available: the integration "+strconv.Quote(c.target.Integration)+" has no API description.")
		b = append(b, ',')
	}
	b = append(b, `"protocolVersion":`...)
	b = appendString(b, version)
	b = append(b, `,"serverInfo":{"name":"mcpapi",`...)
	if title := c.title(); title != "" && classOf(version) >= class20250618 {
		b = append(b, `"title":`...)
		b = appendString(b, title)
		b = append(b, ',')
	}
	return append(b, `"version":"1.0.0"}}`...)
}

func (c *call) title() string {
	if c.view.set != nil && c.view.set.in.Title != "" {
		return c.view.set.in.Title
	}
	return c.target.Integration
}

func (c *call) integrationLabel() string {
	if c.view.set != nil {
		return c.view.set.in.Name
	}
	return "unknown"
}

// writeRPC writes one JSON-RPC response, as plain JSON or as the one event of an SSE stream.
// The result is written as it is, not copied.
func writeRPC(w http.ResponseWriter, status int, sse bool, id json.RawMessage, result []byte, e *rpcError) {
	if e != nil {
		result = nil
	}
	head, tail := rpcEnvelope(w, sse, id, e)
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(result)+len(tail)))
	w.WriteHeader(status)
	_, _ = w.Write(head)
	if len(result) > 0 {
		_, _ = w.Write(result)
	}
	_, _ = io.WriteString(w, tail)
}

// writeCallRPC is writeRPC of a tools/call result, written as it is encoded (writeCallResult):
// an upstream answer is held once while it is sent, not three times.
func writeCallRPC(w http.ResponseWriter, sse bool, id json.RawMessage, res *toolResult, c versionClass) {
	head, tail := rpcEnvelope(w, sse, id, nil)
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+callResultLen(res, c)+len(tail)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(head)
	writeCallResult(w, res, c)
	_, _ = io.WriteString(w, tail)
}

// rpcEnvelope sets the response's media type and returns what goes before the result (the
// whole answer but its last brace, for an error) and after it.
func rpcEnvelope(w http.ResponseWriter, sse bool, id json.RawMessage, e *rpcError) (head []byte, tail string) {
	head = make([]byte, 0, 96)
	if sse {
		head = append(head, "event: message\ndata: "...)
	}
	head = append(head, `{"jsonrpc":"2.0","id":`...)
	head = append(head, bytes.TrimSpace(id)...)
	if e != nil {
		head = append(head, `,"error":{"code":`...)
		head = strconv.AppendInt(head, int64(e.code), 10)
		head = append(head, `,"message":`...)
		head = appendString(head, e.message)
		head = append(head, '}')
	} else {
		head = append(head, `,"result":`...)
	}
	tail = "}"
	if sse {
		tail = "}\n\n"
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache, no-transform")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	return head, tail
}
