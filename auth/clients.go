package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Client is an application allowed to get tokens from the built-in token
// endpoint: a confidential client, with a secret, by the client-credentials
// grant and the delegated flows; a public client (a SPA, a desktop or
// command-line application, which cannot keep a secret) by the delegated
// flows only. Clients come from the
// configuration file or from <data-dir>/clients/, one JSON file each, written
// by `extdir client add`.
//
// Secrets are stored as the SHA-256 of the secret, never the secret. A slow
// password hash (argon2id, bcrypt) would add nothing: extdir generates every
// secret from 256 random bits, which no guessing can reach, and a slow hash
// on an unauthenticated endpoint would hand anyone a way to burn the
// server's CPU.
type Client struct {
	// ID is the client_id (Entra's application id), a GUID when generated.
	ID string `json:"client_id"`
	// Name is a label for people.
	Name string `json:"name,omitempty"`
	// Tenant is the tid of its tokens: the only directory it acts in.
	Tenant string `json:"tenant"`
	// ObjectID is the oid of its tokens (Entra's service principal id), so
	// the createdBy of what it creates; default the client id.
	ObjectID string `json:"object_id,omitempty"`
	// Roles are the app permissions written into its tokens.
	Roles []string `json:"roles"`
	// SecretSHA256 is the hex SHA-256 of its secret; empty for a public
	// client.
	SecretSHA256 string `json:"secret_sha256,omitempty"`
	// Public marks a client without a secret, which signs users in only.
	Public bool `json:"public,omitempty"`
	// RedirectURIs are where the authorization endpoint may send a code,
	// matched as MatchRedirectURI says.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// Created is when `extdir client add` registered it.
	Created time.Time `json:"created,omitzero"`

	// everyTenant marks a client the server itself provides (AddBuiltin):
	// it is an application of every tenant, and acts in the one a request
	// names, as a multi-tenant Entra application does.
	everyTenant bool
}

func (c *Client) check() error {
	if c.ID == "" || len(c.ID) > maxClientIDLength || strings.ContainsFunc(c.ID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("client_id %q is empty, too long or holds spaces", c.ID)
	}
	if err := checkTenant(c.Tenant); err != nil {
		return fmt.Errorf("client %s: %w", c.ID, err)
	}
	for _, uri := range c.RedirectURIs {
		if err := checkRedirectURI(uri); err != nil {
			return fmt.Errorf("client %s: %w", c.ID, err)
		}
	}
	if c.Public {
		// App permissions would let anyone holding the public client id
		// act as the application, since it has no secret.
		if len(c.Roles) > 0 || c.SecretSHA256 != "" {
			return fmt.Errorf("client %s: a public client has neither roles nor a secret", c.ID)
		}
		return nil
	}
	if err := checkRoles(c.Roles); err != nil {
		return fmt.Errorf("client %s: %w", c.ID, err)
	}
	if err := checkSecretHash(c.SecretSHA256); err != nil {
		return fmt.Errorf("client %s: %w", c.ID, err)
	}
	return nil
}

// maxClientIDLength bounds a client_id, which the token endpoint may echo.
const maxClientIDLength = 128

// objectID is the oid of the client's tokens.
func (c *Client) objectID() string {
	if c.ObjectID != "" {
		return c.ObjectID
	}
	return c.ID
}

