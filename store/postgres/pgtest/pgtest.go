// Package pgtest gives tests and benchmarks a PostgreSQL database of their
// own on the server that EXTDIR_TEST_POSTGRES_URL names, and drops it when
// they end, so that runs (and packages run in parallel) never see each
// other's rows. Without the variable, tests that ask for a database are
// skipped.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the variable that names the test server: a postgres:// URL of a
// role that may create databases, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "EXTDIR_TEST_POSTGRES_URL"

// ServerURL returns the URL of the test server, or skips the test when
// EnvURL is not set.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skip(EnvURL + " is not set")
	}
	return u
}

// NewDatabase creates an empty database with a name of its own and returns
// its URL; the database is dropped when the test ends. It skips the test
// when EnvURL is not set.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dbURL, drop, err := CreateDatabase(context.Background(), ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return dbURL
}

// CreateDatabase creates an empty database on the server of serverURL and
// returns its URL (serverURL with the database replaced) and a function
// that drops it, ending any session still connected to it. It is what
// NewDatabase does, for a TestMain that has no testing.TB.
func CreateDatabase(ctx context.Context, serverURL string) (dbURL string, drop func() error, err error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("pgtest: %s is not a URL: %w", EnvURL, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("pgtest: name a database: %w", err)
	}
	name := "extdir_test_" + hex.EncodeToString(b[:])
	if err := admin(ctx, serverURL, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return admin(ctx, serverURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// NewSchema creates an empty schema in the database of dbURL and returns
// dbURL with its search_path set to it, so that a store opened on the
// result keeps its tables there. The schema is dropped when the test ends.
// Schemas are much cheaper than databases, for suites that need a fresh
// store per test.
func NewSchema(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: name a schema: %v", err)
	}
	name := "s_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if err := admin(ctx, dbURL, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin(context.Background(), dbURL, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// admin runs one statement on its own connection.
func admin(ctx context.Context, connString, stmt string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return fmt.Errorf("pgtest: connect to the test server: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("pgtest: %s: %w", stmt, err)
	}
	return nil
}
