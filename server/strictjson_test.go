package server

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcpapi/mcpapi/gen/model"
)

// The scanner in checkJSON replaced a walk over encoding/json's tokens. checkJSONDecoder below
// is that walk, kept as the reference: both must find the same first problem (pointer and
// detail) in every body, and a body both accept must be one encoding/json accepts.

var checkJSONSeeds = []string{
	``, ` `, "\t\r\n ", `{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e+10`, `"x"`,
	`{"name":"x"}`, `{"name":"x","config":{"tags":["a","b"],"methods":[]}}`,
	`{"name":"x"} x`, `{"name":"x"}}`, `{} {}`, `1 2`, `truex`, `1x`, `[1x]`, `[01]`, `[-]`, `[-`, `[1.]`, `[1.e]`,
	`[1e]`, `[1e+]`, `[1E-2]`, `[tru]`, `[tr`, `[nul]`, `[fals`, `{"a":1,}`, `[1,]`, `{,}`, `[,]`, `{"a"}`,
	`{"a" 1}`, `{"a"::1}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`, `]`, `}`, `[}`, `{]`, `[1}`, `{"a":1]`,
	`{`, `[`, `{"a"`, `{"a":`, `[1,`, `[1`, `{"ab`, `["ab`, `"ab`, `-`, `12.`,
	`{"name":"x","name":"y"}`, `{"config":{"tags":["a"],"tags":["b"]}}`, `{"a":1,"\u0061":2}`,
	`{"\ud800":1,"\udc00":2}`, `{"\ud83d\ude00":1,"😀":2}`, `{"\ud800\u0041":1,"\ufffdA":2}`,
	`{"a\u0000":1}`, `{"a":{"b\u0000":1}}`, `{"name":"a\u0000b"}`, `"\u0000"`, `["\u0000" x]`,
	`{"a\u0000":1,"a\u0000":2}`, `{"x":1,"a` + "\x01" + `":1}`, `{"a":"` + "\x01" + `"}`, `"\x"`, `"\u12"`, `"\u12g4"`,
	`"\\u0000"`, `"\/\b\f\n\r\t\""`, "{\"name\":\"\xff\"}", `{"a~/b":[1,{"c":[{"d":1,"d":2}]}]}`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`{"a":[{"b":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}`,
	`{"a":1,"b":{"c":2},"d":[1,2,{"e":3}],"f":{"g":{"h":1}},"e":2,"a":3}`,
	`[{"a":1},{"a":2},{"b":1,"b":1}]`,
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range checkJSONSeeds {
		f.Add([]byte(s))
	}
	var many strings.Builder // past linearKeys: the set takes over
	many.WriteByte('{')
	for i := range 3 * linearKeys {
		many.WriteString(`"k` + strconv.Itoa(i) + `":1,`)
	}
	f.Add([]byte(many.String() + `"k0":2}`))
	f.Add([]byte(many.String() + `"k` + strconv.Itoa(3*linearKeys-1) + `":2}`))
	f.Add([]byte(many.String() + `"z":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return // the middleware does not check an empty body
		}
		got, want := checkJSON(data), checkJSONDecoder(data)
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Fatalf("checkJSON(%q) = %s, the decoder walk finds %s", data, describe(got), describe(want))
		}
		if got == nil && len(bytes.TrimSpace(data)) > 0 && !json.Valid(data) {
			t.Fatalf("checkJSON(%q) accepts what encoding/json refuses", data)
		}
	})
}

func describe(fe *model.FieldError) string {
	if fe == nil {
		return "no problem"
	}
	return strconv.Quote(fe.Pointer) + " " + fe.Detail
}

// TestCheckJSONAllocations holds the point of the scanner: a valid body costs no allocation.
func TestCheckJSONAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("under the race detector sync.Pool drops objects at random, so allocations are not counted (make test counts them)")
	}
	body := []byte(`{"name":"bench-a","config":{"tags":["a","b"],"methods":["GET"],"tool_exposure":"all"},"expires_at":null}`)
	checkJSON(body) // fills the pool
	if n := testing.AllocsPerRun(100, func() {
		if fe := checkJSON(body); fe != nil {
			t.Fatal(describe(fe))
		}
	}); n != 0 {
		t.Errorf("%v allocations per valid body, want 0", n)
	}
}

// checkJSONDecoder walks the tokens of one JSON document; it returns where the first problem is. The
// pointer is built only for an error, so a deeply nested body costs linear time.
func checkJSONDecoder(data []byte) *model.FieldError {
	if !utf8.Valid(data) {
		return &model.FieldError{Pointer: "", Detail: "is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]struct{}
		key    string // objects: the member whose value comes next
		index  int    // arrays: the next index
		want   bool   // objects: the next string token is a key
	}
	var stack []*frame
	// pointer names the value at depth n of the stack (n = len(stack): the next value).
	pointer := func(n int) string {
		var b strings.Builder
		for _, f := range stack[:n] {
			b.WriteByte('/')
			if f.object {
				b.WriteString(escapePointer(f.key))
			} else {
				b.WriteString(strconv.Itoa(f.index))
			}
		}
		return b.String()
	}
	afterValue := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.want = true
		} else {
			f.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return &model.FieldError{Pointer: pointer(len(stack)), Detail: "is malformed JSON"}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return &model.FieldError{Pointer: pointer(len(stack)), Detail: "nests deeper than " + strconv.Itoa(maxJSONDepth) + " levels"}
				}
				f := &frame{object: t == '{', want: t == '{'}
				if f.object {
					f.keys = map[string]struct{}{}
				}
				stack = append(stack, f)
			default:
				stack = stack[:len(stack)-1]
				afterValue()
			}
		case string:
			if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].want {
				f := stack[len(stack)-1]
				if _, dup := f.keys[t]; dup {
					f.key = t
					return &model.FieldError{Pointer: pointer(len(stack)), Detail: "is given more than once"}
				}
				f.keys[t] = struct{}{}
				f.key, f.want = t, false
				if strings.IndexByte(t, 0) >= 0 {
					return &model.FieldError{Pointer: pointer(len(stack) - 1), Detail: "has a member name with a NUL character"}
				}
				continue
			}
			if strings.IndexByte(t, 0) >= 0 {
				return &model.FieldError{Pointer: pointer(len(stack)), Detail: "must not contain a NUL character"}
			}
			afterValue()
		default:
			afterValue()
		}
		if len(stack) == 0 {
			// One complete value has been read: only white space may follow.
			if _, err := dec.Token(); err != io.EOF {
				return &model.FieldError{Pointer: "", Detail: "has data after the JSON value"}
			}
			return nil
		}
	}
	if len(stack) > 0 {
		return &model.FieldError{Pointer: "", Detail: "is malformed JSON"}
	}
	return nil
}
