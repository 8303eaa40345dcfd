package store

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestRecoveryCodesMoveOutOfTOTP opens a store written by a version that
// kept the recovery codes in the TOTP record: Open moves them into the
// account (one chunk at a time), keeps a set the account already has, and
// leaves the TOTP factor itself as it was.
func TestRecoveryCodesMoveOutOfTOTP(t *testing.T) {
	defer func(n int) { migrateChunk = n }(migrateChunk)
	migrateChunk = 1
	path := filepath.Join(t.TempDir(), "latch.db")
	db := openAt(t, path)
	putTestUsers(t, db, "u1", "u2", "u3")
	own := RecoveryCodes{UserID: "u2", Hashes: [][]byte{[]byte("own")}, CreatedAt: t0}
	mustUpdate(t, db, func(tx *boltTx) error {
		for _, id := range []string{"u1", "u2", "u3"} {
			if err := tx.PutTOTP(&TOTP{UserID: id, Secret: []byte("seed-" + id), Confirmed: true, CreatedAt: t0, LastStep: 7}); err != nil {
				return err
			}
		}
		return tx.PutRecoveryCodes(&own)
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The earlier version's records: codes inside u1's and u2's TOTP
	// records, and no migration mark.
	legacy := map[string][][]byte{"u1": {[]byte("a"), []byte("b")}, "u2": {[]byte("c")}}
	updateFile(t, path, func(btx *bolt.Tx) error {
		for id, codes := range legacy {
			b := btx.Bucket(bucketTOTP)
			var rec map[string]any
			if err := json.Unmarshal(b.Get([]byte(id)), &rec); err != nil {
				return err
			}
			rec["recovery_codes"] = codes
			raw, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(id), raw); err != nil {
				return err
			}
		}
		return btx.Bucket(bucketMeta).Delete(recoveryMigratedName)
	})
	db = openAt(t, path)
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.RecoveryCodes("u1")
		if err != nil || !reflect.DeepEqual(got.Hashes, legacy["u1"]) || !got.CreatedAt.Equal(t0) {
			t.Errorf("u1's moved codes: %+v, %v", got, err)
		}
		if got, err := tx.RecoveryCodes("u2"); err != nil || !reflect.DeepEqual(*got, own) {
			t.Errorf("u2's own set must stay: %+v, %v", got, err)
		}
		if _, err := tx.RecoveryCodes("u3"); !errors.Is(err, ErrNotFound) {
			t.Errorf("u3 had no codes: err = %v", err)
		}
		for _, id := range []string{"u1", "u2", "u3"} {
			f, err := tx.TOTP(id)
			if err != nil || string(f.Secret) != "seed-"+id || !f.Confirmed || f.LastStep != 7 {
				t.Errorf("TOTP of %s after the move: %+v, %v", id, f, err)
			}
			var rec totpRecord
			if err := tx.get(bucketTOTP, []byte(id), &rec); err != nil || rec.LegacyRecoveryCodes != nil {
				t.Errorf("TOTP record of %s still holds codes: %v, %v", id, rec.LegacyRecoveryCodes, err)
			}
		}
		if tx.btx.Bucket(bucketMeta).Get(recoveryMigratedName) == nil {
			t.Error("no migration mark")
		}
		return nil
	})
}
