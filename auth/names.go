package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The built-in issuer's names. A token's iss must be a URL a client can
// find the issuer at: OpenID Connect Discovery 1.0 §4.3 wants the issuer to
// be the URL before /.well-known/openid-configuration, and MSAL checks that
// its host is the authority's. So the issuer is named after the server's
// own origin, "<origin>/{tenantid}/v2.0", and the name changes when the
// origin does: another port, https instead of http, a --public-url.
//
// Every server records the name it issues under in the data directory,
// one small file a name under issuer-names/, so that
//   - `extdir token` mints with the name of the server last started there;
//   - tokens issued under an earlier name keep verifying (the signature, by
//     the same keys, is what makes a token ours; the name only has to be one
//     we have used), until they expire or their name is one of more than
//     maxRecordedNames newer ones;
//   - several nodes that share the data directory, each on its own address,
//     accept each other's tokens.
// One file a name, rather than one list, lets nodes that start together
// record their names without a lock.

// LegacyIssuerTemplate is the name extdir issued under before it named the
// issuer after its origin. It is always accepted, so that tokens minted
// then keep working until they expire.
const LegacyIssuerTemplate = "https://extdir.local/{tenantid}/v2.0"

const (
	namesFolder = "issuer-names"
	// maxRecordedNames bounds the names kept: a server on port 0 has a new
	// name at every start.
	maxRecordedNames = 32
)

// recordedName is one file of the names folder.
type recordedName struct {
	Issuer     string    `json:"issuer"`
	RecordedAt time.Time `json:"recorded_at"`
}

// RecordIssuerName records in the data directory dir that a server issues
// under the template now, and forgets all but the newest maxRecordedNames
// names.
func RecordIssuerName(dir, template string, now time.Time) error {
	if err := checkTemplate(template); err != nil {
		return fmt.Errorf("record issuer name: %w", err)
	}
	folder := filepath.Join(dir, namesFolder)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return fmt.Errorf("record issuer name: %w", err)
	}
	b, err := json.Marshal(recordedName{Issuer: template, RecordedAt: now.UTC()})
	if err != nil {
		return fmt.Errorf("record issuer name: %w", err)
	}
	sum := sha256.Sum256([]byte(template))
	if err := replaceFile(folder, hex.EncodeToString(sum[:8])+".json", b); err != nil {
		return fmt.Errorf("record issuer name: %w", err)
	}
	names, err := readNames(dir)
	if err != nil {
		return err
	}
	for _, old := range names[min(len(names), maxRecordedNames):] {
		sum := sha256.Sum256([]byte(old.Issuer))
		if err := os.Remove(filepath.Join(folder, hex.EncodeToString(sum[:8])+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("forget issuer name: %w", err)
		}
	}
	return nil
}

// CurrentIssuerName returns the name of the server last started with the
// data directory dir; ok is false when none has recorded one.
func CurrentIssuerName(dir string) (template string, ok bool, err error) {
	names, err := readNames(dir)
	if err != nil || len(names) == 0 {
		return "", false, err
	}
	return names[0].Issuer, true, nil
}

// readNames returns the recorded names, newest first. A file that cannot
// be read as a name is skipped: it may be one being written.
func readNames(dir string) ([]recordedName, error) {
	folder := filepath.Join(dir, namesFolder)
	entries, err := os.ReadDir(folder)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read issuer names: %w", err)
	}
	var names []recordedName
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(folder, e.Name()))
		if err != nil {
			continue
		}
		var n recordedName
		if json.Unmarshal(b, &n) != nil || checkTemplate(n.Issuer) != nil {
			continue
		}
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b recordedName) int { return b.RecordedAt.Compare(a.RecordedAt) })
	return names, nil
}

// issuerNames is what the built-in issuer's verifier accepts as iss: the
// issuer's own template, the legacy one, and every name recorded in its
// data directory, read again when an unknown iss arrives.
type issuerNames struct {
	dir string
	own issuerTemplate
	mu  sync.Mutex
	// modified is the names folder's modification time when it was read:
	// an unknown iss makes the folder be read again only once a name was
	// recorded since (a node started after this one).
	modified time.Time
	list     []issuerTemplate
}

func newIssuerNames(dir, own string) *issuerNames {
	n := &issuerNames{dir: dir, own: parseTemplate(own)}
	n.reload()
	return n
}

func (n *issuerNames) reload() {
	if st, err := os.Stat(filepath.Join(n.dir, namesFolder)); err == nil {
		n.modified = st.ModTime()
	}
	names, err := readNames(n.dir)
	list := []issuerTemplate{parseTemplate(LegacyIssuerTemplate)}
	if err == nil {
		for _, r := range names {
			list = append(list, parseTemplate(r.Issuer))
		}
	}
	n.list = list
}

// changed reports whether a name was recorded since the folder was read.
func (n *issuerNames) changed() bool {
	st, err := os.Stat(filepath.Join(n.dir, namesFolder))
	return err == nil && !st.ModTime().Equal(n.modified)
}

// match reports whether iss is one of the names, and the tenant it names.
func (n *issuerNames) match(iss string) (tenant string, templated, ok bool) {
	if tenant, ok := n.own.match(iss); ok {
		return tenant, n.own.templated(), true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		for _, t := range n.list {
			if tenant, ok := t.match(iss); ok {
				return tenant, t.templated(), true
			}
		}
		if attempt > 0 || !n.changed() {
			break
		}
		n.reload()
	}
	return "", false, false
}
