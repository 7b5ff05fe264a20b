package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// usageError is a mistake in how extdir was called: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// parseFlags parses args, then fills every flag the command line did not set
// from its EXTDIR_* environment variable, then, for a command with a
// --config flag, from that file (config.go). --help prints the usage to
// stdout and returns flag.ErrHelp; any mistake is a usageError.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer, synopsis string) error {
	_, err := loadFlags(fs, args, getenv, stdout, synopsis)
	return err
}

// loadFlags is parseFlags, and says where each flag's value came from.
func loadFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer, synopsis string) (*settings, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		from := "the environment variable shown"
		if fs.Lookup(configFlag) != nil {
			from += ", and from the key of the same name in the --config file"
		}
		fmt.Fprintf(stdout, "Usage: extdir %s [flags]\n\n%s\n\nFlags (each also read from %s):\n", fs.Name(), synopsis, from)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(stdout, "  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
		return nil, flag.ErrHelp
	}
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("%s: %v (see extdir %s --help)", fs.Name(), err, fs.Name())}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{msg: fmt.Sprintf("%s: unexpected argument %q (see extdir %s --help)", fs.Name(), fs.Arg(0), fs.Name())}
	}
	st := &settings{source: map[string]string{}}
	fs.Visit(func(f *flag.Flag) { st.source[f.Name] = "flag" })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if st.source[f.Name] != "" || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = &usageError{msg: fmt.Sprintf("%s: invalid value %q for %s: %v", fs.Name(), v, envName(f.Name), err)}
			}
			st.source[f.Name] = envName(f.Name)
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := st.applyConfigFile(fs); err != nil {
		return nil, err
	}
	return st, nil
}

func envName(flagName string) string {
	return "EXTDIR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// subcommand is one verb of a command group such as `extdir client`.
type subcommand struct {
	name string
	run  func(args []string) error
}

// runSubcommand dispatches args to the group's subcommand: the usage on
// stderr and a usage error without one, the usage on stdout for help, and
// a usage error naming the choices for an unknown one.
func runSubcommand(group, usage string, args []string, stdout, stderr io.Writer, subs []subcommand) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{msg: fmt.Sprintf("%s: a subcommand is required: %s", group, strings.Join(names, ", "))}
	}
	switch args[0] {
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(args[1:])
		}
	}
	return &usageError{msg: fmt.Sprintf("%s: unknown subcommand %q (%s)", group, args[0], strings.Join(names, ", "))}
}
