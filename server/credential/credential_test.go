package credential

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/uuid"
)

func TestValidate(t *testing.T) {
	bad := []struct {
		c      Credential
		member string
	}{
		{Credential{Type: "basic", Value: "v"}, "type"},
		{Credential{Type: TypeBearer, Value: ""}, "value"},
		{Credential{Type: TypeBearer, Name: "X", Value: "v"}, "name"},
		{Credential{Type: TypeHeader, Value: "v"}, "name"},
		{Credential{Type: TypeHeader, Name: "X Key", Value: "v"}, "name"},
		{Credential{Type: TypeBearer, Value: "a\r\nX-Evil: 1"}, "value"},
		{Credential{Type: TypeHeader, Name: "X-Key", Value: "a\x00b"}, "value"},
	}
	for _, name := range []string{"Host", "content-length", "Content-Type", "Transfer-Encoding", "connection", "Upgrade", "TE", "Trailer", "Keep-Alive", "Proxy-Authorization", "Proxy-Foo"} {
		bad = append(bad, struct {
			c      Credential
			member string
		}{Credential{Type: TypeHeader, Name: name, Value: "v"}, "name"})
	}
	for _, tc := range bad {
		var p *Problem
		if err := tc.c.Validate(); !errors.As(err, &p) || p.Member != tc.member {
			t.Errorf("%+v: %v, want a problem with %s", tc.c, err, tc.member)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		if err := tc.c.Apply(req); err == nil {
			t.Errorf("%+v applied", tc.c)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	if err := (&Credential{Type: TypeHeader, Name: "x-api-key", Value: "k"}).Apply(req); err != nil || req.Header.Get("X-Api-Key") != "k" {
		t.Errorf("header: %v %v", err, req.Header)
	}
	if err := (&Credential{Type: TypeBearer, Value: "t"}).Apply(req); err != nil || req.Header.Get("Authorization") != "Bearer t" {
		t.Errorf("bearer: %v %v", err, req.Header)
	}
}

func TestSealer(t *testing.T) {
	s, err := NewSealer("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		t.Fatal(err)
	}
	env := uuid.New()
	sealed, err := s.Seal(env, Credential{Type: TypeBearer, Value: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Open(env, sealed); err != nil || c.Value != "secret" {
		t.Errorf("%v %v", c, err)
	}
	if _, err := s.Open(uuid.New(), sealed); err == nil {
		t.Error("opened in another environment")
	}
}
