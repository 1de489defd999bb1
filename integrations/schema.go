package integrations

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Bounds of the schemas in tool definitions. References are inlined, so a schema is cut where
// it recurs, below a fixed depth, and once its node budget is spent: there it accepts any
// value and says why in its description. The budgets keep tools/list small for documents whose
// schemas reference half the document (a tool's schema is sent with every tools/list).
const (
	maxSchemaDepth   = 10  // nesting levels of one schema
	inputNodeBudget  = 600 // schema nodes of one tool's arguments
	outputNodeBudget = 120 // schema nodes of one tool's output schema
	outputMaxDepth   = 4   // nesting levels of an output schema
	maxEnum          = 100 // enum values kept in an argument schema
)

// knownFormats are the formats of JSON Schema 2020-12 and of OpenAPI; any other is left out of
// tool schemas (strict validators refuse a schema with a format they do not know).
var knownFormats = map[string]bool{
	"date-time": true, "date": true, "time": true, "duration": true, "email": true, "idn-email": true,
	"hostname": true, "idn-hostname": true, "ipv4": true, "ipv6": true, "uri": true, "uri-reference": true,
	"iri": true, "iri-reference": true, "uuid": true, "uri-template": true, "json-pointer": true,
	"relative-json-pointer": true, "regex": true,
	"int32": true, "int64": true, "float": true, "double": true, "byte": true, "binary": true, "password": true,
}

// converter turns OpenAPI schemas (3.0 or 3.1) into self-contained JSON Schema 2020-12
// documents: references inlined, nullable as a "null" type, 3.0's boolean exclusive bounds as
// numbers, examples left out, OpenAPI-only keywords (discriminator, xml, externalDocs, x-…)
// dropped, patterns that Go's regexp cannot compile and unknown formats dropped (a warning
// each). In request mode, readOnly properties are left out (and out of required). In output
// mode the schema is loosened so that real answers pass a client's validation of
// structuredContent: no required members, additional members allowed, every type nullable, no
// value constraints (enums grow, formats differ), oneOf as anyOf.
type converter struct {
	request, output bool
	warn            *warnings
	op              string // "METHOD /path", for warnings
	stack           []*openapi3.Schema
	budget          int
	maxDepth        int
	cut             bool // the budget ran out somewhere
}

func newConverter(mode string, w *warnings, op string) *converter {
	c := &converter{warn: w, op: op, budget: inputNodeBudget, maxDepth: maxSchemaDepth}
	switch mode {
	case "request":
		c.request = true
	case "output":
		c.output, c.budget, c.maxDepth = true, outputNodeBudget, outputMaxDepth
	}
	return c
}

