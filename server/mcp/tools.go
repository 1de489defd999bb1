package mcp

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"errors"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpapi/mcpapi/integrations"
)

// Protocol versions whose members differ (what a tool definition and a result may carry).
const (
	version20241105 = "2024-11-05"
	version20250326 = "2025-03-26" // + tool annotations
	version20250618 = "2025-06-18" // + title, outputSchema, structuredContent
	version20260728 = "2026-07-28" // the sessionless protocol: left to the SDK
)

// versionClass indexes the pre-encoded forms of a tool definition.
type versionClass int

const (
	class20241105 versionClass = iota
	class20250326
	class20250618
	numClasses
)

func classOf(version string) versionClass {
	switch {
	case version >= version20250618:
		return class20250618
	case version >= version20250326:
		return class20250326
	}
	return class20241105
}

// toolSet is an integration's tools as MCP serves them, built once when the handler is made
// and shared read-only by every request: an MCP server's view of it is a filter (its config),
// never a copy.
type toolSet struct {
	in     *integrations.Integration
	tools  []*toolDef // in name order, as in.Tools
	byName map[string]*toolDef
	// server answers what the lean path leaves to the SDK for this integration.
	server *sdk.Server
}

type toolDef struct {
	tool *integrations.Tool
	// sdk is the definition for the SDK path (the 2026-07-28 protocol).
	sdk *sdk.Tool
	// encoded is the JSON of the definition per protocol version class: only the members
	// that version defines.
	encoded [numClasses][]byte
}

func newToolSet(in *integrations.Integration) (*toolSet, error) {
	ts := &toolSet{in: in, tools: make([]*toolDef, 0, len(in.Tools)), byName: make(map[string]*toolDef, len(in.Tools))}
	for _, t := range in.Tools {
		d := &toolDef{tool: t, sdk: definition(t)}
		for c := range numClasses {
			def := *d.sdk
			if c < class20250618 {
				def.Title, def.OutputSchema = "", nil
			}
			if c < class20250326 {
				def.Annotations = nil
			}
			b, err := json.Marshal(&def)
			if err != nil {
				return nil, err
			}
			d.encoded[c] = b
		}
		ts.tools = append(ts.tools, d)
		ts.byName[t.Name] = d
	}
	return ts, nil
}

// definition is the MCP tool of an integration's tool.
func definition(t *integrations.Tool) *sdk.Tool {
	a := t.Annotations
	ann := &sdk.ToolAnnotations{
		Title:           t.Title,
		ReadOnlyHint:    a.ReadOnly != nil && *a.ReadOnly,
		IdempotentHint:  a.Idempotent != nil && *a.Idempotent,
		DestructiveHint: a.Destructive,
		OpenWorldHint:   a.OpenWorld,
	}
	if ann.ReadOnlyHint {
		ann.DestructiveHint = nil // only meaningful when not read-only
	}
	def := &sdk.Tool{
		Name:        t.Name,
		Title:       t.Title,
		Description: t.Description,
		InputSchema: t.InputSchema,
		Annotations: ann,
	}
	if t.OutputSchema != nil {
		def.OutputSchema = t.OutputSchema
	}
	return def
}

// view is what one MCP server may use of a tool set: the tools its config allows.
type view struct {
	set     *toolSet // nil: the integration has no catalogue entry
	methods []string
	tags    []string
}

// tool returns the allowed tool called name.
func (v view) tool(name string) (*toolDef, bool) {
	if v.set == nil {
		return nil, false
	}
	d, ok := v.set.byName[name]
	if !ok || !integrations.Allowed(d.tool, v.methods, v.tags) {
		return nil, false
	}
	return d, true
}

// pageSize is the SDK's default page size of list results.
const pageSize = sdk.DefaultPageSize

var errInvalidCursor = errors.New("invalid cursor")

// page returns the allowed tools after the cursor (the SDK's cursor format: the last name of
// the previous page, gob-encoded, base64url), at most pageSize, and the next cursor.
func (v view) page(cursor string) ([]*toolDef, string, error) {
	after := ""
	if cursor != "" {
		var err error
		if after, err = decodeCursor(cursor); err != nil {
			return nil, "", errInvalidCursor
		}
	}
	if v.set == nil {
		return nil, "", nil
	}
	var out []*toolDef
	for _, d := range v.set.tools {
		if after != "" && d.tool.Name <= after {
			continue
		}
		if !integrations.Allowed(d.tool, v.methods, v.tags) {
			continue
		}
		if len(out) == pageSize {
			next, err := encodeCursor(out[len(out)-1].tool.Name)
			return out, next, err
		}
		out = append(out, d)
	}
	return out, "", nil
}

// pageToken is the SDK's cursor payload; the type name and field are part of the gob
// encoding, so they match the SDK's.
type pageToken struct {
	LastUID string
}

func encodeCursor(uid string) (string, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(pageToken{LastUID: uid}); err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(buf.Bytes()), nil
}

func decodeCursor(cursor string) (string, error) {
	b, err := base64.URLEncoding.DecodeString(cursor)
	if err != nil {
		return "", err
	}
	var t pageToken
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&t); err != nil {
		return "", err
	}
	return t.LastUID, nil
}

// appendList appends the result of tools/list for a protocol version class.
func appendList(b []byte, tools []*toolDef, next string, c versionClass) []byte {
	b = append(b, `{"tools":[`...)
	for i, d := range tools {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, d.encoded[c]...)
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"nextCursor":`...)
		b = appendString(b, next)
	}
	return append(b, '}')
}
