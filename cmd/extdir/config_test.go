package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/extdir/extdir/auth"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "extdir.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// Every flag of serve, those added later included, is a key the file
// accepts, with the value config show prints for it.
func TestEveryServeFlagIsAFileKey(t *testing.T) {
	var defaults serveConfig
	n := 0
	serveFlags(&defaults).VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag {
			return
		}
		n++
		path := writeConfig(t, "# one key\n"+f.Name+" = "+tomlValue(f)+"\n")
		var cfg serveConfig
		fs := serveFlags(&cfg)
		loaded, err := loadFlags(fs, []string{"--config", path}, noEnv, io.Discard, "")
		if err != nil {
			t.Errorf("key %s: %v", f.Name, err)
			return
		}
		if got := fs.Lookup(f.Name).Value.String(); got != f.DefValue {
			t.Errorf("key %s = %s read back as %q, want %q", f.Name, tomlValue(f), got, f.DefValue)
		}
		if src := loaded.source[f.Name]; src != path+":2" {
			t.Errorf("key %s: source %q, want %s:2", f.Name, src, path)
		}
	})
	if n < 40 {
		t.Fatalf("walked %d flags: serveFlags is not serve's flag set", n)
	}
	// The one flag that is not a key.
	path := writeConfig(t, `config = "other.toml"`+"\n")
	var cfg serveConfig
	_, err := loadFlags(serveFlags(&cfg), []string{"--config", path}, noEnv, io.Discard, "")
	if err == nil || !strings.Contains(err.Error(), path+":1: config: a configuration file cannot name another one") {
		t.Fatalf("config = in the file: %v", err)
	}
}

func TestConfigPrecedence(t *testing.T) {
	path := writeConfig(t, `
listen = "127.0.0.1:1111"
log-level = "warn"
retention = "48h"
journal-size = 7
audience = ["api://one", "api://two"]
`)
	env := envOf(map[string]string{"EXTDIR_LISTEN": "127.0.0.1:2222", "EXTDIR_LOG_LEVEL": "error", "EXTDIR_CONFIG": path})
	var cfg serveConfig
	loaded, err := loadFlags(serveFlags(&cfg), []string{"--listen", "127.0.0.1:3333"}, env, io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name, got, want, source string
	}{
		{"listen: the flag over the environment and the file", cfg.listen, "127.0.0.1:3333", "flag"},
		{"log-level: the environment over the file", cfg.logLevel, "error", "EXTDIR_LOG_LEVEL"},
		{"retention: the file over the default", cfg.retention.String(), "48h0m0s", path + ":4"},
		{"journal-size: the file", strconv.Itoa(cfg.admin.journalSize), "7", path + ":5"},
		{"audience: an array for a comma-separated flag", cfg.audiences, "api://one,api://two", path + ":6"},
		{"clock-skew: the default", cfg.clockSkew.String(), "30s", ""},
		{"config: from EXTDIR_CONFIG", cfg.configFile, path, "EXTDIR_CONFIG"},
	}
	for _, c := range checks {
		if c.got != c.want || loaded.source[strings.SplitN(c.name, ":", 2)[0]] != c.source {
			t.Errorf("%s: %q from %q, want %q from %q", c.name, c.got, loaded.source[strings.SplitN(c.name, ":", 2)[0]], c.want, c.source)
		}
	}
}