func (c *converter) convert(ref *openapi3.SchemaRef) map[string]any {
	if ref == nil || ref.Value == nil {
		return map[string]any{}
	}
	s := ref.Value
	if s.Always != nil {
		if *s.Always || c.output {
			return map[string]any{}
		}
		return map[string]any{"not": map[string]any{}}
	}
	if slices.Contains(c.stack, s) {
		name := refName(ref.Ref)
		if name == "" {
			name = "(inline)"
		}
		c.warn.addKeyed("recursion\x00"+name, KindRecursion, c.op, fmt.Sprintf("schema %s is recursive: cut where it recurs (any value accepted there)", name))
		return map[string]any{"description": "(" + name + ", recursive: not expanded further)"}
	}
	if len(c.stack) >= c.maxDepth || c.budget <= 0 {
		c.cut = true
		return map[string]any{"description": "(not expanded: nested too deep or too large)"}
	}
	c.budget--
	c.stack = append(c.stack, s)
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()
	top := len(c.stack) == 1

	out := map[string]any{}
	types := slices.Clone(s.Type.Slice())
	if (s.Nullable || c.output) && len(types) > 0 && !slices.Contains(types, "null") {
		types = append(types, "null")
	}
	switch len(types) {
	case 0:
	case 1:
		out["type"] = types[0]
	default:
		out["type"] = types
	}
	if !c.output || top {
		setString(out, "title", s.Title)
		setString(out, "description", truncate(s.Description, maxSchemaDescription))
	}
	if s.Format != "" && !c.output {
		if knownFormats[s.Format] {
			out["format"] = s.Format
		} else {
			c.warn.addKeyed("format\x00"+s.Format, KindFormat, c.op, fmt.Sprintf("unknown format %q: left out of tool schemas", s.Format))
		}
	}
	if !c.output {
		c.constraints(ref, s, out)
	}

	// arrays
	if s.Items != nil {
		out["items"] = c.convert(s.Items)
	}
	if len(s.PrefixItems) > 0 {
		out["prefixItems"] = c.list(s.PrefixItems)
	}

	// objects
	var skipped []string
	if len(s.Properties) > 0 {
		names := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names) // the node budget must run out at the same place every time
		props := make(map[string]any, len(s.Properties))
		for _, name := range names {
			p := s.Properties[name]
			if c.request && p != nil && p.Value != nil && p.Value.ReadOnly {
				skipped = append(skipped, name)
				continue
			}
			props[name] = c.convert(p)
		}
		out["properties"] = props
	}
	if len(s.Required) > 0 && !c.output {
		req := make([]string, 0, len(s.Required))
		for _, r := range s.Required {
			if !slices.Contains(skipped, r) && !slices.Contains(req, r) {
				req = append(req, r)
			}
		}
		if len(req) > 0 {
			out["required"] = req
		}
	}
	if v := c.boolSchema(s.AdditionalProperties); v != nil {
		out["additionalProperties"] = v
	}
	if len(s.PatternProperties) > 0 {
		pp := make(map[string]any, len(s.PatternProperties))
		for re, p := range s.PatternProperties {
			if c.compiles(re) {
				pp[re] = c.convert(p)
			}
		}
		if len(pp) > 0 {
			out["patternProperties"] = pp
		}
	}

	// composition
	if len(s.AllOf) > 0 {
		out["allOf"] = c.list(s.AllOf)
	}
	if len(s.AnyOf) > 0 {
		out["anyOf"] = c.list(s.AnyOf)
	}
	if len(s.OneOf) > 0 {
		if c.output { // loosened branches may match together, which oneOf refuses
			out["anyOf"] = append(c.list(s.OneOf), anyList(out["anyOf"])...)
		} else {
			out["oneOf"] = c.list(s.OneOf)
		}
	}
	if !c.output {
		if s.Not != nil {
			out["not"] = c.convert(s.Not)
		}
		if s.If != nil {
			out["if"] = c.convert(s.If)
			if s.Then != nil {
				out["then"] = c.convert(s.Then)
			}
			if s.Else != nil {
				out["else"] = c.convert(s.Else)
			}
		}
	}
	return out
}

// maxSchemaDescription bounds each description inside a tool schema.
const maxSchemaDescription = 200

