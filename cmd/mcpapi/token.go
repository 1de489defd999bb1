package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/mcpapi/mcpapi/store"
)

// bootstrapUser is the user id of tokens made by the server itself.
var bootstrapUser = uuid.MustParse("00000000-0000-0000-0000-000000000001")

// tokenUsage is the help of the token command.
//
//nolint:gosec // G101: help text that names the token subcommands, not a credential
const tokenUsage = `usage:
  mcpapi token create --environment NAME [--user UUID]
  mcpapi token list [--environment NAME]
  mcpapi token revoke ID
`

func token(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 {
		_, _ = fmt.Fprint(stderr, tokenUsage) // a hint beside the error returned; that error is what counts
		return errors.New("token: no subcommand given")
	}
	var databaseURL, environment, user string
	s := newSettings("token "+args[0], getenv, stderr)
	s.String(&databaseURL, "database-url", "DATABASE_URL", "", "postgres://… or sqlite://PATH; empty: ./data/mcpapi.db")
	switch args[0] {
	case "create":
		s.String(&environment, "environment", "", "", "environment the token belongs to (created if missing)")
		s.String(&user, "user", "", "", "user id the token acts as (default: a new random one)")
	case "list":
		s.String(&environment, "environment", "", "", "only this environment's tokens")
	case "revoke":
	default:
		_, _ = fmt.Fprint(stderr, tokenUsage) // a hint beside the error returned; that error is what counts
		return fmt.Errorf("token: unknown subcommand %q", args[0])
	}
	if run, err := s.Parse(args[1:]); !run || err != nil {
		return err
	}
	st, err := openStore(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	switch args[0] {
	case "create":
		if environment == "" {
			return errors.New("token create: --environment is required")
		}
		userID := uuid.New()
		if user != "" {
			if userID, err = uuid.Parse(user); err != nil {
				return fmt.Errorf("token create: --user: %w", err)
			}
		}
		secret, hash := store.NewSecret(store.APITokenPrefix)
		if _, err := st.CreateAPIToken(ctx, environment, userID, hash); err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		_, err = fmt.Fprintln(stdout, secret)
		return err
	case "list":
		tokens, err := st.ListAPITokens(ctx, environment)
		if err != nil {
			return fmt.Errorf("token list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		if _, err := fmt.Fprintln(tw, "ID\tENVIRONMENT\tUSER\tCREATED\tREVOKED"); err != nil {
			return err
		}
		for _, t := range tokens {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.UTC().Format(time.RFC3339)
			}
			if _, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.EnvironmentName, t.UserID, t.CreatedAt.UTC().Format(time.RFC3339), revoked); err != nil {
				return err
			}
		}
		return tw.Flush()
	default: // revoke
		if s.fs.NArg() != 1 {
			return errors.New("token revoke: give exactly one token ID")
		}
		id, err := uuid.Parse(s.fs.Arg(0))
		if err != nil {
			return fmt.Errorf("token revoke: %w", err)
		}
		if err := st.RevokeAPIToken(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("token revoke: no active token %s", id)
			}
			return fmt.Errorf("token revoke: %w", err)
		}
		_, _ = fmt.Fprintf(stderr, "revoked %s\n", id) // a confirmation only: the token is revoked either way
		return nil
	}
}
