package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The SDK-alone reference: the official go-sdk's StreamableHTTPHandler configured as mcpapi
// configures it (stateless, JSON responses, no localhost check), with no database, no upstream
// and no auth. It runs as a child process (the same executable in the sdk role) so that its
// CPU time is measured like the others'. Two servers:
//
//   - /mcp/one has one trivial tool (sdkToolName) that answers upstreamRecord: the tools/call
//     reference, what the SDK costs by itself per call;
//   - /mcp/all has the same tool definitions mcpapi lists for the benchmark integration (read
//     from the file sdkToolsEnv names), each with the same trivial handler: the tools/list
//     reference, the SDK listing as many and as large tools as mcpapi does.
const (
	roleSDK     = "sdk"
	sdkToolsEnv = "MCPAPI_BENCH_SDK_TOOLS"
	sdkToolName = "get_record"
	sdkPathOne  = "/mcp/one"
	sdkPathAll  = "/mcp/all"
)

func trivialTool(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: upstreamRecord}}}, nil
}

func runSDK(ctx context.Context) error {
	raw, err := os.ReadFile(os.Getenv(sdkToolsEnv)) //nolint:gosec // G703: a file the benchmark (our parent) wrote
	if err != nil {
		return err
	}
	var defs []*sdk.Tool
	if err := json.Unmarshal(raw, &defs); err != nil || len(defs) == 0 {
		return fmt.Errorf("%s: no tool definitions (%v)", sdkToolsEnv, err)
	}
	impl := &sdk.Implementation{Name: "sdk-alone", Version: "1.0.0"}
	one := sdk.NewServer(impl, nil)
	one.AddTool(&sdk.Tool{
		Name:        sdkToolName,
		Description: "Returns one record.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`),
	}, trivialTool)
	all := sdk.NewServer(impl, nil)
	for _, d := range defs {
		all.AddTool(d, trivialTool)
	}
	opts := &sdk.StreamableHTTPOptions{Stateless: true, JSONResponse: true, DisableLocalhostProtection: true}
	mux := http.NewServeMux()
	mux.Handle("POST "+sdkPathOne, sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return one }, opts))
	mux.Handle("POST "+sdkPathAll, sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return all }, opts))
	return serveChild(ctx, mux)
}
