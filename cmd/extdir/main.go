// Command extdir serves the Microsoft Graph beta API for external user
// profiles, mints development tokens for it, and reports its version.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Garbage-collector defaults, where GOGC and GOMEMLIMIT do not set their
// own: the live heap of a server is small (tens of MB) and a request
// allocates its response, so at Go's default GOGC=100 the collector ran
// every few milliseconds under load and a list page spent a third of its
// time on it. GOGC=400 lets the heap grow to five times what is live
// between collections (list pages: +40 % req/s in bench/load), and the soft
// limit makes the collector work harder rather than let the heap pass
// 128 MiB.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 128 << 20
)

func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	var usage *usageError
	switch {
	case err == nil:
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "extdir:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "extdir:", err)
		os.Exit(1)
	}
}

const usageText = `extdir: the Microsoft Graph beta API for external user profiles.

Usage:
  extdir serve [flags]     run the API (extdir serve --help for its flags)
  extdir token [flags]     print a signed access token for a server with the same --data-dir
  extdir client ...        register clients of the built-in token endpoint (add, list, remove, secret)
  extdir user ...          manage the test users who sign in to it (add, list, remove, set-password, hash-password)
  extdir keys ...          rotate the built-in issuer's signing keys (list, rotate, retire)
  extdir invite [flags]    invite the people of a CSV file through the Graph API, in batches (extdir invite --help)
  extdir export [flags]    write every profile of a store as JSON lines, or of the API with --url (extdir export --help)
  extdir import [flags]    load the JSON lines of extdir export into a store
  extdir backup [flags]    copy a SQLite store while a server runs on it, and verify the copy
  extdir restore [flags]   put a verified backup in place of a SQLite store that no server has open
  extdir config ...        check a --config file (check), print the configuration serve would run with (show)
  extdir version           print the version

Every flag of serve and token can also be set as an environment variable:
--data-dir is EXTDIR_DATA_DIR, --tls-self-signed is EXTDIR_TLS_SELF_SIGNED, and so on;
serve's also in a TOML file, extdir serve --config extdir.toml, under the flag's name.
`

// run is the whole program, so that tests can start it in-process with
// their own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return &usageError{msg: "a command is required: serve, token, client, user, keys, invite, export, import, backup, restore, config or version"}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return runToken(args[1:], getenv, stdout)
	case "client":
		return runClient(args[1:], getenv, stdout, stderr)
	case "invite":
		return runInvite(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], getenv, os.Stdin, stdout)
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdout)
	case "restore":
		return runRestore(ctx, args[1:], getenv, stdout)
	case "config":
		return runConfig(args[1:], getenv, stdout, stderr)
	case "keys":
		return runKeys(args[1:], getenv, stdout, stderr)
	case "user":
		return runUser(args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "extdir", versionString())
		return nil
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q (commands: serve, token, client, user, keys, invite, export, import, backup, restore, config, version)", args[0])}
}
