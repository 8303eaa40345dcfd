package store

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestExpiryKeysSortByTime(t *testing.T) {
	tests := []struct {
		name           string
		earlier, later time.Time
	}{
		{"nanoseconds apart", t0, t0.Add(time.Nanosecond)},
		{"before 1970 sorts first", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), t0},
		{"beyond 2262 sorts last", t0, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"zone does not matter", t0.In(time.FixedZone("X", -5*3600)), t0.Add(time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A longer record key must not change the order decided by time.
			a, b := expiryKey(tt.earlier, []byte("zzzz")), expiryKey(tt.later, []byte("a"))
			if bytes.Compare(a, b) >= 0 {
				t.Fatalf("expiryKey(%v) does not sort before expiryKey(%v)", tt.earlier, tt.later)
			}
		})
	}
}

func TestAccountKeysOfDifferentUsersDoNotShareAPrefix(t *testing.T) {
	if bytes.HasPrefix(entryKey("u10", entrySession, []byte("x")), accountKey("u1")) {
		t.Fatal("user u1's account prefix matches a key of user u10")
	}
	id, rest, ok := splitAccountKey(entryKey("u10", entryCredential, []byte("x")))
	if !ok || id != "u10" || string(rest) != "cx" {
		t.Fatalf("splitAccountKey = %q %q %v", id, rest, ok)
	}
	if _, _, ok := splitAccountKey([]byte{0, 9, 'u'}); ok {
		t.Fatal("splitAccountKey accepted a key shorter than its length")
	}
}

func TestUnknownRecordVersionIsRefused(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"future version", `{"v":2,"id":"c"}`},
		{"missing version", `{"id":"c"}`},
		{"not JSON", `garbage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustUpdate(t, db, func(tx *boltTx) error {
				return tx.btx.Bucket(bucketClients).Put([]byte("c"), []byte(tt.data))
			})
			err := db.View(t.Context(), func(tx Tx) error { _, err := tx.Client("c"); return err })
			if err == nil || errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want a decode error", err)
			}
		})
	}
}
