package jose

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// JOSE headers and claims are decoded into structs with encoding/json, which
// is lenient where a second parser reading the same token may not be: the
// last of two duplicate members wins, member names match case-insensitively
// (so "TYP" or "ſub" with a long s fill typ and sub), invalid UTF-8 and lone
// UTF-16 surrogates become U+FFFD. A gateway in front of Latch could then
// read one value and Latch another. StrictJSON is run over every JOSE header
// and payload before it is decoded and refuses all of those inputs, so what
// Latch reads is what every conforming parser reads. It is a validating
// scan, not a decoder: it allocates nothing for ordinary input, and the
// struct decode that follows stays as fast as before.
//
// The SD-JWT code decodes into maps with sdDecodeJSON, whose exact-name map
// lookups are not affected by case folding.

const (
	// maxJOSEMembers bounds the members of one object; Latch's own tokens
	// and proofs have at most fifteen.
	maxJOSEMembers = 64
	// maxJOSEDepth bounds nesting (a proof header holds its jwk, an
	// access token its cnf).
	maxJOSEDepth = 16
)

// joseMemberNames are the member names Latch reads from JOSE objects: the
// json tags of the JWK members here, of the DPoP proof header and claims
// (package dpop) and of the access-token header, claims and cnf (package
// tokens). A member whose name folds to one of these without being it is
// refused: encoding/json would read it as that member. Tests in dpop and
// tokens check that every tag of those structs is listed here.
var joseMemberNames = func() map[string]bool {
	names := map[string]bool{}
	for _, n := range []string{
		"alg", "amr", "ath", "aud", "auth_time", "client_id", "cnf", "crit",
		"crv", "d", "dp", "dq", "e", "exp", "groups", "htm", "htu", "iat",
		"iss", "jkt", "jti", "jwk", "k", "kid", "kty", "n", "nbf", "nonce",
		"oth", "p", "q", "qi", "scope", "sid", "sub", "typ", "x", "y",
	} {
		names[n] = true
	}
	return names
}()

// StrictJSON reports whether data is one JSON object (RFC 8259) in valid
// UTF-8 with no lone surrogate escapes, no duplicate member names at any
// depth, no member name that differs only in letter case (Unicode simple
// folding, as encoding/json matches) from one Latch reads, at most
// maxJOSEMembers members per object and at most maxJOSEDepth levels.
func StrictJSON(data []byte) bool {
	if !utf8.Valid(data) || !json.Valid(data) {
		return false
	}
	s := joseScan{data: data}
	s.space()
	if s.i >= len(data) || data[s.i] != '{' {
		return false
	}
	return s.value(0)
}

// joseScan walks JSON that json.Valid has accepted, so it only has to find
// the structure, not diagnose syntax.
type joseScan struct {
	data []byte
	i    int
}

func (s *joseScan) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *joseScan) value(depth int) bool {
	s.space()
	switch s.data[s.i] {
	case '{':
		return depth < maxJOSEDepth && s.object(depth)
	case '[':
		if depth >= maxJOSEDepth {
			return false
		}
		s.i++
		s.space()
		if s.data[s.i] == ']' {
			s.i++
			return true
		}
		for {
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			c := s.data[s.i]
			s.i++
			if c == ']' {
				return true
			}
		}
	case '"':
		_, ok := s.str()
		return ok
	}
	// A number or literal runs to the next delimiter.
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return true
		}
		s.i++
	}
	return true
}

func (s *joseScan) object(depth int) bool {
	s.i++ // '{'
	s.space()
	if s.data[s.i] == '}' {
		s.i++
		return true
	}
	var keys [maxJOSEMembers][]byte
	n := 0
	for {
		s.space()
		key, ok := s.str()
		if !ok || n == maxJOSEMembers || !joseNameAllowed(key) {
			return false
		}
		for _, k := range keys[:n] {
			if bytes.Equal(k, key) {
				return false
			}
		}
		keys[n] = key
		n++
		s.space()
		s.i++ // ':'
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		c := s.data[s.i]
		s.i++
		if c == '}' {
			return true
		}
	}
}

// str reads the string at s.i and returns its decoded bytes: a view of the
// input when it has no escapes, a decoded copy otherwise (so "\u0074yp" is
// seen to be "typ"). A lone UTF-16 surrogate escape fails.
func (s *joseScan) str() ([]byte, bool) {
	start := s.i
	s.i++ // '"'
	escaped := false
	for {
		c := s.data[s.i]
		if c == '"' {
			break
		}
		if c != '\\' {
			s.i++
			continue
		}
		escaped = true
		if s.data[s.i+1] != 'u' {
			s.i += 2
			continue
		}
		r := hex4(s.data[s.i+2 : s.i+6])
		s.i += 6
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return nil, false
		case r >= 0xD800 && r <= 0xDBFF:
			if s.i+6 > len(s.data) || s.data[s.i] != '\\' || s.data[s.i+1] != 'u' {
				return nil, false
			}
			if lo := hex4(s.data[s.i+2 : s.i+6]); lo < 0xDC00 || lo > 0xDFFF {
				return nil, false
			}
			s.i += 6
		}
	}
	s.i++ // closing '"'
	raw := s.data[start:s.i]
	if !escaped {
		return raw[1 : len(raw)-1], true
	}
	var out string
	if json.Unmarshal(raw, &out) != nil {
		return nil, false
	}
	return []byte(out), true
}

// hex4 decodes four hex digits that json.Valid has already checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// joseNameAllowed refuses a member name that encoding/json would take for
// one Latch reads without being exactly it.
func joseNameAllowed(key []byte) bool {
	if joseMemberNames[string(key)] {
		return true
	}
	// Every name Latch reads is lower-case ASCII, and such a letter folds
	// only to its upper-case form or, for k and s, to the non-ASCII Kelvin
	// sign and long s. A name with neither cannot fold to one of them.
	folds := false
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
			folds = true
			break
		}
	}
	if !folds {
		return true
	}
	for name := range joseMemberNames {
		if bytes.EqualFold(key, []byte(name)) {
			return false
		}
	}
	return true
}
