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

const userUsage = `Usage:
  extdir user add --data-dir D --tenant T --upn U [--password P] [--display-name N] [--wids g1,g2]
                                   add a test user; prints its object id and, when generated, its password
  extdir user list --data-dir D    list the users of the data directory
  extdir user remove --data-dir D --user U
                                   remove a user (U: object id or UPN): no more sign-ins, refresh tokens revoked
  extdir user set-password --data-dir D --user U [--password P]
                                   give a user a new password (printed when generated); refresh tokens revoked
  extdir user hash-password [--password P]
                                   print a password and the password_hash that --auth-config stores for it
`

// runUser manages the test users who sign in to the built-in issuer.
func runUser(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runSubcommand("user", userUsage, args, stdout, stderr, []subcommand{
		{"add", func(args []string) error { return runUserAdd(args, getenv, stdout) }},
		{"list", func(args []string) error { return runUserList(args, getenv, stdout) }},
		{"remove", func(args []string) error { return runUserRemove(args, getenv, stdout) }},
		{"set-password", func(args []string) error { return runUserSetPassword(args, getenv, stdout) }},
		{"hash-password", func(args []string) error { return runUserHashPassword(args, getenv, stdout) }},
	})
}

// addedUser is what `extdir user add` prints.
type addedUser struct {
	ObjectID    string   `json:"object_id"`
	UPN         string   `json:"upn"`
	TenantID    string   `json:"tenant_id"`
	DisplayName string   `json:"display_name,omitempty"`
	RoleIDs     []string `json:"wids,omitempty"`
	// Password is set only when extdir generated it: one given on the
	// command line is not echoed.
	Password string `json:"password,omitempty"`
}

func printJSON(stdout io.Writer, v any) error {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}

// parseUserFlags parses a user subcommand's flags, with --help answered.
func parseUserFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer, synopsis string) (done bool, err error) {
	if err := parseFlags(fs, args, getenv, stdout, synopsis); err != nil {
		return true, ignoreHelp(err)
	}
	return false, nil
}

func ignoreHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func runUserAdd(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory of the server the user signs in to")
	tenant := fs.String("tenant", defaultTenant, "tenant (tid) the user belongs to")
	upn := fs.String("upn", "", "user principal name, the sign-in name, e.g. alice@contoso.example (required)")
	password := fs.String("password", "", "password (default: a generated one, printed once); also EXTDIR_PASSWORD")
	displayName := fs.String("display-name", "", "display name (the name claim)")
	wids := fs.String("wids", "", "directory role template ids, comma-separated, e.g. "+auth.RoleExtendedDirectoryUserAdministrator+" (Extended Directory User Administrator)")
	if done, err := parseUserFlags(fs, args, getenv, stdout, "Adds a test user who signs in to the built-in issuer by the delegated flows. The password is stored as an argon2id hash."); done {
		return err
	}
	if *upn == "" {
		return &usageError{msg: "user add: --upn is required"}
	}
	u, generated, err := auth.AddUser(*dataDir, auth.UserRegistration{Tenant: *tenant, UPN: *upn, DisplayName: *displayName, Password: *password, RoleIDs: splitList(*wids)})
	if err != nil {
		return err
	}
	out := addedUser{ObjectID: u.ObjectID, UPN: u.UPN, TenantID: u.Tenant, DisplayName: u.DisplayName, RoleIDs: u.RoleIDs}
	if *password == "" {
		out.Password = generated
	}
	return printJSON(stdout, out)
}

func runUserList(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory")
	if done, err := parseUserFlags(fs, args, getenv, stdout, "Lists the users of the data directory (those of --auth-config are in that file)."); done {
		return err
	}
	users, err := auth.ListUsers(*dataDir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT ID\tUPN\tTENANT\tWIDS\tDISPLAY NAME\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ObjectID, u.UPN, u.Tenant, strings.Join(u.RoleIDs, ","), u.DisplayName, u.Created.Format("2006-01-02T15:04:05Z"))
	}
	return tw.Flush()
}

// userFlags are the flags that name an existing user.
func userFlags(fs *flag.FlagSet) (dataDir, tenant, who *string) {
	dataDir = fs.String("data-dir", "./extdir-data", "data directory")
	tenant = fs.String("tenant", defaultTenant, "tenant of the user, when --user is a UPN")
	who = fs.String("user", "", "the user: object id or UPN (required)")
	return dataDir, tenant, who
}

func findUser(name, dataDir, tenant, who string) (*auth.User, error) {
	if who == "" {
		return nil, &usageError{msg: name + ": --user is required (object id or UPN)"}
	}
	return auth.FindUser(dataDir, tenant, who)
}

func runUserRemove(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user remove", flag.ContinueOnError)
	dataDir, tenant, who := userFlags(fs)
	if done, err := parseUserFlags(fs, args, getenv, stdout, "Removes a user: sign-ins fail at once, refresh tokens stop working; access tokens already issued stay valid until they expire."); done {
		return err
	}
	u, err := findUser("user remove", *dataDir, *tenant, *who)
	if err != nil {
		return err
	}
	return auth.RemoveUser(*dataDir, u.ObjectID)
}

func runUserSetPassword(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user set-password", flag.ContinueOnError)
	dataDir, tenant, who := userFlags(fs)
	password := fs.String("password", "", "the new password (default: a generated one, printed once); also EXTDIR_PASSWORD")
	if done, err := parseUserFlags(fs, args, getenv, stdout, "Gives a user a new password; refresh tokens issued before stop working."); done {
		return err
	}
	u, err := findUser("user set-password", *dataDir, *tenant, *who)
	if err != nil {
		return err
	}
	newPassword, err := auth.SetUserPassword(*dataDir, u.ObjectID, *password)
	if err != nil {
		return err
	}
	out := addedUser{ObjectID: u.ObjectID, UPN: u.UPN, TenantID: u.Tenant}
	if *password == "" {
		out.Password = newPassword
	}
	return printJSON(stdout, out)
}

func runUserHashPassword(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("user hash-password", flag.ContinueOnError)
	password := fs.String("password", "", "the password (default: a generated one); also EXTDIR_PASSWORD")
	if done, err := parseUserFlags(fs, args, getenv, stdout, `Prints a password and its argon2id hash, for a user of --auth-config: {"upn": ..., "tenant": ..., "password_hash": ...}.`); done {
		return err
	}
	p := *password
	if p == "" {
		var err error
		if p, err = auth.NewPassword(); err != nil {
			return err
		}
	}
	hash, err := auth.HashPassword(p)
	if err != nil {
		return err
	}
	out := map[string]string{"password_hash": hash}
	if *password == "" {
		out["password"] = p
	}
	return printJSON(stdout, out)
}
