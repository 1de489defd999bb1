package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// NewRequest builds the upstream HTTP request of a call of t with (validated) arguments: the
// path parameters substituted into the path template, each escaped with url.PathEscape (a
// value that is empty or has a "." or ".." segment is refused, so no argument can change the
// host or leave the base path), the query and header parameters, and the body (JSON, or
// form-encoded when that is the operation's only usable media type; an array body is sent
// as the array). It sets Accept and,
// with a body, Content-Type; the credential is the caller's to add.
func (in *Integration) NewRequest(ctx context.Context, t *Tool, args map[string]any) (*http.Request, error) {
	if in.base == nil {
		return nil, errors.New("integrations: integration has no base URL")
	}
	basePath, baseRaw := in.base.Path, in.base.EscapedPath()
	var path, raw strings.Builder
	path.WriteString(basePath)
	raw.WriteString(baseRaw)
	for _, c := range t.path {
		if c.param == nil {
			path.WriteString(c.literal)
			raw.WriteString((&url.URL{Path: c.literal}).EscapedPath())
			continue
		}
		v, err := pathValue(c.param, args[c.param.Arg])
		if err != nil {
			return nil, err
		}
		path.WriteString(v)
		raw.WriteString(url.PathEscape(v))
	}

	u := *in.base
	u.Path, u.RawPath = path.String(), raw.String()
	q := url.Values{}
	for i := range t.Params {
		p := &t.Params[i]
		if p.In != "query" {
			continue
		}
		v, ok := args[p.Arg]
		if !ok || v == nil {
			continue
		}
		addQuery(q, p, v)
	}
	u.RawQuery = q.Encode()
	// Belt and braces: whatever the arguments, the request stays under the base URL.
	if u.Host != in.base.Host || u.Scheme != in.base.Scheme || !strings.HasPrefix(u.EscapedPath(), baseRaw) {
		return nil, errors.New("integrations: the arguments would leave the integration's base URL")
	}

	var body io.Reader
	if t.Body != nil {
		if v, ok := args[t.Body.Arg]; ok && v != nil {
			if t.Body.Form {
				body = strings.NewReader(formBody(v))
			} else {
				b, err := json.Marshal(v)
				if err != nil {
					return nil, &ArgumentError{Argument: t.Body.Arg, Problem: err.Error()}
				}
				body = bytes.NewReader(b)
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, t.HTTPMethod, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("integrations: building the request: %w", err)
	}
	for i := range t.Params {
		p := &t.Params[i]
		if p.In != "header" {
			continue
		}
		v, ok := args[p.Arg]
		if !ok || v == nil {
			continue
		}
		hv, err := headerValue(p, v)
		if err != nil {
			return nil, err
		}
		req.Header.Set(p.Name, hv)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", t.Body.ContentType)
	}
	return req, nil
}

// pathValue serialises a path parameter (style simple) and refuses values that would change
// the path's shape once an upstream normalises it.
func pathValue(p *Param, v any) (string, error) {
	if v == nil {
		return "", &ArgumentError{Argument: p.Arg, Problem: "required"}
	}
	var s string
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalar(e)
		}
		s = strings.Join(parts, ",")
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, 0, 2*len(keys))
		for _, k := range keys {
			if p.Explode {
				parts = append(parts, k+"="+scalar(x[k]))
			} else {
				parts = append(parts, k, scalar(x[k]))
			}
		}
		s = strings.Join(parts, ",")
	default:
		if p.JSON {
			s = jsonText(v)
		} else {
			s = scalar(v)
		}
	}
	if s == "" {
		return "", &ArgumentError{Argument: p.Arg, Problem: "must not be empty"}
	}
	for _, seg := range strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == "." || seg == ".." {
			return "", &ArgumentError{Argument: p.Arg, Problem: `must not contain a "." or ".." path segment`}
		}
	}
	return s, nil
}

// addQuery serialises a query parameter by its style: form (explode: repeated, else
// comma-separated), spaceDelimited, pipeDelimited, deepObject.
func addQuery(q url.Values, p *Param, v any) {
	if p.JSON {
		q.Add(p.Name, jsonText(v))
		return
	}
	switch x := v.(type) {
	case []any:
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = scalar(e)
		}
		switch {
		case p.Style == "spaceDelimited":
			q.Add(p.Name, strings.Join(items, " "))
		case p.Style == "pipeDelimited":
			q.Add(p.Name, strings.Join(items, "|"))
		case p.Explode:
			for _, s := range items {
				q.Add(p.Name, s)
			}
		default:
			q.Add(p.Name, strings.Join(items, ","))
		}
	case map[string]any:
		keys := sortedKeys(x)
		switch {
		case p.Style == "deepObject":
			for _, k := range keys {
				q.Add(p.Name+"["+k+"]", scalar(x[k]))
			}
		case p.Explode:
			for _, k := range keys {
				q.Add(k, scalar(x[k]))
			}
		default:
			parts := make([]string, 0, 2*len(keys))
			for _, k := range keys {
				parts = append(parts, k, scalar(x[k]))
			}
			q.Add(p.Name, strings.Join(parts, ","))
		}
	default:
		q.Add(p.Name, scalar(x))
	}
}

// scalar is the text of a JSON value in a path or query: strings as they are, numbers in the
// shortest form, anything nested as JSON.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	default:
		return jsonText(v)
	}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

const formMediaType = "application/x-www-form-urlencoded"

// formBody encodes a body argument form-encoded: an object's members as name=value, nested
// objects as name[key]=value and arrays as name[0]=value (the bracket convention of form APIs
// such as Stripe's). A body that is not an object is one value named "body".
func formBody(v any) string {
	q := url.Values{}
	var add func(prefix string, v any)
	add = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				name := k
				if prefix != "" {
					name = prefix + "[" + k + "]"
				}
				add(name, x[k])
			}
		case []any:
			for i, e := range x {
				add(prefix+"["+strconv.Itoa(i)+"]", e)
			}
		case nil:
		default:
			if prefix == "" {
				prefix = "body"
			}
			q.Add(prefix, scalar(x))
		}
	}
	add("", v)
	return q.Encode()
}

// headerValue serialises a header parameter (style simple) and refuses what a header cannot
// carry.
func headerValue(p *Param, v any) (string, error) {
	var s string
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalar(e)
		}
		s = strings.Join(parts, ",")
	default:
		if p.JSON {
			s = jsonText(v)
		} else {
			s = scalar(v)
		}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", &ArgumentError{Argument: p.Arg, Problem: "must not contain control characters (it is sent as a header)"}
		}
	}
	return s, nil
}
