package server

import (
	"net/http"
	"strconv"
	"strings"
)

// etag is the strong entity tag of a resource version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// entityTags splits an If-Match / If-None-Match value into its entity tags (RFC 9110 §8.8.3).
func entityTags(header string) (tags []string, any bool) {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		switch t {
		case "":
		case "*":
			any = true
		default:
			tags = append(tags, t)
		}
	}
	return tags, any
}

// ifMatchVersions reads If-Match for a write. With no header, or `*`, the write is unconditional
// (nil): a missing resource is a 404 either way. Otherwise the write applies only at one of the
// listed versions; weak tags never match (strong comparison, RFC 9110 §13.1.1), so a header that
// names no version of ours yields an empty, never-matching list.
func ifMatchVersions(header *string) []int64 {
	if header == nil {
		return nil
	}
	tags, any := entityTags(*header)
	if any {
		return nil
	}
	versions := []int64{}
	for _, t := range tags {
		if v, ok := parseStrongTag(t); ok {
			versions = append(versions, v)
		}
	}
	return versions
}

func parseStrongTag(t string) (int64, bool) {
	if len(t) < 3 || t[0] != '"' || t[len(t)-1] != '"' {
		return 0, false
	}
	v, err := strconv.ParseInt(t[1:len(t)-1], 10, 64)
	return v, err == nil && v > 0
}

// noneMatch tells whether If-None-Match holds the current version (weak comparison, §13.1.2):
// then a GET answers 304.
func noneMatch(header *string, version int64) bool {
	if header == nil {
		return false
	}
	tags, any := entityTags(*header)
	if any {
		return true
	}
	for _, t := range tags {
		if v, ok := parseStrongTag(strings.TrimPrefix(t, "W/")); ok && v == version {
			return true
		}
	}
	return false
}

// preconditionFailed is the 412 for a write whose If-Match is stale; it carries the current ETag.
func preconditionFailed(what string, current int64) *Problem {
	p := newProblem(http.StatusPreconditionFailed, "The "+what+" has changed since the version given in If-Match.")
	p.Header = http.Header{"Etag": []string{etag(current)}}
	return p
}
