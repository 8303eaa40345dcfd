package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts Options
	}{
		{"empty path is refused", Options{KEK: testKEK}},
		{"short key is refused", Options{Path: filepath.Join(dir, "a.db"), KEK: testKEK[:16]}},
		{"missing key is refused", Options{Path: filepath.Join(dir, "b.db")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(tt.opts)
			if err == nil {
				_ = db.Close()
				t.Fatal("Open succeeded, want error")
			}
		})
	}
}

func TestSecondOpenGetsErrInUseWithinTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	start := time.Now()
	second, err := Open(Options{Path: path, KEK: testKEK, Timeout: 100 * time.Millisecond})
	if err == nil {
		_ = second.Close()
		t.Fatal("second Open succeeded while the file is locked")
	}
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open error = %v, want ErrInUse", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("second Open took %v, want about the 100ms timeout", elapsed)
	}
}

func TestOpenWithWrongKeyFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{0x17}, KeySize)
	db, err = Open(Options{Path: path, KEK: other})
	if err == nil {
		_ = db.Close()
		t.Fatal("Open with another master key succeeded")
	}
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("error = %v, want ErrWrongKey", err)
	}
	// The lock must have been released so the right key still opens it.
	db, err = Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatalf("reopen with the right key: %v", err)
	}
	_ = db.Close()
}

func TestDataSurvivesCloseAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	user := &User{ID: "u1", Handle: []byte("h1"), Username: "alice", CreatedAt: t0}
	key := &SigningKey{ID: "k1", Alg: "ES256", Private: []byte("private"), CreatedAt: t0}
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutUser(user); err != nil {
			return err
		}
		return tx.PutSigningKey(key)
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.UserByUsername("alice")
		if err != nil {
			return err
		}
		if got.ID != "u1" {
			t.Errorf("user id = %q, want u1", got.ID)
		}
		keys, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		if len(keys) != 1 || !bytes.Equal(keys[0].Private, key.Private) {
			t.Errorf("signing keys after reopen = %+v", keys)
		}
		return nil
	})
}

func TestClosedDBRefusesWork(t *testing.T) {
	db := openTestDB(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	noop := func(Tx) error { return nil }
	tests := []struct {
		name string
		call func() error
	}{
		{"Update after Close", func() error { return db.Update(ctx, noop) }},
		{"View after Close", func() error { return db.View(ctx, noop) }},
		{"Backup after Close", func() error { return db.Backup(&bytes.Buffer{}) }},
		{"second Close is harmless", func() error {
			if err := db.Close(); err != nil {
				return err
			}
			return ErrClosed
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrClosed) {
				t.Fatalf("error = %v, want ErrClosed", err)
			}
		})
	}
}
