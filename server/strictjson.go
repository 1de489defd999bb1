package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
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

// linearKeys is how many members of one object the duplicate check compares pairwise; a larger
// object gets a set, so that a body of many members costs linear time, not quadratic.
const linearKeys = 16

// checkJSON scans one JSON document (RFC 8259, as encoding/json reads it) and returns where the
// first problem is: invalid UTF-8, malformed JSON, a NUL in a string or member name (after
// unescaping), a member given twice in one object (names compared unescaped, lone surrogates
// read as U+FFFD as encoding/json does), nesting deeper than maxJSONDepth, data after the value.
// It allocates nothing for a valid body of usual size; the pointer is built only for an error.
// A body of white space only passes: the validator answers that one.
func checkJSON(data []byte) *model.FieldError {
	if !utf8.Valid(data) {
		return &model.FieldError{Pointer: "", Detail: "is not valid UTF-8"}
	}
	c := jsonCheckers.Get().(*jsonChecker)
	c.data = data
	fe := c.check()
	c.reset()
	jsonCheckers.Put(c)
	return fe
}

// jsonFrame is one open object or array.
type jsonFrame struct {
	object   bool
	index    int                 // arrays: the index of the next value
	keysFrom int                 // objects: where this object's member names start in keys
	seen     map[string]struct{} // objects of more than linearKeys members: their names
}

// jsonKey is one unescaped member name, names[start:end].
type jsonKey struct{ start, end int }

// jsonCheckers keeps checkers with their buffers between requests; reset drops buffers grown
// beyond maxPooledNames, so that one large body does not stay in the pool.
var jsonCheckers = sync.Pool{New: func() any { return new(jsonChecker) }}

const maxPooledNames = 4 << 10

func (c *jsonChecker) reset() {
	for i := range c.depth {
		c.stack[i].seen = nil
	}
	c.data, c.pos, c.depth = nil, 0, 0
	if cap(c.names) > maxPooledNames || cap(c.keys) > maxPooledNames/16 {
		c.keys, c.names = nil, nil
	}
	c.keys, c.names = c.keys[:0], c.names[:0]
}

type jsonChecker struct {
	data  []byte
	pos   int
	depth int
	stack [maxJSONDepth]jsonFrame
	keys  []jsonKey // the names of the open objects, innermost last
	names []byte    // their unescaped bytes
}

func (c *jsonChecker) check() *model.FieldError {
	if c.skipSpace() {
		return nil
	}
	for {
		// A value starts here (at the top, in an array or after a member name's colon).
		if fe := c.value(); fe != nil {
			return fe
		}
		// After a value: close what ends here, then find where the next value starts.
		for {
			if c.depth == 0 {
				if !c.skipSpace() {
					return &model.FieldError{Pointer: "", Detail: "has data after the JSON value"}
				}
				return nil
			}
			f := &c.stack[c.depth-1]
			if !f.object {
				f.index++
			}
			if c.skipSpace() {
				return c.truncated()
			}
			switch b := c.data[c.pos]; {
			case b == ',':
				c.pos++
				if f.object {
					if fe := c.member(); fe != nil {
						return fe
					}
				} else if c.skipSpace() {
					return c.truncated()
				}
			case b == '}' && f.object, b == ']' && !f.object:
				c.pos++
				c.pop()
				continue
			default:
				return c.malformed()
			}
			break
		}
	}
}

// value checks the value at c.pos (not white space, not the end): a scalar whole, a container's
// opening. Inside a container that leaves c.pos at its first value (after skipping an empty one).
func (c *jsonChecker) value() *model.FieldError {
	for {
		switch b := c.data[c.pos]; b {
		case '{', '[':
			if c.depth >= maxJSONDepth {
				return &model.FieldError{Pointer: c.pointer(c.depth), Detail: "nests deeper than " + strconv.Itoa(maxJSONDepth) + " levels"}
			}
			c.pos++
			c.stack[c.depth] = jsonFrame{object: b == '{', keysFrom: len(c.keys)}
			c.depth++
			if c.skipSpace() {
				return c.truncated()
			}
			if close := byte(']'); b == '{' {
				if c.data[c.pos] == '}' {
					c.pos++
					c.pop()
					return nil
				}
				if fe := c.member(); fe != nil {
					return fe
				}
			} else if c.data[c.pos] == close {
				c.pos++
				c.pop()
				return nil
			}
			continue // the container's first value
		case '"':
			nul, ok := c.str(false)
			if !ok {
				return c.malformed()
			}
			if nul {
				return &model.FieldError{Pointer: c.pointer(c.depth), Detail: "must not contain a NUL character"}
			}
			return nil
		case 't':
			return c.literal("true")
		case 'f':
			return c.literal("false")
		case 'n':
			return c.literal("null")
		default:
			if b == '-' || isDigit(b) {
				if !c.number() {
					return c.malformed()
				}
				return nil
			}
			return c.malformed()
		}
	}
}

// member checks, at c.pos in an object, a member name and its colon, and leaves c.pos at the
// member's value.
func (c *jsonChecker) member() *model.FieldError {
	if c.skipSpace() {
		return c.truncated()
	}
	if c.data[c.pos] != '"' {
		return c.malformed()
	}
	start := len(c.names)
	nul, ok := c.str(true)
	if !ok {
		c.names = c.names[:start]
		return c.malformed()
	}
	f := &c.stack[c.depth-1]
	name := c.names[start:]
	dup := c.seenKey(f, name)
	c.keys = append(c.keys, jsonKey{start, len(c.names)}) // the member whose value comes next
	if dup {
		return &model.FieldError{Pointer: c.pointer(c.depth), Detail: "is given more than once"}
	}
	if nul {
		return &model.FieldError{Pointer: c.pointer(c.depth - 1), Detail: "has a member name with a NUL character"}
	}
	if c.skipSpace() {
		return c.truncated()
	}
	if c.data[c.pos] != ':' {
		return c.malformed()
	}
	c.pos++
	if c.skipSpace() {
		return c.truncated()
	}
	return nil
}

