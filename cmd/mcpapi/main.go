// Command mcpapi serves the MCP server management API and administers its database and tokens.
//
//	mcpapi serve     serve the API (migrates the database first)
//	mcpapi migrate   apply the database migrations and exit
//	mcpapi token create --environment NAME [--user UUID]
//	mcpapi token list [--environment NAME]
//	mcpapi token revoke ID
//	mcpapi integrations check PATH...
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mcpapi:", err)
		stop()
		os.Exit(1)
	}
}

const usage = `usage: mcpapi <command> [flags]

commands:
  serve                                   serve the API (migrates the database first)
  migrate                                 apply the database migrations and exit
  token create --environment NAME [--user UUID]
                                          print a new API token for an environment
  token list [--environment NAME]         list API tokens (never their secrets)
  token revoke ID                         revoke an API token
  integrations check PATH...              load integration OpenAPI documents and report
                                          their tools and warnings

Run 'mcpapi <command> --help' for the flags of a command.
`

// run is the whole program; main and the end-to-end tests call it alike.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		_, _ = fmt.Fprint(stderr, usage) // a hint beside the error returned; that error is what counts
		return fmt.Errorf("no command given")
	}
	switch args[1] {
	case "serve":
		return serve(ctx, args[2:], getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args[2:], getenv, stderr)
	case "token":
		return token(ctx, args[2:], getenv, stdout, stderr)
	case "integrations":
		return integrationsCmd(args[2:], stdout, stderr)
	case "help", "-h", "--help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	_, _ = fmt.Fprint(stderr, usage) // a hint beside the error returned; that error is what counts
	return fmt.Errorf("unknown command %q", args[1])
}
