package integrations

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/jsonschema-go/jsonschema"
)

// The standard MCP methods of tools, and the groups config.methods may name.
const (
	MethodList   = "list"
	MethodGet    = "get"
	MethodCreate = "create"
	MethodUpdate = "update"
	MethodDelete = "delete"

	GroupRead   = "read"   // list + get
	GroupWrite  = "write"  // create + update + delete
	GroupCustom = "custom" // every other method
)

// MethodExtension is the operation extension that sets a tool's method explicitly.
const MethodExtension = "x-mcp-method"

// Tool is one operation of an integration, as an MCP tool.
//
// Arguments: each path, query and header parameter is a top-level argument (named after the parameter;
// characters other than letters, digits, '_', '.' and '-' become '_'), and a JSON request body
// is ONE argument, BodyArg (normally "body"), holding the whole body — not merged with the
// parameters, so a body member can never collide with, or be mistaken for, a parameter; an
// array body is the array. Headers that carry credentials (Authorization, Cookie, API keys:
// the account's credential is the only one sent) or belong to the transport are not
// arguments, nor are cookie parameters.
// Properties marked readOnly are left out of body schemas. An argument that is not in the
// schema is refused. An optional argument given as null counts as absent.
type Tool struct {
	// Name is unique within the integration: the operationId in snake_case when the operation
	// has one, else derived from the method and the path (for example list_crm_contacts).
	Name string
	// Title is the operation's summary; Description its summary and description.
	Title       string
	Description string
	// Method is what config.methods matches: the operation's x-mcp-method when present, else
	// GET on a collection → list, GET on an item (the path ends with a parameter) → get,
	// POST → create, PUT/PATCH → update, DELETE → delete, anything else → the operationId
	// (lower-cased; the HTTP method, lower-cased, when there is none). Always lower-case.
	Method string
	// Tags are the operation's tags ∪ its x-mcp-tags, lower-cased: what config.tags matches.
	Tags []string
	// OperationID, HTTPMethod and Path (the template, e.g. /contacts/{contact_id}) say which
	// operation is called.
	OperationID string
	HTTPMethod  string
	Path        string
	Deprecated  bool
	// Params are the path, query and header parameters, in document order.
	Params []Param
	// Body is the JSON request body, nil when the operation takes none.
	Body *Body
	// InputSchema is the JSON Schema (2020-12) of the arguments: an object with
	// additionalProperties false.
	InputSchema json.RawMessage
	// OutputSchema is the JSON Schema (2020-12) of the tool's structured result, always of
	// type object; nil when the operation declares no JSON answer. OutputWrapped says the
	// upstream answer is not an object and is returned as {"result": answer}.
	OutputSchema  json.RawMessage
	OutputWrapped bool
	// Annotations are the hints MCP clients get about what the tool does.
	Annotations Annotations

	path     []pathChunk
	args     map[string]*jsonschema.Resolved
	required []string
}

// Annotations are MCP tool annotations, derived from the HTTP method (GET/HEAD read-only;
// DELETE destructive and idempotent; PUT idempotent; every tool open-world) unless the
// operation's x-mcp-annotations says otherwise. nil means "not stated".
type Annotations struct {
	ReadOnly    *bool
	Destructive *bool
	Idempotent  *bool
	OpenWorld   *bool
}

// Param is a path or query parameter of a tool.
type Param struct {
	// Name is the parameter's name on the wire; Arg the name of the argument carrying it.
	Name string
	Arg  string
	// In is "path", "query" or "header".
	In       string
	Required bool
	// Style and Explode say how arrays and objects are serialised (OpenAPI defaults applied:
	// simple for path, form for query; explode true for form).
	Style   string
	Explode bool
	// JSON: the parameter is declared with `content` (a JSON media type), so its value is sent
	// as JSON text.
	JSON bool
}

// Body is the JSON request body of a tool.
type Body struct {
	// Arg is the argument holding the body: "body", or "request_body" when a parameter is
	// already called body.
	Arg         string
	Required    bool
	ContentType string
	// Form: the body is sent as application/x-www-form-urlencoded (nested members as
	// a[b]=…, array items as a[0]=…), not as JSON.
	Form bool
}

// ArgumentError is a problem with one argument of a tool call.
type ArgumentError struct {
	Argument string
	Problem  string
}

func (e *ArgumentError) Error() string {
	return fmt.Sprintf("argument %q: %s", e.Argument, e.Problem)
}

type pathChunk struct {
	literal string
	param   *Param // nil for a literal
}

// Allowed reports whether a tool passes an MCP server's config. methods and tags are nil when
// unrestricted; an empty non-nil list allows nothing. methods entries are method names or the
// groups read (list, get), write (create, update, delete) and custom (every other method);
// tags: the tool passes when one of its tags is listed. Both must pass. Matching ignores case.
func Allowed(t *Tool, methods, tags []string) bool {
	if t == nil {
		return false
	}
	if methods != nil && !methodAllowed(t.Method, methods) {
		return false
	}
	if tags != nil && !tagAllowed(t.Tags, tags) {
		return false
	}
	return true
}

func methodAllowed(method string, list []string) bool {
	for _, e := range list {
		switch {
		case strings.EqualFold(e, method):
			return true
		case strings.EqualFold(e, GroupRead):
			if method == MethodList || method == MethodGet {
				return true
			}
		case strings.EqualFold(e, GroupWrite):
			if method == MethodCreate || method == MethodUpdate || method == MethodDelete {
				return true
			}
		case strings.EqualFold(e, GroupCustom):
			if !standardMethod(method) {
				return true
			}
		}
	}
	return false
}

