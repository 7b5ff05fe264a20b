package auth

import (
	"crypto/sha256"
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

// User is a test user who signs in to the built-in issuer by the delegated
// flows (password, device code, authorization code). Users come from the
// configuration file or from <data-dir>/users/, one JSON file each, written
// by `extdir user add`, stored the way clients are.
type User struct {
	// ObjectID is the oid of the user's tokens, so the createdBy of what
	// the user creates; a GUID.
	ObjectID string `json:"object_id"`
	// UPN is the sign-in name (preferred_username), unique in its tenant
	// whatever its case, as Entra's are.
	UPN string `json:"upn"`
	// Tenant is the directory the user belongs to and signs in to.
	Tenant string `json:"tenant"`
	// DisplayName is the name claim.
	DisplayName string `json:"display_name,omitempty"`
	// RoleIDs are the directory role template ids of the user's tokens
	// (wids): what lets a delegated call through, see Principal.Allowed.
	RoleIDs []string `json:"wids,omitempty"`
	// PasswordHash is the PHC-encoded argon2id hash of the password.
	PasswordHash string `json:"password_hash"`
	// Disabled users cannot sign in, and their refresh tokens stop working
	// (Entra's accountEnabled false).
	Disabled bool `json:"disabled,omitempty"`
	// Created is when `extdir user add` added the user.
	Created time.Time `json:"created,omitzero"`
}

// maxUPNLength bounds a user principal name; Entra allows 113 characters
// before the @ and 256 in all.
const maxUPNLength = 256

func (u *User) check() error {
	if err := checkGUID(u.ObjectID); err != nil {
		return fmt.Errorf("user %s: object_id: %w", u.UPN, err)
	}
	if err := checkUPN(u.UPN); err != nil {
		return err
	}
	if err := checkTenant(u.Tenant); err != nil {
		return fmt.Errorf("user %s: %w", u.UPN, err)
	}
	if len(u.DisplayName) > 256 {
		return fmt.Errorf("user %s: display_name is longer than 256 bytes", u.UPN)
	}
	for _, w := range u.RoleIDs {
		if err := checkGUID(w); err != nil {
			return fmt.Errorf("user %s: wids: %w", u.UPN, err)
		}
	}
	if _, err := parsePHC(u.PasswordHash); err != nil {
		return fmt.Errorf("user %s: %w (extdir user hash-password prints one)", u.UPN, err)
	}
	return nil
}

func checkGUID(s string) error {
	if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
		return fmt.Errorf("%q is not a GUID", s)
	}
	return nil
}

func checkUPN(upn string) error {
	local, domain, ok := strings.Cut(upn, "@")
	if !ok || local == "" || domain == "" || len(upn) > maxUPNLength || strings.ContainsFunc(upn, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) {
		return fmt.Errorf("upn %q is not a user principal name such as alice@contoso.example", upn)
	}
	return nil
}

// passwordMatches reports whether password is the user's.
func (u *User) passwordMatches(password string) bool {
	h, err := parsePHC(u.PasswordHash)
	if err != nil {
		// check refused such a user already; a file changed since
		// signs in nobody.
		return false
	}
	return h.matches(password)
}

// stamp identifies the user's current password: refresh tokens carry it,
// and a password changed since they were issued makes them fail. The hash
// has a fresh salt on every change, so its digest changes with it.
func (u *User) stamp() string {
	sum := sha256.Sum256([]byte(u.ObjectID + "\x00" + u.PasswordHash))
	return hex.EncodeToString(sum[:12])
}

// displayName is the name claim: the display name, or the UPN.
func (u *User) displayName() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.UPN
}

// configuredUserNamespace makes the default object id of a configured user
// a UUIDv5 of its tenant and UPN: stable across restarts without being
// written down.
var configuredUserNamespace = uuid.MustParse("6f1a5e2c-3b7d-4c8e-9a0f-2d4b6c8e0a13")

const usersFolder = "users"

// UserRegistration is what `extdir user add` registers.
type UserRegistration struct {
	Tenant, UPN, DisplayName string
	Password                 string // empty: generate one
	RoleIDs                  []string
}

// AddUser adds a user to dataDir and returns it with its password: the one
// given, or a generated one, which is kept nowhere but in the caller's hands.
func AddUser(dataDir string, reg UserRegistration) (*User, string, error) {
	password := reg.Password
	if password == "" {
		var err error
		if password, err = NewPassword(); err != nil {
			return nil, "", err
		}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, "", fmt.Errorf("add user: %w", err)
	}
	u := &User{
		ObjectID:     uuid.NewString(),
		UPN:          reg.UPN,
		Tenant:       reg.Tenant,
		DisplayName:  reg.DisplayName,
		RoleIDs:      slices.Clone(reg.RoleIDs),
		PasswordHash: hash,
		Created:      time.Now().UTC().Truncate(time.Second),
	}
	if err := u.check(); err != nil {
		return nil, "", fmt.Errorf("add user: %w", err)
	}
	existing, err := ListUsers(dataDir)
	if err != nil {
		return nil, "", fmt.Errorf("add user: %w", err)
	}
	for _, e := range existing {
		if e.sameSignInName(u.Tenant, u.UPN) {
			return nil, "", fmt.Errorf("add user: %s already exists in tenant %s (object id %s)", u.UPN, u.Tenant, e.ObjectID)
		}
	}
	if err := writeUser(dataDir, u, writeNewFile); err != nil {
		return nil, "", fmt.Errorf("add user: %w", err)
	}
	return u, password, nil
}

