package store_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/storetest"
)

// TestConformance runs the store conformance suite on the bbolt store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "latch.db"), KEK: bytes.Repeat([]byte{0x42}, store.KeySize)})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}