func TestConfigMistakesNameTheKeyAndLine(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"a misspelt key", "\n\ndata_dir = \"x\"\n", `:3: unknown key "data_dir" (did you mean "data-dir"?)`},
		{"another", "listn = \"x\"\n", `:1: unknown key "listn" (did you mean "listen"?)`},
		{"an unknown table", "listen = \"x\"\n[server]\nport = 1\n", `:2: unknown key "server"`},
		{"a misspelt registration table", "[[auth.client]]\nclient_id = \"x\"\n", `:1: unknown key "auth.client" (did you mean "auth.clients"?)`},
		{"a misspelt registration key", "[[auth.clients]]\nclient_id = \"c\"\n\n[[auth.clients]]\nclinet_id = \"x\"\n", `:5: unknown key "clinet_id" in [[auth.clients]] (did you mean "client_id"?)`},
		{"a duration as a number", "retention = 30\n", `:1: retention: want a duration as a string, such as "720h0m0s", not the integer 30`},
		{"a boolean as a string", "\nadmin = \"yes\"\n", `:2: admin: want true or false, not the string "yes"`},
		{"a number as a string", "journal-size = \"10\"\n", `:1: journal-size: want a whole number, not the string "10"`},
		{"a string as a number", "listen = 8080\n", `:1: listen: want a string, not the integer 8080`},
		{"a bad duration", "listen = \"x\"\nretention = \"soon\"\n", `:2: retention: invalid value "soon"`},
		{"a registration of the wrong type", "[[auth.users]]\nupn = 5\n", `:2: auth.users[0].upn: want a string, not the integer 5`},
		{"a registration that fails its check", "[[auth.clients]]\nclient_id = \"c\"\ntenant = \"t\"\nroles = [\"Nope\"]\n", `:1: auth.clients[0]: client c: unknown role "Nope"`},
		{"auth as a value", "auth = \"x\"\n", `:1: auth: want a table of issuers, clients and users`},
		{"a syntax error", "listen = \"x\"\nlisten = \"y\"\n", `:2:1: key listen is already defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.file)
			var cfg serveConfig
			_, err := loadFlags(serveFlags(&cfg), []string{"--config", path}, noEnv, io.Discard, "")
			var usage *usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), path+tt.want) {
				t.Errorf("got %v\nwant a usage error containing %q", err, path+tt.want)
			}
		})
	}
	// Every mistake is reported, in the order of the file.
	path := writeConfig(t, "listn = 1\nretention = 2\n")
	var cfg serveConfig
	_, err := loadFlags(serveFlags(&cfg), []string{"--config", path}, noEnv, io.Discard, "")
	if err == nil || !strings.Contains(err.Error(), path+":1: unknown key \"listn\"") || !strings.Contains(err.Error(), "\n"+path+":2: retention:") {
		t.Errorf("two mistakes: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	secret := sha256.Sum256([]byte("s3cret-s3cret-s3cret"))
	good := writeConfig(t, `listen = "127.0.0.1:0"
retention = "24h"

[[auth.clients]]
client_id = "11111111-2222-3333-4444-555555555555"
tenant = "00000000-0000-0000-0000-0000000000e1"
roles = ["PendingExternalUserProfile.ReadWrite.All"]
secret_sha256 = "`+hex.EncodeToString(secret[:])+`"
`)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"config", "check", "--config", good}, noEnv, &out, io.Discard); err != nil {
		t.Fatalf("config check of a good file: %v", err)
	}
	if want := good + ": ok: 2 settings, 0 issuers, 1 client, 0 users\n"; out.String() != want {
		t.Errorf("config check printed %q, want %q", out.String(), want)
	}
	// serve's own checks of the values run too.
	bad := writeConfig(t, "request-timeout = \"2m\"\n")
	err := run(context.Background(), []string{"config", "check", "--config", bad}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), bad+": --request-timeout (2m0s) must be below --write-timeout") {
		t.Errorf("config check of a bad combination: %v", err)
	}
	// The file alone: the environment does not hide its mistakes.
	err = run(context.Background(), []string{"config", "check"}, envOf(map[string]string{"EXTDIR_CONFIG": bad, "EXTDIR_REQUEST_TIMEOUT": "1s"}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "must be below") {
		t.Errorf("config check with the environment overriding the file's mistake: %v", err)
	}
	for _, args := range [][]string{{"config", "check"}, {"config", "check", "--config", good, "--listen", ":1"}} {
		var usage *usageError
		if err := run(context.Background(), args, noEnv, io.Discard, io.Discard); !errors.As(err, &usage) {
			t.Errorf("extdir %v: %v, want a usage error", args, err)
		}
	}
}

func TestConfigShowRedactsSecretsAndReadsBack(t *testing.T) {
	secret := sha256.Sum256([]byte("s3cret"))
	hash, err := auth.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, `database = "postgres://extdir:hunter2@db.example/extdir"

[[auth.clients]]
client_id = "c1"
tenant = "00000000-0000-0000-0000-0000000000e1"
roles = ["PendingExternalUserProfile.Read.All"]
secret_sha256 = "`+hex.EncodeToString(secret[:])+`"

[[auth.users]]
upn = "ada@example.com"
tenant = "00000000-0000-0000-0000-0000000000e1"
password_hash = "`+hash+`"
`)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"config", "show", "--config", path, "--log-level", "debug"}, envOf(map[string]string{"EXTDIR_RETENTION": "1h"}), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	shown := out.String()
	for _, secret := range []string{"hunter2", hex.EncodeToString(secret[:]), hash, hash[strings.LastIndexByte(hash, '$')+1:]} {
		if strings.Contains(shown, secret) {
			t.Errorf("config show printed the secret %q:\n%s", secret, shown)
		}
	}
	for _, want := range []string{
		`database = "postgres://extdir:xxxxx@db.example/extdir"`,
		`secret_sha256 = "<redacted>"`, `password_hash = "<redacted>"`,
		"[[auth.clients]]\nclient_id = \"c1\"\n", `upn = "ada@example.com"`,
		`# flag --log-level`, `# EXTDIR_RETENTION`, "# " + path + ":1", "request-timeout = \"30s\"",
	} {
		if !strings.Contains(shown, want) {
			t.Errorf("config show lacks %q:\n%s", want, shown)
		}
	}

	// Without secrets, what config show prints is a file config check
	// accepts, and one that sets every flag to what it showed.
	out.Reset()
	if err := run(context.Background(), []string{"config", "show", "--retention", "5h", "--max-inflight", "3"}, noEnv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	shown = out.String()
	again := writeConfig(t, shown)
	if err := run(context.Background(), []string{"config", "check", "--config", again}, noEnv, io.Discard, io.Discard); err != nil {
		t.Fatalf("config check of config show's output: %v\n%s", err, shown)
	}
	out.Reset()
	if err := run(context.Background(), []string{"config", "show", "--config", again}, noEnv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `retention = "5h0m0s"`) || !strings.Contains(out.String(), "max-inflight = 3 ") {
		t.Errorf("config show of its own output lost the settings:\n%s", out.String())
	}
}