func (u *User) sameSignInName(tenant, upn string) bool {
	return strings.EqualFold(u.Tenant, tenant) && strings.EqualFold(u.UPN, upn)
}

func writeUser(dataDir string, u *User, write func(folder, name string, data []byte) error) error {
	folder := filepath.Join(dataDir, usersFolder)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return err
	}
	return write(folder, u.ObjectID+".json", append(data, '\n'))
}

// userFile is the file of a user's object id, or "" when the id is not a
// canonical GUID.
func userFile(dataDir, objectID string) string { return recordFile(dataDir, usersFolder, objectID) }

func readUser(path string) (*User, error) {
	u, err := readRecord[User](path, "user")
	if err != nil {
		return nil, err
	}
	if filepath.Base(path) != u.ObjectID+".json" {
		// A file copied under another user's name must not sign in as
		// that user.
		return nil, fmt.Errorf("user file %s holds user %s", path, u.ObjectID)
	}
	return u, nil
}

// ListUsers returns the users of dataDir, oldest first.
func ListUsers(dataDir string) ([]*User, error) {
	out, err := readFolder(dataDir, usersFolder, userFile, readUser)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	slices.SortFunc(out, func(a, b *User) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ObjectID, b.ObjectID)
	})
	return out, nil
}

// ErrNoUser is returned for a user that does not exist.
var ErrNoUser = errors.New("no such user")

// FindUser returns the user of dataDir with the object id or, in tenant,
// the UPN given as who.
func FindUser(dataDir, tenant, who string) (*User, error) {
	users, err := ListUsers(dataDir)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if u.ObjectID == strings.ToLower(who) || u.sameSignInName(tenant, who) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("user %q of tenant %s: %w", who, tenant, ErrNoUser)
}

// RemoveUser removes a user of dataDir: it cannot sign in any more and its
// refresh tokens stop working at once; access tokens already issued stay
// valid until they expire, as in Entra.
func RemoveUser(dataDir, objectID string) error {
	path := userFile(dataDir, objectID)
	if path == "" {
		return fmt.Errorf("remove user %q: %w", objectID, ErrNoUser)
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove user %q: %w", objectID, ErrNoUser)
		}
		return fmt.Errorf("remove user: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// SetUserPassword gives a user of dataDir a new password (generated when
// password is empty) and returns it. Refresh tokens issued before stop
// working.
func SetUserPassword(dataDir, objectID, password string) (string, error) {
	path := userFile(dataDir, objectID)
	if path == "" {
		return "", fmt.Errorf("set password of %q: %w", objectID, ErrNoUser)
	}
	u, err := readUser(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("set password of %q: %w", objectID, ErrNoUser)
	}
	if err != nil {
		return "", fmt.Errorf("set password: %w", err)
	}
	if password == "" {
		if password, err = NewPassword(); err != nil {
			return "", err
		}
	}
	if u.PasswordHash, err = HashPassword(password); err != nil {
		return "", fmt.Errorf("set password: %w", err)
	}
	if err := writeUser(dataDir, u, replaceFile); err != nil {
		return "", fmt.Errorf("set password: %w", err)
	}
	return password, nil
}

// Users finds the users who can sign in: those of the configuration, then
// those of the data directory, read on each lookup like Clients, so that a
// user added, removed or given a new password by `extdir user` counts at
// once on a running server.
type Users struct {
	dataDir    string
	configured []*User
}

// NewUsers returns the users of dataDir ("" for none) and configured. A
// configured user without an object id gets a stable one.
func NewUsers(dataDir string, configured []User) (*Users, error) {
	us := &Users{dataDir: dataDir}
	for i := range configured {
		u := configured[i]
		if u.ObjectID == "" {
			u.ObjectID = configuredObjectID(u.Tenant, u.UPN)
		}
		if err := u.check(); err != nil {
			return nil, err
		}
		us.configured = append(us.configured, &u)
	}
	return us, nil
}

func configuredObjectID(tenant, upn string) string {
	return uuid.NewSHA1(configuredUserNamespace, []byte(strings.ToLower(tenant)+"/"+strings.ToLower(upn))).String()
}

// byName returns the user of tenant signing in as upn, or nil.
func (us *Users) byName(tenant, upn string) (*User, error) {
	for _, u := range us.configured {
		if u.sameSignInName(tenant, upn) {
			return u, nil
		}
	}
	if us.dataDir == "" {
		return nil, nil
	}
	users, err := ListUsers(us.dataDir)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if u.sameSignInName(tenant, upn) {
			return u, nil
		}
	}
	return nil, nil
}

// byID returns the user of tenant with objectID, or nil.
func (us *Users) byID(tenant, objectID string) (*User, error) {
	for _, u := range us.configured {
		if u.ObjectID == objectID && strings.EqualFold(u.Tenant, tenant) {
			return u, nil
		}
	}
	path := ""
	if us.dataDir != "" {
		path = userFile(us.dataDir, objectID)
	}
	if path == "" {
		return nil, nil
	}
	u, err := readUser(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(u.Tenant, tenant) {
		return nil, nil
	}
	return u, nil
}
