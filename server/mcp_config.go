package server

import (
	"slices"
	"strings"
	"time"

	"github.com/mcpapi/mcpapi/gen/model"
	"github.com/mcpapi/mcpapi/integrations"
	"github.com/mcpapi/mcpapi/store"
)

// minExpiry is how far ahead an MCP server's expires_at must be: an expiry that passes while
// the response is still on its way is a mistake, not a wish.
const minExpiry = 60 * time.Second

// allowsSomething is the rule "a config must allow at least one tool of the account's
// integration", for the store to run where the config it will store is known (see
// store.ConfigCheck). The refusal names the integration's methods and tags, so the client can
// correct the config.
func allowsSomething(cat *integrations.Catalogue) store.ConfigCheck {
	return func(integration string, c store.McpServerConfig) error {
		in, ok := cat.Get(integration)
		if !ok {
			return badRequest("The config allows no tool: integration "+integration+" is not in this server's catalogue.",
				model.FieldError{Pointer: "/config", Detail: "allows no tool: integration " + integration + " is unknown here"})
		}
		var methods, tags []string
		for _, t := range in.Tools {
			if integrations.Allowed(t, c.Methods, c.Tags) {
				return nil
			}
			methods = append(methods, t.Method)
			tags = append(tags, t.Tags...)
		}
		slices.Sort(methods)
		slices.Sort(tags)
		return badRequest("The config allows no tool of integration "+integration+". Its methods: "+
			listOrNone(slices.Compact(methods))+"; its tags: "+listOrNone(slices.Compact(tags))+".",
			model.FieldError{Pointer: "/config", Detail: "allows no tool of integration " + integration})
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// storeConfig maps a create's config to the store's: lists normalised, defaults as zero values.
func storeConfig(c *model.McpServerConfig) store.McpServerConfig {
	var out store.McpServerConfig
	if c == nil {
		return out
	}
	if c.Methods != nil {
		out.Methods = normalizeScope(*c.Methods)
	}
	if c.Tags != nil {
		out.Tags = normalizeScope(*c.Tags)
	}
	if c.ToolExposure != nil && *c.ToolExposure == model.ToolExposureDiscovery {
		out.ToolExposure = store.ToolExposureDiscovery
	}
	out.RequireAPITokenAuth = c.RequireApiTokenAuth != nil && *c.RequireApiTokenAuth
	return out
}

// apiConfig is the response's config: lists as stored, tool_exposure and
// require_api_token_auth always present.
func apiConfig(c store.McpServerConfig) model.McpServerConfig {
	// The API's members are pointers; they point into one value (one allocation, not four).
	v := &struct {
		methods, tags []string
		exposure      model.ToolExposure
		require       bool
	}{c.Methods, c.Tags, model.ToolExposureAll, c.RequireAPITokenAuth}
	if c.ToolExposure == store.ToolExposureDiscovery {
		v.exposure = model.ToolExposureDiscovery
	}
	out := model.McpServerConfig{ToolExposure: &v.exposure, RequireApiTokenAuth: &v.require}
	if c.Methods != nil {
		out.Methods = &v.methods
	}
	if c.Tags != nil {
		out.Tags = &v.tags
	}
	return out
}

// checkExpiry checks an expiry (at least minExpiry ahead of now) and brings it to what the
// database keeps: UTC microseconds.
func checkExpiry(t, now time.Time) (time.Time, error) {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Sub(now) < minExpiry {
		return t, unprocessable("/expires_at", "must be at least 60 seconds in the future")
	}
	return t, nil
}
