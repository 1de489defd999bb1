package mcp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCursorMatchesTheSDK(t *testing.T) {
	// A cursor the SDK v1.8.0 made for the last name "b" (gob of pageToken{LastUID: "b"}).
	c, err := encodeCursor("b")
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCursor(c)
	if err != nil || got != "b" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := decodeCursor("zzz"); err == nil {
		t.Error("a bad cursor decoded")
	}
}

func TestTokenCacheBoundsAndInvalidation(t *testing.T) {
	now := time.Now()
	c := newTokenCache(time.Minute, time.Second, 100)
	_, _, _, gen := c.get("a", now)
	c.put("a", Target{ServerID: "a"}, gen, now)
	if tg, found, _, _ := c.get("a", now); !found || tg.ServerID != "a" {
		t.Fatal("not cached")
	}
	if _, found, _, _ := c.get("a", now.Add(time.Minute)); found {
		t.Error("expired entry served")
	}
	_, _, _, gen = c.get("b", now)
	c.invalidate()
	c.put("b", Target{}, gen, now) // a lookup that started before the invalidation
	if _, found, _, _ := c.get("b", now); found {
		t.Error("a stale lookup was cached after an invalidation")
	}
	for i := range 1000 {
		_, _, _, gen := c.get("", now)
		c.putUnknown(string(rune(i)), gen, now)
	}
	if _, neg := c.len(); neg > 100 {
		t.Errorf("%d negative entries, bound 100", neg)
	}
}

func TestAppendString(t *testing.T) {
	in := "a\"b\\c\n\x01<>&é"
	got := string(appendString(nil, in))
	if want := `"a\"b\\c\n\u0001<>&é"`; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if n := escapedLen([]byte(in)); n != int64(len(got)) {
		t.Errorf("escapedLen %d, len %d", n, len(got))
	}
}

// writeCallResult writes, chunk by chunk, exactly the bytes appendString and the encoded
// result would be, for texts around and across the chunk size with escapes at the cuts, and
// callResultLen is their length (it is the answer's Content-Length).
func TestWriteCallResultMatchesTheEncoding(t *testing.T) {
	for _, n := range []int{0, 1, escapeChunk - 1, escapeChunk, escapeChunk + 1, 3*escapeChunk + 7} {
		for _, fill := range []byte{'a', '"', '\n', 0x01, '\\'} {
			text := make([]byte, n)
			for i := range text {
				text[i] = 'x'
				if i%97 == 0 || i == escapeChunk-1 || i == escapeChunk {
					text[i] = fill
				}
			}
			var sb strings.Builder
			writeString(&sb, text)
			if want := string(appendString(nil, text)); sb.String() != want {
				t.Fatalf("n=%d fill=%q: writeString differs from appendString", n, fill)
			}
			for _, r := range []*toolResult{
				{text: text},
				{text: text, structured: []byte(`{"a":1}`)},
				{text: text, isError: true},
			} {
				for _, c := range []versionClass{class20250326, class20250618} {
					var out bytes.Buffer
					writeCallResult(&out, r, c)
					if got := appendCallResult(nil, r, c); !bytes.Equal(got, out.Bytes()) || callResultLen(r, c) != len(got) {
						t.Fatalf("n=%d fill=%q class=%d: %d / %d bytes, length said %d", n, fill, c, len(got), out.Len(), callResultLen(r, c))
					}
					if !json.Valid(out.Bytes()) {
						t.Fatalf("n=%d fill=%q: not JSON", n, fill)
					}
				}
			}
		}
	}
}
