package servertest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCheckCatchesViolations proves the transport the end-to-end tests rely on can fail.
func TestCheckCatchesViolations(t *testing.T) {
	v := NewValidatingTransport(t, nil)
	const item = "/integrated-account/1ba1f401-7183-47c5-9e39-e8e257e3c795"
	good := `{"id":"1ba1f401-7183-47c5-9e39-e8e257e3c795","integration":"crm","tenant_id":null,"has_credentials":false,` +
		`"created_at":"2024-01-10T09:00:00Z","updated_at":"2024-01-10T09:00:00Z"}`
	cases := []struct {
		name, method, path string
		status             int
		contentType, body  string
		wantErr            bool
	}{
		{"valid 200", "GET", item, 200, "application/json", good, false},
		{"missing member", "GET", item, 200, "application/json", `{"id":"1ba1f401-7183-47c5-9e39-e8e257e3c795"}`, true},
		{"wrong type", "GET", item, 200, "application/json", `{"id":1,"integration":"h","tenant_id":null,"created_at":"x","updated_at":"x"}`, true},
		{"undocumented status", "GET", item, 418, "application/problem+json", `{"type":"about:blank","title":"x","status":418}`, true},
		{"error not a problem", "GET", item, 404, "application/json", `{"error":"nope"}`, true},
		{"problem leaking SQL", "GET", item, 500, "application/problem+json", `{"type":"about:blank","title":"x","status":500,"detail":"SELECT * FROM x"}`, true},
		{"valid problem", "GET", item, 404, "application/problem+json", `{"type":"about:blank","title":"Not Found","status":404}`, false},
		{"2xx off a path the spec lacks", "GET", "/integrated-account/x/y/z", 200, "application/json", `{}`, true},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, "http://127.0.0.1"+c.path, nil)
		resp := &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {c.contentType}}}
		err := v.Check(req, nil, resp, []byte(c.body))
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err = %v, want error %v", c.name, err, c.wantErr)
		}
	}
}
