package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mcpapi/mcpapi/integrations"
)

const integrationsUsage = `usage: mcpapi integrations check PATH...

Loads each OpenAPI document (3.0, 3.1 or Swagger 2.0; JSON or YAML) as the server would and
prints its operations, tools, every warning, the operations that cannot become tools and the
load time. Exits 1 only when a document cannot be used (the server would refuse to start).
`

// integrationsCmd is `mcpapi integrations check PATH...`, for integration authors before they
// deploy a document.
func integrationsCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		_, _ = fmt.Fprint(stderr, integrationsUsage) // a hint beside the error returned
		if len(args) == 0 {
			return errors.New("integrations: no subcommand given")
		}
		return fmt.Errorf("integrations: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("mcpapi integrations check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { _, _ = fmt.Fprint(stderr, integrationsUsage) }
	if run, err := parseFlags(fs, args[1:]); !run || err != nil {
		return err
	}
	if fs.NArg() == 0 {
		_, _ = fmt.Fprint(stderr, integrationsUsage)
		return errors.New("integrations check: no document given")
	}
	failed := 0
	for _, path := range fs.Args() {
		start := time.Now()
		in, err := integrations.LoadFile(path)
		if err != nil {
			failed++
			if _, werr := fmt.Fprintf(stdout, "%s: FATAL after %s: %v\n", path, time.Since(start).Round(time.Millisecond), err); werr != nil {
				return werr
			}
			continue
		}
		if err := report(stdout, path, in); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("integrations check: %d of %d documents cannot be used", failed, fs.NArg())
	}
	return nil
}

func report(w io.Writer, path string, in *integrations.Integration) error {
	pw := &printer{w: w}
	pw.printf("%s: ok: %q %s, base URL %s\n", path, in.Title, in.Version, in.BaseURL)
	pw.printf("  operations: %d\n  tools: %d\n  warnings: %d\n  load time: %s\n",
		in.Operations, len(in.Tools), len(in.Warnings), in.LoadTime.Round(time.Millisecond))
	for _, s := range in.Skipped {
		pw.printf("  not a tool: %s: %s\n", s.Operation, s.Reason)
	}
	for _, wn := range in.Warnings {
		pw.printf("  warning: %s\n", wn)
	}
	return pw.err
}

// printer keeps the first write error, so that a report is a list of printf calls.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
