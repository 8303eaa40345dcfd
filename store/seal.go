package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// newAEAD builds the AES-256-GCM cipher for secrets at rest.
func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("store: key-encryption key must be %d bytes, got %d", KeySize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("store: key-encryption key: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealAAD binds a ciphertext to the bucket and key it is stored under, so a
// sealed value copied onto another record (say, one user's TOTP seed onto
// another's) fails to open instead of being silently accepted.
func sealAAD(bucket []byte, id string) []byte {
	aad := make([]byte, 0, len("latch/store/v1\x00")+len(bucket)+1+len(id))
	aad = append(aad, "latch/store/v1\x00"...)
	aad = append(aad, bucket...)
	aad = append(aad, 0)
	return append(aad, id...)
}

// seal encrypts plaintext as nonce || ciphertext || tag. Random 96-bit
// nonces are safe here: the number of sealed values (signing keys, TOTP
// seeds) stays many orders of magnitude below the 2^32 bound for one key.
func (db *DB) seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, db.aead.NonceSize(), db.aead.NonceSize()+len(plaintext)+db.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("store: seal: %w", err)
	}
	return db.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// open reverses seal. Any failure, including a short input, is reported as
// ErrWrongKey: GCM cannot tell a wrong key from tampering, and neither can
// the operator act differently on the two.
func (db *DB) open(sealed, aad []byte) ([]byte, error) {
	n := db.aead.NonceSize()
	if len(sealed) < n+db.aead.Overhead() {
		return nil, ErrWrongKey
	}
	plain, err := db.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}
