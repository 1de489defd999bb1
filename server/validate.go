package server

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/mcpapi/mcpapi"
	"github.com/mcpapi/mcpapi/gen/model"
)

// LoadSpec parses and validates the embedded openapi.yaml.
func LoadSpec() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(mcpapi.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate openapi.yaml: %w", err)
	}
	return doc, nil
}

// isUUIDText reports whether s is a UUID's canonical text form: 8-4-4-4-12 hex digits, either
// case (a loop: every request checks two or three ids, which a regular expression made 2% of
// a PATCH's CPU).
func isUUIDText(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return false
			}
		}
	}
	return true
}

// FormatValidators are the string formats the spec relies on, checked the way the server parses
// them: "uuid" is any RFC 9562 text form (every version, v7 included), "date-time" is RFC 3339
// as Go parses it (so a leap second, which the server could not store, is refused up front).
// The option hands kin-openapi one map built once, which it only reads: one
// WithStringFormatValidator per format would build a map at every schema validation, several
// per request.
func FormatValidators() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(stringFormats)}
}

var stringFormats = map[string]openapi3.StringFormatValidator{
	"uuid": openapi3.NewCallbackValidator(func(s string) error {
		if !isUUIDText(s) {
			return errors.New("must be a UUID")
		}
		return nil
	}),
	"date-time": openapi3.NewCallbackValidator(func(s string) error {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil || strings.ContainsAny(s, "tz") {
			return errors.New("must be an RFC 3339 date-time")
		}
		return nil
	}),
}

// operation is what the middleware chain needs to know of one operation of the spec.
type operation struct {
	id string
	// mediaTypes accepted for the request body; empty when the operation takes none.
	mediaTypes []string
	// idempotent operations take an Idempotency-Key.
	idempotent bool
	// public operations need no token (health, metrics, the spec); they skip auth, rate limits
	// and request validation.
	public bool
	// produces lists the media types of the operation's success responses (for Accept).
	produces []string
	// route is the operation as kin-openapi takes it (the response checker uses it).
	route *routers.Route
	// validate is route with no security requirements, for the request validator: the auth
	// middleware has checked them, and kin-openapi would evaluate them again on every request.
	validate *routers.Route
}

// routeTable maps an Echo route (path "/integrated-account/:integrated_account_id/mcp/:id", then
// method "PATCH"; two levels, so a lookup builds no string) to
// its operation, so that auth and validation run only on the spec's own routes.
type routeTable map[string]map[string]operation

func newRouteTable(doc *openapi3.T) routeTable {
	rt := routeTable{}
	for path, item := range doc.Paths.Map() {
		echoPath := specPathToEcho(path)
		for method, op := range item.Operations() {
			o := operation{id: op.OperationID, public: op.Security != nil && len(*op.Security) == 0,
				route: &routers.Route{Spec: doc, Server: nil, Path: path, PathItem: item, Method: method, Operation: op}}
			for code, resp := range op.Responses.Map() {
				if strings.HasPrefix(code, "2") && resp.Value != nil {
					for mt := range resp.Value.Content {
						if !slices.Contains(o.produces, mt) {
							o.produces = append(o.produces, mt)
						}
					}
				}
			}
			slices.Sort(o.produces)
			for _, p := range op.Parameters {
				if p.Value != nil && p.Value.In == openapi3.ParameterInHeader && p.Value.Name == headerIdempotencyKey {
					o.idempotent = true
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for mt := range op.RequestBody.Value.Content {
					o.mediaTypes = append(o.mediaTypes, mt)
				}
				slices.Sort(o.mediaTypes) // the 415's detail lists them in a stable order
			}
			noAuth := *op
			noAuth.Security = &openapi3.SecurityRequirements{}
			vr := *o.route
			vr.Operation = &noAuth
			o.validate = &vr
			if op.OperationID == "callMcp" {
				// MCP speaks its own protocol: it reads and checks its body and Accept itself.
				o.mediaTypes, o.produces = nil, nil
			}
			if rt[echoPath] == nil {
				rt[echoPath] = map[string]operation{}
			}
			rt[echoPath][method] = o
		}
	}
	return rt
}

func (rt routeTable) lookup(c echo.Context) (operation, bool) {
	op, ok := rt[c.Path()][c.Request().Method]
	return op, ok
}

var specParam = regexp.MustCompile(`\{([^}]+)\}`)

func specPathToEcho(p string) string { return specParam.ReplaceAllString(p, ":$1") }

// requestValidator validates every request to a spec route with kin-openapi before the generated
// handler sees it, and keeps the validated body for the handler (KeepValidatedValue), so the body
// is decoded once, with member names matched exactly. The operation comes from Echo's own
// routing (the route table), not from a second router (routing again was half of the
// validator's CPU time when it had one).
func requestValidator(routes routeTable) echo.MiddlewareFunc {
	opts := &openapi3filter.Options{
		MultiError:         true,
		KeepValidatedValue: true,
		// Authentication is the auth middleware's job; it has already run (and the validator's
		// routes carry no security requirements, see operation.validate).
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: FormatValidators(),
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := routes.lookup(c)
			if !ok || op.public {
				return next(c)
			}
			err := openapi3filter.ValidateRequest(c.Request().Context(), &openapi3filter.RequestValidationInput{
				Request: c.Request(), PathParams: pathParams(c), Route: op.validate, Options: opts,
			})
			if err != nil {
				return validationProblem(err)
			}
			return next(c)
		}
	}
}

