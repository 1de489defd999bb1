package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// settings binds each flag to an environment variable: the variable, when set, replaces the
// built-in default, and the flag, when given, wins over both.
type settings struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
}

func newSettings(name string, getenv func(string) string, out io.Writer) *settings {
	fs := flag.NewFlagSet("mcpapi "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &settings{fs: fs, getenv: getenv}
}

func (s *settings) describe(usage, env string) string {
	if env == "" {
		return usage
	}
	return usage + " (env " + env + ")"
}

func (s *settings) String(p *string, name, env, def, usage string) {
	if v := s.env(env); v != "" {
		def = v
	}
	s.fs.StringVar(p, name, def, s.describe(usage, env))
}

func (s *settings) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v := s.env(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %w", env, err))
		} else {
			def = d
		}
	}
	s.fs.DurationVar(p, name, def, s.describe(usage, env))
}

func (s *settings) Int(p *int, name, env string, def int, usage string) {
	if v := s.env(env); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %w", env, err))
		} else {
			def = n
		}
	}
	s.fs.IntVar(p, name, def, s.describe(usage, env))
}

func (s *settings) Float(p *float64, name, env string, def float64, usage string) {
	if v := s.env(env); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %w", env, err))
		} else {
			def = f
		}
	}
	s.fs.Float64Var(p, name, def, s.describe(usage, env))
}

func (s *settings) Bool(p *bool, name, env string, def bool, usage string) {
	if v := s.env(env); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %w", env, err))
		} else {
			def = b
		}
	}
	s.fs.BoolVar(p, name, def, s.describe(usage, env))
}

func (s *settings) env(name string) string {
	if name == "" {
		return ""
	}
	return s.getenv(name)
}

// Parse parses the arguments; a bad environment value is an error like a bad flag. run is
// false when the command should stop without error: --help was asked for (and printed).
func (s *settings) Parse(args []string) (run bool, err error) {
	if run, err := parseFlags(s.fs, args); !run || err != nil {
		return run, err
	}
	if len(s.errs) > 0 {
		return false, s.errs[0]
	}
	return true, nil
}

// parseFlags parses args into fs; run is false after --help, which is not an error.
func parseFlags(fs *flag.FlagSet, args []string) (run bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return false, nil
	}
	return err == nil, err
}