// A declarative setup: a client registered in the file gets tokens from
// the built-in token endpoint, and they work.
func TestServeWithRegistrationsFromTheFile(t *testing.T) {
	const clientID, secret = "11111111-2222-3333-4444-555555555555", "a-secret-for-the-file-client"
	sum := sha256.Sum256([]byte(secret))
	path := writeConfig(t, `request-timeout = "10s"

[[auth.clients]]
client_id = "`+clientID+`"
tenant = "`+defaultTenant+`"
roles = ["PendingExternalUserProfile.ReadWrite.All"]
secret_sha256 = "`+hex.EncodeToString(sum[:])+`"
`)
	ts := startServer(t, "--config", path)
	if !ts.eventuallyLogged(`"request_timeout":10000000000`) {
		t.Errorf("the file's request-timeout is not in effect:\n%s", ts.logText())
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"}}
	r := ts.req("POST", "/"+defaultTenant+"/oauth2/v2.0/token", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	if r.status != http.StatusOK {
		t.Fatalf("token for the file's client: %d %s", r.status, r.body)
	}
	tok, _ := r.json(t)["access_token"].(string)
	if r := ts.req("GET", pendingPath, tok, nil); r.status != http.StatusOK {
		t.Fatalf("list with the file's client's token: %d %s", r.status, r.body)
	}

	// One source of registrations at a time.
	authJSON := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(authJSON, []byte(`{"clients":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--config", path, "--auth-config", authJSON}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("--auth-config beside [auth]: %v", err)
	}
}
