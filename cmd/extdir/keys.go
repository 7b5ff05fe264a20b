package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/extdir/extdir/auth"
)

const keysUsage = `Usage:
  extdir keys list --data-dir D              list the built-in issuer's signing keys
  extdir keys rotate --data-dir D            add a new key: it signs from now on, the older ones are still accepted
  extdir keys retire --data-dir D --kid K    remove an older key: its tokens are refused from now on
A running server follows these changes within a few seconds.
`

// runKeys manages the built-in issuer's signing keys.
func runKeys(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runSubcommand("keys", keysUsage, args, stdout, stderr, []subcommand{
		{"list", func(args []string) error { return runKeysList(args, getenv, stdout) }},
		{"rotate", func(args []string) error { return runKeysRotate(args, getenv, stdout) }},
		{"retire", func(args []string) error { return runKeysRetire(args, getenv, stdout) }},
	})
}

func runKeysList(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys list", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory")
	if err := parseFlags(fs, args, getenv, stdout, "Lists the signing keys, oldest first; the newest signs."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	keys, err := auth.ListKeys(*dataDir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tKID\tCREATED\tSIGNING")
	for _, k := range keys {
		signing := ""
		if k.Signing {
			signing = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", k.Serial, k.KID, k.Created.UTC().Format("2006-01-02T15:04:05Z"), signing)
	}
	return tw.Flush()
}

func runKeysRotate(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory")
	if err := parseFlags(fs, args, getenv, stdout, "Adds a new signing key and prints its kid. Tokens of the older keys stay valid until those keys are retired."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	kid, err := auth.RotateKey(*dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, kid)
	return nil
}

func runKeysRetire(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys retire", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory")
	kid := fs.String("kid", "", "kid of the key to retire (required; see extdir keys list)")
	if err := parseFlags(fs, args, getenv, stdout, "Removes an older signing key; tokens it signed are refused from then on. The newest key cannot be retired: rotate first."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *kid == "" {
		return &usageError{msg: "keys retire: --kid is required (see extdir keys list)"}
	}
	return auth.RetireKey(*dataDir, *kid)
}
