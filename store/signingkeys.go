package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SigningKey is a token signing key. Private holds the private key bytes in
// clear in memory; in the file they are sealed under the key-encryption key
// and bound to this key's ID.
type SigningKey struct {
	ID           string    `json:"id"`
	Alg          string    `json:"alg"`
	Private      []byte    `json:"-"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	RetiredAt    time.Time `json:"retired_at,omitzero"`
	PublishUntil time.Time `json:"publish_until,omitzero"`
}

type signingKeyRecord struct {
	header
	SigningKey
	SealedPrivate []byte `json:"private_sealed"`
}

// PutSigningKey inserts or updates k, sealing its private key.
func (tx *boltTx) PutSigningKey(k *SigningKey) error {
	if err := checkKey("signing key id", len(k.ID)); err != nil {
		return err
	}
	if len(k.Private) == 0 {
		return fmt.Errorf("store: signing key %q has no private key", k.ID)
	}
	sealed, err := tx.db.seal(k.Private, sealAAD(bucketSigningKeys, k.ID))
	if err != nil {
		return err
	}
	rec := signingKeyRecord{header: current(), SigningKey: *k, SealedPrivate: sealed}
	rec.CreatedAt = utc(rec.CreatedAt)
	rec.RetiredAt = utc(rec.RetiredAt)
	rec.PublishUntil = utc(rec.PublishUntil)
	return tx.put(bucketSigningKeys, []byte(k.ID), &rec)
}

// SigningKeys returns every signing key with its private key unsealed,
// oldest first. A key that cannot be unsealed yields an error wrapping
// ErrWrongKey.
func (tx *boltTx) SigningKeys() ([]SigningKey, error) {
	var keys []SigningKey
	c := tx.btx.Bucket(bucketSigningKeys).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var rec signingKeyRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		// The AAD uses the bucket key, not the ID inside the record, so a
		// record moved under another key fails to open.
		plain, err := tx.db.open(rec.SealedPrivate, sealAAD(bucketSigningKeys, string(k)))
		if err != nil {
			return nil, fmt.Errorf("store: signing key %q: %w", k, err)
		}
		rec.Private = plain
		keys = append(keys, rec.SigningKey)
	}
	slices.SortStableFunc(keys, func(a, b SigningKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return keys, nil
}

// DeleteSigningKey removes the signing key, or returns ErrNotFound.
func (tx *boltTx) DeleteSigningKey(id string) error {
	key := []byte(id)
	if len(key) == 0 || tx.btx.Bucket(bucketSigningKeys).Get(key) == nil {
		return ErrNotFound
	}
	return tx.del(bucketSigningKeys, key)
}
