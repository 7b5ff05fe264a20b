package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/internal/seed"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/postgres"
	"github.com/extdir/extdir/store/sqlite"
)

// The tenants of the load: the one under test (extdir token's default, as
// bench/seed uses) and the one that creates go to, so that the tenant
// under test keeps its size however many runs create profiles.
const (
	readTenant  = "00000000-0000-0000-0000-0000000000e1"
	writeTenant = "00000000-0000-0000-0000-0000000000e2"
	loadOID     = "00000000-0000-0000-0000-00000000b0a1"
	loadAppID   = "00000000-0000-0000-0000-00000000b0c1"
)

// target is one server the harness measures, and how to bring it up.
type target struct {
	name      string
	workloads []string
	// store and build say what the target is, for the JSON and the charts:
	// "sqlite", "postgres", "bare" or "peer"; and "compare" for the
	// -compare build of extdir, "" otherwise. (Its size is the server's:
	// the peer's is known once it is seeded.)
	store string
	build string
	// start brings the server up for one run and says how to drive it.
	start func(ctx context.Context, run int) (*server, api, error)
}

// seedStore is what the harness needs of a store to seed it.
type seedStore interface {
	seed.Importer
	Count(ctx context.Context, q store.Query) (int64, error)
	Analyze(ctx context.Context) error
	Close() error
}

// extdirSetup is one seeded directory served by an extdir binary.
type extdirSetup struct {
	bin      string
	dataDir  string
	database string // "" for SQLite in dataDir, else a PostgreSQL URL
	profiles int
	args     []string // extra serve flags
	issuer   *auth.Issuer
	read     string // token of the tenant under test
	write    string // token of the write tenant
}

// prepareExtdir seeds the directory (once: a seeded store is reused) and
// mints the tokens. The store is SQLite in the data directory, or a
// database on the PostgreSQL server pgServer names when it is not empty.
func prepareExtdir(ctx context.Context, cfg *config, pgServer string, profiles int, log func(string, ...any)) (*extdirSetup, error) {
	dir := filepath.Join(cfg.dataDir, "n"+strconv.Itoa(profiles))
	if pgServer != "" {
		// Its own keys folder too, so that its tokens never open the
		// SQLite directory's server.
		dir = filepath.Join(cfg.dataDir, "pg-n"+strconv.Itoa(profiles))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &extdirSetup{bin: cfg.extdirBin, dataDir: dir, profiles: profiles, args: cfg.extdirArgs}
	var st seedStore
	if pgServer != "" {
		dbURL, err := postgresDatabase(ctx, pgServer, "extdir_load_"+strconv.Itoa(profiles))
		if err != nil {
			return nil, err
		}
		s.database = dbURL
		pg, err := postgres.Open(ctx, dbURL, postgres.Options{})
		if err != nil {
			return nil, err
		}
		st = pg
	} else {
		lite, err := sqlite.Open(ctx, filepath.Join(dir, "extdir.db"), sqlite.Options{})
		if err != nil {
			return nil, err
		}
		st = lite
	}
	defer st.Close()
	shape := seed.Shape{Tenant: readTenant, Profiles: profiles, OtherTenants: cfg.otherTenants, OtherProfiles: cfg.otherProfiles}
	n, err := st.Count(ctx, store.Query{Tenant: readTenant, Kind: extdir.KindPending, Top: 1})
	if err != nil {
		return nil, fmt.Errorf("count seeded profiles: %w", err)
	}
	switch n {
	case int64(profiles):
		log("using the %d profiles already seeded in %s", profiles, s.where())
	case 0:
		log("seeding %d profiles (+%d×%d in other tenants) into %s", profiles, cfg.otherTenants, cfg.otherProfiles, s.where())
		began := time.Now()
		if err := seed.Run(ctx, st, shape, 10_000, nil); err != nil {
			return nil, fmt.Errorf("seed (remove %s and start again if an earlier seeding was cut short): %w", s.where(), err)
		}
		if err := st.Analyze(ctx); err != nil {
			return nil, err
		}
		log("seeded in %s", time.Since(began).Round(time.Second))
	default:
		return nil, fmt.Errorf("%s holds %d profiles of the tenant under test, not %d: remove it (or give another -data)", s.where(), n, profiles)
	}

	if s.issuer, err = auth.OpenIssuer(dir, auth.IssuerOptions{}); err != nil {
		return nil, err
	}
	perms := []string{extdir.KindPending.WritePermission(), extdir.KindExternal.WritePermission()}
	// A day: longer than any run, so no token expires under load.
	if s.read, err = s.issuer.Mint(auth.Claims{Tenant: readTenant, ObjectID: loadOID, AppID: loadAppID, Roles: perms, TTL: 24 * time.Hour}); err != nil {
		return nil, err
	}
	if s.write, err = s.issuer.Mint(auth.Claims{Tenant: writeTenant, ObjectID: loadOID, AppID: loadAppID, Roles: perms, TTL: 24 * time.Hour}); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *extdirSetup) where() string {
	if s.database != "" {
		return postgres.Redact(s.database)
	}
	return filepath.Join(s.dataDir, "extdir.db")
}

// api is how to drive this directory.
func (s *extdirSetup) api() api {
	first := seed.Profile(readTenant, 0, time.Time{}).ID
	return extdirAPI(s.read, s.write, first[:len(first)-12], s.profiles, seed.Companies)
}

// target is the extdir server of this directory. With profile, the server
// also serves Go's profiler (--pprof) on a loopback port of its own.
func (s *extdirSetup) target(name, build string, workloads []string, profile bool) target {
	st := "sqlite"
	if s.database != "" {
		st = "postgres"
	}
	return target{name: name, workloads: workloads, store: st, build: build, start: func(ctx context.Context, _ int) (*server, api, error) {
		port, err := freePort()
		if err != nil {
			return nil, api{}, err
		}
		args := []string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port), "--data-dir", s.dataDir}
		if s.database != "" {
			args = append(args, "--database", s.database)
		}
		pprofBase := ""
		if profile {
			pp, err := freePort()
			if err != nil {
				return nil, api{}, err
			}
			addr := "127.0.0.1:" + strconv.Itoa(pp)
			args = append(args, "--pprof", addr)
			pprofBase = "http://" + addr
		}
		args = append(args, s.args...)
		srv, err := start(ctx, name, s.bin, args, os.Environ(), s.dataDir, port, statusIs("/readyz", 200))
		if srv != nil {
			srv.pprof, srv.profiles = pprofBase, s.profiles
		}
		return srv, s.api(), err
	}}
}

