package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/extdir/extdir/auth"
)

const clientUsage = `Usage:
  extdir client add --data-dir D --tenant T --roles R1,R2 [--name N] [--redirect-uri URI ...]
                                   register a client of the token endpoint; prints its id and secret, once
  extdir client add --public --redirect-uri URI [--redirect-uri URI2] [--tenant T] [--name N]
                                   register a public client (SPA, desktop, CLI): no secret, users sign in
  extdir client list --data-dir D  list the registered clients
  extdir client remove --data-dir D --client-id ID
                                   unregister a client: it gets no more tokens
  extdir client secret             print a new secret and the secret_sha256 that --auth-config stores for it
`

// runClient manages the clients of the built-in token endpoint.
func runClient(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runSubcommand("client", clientUsage, args, stdout, stderr, []subcommand{
		{"add", func(args []string) error { return runClientAdd(args, getenv, stdout, stderr) }},
		{"list", func(args []string) error { return runClientList(args, getenv, stdout) }},
		{"remove", func(args []string) error { return runClientRemove(args, getenv, stdout) }},
		{"secret", func(args []string) error { return runClientSecret(args, getenv, stdout) }},
	})
}

// addedClient is what `extdir client add` prints: everything a client
// library needs, the secret included, which is shown this once.
type addedClient struct {
	ClientID      string   `json:"client_id"`
	ClientSecret  string   `json:"client_secret,omitempty"`
	Public        bool     `json:"public,omitempty"`
	RedirectURIs  []string `json:"redirect_uris,omitempty"`
	TenantID      string   `json:"tenant_id"`
	ObjectID      string   `json:"object_id"`
	Roles         []string `json:"roles,omitempty"`
	TokenEndpoint string   `json:"token_endpoint"`
	Scope         string   `json:"scope"`
}

func runClientAdd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("client add", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory of the server whose token endpoint the client uses")
	tenant := fs.String("tenant", defaultTenant, "tenant (tid) the client acts in")
	roles := fs.String("roles", "", "app permissions granted, comma-separated (required but with --public): "+strings.Join(auth.Permissions(), ", "))
	name := fs.String("name", "", "a label for people")
	public := fs.Bool("public", false, "a public client (SPA, desktop, CLI): no secret, no roles; its users sign in by the delegated flows")
	var redirects repeatedFlag
	fs.Var(&redirects, "redirect-uri", "a redirect URI of the authorization code flow (repeat for more); a loopback http://127.0.0.1, http://localhost or http://[::1] URI matches any port")
	if err := parseFlags(fs, args, getenv, stdout, "Registers a client of the built-in token endpoint and prints its id and, unless --public, its secret. The secret is stored hashed and cannot be shown again."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	granted := splitList(*roles)
	switch {
	case *public && len(granted) > 0:
		return &usageError{msg: "client add: a --public client has no --roles: without a secret, anyone could use them"}
	case !*public && len(granted) == 0:
		return &usageError{msg: "client add: --roles is required, e.g. --roles " + strings.Join(auth.Permissions(), ",") + " (or --public for a client without a secret)"}
	}
	c, secret, err := auth.RegisterClientWith(*dataDir, auth.ClientRegistration{Name: *name, Tenant: *tenant, Roles: granted, Public: *public, RedirectURIs: redirects})
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(addedClient{
		ClientID:      c.ID,
		ClientSecret:  secret,
		Public:        c.Public,
		RedirectURIs:  c.RedirectURIs,
		TenantID:      c.Tenant,
		ObjectID:      c.ObjectID,
		Roles:         c.Roles,
		TokenEndpoint: "/" + c.Tenant + "/oauth2/v2.0/token",
		Scope:         auth.DefaultAudiences[0] + "/.default",
	}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	if secret != "" {
		fmt.Fprintln(stderr, "extdir: keep the client_secret now: only its hash is stored.")
	}
	return nil
}

// repeatedFlag collects the values of a flag given several times.
type repeatedFlag []string

func (f *repeatedFlag) String() string { return strings.Join(*f, " ") }

func (f *repeatedFlag) Set(v string) error {
	*f = append(*f, v)
	return nil
}

func runClientList(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("client list", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory")
	if err := parseFlags(fs, args, getenv, stdout, "Lists the clients registered in the data directory (those of --auth-config are in that file)."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	clients, err := auth.ListClients(*dataDir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tTENANT\tTYPE\tROLES\tREDIRECT URIS\tNAME\tCREATED")
	for _, c := range clients {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Tenant, kind, strings.Join(c.Roles, ","), strings.Join(c.RedirectURIs, " "), c.Name, c.Created.Format("2006-01-02T15:04:05Z"))
	}
	return tw.Flush()
}

func runClientRemove(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("client remove", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory")
	id := fs.String("client-id", "", "client to remove (required)")
	if err := parseFlags(fs, args, getenv, stdout, "Unregisters a client: the token endpoint refuses it at once; tokens it already has stay valid until they expire."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *id == "" {
		return &usageError{msg: "client remove: --client-id is required"}
	}
	return auth.RemoveClient(*dataDir, *id)
}

func runClientSecret(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("client secret", flag.ContinueOnError)
	if err := parseFlags(fs, args, getenv, stdout, `Prints a new client secret and its SHA-256, for a client of --auth-config: {"client_secret": ..., "secret_sha256": ...}.`); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	secret, hash, err := auth.NewClientSecret()
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(map[string]string{"client_secret": secret, "secret_sha256": hash}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}
