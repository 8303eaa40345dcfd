// Package aaguids names passkey providers from the AAGUID their
// authenticators report at registration ("iCloud Keychain", "Google
// Password Manager", "1Password"), with their icons, so an account page can
// show which passkey is which.
//
// The names come from a dated copy of the community list of passkey
// provider AAGUIDs (github.com/passkeydeveloper/passkey-authenticator-aaguids,
// aaguid.json), embedded in the binary; cmd/latch-aaguids refreshes it. The
// list is for display only: an AAGUID is claimed by the authenticator, is
// not attested here, and decides nothing about trust.
package aaguids

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:embed aaguid.json
var embedded []byte

//go:embed aaguid.date
var listDate string

// ListDate is the date of the embedded copy of the list, YYYY-MM-DD.
func ListDate() string { return strings.TrimSpace(listDate) }

// Provider is one passkey provider.
type Provider struct {
	// Name is the provider's display name: at most 64 characters, no
	// control characters.
	Name string
	// IconLight and IconDark are square SVG icons for light and dark
	// backgrounds; nil when the list has none (or one was unusable).
	IconLight, IconDark []byte
}

// List maps a canonical, lower-case AAGUID ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")
// to its provider.
type List map[string]Provider

// maxIcon bounds one decoded icon; the largest in the list is about 15 KB.
const maxIcon = 64 << 10

// maxList bounds the whole document a refresh accepts.
const maxList = 8 << 20

var aaguidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Parse reads a list in the community format: an object keyed by AAGUID,
// each value with a "name" and optional "icon_light" and "icon_dark" as
// base64 SVG data URIs. Entries with a malformed AAGUID or name are an
// error (a refresh must not ship them); an icon that is not a small base64
// SVG is dropped and the name kept. An empty list is an error: the list's
// maintainers retire it by emptying it, and a refresh must notice.
func Parse(doc []byte) (List, error) {
	if len(doc) > maxList {
		return nil, fmt.Errorf("aaguids: list of %d bytes exceeds %d", len(doc), maxList)
	}
	var raw map[string]struct {
		Name      string `json:"name"`
		IconLight string `json:"icon_light"`
		IconDark  string `json:"icon_dark"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("aaguids: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("aaguids: the list is empty (retired upstream?)")
	}
	list := make(List, len(raw))
	for id, e := range raw {
		if !aaguidForm.MatchString(id) {
			return nil, fmt.Errorf("aaguids: %q is not a lower-case AAGUID", id)
		}
		name := strings.TrimSpace(e.Name)
		if name == "" || utf8.RuneCountInString(name) > 64 || strings.IndexFunc(name, unicode.IsControl) >= 0 || !utf8.ValidString(name) {
			return nil, fmt.Errorf("aaguids: %s has an unusable name %q", id, e.Name)
		}
		list[id] = Provider{Name: name, IconLight: svgIcon(e.IconLight), IconDark: svgIcon(e.IconDark)}
	}
	return list, nil
}

// svgIcon decodes a data:image/svg+xml;base64 URI, or returns nil.
func svgIcon(uri string) []byte {
	const prefix = "data:image/svg+xml;base64,"
	if !strings.HasPrefix(uri, prefix) || len(uri) > base64.StdEncoding.EncodedLen(maxIcon)+len(prefix) {
		return nil
	}
	svg, err := base64.StdEncoding.DecodeString(uri[len(prefix):])
	if err != nil || len(svg) > maxIcon || !bytes.Contains(svg, []byte("<svg")) {
		return nil
	}
	return svg
}

var builtIn = sync.OnceValue(func() List {
	list, err := Parse(embedded)
	if err != nil {
		panic(err) // the embedded copy is checked by the package's tests
	}
	return list
})

// Lookup returns the provider of a 16-byte AAGUID from the embedded list.
// The all-zero AAGUID (authenticators that do not say) is never found.
func Lookup(aaguid []byte) (Provider, bool) {
	if len(aaguid) != 16 {
		return Provider{}, false
	}
	p, ok := builtIn()[Format(aaguid)]
	return p, ok
}

// LookupString is Lookup for the canonical text form.
func LookupString(id string) (Provider, bool) {
	p, ok := builtIn()[id]
	return p, ok
}

// Format renders a 16-byte AAGUID in its canonical lower-case UUID form;
// anything else formats as the all-zero AAGUID.
func Format(b []byte) string {
	if len(b) != 16 {
		return "00000000-0000-0000-0000-000000000000"
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[v>>4], hex[v&0xf])
	}
	return string(out)
}
