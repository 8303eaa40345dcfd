package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// damagedStoreFile writes a store of a few hundred pages and returns its
// path and size.
func damagedStoreFile(t *testing.T) (string, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	for batch := range 4 {
		mustUpdate(t, db, func(tx *boltTx) error {
			for i := range 500 {
				id := fmt.Sprintf("user-%d-%04d", batch, i)
				if err := tx.PutUser(&User{ID: id, Handle: []byte(id), Username: "name-" + id, DisplayName: strings.Repeat("x", 200)}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, info.Size()
}

// TestTruncatedFileIsRefusedBeforeItIsMapped cuts a store's file at points
// inside its pages. bbolt would fault reading the missing pages through its
// map (killing the process), so only the pre-open check is run on the
// damaged files, and Open only once the check has refused them.
func TestTruncatedFileIsRefusedBeforeItIsMapped(t *testing.T) {
	path, size := damagedStoreFile(t)
	if err := checkFile(path); err != nil {
		t.Fatalf("the whole file was refused: %v", err)
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file is grown ahead of use; the pages in use are what counts.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m0, _ := readMeta(f, 0)
	m1, _ := readMeta(f, 4096)
	f.Close()
	used := int64(max(m0.pgid, m1.pgid)) * 4096
	if used < 100*4096 || used > size {
		t.Fatalf("%d bytes of %d in use: not the store this test needs", used, size)
	}
	for _, cut := range []int64{used / 2, used - 4096, used - 1, 3 * 4096, 4096 + 100, 100} {
		t.Run(fmt.Sprintf("cut at %d of %d", cut, size), func(t *testing.T) {
			if err := os.WriteFile(path, whole[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			err := checkFile(path)
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
				t.Fatalf("checkFile = %v, want ErrDamaged naming the file and a backup", err)
			}
			db, err := Open(Options{Path: path, KEK: testKEK})
			if err == nil {
				db.Close()
				t.Fatal("Open accepted a truncated file")
			}
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("Open = %v, want ErrDamaged", err)
			}
		})
	}
}

func TestCheckFileJudgesTheCurrentMetaPage(t *testing.T) {
	path, _ := damagedStoreFile(t)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A torn write of one meta page leaves the other to go by, as bbolt
	// does.
	for _, page := range []int{0, 1} {
		damaged := append([]byte(nil), whole...)
		ps := 4096
		for i := range 64 {
			damaged[page*ps+boltPageHeader+i] ^= 0xff
		}
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := checkFile(path); err != nil {
			t.Errorf("meta page %d damaged: %v", page, err)
		}
	}
	// Both gone: not a store.
	damaged := append([]byte(nil), whole...)
	for i := range 2 * 4096 {
		damaged[i] = 0
	}
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkFile(path); !errors.Is(err, ErrDamaged) {
		t.Errorf("both meta pages damaged: %v", err)
	}
	if err := os.WriteFile(path, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkFile(path); !errors.Is(err, ErrDamaged) {
		t.Errorf("a text file: %v", err)
	}
}

// currentMeta reads the current meta page of a closed store's file.
func currentMeta(t *testing.T, path string) boltMeta {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m0, ok0 := readMeta(f, 0)
	m1, ok1 := readMeta(f, 4096)
	if !ok0 || ok1 && m1.txid > m0.txid {
		return m1
	}
	return m0
}

// TestFreelistIsWrittenAtCloseOnly: a clean close leaves the free-page
// list in the file, so the next open reads it instead of walking every
// page; the first commit after drops it, so a crash leaves no stale list.
func TestFreelistIsWrittenAtCloseOnly(t *testing.T) {
	path, _ := damagedStoreFile(t) // a store, closed cleanly
	const noFreelist = 1<<64 - 1
	if m := currentMeta(t, path); m.freelist == noFreelist {
		t.Fatal("a clean close left no free-page list")
	}
	db := openAt(t, path)
	putTestUsers(t, db, "after-open")
	if m := currentMeta(t, path); m.freelist != noFreelist {
		t.Error("a commit after open kept the free-page list of the close")
	}
	// What a crash leaves (no closing commit) opens, by a walk, intact.
	if err := db.bolt.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	mustView(t, db, func(tx *boltTx) error {
		for err := range tx.btx.Check() {
			t.Errorf("consistency: %v", err)
		}
		_, err := tx.User("after-open")
		return err
	})
}
