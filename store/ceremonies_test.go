package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestCeremonyRoundTripAndExpiry(t *testing.T) {
	db := openTestDB(t)
	want := Ceremony{
		ID: "cer1", Kind: "registration", UserID: "u1", Username: "alice", DisplayName: "Alice",
		Handle: []byte("h"), Session: []byte(`{"challenge":"abc"}`), AMR: []string{"hwk"},
		AuthTime: t0.Add(-time.Minute), ExpiresAt: t0,
	}
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutCeremony(&want) })
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{"live ceremony is returned", t0.Add(-time.Nanosecond), nil},
		{"ceremony at its expiry instant is refused", t0, ErrNotFound},
		{"expired but unswept ceremony is refused", t0.Add(time.Hour), ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustView(t, db, func(tx *Tx) error {
				got, err := tx.Ceremony("cer1", tt.now)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if err == nil && !reflect.DeepEqual(*got, want) {
					t.Errorf("got %+v\nwant %+v", *got, want)
				}
				return nil
			})
		})
	}
}

func TestCeremonyWithoutExpiryIsRefused(t *testing.T) {
	db := openTestDB(t)
	err := db.Update(t.Context(), func(tx *Tx) error { return tx.PutCeremony(&Ceremony{ID: "c"}) })
	if err == nil {
		t.Fatal("PutCeremony accepted a ceremony without expiry")
	}
}

func TestDeleteCeremonyIsIdempotent(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutCeremony(&Ceremony{ID: "c", ExpiresAt: t0}) })
	for _, name := range []string{"existing ceremony is deleted", "missing ceremony is not an error"} {
		t.Run(name, func(t *testing.T) {
			mustUpdate(t, db, func(tx *Tx) error { return tx.DeleteCeremony("c") })
		})
	}
	mustView(t, db, func(tx *Tx) error {
		if _, err := tx.Ceremony("c", t0.Add(-time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted ceremony found: %v", err)
		}
		if n := tx.btx.Bucket(bucketCeremonyExpiry).Stats().KeyN; n != 0 {
			t.Errorf("expiry index keeps %d entries after delete", n)
		}
		return nil
	})
}

func TestCeremonyNewExpiryReplacesIndexEntry(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutCeremony(&Ceremony{ID: "c", ExpiresAt: t0}) })
	mustUpdate(t, db, func(tx *Tx) error {
		return tx.PutCeremony(&Ceremony{ID: "c", ExpiresAt: t0.Add(time.Hour)})
	})
	mustView(t, db, func(tx *Tx) error {
		if n := tx.btx.Bucket(bucketCeremonyExpiry).Stats().KeyN; n != 1 {
			t.Errorf("expiry index has %d entries, want 1", n)
		}
		return nil
	})
	// Sweeping at the old expiry must not remove the extended ceremony.
	if _, err := db.Sweep(t.Context(), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx *Tx) error {
		_, err := tx.Ceremony("c", t0.Add(time.Minute))
		return err
	})
}

func TestTakeCeremony(t *testing.T) {
	db := openTestDB(t)
	now := time.Now()
	mustUpdate(t, db, func(tx *Tx) error {
		if err := tx.PutCeremony(&Ceremony{ID: "live", Kind: "login", Session: []byte("state"), ExpiresAt: now.Add(time.Minute)}); err != nil {
			return err
		}
		return tx.PutCeremony(&Ceremony{ID: "old", Kind: "login", ExpiresAt: now.Add(time.Second)})
	})
	mustUpdate(t, db, func(tx *Tx) error {
		if _, err := tx.takeCeremony("live", now); err != nil {
			t.Errorf("take live: %v", err)
		}
		if _, err := tx.takeCeremony("live", now); !errors.Is(err, ErrNotFound) {
			t.Errorf("second take: %v, want ErrNotFound", err)
		}
		if _, err := tx.takeCeremony("old", now.Add(2*time.Second)); !errors.Is(err, ErrNotFound) {
			t.Errorf("take expired: %v, want ErrNotFound", err)
		}
		if _, err := tx.takeCeremony("missing", now); !errors.Is(err, ErrNotFound) {
			t.Errorf("take missing: %v, want ErrNotFound", err)
		}
		return nil
	})
}
