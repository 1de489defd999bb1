#!/usr/bin/env bash
# A walk through the API, as the README shows it: an integrated account, an MCP server on it, two
# merge patches, a read (and a conditional one), then MCP itself on the server's url: initialize
# and tools/list. Every step checks its HTTP status and stops with what went wrong; every value
# (ids, ETag, url) is carried from one step to the next. CI runs it against a live server
# (tools/sdk-check/run), so the README cannot drift from the product.
#
#   make run                      # prints an API token on its first start
#   TOKEN=mcpapi_… examples/walkthrough.sh
#
# API (default http://127.0.0.1:8080) is the server's base URL. Needs curl and jq.
set -euo pipefail

: "${TOKEN:?set TOKEN to an API token: the one the first 'make run' printed, or: go run ./cmd/mcpapi token create --environment default}"
API=${API:-http://127.0.0.1:8080}
command -v jq >/dev/null || { echo "walkthrough: needs jq (apt-get install jq)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
body=$tmp/body headers=$tmp/headers

# request STEP WANT CURL-ARGS…: one HTTP request; unless its status is WANT, say which step failed,
# with the status and the body (a problem document names the offending member), and stop.
request() {
  local step=$1 want=$2 status
  shift 2
  if ! status=$(curl -sS -g -o "$body" -D "$headers" -w '%{http_code}' "$@"); then
    echo "walkthrough: step '$step': the request failed (is the server running at $API?)" >&2
    exit 1
  fi
  if [ "$status" != "$want" ]; then
    echo "walkthrough: step '$step': HTTP $status, expected $want" >&2
    cat "$body" >&2 && echo >&2
    [ "$status" != 401 ] || echo "walkthrough: is TOKEN an API token of this server?" >&2
    exit 1
  fi
}
api() { request "$1" "$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "${@:3}"; }

# expect STEP JQ-FILTER: the response body must satisfy the filter.
expect() {
  jq -e "$2" "$body" >/dev/null || {
    echo "walkthrough: step '$1': the answer does not satisfy $2:" >&2
    cat "$body" >&2 && echo >&2
    exit 1
  }
}
header() { tr -d '\r' <"$headers" | awk -v h="$(echo "$1" | tr '[:upper:]' '[:lower:]')" -F': ' 'tolower($1) == h { print $2 }'; }
ok() { echo "ok    $*"; }

# 1. an integrated account of the embedded "crm" example, with the credential its upstream gets
#    (sealed with the server's secret key; under `make run`'s --sandbox any value works)
api 'create an integrated account' 201 -X POST "$API/integrated-account" \
  -d '{"integration":"crm","tenant_id":"acme-corp","credentials":{"type":"bearer","value":"upstream-api-key"}}'
ACCOUNT=$(jq -r .id "$body")
ok "1. integrated account $ACCOUNT"

# 2. an MCP server on it; the response holds its token and url — shown only this once
api 'create an MCP server' 201 -X POST "$API/integrated-account/$ACCOUNT/mcp" \
  -d '{"name":"Read-only HubSpot","config":{"methods":["list","get"]},"expires_at":"2030-12-31T23:59:59Z"}'
expect 'create an MCP server' '.token and .url'
MCP=$(jq -r .id "$body")
URL=$(jq -r .url "$body")
ok "2. MCP server $MCP at $URL (keep the url: it holds the token)"

# 3. rename it (only the members sent change)
api 'rename it' 200 -X PATCH "$API/integrated-account/$ACCOUNT/mcp/$MCP" -d '{"name":"Updated MCP server"}'
expect 'rename it' '.name == "Updated MCP server" and .config.methods == ["list","get"]'
ok "3. renamed"

# 4. replace its tags; the method list stays as it is (RFC 7396 merge patch); lists are lower-cased
api 'replace its tags' 200 -X PATCH "$API/integrated-account/$ACCOUNT/mcp/$MCP" \
  -d '{"config":{"tags":["Contacts","companies"]}}'
expect 'replace its tags' '.config.methods == ["list","get"] and .config.tags == ["contacts","companies"]'
ok "4. tags set, methods kept"

# 5. read it back; its ETag names this version
api 'read it back' 200 "$API/integrated-account/$ACCOUNT/mcp/$MCP"
ETAG=$(header ETag)
jq . "$body"
ok "5. read back, ETag $ETAG"

# 6. read it again only if it changed: 304, no body
api 'read it if changed' 304 "$API/integrated-account/$ACCOUNT/mcp/$MCP" -H "If-None-Match: $ETAG"
ok "6. not modified since $ETAG"

# 7. MCP on the server's url (no API token: the url's token is the credential)
mcp=(-X POST "$URL" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
request 'MCP initialize' 200 "${mcp[@]}" \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
expect 'MCP initialize' '.result.protocolVersion and .result.serverInfo.name'
ok "7. MCP initialize: $(jq -r '.result.serverInfo.name + " " + .result.protocolVersion' "$body")"

request 'MCP tools/list' 200 "${mcp[@]}" -H 'Mcp-Protocol-Version: 2025-06-18' \
  -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
expect 'MCP tools/list' '(.result.tools | length) > 0'
ok "8. MCP tools/list: $(jq -r '[.result.tools[].name] | join(", ")' "$body")"

# 9. MCP tools/call: the upstream's answer (under --sandbox, mcpapi's own demo data)
request 'MCP tools/call' 200 "${mcp[@]}" -H 'Mcp-Protocol-Version: 2025-06-18' \
  -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_crm_contacts","arguments":{"limit":3}}}'
expect 'MCP tools/call' '(.result.isError | not) and (.result.structuredContent.data | length) > 0'
ok "9. MCP tools/call list_crm_contacts: $(jq -r '[.result.structuredContent.data[].email] | join(", ")' "$body")"