func standardMethod(m string) bool {
	switch m {
	case MethodList, MethodGet, MethodCreate, MethodUpdate, MethodDelete:
		return true
	}
	return false
}

func tagAllowed(toolTags, list []string) bool {
	for _, want := range list {
		for _, have := range toolTags {
			if strings.EqualFold(want, have) {
				return true
			}
		}
	}
	return false
}

// Validate checks call arguments against the tool's input schema. Every problem names its
// argument (an *ArgumentError). args may be nil (no arguments).
func (t *Tool) Validate(args map[string]any) error {
	var unknown []string
	for name := range args {
		if _, ok := t.args[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(t.args))
		for name := range t.args {
			known = append(known, name)
		}
		sort.Strings(known)
		problem := "not an argument of this tool"
		if len(known) > 0 {
			problem += " (its arguments: " + strings.Join(known, ", ") + ")"
		} else {
			problem += " (it takes no arguments)"
		}
		return &ArgumentError{Argument: unknown[0], Problem: problem}
	}
	for _, name := range t.required {
		if v, ok := args[name]; !ok || v == nil {
			return &ArgumentError{Argument: name, Problem: "required"}
		}
	}
	names := make([]string, 0, len(args))
	for name := range args {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := args[name]
		if v == nil && !slices.Contains(t.required, name) {
			continue // an optional argument sent as null is absent
		}
		if err := t.args[name].Validate(v); err != nil {
			return &ArgumentError{Argument: name, Problem: cleanSchemaError(err)}
		}
	}
	return nil
}

// cleanSchemaError drops jsonschema-go's "validating root: " wrapping.
func cleanSchemaError(err error) string {
	s := err.Error()
	for {
		rest, ok := strings.CutPrefix(s, "validating root: ")
		if !ok {
			return s
		}
		s = rest
	}
}

// mergedParams are the path item's parameters overridden by the operation's (same name and
// location), in document order.
func mergedParams(item *openapi3.PathItem, op *openapi3.Operation) []*openapi3.Parameter {
	var out []*openapi3.Parameter
	add := func(p *openapi3.Parameter) {
		for i, q := range out {
			if q.Name == p.Name && q.In == p.In {
				out[i] = p
				return
			}
		}
		out = append(out, p)
	}
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, ref := range list {
			if ref != nil && ref.Value != nil {
				add(ref.Value)
			}
		}
	}
	return out
}

func toolMethod(op *openapi3.Operation, method, path string) (string, error) {
	if v, ok := op.Extensions[MethodExtension]; ok {
		s, ok := v.(string)
		s = strings.ToLower(strings.TrimSpace(s))
		if !ok || !scopePattern.MatchString(s) {
			return "", fmt.Errorf("%s must be a string of letters, digits, '_', '.', ':' or '-' (at most 64), starting with a letter or digit", MethodExtension)
		}
		return s, nil
	}
	switch method {
	case http.MethodGet:
		if endsWithParam(path) {
			return MethodGet, nil
		}
		return MethodList, nil
	case http.MethodPost:
		return MethodCreate, nil
	case http.MethodPut, http.MethodPatch:
		return MethodUpdate, nil
	case http.MethodDelete:
		return MethodDelete, nil
	}
	if op.OperationID != "" {
		return strings.ToLower(op.OperationID), nil
	}
	return strings.ToLower(method), nil
}

func endsWithParam(path string) bool {
	path = strings.TrimRight(path, "/")
	last := path[strings.LastIndex(path, "/")+1:]
	return strings.Contains(last, "{")
}

func sanitizeArg(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !argChar(c) {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// argChar: letters, digits, '_', '.' and '-' are what MCP clients accept in property names.
func argChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c == '_' || c == '.' || c == '-'
}

func parseTemplate(path string, params []Param) ([]pathChunk, error) {
	var chunks []pathChunk
	rest := path
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			chunks = append(chunks, pathChunk{literal: rest})
			break
		}
		if open > 0 {
			chunks = append(chunks, pathChunk{literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, errors.New("unbalanced '{' in the path")
		}
		name := rest[open+1 : open+end]
		var found *Param
		for i := range params {
			if params[i].In == openapi3.ParameterInPath && params[i].Name == name {
				found = &params[i]
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("path parameter {%s} is not declared", name)
		}
		chunks = append(chunks, pathChunk{param: found})
		rest = rest[open+end+1:]
	}
	return chunks, nil
}

// jsonMediaType is the content's JSON media type: application/json first, else the first
// (in order) application/*+json or */json one; "" when there is none.
func jsonMediaType(content openapi3.Content) string {
	if _, ok := content["application/json"]; ok {
		return "application/json"
	}
	var found []string
	for mt := range content {
		base, _, _ := strings.Cut(strings.ToLower(mt), ";")
		base = strings.TrimSpace(base)
		if strings.HasSuffix(base, "+json") || strings.HasSuffix(base, "/json") {
			found = append(found, mt)
		}
	}
	if len(found) == 0 {
		return ""
	}
	sort.Strings(found)
	return found[0]
}

func mediaTypes(content openapi3.Content) []string {
	out := make([]string, 0, len(content))
	for mt := range content {
		out = append(out, mt)
	}
	sort.Strings(out)
	return out
}

// methodAnnotations are the annotations an HTTP method implies.
func methodAnnotations(method string) Annotations {
	yes, no := true, false
	a := Annotations{OpenWorld: &yes}
	switch method {
	case "GET", "HEAD", "OPTIONS":
		a.ReadOnly = &yes
	case "DELETE":
		a.ReadOnly, a.Destructive, a.Idempotent = &no, &yes, &yes
	case "PUT":
		a.ReadOnly, a.Idempotent = &no, &yes
	default:
		a.ReadOnly = &no
	}
	return a
}
