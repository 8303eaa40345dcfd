package store

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestMemoNeverServesAStaleRecord(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u1")
	cred := &Credential{ID: []byte("cred"), UserID: "u1", Name: "first", Transports: []string{"usb"}, Record: []byte("rec")}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutCredential(cred) })
	name := func() string {
		t.Helper()
		var got string
		mustView(t, db, func(tx *boltTx) error {
			c, err := tx.Credential([]byte("cred"))
			if err != nil {
				return err
			}
			got = c.Name
			// Changing what a read returned must not reach the next read.
			if len(c.Transports) > 0 && len(c.Record) > 0 {
				c.Transports[0], c.Record[0] = "nfc", 'X'
			}
			return nil
		})
		return got
	}
	if got := name(); got != "first" {
		t.Fatalf("name = %q, want first", got)
	}

	t.Run("a write the memo did not see", func(t *testing.T) {
		raw, _ := json.Marshal(credentialRecord{header: current(), Credential: Credential{ID: []byte("cred"), UserID: "u1", Name: "behind"}})
		mustUpdate(t, db, func(tx *boltTx) error {
			return tx.btx.Bucket(bucketAccounts).Put(entryKey("u1", entryCredential, []byte("cred")), raw)
		})
		if got := name(); got != "behind" {
			t.Fatalf("name = %q, want behind", got)
		}
	})
	t.Run("a write that was rolled back", func(t *testing.T) {
		errBoom := errors.New("boom")
		err := db.Update(t.Context(), func(tx Tx) error {
			if err := tx.PutCredential(&Credential{ID: []byte("cred"), UserID: "u1", Name: "rolled back"}); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Update: %v", err)
		}
		if got := name(); got != "behind" {
			t.Fatalf("name = %q, want behind", got)
		}
	})
	t.Run("reads return copies", func(t *testing.T) {
		mustUpdate(t, db, func(tx *boltTx) error { return tx.PutCredential(cred) })
		name()
		mustView(t, db, func(tx *boltTx) error {
			c, err := tx.Credential([]byte("cred"))
			if err != nil {
				return err
			}
			if c.Transports[0] != "usb" || string(c.Record) != "rec" {
				t.Errorf("a caller's change leaked into the memo: %q %q", c.Transports, c.Record)
			}
			return nil
		})
	})
}

// Changing a record after writing it does not reach the memo either.
func TestMemoKeepsItsOwnCopyOfWrites(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u1")
	cred := &Credential{ID: []byte("cred"), UserID: "u1", Transports: []string{"usb"}, Record: []byte("rec")}
	sess := &Session{ID: "s1", UserID: "u1", AMR: []string{"pop"}}
	mustUpdate(t, db, func(tx *boltTx) error { return errors.Join(tx.PutCredential(cred), tx.PutSession(sess)) })
	cred.Transports[0], cred.Record[0], sess.AMR[0] = "nfc", 'X', "otp"
	mustView(t, db, func(tx *boltTx) error {
		c, err := tx.Credential([]byte("cred"))
		if err != nil {
			return err
		}
		s, err := tx.Session("s1")
		if err != nil {
			return err
		}
		if c.Transports[0] != "usb" || string(c.Record) != "rec" || s.AMR[0] != "pop" {
			t.Errorf("a writer's later change leaked into the memo: %q %q %q", c.Transports, c.Record, s.AMR)
		}
		return nil
	})
}
