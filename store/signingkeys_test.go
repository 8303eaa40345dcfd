package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSecretsAreNotInTheFileInClear(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latch.db")
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	putTestUsers(t, db, "u")
	private := []byte("SIGNING-KEY-SECRET-0123456789abcdef")
	seed := []byte("TOTP-SEED-SECRET-0123456789abcdef")
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutSigningKey(&SigningKey{ID: "k", Alg: "ES256", Private: private}); err != nil {
			return err
		}
		return tx.PutTOTP(&TOTP{UserID: "u", Secret: seed})
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string][]byte{"signing key": private, "TOTP seed": seed} {
		if bytes.Contains(raw, secret) {
			t.Errorf("%s found in clear in the database file", name)
		}
	}
	// The sealed values are there and open with the right key.
	db, err = Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustView(t, db, func(tx *boltTx) error {
		keys, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		if len(keys) != 1 || !bytes.Equal(keys[0].Private, private) {
			t.Errorf("signing key did not round trip")
		}
		f, err := tx.TOTP("u")
		if err != nil {
			return err
		}
		if !bytes.Equal(f.Secret, seed) {
			t.Errorf("TOTP seed did not round trip")
		}
		return nil
	})
}

func TestSealedSecretsCannotBeOpenedElsewhere(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(tx *boltTx) error
		read   func(tx *boltTx) error
	}{
		{
			name: "signing key under another key is refused",
			tamper: func(tx *boltTx) error {
				// Copy k1's record under the id k2: the AAD no longer matches.
				b := tx.btx.Bucket(bucketSigningKeys)
				return b.Put([]byte("k2"), bytes.Clone(b.Get([]byte("k1"))))
			},
			read: func(tx *boltTx) error { _, err := tx.SigningKeys(); return err },
		},
		{
			name: "TOTP seed moved to another user is refused",
			tamper: func(tx *boltTx) error {
				b := tx.btx.Bucket(bucketTOTP)
				return b.Put([]byte("mallory"), bytes.Clone(b.Get([]byte("alice"))))
			},
			read: func(tx *boltTx) error { _, err := tx.TOTP("mallory"); return err },
		},
		{
			name: "signing key sealed under another master key is refused",
			tamper: func(tx *boltTx) error {
				aead, err := newAEAD(bytes.Repeat([]byte{9}, KeySize))
				if err != nil {
					return err
				}
				other := &DB{aead: aead}
				return (&boltTx{btx: tx.btx, db: other}).PutSigningKey(&SigningKey{ID: "k1", Private: []byte("p")})
			},
			read: func(tx *boltTx) error { _, err := tx.SigningKeys(); return err },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			putTestUsers(t, db, "alice")
			mustUpdate(t, db, func(tx *boltTx) error {
				if err := tx.PutSigningKey(&SigningKey{ID: "k1", Private: []byte("p")}); err != nil {
					return err
				}
				return tx.PutTOTP(&TOTP{UserID: "alice", Secret: []byte("s")})
			})
			mustUpdate(t, db, tt.tamper)
			err := db.View(t.Context(), func(tx Tx) error { return tt.read(tx.(*boltTx)) })
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("err = %v, want ErrWrongKey", err)
			}
		})
	}
}
