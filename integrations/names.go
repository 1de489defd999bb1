package integrations

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Tool names match ^[a-z0-9_]{1,64}$, what every major MCP client accepts. Clients prefix them
// with the server's name, so shorter is better: a name past maxNameLen is shortened, first by
// abbreviating its words, then by cutting it and appending a hash of the whole name.
const maxNameLen = 64

// abbreviations shorten long words of over-long names; the list only grows (a name that fits
// never changes, and an abbreviated one changes only if a new entry matches its words).
var abbreviations = map[string]string{
	"account": "acct", "accounts": "accts", "address": "addr", "addresses": "addrs",
	"administrator": "admin", "administrators": "admins", "application": "app", "applications": "apps",
	"attachment": "attach", "attachments": "attachs", "attribute": "attr", "attributes": "attrs",
	"authentication": "authn", "authorization": "authz", "configuration": "config", "configurations": "configs",
	"connection": "conn", "connections": "conns", "definition": "def", "definitions": "defs",
	"deployment": "deploy", "deployments": "deploys", "description": "desc", "destination": "dest",
	"document": "doc", "documents": "docs", "environment": "env", "environments": "envs",
	"identifier": "id", "identifiers": "ids", "information": "info", "integration": "integ",
	"integrations": "integs", "management": "mgmt", "message": "msg", "messages": "msgs",
	"notification": "notif", "notifications": "notifs", "organization": "org", "organizations": "orgs",
	"parameter": "param", "parameters": "params", "permission": "perm", "permissions": "perms",
	"property": "prop", "properties": "props", "reference": "ref", "references": "refs",
	"repository": "repo", "repositories": "repos", "request": "req", "requests": "reqs",
	"response": "resp", "responses": "resps", "service": "svc", "services": "svcs",
	"specification": "spec", "statistics": "stats", "subscription": "sub", "subscriptions": "subs",
	"transaction": "txn", "transactions": "txns", "version": "ver", "versions": "vers",
	"administration": "admin", "customer": "cust", "customers": "custs", "database": "db",
	"databases": "dbs", "directory": "dir", "directories": "dirs", "enterprise": "ent",
	"installation": "install", "installations": "installs", "invitation": "invite",
	"invitations": "invites", "member": "mbr", "members": "mbrs", "project": "proj",
	"projects": "projs", "resource": "res", "resources": "res", "template": "tmpl", "templates": "tmpls",
	"workflow": "wf", "workflows": "wfs", "workspace": "ws", "workspaces": "wss",
}

// toolName makes a valid tool name of base (already snake_case): base itself when it fits,
// else its words abbreviated, else cut with a hash of base appended. Deterministic: the same
// base always gives the same name.
func toolName(base string) string {
	if base == "" {
		base = "operation"
	}
	if len(base) <= maxNameLen {
		return base
	}
	words := strings.Split(base, "_")
	for i, w := range words {
		if a, ok := abbreviations[w]; ok {
			words[i] = a
		}
	}
	short := strings.Join(words, "_")
	if len(short) <= maxNameLen {
		return short
	}
	return cutWithHash(short, base, maxNameLen)
}

// cutWithHash cuts name so that "_" and a 6-digit hash of key fit in n characters.
func cutWithHash(name, key string, n int) string {
	sum := sha256.Sum256([]byte(key))
	suffix := "_" + hex.EncodeToString(sum[:3])
	cut := strings.TrimRight(name[:min(len(name), n-len(suffix))], "_")
	return cut + suffix
}

// uniqueName returns name, or when it is taken name_2, name_3, … (cut to fit).
func uniqueName(name string, taken map[string]bool) string {
	out := name
	for i := 2; taken[out]; i++ {
		suffix := "_" + itoa(i)
		b := name
		if len(b)+len(suffix) > maxNameLen {
			b = strings.TrimRight(b[:maxNameLen-len(suffix)], "_")
		}
		out = b + suffix
	}
	taken[out] = true
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// derivedName is <method>_<integration>_<static path segments>, snake_case: the name of an
// operation without an operationId.
func derivedName(integration, method, path string) string {
	words := []string{method, integration}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || strings.HasPrefix(seg, "{") {
			continue
		}
		if i := strings.Index(seg, "{"); i > 0 {
			seg = seg[:i]
		}
		words = append(words, seg)
	}
	// POST /tickets/{id}/close with x-mcp-method close: close_helpdesk_tickets, not …_close.
	if len(words) > 3 && snake(words[len(words)-1]) == snake(method) {
		words = words[:len(words)-1]
	}
	return snake(strings.Join(words, "_"))
}

// snake turns camelCase, PascalCase, kebab-case and the like into snake_case ASCII; other
// characters separate words.
func snake(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	isUpper := func(r byte) bool { return r >= 'A' && r <= 'Z' }
	isLower := func(r byte) bool { return r >= 'a' && r <= 'z' }
	isDigit := func(r byte) bool { return r >= '0' && r <= '9' }
	for i := 0; i < len(s); i++ {
		r := s[i]
		switch {
		case isUpper(r):
			if i > 0 && (isLower(s[i-1]) || isDigit(s[i-1]) ||
				(isUpper(s[i-1]) && i+1 < len(s) && isLower(s[i+1]))) {
				b.WriteByte('_')
			}
			b.WriteByte(r + ('a' - 'A'))
		case isLower(r) || isDigit(r):
			b.WriteByte(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	for strings.Contains(out, "__") {
		out = strings.ReplaceAll(out, "__", "_")
	}
	return strings.Trim(out, "_")
}
