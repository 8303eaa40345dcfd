package store

import (
	"errors"
	"path/filepath"
	"slices"
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

func TestStatusIndicesAreRandomAndNeverReused(t *testing.T) {
	db := openTestDB(t)
	const size = 1 << 17
	var ids []string
	var idxs []int
	for range 200 {
		id, idx := allocate(t, db, size)
		if idx < 0 || idx >= size {
			t.Fatalf("index %d outside the list", idx)
		}
		ids, idxs = append(ids, id), append(idxs, idx)
	}
	for _, id := range ids {
		if id != ids[0] || len(id) != statusListIDLen {
			t.Fatalf("list ids %q and %q: one list should hold them all", ids[0], id)
		}
	}
	seen := map[int]bool{}
	consecutive := 0
	for i, idx := range idxs {
		if seen[idx] {
			t.Fatalf("index %d assigned twice", idx)
		}
		seen[idx] = true
		if i > 0 && (idx == idxs[i-1]+1 || idx == idxs[i-1]-1) {
			consecutive++
		}
	}
	// Sequential assignment would make every pair neighbours; random
	// assignment makes a pair neighbours with probability about 2^-16.
	if consecutive > 2 || slices.IsSorted(idxs) || slices.IsSortedFunc(idxs, func(a, b int) int { return b - a }) {
		t.Fatalf("indices follow issuance order (%d neighbouring pairs): %v", consecutive, idxs[:20])
	}
}

func TestStatusListFillsThenOpensTheNext(t *testing.T) {
	db := openTestDB(t)
	first, _ := allocate(t, db, 8)
	got := map[int]bool{}
	for range 7 {
		id, idx := allocate(t, db, 8)
		if id != first {
			t.Fatalf("a new list opened before the first was full")
		}
		got[idx] = true
	}
	mustView(t, db, func(tx *boltTx) error {
		l, err := tx.StatusList(first)
		if err != nil || l.Used != 8 || l.Size != 8 || l.Bits != 1 {
			t.Fatalf("%+v %v", l, err)
		}
		return nil
	})
	next, idx := allocate(t, db, 8)
	if next == first || idx >= 8 {
		t.Fatalf("a full list gave out another entry (%s %d)", next, idx)
	}
	if len(got) != 7 {
		t.Fatalf("entries of a full list not all distinct: %v", got)
	}
}

func TestSetStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db := openAt(t, path)
	id, idx := allocate(t, db, 64)
	_, other := allocate(t, db, 64)
	mustUpdate(t, db, func(tx *boltTx) error { return tx.SetStatus(id, idx, 1) })
	free := 0
	for free == idx || free == other {
		free++
	}
	if err := db.Update(t.Context(), func(tx Tx) error { return tx.SetStatus(id, free, 1) }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an entry never assigned was set: %v", err)
	}
	for name, fn := range map[string]func(tx Tx) error{
		"unknown list":      func(tx Tx) error { return tx.SetStatus("AAAAAAAAAAAAAAAAAAAAAA", idx, 1) },
		"malformed list id": func(tx Tx) error { return tx.SetStatus("x", idx, 1) },
	} {
		if err := db.Update(t.Context(), fn); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := db.Update(t.Context(), func(tx Tx) error { return tx.SetStatus(id, idx, 2) }); err == nil {
		t.Fatal("a 2 fits no 1-bit list")
	}
	db.Close()
	db = openAt(t, path)
	mustView(t, db, func(tx *boltTx) error {
		l, err := tx.StatusList(id)
		if err != nil || len(l.Statuses) != 1 || l.Statuses[idx] != 1 || l.Used != 2 {
			t.Fatalf("after a restart: %+v %v", l, err)
		}
		if _, err := tx.StatusList("AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown list: %v", err)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.SetStatus(id, idx, 0) })
	mustView(t, db, func(tx *boltTx) error {
		l, _ := tx.StatusList(id)
		if len(l.Statuses) != 0 {
			t.Fatalf("status 0 is kept: %v", l.Statuses)
		}
		return nil
	})
}
