package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/mcpapi/mcpapi/gen/model"
)

// strictJSON refuses what encoding/json would quietly accept: invalid UTF-8, a NUL in a string,
// a member given twice in one object, and anything after the JSON value.
func strictJSON(routes routeTable) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := routes.lookup(c)
			req := c.Request()
			if !ok || len(op.mediaTypes) == 0 || req.Body == nil || req.Body == http.NoBody {
				return next(c)
			}
			data, err := io.ReadAll(req.Body)
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					return echo.ErrStatusRequestEntityTooLarge
				}
				var he *echo.HTTPError
				if errors.As(err, &he) {
					return he
				}
				return badRequest("The request body could not be read.")
			}
			if len(data) > 0 {
				if fe := checkJSON(data); fe != nil {
					return badRequest("The request body is not valid JSON: "+fe.Detail+".", *fe)
				}
			}
			c.Set(rawBodyKey, data)
			req.Body = io.NopCloser(bytes.NewReader(data))
			req.ContentLength = int64(len(data))
			return next(c)
		}
	}
}

// maxJSONDepth bounds nesting; the deepest document the spec allows is three levels deep.
const maxJSONDepth = 32

// checkJSON walks the tokens of one JSON document; it returns where the first problem is. The
// pointer is built only for an error, so a deeply nested body costs linear time.
func checkJSON(data []byte) *model.FieldError {
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
