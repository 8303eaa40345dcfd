package store

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCredentialRoundTrip(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u1")
	want := Credential{
		ID: []byte{0xde, 0xad}, UserID: "u1", Name: "laptop", CreatedAt: t0, LastUsedAt: t0.Add(time.Hour),
		Transports: []string{"internal", "hybrid"}, AAGUID: make([]byte, 16),
		BackupEligible: true, BackupState: true, SignCount: 42, Record: []byte(`{"opaque":true}`),
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutCredential(&want) })
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.Credential([]byte{0xde, 0xad})
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		return nil
	})
}

func TestCredentialsByUserAreOwnedAndOrdered(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u1", "u10", "u")
	mustUpdate(t, db, func(tx *boltTx) error {
		for _, c := range []Credential{
			{ID: []byte("c"), UserID: "u1", CreatedAt: t0.Add(2 * time.Minute)},
			{ID: []byte("a"), UserID: "u1", CreatedAt: t0.Add(3 * time.Minute)},
			{ID: []byte("b"), UserID: "u1", CreatedAt: t0.Add(1 * time.Minute)},
			{ID: []byte("x"), UserID: "u10", CreatedAt: t0},
			{ID: []byte("y"), UserID: "u", CreatedAt: t0},
		} {
			if err := tx.PutCredential(&c); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *boltTx) error {
		creds, err := tx.CredentialsByUser("u1")
		if err != nil {
			return err
		}
		var ids string
		for _, c := range creds {
			ids += string(c.ID)
		}
		// Users whose ids share a prefix ("u", "u10") must not leak in.
		if ids != "bca" {
			t.Errorf("credentials of u1 = %q, want bca (oldest first)", ids)
		}
		return nil
	})
}

func TestPutCredentialOfAnotherUserIsRefused(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u1", "u2")
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutCredential(&Credential{ID: []byte("cred"), UserID: "u1", SignCount: 1})
	})
	tests := []struct {
		name string
		cred Credential
		want error
	}{
		{"same id for another user is refused", Credential{ID: []byte("cred"), UserID: "u2"}, ErrCredentialExists},
		{"same user may update its credential", Credential{ID: []byte("cred"), UserID: "u1", SignCount: 7}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(t.Context(), func(tx Tx) error { return tx.PutCredential(&tt.cred) })
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	mustView(t, db, func(tx *boltTx) error {
		c, err := tx.Credential([]byte("cred"))
		if err != nil {
			return err
		}
		if c.UserID != "u1" || c.SignCount != 7 {
			t.Errorf("credential = %+v, want u1 with sign count 7", c)
		}
		return nil
	})
}

func TestDeleteCredential(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u1")
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutCredential(&Credential{ID: []byte("cred"), UserID: "u1"})
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteCredential([]byte("cred")) })
	mustView(t, db, func(tx *boltTx) error {
		if _, err := tx.Credential([]byte("cred")); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted credential still found: %v", err)
		}
		if creds, err := tx.CredentialsByUser("u1"); err != nil || len(creds) != 0 {
			t.Errorf("user index still lists the credential: %v %v", creds, err)
		}
		return nil
	})
	err := db.Update(t.Context(), func(tx Tx) error { return tx.DeleteCredential([]byte("cred")) })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a missing credential: err = %v, want ErrNotFound", err)
	}
}

// TestLongestKeysRoundTrip stores a credential whose user id and
// credential id are both as long as a key may be, so its account entry key
// is the longest there is, and reads it back every way.
func TestLongestKeysRoundTrip(t *testing.T) {
	db := openTestDB(t)
	user := strings.Repeat("u", maxKeyLen)
	id := bytes.Repeat([]byte{0xc1}, maxKeyLen)
	putTestUsers(t, db, user)
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutCredential(&Credential{ID: id, UserID: user, Name: "long"})
	})
	mustView(t, db, func(tx *boltTx) error {
		if c, err := tx.Credential(id); err != nil || c.Name != "long" {
			t.Errorf("Credential = %+v, %v", c, err)
		}
		if cs, err := tx.CredentialsByUser(user); err != nil || len(cs) != 1 {
			t.Errorf("CredentialsByUser = %d credentials, %v", len(cs), err)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteCredential(id) })
	mustView(t, db, func(tx *boltTx) error {
		if _, err := tx.Credential(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		return nil
	})
}