// seenKey reports whether name is already a member of f, and remembers it in f's set once f is
// large enough to have one.
func (c *jsonChecker) seenKey(f *jsonFrame, name []byte) bool {
	if f.seen != nil {
		if _, ok := f.seen[string(name)]; ok {
			return true
		}
		f.seen[string(name)] = struct{}{}
		return false
	}
	keys := c.keys[f.keysFrom:]
	for _, k := range keys {
		if string(c.names[k.start:k.end]) == string(name) {
			return true
		}
	}
	if len(keys) == linearKeys {
		f.seen = make(map[string]struct{}, 2*linearKeys)
		for _, k := range keys {
			f.seen[string(c.names[k.start:k.end])] = struct{}{}
		}
		f.seen[string(name)] = struct{}{}
	}
	return false
}

func (c *jsonChecker) pop() {
	c.depth--
	f := &c.stack[c.depth]
	if f.object && f.keysFrom < len(c.keys) {
		c.names = c.names[:c.keys[f.keysFrom].start]
		c.keys = c.keys[:f.keysFrom]
	}
	f.seen = nil
}

// malformed is the error for a syntax error at c.pos: it names the value being read (or, between
// values, the next one: an array's next index, an object's last member).
func (c *jsonChecker) malformed() *model.FieldError {
	return &model.FieldError{Pointer: c.pointer(c.depth), Detail: "is malformed JSON"}
}

// truncated is the error for a body that ends between two tokens of an open container.
func (c *jsonChecker) truncated() *model.FieldError {
	return &model.FieldError{Pointer: "", Detail: "is malformed JSON"}
}

// pointer names the value at depth n of the stack: per open container, an array's next index
// or an object's last member name.
func (c *jsonChecker) pointer(n int) string {
	var b strings.Builder
	for i := range n {
		f := &c.stack[i]
		b.WriteByte('/')
		if !f.object {
			b.WriteString(strconv.Itoa(f.index))
			continue
		}
		end := len(c.keys) // f's names end where the next open object's start
		for j := i + 1; j < c.depth; j++ {
			if c.stack[j].object {
				end = c.stack[j].keysFrom
				break
			}
		}
		if end > f.keysFrom {
			k := c.keys[end-1]
			b.WriteString(escapePointer(string(c.names[k.start:k.end])))
		}
	}
	return b.String()
}

// skipSpace skips JSON white space and reports whether the body ends there.
func (c *jsonChecker) skipSpace() bool {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\r', '\n':
			c.pos++
		default:
			return false
		}
	}
	return true
}

func (c *jsonChecker) literal(word string) *model.FieldError {
	if len(c.data)-c.pos < len(word) || string(c.data[c.pos:c.pos+len(word)]) != word {
		return c.malformed()
	}
	c.pos += len(word)
	return nil
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at c.pos; what follows it is for
// the caller to judge, as encoding/json's scanner ends a number at the first byte that cannot
// continue it.
func (c *jsonChecker) number() bool {
	d, i := c.data, c.pos
	digits := func() bool {
		start := i
		for i < len(d) && isDigit(d[i]) {
			i++
		}
		return i > start
	}
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	c.pos = i
	return true
}

// str reads the string at c.pos (its opening quote) and reports whether it holds a NUL once
// unescaped and whether it is well formed. With name it appends the unescaped string to
// c.names, as encoding/json unescapes it (a lone surrogate is U+FFFD).
func (c *jsonChecker) str(name bool) (nul, ok bool) {
	d := c.data
	i := c.pos + 1
	for i < len(d) {
		b := d[i]
		switch {
		case b == '"':
			c.pos = i + 1
			return nul, true
		case b < 0x20:
			return false, false
		case b != '\\':
			if name {
				c.names = append(c.names, b)
			}
			i++
			continue
		}
		if i+1 >= len(d) {
			return false, false
		}
		var r rune
		switch e := d[i+1]; e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			r = hex4(d[i+2:])
			if r < 0 {
				return false, false
			}
			i += 6
			if r == 0 {
				nul = true
			}
			if utf16.IsSurrogate(r) {
				if r2 := hex4escape(d[i:]); r2 >= 0 {
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						r = dec
						i += 6
					} else {
						r = unicode.ReplacementChar
					}
				} else {
					r = unicode.ReplacementChar
				}
			}
			if name {
				c.names = utf8.AppendRune(c.names, r)
			}
			continue
		default:
			return false, false
		}
		if name {
			c.names = append(c.names, byte(r))
		}
		i += 2
	}
	return false, false
}

// hex4escape reads `\uXXXX` at the start of b; -1 when there is none.
func hex4escape(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	return hex4(b[2:])
}

// hex4 reads four hex digits at the start of b; -1 when there are none.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, h := range b[:4] {
		switch {
		case '0' <= h && h <= '9':
			h -= '0'
		case 'a' <= h && h <= 'f':
			h = h - 'a' + 10
		case 'A' <= h && h <= 'F':
			h = h - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(h)
	}
	return r
}
