package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/dump"
	"github.com/extdir/extdir/store/postgres"
)

// extdir export and extdir import move a whole directory between stores:
// JSON lines of every profile, live and deleted, with ids, timestamps and
// ETags kept, the format of GET /admin/export and POST /admin/import. They
// open the store as serve does (--data-dir and --database).

// storeFlags are the flags that name a store, as serve's do.
type storeFlags struct {
	dataDir, database string
}

func (sf *storeFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&sf.dataDir, "data-dir", "./extdir-data", "data directory whose SQLite database (extdir.db) to use")
	fs.StringVar(&sf.database, "database", "sqlite", "store: sqlite (the file in --data-dir) or a postgres:// URL")
}

func (sf *storeFlags) open(ctx context.Context, cmd string) (*extdir.Directory, func() error, error) {
	if sf.database != "sqlite" && !postgres.IsURL(sf.database) {
		return nil, nil, &usageError{msg: fmt.Sprintf("%s: --database must be sqlite or a postgres:// URL", cmd)}
	}
	if sf.database == "sqlite" {
		if _, err := os.Stat(sf.dataDir); err != nil {
			return nil, nil, &usageError{msg: fmt.Sprintf("%s: --data-dir: %v", cmd, err)}
		}
	}
	st, err := openStore(ctx, serveConfig{dataDir: sf.dataDir, database: sf.database})
	if err != nil {
		return nil, nil, err
	}
	return &extdir.Directory{Store: st}, st.Close, nil
}

func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	var sf storeFlags
	sf.define(fs)
	tenant := fs.String("tenant", "", "export one tenant only (default: every tenant); with --url, the tenant to sign in to")
	out := fs.String("out", "-", "file to write the JSON lines (or, with --url, the CSV) to; - for stdout")
	api := defineAPIExport(fs, tenant)
	if err := parseFlags(fs, args, getenv, stdout, "Writes every profile of a store, live and deleted, as JSON lines that extdir import (or POST /admin/import) loads back unchanged. With --url, writes the profiles of one collection through the Graph API of extdir or Microsoft Graph instead, as JSON lines or CSV (docs/invite.md)."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if on, err := api.enabled(args); err != nil || on {
		if err != nil {
			return err
		}
		return api.run(ctx, *out, getenv, stdout, stderr)
	}
	if *tenant != "" && !validTenant(*tenant) {
		return &usageError{msg: "export: --tenant must be a tenant id (a GUID)"}
	}
	dir, closeStore, err := sf.open(ctx, "export")
	if err != nil {
		return err
	}
	defer closeStore()
	w, finish, err := outputFile(*out, stdout)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	err = dir.Export(ctx, strings.ToLower(*tenant), func(p *extdir.Profile) error {
		line = append(dump.Append(line[:0], p), '\n')
		_, err := bw.Write(line)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	return finish(err)
}

func runImport(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	var sf storeFlags
	sf.define(fs)
	in := fs.String("in", "-", "file of JSON lines written by extdir export; - for stdin")
	if err := parseFlags(fs, args, getenv, stdout, "Loads the JSON lines of extdir export into a store, in one transaction: every profile or, on the first bad line or clash, none."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	r := stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r = f
	}
	ps, err := graph.ReadDump(r)
	if err != nil {
		return fmt.Errorf("import: %s", extdir.ErrorMessage(err))
	}
	dir, closeStore, err := sf.open(ctx, "import")
	if err != nil {
		return err
	}
	defer closeStore()
	if err := dir.Import(ctx, extdir.Actor{Initiator: extdir.Initiator{AppID: extdir.SystemInitiator.AppID, AppName: "extdir import"}}, ps); err != nil {
		return fmt.Errorf("import: %s", extdir.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "imported %d profiles\n", len(ps))
	return nil
}

// outputFile opens --out: stdout for -, else a file written in place of
// the old one only once complete, so that a failed export leaves no
// half-written dump behind.
func outputFile(name string, stdout io.Writer) (io.Writer, func(error) error, error) {
	if name == "-" {
		return stdout, func(err error) error { return err }, nil
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".extdir-export-*")
	if err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	return f, func(err error) error {
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), name)
		}
		if err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("export: %w", err)
		}
		return nil
	}, nil
}
