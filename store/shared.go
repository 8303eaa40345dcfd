package store

import (
	"crypto/cipher"
	"time"
)

// The helpers here are what another backend (store/postgres) needs to keep
// records exactly as this one does: secrets sealed the same way under the
// key-encryption key, the audit chain's MACs computed the same way, the
// same bounds on keys. Keeping one copy keeps the backends from drifting.

// MaxKeyLen is the longest id or key a record may have, in bytes.
const MaxKeyLen = maxKeyLen

// CheckKey returns an error naming what for an empty key or one longer
// than MaxKeyLen.
func CheckKey(what string, n int) error { return checkKey(what, n) }

// UTC is the form every stored time takes: UTC without a monotonic
// reading, the zero time kept zero.
func UTC(t time.Time) time.Time { return utc(t) }

// Sealer seals secrets at rest (TOTP seeds, signing keys) with AES-256-GCM
// under the key-encryption key, as this store seals them.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns the Sealer of kek, which must be KeySize bytes.
func NewSealer(kek []byte) (*Sealer, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// SealAAD is the additional data that binds a sealed value to the kind of
// record (bbolt names it by bucket: "totp", "signing_keys", "meta") and
// the id it is stored under.
func SealAAD(kind, id string) []byte { return sealAAD([]byte(kind), id) }

// Seal encrypts plaintext as nonce || ciphertext || tag.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	return (&DB{aead: s.aead}).seal(plaintext, aad)
}

// Open reverses Seal; any failure is ErrWrongKey.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	return (&DB{aead: s.aead}).open(sealed, aad)
}

// KeyCheckPlaintext is the constant a store seals at creation so that a
// later open with another key-encryption key is refused with ErrWrongKey.
const KeyCheckPlaintext = keyCheckPlaintext

// AuditChainKey derives the audit chain's MAC key from the master key.
func AuditChainKey(kek []byte) []byte { return auditChainKey(kek) }

// AuditMAC is the MAC of the audit event at position seq following the
// event whose MAC is prev (all zeros for the chain's first event).
func AuditMAC(key []byte, seq uint64, prev []byte, e *AuditEvent) []byte {
	return auditMAC(key, seq, prev, e)
}
