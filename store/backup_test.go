package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBackupFileOpensWithTheData(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutUser(&User{ID: "u1", Handle: []byte("h"), Username: "alice"}); err != nil {
			return err
		}
		return tx.PutSigningKey(&SigningKey{ID: "k", Alg: "ES256", Private: []byte("priv")})
	})
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := db.BackupFile(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("backup mode = %v, want 0600", perm)
	}

	restored, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer restored.Close()
	mustView(t, restored, func(tx *boltTx) error {
		if _, err := tx.UserByUsername("alice"); err != nil {
			t.Errorf("user missing from backup: %v", err)
		}
		keys, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		if len(keys) != 1 || !bytes.Equal(keys[0].Private, []byte("priv")) {
			t.Errorf("signing key missing from backup: %+v", keys)
		}
		return nil
	})
}

func TestBackupFileRefusesToOverwrite(t *testing.T) {
	db := openTestDB(t)
	path := filepath.Join(t.TempDir(), "existing")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := db.BackupFile(path); err == nil {
		t.Fatal("BackupFile overwrote an existing file")
	}
	if got, _ := os.ReadFile(path); string(got) != "keep me" {
		t.Fatalf("existing file changed to %q", got)
	}
}

func TestBackupStreamIsABoltFile(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutClient(&Client{ID: "c"}) })
	var buf bytes.Buffer
	if err := db.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stream.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	mustView(t, restored, func(tx *boltTx) error { _, err := tx.Client("c"); return err })
}

// backupOf writes a backup of a store holding one user, one signing key
// and one TOTP factor to a new file and returns its path.
func backupOf(t *testing.T) string {
	t.Helper()
	db := openTestDB(t)
	putTestUsers(t, db, "u1")
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutTOTP(&TOTP{UserID: "u1", Secret: []byte("seed")}); err != nil {
			return err
		}
		return tx.PutSigningKey(&SigningKey{ID: "k", Alg: "ES256", Private: []byte("priv")})
	})
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := db.BackupFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// dirNames lists a directory's entries, to show that nothing was left.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestRestoreFileInstallsAVerifiedCopy(t *testing.T) {
	src := backupOf(t)
	dir := t.TempDir()
	dst := filepath.Join(dir, "latch.db")
	kept, err := RestoreFile(t.Context(), src, dst, testKEK, false)
	if err != nil || kept != "" {
		t.Fatalf("restore: %q %v", kept, err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("restored file: %v %v", fi, err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("files left beside the store: %v", names)
	}
	db := openAt(t, dst)
	mustView(t, db, func(tx *boltTx) error {
		_, err := tx.TOTP("u1")
		return err
	})
}

func TestRestoreFileKeepsAReplacedStore(t *testing.T) {
	src := backupOf(t)
	dir := t.TempDir()
	dst := filepath.Join(dir, "latch.db")
	old := openAt(t, dst)
	mustUpdate(t, old, func(tx *boltTx) error { return tx.PutClient(&Client{ID: "only-in-old"}) })
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(dst)

	if _, err := RestoreFile(t.Context(), src, dst, testKEK, false); !errors.Is(err, ErrStoreExists) {
		t.Fatalf("restore over a store without replace: %v", err)
	}
	if after, _ := os.ReadFile(dst); !bytes.Equal(before, after) {
		t.Fatal("the existing store was changed")
	}
	kept, err := RestoreFile(t.Context(), src, dst, testKEK, true)
	if err != nil || !strings.HasPrefix(kept, dst+".replaced-") {
		t.Fatalf("restore with replace: %q %v", kept, err)
	}
	if got, _ := os.ReadFile(kept); !bytes.Equal(got, before) {
		t.Fatal("the replaced store was not kept as it was")
	}
	db := openAt(t, dst)
	mustView(t, db, func(tx *boltTx) error {
		if _, err := tx.Client("only-in-old"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the old store is still in place: %v", err)
		}
		_, err := tx.TOTP("u1")
		return err
	})
}

func TestRestoreFileRefusesBadCopies(t *testing.T) {
	src := backupOf(t)
	whole, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := bytes.Repeat([]byte{0x17}, KeySize)
	cases := []struct {
		name  string
		data  []byte
		kek   []byte
		check func(error) bool
	}{
		{"another master key", whole, otherKey, func(err error) bool { return errors.Is(err, ErrWrongKey) }},
		{"an empty file", nil, testKEK, nil},
		{"not a store", bytes.Repeat([]byte("latch"), 4096), testKEK, nil},
		{"a truncated copy", whole[:len(whole)/2], testKEK, nil},
		{"a copy cut after its meta pages", whole[:2*4096+100], testKEK, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "copy.db")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			_, err := RestoreFile(t.Context(), path, filepath.Join(dir, "latch.db"), tc.kek, true)
			if err == nil || tc.check != nil && !tc.check(err) {
				t.Fatalf("restore: %v", err)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Fatalf("a refused restore left %v", names)
			}
		})
	}
}

func TestRestoreFileRefusesAStoreInUse(t *testing.T) {
	src := backupOf(t)
	dst := filepath.Join(t.TempDir(), "latch.db")
	openAt(t, dst) // held open, as a server holds it
	if _, err := RestoreFile(t.Context(), src, dst, testKEK, true); !errors.Is(err, ErrInUse) {
		t.Fatalf("restore over a store in use: %v", err)
	}
}

func TestCheckFindsADamagedPage(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
		for i := range 2000 {
			if err := tx.PutClient(&Client{ID: fmt.Sprintf("client-%05d", i), SecretHash: bytes.Repeat([]byte{1}, 32)}); err != nil {
				return err
			}
		}
		return nil
	})
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := db.BackupFile(path); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(t.Context(), path, testKEK); err != nil {
		t.Fatalf("a whole copy: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Swap two keys on a leaf page of clients: the page still parses, but
	// its keys are out of order, which only a consistency check sees.
	i := bytes.Index(data, []byte("client-01000"))
	j := bytes.Index(data, []byte("client-01001"))
	if i < 0 || j < 0 || i/4096 != j/4096 {
		t.Fatalf("keys not found on one page: %d %d", i, j)
	}
	copy(data[i:], "client-01001")
	copy(data[j:], "client-01000")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(t.Context(), path, testKEK); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a damaged copy: %v", err)
	}
}
