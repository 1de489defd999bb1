package integrations

import (
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// The kinds of [Warning]: defects of a document that do not stop it from loading.
const (
	KindConverted   = "converted"    // a Swagger 2.0 document, converted to OpenAPI 3
	KindInvalid     = "invalid"      // the document breaks a rule of the specification
	KindRepaired    = "repaired"     // a defect kin-openapi refuses outright, repaired (see repairTree)
	KindExample     = "example"      // an example does not match its schema (examples never reach a tool)
	KindPattern     = "pattern"      // a pattern Go's regexp (RE2) cannot compile: left out of the tool schema
	KindFormat      = "format"       // an unknown format: left out of the tool schema
	KindRecursion   = "recursion"    // a recursive or too large schema, cut where it recurs or at a fixed depth
	KindEnum        = "enum"         // an enum longer than maxEnum values: left out, its first values described
	KindOperationID = "operation-id" // a missing or duplicate operationId
	KindName        = "name"         // a tool name shortened to 64 characters
	KindResponse    = "response"     // an operation without a JSON response schema: no outputSchema
	KindParameter   = "parameter"    // a parameter that cannot be an argument (cookie, credential header)
	KindSkipped     = "skipped"      // an operation that cannot become a tool
)

// maxWarnings bounds the warnings kept per document; the rest are counted in the last one.
const maxWarnings = 1000

// Warning is one defect of a document that did not stop its load.
type Warning struct {
	Kind string `json:"kind"`
	// Operation is "METHOD /path" when the defect belongs to one operation.
	Operation string `json:"operation,omitempty"`
	Message   string `json:"message"`
}

func (w Warning) String() string {
	if w.Operation == "" {
		return w.Kind + ": " + w.Message
	}
	return w.Kind + ": " + w.Operation + ": " + w.Message
}

// Skipped is an operation that could not become a tool, and why.
type Skipped struct {
	Operation string `json:"operation"`
	Reason    string `json:"reason"`
}

// warnings collects a document's warnings, once each: a shared schema's bad pattern is one
// warning, not one per operation using it.
type warnings struct {
	items   []Warning
	seen    map[string]bool
	dropped int
}

func newWarnings() *warnings { return &warnings{seen: map[string]bool{}} }

func (w *warnings) add(kind, op, msg string) {
	w.addKeyed(kind+"\x00"+op+"\x00"+msg, kind, op, msg)
}

// addKeyed records a warning unless one with the same key was recorded.
func (w *warnings) addKeyed(key, kind, op, msg string) {
	if w == nil || w.seen[key] {
		return
	}
	w.seen[key] = true
	if len(w.items) >= maxWarnings {
		w.dropped++
		return
	}
	w.items = append(w.items, Warning{Kind: kind, Operation: op, Message: msg})
}

func (w *warnings) merge(o *warnings) {
	for _, it := range o.items {
		w.add(it.Kind, it.Operation, it.Message)
	}
}

func (w *warnings) list() []Warning {
	out := w.items
	if w.dropped > 0 {
		out = append(out, Warning{Kind: "truncated", Message: fmt.Sprintf("%d more warnings not kept", w.dropped)})
	}
	return out
}

// logFirst is how many warnings per document the start-up log shows.
const logFirst = 5

// LogWarnings logs, once per integration that has any, the number of its warnings and the
// first few (mcpapi integrations check lists them all).
func (c *Catalogue) LogWarnings(logger *slog.Logger) {
	if c == nil || logger == nil {
		return
	}
	for _, name := range c.names {
		in := c.byName[name]
		if len(in.Warnings) == 0 {
			continue
		}
		first := make([]string, 0, logFirst)
		for _, w := range in.Warnings[:min(logFirst, len(in.Warnings))] {
			first = append(first, w.String())
		}
		logger.Warn("integration loaded with warnings",
			slog.String("integration", name), slog.String("source", in.Source),
			slog.Int("operations", in.Operations), slog.Int("tools", len(in.Tools)),
			slog.Int("warnings", len(in.Warnings)), slog.Any("first", first),
			slog.String("hint", "mcpapi integrations check "+in.Source+" lists them all"))
	}
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " \n") + "…"
}
