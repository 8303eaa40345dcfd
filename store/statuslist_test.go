package store

import (
	"path/filepath"
	"testing"
)

func allocate(t *testing.T, db *DB, size int) (string, int) {
	t.Helper()
	var id string
	var idx int
	mustUpdate(t, db, func(tx *boltTx) error {
		var err error
		id, idx, err = tx.AllocateStatus(t0, size)
		return err
	})
	return id, idx
}

// A status set survives a restart, and a list id has its fixed length.
// (What SetStatus accepts and refuses is checked by the conformance suite,
// store/storetest.)
func TestSetStatusSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db := openAt(t, path)
	id, idx := allocate(t, db, 64)
	if len(id) != statusListIDLen {
		t.Fatalf("list id %q", id)
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.SetStatus(id, idx, 1) })
	db.Close()
	db = openAt(t, path)
	mustView(t, db, func(tx *boltTx) error {
		l, err := tx.StatusList(id)
		if err != nil || len(l.Statuses) != 1 || l.Statuses[idx] != 1 || l.Used != 1 {
			t.Fatalf("after a restart: %+v %v", l, err)
		}
		return nil
	})
}
