// Package integrations turns integrations' OpenAPI 3 documents into MCP tools.
//
// An integration is an OpenAPI 3 document plus the base URL its operations are called at. Every
// operation of the document becomes a [Tool]: a snake_case name, a description, a JSON Schema of
// its arguments, the MCP method and the tags that an MCP server's config.methods and config.tags
// are matched against ([Allowed]), and what is needed to call it ([Integration.NewRequest]).
//
// The package knows nothing of MCP transports or of the store: server/mcp serves the tools.
package integrations

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed embedded/*.yaml
var embedded embed.FS

// Catalogue is a set of integrations by name. It is read-only once built, so safe for
// concurrent use.
type Catalogue struct {
	byName map[string]*Integration
	names  []string
}

// Integration is one integration: its OpenAPI document, the base URL its operations are
// called at, and the tools made from its operations.
type Integration struct {
	// Name is the integration's name, lower-case: an integrated account's `integration`.
	Name string
	// Title and Version come from the document's info.
	Title   string
	Version string
	// BaseURL is the absolute http(s) URL the operations' paths are appended to: the document's
	// `x-mcp-base-url` extension when present, else its first `servers` entry (with its
	// variables at their defaults).
	BaseURL string
	// Source names where the document came from: "embedded/crm.yaml" or a file path.
	Source string
	// Tools are the operations' tools, sorted by name; names are unique.
	Tools []*Tool
	// Operations counts the document's operations; those that could not become a tool are in
	// Skipped (and in Warnings).
	Operations int
	Skipped    []Skipped
	// Warnings are the document's defects that did not stop the load (see [Warning]), at
	// most maxWarnings of them.
	Warnings []Warning
	// LoadTime is how long parsing the document and building its tools took.
	LoadTime time.Duration

	base   *url.URL
	byName map[string]*Tool
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Load returns the embedded example integrations (crm, helpdesk) and, when dir is not empty,
// every *.yaml, *.yml and *.json file directly in dir, each named after its file (lower-cased,
// without the extension). A file in dir replaces an embedded integration of the same name; two
// files of the same name in dir are an error. A document that does not parse, does not
// validate, or has no usable base URL fails the whole load with an error naming the file.
func Load(dir string) (*Catalogue, error) {
	var list []*Integration
	entries, err := fs.ReadDir(embedded, "embedded")
	if err != nil {
		return nil, fmt.Errorf("integrations: embedded documents: %w", err)
	}
	for _, e := range entries {
		path := "embedded/" + e.Name()
		data, err := embedded.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("integrations: %s: %w", path, err)
		}
		in, err := parse(stem(e.Name()), path, data)
		if err != nil {
			return nil, err
		}
		list = append(list, in)
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("integrations: reading %s: %w", dir, err)
		}
		fromDir := map[string]string{}
		for _, e := range entries {
			if e.IsDir() || !isDocument(e.Name()) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			name := stem(e.Name())
			if other, dup := fromDir[name]; dup {
				return nil, fmt.Errorf("integrations: %s: integration %q is also defined by %s", path, name, other)
			}
			fromDir[name] = path
			data, err := fs.ReadFile(os.DirFS(dir), e.Name())
			if err != nil {
				return nil, fmt.Errorf("integrations: %s: %w", path, err)
			}
			in, err := parse(name, path, data)
			if err != nil {
				return nil, err
			}
			list = slices.DeleteFunc(list, func(x *Integration) bool { return x.Name == name })
			list = append(list, in)
		}
	}
	return NewCatalogue(list...)
}

// Parse builds one integration from an OpenAPI 3 document (YAML or JSON). name must be
// lower-case letters, digits, '_', '.' or '-' (at most 64); source names the document in errors.
func Parse(name, source string, data []byte) (*Integration, error) {
	return parse(name, source, data)
}

// NewCatalogue makes a catalogue of the given integrations; their names must be unique.
func NewCatalogue(list ...*Integration) (*Catalogue, error) {
	c := &Catalogue{byName: make(map[string]*Integration, len(list))}
	for _, in := range list {
		if in == nil {
			continue
		}
		if _, dup := c.byName[in.Name]; dup {
			return nil, fmt.Errorf("integrations: integration %q is defined twice", in.Name)
		}
		c.byName[in.Name] = in
		c.names = append(c.names, in.Name)
	}
	sort.Strings(c.names)
	return c, nil
}

// Names lists the integrations' names in order.
func (c *Catalogue) Names() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.names)
}

// Get returns the integration called name (case-insensitive).
func (c *Catalogue) Get(name string) (*Integration, bool) {
	if c == nil {
		return nil, false
	}
	in, ok := c.byName[strings.ToLower(name)]
	return in, ok
}

// Tool returns the integration's tool called name.
func (in *Integration) Tool(name string) (*Tool, bool) {
	t, ok := in.byName[name]
	return t, ok
}

// AllowedTools returns the tools that [Allowed] lets through methods and tags, in name order.
func (in *Integration) AllowedTools(methods, tags []string) []*Tool {
	out := make([]*Tool, 0, len(in.Tools))
	for _, t := range in.Tools {
		if Allowed(t, methods, tags) {
			out = append(out, t)
		}
	}
	return out
}

// WithBaseURL returns a copy of the integration whose operations are called at baseURL (an
// absolute http or https URL), sharing everything else: for sandboxes and tests.
func (in *Integration) WithBaseURL(baseURL string) (*Integration, error) {
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("integrations: %s: %w", in.Source, err)
	}
	cp := *in
	cp.BaseURL, cp.base = u.String(), u
	return &cp, nil
}

// baseURLOf is x-mcp-base-url when present, else the first server's URL with its variables at
// their defaults.
func baseURLOf(doc *openapi3.T) (*url.URL, error) {
	if v, ok := doc.Extensions["x-mcp-base-url"]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("x-mcp-base-url must be a string")
		}
		u, err := parseBaseURL(s)
		if err != nil {
			return nil, fmt.Errorf("x-mcp-base-url: %w", err)
		}
		return u, nil
	}
	if len(doc.Servers) == 0 {
		return nil, errors.New("no usable base URL: the document has neither servers nor x-mcp-base-url")
	}
	// The first absolute http(s) server, https preferred (a Swagger 2.0 document lists one
	// server per scheme, often http first).
	var first *url.URL
	var firstErr error
	for i, srv := range doc.Servers {
		if srv == nil {
			continue
		}
		raw := srv.URL
		for name, v := range srv.Variables {
			if v != nil {
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
		u, err := parseBaseURL(raw)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("servers[%d].url: %w", i, err)
			}
			continue
		}
		if u.Scheme == "https" {
			return u, nil
		}
		if first == nil {
			first = u
		}
	}
	if first != nil {
		return first, nil
	}
	return nil, fmt.Errorf("no usable base URL: %w (set x-mcp-base-url to an absolute URL)", firstErr)
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid base URL %q: %w", raw, err)
	}
	if u.Host != "" && strings.ContainsAny(u.Host, "{}") {
		return nil, fmt.Errorf("base URL %q has an unresolved variable", raw)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an absolute http or https URL", raw)
	}
	if u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("base URL %q must not have user info, a query or a fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

func isDocument(file string) bool {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func stem(file string) string {
	return strings.ToLower(strings.TrimSuffix(file, filepath.Ext(file)))
}

// LoadFile builds the integration of one document file, named after the file (lower-cased,
// without its extension; a name that is not a valid integration name becomes "integration").
// It is what `mcpapi integrations check` runs.
func LoadFile(path string) (*Integration, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: reading the file the operator named is the point
	if err != nil {
		return nil, fmt.Errorf("integrations: %w", err)
	}
	name := stem(filepath.Base(path))
	if !namePattern.MatchString(name) {
		name = "integration"
	}
	return parse(name, path, data)
}