// constraints copies the value constraints of s (argument schemas only).
func (c *converter) constraints(ref *openapi3.SchemaRef, s *openapi3.Schema, out map[string]any) {
	if len(s.Enum) > maxEnum {
		shown := make([]string, 0, 5)
		for _, v := range s.Enum[:5] {
			shown = append(shown, fmt.Sprint(v))
		}
		where := refName(ref.Ref)
		if where == "" {
			where = "a schema"
		}
		c.warn.addKeyed("enum\x00"+c.op+"\x00"+strings.Join(shown, ","), KindEnum, c.op, fmt.Sprintf("%s has an enum of %d values: left out (more than %d)", where, len(s.Enum), maxEnum))
		note := fmt.Sprintf("One of %d values, such as %s.", len(s.Enum), strings.Join(shown, ", "))
		if d, _ := out["description"].(string); d != "" {
			note = d + " " + note
		}
		out["description"] = note
	} else if len(s.Enum) > 0 {
		enum := slices.Clone(s.Enum)
		if s.Nullable && !slices.Contains(enum, any(nil)) {
			enum = append(enum, nil)
		}
		out["enum"] = enum
	}
	if s.Const != nil {
		out["const"] = s.Const
	}
	if s.Default != nil {
		out["default"] = s.Default
	}
	// Examples are left out: documents' examples are often wrong (they are never validated,
	// see validate) and a wrong one misleads a model more than none.
	if s.Deprecated {
		out["deprecated"] = true
	}
	if s.ReadOnly {
		out["readOnly"] = true
	}
	if s.WriteOnly {
		out["writeOnly"] = true
	}
	// numbers
	if s.Min != nil {
		if s.ExclusiveMin.IsTrue() {
			out["exclusiveMinimum"] = *s.Min
		} else {
			out["minimum"] = *s.Min
		}
	}
	if s.ExclusiveMin.Value != nil {
		out["exclusiveMinimum"] = *s.ExclusiveMin.Value
	}
	if s.Max != nil {
		if s.ExclusiveMax.IsTrue() {
			out["exclusiveMaximum"] = *s.Max
		} else {
			out["maximum"] = *s.Max
		}
	}
	if s.ExclusiveMax.Value != nil {
		out["exclusiveMaximum"] = *s.ExclusiveMax.Value
	}
	if s.MultipleOf != nil && *s.MultipleOf > 0 {
		out["multipleOf"] = *s.MultipleOf
	}
	// strings
	if s.MinLength > 0 {
		out["minLength"] = s.MinLength
	}
	if s.MaxLength != nil {
		out["maxLength"] = *s.MaxLength
	}
	if s.Pattern != "" && c.compiles(s.Pattern) {
		out["pattern"] = s.Pattern
	}
	// arrays
	if s.Contains != nil {
		out["contains"] = c.convert(s.Contains)
	}
	if s.MinItems > 0 {
		out["minItems"] = s.MinItems
	}
	if s.MaxItems != nil {
		out["maxItems"] = *s.MaxItems
	}
	if s.MinContains != nil {
		out["minContains"] = *s.MinContains
	}
	if s.MaxContains != nil {
		out["maxContains"] = *s.MaxContains
	}
	if s.UniqueItems {
		out["uniqueItems"] = true
	}
	// objects
	if s.PropertyNames != nil {
		out["propertyNames"] = c.convert(s.PropertyNames)
	}
	if s.MinProps > 0 {
		out["minProperties"] = s.MinProps
	}
	if s.MaxProps != nil {
		out["maxProperties"] = *s.MaxProps
	}
	if len(s.DependentRequired) > 0 {
		out["dependentRequired"] = s.DependentRequired
	}
}

// compiles reports whether Go's regexp (RE2, what Go validators use) accepts the pattern; a
// pattern it refuses (look-arounds, back-references) is left out, with a warning.
func (c *converter) compiles(pattern string) bool {
	if _, err := regexp.Compile(pattern); err != nil {
		c.warn.addKeyed("pattern\x00"+pattern, KindPattern, c.op, fmt.Sprintf("pattern %q is not RE2 (%s): left out of tool schemas", truncate(pattern, 200), regexpProblem(err)))
		return false
	}
	return true
}

func regexpProblem(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return truncate(s, 100)
}

func (c *converter) list(refs openapi3.SchemaRefs) []any {
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		out = append(out, c.convert(r))
	}
	return out
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

// boolSchema is false, a schema, or nil (absent or true: no constraint). In output mode only
// a schema is kept: additional members are always allowed.
func (c *converter) boolSchema(b openapi3.BoolSchema) any {
	if b.Schema != nil {
		return c.convert(b.Schema)
	}
	if b.Has != nil && !*b.Has && !c.output {
		return false
	}
	return nil
}

// refName is the last segment of a reference ("#/components/schemas/Node" → Node).
func refName(ref string) string {
	if ref == "" {
		return ""
	}
	return ref[strings.LastIndex(ref, "/")+1:]
}

func setString(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}
