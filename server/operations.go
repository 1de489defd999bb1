package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mcpapi/mcpapi"
	"github.com/mcpapi/mcpapi/gen/api"
	"github.com/mcpapi/mcpapi/gen/model"
)

// readinessTimeout bounds the database ping of /readyz.
const readinessTimeout = time.Second

// GetHealth answers while the process is alive; it touches nothing else.
func (h *handler) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	return api.GetHealth200JSONResponse{Status: model.Ok}, nil
}

// GetReadiness answers 200 when the database answers within a second.
func (h *handler) GetReadiness(ctx context.Context, _ api.GetReadinessRequestObject) (api.GetReadinessResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		return nil, unavailable(err)
	}
	return api.GetReadiness200JSONResponse{Status: model.Ok}, nil
}

// GetOpenAPIYAML serves the embedded openapi.yaml, with `servers` naming this server.
func (h *handler) GetOpenAPIYAML(context.Context, api.GetOpenAPIYAMLRequestObject) (api.GetOpenAPIYAMLResponseObject, error) {
	return api.GetOpenAPIYAML200ApplicationyamlResponse{Body: bytes.NewReader(h.specYAML), ContentLength: int64(len(h.specYAML))}, nil
}

// GetOpenAPIJSON serves the same document as JSON.
func (h *handler) GetOpenAPIJSON(context.Context, api.GetOpenAPIJSONRequestObject) (api.GetOpenAPIJSONResponseObject, error) {
	return api.GetOpenAPIJSON200JSONResponse(h.specJSON), nil
}

// GetMetrics serves the Prometheus metrics, unless they have a listener of their own.
func (h *handler) GetMetrics(context.Context, api.GetMetricsRequestObject) (api.GetMetricsResponseObject, error) {
	if h.metrics.separate {
		return nil, notFound("resource")
	}
	return metricsResponse{h.metrics.handler}, nil
}

// metricsResponse writes the metrics with promhttp (the handler --metrics-addr serves too), in
// the text format the spec names: promhttp is asked with a request that has no Accept header.
type metricsResponse struct{ h http.Handler }

var metricsRequest = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/metrics"}, Header: http.Header{}}

func (m metricsResponse) VisitGetMetricsResponse(w http.ResponseWriter) error {
	m.h.ServeHTTP(w, metricsRequest)
	return nil
}

// specWithServer renders the embedded spec with `servers` set to the public base URL: the YAML
// byte for byte but for that block, and the same document as JSON.
func specWithServer(publicURL string) (yamlDoc []byte, jsonDoc map[string]any, err error) {
	block := "servers:\n  - url: " + publicURL + "\n    description: This server.\n"
	yamlDoc, err = replaceTopLevelBlock(mcpapi.OpenAPIYAML, "servers:", block)
	if err != nil {
		return nil, nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(mcpapi.OpenAPIYAML)
	if err != nil {
		return nil, nil, err
	}
	doc.Servers = openapi3.Servers{{URL: publicURL, Description: "This server."}}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(b, &jsonDoc); err != nil {
		return nil, nil, err
	}
	return yamlDoc, jsonDoc, nil
}

// replaceTopLevelBlock replaces the top-level YAML key that starts with head, with everything
// indented below it, by block.
func replaceTopLevelBlock(doc []byte, head, block string) ([]byte, error) {
	lines := strings.SplitAfter(string(doc), "\n")
	var out strings.Builder
	found, skipping := false, false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, head):
			found, skipping = true, true
			out.WriteString(block)
		case skipping && strings.HasPrefix(l, " "):
			// part of the replaced block
		default:
			skipping = false
			out.WriteString(l)
		}
	}
	if !found {
		return nil, fmt.Errorf("openapi.yaml has no top-level %q", head)
	}
	return []byte(out.String()), nil
}
