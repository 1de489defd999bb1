package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Credential is an integrated account's secret for its upstream API.
type Credential struct {
	Type  string `json:"type"` // "bearer" or "header"
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

// Sealer encrypts credentials with AES-256-GCM under the server's secret key, bound to the
// environment they belong to (additional data), so a sealed value copied into another
// environment's row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer takes the key as standard base64 of 32 bytes (MCPAPI_SECRET_KEY). An empty key gives
// a nil Sealer: credentials cannot be set then.
func NewSealer(keyB64 string) (*Sealer, error) {
	if keyB64 == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil || len(key) != 32 {
		return nil, errors.New("the secret key must be 32 bytes in standard base64 (e.g. `head -c 32 /dev/urandom | base64`)")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts a credential: nonce || ciphertext.
func (s *Sealer) Seal(env uuid.UUID, c Credential) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, env[:]), nil
}

// Open decrypts what Seal made for the same environment.
func (s *Sealer) Open(env uuid.UUID, sealed []byte) (Credential, error) {
	var c Credential
	if s == nil {
		return c, errors.New("no secret key configured: stored credentials cannot be read")
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return c, errors.New("sealed credential too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], env[:])
	if err != nil {
		return c, fmt.Errorf("open credential: %w", err)
	}
	err = json.Unmarshal(plain, &c)
	return c, err
}
