package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestTakeCeremony(t *testing.T) {
	db := openTestDB(t)
	now := time.Now()
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutCeremony(&Ceremony{ID: "live", Kind: "login", Session: []byte("state"), ExpiresAt: now.Add(time.Minute)}); err != nil {
			return err
		}
		return tx.PutCeremony(&Ceremony{ID: "old", Kind: "login", ExpiresAt: now.Add(time.Second)})
	})
	mustUpdate(t, db, func(tx *boltTx) error {
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

// TestCeremoniesInJSONStillRead: a ceremony stored as JSON, as every
// ceremony was before the binary encoding, reads, replaces and deletes
// (its expiry index entry with it); one written now is binary and smaller.
func TestCeremoniesInJSONStillRead(t *testing.T) {
	db := openTestDB(t)
	want := Ceremony{ID: "cer-json", Kind: "authentication", UserID: "AAAAAAAAAAAAAAAAAAAAAA", Username: "ada", DisplayName: "Ada",
		Handle: []byte{1, 2, 3}, Session: []byte(`{"challenge":"abc"}`), AMR: []string{"pop"}, AuthTime: t0.Add(-time.Minute),
		ExpiresAt: t0.Add(time.Minute), Parent: "rec-1"}
	legacy, err := json.Marshal(&ceremonyRecord{header: current(), Ceremony: want})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx *boltTx) error {
		return errors.Join(tx.btx.Bucket(bucketCeremonies).Put([]byte(want.ID), legacy),
			tx.putIndex(bucketCeremonyExpiry, expiryKey(want.ExpiresAt, []byte(want.ID))))
	})
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.Ceremony(want.ID, t0)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("read %+v (%v)\nwant %+v", got, err, want)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutCeremony(&want) })
	mustView(t, db, func(tx *boltTx) error {
		v := tx.raw(bucketCeremonies, []byte(want.ID))
		if v[0] != binaryVersion || len(v) >= len(legacy)/2 {
			t.Errorf("rewritten as %q (%d bytes, JSON %d)", v[:1], len(v), len(legacy))
		}
		if n := tx.btx.Bucket(bucketCeremonyExpiry).Stats().KeyN; n != 1 {
			t.Errorf("%d expiry index entries after the rewrite, want 1", n)
		}
		got, err := tx.Ceremony(want.ID, t0)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("read back %+v (%v)", got, err)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteCeremony(want.ID) })
	mustView(t, db, func(tx *boltTx) error {
		if n := tx.btx.Bucket(bucketCeremonyExpiry).Stats().KeyN; n != 0 || tx.raw(bucketCeremonies, []byte(want.ID)) != nil {
			t.Errorf("deleted ceremony left %d index entries", n)
		}
		return nil
	})
}

// BenchmarkCeremonyCodec encodes and decodes a sign-in's ceremony in the
// binary record encoding and, for comparison in the same run, as the JSON
// every ceremony was stored as before.
func BenchmarkCeremonyCodec(b *testing.B) {
	rec := ceremonyRecord{header: current(), Ceremony: Ceremony{ID: "0194c2a1b2c3AAAAAAAAAAAAAAAAAAAAAA", Kind: "authentication",
		Session: make([]byte, 180), ExpiresAt: t0}}
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, _ := encodeRecord(&rec)
			var back ceremonyRecord
			if err := decodeAt([]byte(rec.ID), data, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, _ := json.Marshal(&rec)
			var back ceremonyRecord
			if err := decodeAt([]byte(rec.ID), data, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCeremonyExpiryIndexFollowsPutsAndDeletes: a new expiry replaces the
// ceremony's index entry, and a delete removes it. (What the ceremony
// reads as and when it is swept is checked by the conformance suite,
// store/storetest.)
func TestCeremonyExpiryIndexFollowsPutsAndDeletes(t *testing.T) {
	db := openTestDB(t)
	entries := func() int {
		n := 0
		mustView(t, db, func(tx *boltTx) error { n = tx.btx.Bucket(bucketCeremonyExpiry).Stats().KeyN; return nil })
		return n
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutCeremony(&Ceremony{ID: "c", ExpiresAt: t0}) })
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutCeremony(&Ceremony{ID: "c", ExpiresAt: t0.Add(time.Hour)}) })
	if n := entries(); n != 1 {
		t.Errorf("expiry index has %d entries after a new expiry, want 1", n)
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteCeremony("c") })
	if n := entries(); n != 0 {
		t.Errorf("expiry index keeps %d entries after delete", n)
	}
}
