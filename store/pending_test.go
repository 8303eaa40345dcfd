package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPendingCeremonyIsTakenOnce(t *testing.T) {
	db := openTestDB(t)
	want := Ceremony{ID: "cer1", Kind: "login", Username: "alice", Session: []byte(`{"c":1}`), ExpiresAt: t0}
	if err := db.PutPending(&want, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := db.TakePending(t.Context(), "cer1", t0.Add(-time.Second))
	if err != nil {
		t.Fatalf("first take: %v", err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v, want %+v", *got, want)
	}
	if _, err := db.TakePending(t.Context(), "cer1", t0.Add(-time.Second)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second take: err = %v, want ErrNotFound", err)
	}
}

func TestPendingCeremonyRefusals(t *testing.T) {
	db := openTestDB(t)
	tests := []struct {
		name string
		take string
		at   time.Time
	}{
		{"unknown id", "nope", t0.Add(-time.Second)},
		{"at its expiry instant", "cer", t0},
		{"empty id", "", t0.Add(-time.Second)},
		{"oversized id", string(make([]byte, maxKeyLen+1)), t0.Add(-time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.PutPending(&Ceremony{ID: "cer", ExpiresAt: t0}, t0.Add(-time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.TakePending(t.Context(), tt.take, tt.at); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
	if err := db.PutPending(&Ceremony{ID: "c"}, t0); err == nil {
		t.Error("PutPending accepted a ceremony without expiry")
	}
}

func TestPendingCeremonyRaceHasOneWinner(t *testing.T) {
	db := openTestDB(t)
	if err := db.PutPending(&Ceremony{ID: "cer", ExpiresAt: t0}, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := db.TakePending(t.Context(), "cer", t0.Add(-time.Second)); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d takes succeeded, want exactly 1", n)
	}
}

func TestPendingCeremoniesAreBoundedAndSwept(t *testing.T) {
	db := openTestDB(t)
	for i := range MaxPending {
		// Half expire at t0, half an hour later.
		exp := t0
		if i%2 == 1 {
			exp = t0.Add(time.Hour)
		}
		if err := db.PutPending(&Ceremony{ID: fmt.Sprint(i), ExpiresAt: exp}, t0.Add(-time.Minute)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if err := db.PutPending(&Ceremony{ID: "one-too-many", ExpiresAt: t0}, t0.Add(-time.Minute)); !errors.Is(err, ErrFull) {
		t.Fatalf("put past the bound: err = %v, want ErrFull", err)
	}
	// Once some have expired, a put makes room by sweeping them.
	if err := db.PutPending(&Ceremony{ID: "fits", ExpiresAt: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatalf("put after expiry: %v", err)
	}
	if n := len(db.pending.m); n != MaxPending/2+1 {
		t.Errorf("%d held after the sweep, want %d", n, MaxPending/2+1)
	}
	removed, err := db.Sweep(t.Context(), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if removed != MaxPending/2+1 || len(db.pending.m) != 0 {
		t.Errorf("Sweep removed %d, %d left; want %d removed, none left", removed, len(db.pending.m), MaxPending/2+1)
	}
}

func TestPendingCeremoniesSurviveACleanRestartOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	want := Ceremony{ID: "cer", Kind: "signup", Handle: []byte("h"), ExpiresAt: t0}
	if err := db.PutPending(&want, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PutPending(&Ceremony{ID: "late", ExpiresAt: t0}, t0); !errors.Is(err, ErrClosed) {
		t.Errorf("put after Close: err = %v, want ErrClosed", err)
	}

	db, err = Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
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

func openAt(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
