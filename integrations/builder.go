package integrations

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/jsonschema-go/jsonschema"
)

var httpMethods = []string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
	http.MethodHead, http.MethodOptions, http.MethodTrace, "QUERY",
}

var scopePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,63}$`)

// Extensions an operation may carry besides x-mcp-method.
const (
	TagsExtension        = "x-mcp-tags"        // more tags, e.g. [destructive]
	AnnotationsExtension = "x-mcp-annotations" // {readOnlyHint, destructiveHint, idempotentHint, openWorldHint}
)

// maxDescription bounds a tool's description (summary and description); the line on what the
// tool returns comes after it.
const maxDescription = 1024

// builder makes the tools of one document.
type builder struct {
	integration       string
	doc               *openapi3.T
	warn              *warnings
	credentialHeaders map[string]bool // lower-case names of the document's apiKey headers

	tools      []*Tool
	operations int
	skipped    []Skipped
	noOpID     []string
	noOutput   []string
	cut        []string
}

func (b *builder) build() {
	if b.doc.Paths == nil {
		return
	}
	paths := b.doc.Paths.Map()
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	type pending struct {
		tool    *Tool
		derived string
	}
	var all []pending
	for _, path := range keys {
		item := paths[path]
		if item == nil {
			continue
		}
		ops := item.Operations()
		for _, method := range httpMethods {
			op := ops[method]
			if op == nil {
				continue
			}
			b.operations++
			where := method + " " + path
			t, err := b.buildTool(path, method, item, op)
			if err != nil {
				b.skipped = append(b.skipped, Skipped{Operation: where, Reason: err.Error()})
				b.warn.add(KindSkipped, where, "not a tool: "+err.Error())
				continue
			}
			all = append(all, pending{t, derivedName(b.integration, t.Method, path)})
		}
	}

	// Names: operationIds first (they are the document's own names), then derived ones; a
	// name already taken gets _2, _3, … in document order (paths sorted, then methods), so the
	// same document always gives the same names.
	taken := map[string]bool{}
	firstUse := map[string]string{}
	name := func(p pending, base string) {
		n := toolName(base)
		if n != base {
			b.warn.add(KindName, p.tool.HTTPMethod+" "+p.tool.Path, fmt.Sprintf("name %q is longer than %d characters: shortened to %q", base, maxNameLen, n))
		}
		p.tool.Name = uniqueName(n, taken)
	}
	for _, p := range all {
		id := p.tool.OperationID
		if id == "" {
			continue
		}
		where := p.tool.HTTPMethod + " " + p.tool.Path
		if other, dup := firstUse[id]; dup {
			b.warn.add(KindOperationID, where, fmt.Sprintf("operationId %q is also %s's: this tool's name gets a suffix", id, other))
		} else {
			firstUse[id] = where
		}
		if n := snake(id); n != "" {
			name(p, n)
		}
	}
	for _, p := range all {
		if p.tool.Name == "" {
			if p.tool.OperationID == "" {
				b.noOpID = append(b.noOpID, p.tool.HTTPMethod+" "+p.tool.Path)
			}
			name(p, p.derived)
		}
	}
	b.tools = make([]*Tool, len(all))
	for i, p := range all {
		b.tools[i] = p.tool
	}
	sort.Slice(b.tools, func(i, j int) bool { return b.tools[i].Name < b.tools[j].Name })

	summary := func(kind string, ops []string, format string) {
		if len(ops) == 0 {
			return
		}
		shown := ops[:min(5, len(ops))]
		more := ""
		if len(ops) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(ops)-len(shown))
		}
		b.warn.add(kind, "", fmt.Sprintf(format, len(ops))+": "+strings.Join(shown, ", ")+more)
	}
	summary(KindOperationID, b.noOpID, "%d operations have no operationId (tools named from the method and the path)")
	summary(KindResponse, b.noOutput, "%d operations declare no JSON schema for their 2xx answer (no outputSchema)")
	summary(KindRecursion, b.cut, "%d tools' schemas were cut at a fixed depth or size")
}

func (b *builder) buildTool(path, method string, item *openapi3.PathItem, op *openapi3.Operation) (*Tool, error) {
	where := method + " " + path
	t := &Tool{
		OperationID: op.OperationID,
		HTTPMethod:  method,
		Path:        path,
		Title:       truncate(oneLine(op.Summary), 200),
		Deprecated:  op.Deprecated,
	}
	m, err := toolMethod(op, method, path)
	if err != nil {
		return nil, err
	}
	t.Method = m
	t.Tags = effectiveTags(op)
	t.Annotations = methodAnnotations(method)
	if err := overrideAnnotations(&t.Annotations, op.Extensions[AnnotationsExtension]); err != nil {
		return nil, err
	}

	in := newConverter("request", b.warn, where)
	props := map[string]any{}
	var required []string
	usedArgs := map[string]bool{}
	argName := func(base, loc string) string {
		name := sanitizeArg(base)
		if usedArgs[name] {
			name = sanitizeArg(base + "_" + loc)
		}
		for i := 2; usedArgs[name]; i++ {
			name = sanitizeArg(base + "_" + loc + "_" + strconv.Itoa(i))
		}
		usedArgs[name] = true
		return name
	}

	for _, p := range mergedParams(item, op) {
		switch p.In {
		case openapi3.ParameterInPath, openapi3.ParameterInQuery:
		case openapi3.ParameterInHeader:
			if reason := b.headerExcluded(p.Name); reason != "" {
				// Once per header name: documents repeat the same header on every operation.
				if p.Required && reason != reasonTransport {
					b.warn.addKeyed("header\x00"+strings.ToLower(p.Name), KindParameter, where, fmt.Sprintf("header %q is not an argument, here or elsewhere (%s)", p.Name, reason))
				}
				continue
			}
		default:
			if p.Required {
				b.warn.addKeyed(p.In+"\x00"+p.Name, KindParameter, where, fmt.Sprintf("required %s parameter %q is not an argument, here or elsewhere: it is never sent", p.In, p.Name))
			}
			continue
		}
		param := Param{Name: p.Name, In: p.In, Required: p.Required || p.In == openapi3.ParameterInPath}
		param.Style = p.Style
		if param.Style == "" {
			if p.In == openapi3.ParameterInQuery {
				param.Style = "form"
			} else {
				param.Style = "simple"
			}
		}
		param.Explode = param.Style == "form"
		if p.Explode != nil {
			param.Explode = *p.Explode
		}
		sref := p.Schema
		if sref == nil {
			if mt := jsonMediaType(p.Content); mt != "" {
				sref = p.Content[mt].Schema
				param.JSON = true
			}
		}
		schema := in.convert(sref)
		if p.Description != "" {
			if _, has := schema["description"]; !has {
				schema["description"] = truncate(p.Description, maxSchemaDescription)
			}
		}
		if p.Deprecated {
			schema["deprecated"] = true
		}
		param.Arg = argName(p.Name, p.In)
		props[param.Arg] = schema
		if param.Required {
			required = append(required, param.Arg)
		}
		t.Params = append(t.Params, param)
	}

	chunks, err := parseTemplate(path, t.Params)
	if err != nil {
		return nil, err
	}
	t.path = chunks

	if op.RequestBody != nil && op.RequestBody.Value != nil {
		rb := op.RequestBody.Value
		mt, form := jsonMediaType(rb.Content), false
		if mt == "" {
			if _, ok := rb.Content[formMediaType]; ok {
				mt, form = formMediaType, true
			}
		}
		switch {
		case mt != "":
			arg := "body"
			if usedArgs[arg] {
				arg = "request_body"
			}
			arg = argName(arg, "body")
			t.Body = &Body{Arg: arg, Required: rb.Required, ContentType: mt, Form: form}
			schema := in.convert(rb.Content[mt].Schema)
			desc := strings.TrimSpace(rb.Description)
			if desc == "" {
				desc = "The request body."
				if form {
					desc = "The request body (sent form-encoded)."
				}
			}
			if d, ok := schema["description"].(string); ok && d != "" && d != desc {
				desc += "\n\n" + d
			}
			schema["description"] = truncate(desc, maxSchemaDescription*2)
			props[arg] = schema
			if rb.Required {
				required = append(required, arg)
			}
		case rb.Required && len(rb.Content) > 0:
			return nil, fmt.Errorf("its required request body has no JSON or form media type (%s)", strings.Join(mediaTypes(rb.Content), ", "))
		}
	}
	if in.cut {
		b.cut = append(b.cut, where)
	}

	input := map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		input["required"] = required
	}
	raw, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	t.InputSchema = raw
	t.required = required
	t.args = make(map[string]*jsonschema.Resolved, len(props))
	for name, p := range props {
		r, err := resolve(p)
		if err != nil {
			return nil, fmt.Errorf("schema of argument %q: %w", name, err)
		}
		t.args[name] = r
	}

	returns, err := b.output(t, op, where)
	if err != nil {
		return nil, err
	}
	t.Description = describe(op, method, path, returns)
	return t, nil
}

// output sets the tool's output schema from its first 2xx response with a JSON schema
// (loosened, see [converter]; wrapped as {"result": …} when it is not an object) and returns
// the line of the description that says what the tool returns.
func (b *builder) output(t *Tool, op *openapi3.Operation, where string) (string, error) {
	if op.Responses == nil {
		b.noOutput = append(b.noOutput, where)
		return "", nil
	}
	codes := make([]string, 0, op.Responses.Len())
	for code := range op.Responses.Map() {
		if strings.HasPrefix(code, "2") {
			codes = append(codes, code)
		}
	}
	sort.Strings(codes) // 200 before 201 before 2XX
	var desc string
	for _, code := range codes {
		ref := op.Responses.Value(code)
		if ref == nil || ref.Value == nil {
			continue
		}
		r := ref.Value
		if desc == "" && r.Description != nil {
			desc = oneLine(*r.Description)
		}
		mt := jsonMediaType(r.Content)
		if mt == "" || r.Content[mt].Schema == nil {
			continue
		}
		conv := newConverter("output", b.warn, where)
		schema := conv.convert(r.Content[mt].Schema)
		what := "a JSON object"
		if !isObjectSchema(r.Content[mt].Schema.Value) {
			what = "a JSON value, as {\"result\": …}"
			if s := r.Content[mt].Schema.Value; s != nil && s.Type.Is("array") {
				what = "a JSON array, as {\"result\": […]}"
			}
			schema = map[string]any{"type": "object", "properties": map[string]any{"result": schema}}
			t.OutputWrapped = true
		} else {
			schema["type"] = "object" // an MCP outputSchema is an object schema, never nullable
		}
		raw, err := json.Marshal(schema)
		if err != nil {
			return "", fmt.Errorf("output schema: %w", err)
		}
		t.OutputSchema = raw
		line := "Returns " + what
		if r.Description != nil {
			if d := oneLine(*r.Description); d != "" {
				line += ": " + truncate(d, 200)
			}
		}
		return line, nil
	}
	if len(codes) == 0 || !slices.ContainsFunc(codes, func(c string) bool { return c == "204" || c == "202" }) {
		b.noOutput = append(b.noOutput, where)
	}
	if desc != "" {
		return "Returns: " + truncate(desc, 200), nil
	}
	return "", nil
}

// isObjectSchema: the answer is a JSON object (possibly null, which the endpoint answers as
// no structured content), so it is the structured content as it is.
func isObjectSchema(s *openapi3.Schema) bool {
	if s == nil {
		return false
	}
	types := slices.DeleteFunc(slices.Clone(s.Type.Slice()), func(t string) bool { return t == "null" })
	if len(types) == 1 {
		return types[0] == "object"
	}
	if len(types) > 1 {
		return false
	}
	if len(s.Properties) > 0 || s.AdditionalProperties.Schema != nil {
		return true
	}
	// allOf of objects (the usual way of extending a schema)
	if len(s.AllOf) > 0 {
		for _, a := range s.AllOf {
			if a != nil && isObjectSchema(a.Value) {
				return true
			}
		}
	}
	return false
}

// effectiveTags: the operation's tags ∪ its x-mcp-tags, lower-cased, first-seen order.
func effectiveTags(op *openapi3.Operation) []string {
	var tags []string
	add := func(tag string) {
		tag = strings.ToLower(strings.TrimSpace(tag))
		if tag != "" && !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	for _, tag := range op.Tags {
		add(tag)
	}
	switch v := op.Extensions[TagsExtension].(type) {
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	case string:
		add(v)
	}
	return tags
}

// overrideAnnotations applies x-mcp-annotations: an object of the MCP hint names
// (readOnlyHint, destructiveHint, idempotentHint, openWorldHint) with booleans.
func overrideAnnotations(a *Annotations, ext any) error {
	if ext == nil {
		return nil
	}
	m, ok := ext.(map[string]any)
	if !ok {
		return fmt.Errorf("%s must be an object", AnnotationsExtension)
	}
	for k, v := range m {
		bv, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%s.%s must be a boolean", AnnotationsExtension, k)
		}
		switch k {
		case "readOnlyHint":
			a.ReadOnly = &bv
		case "destructiveHint":
			a.Destructive = &bv
		case "idempotentHint":
			a.Idempotent = &bv
		case "openWorldHint":
			a.OpenWorld = &bv
		default:
			return fmt.Errorf("%s: unknown hint %q", AnnotationsExtension, k)
		}
	}
	return nil
}

// Headers that are never arguments: the credential is the account's, and hop-by-hop or
// framing headers are the transport's.
var reservedHeaders = map[string]string{
	"authorization": "credential", "proxy-authorization": "credential", "cookie": "credential",
	"set-cookie": "credential", "x-api-key": "credential", "api-key": "credential", "x-auth-token": "credential",
	"x-access-token": "credential", "x-csrf-token": "credential",
	"host": "transport", "content-length": "transport", "content-type": "transport", "accept": "transport",
	"accept-encoding": "transport", "transfer-encoding": "transport", "connection": "transport",
	"keep-alive": "transport", "te": "transport", "trailer": "transport", "upgrade": "transport",
	"proxy-connection": "transport", "user-agent": "transport", "expect": "transport",
}

var credentialHeader = regexp.MustCompile(`(?i)(^|[-_])(auth|authorization|token|secret|password|passwd|api[-_]?key|session|signature|credential)s?($|[-_])`)

const (
	reasonCredential = "it carries a credential, which is the account's" //nolint:gosec // G101: a message, not a credential
	reasonTransport  = "the transport sets it"
)

// headerExcluded says why a header parameter is not an argument ("" when it is one).
func (b *builder) headerExcluded(name string) string {
	lower := strings.ToLower(name)
	if why, ok := reservedHeaders[lower]; ok {
		if why == "credential" {
			return reasonCredential
		}
		return reasonTransport
	}
	if b.credentialHeaders[lower] || credentialHeader.MatchString(lower) {
		return reasonCredential
	}
	return ""
}

// credentialHeaders are the header names of the document's apiKey security schemes.
func credentialHeaders(doc *openapi3.T) map[string]bool {
	out := map[string]bool{}
	if doc.Components == nil {
		return out
	}
	for _, ref := range doc.Components.SecuritySchemes {
		if ref != nil && ref.Value != nil && ref.Value.Type == "apiKey" && ref.Value.In == "header" {
			out[strings.ToLower(ref.Value.Name)] = true
		}
	}
	return out
}

// describe is the tool's description: its summary and description, bounded, then what it
// returns.
func describe(op *openapi3.Operation, method, path, returns string) string {
	var parts []string
	if s := strings.TrimSpace(op.Summary); s != "" {
		parts = append(parts, s)
	}
	if d := strings.TrimSpace(op.Description); d != "" && d != strings.TrimSpace(op.Summary) {
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		parts = append(parts, method+" "+path)
	}
	if op.Deprecated {
		parts[0] = "Deprecated. " + parts[0]
	}
	text := truncate(strings.Join(parts, "\n\n"), maxDescription)
	if returns != "" {
		text += "\n\n" + returns
	}
	return text
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func resolve(schema any) (*jsonschema.Resolved, error) {
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return s.Resolve(nil)
}
