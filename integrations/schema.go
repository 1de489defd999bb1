package integrations

import (
	"regexp"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// maxSchemaDepth bounds how deep a schema is expanded; references are inlined, so a recursive
// schema is cut where it recurs (there it accepts any value).
const maxSchemaDepth = 24

// converter turns OpenAPI schemas (3.0 or 3.1) into self-contained JSON Schema 2020-12
// documents: references inlined, nullable as a "null" type, 3.0's boolean exclusive bounds as
// numbers, example as examples, OpenAPI-only keywords (discriminator, xml, externalDocs, x-…)
// dropped, patterns that Go's regexp cannot compile dropped. In request mode, readOnly
// properties are left out (and out of required).
type converter struct {
	request bool
	stack   []*openapi3.Schema
}

func (c *converter) convert(ref *openapi3.SchemaRef) map[string]any {
	if ref == nil || ref.Value == nil {
		return map[string]any{}
	}
	s := ref.Value
	if s.Always != nil {
		if *s.Always {
			return map[string]any{}
		}
		return map[string]any{"not": map[string]any{}}
	}
	if slices.Contains(c.stack, s) || len(c.stack) >= maxSchemaDepth {
		return map[string]any{"description": "(recursive; not expanded)"}
	}
	c.stack = append(c.stack, s)
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()

	out := map[string]any{}
	types := slices.Clone(s.Type.Slice())
	if s.Nullable && len(types) > 0 && !slices.Contains(types, "null") {
		types = append(types, "null")
	}
	switch len(types) {
	case 0:
	case 1:
		out["type"] = types[0]
	default:
		out["type"] = types
	}
	setString(out, "title", s.Title)
	setString(out, "description", s.Description)
	setString(out, "format", s.Format)
	if len(s.Enum) > 0 {
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
	switch {
	case len(s.Examples) > 0:
		out["examples"] = s.Examples
	case s.Example != nil:
		out["examples"] = []any{s.Example}
	}
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
	if s.MultipleOf != nil {
		out["multipleOf"] = *s.MultipleOf
	}

	// strings
	if s.MinLength > 0 {
		out["minLength"] = s.MinLength
	}
	if s.MaxLength != nil {
		out["maxLength"] = *s.MaxLength
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err == nil {
			out["pattern"] = s.Pattern
		}
	}

	// arrays
	if s.Items != nil {
		out["items"] = c.convert(s.Items)
	}
	if len(s.PrefixItems) > 0 {
		out["prefixItems"] = c.list(s.PrefixItems)
	}
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
	var skipped []string
	if len(s.Properties) > 0 {
		props := make(map[string]any, len(s.Properties))
		for name, p := range s.Properties {
			if c.request && p != nil && p.Value != nil && p.Value.ReadOnly {
				skipped = append(skipped, name)
				continue
			}
			props[name] = c.convert(p)
		}
		out["properties"] = props
	}
	if len(s.Required) > 0 {
		req := make([]string, 0, len(s.Required))
		for _, r := range s.Required {
			if !slices.Contains(skipped, r) {
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
			if _, err := regexp.Compile(re); err == nil {
				pp[re] = c.convert(p)
			}
		}
		if len(pp) > 0 {
			out["patternProperties"] = pp
		}
	}
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

	// composition
	if len(s.AllOf) > 0 {
		out["allOf"] = c.list(s.AllOf)
	}
	if len(s.AnyOf) > 0 {
		out["anyOf"] = c.list(s.AnyOf)
	}
	if len(s.OneOf) > 0 {
		out["oneOf"] = c.list(s.OneOf)
	}
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
	return out
}

func (c *converter) list(refs openapi3.SchemaRefs) []any {
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		out = append(out, c.convert(r))
	}
	return out
}

// boolSchema is false, a schema, or nil (absent or true: no constraint).
func (c *converter) boolSchema(b openapi3.BoolSchema) any {
	if b.Has != nil {
		if *b.Has {
			return nil
		}
		return false
	}
	if b.Schema != nil {
		return c.convert(b.Schema)
	}
	return nil
}

func setString(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}
