package server

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/store"
)

const (
	headerIdempotencyKey = "Idempotency-Key"
	// idempotencyTTL is how long a key and its response are kept.
	idempotencyTTL = 24 * time.Hour
	// idempotencyWait is how long a retry waits for the first request with its key to finish.
	idempotencyWait = 10 * time.Second
	// idempotencyLock is how long a reservation holds the key before it counts as abandoned
	// (a process that died mid-request); it outlasts the longest request.
	idempotencyLock = 2 * time.Minute
	// rawBodyKey is where strictJSON leaves the request body, for the fingerprint.
	rawBodyKey = "mcpapi.rawBody"
)

// keptHeaders are the response headers a replay repeats.
var keptHeaders = []string{"Content-Type", "Location", "Etag", "Cache-Control"}

// idempotent makes creates safe to retry (the IETF httpapi Idempotency-Key draft, with Stripe's
// semantics): the first 2xx response to a key is kept for 24 hours and replayed to any retry with
// the same method, path and body; a retry during the first request waits for it.
func idempotent(st *store.Store, routes routeTable, log *slog.Logger, fp *fingerprinter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := routes.lookup(c)
			key := c.Request().Header.Get(headerIdempotencyKey)
			if !ok || !op.idempotent || key == "" {
				return next(c)
			}
			ctx := c.Request().Context()
			env := mustPrincipal(ctx).EnvironmentID
			raw, _ := c.Get(rawBodyKey).([]byte)
			req := store.IdempotencyRequest{
				Method:      c.Request().Method,
				Path:        c.Request().URL.Path,
				Fingerprint: fp.sum(raw),
			}
			deadline := time.Now().Add(idempotencyWait)
			if d, ok := ctx.Deadline(); ok && d.Add(-100*time.Millisecond).Before(deadline) {
				deadline = d.Add(-100 * time.Millisecond) // answer 409 before the request's own deadline
			}
			for {
				rec, reserved, err := st.ReserveIdempotencyKey(ctx, env, key, req, idempotencyTTL, idempotencyLock)
				if err != nil {
					return storeError(err, "idempotency key")
				}
				if reserved {
					return runAndKeep(c, next, st, log, env, key, rec.Owner)
				}
				if rec.Method != req.Method || rec.Path != req.Path || !bytes.Equal(rec.Fingerprint, req.Fingerprint) {
					return newProblem(http.StatusUnprocessableEntity,
						"This Idempotency-Key was already used with another request (a different body, method or path).",
						model.FieldError{Pointer: headerIdempotencyKey, Detail: "was already used with another request"})
				}
				if rec.Completed {
					return replay(c, rec)
				}
				if time.Now().After(deadline) {
					p := newProblem(http.StatusConflict, "A request with this Idempotency-Key is still in progress; retry later.")
					p.Header = http.Header{"Retry-After": []string{"1"}}
					return p
				}
				select {
				case <-ctx.Done():
					return unavailable(ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}
}

// runAndKeep runs the request as the key's owner; a 2xx response is kept, anything else frees
// the key so that the client may correct its request and retry with the same key.
func runAndKeep(c echo.Context, next echo.HandlerFunc, st *store.Store, log *slog.Logger, env uuid.UUID, key string, owner uuid.UUID) error {
	tee := &teeWriter{ResponseWriter: c.Response().Writer}
	c.Response().Writer = tee
	err := next(c)
	c.Response().Writer = tee.ResponseWriter
	// The outcome is recorded even when the client has gone: a retry must find it.
	ctx := context.WithoutCancel(c.Request().Context())
	status := c.Response().Status
	if err == nil && status >= 200 && status < 300 {
		header := map[string]string{}
		for _, h := range keptHeaders {
			if v := c.Response().Header().Get(h); v != "" {
				header[h] = v
			}
		}
		if cerr := st.CompleteIdempotencyKey(ctx, env, key, owner, status, header, withoutSecrets(tee.buf.Bytes())); cerr != nil {
			log.WarnContext(ctx, "idempotency key not kept", "request_id", requestID(c), "error", cerr)
		}
		return nil
	}
	if rerr := st.ReleaseIdempotencyKey(ctx, env, key, owner); rerr != nil {
		log.WarnContext(ctx, "idempotency key not released", "request_id", requestID(c), "error", rerr)
	}
	return err
}

func replay(c echo.Context, rec store.IdempotencyRecord) error {
	h := c.Response().Header()
	for k, v := range rec.Header {
		h.Set(k, v)
	}
	h.Set("Idempotent-Replayed", "true")
	c.Response().WriteHeader(rec.Status)
	_, err := c.Response().Write(rec.Body)
	return err
}

// withoutSecrets drops the members that carry a secret (an MCP server's token and the URL built
// from it): secrets are stored only as hashes, so a replay shows neither.
func withoutSecrets(body []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	if _, ok := m["token"]; !ok {
		if _, ok := m["url"]; !ok {
			return body
		}
	}
	delete(m, "token")
	delete(m, "url")
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return append(out, '\n')
}

// fingerprinter identifies a request body by its parsed JSON, so that white space and member
// order do not make a retry look like another request. The digest is stored beside the key for
// 24 hours, and a create body may carry an upstream credential, so it must not be a plain hash
// that a reader of the table could match against guessed secrets offline:
//   - with --secret-key it is HMAC-SHA-256 under a key derived from the secret key (HKDF-SHA-256,
//     its own label), so every instance of a fleet (which shares the secret key to open
//     credentials anyway) computes the same fingerprint, and nobody without the key can test a
//     guess. Changing the secret key turns a retry of an earlier request into a 422.
//   - without it no credential can be set (422), and the digest is SHA-256 of the body with its
//     top-level "credentials" member removed, so not even a refused credential is hashed.
type fingerprinter struct {
	key []byte // nil: no secret key
}

// fingerprintLabel separates this use of the secret key from sealing credentials.
const fingerprintLabel = "mcpapi idempotency fingerprint v1"

func newFingerprinter(secretKeyB64 string) (*fingerprinter, error) {
	if secretKeyB64 == "" {
		return &fingerprinter{}, nil
	}
	secret, err := base64.StdEncoding.DecodeString(secretKeyB64)
	if err != nil || len(secret) != 32 {
		return nil, errors.New("the secret key must be 32 bytes in standard base64 (e.g. `head -c 32 /dev/urandom | base64`)")
	}
	key, err := hkdf.Key(sha256.New, secret, nil, fingerprintLabel, 32)
	if err != nil {
		return nil, err
	}
	return &fingerprinter{key: key}, nil
}

func (f *fingerprinter) sum(body []byte) []byte {
	canonical := body
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil {
		if obj, ok := v.(map[string]any); ok && f.key == nil {
			delete(obj, "credentials")
		}
		if b, err := json.Marshal(v); err == nil {
			canonical = b
		}
	} else if f.key == nil {
		canonical = nil // not JSON (the validator refuses it anyway): nothing of it is kept
	}
	if f.key == nil {
		sum := sha256.Sum256(canonical)
		return sum[:]
	}
	mac := hmac.New(sha256.New, f.key)
	mac.Write(canonical)
	return mac.Sum(nil)
}

// teeWriter passes a response through and keeps a copy of its body.
type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.buf.Write(p)
	return t.ResponseWriter.Write(p)
}
