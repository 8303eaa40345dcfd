package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestPendingCeremoniesAreBoundedAndSwept(t *testing.T) {
	db := openTestDB(t)
	// Begun a millisecond apart, each living five minutes.
	begun := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }
	put := func(i int) {
		t.Helper()
		c := &Ceremony{ID: fmt.Sprint(i), ExpiresAt: begun(i).Add(5 * time.Minute)}
		if err := db.PutPending(c, begun(i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	for i := range MaxPending {
		put(i)
	}
	// Taking some makes no room by itself for the bound: the oldest held
	// ceremony makes room for a new one.
	if _, err := db.TakePending(t.Context(), "5", begun(MaxPending)); err != nil {
		t.Fatal(err)
	}
	put(MaxPending)
	put(MaxPending + 1)
	if st := db.Stats(); st.Pending != MaxPending || st.Evicted != 1 {
		t.Errorf("%d held, %d evicted; want the bound %d and 1", st.Pending, st.Evicted, MaxPending)
	}
	at := begun(MaxPending + 1)
	if _, err := db.TakePending(t.Context(), "0", at); !errors.Is(err, ErrNotFound) {
		t.Errorf("the oldest ceremony was kept past the bound: %v", err)
	}
	for _, id := range []string{"2", fmt.Sprint(MaxPending + 1)} {
		if _, err := db.TakePending(t.Context(), id, at); err != nil {
			t.Errorf("ceremony %s: %v", id, err)
		}
	}
	// A sweep five minutes after the 1000th begin drops the first 1000
	// less those already gone: 0 evicted, 2 and 5 taken.
	removed, err := db.Sweep(t.Context(), begun(999).Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if removed != 997 {
		t.Errorf("Sweep removed %d, want 997", removed)
	}
	if len(db.pending.order) > 2*MaxPending {
		t.Errorf("order holds %d ids", len(db.pending.order))
	}
}

// The index of insertion order stays bounded however many ceremonies are
// begun and taken.
func TestPendingOrderStaysBounded(t *testing.T) {
	db := openTestDB(t)
	for i := range 3 * MaxPending {
		// The first never expires within the test and sits at the front.
		exp := t0.Add(time.Hour)
		if err := db.PutPending(&Ceremony{ID: fmt.Sprint(i), ExpiresAt: exp}, t0); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if _, err := db.TakePending(t.Context(), fmt.Sprint(i), t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(db.pending.order); n > 2*MaxPending+1 {
		t.Errorf("order holds %d ids for %d live ceremonies", n, len(db.pending.m))
	}
	if _, err := db.TakePending(t.Context(), "0", t0); err != nil {
		t.Errorf("the first ceremony was lost: %v", err)
	}
}

func TestPendingCeremoniesSurviveACleanRestartOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db := openAt(t, path)
	want := Ceremony{ID: "cer", Kind: "signup", Handle: []byte("h"), ExpiresAt: t0}
	if err := db.PutPending(&want, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPending(&Ceremony{ID: "late", ExpiresAt: t0}, t0.Add(-time.Minute)); !errors.Is(err, ErrClosed) {
		t.Errorf("put after Close: err = %v, want ErrClosed", err)
	}

	db = openAt(t, path)
	got, err := db.TakePending(t.Context(), "cer", t0.Add(-time.Second))
	if err != nil {
		t.Fatalf("take after restart: %v", err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v, want %+v", *got, want)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The take was durable: a third process does not see it either.
	db = openAt(t, path)
	if _, err := db.TakePending(t.Context(), "cer", t0.Add(-time.Second)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("take after second restart: err = %v, want ErrNotFound", err)
	}
}
