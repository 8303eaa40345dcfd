package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestBackupFileOpensWithTheData(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *Tx) error {
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
	mustView(t, restored, func(tx *Tx) error {
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
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutClient(&Client{ID: "c"}) })
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
	mustView(t, restored, func(tx *Tx) error { _, err := tx.Client("c"); return err })
}
