package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Discovery mode (config.tool_exposure = "discovery"): tools/list shows three meta-tools
// instead of the allowed tools, for agents that cannot hold hundreds of schemas. They reach
// exactly the server's allowed tools: search_tools searches an index built once per
// integration (filtered by the view per request), get_tool_schema returns definitions, and
// call_tool runs a tool through the same code as a direct tools/call.

// Bounds of the meta-tools' arguments and answers.
const (
	maxQueryLen       = 512 // bytes of a search query
	maxQueryTerms     = 16  // distinct terms of a search query used
	maxPrefixExpand   = 64  // index terms one query term matches as a prefix
	defaultSearchHits = 10
	maxSearchHits     = 25
	maxBrowseGroups   = 50  // tag groups of an empty query
	maxSummaryLen     = 200 // bytes of a description in search results
	maxSchemaNames    = 5   // names of one get_tool_schema call
	maxSuggestions    = 3   // "did you mean" names per unknown name
)

const (
	metaSearch = "search_tools"
	metaSchema = "get_tool_schema"
	metaCall   = "call_tool"
)

type metaTool struct {
	def *toolDef
	run func(ctx context.Context, c *call, args json.RawMessage) *toolResult
}

var (
	metaTools  []*toolDef
	metaByName map[string]*metaTool
)

func init() {
	f := false
	readOnly := &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: &f}
	tr := true
	defs := []struct {
		tool *sdk.Tool
		run  func(context.Context, *call, json.RawMessage) *toolResult
	}{
		{&sdk.Tool{
			Name:  metaSearch,
			Title: "Search tools",
			Description: "Search this MCP server's tools by words of their names, titles, descriptions, tags, methods and argument names; " +
				"results are ranked, best first. An empty query lists the tools grouped by tag. " +
				"Then read a tool's schema with get_tool_schema and call it with call_tool.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{` +
				`"query":{"type":"string","maxLength":` + strconv.Itoa(maxQueryLen) + `,"description":"Words to look for; empty to browse the tools by tag."},` +
				`"limit":{"type":"integer","minimum":1,"maximum":` + strconv.Itoa(maxSearchHits) + `,"default":` + strconv.Itoa(defaultSearchHits) + `,"description":"How many tools to return (per tag when browsing)."}` +
				`},"required":["query"],"additionalProperties":false}`),
			OutputSchema: json.RawMessage(`{"type":"object","properties":{` +
				`"query":{"type":"string"},` +
				`"total":{"type":"integer","description":"How many tools matched (browsing: how many there are)."},` +
				`"tools":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"title":{"type":"string"},"description":{"type":"string"},"method":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},"score":{"type":"number"}},"required":["name"]}},` +
				`"groups":{"type":"array","items":{"type":"object","properties":{"tag":{"type":"string"},"count":{"type":"integer"},"tools":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"title":{"type":"string"}},"required":["name"]}}},"required":["tag","count","tools"]}}` +
				`},"required":["query","total"]}`),
			Annotations: readOnly,
		}, runSearch},
		{&sdk.Tool{
			Name:        metaSchema,
			Title:       "Get tool schemas",
			Description: "Return the full definitions (input and output schemas, annotations) of 1 to 5 tools of this MCP server, by name. Unknown names come back with suggestions.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{` +
				`"tool_names":{"type":"array","items":{"type":"string","minLength":1,"maxLength":` + strconv.Itoa(maxLoggedName) + `},"minItems":1,"maxItems":` + strconv.Itoa(maxSchemaNames) + `,"uniqueItems":true}` +
				`},"required":["tool_names"],"additionalProperties":false}`),
			OutputSchema: json.RawMessage(`{"type":"object","properties":{` +
				`"tools":{"type":"array","items":{"type":"object","description":"An MCP tool definition."}},` +
				`"unknown":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"did_you_mean":{"type":"array","items":{"type":"string"}}},"required":["name","did_you_mean"]}}` +
				`},"required":["tools"]}`),
			Annotations: readOnly,
		}, runSchema},
		{&sdk.Tool{
			Name:        metaCall,
			Title:       "Call a tool",
			Description: "Call one of this MCP server's tools by name with its arguments (see get_tool_schema); the answer is the tool's own.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{` +
				`"tool_name":{"type":"string","minLength":1,"maxLength":` + strconv.Itoa(maxLoggedName) + `},` +
				`"arguments":{"type":"object","description":"The tool's arguments, as its input schema describes them."}` +
				`},"required":["tool_name"],"additionalProperties":false}`),
			// What it does is the called tool's: possibly anything.
			Annotations: &sdk.ToolAnnotations{DestructiveHint: &tr, OpenWorldHint: &tr},
		}, runCall},
	}
	metaByName = map[string]*metaTool{}
	for _, d := range defs {
		enc, err := encodeDefinition(d.tool)
		if err != nil {
			panic(err)
		}
		td := &toolDef{sdk: d.tool, encoded: enc}
		metaTools = append(metaTools, td)
		metaByName[d.tool.Name] = &metaTool{def: td, run: d.run}
	}
}

