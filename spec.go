// Package mcpapi holds the contract of the service: openapi.yaml, embedded as it is written, so
// that the server validates against, and serves, the very bytes in the repository.
package mcpapi

import _ "embed"

// OpenAPIYAML is openapi.yaml, the single source of truth of the API.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
