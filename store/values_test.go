package store_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mcpapi/mcpapi/store"
)

// The stored config document: a list is absent (nil: unrestricted) or present ([] included),
// defaults are absent keys, and reading gives back exactly what was written.
func TestConfigDocument(t *testing.T) {
	for _, c := range []struct {
		cfg store.McpServerConfig
		doc string
	}{
		{store.McpServerConfig{}, `{}`},
		{store.McpServerConfig{Methods: []string{}}, `{"methods":[]}`},
		{store.McpServerConfig{Methods: []string{"read"}, Tags: []string{}}, `{"methods":["read"],"tags":[]}`},
		{store.McpServerConfig{Tags: []string{"a", "b"}, ToolExposure: store.ToolExposureDiscovery, RequireAPITokenAuth: true},
			`{"tags":["a","b"],"tool_exposure":"discovery","require_api_token_auth":true}`},
	} {
		b, err := json.Marshal(c.cfg)
		if err != nil || string(b) != c.doc {
			t.Errorf("marshal %#v = %s, %v; want %s", c.cfg, b, err, c.doc)
		}
		var back store.McpServerConfig
		if err := json.Unmarshal([]byte(c.doc), &back); err != nil || !reflect.DeepEqual(back, c.cfg) {
			t.Errorf("unmarshal %s = %#v, %v; want %#v", c.doc, back, err, c.cfg)
		}
		if (back.Methods == nil) != (c.cfg.Methods == nil) || (back.Tags == nil) != (c.cfg.Tags == nil) {
			t.Errorf("unmarshal %s: nil-ness of the lists differs: %#v", c.doc, back)
		}
	}
	// Read as what they mean: null lists are absent, "all" is the default.
	var cfg store.McpServerConfig
	if err := json.Unmarshal([]byte(`{"methods":null,"tags":null,"tool_exposure":"all"}`), &cfg); err != nil ||
		!reflect.DeepEqual(cfg, store.McpServerConfig{}) {
		t.Errorf("null lists and \"all\": %#v, %v", cfg, err)
	}
}