// metaArgs decodes a meta-tool's arguments into dst, refusing members it does not define.
func metaArgs(raw json.RawMessage, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return fmt.Errorf("the arguments must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// metaResult is a meta-tool's answer: v as structured content and as text.
func (c *call) metaResult(name string, v any, isError bool) *toolResult {
	b, err := json.Marshal(v)
	if err != nil {
		return toolError(OutcomeToolError, "The answer could not be encoded.")
	}
	c.tool, c.outcome = name, OutcomeOK
	if isError {
		c.outcome = OutcomeToolError
	}
	return &toolResult{isError: isError, text: b, structured: b, outcome: c.outcome}
}

func (c *call) metaError(name, msg string) *toolResult {
	c.tool, c.outcome = name, OutcomeToolError
	return toolError(OutcomeToolError, msg)
}

type searchHit struct {
	Name        string   `json:"name"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Method      string   `json:"method,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Score       float64  `json:"score"`
}

type browseTool struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
}

type browseGroup struct {
	Tag   string       `json:"tag"`
	Count int          `json:"count"`
	Tools []browseTool `json:"tools"`
}

type searchAnswer struct {
	Query  string        `json:"query"`
	Total  int           `json:"total"`
	Tools  []searchHit   `json:"tools,omitempty"`
	Groups []browseGroup `json:"groups,omitempty"`
}

func runSearch(_ context.Context, c *call, raw json.RawMessage) *toolResult {
	var a struct {
		Query *string `json:"query"`
		Limit *int    `json:"limit"`
	}
	if err := metaArgs(raw, &a); err != nil {
		return c.metaError(metaSearch, "Invalid arguments: "+err.Error())
	}
	if a.Query == nil {
		return c.metaError(metaSearch, "Invalid arguments: query is required (empty to browse the tools by tag).")
	}
	if len(*a.Query) > maxQueryLen {
		return c.metaError(metaSearch, fmt.Sprintf("Invalid arguments: query must not exceed %d bytes.", maxQueryLen))
	}
	limit := defaultSearchHits
	if a.Limit != nil {
		if *a.Limit < 1 || *a.Limit > maxSearchHits {
			return c.metaError(metaSearch, fmt.Sprintf("Invalid arguments: limit must be between 1 and %d.", maxSearchHits))
		}
		limit = *a.Limit
	}
	ans := searchAnswer{Query: *a.Query}
	if c.view.set == nil {
		return c.metaResult(metaSearch, ans, false)
	}
	terms := queryTerms(*a.Query)
	if len(terms) == 0 {
		ans.Total, ans.Groups = c.view.set.index.browse(c.view, limit)
	} else {
		ans.Total, ans.Tools = c.view.set.index.search(c.view, terms, limit)
	}
	return c.metaResult(metaSearch, ans, false)
}

type schemaAnswer struct {
	Tools   []json.RawMessage `json:"tools"`
	Unknown []unknownName     `json:"unknown,omitempty"`
}

type unknownName struct {
	Name       string   `json:"name"`
	DidYouMean []string `json:"did_you_mean"`
}

func runSchema(_ context.Context, c *call, raw json.RawMessage) *toolResult {
	var a struct {
		ToolNames []string `json:"tool_names"`
	}
	if err := metaArgs(raw, &a); err != nil {
		return c.metaError(metaSchema, "Invalid arguments: "+err.Error())
	}
	if len(a.ToolNames) < 1 || len(a.ToolNames) > maxSchemaNames {
		return c.metaError(metaSchema, fmt.Sprintf("Invalid arguments: tool_names must hold 1 to %d names.", maxSchemaNames))
	}
	ans := schemaAnswer{Tools: []json.RawMessage{}}
	seen := map[string]bool{}
	for _, name := range a.ToolNames {
		if seen[name] {
			continue
		}
		seen[name] = true
		if d, ok := c.view.tool(name); ok {
			ans.Tools = append(ans.Tools, d.encoded[class20250618])
			continue
		}
		ans.Unknown = append(ans.Unknown, unknownName{Name: truncate(name), DidYouMean: c.view.suggest(name)})
	}
	return c.metaResult(metaSchema, ans, len(ans.Tools) == 0)
}

func runCall(ctx context.Context, c *call, raw json.RawMessage) *toolResult {
	var a struct {
		ToolName  string          `json:"tool_name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := metaArgs(raw, &a); err != nil {
		return c.metaError(metaCall, "Invalid arguments: "+err.Error())
	}
	if a.ToolName == "" {
		return c.metaError(metaCall, "Invalid arguments: tool_name is required.")
	}
	d, ok := c.view.tool(a.ToolName)
	if !ok {
		c.refuse(a.ToolName)
		msg := "This MCP server has no tool " + strconv.Quote(truncate(a.ToolName)) + "; find its tools with search_tools."
		if s := c.view.suggest(a.ToolName); len(s) > 0 {
			msg += " Did you mean " + strings.Join(s, ", ") + "?"
		}
		return toolError(OutcomeRefused, msg)
	}
	// Exactly a direct call: same validation, upstream call, accounting and log line.
	return c.run(ctx, d, a.Arguments)
}

// searchIndex is an integration's tools as terms, built once: each term's postings hold the
// tools it occurs in, weighted by the field it occurs in.
type searchIndex struct {
	tools    []*toolDef
	terms    []string // sorted, distinct: for prefix matches
	postings map[string][]posting
	tags     []tagGroup // sorted by tag; "untagged" for tools without one
}

type posting struct {
	tool   int
	weight float64
}

type tagGroup struct {
	tag   string
	tools []int // in name order
}

// Field weights: a word of the name says more than one of the description.
const (
	weightName        = 6
	weightTitle       = 4
	weightTag         = 4
	weightMethod      = 3
	weightArgument    = 3
	weightDescription = 1
	prefixFactor      = 0.5
)

func newSearchIndex(tools []*toolDef) *searchIndex {
	ix := &searchIndex{tools: tools, postings: map[string][]posting{}}
	byTag := map[string][]int{}
	for i, d := range tools {
		t := d.tool
		weights := map[string]float64{}
		add := func(text string, w float64) {
			seen := map[string]bool{}
			for _, term := range tokenize(text) {
				if !seen[term] {
					seen[term] = true
					weights[term] += w
				}
			}
		}
		add(t.Name, weightName)
		add(t.Title, weightTitle)
		add(strings.Join(t.Tags, " "), weightTag)
		add(t.Method+" "+t.HTTPMethod, weightMethod)
		add(strings.Join(argumentNames(t.InputSchema), " "), weightArgument)
		add(t.Description, weightDescription)
		for term, w := range weights {
			ix.postings[term] = append(ix.postings[term], posting{tool: i, weight: w})
		}
		if len(t.Tags) == 0 {
			byTag["untagged"] = append(byTag["untagged"], i)
		}
		for _, tag := range t.Tags {
			byTag[tag] = append(byTag[tag], i)
		}
	}
	for term := range ix.postings {
		ix.terms = append(ix.terms, term)
	}
	sort.Strings(ix.terms)
	for tag, list := range byTag {
		ix.tags = append(ix.tags, tagGroup{tag: tag, tools: list})
	}
	slices.SortFunc(ix.tags, func(a, b tagGroup) int { return strings.Compare(a.tag, b.tag) })
	return ix
}

func argumentNames(schema json.RawMessage) []string {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	return names
}

// tokenize splits text into lower-case words of letters and digits ("list_crm_contacts" →
// list, crm, contacts).
func tokenize(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// queryTerms are a query's distinct words, at most maxQueryTerms.
func queryTerms(q string) []string {
	var out []string
	for _, t := range tokenize(q) {
		if len(out) == maxQueryTerms {
			break
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// search ranks the view's tools by the query: first by how many of its terms they match,
// then by weight (exact words count fully, prefixes of words of at least two letters by
// half), then by name. Work is bounded by the terms (maxQueryTerms, maxPrefixExpand each)
// and the integration's size.
func (ix *searchIndex) search(v view, terms []string, limit int) (int, []searchHit) {
	score := make([]float64, len(ix.tools))
	matched := make([]int, len(ix.tools))
	for _, q := range terms {
		hit := map[int]float64{}
		i := sort.SearchStrings(ix.terms, q)
		for n := 0; i < len(ix.terms) && n < maxPrefixExpand && strings.HasPrefix(ix.terms[i], q); i, n = i+1, n+1 {
			f := 1.0
			if ix.terms[i] != q {
				if utf8.RuneCountInString(q) < 2 {
					continue
				}
				f = prefixFactor
			}
			for _, p := range ix.postings[ix.terms[i]] {
				hit[p.tool] = max(hit[p.tool], p.weight*f)
			}
		}
		for t, w := range hit {
			score[t] += w
			matched[t]++
		}
	}
	var found []int
	for i := range ix.tools {
		if matched[i] > 0 && v.allowed(ix.tools[i]) {
			found = append(found, i)
		}
	}
	slices.SortFunc(found, func(a, b int) int {
		if matched[a] != matched[b] {
			return matched[b] - matched[a]
		}
		if score[a] != score[b] {
			if score[a] > score[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(ix.tools[a].tool.Name, ix.tools[b].tool.Name)
	})
	hits := make([]searchHit, 0, min(limit, len(found)))
	for _, i := range found[:min(limit, len(found))] {
		t := ix.tools[i].tool
		hits = append(hits, searchHit{Name: t.Name, Title: t.Title, Description: summary(t.Description),
			Method: t.Method, Tags: t.Tags, Score: float64(matched[i])*100 + score[i]})
	}
	return len(found), hits
}

// browse is the view's tools grouped by tag (a tool with several tags in each), at most
// limit per group and maxBrowseGroups groups; total counts the distinct tools.
func (ix *searchIndex) browse(v view, limit int) (int, []browseGroup) {
	total := 0
	for _, d := range ix.tools {
		if v.allowed(d) {
			total++
		}
	}
	var groups []browseGroup
	for _, g := range ix.tags {
		if len(groups) == maxBrowseGroups {
			break
		}
		bg := browseGroup{Tag: g.tag, Tools: []browseTool{}}
		for _, i := range g.tools {
			d := ix.tools[i]
			if !v.allowed(d) {
				continue
			}
			bg.Count++
			if len(bg.Tools) < limit {
				bg.Tools = append(bg.Tools, browseTool{Name: d.tool.Name, Title: d.tool.Title})
			}
		}
		if bg.Count > 0 {
			groups = append(groups, bg)
		}
	}
	return total, groups
}

func summary(s string) string {
	if len(s) <= maxSummaryLen {
		return s
	}
	s = s[:maxSummaryLen]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// suggest is "did you mean" for a name the view does not have: its allowed tools whose name
// starts with it, contains it, or is within a small edit distance, closest first.
func (v view) suggest(name string) []string {
	if v.set == nil || name == "" {
		return nil
	}
	name = strings.ToLower(truncate(name))
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	threshold := max(2, utf8.RuneCountInString(name)/3)
	for _, d := range v.set.tools {
		if !v.allowed(d) {
			continue
		}
		n := d.tool.Name
		dist := levenshtein(name, n)
		if strings.HasPrefix(n, name) || strings.Contains(n, name) || strings.HasPrefix(name, n) {
			dist = min(dist, 1)
		}
		if dist <= threshold {
			cands = append(cands, cand{n, dist})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, 0, maxSuggestions)
	for _, c := range cands[:min(len(cands), maxSuggestions)] {
		out = append(out, c.name)
	}
	return out
}

// levenshtein is the edit distance of two strings (by rune); both are at most
// maxLoggedName bytes here.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
