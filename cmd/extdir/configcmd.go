package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/store/postgres"
)

const configUsage = `Usage:
  extdir config check --config FILE      check a configuration file as extdir serve would: every key, type and value
  extdir config show [--config FILE] [serve flags]
                                         print the configuration extdir serve would run with, as TOML, secrets redacted

The file's keys are serve's flags (extdir serve --help); see docs/operations.md.
`

func runConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runSubcommand("config", configUsage, args, stdout, stderr, []subcommand{
		{"check", func(args []string) error { return configCheck(args, getenv, stdout) }},
		{"show", func(args []string) error { return configShow(args, getenv, stdout) }},
	})
}

// configCheck reads the file alone onto serve's defaults, without the
// environment, so that it checks what the file says whatever the shell
// around it sets; then it runs serve's own checks of the values.
func configCheck(args []string, getenv func(string) string, stdout io.Writer) error {
	var cfg serveConfig
	fs := serveFlags(&cfg)
	fs.Init("config check", flag.ContinueOnError)
	onlyConfig := func(name string) string {
		if name == envName(configFlag) {
			return getenv(name)
		}
		return ""
	}
	loaded, err := loadFlags(fs, args, onlyConfig, stdout, "Checks a configuration file as extdir serve would read it.")
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var extra []string
	fs.Visit(func(f *flag.Flag) {
		if loaded.source[f.Name] == "flag" && f.Name != configFlag {
			extra = append(extra, "--"+f.Name)
		}
	})
	if len(extra) > 0 {
		return &usageError{msg: fmt.Sprintf("config check: takes --config only, not %s (extdir config show shows what flags change)", strings.Join(extra, ", "))}
	}
	if loaded.file == nil {
		return &usageError{msg: "config check: --config (or EXTDIR_CONFIG) names the file to check"}
	}
	if err := cfg.checkAll(getenv); err != nil {
		return &usageError{msg: fmt.Sprintf("%s: %s", loaded.file.path, strings.TrimPrefix(err.Error(), "serve: "))}
	}
	a := loaded.file.auth
	if a == nil {
		a = &auth.Config{}
	}
	fmt.Fprintf(stdout, "%s: ok: %s, %s, %s, %s\n", loaded.file.path,
		count(len(loaded.file.values), "setting"), count(len(a.Issuers), "issuer"), count(len(a.Clients), "client"), count(len(a.Users), "user"))
	return nil
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// configShow prints the effective configuration: every flag of serve with
// its value and where it came from, then the file's registrations.
func configShow(args []string, getenv func(string) string, stdout io.Writer) error {
	var cfg serveConfig
	fs := serveFlags(&cfg)
	fs.Init("config show", flag.ContinueOnError)
	loaded, err := loadFlags(fs, args, getenv, stdout, "Prints the configuration extdir serve would run with these flags, in this environment: as TOML, with where each value came from, secrets redacted.")
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	file := "no --config file"
	if loaded.file != nil {
		file = loaded.file.path
	}
	fmt.Fprintf(stdout, "# The configuration of extdir serve: command-line flags, then EXTDIR_* variables,\n# then %s, then the defaults. Secrets are redacted.\n\n", file)
	type line struct{ text, source string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag {
			return
		}
		source := loaded.source[f.Name]
		switch source {
		case "":
			source = "default"
		case "flag":
			source = "flag --" + f.Name
		}
		l := line{f.Name + " = " + tomlValue(f), source}
		width = max(width, len(l.text))
		lines = append(lines, l)
	})
	for _, l := range lines {
		fmt.Fprintf(stdout, "%-*s  # %s\n", width, l.text, l.source)
	}
	if loaded.file != nil && loaded.file.auth != nil {
		writeAuthTOML(stdout, loaded.file.auth)
	}
	return nil
}

// redacted stands for a secret in what config show prints.
const redacted = "<redacted>"

// tomlValue is a flag's value as a TOML value, secrets redacted.
func tomlValue(f *flag.Flag) string {
	v := f.Value.String()
	switch flagKind(f) {
	case "bool", "int", "uint", "float":
		return v
	}
	switch {
	case postgres.IsURL(v):
		v = postgres.Redact(v)
	case v != "" && isSecretName(f.Name):
		v = redacted
	}
	return tomlString(v)
}

// isSecretName reports a setting whose value is a secret by its name, so
// that one added later is redacted without a list to update.
func isSecretName(name string) bool {
	for _, s := range []string{"password", "secret", "credential", "private-key"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// tomlString quotes s as a TOML basic string. JSON's escapes are a subset
// of TOML's once HTML escaping is off.
func tomlString(s string) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(sb.String(), "\n")
}

// secretMembers are the registration members config show never prints.
var secretMembers = map[string]bool{"secret_sha256": true, "password_hash": true}

// writeAuthTOML writes the registrations as [[auth.*]] tables, members in
// their struct's order, empty optional members left out as the JSON leaves
// them.
func writeAuthTOML(w io.Writer, a *auth.Config) {
	cv := reflect.ValueOf(a).Elem()
	for f := range fieldsOf(authType) {
		list := cv.FieldByIndex(f.Index)
		for i := range list.Len() {
			fmt.Fprintf(w, "\n[[%s.%s]]\n", authKey, jsonName(f))
			entry := list.Index(i)
			for ef := range fieldsOf(entry.Type()) {
				v := entry.FieldByIndex(ef.Index)
				_, opts, _ := strings.Cut(ef.Tag.Get("json"), ",")
				if v.IsZero() && (strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")) {
					continue
				}
				fmt.Fprintf(w, "%s = %s\n", jsonName(ef), memberTOML(jsonName(ef), v))
			}
		}
	}
}

func memberTOML(name string, v reflect.Value) string {
	switch {
	case secretMembers[name] && !v.IsZero():
		return tomlString(redacted)
	case v.Type() == durationType:
		return tomlString(time.Duration(v.Int()).String())
	case v.Type() == timeType:
		return v.Interface().(time.Time).UTC().Format(time.RFC3339)
	case v.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case v.Kind() == reflect.String:
		return tomlString(v.String())
	case v.Kind() == reflect.Slice:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = tomlString(v.Index(i).String())
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return tomlString(fmt.Sprint(v.Interface()))
}
