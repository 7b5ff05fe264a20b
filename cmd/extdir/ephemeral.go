package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
)

// --ephemeral is a throwaway server for a test suite in any language, as
// Azurite's or the Firebase emulators' start is: nothing to configure,
// nothing left behind, and one line on stdout that says how to reach it.

// ephemeralUPN is the administrator test user an ephemeral server creates.
const ephemeralUPN = "admin@extdir.test"

// applyEphemeral fills in what --ephemeral implies for every flag the
// command line (or the environment) left unset, and returns the data
// directory to remove at exit ("" when the caller named one).
func (cfg *serveConfig) applyEphemeral(fs *flag.FlagSet) (tempDir string, err error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["database"] {
		cfg.database = "memory"
	}
	if !set["listen"] {
		cfg.listen = "127.0.0.1:0"
	}
	if cfg.tlsCert == "" {
		cfg.tlsSelfSigned = true
	}
	if !set["data-dir"] {
		if tempDir, err = os.MkdirTemp("", "extdir-ephemeral-"); err != nil {
			return "", fmt.Errorf("ephemeral data dir: %w", err)
		}
		cfg.dataDir = tempDir
	}
	return tempDir, nil
}

// readyLine is what a ready server prints with --ephemeral and writes to
// --ready-file: enough for a test to call it with no other setup.
type readyLine struct {
	URL           string `json:"url"`
	AdminURL      string `json:"admin_url"`
	ConsoleURL    string `json:"console_url,omitempty"`
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	CAFile        string `json:"ca_file,omitempty"`
	DataDir       string `json:"data_dir"`
	TenantID      string `json:"tenant_id,omitempty"`
	ClientID      string `json:"client_id,omitempty"`
	ClientSecret  string `json:"client_secret,omitempty"`
	UPN           string `json:"upn,omitempty"`
	Password      string `json:"password,omitempty"`
}

// newReadyLine describes the server at origin (and its console, when on);
// with ephemeral it registers a client with every permission and an
// administrator test user in the development tenant first.
func (cfg *serveConfig) newReadyLine(origin string, ephemeral bool, console *graph.Console) (*readyLine, error) {
	line := &readyLine{URL: origin + "/beta", AdminURL: origin + "/admin", DataDir: cfg.dataDir}
	if console != nil {
		line.ConsoleURL = console.RedirectURI
	}
	if cfg.tlsSelfSigned {
		line.CAFile = filepath.Join(cfg.dataDir, "tls", "cert.pem")
	}
	if !ephemeral || !cfg.builtinIssuer {
		return line, nil
	}
	c, secret, err := auth.RegisterClient(cfg.dataDir, "ephemeral", defaultTenant, auth.AllGrants())
	if err != nil {
		return nil, fmt.Errorf("ephemeral client: %w", err)
	}
	u, password, err := auth.AddUser(cfg.dataDir, auth.UserRegistration{
		Tenant: defaultTenant, UPN: ephemeralUPN, DisplayName: "extdir administrator",
		RoleIDs: []string{auth.RoleExtendedDirectoryUserAdministrator, auth.RoleReportsReader},
	})
	if err != nil {
		return nil, fmt.Errorf("ephemeral user: %w", err)
	}
	line.TenantID, line.ClientID, line.ClientSecret = defaultTenant, c.ID, secret
	line.TokenEndpoint = origin + "/" + defaultTenant + "/oauth2/v2.0/token"
	line.UPN, line.Password = u.UPN, password
	return line, nil
}

// announce prints the line on stdout (with --ephemeral) and writes it to
// --ready-file, atomically and readable by its owner only: it holds a
// secret and a password.
func (cfg *serveConfig) announce(line *readyLine, stdout io.Writer) error {
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if cfg.readyFile != "" {
		if err := writeFileAtomic(cfg.readyFile, b, 0o600); err != nil {
			return fmt.Errorf("ready file: %w", err)
		}
	}
	if cfg.ephemeral {
		if _, err := stdout.Write(b); err != nil {
			return fmt.Errorf("ready line: %w", err)
		}
	}
	return nil
}
