package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/latchid/latch/store"
)

func testStatusLists(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"IndicesAreRandomAndNeverReused": statusRandom,
		"ListFillsThenOpensTheNext":      statusFills,
		"SetStatus":                      statusSet,
		"InvalidSizesAreRefused":         statusInvalidSize,
	})
}

func allocate(t *testing.T, s store.Store, size int) (string, int) {
	t.Helper()
	var id string
	var idx int
	mustUpdate(t, s, func(tx store.Tx) error {
		var err error
		id, idx, err = tx.AllocateStatus(T0, size)
		return err
	})
	return id, idx
}

func statusRandom(t *testing.T, s store.Store) {
	const size = 1 << 17
	var ids []string
	var idxs []int
	for range 200 {
		id, idx := allocate(t, s, size)
		if idx < 0 || idx >= size {
			t.Fatalf("index %d outside the list", idx)
		}
		ids, idxs = append(ids, id), append(idxs, idx)
	}
	for _, id := range ids {
		if id != ids[0] || id == "" {
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
	mustView(t, s, func(tx store.Tx) error {
		l, err := tx.StatusList(ids[0])
		if err != nil || l.ID != ids[0] || l.Used != 200 || l.Size != size || l.Bits != 1 || !l.CreatedAt.Equal(T0) || len(l.Statuses) != 0 {
			t.Errorf("StatusList = %+v, %v", l, err)
		}
		return nil
	})
}

func statusFills(t *testing.T, s store.Store) {
	first, idx0 := allocate(t, s, 8)
	got := map[int]bool{idx0: true}
	for range 7 {
		id, idx := allocate(t, s, 8)
		if id != first {
			t.Fatalf("a new list opened before the first was full")
		}
		got[idx] = true
	}
	if len(got) != 8 {
		t.Fatalf("entries of a full list not all distinct: %v", got)
	}
	mustView(t, s, func(tx store.Tx) error {
		l, err := tx.StatusList(first)
		if err != nil || l.Used != 8 || l.Size != 8 || l.Bits != 1 {
			t.Fatalf("%+v %v", l, err)
		}
		return nil
	})
	next, idx := allocate(t, s, 16)
	if next == first || idx < 0 || idx >= 16 {
		t.Fatalf("a full list gave out another entry (%s %d)", next, idx)
	}
	mustView(t, s, func(tx store.Tx) error {
		l, err := tx.StatusList(next)
		if err != nil || l.Used != 1 || l.Size != 16 {
			t.Fatalf("the next list: %+v %v", l, err)
		}
		return nil
	})
}

func statusSet(t *testing.T, s store.Store) {
	id, idx := allocate(t, s, 64)
	_, other := allocate(t, s, 64)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.SetStatus(id, idx, 1) })
	free := 0
	for free == idx || free == other {
		free++
	}
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.SetStatus(id, free, 1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an entry never assigned was set: %v", err)
	}
	for name, fn := range map[string]func(tx store.Tx) error{
		"unknown list":      func(tx store.Tx) error { return tx.SetStatus("AAAAAAAAAAAAAAAAAAAAAA", idx, 1) },
		"malformed list id": func(tx store.Tx) error { return tx.SetStatus("x", idx, 1) },
		"empty list id":     func(tx store.Tx) error { return tx.SetStatus("", idx, 1) },
		"negative index":    func(tx store.Tx) error { return tx.SetStatus(id, -1, 1) },
	} {
		if err := s.Update(t.Context(), fn); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	for name, fn := range map[string]func(tx store.Tx) error{
		"a 2 fits no 1-bit list":   func(tx store.Tx) error { return tx.SetStatus(id, idx, 2) },
		"an index beyond the list": func(tx store.Tx) error { return tx.SetStatus(id, 64, 1) },
	} {
		if err := s.Update(t.Context(), fn); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		l, err := tx.StatusList(id)
		if err != nil || len(l.Statuses) != 1 || l.Statuses[idx] != 1 || l.Used != 2 {
			t.Fatalf("StatusList = %+v %v", l, err)
		}
		for _, unknown := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "x", ""} {
			if _, err := tx.StatusList(unknown); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown list %q: %v", unknown, err)
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.SetStatus(id, idx, 0) })
	mustView(t, s, func(tx store.Tx) error {
		l, err := tx.StatusList(id)
		if err != nil || len(l.Statuses) != 0 || l.Used != 2 {
			t.Fatalf("status 0 is kept: %+v %v", l, err)
		}
		return nil
	})
}

func statusInvalidSize(t *testing.T, s store.Store) {
	for _, size := range []int{0, -8, 4, 12, 1<<23 + 8} {
		if err := s.Update(t.Context(), func(tx store.Tx) error { _, _, err := tx.AllocateStatus(T0, size); return err }); err == nil {
			t.Errorf("size %d was accepted", size)
		}
	}
}
