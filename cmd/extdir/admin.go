package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/google/uuid"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/seedfile"
	"github.com/extdir/extdir/internal/server"
)

// adminConfig is the admin API (/admin), its request journal and --seed.
type adminConfig struct {
	enabled          bool
	tokenFile        string
	token            string
	journalSize      int
	journalBodyBytes int
	seedFile         string
	seedTenant       string
}

func adminFlags(fs *flag.FlagSet, cfg *adminConfig) {
	fs.BoolVar(&cfg.enabled, "admin", true, "serve the admin API under /admin (reset, seed, export, import, requests, clock, faults); false turns it off")
	fs.StringVar(&cfg.tokenFile, "admin-token-file", "", "file holding a secret that opens /admin to its bearer (Authorization: Bearer <secret>) from any address; without it /admin admits loopback clients only")
	fs.IntVar(&cfg.journalSize, "journal-size", graph.DefaultJournalSize, "requests kept in the request journal (GET /admin/requests); 0 keeps none")
	fs.IntVar(&cfg.journalBodyBytes, "journal-body-bytes", graph.DefaultJournalBodyBytes, "bytes of each request and response body the journal keeps")
	fs.StringVar(&cfg.seedFile, "seed", "", "seed file loaded at start (JSON in the API's shape, or CSV with a header row); /readyz answers 503 until it has loaded")
	fs.StringVar(&cfg.seedTenant, "seed-tenant", defaultTenant, "tenant that --seed and POST /admin/seed without ?tenant= write to")
}

func (cfg *adminConfig) check() error {
	if cfg.journalSize < 0 || cfg.journalBodyBytes < 0 {
		return &usageError{msg: "serve: --journal-size and --journal-body-bytes must not be negative"}
	}
	if cfg.tokenFile != "" {
		if !cfg.enabled {
			return &usageError{msg: "serve: --admin-token-file opens the admin API, which --admin=false turns off"}
		}
		raw, err := os.ReadFile(cfg.tokenFile)
		if err != nil {
			return fmt.Errorf("read --admin-token-file: %w", err)
		}
		cfg.token = strings.TrimSpace(string(raw))
		if len(cfg.token) < 16 {
			return &usageError{msg: "serve: the admin token in --admin-token-file must be at least 16 characters"}
		}
	}
	if !validTenant(cfg.seedTenant) {
		return &usageError{msg: "serve: --seed-tenant must be a tenant id (a GUID)"}
	}
	if cfg.seedFile != "" {
		if _, err := os.Stat(cfg.seedFile); err != nil {
			return &usageError{msg: "serve: --seed: " + err.Error()}
		}
	}
	return nil
}

// options is the admin API's configuration, nil when it is off.
func (cfg *adminConfig) options() *graph.Admin {
	if !cfg.enabled {
		return nil
	}
	return &graph.Admin{Token: cfg.token, Tenant: strings.ToLower(cfg.seedTenant), CreatedBy: defaultOID}
}

// loadSeed stores --seed through the Directory, then marks the server
// ready; a bad row stops the server with the row and the reason.
func (cfg *adminConfig) loadSeed(ctx context.Context, srv *server.Server, log *slog.Logger) error {
	if cfg.seedFile == "" {
		return nil
	}
	data, err := os.ReadFile(cfg.seedFile)
	if err != nil {
		return fmt.Errorf("read --seed: %w", err)
	}
	rows, err := seedfile.Parse(data, seedfile.FormatOf(cfg.seedFile))
	if err == nil {
		_, err = srv.Directory.Seed(ctx, extdir.Actor{Tenant: strings.ToLower(cfg.seedTenant), ObjectID: defaultOID}, rows)
	}
	if err != nil {
		return &usageError{msg: fmt.Sprintf("serve: --seed %s: %s", cfg.seedFile, extdir.ErrorMessage(err))}
	}
	log.Info("seeded", "file", cfg.seedFile, "tenant", cfg.seedTenant, "profiles", len(rows))
	srv.API.SetReady()
	return nil
}

// validTenant accepts a tenant id: a GUID, as Entra's tid always is.
func validTenant(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