// secretMatches compares in constant time, though with 256-bit secrets
// timing could reveal nothing usable: it costs nothing to be sure.
func (c *Client) secretMatches(secret string) bool {
	want, err := hex.DecodeString(c.SecretSHA256)
	if err != nil {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// NewClientSecret returns a fresh secret (256 random bits, base64url) and
// the hex SHA-256 to store for it.
func NewClientSecret() (secret, sha256Hex string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("client secret: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(sum[:]), nil
}

const clientsFolder = "clients"

// RegisterClient registers a client in dataDir with a new client id, object
// id and secret, and returns it with the secret, which is kept nowhere: it
// cannot be shown again, only replaced by registering anew.
func RegisterClient(dataDir, name, tenant string, roles []string) (*Client, string, error) {
	return RegisterClientWith(dataDir, ClientRegistration{Name: name, Tenant: tenant, Roles: roles})
}

// ClientRegistration is what `extdir client add` registers.
type ClientRegistration struct {
	Name, Tenant string
	// Roles are the app permissions of a confidential client.
	Roles []string
	// Public registers a client without a secret (and without roles).
	Public bool
	// RedirectURIs are where the authorization endpoint may send codes.
	RedirectURIs []string
}

// RegisterClientWith registers a client in dataDir with a new client id and
// object id, and for a confidential client a secret, returned once, as by
// RegisterClient; a public client's secret is "".
func RegisterClientWith(dataDir string, reg ClientRegistration) (*Client, string, error) {
	c := &Client{
		ID:           uuid.NewString(),
		Name:         reg.Name,
		Tenant:       reg.Tenant,
		ObjectID:     uuid.NewString(),
		Roles:        slices.Clone(reg.Roles),
		Public:       reg.Public,
		RedirectURIs: slices.Clone(reg.RedirectURIs),
		Created:      time.Now().UTC().Truncate(time.Second),
	}
	secret := ""
	if !reg.Public {
		var err error
		if secret, c.SecretSHA256, err = NewClientSecret(); err != nil {
			return nil, "", err
		}
	}
	if err := c.check(); err != nil {
		return nil, "", fmt.Errorf("register client: %w", err)
	}
	folder := filepath.Join(dataDir, clientsFolder)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return nil, "", fmt.Errorf("register client: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("register client: %w", err)
	}
	if err := writeNewFile(folder, c.ID+".json", append(data, '\n')); err != nil {
		return nil, "", fmt.Errorf("register client: %w", err)
	}
	return c, secret, nil
}

// writeNewFile publishes data as folder/name, 0600, the way createKey
// publishes keys: written and synced under a temporary name, then linked,
// so a reader never sees half a file.
func writeNewFile(folder, name string, data []byte) error {
	return publishFile(folder, name, data, os.Link)
}

// replaceFile publishes data as folder/name like writeNewFile, replacing
// the file there: readers see the old file or the new one, never a mix.
func replaceFile(folder, name string, data []byte) error {
	return publishFile(folder, name, data, os.Rename)
}

// publishFile writes data under a temporary name in folder, syncs it, and
// then moves it into place with publish (os.Link: only if the name is free;
// os.Rename: replacing what is there).
func publishFile(folder, name string, data []byte, publish func(oldPath, newPath string) error) error {
	tmp, err := os.CreateTemp(folder, "new-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return err
	}
	if err := publish(tmp.Name(), filepath.Join(folder, name)); err != nil {
		return err
	}
	return syncDir(folder)
}

// clientFile is the file of a registered client id, or "" when the id
// cannot be one extdir generated.
func clientFile(dataDir, id string) string { return recordFile(dataDir, clientsFolder, id) }

func readClient(path string) (*Client, error) { return readRecord[Client](path, "client") }

// recordFile is the file of a record (a client, a user) named by its id in
// folder, or "" when the id is not a canonical GUID: ids become file names
// only then, so that no id can name a file outside the folder.
func recordFile(dataDir, folder, id string) string {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return ""
	}
	return filepath.Join(dataDir, folder, id+".json")
}

// readRecord reads one record file as JSON and checks it; what names the
// kind of record in errors.
func readRecord[T any, PT interface {
	*T
	check() error
}](path, what string) (*T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r T
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s file %s: %w", what, path, err)
	}
	if err := PT(&r).check(); err != nil {
		return nil, fmt.Errorf("%s file %s: %w", what, path, err)
	}
	return &r, nil
}

// ListClients returns the clients registered in dataDir, oldest first.
func ListClients(dataDir string) ([]*Client, error) {
	out, err := readFolder(dataDir, clientsFolder, clientFile, readClient)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	slices.SortFunc(out, func(a, b *Client) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// readFolder reads every <id>.json of dataDir/folder whose id fileOf turns
// into a path, with read; a file removed while the folder is read is
// skipped, and a folder that does not exist holds nothing.
func readFolder[T any](dataDir, folder string, fileOf func(dataDir, id string) string, read func(path string) (T, error)) ([]T, error) {
	entries, err := os.ReadDir(filepath.Join(dataDir, folder))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []T
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		path := fileOf(dataDir, id)
		if !ok || path == "" || !e.Type().IsRegular() {
			continue
		}
		v, err := read(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ErrNoClient is returned by RemoveClient for an id that is not registered.
var ErrNoClient = errors.New("no such client")

// RemoveClient unregisters a client of dataDir. Its tokens already issued
// stay valid until they expire; no new ones are issued.
func RemoveClient(dataDir, id string) error {
	path := clientFile(dataDir, id)
	if path == "" {
		return fmt.Errorf("remove client %q: %w", id, ErrNoClient)
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove client %q: %w", id, ErrNoClient)
		}
		return fmt.Errorf("remove client: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// Clients finds the clients of the token endpoint: those of the
// configuration, then those registered in the data directory. The folder is
// read on each lookup, so a client added or removed by `extdir client`
// counts at once, without a restart; token requests are rare enough.
type Clients struct {
	dataDir    string
	configured map[string]*Client
}

// NewClients returns the clients of dataDir ("" for none) and configured.
func NewClients(dataDir string, configured []Client) (*Clients, error) {
	cs := &Clients{dataDir: dataDir, configured: make(map[string]*Client, len(configured))}
	for i := range configured {
		c := configured[i]
		if err := c.check(); err != nil {
			return nil, err
		}
		cs.configured[c.ID] = &c
	}
	return cs, nil
}

// ConsoleClientID is the client id of the web console at /console: a
// public client that the server provides in every tenant (AddBuiltin), so
// that its tokens and audit records name one application.
const ConsoleClientID = "db7b2e45-356b-4644-84c3-ad793d8e2125"

// AddBuiltin adds a public client that the server itself provides, in
// memory and in every tenant: the web console, whose redirect URI is the
// server's own origin, known only once it listens. Call it before the
// server serves; a configured client with the same id is an error.
func (cs *Clients) AddBuiltin(c Client) error {
	if !c.Public {
		return fmt.Errorf("built-in client %s: it must be public, since the server provides it to every tenant", c.ID)
	}
	// check wants a tenant; a client of every tenant has none of its own.
	probe := c
	probe.Tenant = "every-tenant"
	if err := probe.check(); err != nil {
		return fmt.Errorf("built-in client: %w", err)
	}
	if _, dup := cs.configured[c.ID]; dup {
		return fmt.Errorf("built-in client %s: a configured client has the same id", c.ID)
	}
	c.Tenant, c.everyTenant = "", true
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	cs.configured[c.ID] = &c
	return nil
}

// Lookup returns the client with id, configured, built in or registered in
// the data directory, or nil when there is none.
func (cs *Clients) Lookup(id string) (*Client, error) { return cs.lookup(id) }

// AllowsRedirect reports whether the authorization endpoint may send this
// client's codes to uri (see redirectAllowed).
func (c *Client) AllowsRedirect(uri string) bool { return c.redirectAllowed(uri) }

// lookup returns the client with id, or nil when there is none.
func (cs *Clients) lookup(id string) (*Client, error) {
	if c, ok := cs.configured[id]; ok {
		return c, nil
	}
	if cs.dataDir == "" {
		return nil, nil
	}
	// Generated ids are lowercase GUIDs; like Entra, accept them in any case.
	id = strings.ToLower(id)
	path := clientFile(cs.dataDir, id)
	if path == "" {
		return nil, nil
	}
	c, err := readClient(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.ID != id {
		// A file copied under another client's name must not let its
		// secret stand for that client.
		return nil, fmt.Errorf("client file %s holds client %q", path, c.ID)
	}
	return c, nil
}