// pathParams are Echo's path parameters, unescaped, as kin-openapi takes them.
func pathParams(c echo.Context) map[string]string {
	names, values := c.ParamNames(), c.ParamValues()
	params := make(map[string]string, len(names))
	for i, n := range names {
		v := values[i]
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		params[n] = v
	}
	return params
}

// validationProblem is the 400 for what kin-openapi found, every offending member listed.
func validationProblem(err error) *Problem {
	errs := fieldErrors(err)
	detail := "The request is invalid."
	if len(errs) > 0 {
		detail = "The request is invalid: " + strings.TrimSpace(strings.TrimPrefix(errs[0].Pointer, "/")+" "+errs[0].Detail) + "."
	}
	return &Problem{Status: http.StatusBadRequest, Detail: detail, Errors: errs, Cause: err}
}

// fieldErrors flattens kin-openapi's errors into pointers and short reasons, without echoing the
// schema or the client's input back.
func fieldErrors(err error) []model.FieldError {
	var out []model.FieldError
	reported := map[string]bool{} // unknown members already listed
	var walk func(err error)
	walk = func(err error) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, inner := range e {
				walk(inner)
			}
		case *openapi3filter.RequestError:
			switch {
			case e.Parameter != nil:
				out = append(out, model.FieldError{Pointer: e.Parameter.Name, Detail: parameterReason(e)})
			case e.Err != nil && hasSchemaError(e.Err):
				walk(e.Err)
			default:
				detail := e.Reason
				if errors.Is(e.Err, openapi3filter.ErrInvalidRequired) {
					detail = "a request body is required"
				}
				if detail == "" {
					detail = "is invalid"
				}
				out = append(out, model.FieldError{Pointer: "", Detail: detail})
			}
		case *openapi3.SchemaError:
			pointer := jsonPointer(e.JSONPointer())
			if obj, ok := e.Value.(map[string]any); ok && e.SchemaField == "properties" && e.Schema != nil {
				// additionalProperties: false refused members the schema does not name; kin-openapi
				// reports each one with the object, so name them from the object and the schema.
				for _, k := range slices.Sorted(maps.Keys(obj)) {
					p := pointer + "/" + escapePointer(k)
					if _, known := e.Schema.Properties[k]; known || reported[p] {
						continue
					}
					reported[p] = true
					out = append(out, model.FieldError{Pointer: p, Detail: "is not a member of this body (unknown or read-only)"})
				}
				return
			}
			out = append(out, model.FieldError{Pointer: pointer, Detail: schemaReason(e)})
		default:
			var re *openapi3filter.RequestError
			var se *openapi3.SchemaError
			switch {
			case errors.As(err, &re):
				walk(re)
			case errors.As(err, &se):
				walk(se)
			default:
				out = append(out, model.FieldError{Pointer: "", Detail: "is invalid"})
			}
		}
	}
	walk(err)
	return out
}

func hasSchemaError(err error) bool {
	var se *openapi3.SchemaError
	var me openapi3.MultiError
	return errors.As(err, &se) || errors.As(err, &me)
}

func schemaReason(se *openapi3.SchemaError) string {
	switch {
	case se.SchemaField == "nullable":
		return "must not be null"
	case se.SchemaField == "format" && se.Schema != nil:
		return "must be a valid " + se.Schema.Format
	}
	return se.Reason
}

// parameterReason explains a parameter's error by its first schema or parse error.
func parameterReason(re *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		return schemaReason(se)
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		return "has an invalid value"
	}
	if re.Reason != "" {
		return re.Reason
	}
	return "has an invalid value"
}

func jsonPointer(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(escapePointer(p))
	}
	return b.String()
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
