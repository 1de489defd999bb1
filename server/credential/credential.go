// Package credential owns an integrated account's upstream credential: its type, the rules a
// credential must pass to be usable (checked once, at write time, by the API), how it is sealed
// for storage, and how it is put on an upstream request. The write path and the call path both
// use this package, so what the API accepts is exactly what a tool call can send.
package credential

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/net/http/httpguts"
)

// The credential types.
const (
	// TypeBearer sends `Authorization: Bearer <Value>`.
	TypeBearer = "bearer"
	// TypeHeader sends the header Name with Value.
	TypeHeader = "header"
)

// MaxValueBytes bounds a credential's value; MaxNameBytes its header name.
const (
	MaxValueBytes = 8 << 10
	MaxNameBytes  = 128
)

// Credential is an integrated account's secret for its upstream API.
type Credential struct {
	Type  string `json:"type"` // TypeBearer or TypeHeader
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

// Problem says which member of a credential is unusable and why. Member is "type", "name" or
// "value": the caller turns it into a pointer into its own document (/credentials/name).
type Problem struct {
	Member string
	Detail string
}

func (p *Problem) Error() string { return "credential " + p.Member + " " + p.Detail }

// forbiddenNames are headers that cannot carry a credential: hop-by-hop headers (RFC 9110
// §7.6.1), headers HTTP itself or the request's body sets, and headers the tool call sets.
var forbiddenNames = map[string]string{
	"Host":                "is set by HTTP itself",
	"Content-Length":      "is set by HTTP itself",
	"Content-Type":        "describes the request body",
	"Content-Encoding":    "describes the request body",
	"Transfer-Encoding":   "is a hop-by-hop header",
	"Connection":          "is a hop-by-hop header",
	"Keep-Alive":          "is a hop-by-hop header",
	"Upgrade":             "is a hop-by-hop header",
	"Te":                  "is a hop-by-hop header",
	"Trailer":             "is a hop-by-hop header",
	"Expect":              "is set by HTTP itself",
	"Accept":              "is set by the tool call",
	"User-Agent":          "is set by the tool call",
	"Proxy-Authorization": "is a hop-by-hop header",
	"Proxy-Authenticate":  "is a hop-by-hop header",
	"Proxy-Connection":    "is a hop-by-hop header",
}

// Validate checks that the credential can be sent: a known type, a name only (and always)
// for TypeHeader that is a valid header token and not one that cannot carry a credential, a
// non-empty value without CR, LF, NUL or other control characters. It returns a *Problem.
func (c Credential) Validate() error {
	switch c.Type {
	case TypeBearer:
		if c.Name != "" {
			return &Problem{"name", "is only for type header"}
		}
	case TypeHeader:
		if c.Name == "" {
			return &Problem{"name", "is required for type header"}
		}
		if len(c.Name) > MaxNameBytes || !httpguts.ValidHeaderFieldName(c.Name) {
			return &Problem{"name", "is not a valid HTTP header name"}
		}
		canon := http.CanonicalHeaderKey(c.Name)
		if why, bad := forbiddenNames[canon]; bad {
			return &Problem{"name", "cannot be " + canon + ": it " + why}
		}
		if strings.HasPrefix(canon, "Proxy-") || strings.HasPrefix(canon, "Sec-") {
			return &Problem{"name", "cannot be " + canon + ": it is not for an upstream API"}
		}
	default:
		return &Problem{"type", "must be bearer or header"}
	}
	if strings.TrimSpace(c.Value) == "" {
		return &Problem{"value", "must not be empty"}
	}
	if len(c.Value) > MaxValueBytes {
		return &Problem{"value", fmt.Sprintf("must not exceed %d bytes", MaxValueBytes)}
	}
	for i := 0; i < len(c.Value); i++ {
		if b := c.Value[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return &Problem{"value", "must not contain control characters (CR, LF, NUL…)"}
		}
	}
	return nil
}

// Apply puts the credential on an upstream request, after checking it again (a row written
// before these rules existed must not reach the wire). A nil credential sends nothing.
func (c *Credential) Apply(req *http.Request) error {
	if c == nil {
		return nil
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Type == TypeBearer {
		req.Header.Set("Authorization", "Bearer "+c.Value)
		return nil
	}
	req.Header.Set(c.Name, c.Value)
	return nil
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