// record fetches one entity from a running extdir for the bare server to
// send, and writes it and the issuer's JWKS to dir.
func (s *extdirSetup) record(srv *server, dir string) (responseFile, jwksFile string, err error) {
	id := seed.Profile(readTenant, 0, time.Time{}).ID
	resp, err := call("GET", srv.base+"/beta/directory/pendingExternalUserProfiles/"+id, s.read, "", nil)
	if err != nil {
		return "", "", err
	}
	if resp.Status != 200 {
		return "", "", fmt.Errorf("GET profile %s: %d %s", id, resp.Status, resp.Body)
	}
	responseFile = filepath.Join(dir, "entity.json")
	if err := writeJSONFile(responseFile, resp); err != nil {
		return "", "", err
	}
	jwks, err := s.issuer.JWKS()
	if err != nil {
		return "", "", err
	}
	jwksFile = filepath.Join(dir, "jwks.json")
	return responseFile, jwksFile, os.WriteFile(jwksFile, jwks, 0o600)
}

// postgresDatabase returns the URL of database name on the server admin
// names, creating the database if it does not exist.
func postgresDatabase(ctx context.Context, admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || !postgres.IsURL(admin) {
		return "", fmt.Errorf("-postgres %s: not a postgres:// URL", postgres.Redact(admin))
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", postgres.Redact(admin), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}

// bareTarget is bench/bare answering with the recorded entity, verifying
// tokens against jwksFile when it is not empty.
func bareTarget(name, bin string, files func() (response, jwks string), verify bool, a func() api) target {
	return target{name: name, workloads: []string{workGet}, store: "bare", start: func(ctx context.Context, _ int) (*server, api, error) {
		port, err := freePort()
		if err != nil {
			return nil, api{}, err
		}
		response, jwks := files()
		if response == "" {
			return nil, api{}, errors.New("no response recorded from extdir to replay")
		}
		args := []string{"-listen", "127.0.0.1:" + strconv.Itoa(port), "-response", response}
		if verify {
			args = append(args, "-jwks", jwks)
		}
		srv, err := start(ctx, name, bin, args, os.Environ(), filepath.Dir(response), port, statusIs("/", 0))
		return srv, a(), err
	}}
}

// The peer's fixed tenant and the confidential client its seed registers
// (entra-emulator's docs/06-data-model-and-seed.md).
const (
	peerTenant = "6f89cf12-978b-4d23-ac18-9ef0c127cf87"
	peerClient = "00d88624-f0d7-46f6-a641-6232c2608928"
	peerSecret = "daemon-app-secret"
)

// peerTarget is entra-emulator: started fresh for every run on plain HTTP
// (as extdir is measured), its users seeded through its own Graph API. It
// has neither $search nor a /$count segment (its source at 4e61f24: odata.go
// parses $select, $filter, $top and $count=true only, and GET users/{id}
// would take "$count" for an id), so search and count are not measured on
// it.
func peerTarget(bin, workDir string, users int, workloads []string) target {
	workloads = slices.DeleteFunc(slices.Clone(workloads), eventual)
	return target{name: "entra-emulator", workloads: workloads, store: "peer", start: func(ctx context.Context, run int) (*server, api, error) {
		port, err := freePort()
		if err != nil {
			return nil, api{}, err
		}
		dir := filepath.Join(workDir, "peer-run"+strconv.Itoa(run))
		if err := os.RemoveAll(dir); err != nil {
			return nil, api{}, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, api{}, err
		}
		env := append(os.Environ(), "ENTRA_DATA_DIR="+dir, "ORIGIN_MODE=compat", "HOST=127.0.0.1",
			"PORT="+strconv.Itoa(port), "TLS_ENABLED=false")
		srv, err := start(ctx, "entra-emulator", bin, nil, env, dir, port, statusIs("/health", 200))
		if err != nil {
			return nil, api{}, err
		}
		token, ids, err := seedPeer(srv.base, users)
		if err != nil {
			srv.stop()
			return nil, api{}, fmt.Errorf("seed entra-emulator: %w", err)
		}
		// Its size is what it holds, the users of its own seed too.
		if srv.profiles, err = peerUserCount(srv.base, token); err != nil {
			srv.stop()
			return nil, api{}, err
		}
		return srv, peerAPI(token, ids), nil
	}}
}

// seedPeer gets an app-only Graph token by client credentials and creates
// the users, returning their ids.
func seedPeer(base string, users int) (string, []string, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {peerClient},
		"client_secret": {peerSecret},
		"scope":         {"https://graph.microsoft.com/.default"},
	}
	resp, err := call("POST", base+"/"+peerTenant+"/oauth2/v2.0/token", "", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return "", nil, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &tok); err != nil || tok.AccessToken == "" {
		return "", nil, fmt.Errorf("token endpoint: %d %s", resp.Status, resp.Body)
	}
	ids := make([]string, 0, users)
	for i := range users {
		body, _ := json.Marshal(map[string]string{
			"displayName":       peerUserName(i),
			"userPrincipalName": fmt.Sprintf("peer-user-%03d@entraemulator.dev", i),
		})
		resp, err := call("POST", base+"/graph/v1.0/users", tok.AccessToken, "application/json", body)
		if err != nil {
			return "", nil, err
		}
		var u struct{ ID string }
		if resp.Status != 201 || json.Unmarshal([]byte(resp.Body), &u) != nil || u.ID == "" {
			return "", nil, fmt.Errorf("create user: %d %s", resp.Status, resp.Body)
		}
		ids = append(ids, u.ID)
	}
	return tok.AccessToken, ids, nil
}

// peerUserCount asks the peer how many users it holds ($count=true).
func peerUserCount(base, token string) (int, error) {
	resp, err := call("GET", base+"/graph/v1.0/users?$count=true&$top=1", token, "", nil)
	if err != nil {
		return 0, err
	}
	var page struct {
		Count *int `json:"@odata.count"`
	}
	if resp.Status != 200 || json.Unmarshal([]byte(resp.Body), &page) != nil || page.Count == nil {
		return 0, fmt.Errorf("count entra-emulator's users: %d %s", resp.Status, resp.Body)
	}
	return *page.Count, nil
}

// buildBinary builds a main package of this module into dir.
func buildBinary(ctx context.Context, moduleRoot, pkg, dir string) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := execCommand(ctx, moduleRoot, "go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
