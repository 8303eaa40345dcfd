package jose

import (
	"crypto"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// KeyringEntry is a key in a Keyring with the time until which its public
// half stays published. A zero PublishUntil means published forever, which
// is what the active key gets.
type KeyringEntry struct {
	Key          *SigningKey
	PublishUntil time.Time
}

// Keyring holds the active signing key and the retired keys that are still
// published so tokens they signed keep verifying until they expire. It is
// safe for concurrent use; Replace swaps the whole set atomically. The zero
// value is an empty keyring.
type Keyring struct {
	state atomic.Pointer[KeyringSnapshot]
}

// KeyringSnapshot is the keyring's key set at one moment. It is immutable
// once published; a Replace builds a new one, so a cache of verified tokens
// that remembers the snapshot it checked against knows when keys changed.
type KeyringSnapshot struct {
	active  *SigningKey
	entries []KeyringEntry // active first, then retired in the order given
	byKID   map[string]*KeyringEntry
	jwks    atomic.Pointer[jwksCache]
}

// jwksCache is one rendering of the JWKS, valid for every instant in
// [from, until): no PublishUntil falls inside that interval, so the set of
// published keys is the same throughout.
type jwksCache struct {
	body        []byte
	from, until time.Time // zero from/until mean unbounded
}

// NewKeyring returns a keyring that signs with active and also publishes
// the retired entries until their PublishUntil.
func NewKeyring(active *SigningKey, retired ...KeyringEntry) *Keyring {
	r := &Keyring{}
	r.Replace(active, retired...)
	return r
}

// Replace installs a new active key and retired set in one step; readers see
// either the old or the new keyring, never a mix. A retired entry with the
// active key's kid, a nil key or a duplicate kid is dropped.
func (r *Keyring) Replace(active *SigningKey, retired ...KeyringEntry) {
	s := &KeyringSnapshot{active: active, byKID: make(map[string]*KeyringEntry, len(retired)+1)}
	s.entries = make([]KeyringEntry, 0, len(retired)+1)
	if active != nil {
		s.entries = append(s.entries, KeyringEntry{Key: active})
	}
	for _, e := range retired {
		if e.Key == nil {
			continue
		}
		s.entries = append(s.entries, e)
	}
	kept := s.entries[:0]
	for i := range s.entries {
		if _, dup := s.byKID[s.entries[i].Key.ID]; dup {
			continue
		}
		kept = append(kept, s.entries[i])
		s.byKID[s.entries[i].Key.ID] = &kept[len(kept)-1]
	}
	s.entries = kept
	r.state.Store(s)
}

// emptyKeyring stands in for a Keyring that was never given keys.
var emptyKeyring = &KeyringSnapshot{}

// Snapshot returns the current key set, never nil.
func (r *Keyring) Snapshot() *KeyringSnapshot {
	if s := r.state.Load(); s != nil {
		return s
	}
	return emptyKeyring
}

// Active returns the key new tokens are signed with, or nil if none is set.
func (r *Keyring) Active() *SigningKey {
	return r.Snapshot().active
}

// Lookup returns the public key and algorithm for kid if that key is the
// active key or a retired key still published at now. The kid is untrusted
// input and is only ever used as a map key.
func (r *Keyring) Lookup(kid string, now time.Time) (pub crypto.PublicKey, alg string, ok bool) {
	e, ok := r.Snapshot().Lookup(kid, now)
	if !ok {
		return nil, "", false
	}
	return e.Key.pub, e.Key.Alg, true
}

// Lookup returns the entry for kid if that key is published at now. The
// kid is untrusted input and is only ever used as a map key.
func (s *KeyringSnapshot) Lookup(kid string, now time.Time) (*KeyringEntry, bool) {
	e, ok := s.byKID[kid]
	if !ok || !e.published(now) {
		return nil, false
	}
	return e, true
}

func (e *KeyringEntry) published(now time.Time) bool {
	return e.PublishUntil.IsZero() || now.Before(e.PublishUntil)
}

// JWKS returns the RFC 7517 key set published at now: {"keys":[...]} with
// the public members of each key plus kid, alg and use "sig". The bytes are
// cached and rebuilt only when the keys change or a PublishUntil is crossed.
// Callers must not modify the returned slice.
func (r *Keyring) JWKS(now time.Time) []byte {
	s := r.Snapshot()
	if c := s.jwks.Load(); c != nil && c.covers(now) {
		return c.body
	}
	c := s.renderJWKS(now)
	s.jwks.Store(c)
	return c.body
}

// IDSigner returns the key that signs ID tokens with alg: the active key
// for "" or the active key's own algorithm, else a published key of alg
// (the RSA key kept for RS256 clients). ok is false when there is none.
func (r *Keyring) IDSigner(alg string) (key *SigningKey, ok bool) {
	s := r.Snapshot()
	if s.active != nil && (alg == "" || alg == s.active.Alg) {
		return s.active, true
	}
	for i := range s.entries {
		if e := &s.entries[i]; e.Key.Alg == alg && e.PublishUntil.IsZero() {
			return e.Key, true
		}
	}
	return nil, false
}

// IDTokenAlgs lists the algorithms ID tokens can be signed with: the
// active key's and RS256 (OpenID Connect Core section 15.1).
func (r *Keyring) IDTokenAlgs() []string {
	algs := []string{AlgES256, AlgRS256}
	if a := r.Active(); a != nil && !slices.Contains(algs, a.Alg) {
		algs = append(algs, a.Alg)
	}
	return algs
}

func (c *jwksCache) covers(now time.Time) bool {
	return (c.from.IsZero() || !now.Before(c.from)) && (c.until.IsZero() || now.Before(c.until))
}

func (s *KeyringSnapshot) renderJWKS(now time.Time) *jwksCache {
	c := &jwksCache{}
	keys := make([]json.RawMessage, 0, len(s.entries))
	for i := range s.entries {
		e := &s.entries[i]
		if !e.published(now) {
			if c.from.IsZero() || e.PublishUntil.After(c.from) {
				c.from = e.PublishUntil
			}
			continue
		}
		if !e.PublishUntil.IsZero() && (c.until.IsZero() || e.PublishUntil.Before(c.until)) {
			c.until = e.PublishUntil
		}
		j, err := publicJWK(e.Key)
		if err != nil {
			// Keys are validated on construction, so this cannot happen
			// for a key built by this package; leave it out rather than
			// publish something half-formed.
			continue
		}
		keys = append(keys, j)
	}
	body, err := json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keys})
	if err != nil {
		body = []byte(`{"keys":[]}`)
	}
	c.body = body
	return c
}

// jwksKey is one published key. Only public members exist in the type, so
// no private value can reach the JWKS whatever the key holds.
type jwksKey struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// publicJWK renders one key's public JWK (RFC 7517, RFC 7518 section 6.2,
// RFC 8037 section 2) from its validated canonical members.
func publicJWK(k *SigningKey) (json.RawMessage, error) {
	var m jwkMembers
	if err := json.Unmarshal(k.jwkCanonical, &m); err != nil {
		return nil, fmt.Errorf("tokens: public JWK: %w", err)
	}
	return json.Marshal(jwksKey{Kty: m.Kty, Crv: m.Crv, X: m.X, Y: m.Y, N: m.N, E: m.E, KID: k.ID, Alg: k.Alg, Use: "sig"})
}
