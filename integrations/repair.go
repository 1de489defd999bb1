package integrations

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Real documents carry defects that kin-openapi refuses outright. repair fixes the ones seen in
// vendors' documents on the document's JSON tree, so that the rest of the document still
// loads; each kind of repair is one warning with its count and first places.
//
//   - `items` given as an array of schemas (JSON Schema draft 4 tuples, often [X, {type: null}]
//     meaning "X or null"): the null entries are dropped; one schema left is the items schema,
//     several become anyOf (OpenAPI 3) or any value (Swagger 2.0, which has no anyOf).
//   - a response that references a request body, or a request body that references a
//     response: the referenced object's description and content are inlined.
type repairer struct {
	root     any
	swagger  bool
	counts   map[string]int
	first    map[string][]string
	messages map[string]string
}

var statusCode = regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5]XX|default)$`)

const (
	repairItems = "items"
	repairRef   = "ref"
)

func repairTree(root any, swagger bool, w *warnings) bool {
	r := &repairer{root: root, swagger: swagger, counts: map[string]int{}, first: map[string][]string{}, messages: map[string]string{
		repairItems: "%d schemas give `items` as an array (draft-4 tuples): read as the one schema, or any of them",
		repairRef:   "%d references point to an object of the wrong kind (a response to a request body or the reverse): inlined",
	}}
	r.walk(root, nil)
	total := 0
	for _, kind := range []string{repairItems, repairRef} {
		n := r.counts[kind]
		if n == 0 {
			continue
		}
		total += n
		w.add(KindRepaired, "", fmt.Sprintf(r.messages[kind], n)+"; first at "+strings.Join(r.first[kind], ", "))
	}
	return total > 0
}

func (r *repairer) note(kind string, path []string) {
	r.counts[kind]++
	if len(r.first[kind]) < 3 {
		r.first[kind] = append(r.first[kind], "/"+strings.Join(path, "/"))
	}
}

func (r *repairer) walk(v any, path []string) {
	switch x := v.(type) {
	case map[string]any:
		if items, ok := x["items"].([]any); ok {
			r.note(repairItems, append(path, "items"))
			x["items"] = r.tupleItems(items)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the warnings name the first places found: the same on every load
		for _, k := range keys {
			e := x[k]
			if k == "example" || k == "examples" || k == "default" || k == "enum" || k == "const" || strings.HasPrefix(k, "x-") {
				continue
			}
			child := append(path[:len(path):len(path)], k)
			if m, ok := e.(map[string]any); ok {
				if fixed := r.wrongRef(m, child); fixed != nil {
					x[k] = fixed
					r.note(repairRef, child)
					e = fixed
				}
			}
			r.walk(e, child)
		}
	case []any:
		for i, e := range x {
			r.walk(e, append(path[:len(path):len(path)], fmt.Sprint(i)))
		}
	}
}

func (r *repairer) tupleItems(items []any) any {
	var kept []any
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["type"] == "null" && len(m) <= 3 {
			continue
		}
		kept = append(kept, it)
	}
	switch {
	case len(kept) == 1:
		return kept[0]
	case len(kept) == 0 || r.swagger:
		return map[string]any{}
	}
	return map[string]any{"anyOf": kept}
}

// wrongRef returns the inlined replacement of a reference of the wrong kind at path, or nil.
func (r *repairer) wrongRef(m map[string]any, path []string) map[string]any {
	ref, ok := m["$ref"].(string)
	if !ok || len(path) < 2 {
		return nil
	}
	parent, key := path[len(path)-2], path[len(path)-1]
	inResponses := parent == "responses" && (statusCode.MatchString(key) || (len(path) == 3 && path[0] == "components"))
	inRequestBodies := key == "requestBody" || (len(path) == 3 && path[0] == "components" && parent == "requestBodies")
	var want string
	switch {
	case inResponses && strings.HasPrefix(ref, "#/components/requestBodies/"):
		want = "requestBodies"
	case inRequestBodies && strings.HasPrefix(ref, "#/components/responses/"):
		want = "responses"
	default:
		return nil
	}
	name := strings.TrimPrefix(ref, "#/components/"+want+"/")
	comps, _ := r.root.(map[string]any)["components"].(map[string]any)
	group, _ := comps[want].(map[string]any)
	target, _ := group[name].(map[string]any)
	if target == nil {
		return nil
	}
	out := map[string]any{"description": ""}
	if d, ok := target["description"]; ok {
		out["description"] = d
	}
	if c, ok := target["content"]; ok {
		out["content"] = c
	}
	return out
}

// decodeTree reads a JSON or YAML document as a generic tree.
func decodeTree(data []byte, isJSON bool) (any, error) {
	var v any
	if isJSON {
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return v, nil
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return jsonable(v), nil
}
