package store

import (
	"errors"
	"reflect"
	"testing"
)

// TestUserRecordsWithoutGroupsStillRead: a binary user record written
// before groups existed ends after Disabled and reads with no groups.
func TestUserRecordsWithoutGroupsStillRead(t *testing.T) {
	rec := userRecord{header: current(), User: User{ID: "u1", Handle: []byte("u1"), Username: "alice", CreatedAt: t0, Groups: []string{"g"}}}
	full := rec.appendBinary([]byte{binaryVersion})
	old := full[:len(full)-3] // the groups: a count and one 1-byte string
	var got userRecord
	if err := decodeAt(accountKey("u1"), old, &got); err != nil {
		t.Fatal(err)
	}
	if got.Username != "alice" || got.Groups != nil {
		t.Fatalf("old record: %+v", got.User)
	}
	if err := decodeAt(accountKey("u1"), full, &got); err != nil || !reflect.DeepEqual(got.Groups, []string{"g"}) {
		t.Fatalf("new record: %+v %v", got.User, err)
	}
}

// A user whose handle is its own id has no handle index entry; one with a
// separate random handle (as earlier versions made) has one, dropped when
// the user moves to its own id. (What the lookups answer is checked by the
// conformance suite, store/storetest.)
func TestOwnIDHandlesKeepNoIndexEntry(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
		return errors.Join(
			tx.PutUser(&User{ID: "u-own", Handle: []byte("u-own"), Username: "own"}),
			tx.PutUser(&User{ID: "u-idx", Handle: []byte{9, 9, 9}, Username: "indexed"}),
		)
	})
	mustView(t, db, func(tx *boltTx) error {
		if n := tx.btx.Bucket(bucketHandles).Stats().KeyN; n != 1 {
			t.Errorf("handle index has %d entries, want 1 (the separate handle only)", n)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutUser(&User{ID: "u-idx", Handle: []byte("u-idx"), Username: "indexed"})
	})
	mustView(t, db, func(tx *boltTx) error {
		if n := tx.btx.Bucket(bucketHandles).Stats().KeyN; n != 0 {
			t.Errorf("handle index has %d entries, want 0", n)
		}
		return nil
	})
}
