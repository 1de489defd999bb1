package server

import "github.com/mcpapi/mcpapi/server/credential"

// Credential and Sealer live in package credential, which owns the rules of credentials for
// the write path (here) and the call path (package mcp) alike.
type (
	// Credential is credential.Credential.
	Credential = credential.Credential
	// Sealer is credential.Sealer.
	Sealer = credential.Sealer
)

// NewSealer is credential.NewSealer.
func NewSealer(keyB64 string) (*Sealer, error) { return credential.NewSealer(keyB64) }
