package store

import (
	"testing"
	"time"
)

func TestPutRevokedNeverShortens(t *testing.T) {
	tests := []struct {
		name   string
		second time.Time
		want   time.Time
	}{
		{"a later end extends the revocation", t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)},
		{"an earlier end is ignored", t0.Add(time.Minute), t0.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustUpdate(t, db, func(tx *boltTx) error { return tx.PutRevoked("k", t0.Add(time.Hour)) })
			mustUpdate(t, db, func(tx *boltTx) error { return tx.PutRevoked("k", tt.second) })
			mustView(t, db, func(tx *boltTx) error {
				got, err := tx.Revoked(t0)
				if err != nil {
					return err
				}
				if !got["k"].Equal(tt.want) {
					t.Errorf("until = %v, want %v", got["k"], tt.want)
				}
				if n := tx.btx.Bucket(bucketRevokedExpiry).Stats().KeyN; n != 1 {
					t.Errorf("expiry index has %d entries, want 1", n)
				}
				return nil
			})
		})
	}
}
