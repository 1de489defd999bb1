package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	yaml "go.yaml.in/yaml/v3"
)

// parse builds one integration. Only what makes the document unusable is an error (it does not
// parse, it has no usable base URL, no operation can become a tool); every other defect is a
// [Warning] on the integration, and an operation that cannot become a tool is skipped.
func parse(name, source string, data []byte) (*Integration, error) {
	start := time.Now()
	if !namePattern.MatchString(name) {
		return nil, fmt.Errorf("integrations: %s: invalid integration name %q: use lower-case letters, digits, '_', '.' or '-' (at most 64)", source, name)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("integrations: %s: "+format, append([]any{source}, args...)...)
	}
	w := newWarnings()
	doc, err := loadDocument(data, w)
	if err != nil {
		return nil, fail("%w", err)
	}
	validate(doc, w)
	base, err := baseURLOf(doc)
	if err != nil {
		return nil, fail("%w", err)
	}
	in := &Integration{
		Name:   name,
		Source: source,
		base:   base, BaseURL: base.String(),
	}
	if doc.Info != nil {
		in.Title, in.Version = doc.Info.Title, doc.Info.Version
	}
	b := &builder{integration: name, doc: doc, warn: w, credentialHeaders: credentialHeaders(doc)}
	b.build()
	in.Tools, in.Operations, in.Skipped = b.tools, b.operations, b.skipped
	if in.Operations == 0 {
		return nil, fail("the document has no operations")
	}
	if len(in.Tools) == 0 {
		return nil, fail("none of its %d operations can become a tool; the first: %s: %s", in.Operations, in.Skipped[0].Operation, in.Skipped[0].Reason)
	}
	in.byName = make(map[string]*Tool, len(in.Tools))
	for _, t := range in.Tools {
		in.byName[t.Name] = t
	}
	in.Warnings = w.list()
	in.LoadTime = time.Since(start)
	return in, nil
}

// loadDocument reads an OpenAPI 3.x document (3.1 as far as kin-openapi reads it) or a Swagger
// 2.0 one (converted to OpenAPI 3), JSON or YAML. External references are not followed: an
// integration is one self-contained file.
func loadDocument(data []byte, w *warnings) (*openapi3.T, error) {
	var head struct {
		Swagger string `json:"swagger" yaml:"swagger"`
		OpenAPI string `json:"openapi" yaml:"openapi"`
	}
	isJSON := bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n\ufeff"), []byte("{"))
	var err error
	if isJSON {
		err = json.Unmarshal(data, &head)
	} else {
		err = yaml.Unmarshal(data, &head)
	}
	if err != nil {
		return nil, fmt.Errorf("not a JSON or YAML document: %w", err)
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	switch {
	case head.Swagger == "2.0":
		tree, err := decodeTree(data, isJSON)
		if err != nil {
			return nil, fmt.Errorf("invalid Swagger 2.0 document: %w", err)
		}
		repairTree(tree, true, w)
		if data, err = json.Marshal(tree); err != nil {
			return nil, fmt.Errorf("invalid Swagger 2.0 document: %w", err)
		}
		var doc2 openapi2.T
		if err := json.Unmarshal(data, &doc2); err != nil {
			return nil, fmt.Errorf("invalid Swagger 2.0 document: %w", err)
		}
		doc, err := openapi2conv.ToV3WithLoader(&doc2, loader, nil)
		if err != nil {
			return nil, fmt.Errorf("a Swagger 2.0 document not convertible to OpenAPI 3: %w", err)
		}
		w.add(KindConverted, "", "converted from Swagger 2.0 to OpenAPI 3")
		return doc, nil
	case strings.HasPrefix(head.OpenAPI, "3."):
		doc, err := load3(loader, data, isJSON)
		if err != nil {
			// Try again once the defects kin-openapi refuses outright are repaired.
			if tree, terr := decodeTree(data, isJSON); terr == nil {
				rw := newWarnings()
				if repairTree(tree, false, rw) {
					if fixed, merr := json.Marshal(tree); merr == nil {
						l := openapi3.NewLoader()
						l.IsExternalRefsAllowed = false
						if doc, rerr := load3(l, fixed, true); rerr == nil {
							w.merge(rw)
							return doc, nil
						}
					}
				}
			}
			if !strings.HasPrefix(head.OpenAPI, "3.0") {
				return nil, fmt.Errorf("OpenAPI %s document that kin-openapi cannot read: %w", head.OpenAPI, err)
			}
			return nil, fmt.Errorf("invalid OpenAPI document: %w", err)
		}
		return doc, nil
	case head.Swagger != "":
		return nil, fmt.Errorf("unsupported Swagger version %q (2.0 is supported)", head.Swagger)
	case head.OpenAPI != "":
		return nil, fmt.Errorf("unsupported OpenAPI version %q (3.0 and 3.1 are supported)", head.OpenAPI)
	}
	return nil, errors.New("neither an OpenAPI 3 nor a Swagger 2.0 document (no openapi or swagger member)")
}

// validate turns what kin-openapi's validation finds into warnings: examples are not held to
// their schemas, nor patterns to Go's regexp dialect (each defect surfaces where the tools are
// built instead), and a document that breaks a rule of the specification still yields its
// tools.
func validate(doc *openapi3.T, w *warnings) {
	err := doc.Validate(context.Background(),
		openapi3.EnableMultiError(),
		openapi3.DisableExamplesValidation(),
		openapi3.DisableSchemaPatternValidation(),
		openapi3.DisableSchemaFormatValidation(),
		openapi3.DisableSchemaDefaultsValidation(),
		openapi3.AllowExtraSiblingFields("description", "example", "examples", "nullable", "title", "deprecated", "readOnly", "writeOnly", "default"),
	)
	if err == nil {
		// Examples are checked apart, only to tell the author: they never reach a tool.
		err = doc.Validate(context.Background(), openapi3.EnableMultiError(), openapi3.EnableExamplesValidation(),
			openapi3.DisableSchemaPatternValidation(), openapi3.DisableSchemaFormatValidation(), openapi3.DisableSchemaDefaultsValidation(),
			openapi3.AllowExtraSiblingFields("description", "example", "examples", "nullable", "title", "deprecated", "readOnly", "writeOnly", "default"))
		for _, e := range flatten(err) {
			w.add(KindExample, "", firstLine(e.Error()))
		}
		return
	}
	for _, e := range flatten(err) {
		kind := KindInvalid
		if strings.Contains(e.Error(), "example") {
			kind = KindExample
		}
		w.add(kind, "", firstLine(e.Error()))
	}
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	var me openapi3.MultiError
	if errors.As(err, &me) {
		var out []error
		for _, e := range me {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return truncate(s, 500)
}

// jsonable makes a decoded YAML tree JSON-encodable (keys such as unquoted response codes
// become strings).
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}

// load3 loads an OpenAPI 3 document; JSON is decoded with encoding/json, several times faster
// than kin-openapi's YAML-first reading of it.
func load3(loader *openapi3.Loader, data []byte, isJSON bool) (*openapi3.T, error) {
	if !isJSON {
		return loader.LoadFromData(data)
	}
	doc := &openapi3.T{}
	if err := json.Unmarshal(data, doc); err != nil {
		return nil, err
	}
	if err := loader.ResolveRefsIn(doc, nil); err != nil {
		return nil, err
	}
	return doc, nil
}
