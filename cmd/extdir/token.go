package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/extdir/extdir/auth"
)

// Defaults of `extdir token`, so that the bare command gives a token that
// can do everything in one development tenant.
const (
	defaultTenant = "00000000-0000-0000-0000-0000000000e1"
	defaultOID    = "00000000-0000-0000-0000-0000000000a1"
	defaultAppID  = "00000000-0000-0000-0000-0000000000c1"
)

func runToken(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./extdir-data", "data directory of the server that must accept the token")
	tenant := fs.String("tenant", defaultTenant, "tenant id (tid): the directory the caller acts in")
	oid := fs.String("oid", defaultOID, "object id of the caller (oid): becomes createdBy")
	appID := fs.String("app-id", defaultAppID, "application id of the client (azp/appid)")
	roles := fs.String("roles", "", "app-only permissions, comma-separated (default, when --scp is not given: both ReadWrite.All permissions and AuditLog.Read.All)")
	scp := fs.String("scp", "", "delegated permissions, space-separated; makes a delegated token")
	wids := fs.String("wids", "", "directory role template ids of a delegated caller, comma-separated")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	aud := fs.String("audience", auth.DefaultAudiences[0], "audience (aud)")
	issuer := fs.String("issuer", "", "iss template (default: the name of the server last started with --data-dir)")
	if err := parseFlags(fs, args, getenv, stdout, "Prints a signed access token that `extdir serve` with the same --data-dir accepts."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *ttl <= 0 {
		return &usageError{msg: "token: --ttl must be positive"}
	}
	if *roles != "" && *scp != "" {
		return &usageError{msg: "token: --roles (app-only) and --scp (delegated) exclude each other"}
	}
	c := auth.Claims{
		Tenant:   *tenant,
		ObjectID: *oid,
		AppID:    *appID,
		Roles:    splitList(*roles),
		Scopes:   strings.Fields(*scp),
		RoleIDs:  splitList(*wids),
		Audience: *aud,
		TTL:      *ttl,
	}
	if len(c.Roles) == 0 && len(c.Scopes) == 0 {
		c.Roles = auth.AllGrants()
	}
	iss, err := auth.OpenIssuer(*dataDir, auth.IssuerOptions{Template: *issuer})
	if err != nil {
		return fmt.Errorf("open issuer: %w", err)
	}
	tok, err := iss.Mint(c)
	if err != nil {
		return fmt.Errorf("mint token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
